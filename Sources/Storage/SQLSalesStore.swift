import Customers
import Foundation
import SQLKit
import Sales
import SharedModels

/// Opportunities and their history over SQL, and the sales side of `leads` (Campaigns creates
/// the rows; Sales moves their status, owner and conversion). Winning an opportunity writes an
/// interaction on the customer's timeline in the same transaction.
public struct SQLSalesStore: SalesStore {
    let database: any Database

    public init(database: any Database) { self.database = database }

    static let select = """
        SELECT o.*, CASE WHEN o.customer_id IS NULL THEN NULL ELSE \(SQLSegmentStore.memberName.replacingOccurrences(of: " AS name", with: "")) END AS customer_name,
          a.name AS account_name
        FROM opportunities o LEFT JOIN customers p ON p.id = o.customer_id LEFT JOIN accounts a ON a.id = o.account_id
        """

    static func decode(_ row: any SQLRow) throws -> Opportunity {
        Opportunity(
            id: OpportunityID(try row.int64("id")), name: try row.string("name"), customer: try row.optionalInt64("customer_id"),
            customerName: try row.optionalString("customer_name"), account: try row.optionalInt64("account_id"),
            accountName: try row.optionalString("account_name"), lead: try row.optionalInt64("lead_id").map { LeadID($0) },
            owner: try row.string("owner"),
            stage: Opportunity.Stage(rawValue: try row.string("stage")) ?? .prospecting,
            amount: Money(minorUnits: try row.int64("amount_minor"), currency: try row.string("currency")),
            probability: Int(try row.int64("probability")), expectedClose: LocalDate(try row.string("expected_close")) ?? LocalDate(Date()),
            nextStep: try row.optionalString("next_step"), lostReason: try row.optionalString("lost_reason"), createdAt: try row.date("created_at"),
            updatedAt: try row.date("updated_at"), closedAt: try row.optionalDate("closed_at"))
    }

    public func insert(_ o: NewOpportunity, leadExpected: SalesLead.Status?) async throws -> Opportunity? {
        let id = try await database.write { db -> Int64? in
            if let lead = o.lead, let expected = leadExpected {
                let changed = try await db.raw(
                    """
                    UPDATE leads SET status = 'converted', updated_at = \(bind: o.at.epochSeconds)
                    WHERE id = \(bind: lead.rawValue) AND status = \(bind: expected.rawValue) RETURNING id
                    """
                ).all()
                guard !changed.isEmpty else { return nil }
            }
            let id = try await db.raw(
                """
                INSERT INTO opportunities (name, customer_id, account_id, lead_id, owner, stage, amount_minor, currency, probability, expected_close,
                  next_step, created_at, updated_at)
                VALUES (\(bind: o.name), \(bind: o.customer), \(bind: o.account), \(bind: o.lead?.rawValue), \(bind: o.owner), \(bind: o.stage.rawValue),
                  \(bind: o.amount.minorUnits), \(bind: o.amount.currency), \(bind: Int64(o.probability)), \(bind: o.expectedClose.description),
                  \(bind: o.nextStep), \(bind: o.at.epochSeconds), \(bind: o.at.epochSeconds)) RETURNING id
                """
            ).first()!.int64("id")
            if let lead = o.lead {
                try await db.raw("UPDATE leads SET opportunity_id = \(bind: id) WHERE id = \(bind: lead.rawValue)").run()
            }
            try await Self.insertEvent(
                db, opportunity: id, at: o.at, author: o.author, stage: o.stage, amount: o.amount, probability: o.probability, owner: o.owner,
                note: o.lead.map { "converted from lead \($0)" } ?? "opened")
            return id
        }
        guard let id else { return nil }
        return try await opportunity(OpportunityID(id))
    }

