import Customers
import Foundation
import SQLKit
import SharedModels

/// Privacy requests, and the export and erasure of one customer across every room's tables.
/// This is the one place that knows where a customer's data lives: a table that gains a
/// customer's data must be added to ``exported`` and, if it identifies them, to ``erase(_:at:)``.
public struct SQLPrivacyStore: PrivacyStore {
    let database: any Database

    public init(database: any Database) { self.database = database }

    static let select = "SELECT r.*, \(SQLSegmentStore.memberName) FROM privacy_requests r JOIN customers p ON p.id = r.customer_id"

    static func decode(_ row: any SQLRow) throws -> PrivacyRequest {
        PrivacyRequest(
            id: PrivacyRequestID(try row.int64("id")), customer: try row.int64("customer_id"), customerName: try row.string("name"),
            kind: PrivacyRequest.Kind(rawValue: try row.string("kind")) ?? .access,
            status: PrivacyRequest.Status(rawValue: try row.string("status")) ?? .open, channel: try row.string("channel"),
            note: try row.optionalString("note"), receivedBy: try row.string("received_by"), receivedAt: try row.date("received_at"),
            dueAt: try row.date("due_at"), completedBy: try row.optionalString("completed_by"), completedAt: try row.optionalDate("completed_at"),
            outcome: try row.optionalString("outcome"))
    }

    public func insertPrivacyRequest(
        customer: Int64, kind: PrivacyRequest.Kind, channel: String, note: String?, by: String, at: Date, due: Date
    ) async throws -> PrivacyRequest {
        let id = try await database.write { db in
            try await db.raw(
                """
                INSERT INTO privacy_requests (customer_id, kind, status, channel, note, received_by, received_at, due_at)
                VALUES (\(bind: customer), \(bind: kind.rawValue), 'open', \(bind: channel), \(bind: note), \(bind: by), \(bind: at.epochSeconds),
                  \(bind: due.epochSeconds)) RETURNING id
                """
            ).first()!.int64("id")
        }
        return try await privacyRequest(PrivacyRequestID(id))!
    }

    public func privacyRequest(_ id: PrivacyRequestID) async throws -> PrivacyRequest? {
        try await database.read { db in try await db.raw("\(unsafeRaw: Self.select) WHERE r.id = \(bind: id.rawValue)").first().map(Self.decode) }
    }

    public func privacyRequests(limit: Int) async throws -> [PrivacyRequest] {
        try await database.read { db in
            try await db.raw(
                """
                \(unsafeRaw: Self.select) ORDER BY CASE WHEN r.status = 'open' THEN 0 ELSE 1 END,
                  CASE WHEN r.status = 'open' THEN r.due_at ELSE -r.id END LIMIT \(literal: limit)
                """
            ).all().map(Self.decode)
        }
    }

    public func closePrivacyRequest(_ id: PrivacyRequestID, status: PrivacyRequest.Status, by: String, at: Date, outcome: String) async throws
        -> PrivacyRequest?
    {
        let done = try await database.write { db in
            try await db.raw(
                """
                UPDATE privacy_requests SET status = \(bind: status.rawValue), completed_by = \(bind: by), completed_at = \(bind: at.epochSeconds),
                  outcome = \(bind: outcome) WHERE id = \(bind: id.rawValue) AND status = 'open' RETURNING id
                """
            ).first() != nil
        }
        return done ? try await privacyRequest(id) : nil
    }

    // MARK: Export

    /// Each table holding the customer's data, and how its rows are found (`?` is the customer id).
    static let exported: [(table: String, condition: String)] = {
        let members = "SELECT id FROM loyalty_members WHERE customer_id = ?"
        let accounts = "SELECT id FROM ledger_accounts WHERE member_id IN (\(members))"
        return [
            ("customers", "id = ?"), ("customer_identifiers", "customer_id = ?"), ("consent_events", "customer_id = ?"),
            ("contact_blocks", "customer_id = ?"), ("interactions", "customer_id = ?"), ("transactions", "customer_id = ?"),
            ("transaction_lines", "transaction_id IN (SELECT id FROM transactions WHERE customer_id = ?)"), ("customer_scores", "customer_id = ?"),
            ("member_logins", "customer_id = ?"), ("loyalty_members", "customer_id = ?"), ("loyalty_cards", "member_id IN (\(members))"),
            ("tier_history", "member_id IN (\(members))"), ("ledger_accounts", "member_id IN (\(members))"),
            ("ledger_postings", "account_id IN (\(accounts))"),
            ("ledger_transfers", "id IN (SELECT transfer_id FROM ledger_postings WHERE account_id IN (\(accounts)))"),
            ("point_lots", "account_id IN (\(accounts))"), ("loyalty_vouchers", "member_id IN (\(members))"),
            ("promotion_enrolments", "member_id IN (\(members))"), ("promotion_applications", "member_id IN (\(members))"),
            ("campaign_messages", "customer_id = ?"), ("campaign_responses", "customer_id = ?"), ("agent_tasks", "customer_id = ?"),
            ("leads", "customer_id = ?"), ("service_requests", "customer_id = ?"),
            ("service_request_events", "request_id IN (SELECT id FROM service_requests WHERE customer_id = ?)"),
            ("privacy_requests", "customer_id = ?"), ("opportunities", "customer_id = ?"),
            ("opportunity_events", "opportunity_id IN (SELECT id FROM opportunities WHERE customer_id = ?)"),
        ]
    }()

