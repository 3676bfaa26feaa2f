import Customers
import Foundation
import SharedModels

/// The service desk: customers' requests and complaints in queues, each with response and
/// resolution targets set by priority and customer value, a thread of messages, replies and
/// internal notes, and a satisfaction survey after resolution.
public struct SupportService: Sendable {
    let store: any SupportStore
    public let customers: CustomerService
    public let clock: SharedModels.Clock
    public let policy: SLAPolicy
    /// The customer's value tier from the last scoring run (nil when unscored).
    let valueTier: @Sendable (Int64) async throws -> String?

    /// Queues every desk has; others appear as requests are routed to them.
    public static let standardQueues = ["general", "loyalty", "complaints", "billing"]

    /// Tells a staff member about a request (by email in production); true once delivered.
    let notify: @Sendable (ServiceNotice) async -> Bool

    public init(
        store: any SupportStore, customers: CustomerService, clock: SharedModels.Clock, policy: SLAPolicy = .standard,
        notify: @escaping @Sendable (ServiceNotice) async -> Bool = { _ in false },
        valueTier: @escaping @Sendable (Int64) async throws -> String?
    ) {
        self.notify = notify
        self.store = store
        self.customers = customers
        self.clock = clock
        self.policy = policy
        self.valueTier = valueTier
    }

    /// Opens a request for a customer. Complaints default to high priority and the
    /// `complaints` queue, everything else to normal and `general`.
    public func open(
        customer id: Int64, kind: ServiceRequest.Kind, priority: ServiceRequest.Priority? = nil, queue: String? = nil, subject: String,
        description: String, channel: Customers.Channel, by author: String, byCustomer: Bool
    ) async throws -> ServiceRequest {
        let subject = try Self.text(subject, field: "subject", max: 200)
        let description = try Self.text(description, field: "description", max: 10_000)
        let queue = try Self.queue(queue ?? (kind == .complaint ? "complaints" : "general"))
        let customer = try await customers.customer(CustomerID(id))
        if let survivor = customer.mergedInto { throw CustomerError.merged(customer.id, into: survivor) }
        let priority = priority ?? (kind == .complaint ? .high : .normal)
        let tier = try await valueTier(id) ?? "unscored"
        let now = clock.now
        let due = policy.targets(priority: priority, kind: kind, valueTier: tier, at: now)
        return try await store.open(
            NewRequest(
                customer: id, customerName: customer.displayName, kind: kind, priority: priority, queue: queue, subject: subject,
                description: description, channel: channel, valueTier: tier, openedBy: author, byCustomer: byCustomer, openedAt: now,
                respondBy: due.respondBy, resolveBy: due.resolveBy))
    }

    public func request(_ id: ServiceRequestID) async throws -> ServiceRequest {
        guard let r = try await store.request(id) else { throw SupportError.notFound(id) }
        return r
    }

    /// A customer's own request; another customer's is reported as not found.
    public func request(_ id: ServiceRequestID, of customer: Int64) async throws -> ServiceRequest {
        let r = try await request(id)
        guard r.customer == customer else { throw SupportError.notFound(id) }
        return r
    }

    /// The thread, oldest first; a customer sees everything but internal notes.
    public func thread(_ id: ServiceRequestID, forCustomer: Bool) async throws -> [RequestEvent] {
        let events = try await store.events(id)
        return forCustomer ? events.filter(\.isPublic) : events
    }

    /// A page of the desk's list (offset from 0) with the total the filter selects.
    public func requests(_ filter: RequestFilter, offset: Int, limit: Int) async throws -> CountedPage<ServiceRequest> {
        try await store.requests(filter, now: clock.now, offset: max(0, offset), limit: min(max(1, limit), 500))
    }

    public func requests(_ filter: RequestFilter, limit: Int = 100) async throws -> [ServiceRequest] {
        try await store.requests(filter, now: clock.now, limit: max(1, min(limit, 1_000)))
    }

    public func summary() async throws -> DeskSummary {
        var s = try await store.summary(now: clock.now)
        for q in Self.standardQueues where !s.queues.contains(where: { $0.queue == q }) {
            s.queues.append(QueueSummary(queue: q, open: 0, unassigned: 0, breached: 0, dueSoon: 0))
        }
        s.queues.sort { ($0.breached, $0.open, $1.queue) > ($1.breached, $1.open, $0.queue) }
        return s
    }

