import Foundation
import SharedModels
import Support
import Testing

/// SLA targets by priority, kind and value, without a database.
@Suite struct SLAPolicyTests {
    @Test("SLA targets: by priority, halved for complaints' first response, shorter for valuable customers")
    func policy() {
        let at = Date(epochSeconds: 1_000_000)
        let p = SLAPolicy.standard
        let normal = p.targets(priority: .normal, kind: .question, valueTier: "C", at: at)
        #expect(normal.respondBy.timeIntervalSince(at) == 8 * 3_600 && normal.resolveBy.timeIntervalSince(at) == 72 * 3_600)
        let complaint = p.targets(priority: .normal, kind: .complaint, valueTier: "C", at: at)
        #expect(complaint.respondBy.timeIntervalSince(at) == 4 * 3_600 && complaint.resolveBy.timeIntervalSince(at) == 72 * 3_600)
        let best = p.targets(priority: .urgent, kind: .problem, valueTier: "A", at: at)
        #expect(best.respondBy.timeIntervalSince(at) == 1_800 && best.resolveBy.timeIntervalSince(at) == 4 * 3_600)
        #expect(p.targets(priority: .low, kind: .question, valueTier: "unscored", at: at).resolveBy.timeIntervalSince(at) == 120 * 3_600)
        // Every priority's targets are ordered: urgent sooner than high sooner than normal sooner than low.
        let order = ServiceRequest.Priority.allCases.map { p.targets(priority: $0, kind: .question, valueTier: "B", at: at).resolveBy }
        #expect(order == order.sorted())
    }
}
