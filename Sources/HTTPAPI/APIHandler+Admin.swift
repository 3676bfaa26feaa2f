import Access
import Customers
import Foundation
import OpenAPIRuntime
import SharedModels

/// The audit log (admins).
extension APIHandler {
    func listAuditEvents(_ input: Operations.ListAuditEvents.Input) async throws -> Operations.ListAuditEvents.Output {
        _ = try Caller.require(.auditRead)
        let q = input.query
        let events = try await access.auditEvents(AuditQuery(actor: q.actor, contains: q.contains, before: q.before, limit: try pageSize(q.limit).value))
        return .ok(
            .init(
                body: .json(
                    events.map {
                        .init(id: $0.id, at: $0.at, actor: $0.actor, action: $0.action, target: $0.target, outcome: $0.outcome, detail: $0.detail)
                    })))
    }
}

/// Privacy requests (admins): register, export, erase, reject. Each is also in the audit log.
extension APIHandler {
    static func schema(_ r: PrivacyRequest, now: Date) -> Schemas.PrivacyRequest {
        .init(
            id: r.id.rawValue, customerId: r.customer, customerName: r.customerName, kind: .init(rawValue: r.kind.rawValue)!,
            status: .init(rawValue: r.status.rawValue)!, channel: r.channel, note: r.note, receivedBy: r.receivedBy, receivedAt: r.receivedAt,
            dueAt: r.dueAt, overdue: r.overdue(now: now), completedBy: r.completedBy, completedAt: r.completedAt, outcome: r.outcome)
    }

    func listPrivacyRequests(_ input: Operations.ListPrivacyRequests.Input) async throws -> Operations.ListPrivacyRequests.Output {
        _ = try Caller.require(.privacyManage)
        let now = privacy.clock.now
        return .ok(.init(body: .json(try await privacy.requests(limit: try pageSize(input.query.limit).value).map { Self.schema($0, now: now) })))
    }

    func registerPrivacyRequest(_ input: Operations.RegisterPrivacyRequest.Input) async throws -> Operations.RegisterPrivacyRequest.Output {
        let principal = try Caller.require(.privacyManage)
        guard case .json(let b) = input.body else { preconditionFailure() }
        let r = try await privacy.register(
            customer: b.customerId, kind: PrivacyRequest.Kind(rawValue: b.kind.rawValue)!, channel: b.channel, note: b.note, by: principal.actor)
        return .created(.init(body: .json(Self.schema(r, now: privacy.clock.now))))
    }

    func exportPrivacyRequest(_ input: Operations.ExportPrivacyRequest.Input) async throws -> Operations.ExportPrivacyRequest.Output {
        let principal = try Caller.require(.privacyManage)
        let data = try await privacy.export(PrivacyRequestID(input.path.id), by: principal.actor)
        let object = try JSONDecoder().decode(OpenAPIObjectContainer.self, from: data)
        return .ok(.init(body: .json(.init(additionalProperties: object))))
    }

    func erasePrivacyRequest(_ input: Operations.ErasePrivacyRequest.Input) async throws -> Operations.ErasePrivacyRequest.Output {
        let principal = try Caller.require(.privacyManage)
        let (r, _) = try await privacy.erase(PrivacyRequestID(input.path.id), by: principal.actor)
        return .ok(.init(body: .json(Self.schema(r, now: privacy.clock.now))))
    }

    func rejectPrivacyRequest(_ input: Operations.RejectPrivacyRequest.Input) async throws -> Operations.RejectPrivacyRequest.Output {
        let principal = try Caller.require(.privacyManage)
        guard case .json(let b) = input.body else { preconditionFailure() }
        let r = try await privacy.reject(PrivacyRequestID(input.path.id), reason: b.reason, by: principal.actor)
        return .ok(.init(body: .json(Self.schema(r, now: privacy.clock.now))))
    }
}
