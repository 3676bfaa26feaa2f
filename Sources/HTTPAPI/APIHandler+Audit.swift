import Access
import Foundation
import OpenAPIRuntime

/// The audit log (admins).
extension APIHandler {
    func listAuditEvents(_ input: Operations.ListAuditEvents.Input) async throws -> Operations.ListAuditEvents.Output {
        _ = try Caller.require(.auditRead)
        let q = input.query
        let events = try await access.auditEvents(AuditQuery(actor: q.actor, contains: q.contains, before: q.before, limit: q.limit ?? 50))
        return .ok(
            .init(
                body: .json(
                    events.map {
                        .init(id: $0.id, at: $0.at, actor: $0.actor, action: $0.action, target: $0.target, outcome: $0.outcome, detail: $0.detail)
                    })))
    }
}