    static func insertEvent(
        _ db: any SQLDatabase, opportunity: Int64, at: Date, author: String, stage: Opportunity.Stage, amount: Money, probability: Int, owner: String,
        note: String?
    ) async throws {
        try await db.raw(
            """
            INSERT INTO opportunity_events (opportunity_id, at, author, stage, amount_minor, currency, probability, owner, note)
            VALUES (\(bind: opportunity), \(bind: at.epochSeconds), \(bind: author), \(bind: stage.rawValue), \(bind: amount.minorUnits),
              \(bind: amount.currency), \(bind: Int64(probability)), \(bind: owner), \(bind: note))
            """
        ).run()
    }

    public func opportunity(_ id: OpportunityID) async throws -> Opportunity? {
        try await database.read { db in
            try await db.raw("\(unsafeRaw: Self.select) WHERE o.id = \(bind: id.rawValue)").first().map(Self.decode)
        }
    }

    public func opportunities(_ filter: OpportunityFilter, limit: Int) async throws -> [Opportunity] {
        var conditions: [SQLQueryString] = []
        if let owner = filter.owner { conditions.append("o.owner = \(bind: owner.lowercased())") }
        if !filter.stages.isEmpty { conditions.append("o.stage IN (\(binds: filter.stages.map(\.rawValue)))") }
        if let c = filter.customer { conditions.append("o.customer_id = \(bind: c)") }
        if !filter.accounts.isEmpty { conditions.append("o.account_id IN (\(binds: filter.accounts))") }
        let clause: SQLQueryString = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
        return try await database.read { db in
            try await db.raw(
                "\(unsafeRaw: Self.select)" + clause
                    + " ORDER BY CASE WHEN o.closed_at IS NULL THEN 0 ELSE 1 END, CASE WHEN o.closed_at IS NULL THEN o.expected_close END, o.closed_at DESC, o.id LIMIT \(bind: Int64(limit))"
            ).all().map(Self.decode)
        }
    }

    public func history(_ id: OpportunityID) async throws -> [OpportunityEvent] {
        try await database.read { db in
            try await db.raw("SELECT * FROM opportunity_events WHERE opportunity_id = \(bind: id.rawValue) ORDER BY id").all().map { row in
                OpportunityEvent(
                    at: try row.date("at"), author: try row.string("author"),
                    stage: Opportunity.Stage(rawValue: try row.string("stage")) ?? .prospecting,
                    amount: Money(minorUnits: try row.int64("amount_minor"), currency: try row.string("currency")),
                    probability: Int(try row.int64("probability")), owner: try row.string("owner"), note: try row.optionalString("note"))
            }
        }
    }

    public func update(_ o: Opportunity, expected: Opportunity.Stage, author: String, note: String?, at: Date) async throws -> Opportunity? {
        let done = try await database.write { db -> Bool in
            let changed = try await db.raw(
                """
                UPDATE opportunities SET name = \(bind: o.name), owner = \(bind: o.owner), stage = \(bind: o.stage.rawValue),
                  amount_minor = \(bind: o.amount.minorUnits), probability = \(bind: Int64(o.probability)),
                  expected_close = \(bind: o.expectedClose.description), next_step = \(bind: o.nextStep), lost_reason = \(bind: o.lostReason),
                  updated_at = \(bind: at.epochSeconds), closed_at = \(bind: o.closedAt?.epochSeconds)
                WHERE id = \(bind: o.id.rawValue) AND stage = \(bind: expected.rawValue) RETURNING id
                """
            ).all()
            guard !changed.isEmpty else { return false }
            try await Self.insertEvent(
                db, opportunity: o.id.rawValue, at: at, author: author, stage: o.stage, amount: o.amount, probability: o.probability, owner: o.owner,
                note: note)
            if let customer = o.customer, o.stage != expected, !o.stage.isOpen {
                _ = try await SQLCustomerStore.insertInteraction(
                    db,
                    InteractionDetails(
                        channel: .visit, direction: .outbound, outcome: o.stage == .won ? "opportunity won" : "opportunity lost", agent: author,
                        subject: "Opportunity #\(o.id): \(o.name)", notes: "\(o.amount)" + (o.lostReason.map { " — \($0)" } ?? ""), occurredAt: at),
                    for: CustomerID(customer))
            }
            return true
        }
        return done ? try await opportunity(o.id) : nil
    }

