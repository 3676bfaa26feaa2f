import Customers
import Foundation
import SQLKit
import SharedModels
import Support

/// Service requests over SQL: `service_requests` and their thread `service_request_events`.
/// Opening and resolving a request also writes an interaction on the customer's timeline, in
/// the same transaction.
public struct SQLSupportStore: SupportStore {
    let database: any Database

    public init(database: any Database) { self.database = database }

    static let select = "SELECT r.*, \(SQLSegmentStore.memberName) FROM service_requests r JOIN customers p ON p.id = r.customer_id"

    static func decode(_ row: any SQLRow) throws -> ServiceRequest {
        let comment = try row.optionalString("satisfaction_comment")
        return ServiceRequest(
            id: ServiceRequestID(try row.int64("id")), customer: try row.int64("customer_id"), customerName: try row.string("name"),
            kind: ServiceRequest.Kind(rawValue: try row.string("kind")) ?? .question,
            priority: ServiceRequest.Priority(rawValue: try row.string("priority")) ?? .normal, queue: try row.string("queue"),
            subject: try row.string("subject"), status: ServiceRequest.Status(rawValue: try row.string("status")) ?? .open,
            assignee: try row.optionalString("assignee"), channel: try row.string("channel"), valueTier: try row.string("value_tier"),
            openedBy: try row.string("opened_by"), openedAt: try row.date("opened_at"), respondBy: try row.date("respond_by"),
            resolveBy: try row.date("resolve_by"), firstResponseAt: try row.optionalDate("first_response_at"),
            resolvedAt: try row.optionalDate("resolved_at"), resolution: try row.optionalString("resolution"),
            satisfaction: try row.optionalInt64("satisfaction").map(Int.init), satisfactionComment: comment)
    }

    public func open(_ r: NewRequest) async throws -> ServiceRequest {
        let id = try await database.write { db -> Int64 in
            let id = try await db.raw(
                """
                INSERT INTO service_requests (customer_id, kind, priority, queue, subject, status, channel, value_tier, opened_by, opened_at,
                  respond_by, resolve_by, updated_at)
                VALUES (\(bind: r.customer), \(bind: r.kind.rawValue), \(bind: r.priority.rawValue), \(bind: r.queue), \(bind: r.subject), 'open',
                  \(bind: r.channel.rawValue), \(bind: r.valueTier), \(bind: r.openedBy), \(bind: r.openedAt.epochSeconds),
                  \(bind: r.respondBy.epochSeconds), \(bind: r.resolveBy.epochSeconds), \(bind: r.openedAt.epochSeconds)) RETURNING id
                """
            ).first()!.int64("id")
            try await Self.insertEvent(
                db, request: id, at: r.openedAt, author: r.openedBy, kind: r.byCustomer ? .customerMessage : .note, text: r.description)
            _ = try await SQLCustomerStore.insertInteraction(
                db,
                InteractionDetails(
                    channel: r.channel, direction: .inbound, outcome: "request opened", agent: r.byCustomer ? nil : r.openedBy,
                    subject: "\(r.kind.rawValue.capitalized) #\(id): \(r.subject)", notes: r.description, occurredAt: r.openedAt),
                for: CustomerID(r.customer))
            return id
        }
        return try await request(ServiceRequestID(id))!
    }

    static func insertEvent(_ db: any SQLDatabase, request: Int64, at: Date, author: String, kind: RequestEvent.Kind, text: String) async throws {
        try await db.raw(
            """
            INSERT INTO service_request_events (request_id, at, author, kind, text)
            VALUES (\(bind: request), \(bind: at.epochSeconds), \(bind: author), \(bind: kind.rawValue), \(bind: text))
            """
        ).run()
    }

    public func request(_ id: ServiceRequestID) async throws -> ServiceRequest? {
        try await database.read { db in
            try await db.raw("\(unsafeRaw: Self.select) WHERE r.id = \(bind: id.rawValue)").first().map(Self.decode)
        }
    }

    public func events(_ id: ServiceRequestID) async throws -> [RequestEvent] {
        try await database.read { db in
            try await db.raw("SELECT * FROM service_request_events WHERE request_id = \(bind: id.rawValue) ORDER BY id").all().map { row in
                RequestEvent(
                    id: try row.int64("id"), request: id, at: try row.date("at"), author: try row.string("author"),
                    kind: RequestEvent.Kind(rawValue: try row.string("kind")) ?? .note, text: try row.string("text"))
            }
        }
    }