    /// Columns never exported: secrets, not data about the person.
    static let secretColumns: Set<String> = ["password_hash", "digest", "secret"]

    public func exportCustomerData(_ customer: Int64, at: Date) async throws -> Data {
        try await database.read { db in
            var tables: [String: Any] = [:]
            for (table, condition) in Self.exported {
                let sql = condition.replacingOccurrences(of: "?", with: String(customer))
                var rows: [[String: Any]] = []
                for row in try await db.raw("SELECT * FROM \(unsafeRaw: table) WHERE \(unsafeRaw: sql)").all() {
                    var object: [String: Any] = [:]
                    for column in row.allColumns where !Self.secretColumns.contains(column) {
                        object[column] = Self.value(row, column)
                    }
                    rows.append(object)
                }
                tables[table] = rows
            }
            let objection = try await db.raw(
                """
                SELECT c.profiling_objected AS objected, (SELECT MAX(e.recorded_at) FROM consent_events e WHERE e.customer_id = c.id
                  AND e.purpose = 'profiling' AND e.granted = 0) AS since FROM customers c WHERE c.id = \(bind: customer)
                """
            ).first()
            let objected = (try objection?.decode(column: "objected", as: Int64.self)) == 1
            let since = try objection?.decode(column: "since", as: Int64?.self)
            let profiling: [String: Any] =
                objected
                ? [
                    "objected": true, "since": since.map { ISO8601DateFormatter().string(from: Date(epochSeconds: $0)) } ?? NSNull(),
                    "effect":
                        "You objected to profiling. You are left out of scoring and of every model fitted on customers' data; no scores are kept about you, segments built on scores do not select you and you get no next-best offers.",
                ]
                : [
                    "objected": false,
                    "effect":
                        "Your purchase history is scored nightly (RFM, lifetime value, churn risk, value tier, recommended categories), shown in customer_scores. You may object to this profiling at any time.",
                ]
            let document: [String: Any] = [
                "profiling": profiling,
                "customer_id": customer, "exported_at": ISO8601DateFormatter().string(from: at),
                "note":
                    "Every record Patron holds about this customer, table by table. Times are seconds since 1970-01-01 UTC; money is in minor units.",
                "tables": tables,
            ]
            return try JSONSerialization.data(withJSONObject: document, options: [.sortedKeys, .prettyPrinted])
        }
    }

    /// A column's value as JSON: null, an integer, a number, a JSON document (profiles, plans) or text.
    static func value(_ row: any SQLRow, _ column: String) -> Any {
        if (try? row.decodeNil(column: column)) == true { return NSNull() }
        if let v = try? row.decode(column: column, as: Int64.self) { return v }
        if let v = try? row.decode(column: column, as: Double.self) { return v }
        if let v = try? row.decode(column: column, as: String.self) {
            if v.hasPrefix("{") || v.hasPrefix("["), let json = try? JSONSerialization.jsonObject(with: Data(v.utf8)) { return json }
            return v
        }
        return NSNull()
    }

    // MARK: Erasure