    public func pipeline(owner: String?, closedSince: Date) async throws -> [PipelineRow] {
        let ownerClause: SQLQueryString = owner.map { " AND owner = \(bind: $0.lowercased())" } ?? ""
        return try await database.readFromReplica { db in
            try await db.raw(
                """
                SELECT owner, stage, amount_minor, currency, probability, expected_close, created_at, closed_at FROM opportunities
                WHERE (closed_at IS NULL OR closed_at >= \(bind: closedSince.epochSeconds))
                """ + ownerClause
            ).all().map { row in
                PipelineRow(
                    owner: try row.string("owner"), stage: Opportunity.Stage(rawValue: try row.string("stage")) ?? .prospecting,
                    amount: Money(minorUnits: try row.int64("amount_minor"), currency: try row.string("currency")),
                    probability: Int(try row.int64("probability")), expectedClose: LocalDate(try row.string("expected_close")) ?? LocalDate(Date()),
                    createdAt: try row.date("created_at"), closedAt: try row.optionalDate("closed_at"))
            }
        }
    }

    static let leadSelect = """
        SELECT l.id, l.customer_id, \(SQLSegmentStore.memberName), l.campaign_id, l.source, l.note, l.created_by, l.status, l.owner, l.reason,
          l.opportunity_id, l.created_at, COALESCE(l.updated_at, l.created_at) AS updated_at
        FROM leads l JOIN customers p ON p.id = l.customer_id
        """

    static func decodeLead(_ row: any SQLRow) throws -> SalesLead {
        SalesLead(
            id: LeadID(try row.int64("id")), customer: try row.int64("customer_id"), customerName: try row.string("name"),
            campaign: try row.optionalInt64("campaign_id"), source: try row.string("source"), note: try row.optionalString("note"),
            createdBy: try row.optionalString("created_by"),
            status: SalesLead.Status(rawValue: try row.string("status")) ?? .new, owner: try row.string("owner"),
            reason: try row.optionalString("reason"), opportunity: try row.optionalInt64("opportunity_id").map { OpportunityID($0) },
            createdAt: try row.date("created_at"), updatedAt: try row.date("updated_at"))
    }

    public func insertLead(customer: Int64, source: LeadSource, note: String?, owner: String, createdBy: String, at: Date) async throws -> SalesLead?
    {
        let id = try await database.write { db -> Int64? in
            let rows = try await db.raw(
                """
                INSERT INTO leads (customer_id, campaign_id, source, status, owner, created_at, updated_at, note, created_by)
                VALUES (\(bind: customer), NULL, \(bind: source.rawValue), 'new', \(bind: owner), \(bind: at.epochSeconds), \(bind: at.epochSeconds),
                  \(bind: note), \(bind: createdBy))
                ON CONFLICT DO NOTHING RETURNING id
                """
            ).all()
            guard let id = try rows.first?.int64("id") else { return nil }
            _ = try await SQLCustomerStore.insertInteraction(
                db,
                InteractionDetails(
                    channel: .call, direction: .outbound, outcome: "passed to sales", agent: createdBy, subject: "Lead #\(id) for \(owner)",
                    notes: note, occurredAt: at),
                for: CustomerID(customer))
            return id
        }
        guard let id else { return nil }
        return try await lead(LeadID(id))
    }

    public func lead(_ id: LeadID) async throws -> SalesLead? {
        try await database.read { db in
            try await db.raw("\(unsafeRaw: Self.leadSelect) WHERE l.id = \(bind: id.rawValue)").first().map(Self.decodeLead)
        }
    }