    public func requests(_ filter: RequestFilter, now: Date, limit: Int) async throws -> [ServiceRequest] {
        try await requests(filter, now: now, offset: 0, limit: limit, counting: false).items
    }

    /// An open request past its resolution target, or past its first-response target unanswered.
    static func breached(at now: Date) -> SQLQueryString {
        let t = now.epochSeconds
        return "r.status NOT IN ('resolved', 'closed') AND (r.resolve_by < \(bind: t) OR (r.first_response_at IS NULL AND r.respond_by < \(bind: t)))"
    }

    public func breachesToNotify(now: Date, limit: Int) async throws -> [ServiceRequest] {
        try await database.read { db in
            try await db.raw(
                "\(unsafeRaw: Self.select)"
                    + " WHERE r.assignee IS NOT NULL AND r.breach_notified_at IS NULL AND " + Self.breached(at: now)
                    + " ORDER BY r.resolve_by, r.id LIMIT \(literal: limit)"
            ).all().map(Self.decode)
        }
    }

    public func markBreachNotified(_ id: ServiceRequestID, at: Date) async throws {
        try await database.write { db in
            try await db.raw(
                "UPDATE service_requests SET breach_notified_at = \(bind: at.epochSeconds) WHERE id = \(bind: id.rawValue) AND breach_notified_at IS NULL"
            ).run()
        }
    }

    public func requests(_ filter: RequestFilter, now: Date, offset: Int, limit: Int) async throws -> CountedPage<ServiceRequest> {
        try await requests(filter, now: now, offset: offset, limit: limit, counting: true)
    }

    func requests(_ filter: RequestFilter, now: Date, offset: Int, limit: Int, counting: Bool) async throws -> CountedPage<ServiceRequest> {
        var conditions: [SQLQueryString] = []
        if let q = filter.queue { conditions.append("r.queue = \(bind: q)") }
        if !filter.statuses.isEmpty {
            conditions.append("r.status IN (\(unsafeRaw: filter.statuses.map { "'\($0.rawValue)'" }.joined(separator: ", ")))")
        }
        if let c = filter.customer { conditions.append("r.customer_id = \(bind: c)") }
        if let a = filter.assignee { conditions.append("r.assignee = \(bind: a)") }
        if filter.breachedOnly { conditions.append(Self.breached(at: now)) }
        let whereClause: SQLQueryString = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
        // Open requests by urgency; closed ones newest first.
        let direction = filter.descending ? " DESC" : ""
        let order: SQLQueryString =
            switch filter.sort {
            case .due: " ORDER BY r.resolve_by\(unsafeRaw: direction), r.id\(unsafeRaw: direction)"
            case .opened: " ORDER BY r.id\(unsafeRaw: direction)"
            case .priority:
                " ORDER BY CASE r.priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 ELSE 3 END\(unsafeRaw: direction), r.resolve_by, r.id"
            case nil:
                filter.statuses.allSatisfy(\.isOpen) && !filter.statuses.isEmpty || filter.breachedOnly
                    ? " ORDER BY r.resolve_by, r.id" : " ORDER BY r.id DESC"
            }
        return try await database.read { db in
            let items = try await db.raw("\(unsafeRaw: Self.select)" + whereClause + order + " LIMIT \(literal: limit) OFFSET \(literal: offset)").all()
                .map(Self.decode)
            let total =
                counting ? Int(try await db.raw("SELECT COUNT(*) AS n FROM service_requests r" + whereClause).first()?.int64("n") ?? 0) : items.count
            return CountedPage(items: items, total: total)
        }
    }

