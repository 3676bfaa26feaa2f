import Access
import Customers
import Foundation
import HTTPTypes
import OpenAPIRuntime
import SharedModels
import Support

/// The service desk's operations. Staff need `requests:read` / `requests:work`; a member reaches
/// only their own requests (another's is 404), never sees internal notes, and may write,
/// reopen by writing, and rate; partners have no access.
extension APIHandler {
    /// The member's customer id, or nil for staff with `permission`; anyone else is refused.
    private func memberOrStaff(_ permission: Permission) throws -> (principal: Principal, member: Int64?) {
        let principal = try Caller.required()
        if case .member(let own, _) = principal { return (principal, own) }
        try principal.require(permission)
        return (principal, nil)
    }

    func listServiceRequests(_ input: Operations.ListServiceRequests.Input) async throws -> Operations.ListServiceRequests.Output {
        let (_, member) = try memberOrStaff(.requestsRead)
        let q = input.query
        var filter = RequestFilter(queue: q.queue, customer: member ?? q.customerId, assignee: q.assignee, breachedOnly: q.breached ?? false)
        switch q.status {
        case nil, .all?: break
        case .open?: filter.statuses = RequestFilter.open.statuses
        case .some(let s): filter.statuses = [ServiceRequest.Status(rawValue: s.rawValue)!]
        }
        if q.status == nil, member == nil, q.customerId == nil { filter.statuses = RequestFilter.open.statuses }
        let now = support.clock.now
        return .ok(.init(body: .json(try await support.requests(filter, limit: q.limit ?? 50).map { Self.schema($0, now: now) })))
    }

    func openServiceRequest(_ input: Operations.OpenServiceRequest.Input) async throws -> Operations.OpenServiceRequest.Output {
        let (principal, member) = try memberOrStaff(.requestsWork)
        guard case .json(let b) = input.body else { preconditionFailure() }
        let customer: Int64
        if let member {
            customer = member
        } else {
            guard let id = b.customerId else { throw Problem(validation: [FieldError("customerId", "is required")]) }
            customer = id
        }
        let r = try await support.open(
            customer: customer, kind: ServiceRequest.Kind(rawValue: b.kind.rawValue)!,
            priority: member == nil ? b.priority.flatMap { ServiceRequest.Priority(rawValue: $0.rawValue) } : nil,
            queue: member == nil ? b.queue : nil, subject: b.subject, description: b.description,
            channel: member == nil ? (b.channel.flatMap { Customers.Channel(rawValue: $0.rawValue) } ?? .call) : .web, by: principal.actor,
            byCustomer: member != nil)
        return .created(.init(body: .json(Self.schema(r, now: support.clock.now))))
    }

    func getServiceRequest(_ input: Operations.GetServiceRequest.Input) async throws -> Operations.GetServiceRequest.Output {
        let (_, member) = try memberOrStaff(.requestsRead)
        let id = ServiceRequestID(input.path.id)
        let r = if let member { try await support.request(id, of: member) } else { try await support.request(id) }
        let events = try await support.thread(id, forCustomer: member != nil)
        return .ok(
            .init(
                body: .json(
                    .init(
                        request: Self.schema(r, now: support.clock.now),
                        events: events.map {
                            .init(id: $0.id, at: $0.at, author: $0.author, kind: .init(rawValue: $0.kind.rawValue)!, text: $0.text)
                        }))))
    }

    func updateServiceRequest(_ input: Operations.UpdateServiceRequest.Input) async throws -> Operations.UpdateServiceRequest.Output {
        let principal = try Caller.require(.requestsWork)
        guard case .json(let b) = input.body else { preconditionFailure() }
        let id = ServiceRequestID(input.path.id)
        var r = try await support.update(
            id, priority: b.priority.flatMap { ServiceRequest.Priority(rawValue: $0.rawValue) }, queue: b.queue,
            status: b.status.flatMap { ServiceRequest.Status(rawValue: $0.rawValue) }, by: principal.actor)
        if let assignee = b.assignee {
            let a = assignee.trimmingCharacters(in: .whitespaces)
            r = try await support.assign(id, to: a.isEmpty ? nil : a, by: principal.actor)
        }
        return .ok(.init(body: .json(Self.schema(r, now: support.clock.now))))
    }