    /// An agent answers the customer (`internal == false`, which meets the first-response
    /// target and moves an open request in progress) or writes an internal note.
    public func reply(_ id: ServiceRequestID, text: String, internal isNote: Bool, by agent: String) async throws -> ServiceRequest {
        let text = try Self.text(text, field: "text", max: 10_000)
        return try await change(id) { r, now in
            var c = RequestChange()
            if !isNote {
                guard r.status != .closed else { throw SupportError.conflict("Request \(id) is closed.") }
                if r.firstResponseAt == nil { c.firstResponseAt = now }
                if r.status == .open { c.status = .inProgress }
            }
            return (c, (agent, isNote ? .note : .reply, text))
        }
    }

    /// The customer writes in the portal. A request waiting on them, or resolved, opens again;
    /// a closed one stays closed (they open a new one).
    public func customerMessage(_ id: ServiceRequestID, customer: Int64, text: String, author: String) async throws -> ServiceRequest {
        let text = try Self.text(text, field: "text", max: 10_000)
        _ = try await request(id, of: customer)
        return try await change(id) { r, _ in
            var c = RequestChange()
            switch r.status {
            case .closed: throw SupportError.conflict("Request \(id) is closed; open a new one.")
            case .waitingOnCustomer: c.status = .inProgress
            case .resolved:
                c.status = .open
                c.resolvedAt = .some(nil)
            case .open, .inProgress: break
            }
            return (c, (author, .customerMessage, text))
        }
    }

    /// Assigns the request to an agent (nil: back to the queue). An agent given a request by
    /// someone else is told.
    public func assign(_ id: ServiceRequestID, to assignee: String?, by agent: String) async throws -> ServiceRequest {
        let before = try await request(id).assignee
        let r = try await change(id) { r, _ in
            guard r.assignee != assignee else { return nil }
            var c = RequestChange()
            c.assignee = .some(assignee)
            if assignee != nil, r.status == .open { c.status = .inProgress }
            return (c, (agent, .change, assignee.map { "Assigned to \($0)" } ?? "Returned to the \(r.queue) queue"))
        }
        if let assignee, assignee != agent, assignee != before { _ = await notify(.assigned(r, by: agent)) }
        return r
    }

    /// Tells each assignee, once, that an open request of theirs broke its SLA (the `sla-alerts`
    /// job). A notice that could not be delivered is tried again on the next run. Returns how
    /// many were told.
    public func alertBreaches(limit: Int = 200) async throws -> Int {
        var told = 0
        for r in try await store.breachesToNotify(now: clock.now, limit: limit) where await notify(.breached(r)) {
            try await store.markBreachNotified(r.id, at: clock.now)
            told += 1
        }
        return told
    }

    /// Changes the priority (the SLA targets are recomputed from when it was opened), the queue,
    /// or the status among open, in progress and waiting on the customer.
    public func update(
        _ id: ServiceRequestID, priority: ServiceRequest.Priority? = nil, queue: String? = nil, status: ServiceRequest.Status? = nil,
        by agent: String
    ) async throws -> ServiceRequest {
        let queue = try queue.map(Self.queue)
        if let status, !status.isOpen {
            throw SupportError.invalid(field: "status", reason: "resolve with a resolution, or close a resolved request")
        }
        return try await change(id) { r, _ in
            guard r.status.isOpen else {
                throw SupportError.conflict("Request \(id) is \(r.status.rawValue); the customer can reopen it by writing.")
            }
            var c = RequestChange()
            var said: [String] = []
            if let priority, priority != r.priority {
                c.priority = priority
                let due = policy.targets(priority: priority, kind: r.kind, valueTier: r.valueTier, at: r.openedAt)
                (c.respondBy, c.resolveBy) = (due.respondBy, due.resolveBy)
                said.append("Priority \(r.priority.rawValue) → \(priority.rawValue)")
            }
            if let queue, queue != r.queue {
                c.queue = queue
                said.append("Queue \(r.queue) → \(queue)")
            }
            if let status, status != r.status {
                c.status = status
                said.append("Status \(r.status.rawValue) → \(status.rawValue)")
            }
            return said.isEmpty ? nil : (c, (agent, .change, said.joined(separator: "; ")))
        }
    }