    public func update(
        _ id: ServiceRequestID, expected: ServiceRequest.Status, change c: RequestChange,
        event: (author: String, kind: RequestEvent.Kind, text: String)?, at: Date
    ) async throws -> ServiceRequest? {
        var sets: [SQLQueryString] = ["updated_at = \(bind: at.epochSeconds)"]
        if let v = c.status { sets.append("status = \(bind: v.rawValue)") }
        if let v = c.priority { sets.append("priority = \(bind: v.rawValue)") }
        if let v = c.queue { sets.append("queue = \(bind: v)") }
        if let v = c.assignee { sets.append("assignee = \(bind: v)") }
        if let v = c.respondBy { sets.append("respond_by = \(bind: v.epochSeconds)") }
        if let v = c.resolveBy { sets.append("resolve_by = \(bind: v.epochSeconds)") }
        if let v = c.firstResponseAt { sets.append("first_response_at = \(bind: v.epochSeconds)") }
        if let v = c.resolvedAt { sets.append("resolved_at = \(bind: v?.epochSeconds)") }
        if let v = c.resolution { sets.append("resolution = \(bind: v)") }
        var guards: SQLQueryString = "id = \(bind: id.rawValue) AND status = \(bind: expected.rawValue)"
        if let s = c.satisfaction {
            sets.append("satisfaction = \(bind: s.score)")
            sets.append("satisfaction_comment = \(bind: s.comment)")
            guards = guards + " AND satisfaction IS NULL"
        }
        let statement: SQLQueryString = "UPDATE service_requests SET " + sets.joined(separator: ", ") + " WHERE " + guards + " RETURNING *"
        let done = try await database.write { db -> Bool in
            guard
                let row = try await db.raw(statement)
                    .first()
            else { return false }
            if let event { try await Self.insertEvent(db, request: id.rawValue, at: at, author: event.author, kind: event.kind, text: event.text) }
            if c.status == .resolved {
                _ = try await SQLCustomerStore.insertInteraction(
                    db,
                    InteractionDetails(
                        channel: Customers.Channel(rawValue: try row.string("channel")) ?? .web, direction: .outbound, outcome: "request resolved",
                        agent: event?.author, subject: "Request #\(id.rawValue): \(try row.string("subject"))", notes: c.resolution, occurredAt: at),
                    for: CustomerID(try row.int64("customer_id")))
            }
            return true
        }
        return done ? try await request(id) : nil
    }

    public func summary(now: Date) async throws -> DeskSummary {
        let t = now.epochSeconds
        return try await database.readFromReplica { db in
            let queues = try await db.raw(
                """
                SELECT queue, COUNT(*) AS open,
                  SUM(CASE WHEN assignee IS NULL THEN 1 ELSE 0 END) AS unassigned,
                  SUM(CASE WHEN resolve_by < \(bind: t) OR (first_response_at IS NULL AND respond_by < \(bind: t)) THEN 1 ELSE 0 END) AS breached,
                  SUM(CASE WHEN resolve_by >= \(bind: t) AND (first_response_at IS NOT NULL OR respond_by >= \(bind: t))
                    AND (resolve_by < \(bind: t + 3_600) OR (first_response_at IS NULL AND respond_by < \(bind: t + 3_600))) THEN 1 ELSE 0 END) AS due_soon
                FROM service_requests WHERE status NOT IN ('resolved', 'closed') GROUP BY queue ORDER BY queue
                """
            ).all().map { row in
                QueueSummary(
                    queue: try row.string("queue"), open: Int(try row.int64("open")), unassigned: Int(try row.int64("unassigned")),
                    breached: Int(try row.int64("breached")), dueSoon: Int(try row.int64("due_soon")))
            }
            let since = t - 30 * 86_400
            let resolved = try await db.raw(
                """
                SELECT COUNT(*) AS n, SUM(CASE WHEN resolved_at <= resolve_by THEN 1 ELSE 0 END) AS within
                FROM service_requests WHERE resolved_at IS NOT NULL AND resolved_at >= \(bind: since)
                """
            ).first()!
            let n = Int(try resolved.int64("n"))
            let within = try resolved.optionalInt64("within") ?? 0
            let surveys = try await db.raw(
                """
                SELECT COUNT(satisfaction) AS n, SUM(satisfaction) AS total FROM service_requests
                WHERE satisfaction IS NOT NULL AND resolved_at >= \(bind: since)
                """
            ).first()!
            let answered = Int(try surveys.int64("n"))
            let total = try surveys.optionalInt64("total") ?? 0
            return DeskSummary(
                queues: queues, resolvedLast30Days: n, resolvedWithinSLA: n == 0 ? nil : Double(within) / Double(n),
                satisfaction: answered == 0 ? nil : Double(total) / Double(answered), surveys: answered)
        }
    }
}