    func addServiceRequestMessage(_ input: Operations.AddServiceRequestMessage.Input) async throws
        -> Operations.AddServiceRequestMessage.Output
    {
        let (principal, member) = try memberOrStaff(.requestsWork)
        guard case .json(let b) = input.body else { preconditionFailure() }
        let id = ServiceRequestID(input.path.id)
        let r =
            if let member {
                try await support.customerMessage(id, customer: member, text: b.text, author: principal.actor)
            } else {
                try await support.reply(id, text: b.text, internal: b._internal ?? false, by: principal.actor)
            }
        return .ok(.init(body: .json(Self.schema(r, now: support.clock.now))))
    }

    func resolveServiceRequest(_ input: Operations.ResolveServiceRequest.Input) async throws -> Operations.ResolveServiceRequest.Output {
        let principal = try Caller.require(.requestsWork)
        guard case .json(let b) = input.body else { preconditionFailure() }
        let r = try await support.resolve(ServiceRequestID(input.path.id), resolution: b.resolution, by: principal.actor)
        return .ok(.init(body: .json(Self.schema(r, now: support.clock.now))))
    }

    func closeServiceRequest(_ input: Operations.CloseServiceRequest.Input) async throws -> Operations.CloseServiceRequest.Output {
        let principal = try Caller.require(.requestsWork)
        let r = try await support.close(ServiceRequestID(input.path.id), by: principal.actor)
        return .ok(.init(body: .json(Self.schema(r, now: support.clock.now))))
    }

    func rateServiceRequest(_ input: Operations.RateServiceRequest.Input) async throws -> Operations.RateServiceRequest.Output {
        let principal = try Caller.required()
        guard case .member(let own, _) = principal else {
            throw Problem(status: .forbidden, code: "members_only", detail: "Only the customer who asked rates a request.")
        }
        guard case .json(let b) = input.body else { preconditionFailure() }
        let r = try await support.rate(ServiceRequestID(input.path.id), customer: own, score: b.score, comment: b.comment, author: principal.actor)
        return .ok(.init(body: .json(Self.schema(r, now: support.clock.now))))
    }

    func getServiceDesk(_ input: Operations.GetServiceDesk.Input) async throws -> Operations.GetServiceDesk.Output {
        _ = try Caller.require(.requestsRead)
        let d = try await support.summary()
        return .ok(
            .init(
                body: .json(
                    .init(
                        queues: d.queues.map {
                            .init(queue: $0.queue, open: $0.open, unassigned: $0.unassigned, breached: $0.breached, dueSoon: $0.dueSoon)
                        },
                        open: d.open, breached: d.breached, resolvedLast30Days: d.resolvedLast30Days, resolvedWithinSla: d.resolvedWithinSLA,
                        satisfaction: d.satisfaction, surveys: d.surveys))))
    }

    static func schema(_ clock: ServiceRequest.Clock) -> Schemas.SlaClock {
        switch clock {
        case .met: .init(state: .met)
        case .missed: .init(state: .missed)
        case .due(let s): .init(state: .due, seconds: Int64(s))
        case .breached(let s): .init(state: .breached, seconds: Int64(s))
        }
    }

    static func schema(_ r: ServiceRequest, now: Date) -> Schemas.ServiceRequest {
        .init(
            id: r.id.rawValue, customerId: r.customer, customerName: r.customerName, kind: .init(rawValue: r.kind.rawValue)!,
            priority: .init(rawValue: r.priority.rawValue)!, queue: r.queue, subject: r.subject, status: .init(rawValue: r.status.rawValue)!,
            assignee: r.assignee, channel: r.channel, valueTier: r.valueTier, openedBy: r.openedBy, openedAt: r.openedAt, respondBy: r.respondBy,
            resolveBy: r.resolveBy, firstResponseAt: r.firstResponseAt, resolvedAt: r.resolvedAt, resolution: r.resolution,
            satisfaction: r.satisfaction, satisfactionComment: r.satisfactionComment, responseSla: schema(r.responseClock(now: now)),
            resolutionSla: schema(r.resolutionClock(now: now)), breached: r.breached(now: now))
    }
}