    public func leads(owner: String?, statuses: [SalesLead.Status], campaign: Int64?, limit: Int) async throws -> [SalesLead] {
        var conditions: [SQLQueryString] = []
        if let owner { conditions.append("l.owner = \(bind: owner.lowercased())") }
        if !statuses.isEmpty { conditions.append("l.status IN (\(binds: statuses.map(\.rawValue)))") }
        if let campaign { conditions.append("l.campaign_id = \(bind: campaign)") }
        let clause: SQLQueryString = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
        return try await database.read { db in
            try await db.raw("\(unsafeRaw: Self.leadSelect)" + clause + " ORDER BY l.id DESC LIMIT \(bind: Int64(limit))").all().map(Self.decodeLead)
        }
    }

    public func update(_ l: SalesLead, expected: SalesLead.Status, at: Date) async throws -> SalesLead? {
        let changed = try await database.write { db in
            try await db.raw(
                """
                UPDATE leads SET status = \(bind: l.status.rawValue), owner = \(bind: l.owner), reason = \(bind: l.reason), updated_at = \(bind: at.epochSeconds)
                WHERE id = \(bind: l.id.rawValue) AND status = \(bind: expected.rawValue) RETURNING id
                """
            ).all()
        }
        return changed.isEmpty ? nil : try await lead(l.id)
    }

    public func keyAccounts(manager: String?, revenueSince: Date) async throws -> [KeyAccountRow] {
        let managerClause: SQLQueryString = manager.map { " AND LOWER(a.key_account_manager) = \(bind: $0.lowercased())" } ?? ""
        return try await database.read { db in
            let accounts = try await db.raw(
                """
                SELECT a.id, a.name, a.key_account_manager,
                  (SELECT COUNT(*) FROM customers c WHERE c.account_id = a.id AND c.merged_into IS NULL) AS contacts,
                  (SELECT MAX(i.occurred_at) FROM interactions i JOIN customers c ON c.id = i.customer_id WHERE c.account_id = a.id) AS last_interaction
                FROM accounts a WHERE a.account_class = 'A'
                """ + managerClause + " ORDER BY a.name, a.id"
            ).all()
            // The contacts' revenue of every A-class account at once, per currency.
            var revenue: [Int64: [Money]] = [:]
            for row in try await db.raw(
                """
                SELECT c.account_id, t.currency,
                  CAST(SUM(CASE t.kind WHEN 'return' THEN -t.amount_minor WHEN 'purchase' THEN t.amount_minor ELSE 0 END) AS BIGINT) AS v
                FROM transactions t JOIN customers c ON c.id = t.customer_id JOIN accounts a ON a.id = c.account_id
                WHERE a.account_class = 'A' AND t.occurred_at >= \(bind: revenueSince.epochSeconds)
                """ + managerClause + " GROUP BY c.account_id, t.currency ORDER BY c.account_id, t.currency"
            ).all() {
                revenue[try row.int64("account_id"), default: []].append(Money(minorUnits: try row.int64("v"), currency: try row.string("currency")))
            }
            return try accounts.map { a in
                let id = try a.int64("id")
                return KeyAccountRow(
                    account: id, name: try a.string("name"), manager: try a.optionalString("key_account_manager"),
                    contacts: Int(try a.int64("contacts")), revenue: revenue[id] ?? [], lastInteraction: try a.optionalDate("last_interaction"))
            }
        }
    }

    public func accountName(_ id: Int64) async throws -> String? {
        try await database.read { db in try await db.raw("SELECT name FROM accounts WHERE id = \(bind: id)").first()?.string("name") }
    }

    public func customerName(_ id: Int64) async throws -> (name: String, merged: Bool)? {
        try await database.read { db in
            try await db.raw("SELECT \(unsafeRaw: SQLSegmentStore.memberName), p.merged_into FROM customers p WHERE p.id = \(bind: id)").first().map {
                (try $0.string("name"), try $0.optionalInt64("merged_into") != nil)
            }
        }
    }
}