    /// Resolves the request with what was done; the customer sees the resolution and may rate it.
    public func resolve(_ id: ServiceRequestID, resolution: String, by agent: String) async throws -> ServiceRequest {
        let resolution = try Self.text(resolution, field: "resolution", max: 10_000)
        return try await change(id) { r, now in
            guard r.status.isOpen else { throw SupportError.conflict("Request \(id) is \(r.status.rawValue) already.") }
            var c = RequestChange()
            c.status = .resolved
            c.resolvedAt = .some(now)
            c.resolution = resolution
            if r.firstResponseAt == nil { c.firstResponseAt = now }
            return (c, (agent, .change, "Resolved: \(resolution)"))
        }
    }

    /// Closes a resolved request for good.
    public func close(_ id: ServiceRequestID, by agent: String) async throws -> ServiceRequest {
        try await change(id) { r, _ in
            guard r.status == .resolved else {
                throw SupportError.conflict("Only a resolved request can be closed; request \(id) is \(r.status.rawValue).")
            }
            var c = RequestChange()
            c.status = .closed
            return (c, (agent, .change, "Closed"))
        }
    }

    /// The customer's satisfaction survey (1–5) after resolution, once.
    public func rate(_ id: ServiceRequestID, customer: Int64, score: Int, comment: String?, author: String) async throws -> ServiceRequest {
        guard (1...5).contains(score) else { throw SupportError.invalid(field: "score", reason: "must be 1 to 5") }
        let comment = try comment.flatMap {
            $0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty ? nil : try Self.text($0, field: "comment", max: 2_000)
        }
        _ = try await request(id, of: customer)
        return try await change(id) { r, _ in
            guard !r.status.isOpen else { throw SupportError.conflict("Request \(id) is not resolved yet.") }
            guard r.satisfaction == nil else { throw SupportError.conflict("Request \(id) was rated already.") }
            var c = RequestChange()
            c.satisfaction = (score, comment)
            return (c, (author, .change, "Rated \(score)/5" + (comment.map { ": \($0)" } ?? "")))
        }
    }

    /// Reads the request, lets `decide` say what changes, and writes it if nobody changed the
    /// status meanwhile (tries three times before reporting a conflict).
    private func change(
        _ id: ServiceRequestID,
        _ decide: (ServiceRequest, Date) throws -> (RequestChange, (author: String, kind: RequestEvent.Kind, text: String))?
    ) async throws -> ServiceRequest {
        for _ in 0..<3 {
            let r = try await request(id)
            let now = clock.now
            guard let (c, event) = try decide(r, now) else { return r }
            if let updated = try await store.update(id, expected: r.status, change: c, event: event, at: now) { return updated }
        }
        throw SupportError.conflict("Request \(id) is being changed by someone else; try again.")
    }

    static func text(_ value: String, field: String, max: Int) throws -> String {
        let t = value.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !t.isEmpty else { throw SupportError.invalid(field: field, reason: "must not be empty") }
        guard t.count <= max else { throw SupportError.invalid(field: field, reason: "must be at most \(max) characters") }
        return t
    }

    /// Queue names: 1–40 lower-case letters, digits and hyphens.
    static func queue(_ value: String) throws -> String {
        let q = value.trimmingCharacters(in: .whitespaces).lowercased()
        guard !q.isEmpty, q.count <= 40, q.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }) else {
            throw SupportError.invalid(field: "queue", reason: "must be 1 to 40 lower-case letters, digits or hyphens")
        }
        return q
    }
}

/// Something a staff member is told about a request.
public enum ServiceNotice: Sendable {
    /// Someone else assigned it to them.
    case assigned(ServiceRequest, by: String)
    /// An open request of theirs passed its response or resolution target.
    case breached(ServiceRequest)

    public var request: ServiceRequest {
        switch self {
        case .assigned(let r, _), .breached(let r): r
        }
    }
}