    public func erase(_ customer: Int64, at: Date) async throws -> ErasureReport {
        try await database.write { db in
            var rows: [String: Int] = [:]
            func run(_ table: String, _ sql: SQLQueryString) async throws {
                let changed = try await db.raw(sql + " RETURNING 1 AS one").all().count
                if changed > 0 { rows[table, default: 0] += changed }
            }
            // The customer, and the records merged into them (the same person under another record).
            var ids = [customer]
            for row in try await db.raw("SELECT id FROM customers WHERE merged_into = \(bind: customer)").all() { ids.append(try row.int64("id")) }
            // What stays behind, so that no import, sign-up or match brings the person back.
            var keys = ids.map { "customer_id:\($0)" }
            for row in try await db.raw("SELECT kind, value FROM customer_identifiers WHERE customer_id IN (\(binds: ids))").all() {
                keys.append(Tombstone.key(kind: try row.string("kind"), value: try row.string("value")))
            }
            try await Tombstones.bury(keys, in: db, at: at)
            for c in ids {
                try await run("customer_identifiers", "DELETE FROM customer_identifiers WHERE customer_id = \(bind: c)")
                try await SQLCustomerStore.updateProfile(db, of: CustomerID(c), with: Profile(), at: at)
                try await run(
                    "customers",
                    "UPDATE customers SET status = CASE WHEN status = 'merged' THEN status ELSE 'erased' END, household_id = NULL, contact_role = NULL, updated_at = \(bind: at.epochSeconds) WHERE id = \(bind: c)"
                )
                try await run("consent_events", "UPDATE consent_events SET text = NULL WHERE customer_id = \(bind: c) AND text IS NOT NULL")
                try await run(
                    "interactions",
                    "UPDATE interactions SET subject = NULL, notes = NULL WHERE customer_id = \(bind: c) AND (subject IS NOT NULL OR notes IS NOT NULL)"
                )
                // The login's email also keys its remembered clients and sign-in failures.
                try await run(
                    "sign_in_clients", "DELETE FROM sign_in_clients WHERE email IN (SELECT email FROM member_logins WHERE customer_id = \(bind: c))")
                try await run(
                    "sign_in_failures",
                    "DELETE FROM sign_in_failures WHERE key IN (SELECT 'account:' || email FROM member_logins WHERE customer_id = \(bind: c))")
                try await run(
                    "password_resets", "DELETE FROM password_resets WHERE email IN (SELECT email FROM member_logins WHERE customer_id = \(bind: c))")
                try await run("member_logins", "DELETE FROM member_logins WHERE customer_id = \(bind: c)")
                try await run("sessions", "DELETE FROM sessions WHERE customer_id = \(bind: c)")
                try await run("customer_scores", "DELETE FROM customer_scores WHERE customer_id = \(bind: c)")
                try await run("segment_facts", "DELETE FROM segment_facts WHERE customer_id = \(bind: c)")
                try await run("segment_members", "DELETE FROM segment_members WHERE customer_id = \(bind: c)")
                try await run(
                    "campaign_messages",
                    """
                    UPDATE campaign_messages SET address = NULL, name = NULL, subject = NULL, body = NULL
                    WHERE customer_id = \(bind: c) AND (address IS NOT NULL OR name IS NOT NULL OR body IS NOT NULL)
                    """)
                try await run("agent_tasks", "UPDATE agent_tasks SET script = '', notes = NULL WHERE customer_id = \(bind: c)")
                try await run("leads", "DELETE FROM leads WHERE customer_id = \(bind: c)")
                // The deal stays the company's record (amount, stage, dates); what was written about the person goes.
                try await run(
                    "opportunities",
                    "UPDATE opportunities SET name = '[erased]', next_step = NULL, lost_reason = NULL WHERE customer_id = \(bind: c) AND name <> '[erased]'"
                )
                try await run(
                    "opportunity_events",
                    """
                    UPDATE opportunity_events SET note = NULL
                    WHERE opportunity_id IN (SELECT id FROM opportunities WHERE customer_id = \(bind: c)) AND note IS NOT NULL
                    """)
                try await run(
                    "service_requests",
                    """
                    UPDATE service_requests SET subject = '[erased]', resolution = NULL, satisfaction_comment = NULL WHERE customer_id = \(bind: c)
                    """)
                try await run(
                    "service_request_events",
                    """
                    UPDATE service_request_events SET text = '[erased]'
                    WHERE request_id IN (SELECT id FROM service_requests WHERE customer_id = \(bind: c))
                    """)
                try await run("privacy_requests", "UPDATE privacy_requests SET note = NULL WHERE customer_id = \(bind: c) AND note IS NOT NULL")
                try await run(
                    "customer_merges",
                    "UPDATE customer_merges SET snapshot = '{}' WHERE (survivor_id = \(bind: c) OR merged_id = \(bind: c)) AND snapshot <> '{}'")
                try await run(
                    "unmatched_items", "UPDATE unmatched_items SET identifiers = '[]' WHERE linked_customer_id = \(bind: c) AND identifiers <> '[]'")
            }
            return ErasureReport(rows: rows)
        }
    }
}
