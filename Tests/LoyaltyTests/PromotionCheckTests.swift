import Customers
import Foundation
import SharedModels
import Testing

@testable import Loyalty

/// "Why didn't I get my points for promotion X?" answered without a database: each promotion
/// checked against one purchase, the first failing condition named with the purchase's value.
@Suite struct PromotionCheckTests {
    static let now = Date(epochSeconds: 1_767_225_600)  // 2026-01-01

    static func promotion(
        _ id: Int64, _ code: String, criteria: String? = nil, optIn: Bool = false, limit: Int? = nil, starts: TimeInterval = -86_400,
        ends: TimeInterval = 30 * 86_400, approval: Promotion.Approval = .approved
    ) -> Promotion {
        Promotion(
            id: PromotionID(id), programID: ProgramID(1), code: code, name: "Promotion \(code)", startsAt: now.addingTimeInterval(starts),
            endsAt: now.addingTimeInterval(ends), requiresEnrolment: optIn, criteria: criteria, action: .fixed(100), perMemberLimit: limit,
            createdAt: now, approval: approval)
    }

    @Test("each promotion says whether it applied and, if not, which condition failed and why")
    func verdicts() {
        let purchase = TransactionDetails(
            externalID: "R1", occurredAt: Self.now, amount: Money(minorUnits: 4_500, currency: "USD"), store: "S02")
        let promotions = [
            Self.promotion(1, "BIG", criteria: #"purchase.store == "S02" and purchase.amount >= 50"#),
            Self.promotion(2, "JOIN", optIn: true),
            Self.promotion(3, "ONCE", limit: 1),
            Self.promotion(4, "LATER", starts: 86_400),
            Self.promotion(5, "PARTNER", approval: .pending),
            Self.promotion(6, "GOT"),
        ]
        let usage: [PromotionID: PromotionUsage] = [PromotionID(3): PromotionUsage(memberApplications: 1, budgetLeft: nil, enrolled: false)]
        let v = Dictionary(
            uniqueKeysWithValues: PromotionEngine.explain(purchase, tier: nil, promotions: promotions, usage: usage, applied: [PromotionID(6): 100])
                .map { ($0.code, $0) })
        #expect(v["BIG"]?.reason == "The purchase did not meet the condition `purchase.amount >= 50` (purchase.amount is 45).")
        #expect(v["JOIN"]?.reason == "The member had not joined it, and it needs joining first (opt-in).")
        #expect(v["ONCE"]?.reason == "The member had had it 1 times already; it gives at most 1 per member.")
        #expect(v["LATER"]?.reason == "The purchase was on 2026-01-01; the promotion starts on 2026-01-02.")
        #expect(v["PARTNER"]?.reason == "Not running yet: its partner has not approved it.")
        #expect(v["GOT"]?.applied == true && v["GOT"]?.points == 100 && v["GOT"]?.reason == "Applied: it gave 100 points.")
        #expect(v.values.filter(\.applied).count == 1)
    }

    @Test("Regression: stacking is named only when another promotion applied; an exclusive one that came to zero says so")
    func stacking() {
        let purchase = TransactionDetails(externalID: "R2", occurredAt: Self.now, amount: Money(minorUnits: 4_500, currency: "USD"))
        var alone = Self.promotion(1, "SOLO")
        alone.stacking = .exclusive
        alone.action = .multiplier(percent: 100)  // +0 % of base points: nothing to give
        var winner = Self.promotion(2, "WIN", approval: .approved)
        winner.stacking = .exclusive
        let loser = Self.promotion(3, "LOSE")
        func reason(_ promotions: [Promotion], applied: [PromotionID: Int64], _ code: String) -> String? {
            PromotionEngine.explain(purchase, tier: nil, promotions: promotions, usage: [:], applied: applied).first { $0.code == code }?.reason
        }
        #expect(reason([alone], applied: [:], "SOLO") == "Every condition held, but it gave nothing on this purchase (its points came to zero).")
        #expect(reason([winner, loser], applied: [PromotionID(2): 100], "LOSE") == "Another promotion that does not combine with others applied to the purchase first.")
    }
}
