import Foundation
import Campaigns
import SQLKit
import SharedModels

/// A PostgreSQL database of airline size, and the plans of the hot queries on it (#18, volume).
///
/// ``build(_:transactions:months:now:progress:)`` fills an empty, migrated database inside the
/// server (`generate_series`, no rows cross the wire): customers who are members, `transactions`
/// purchases spread over `months` months up to now, one accrual transfer with its two postings
/// per purchase, a quarter as many interactions and campaign messages, a fortieth as many
/// responses. It is a database for plans, not a consistent ledger: no lots are made and balances
/// are not set.
///
/// ``explain(_:now:)`` runs each hot query (the SQL the stores send, with sample parameters)
/// under `EXPLAIN (ANALYZE, FORMAT JSON)` and checks its plan: no sequential scan of a big
/// table's partition, and a query bounded in time reads only the months it names.
public enum VolumeCheck {
    public struct Built: Sendable {
        public var transactions = 0
        public var transfers = 0
        public var postings = 0
        public var interactions = 0
        public var messages = 0
        public var responses = 0
        public var customers = 0
        public var seconds = 0.0
    }

    /// One hot query and what its plan must show.
    struct HotQuery {
        let name: String
        /// Where the stores send it.
        let source: String
        let sql: String
        /// The most partitions of the big tables it may read (nil: as many as there are months).
        let maxPartitions: Int?
        /// It reads every row of what it names (a campaign's messages, all queued in one month):
        /// scanning that month whole is the cheapest plan, and allowed.
        var readsWholeMonth = false
        /// The store's own statement, binds and all, where it can be had (then `sql` is unused).
        var statement: SQLQueryString? = nil
    }

    public struct Plan: Sendable, Codable {
        public var name: String
        public var source: String
        public var milliseconds: Double
        /// Partitions of the big tables the query read (scans run at least once).
        public var partitionsRead: Int
        /// The big-table partitions scanned sequentially: a hot query must read none.
        public var sequentialScans: [String]
        public var indexes: [String]
        public var problems: [String]
        public var ok: Bool { problems.isEmpty }
    }

    static let bigTables = MonthlyPartitions.tables.map(\.name) + ["transaction_keys", "ledger_transfer_keys", "campaign_response_keys"]

    /// Fills the database; `progress` hears each step.
    public static func build(
        _ database: any Database, transactions n: Int, months: Int = 36, now: Date, progress: (String) -> Void
    ) async throws -> Built {
        guard database.capabilities.partitionsByMonth else { throw VolumeCheckError("the volume check needs PostgreSQL (postgres://…)") }
        guard n >= 1_000, months >= 1 else { throw VolumeCheckError("give at least 1,000 transactions and one month") }
        let started = Date()
        let end = now.epochSeconds
        let start = end - Int64(months) * 2_629_746  // average Gregorian months
        let customers = max(1_000, n / 20)
        var built = Built()
        // Partitions for every month of the history.
        try await database.write { db in
            for table in MonthlyPartitions.tables {
                try await db.raw(SQLQueryString(MonthlyPartitions.makeMonths(of: table, from: String(start), to: String(end)))).run()
            }
        }
        progress("volume: \(customers) customers, members and their accounts…")
        let program = try await database.write { db -> Int64 in
            if try await db.raw("SELECT COUNT(*) AS n FROM customers").first()!.int64("n") > 0 {
                throw VolumeCheckError("the database must be empty (it has customers)")
            }
            try await db.raw(
                """
                INSERT INTO customers (first_name, last_name, search_name, completeness, profile, status, created_at, updated_at)
                SELECT 'Member', 'No ' || g, 'member no ' || g, 50, '{}', 'active', \(bind: start), \(bind: start) FROM generate_series(1, \(bind: Int64(customers))) g
                """
            ).run()
            let program = try await db.raw(
                """
                INSERT INTO loyalty_programs (code, name, value_per_thousand_minor, currency, pending_days, allow_negative, created_at)
                VALUES ('VOL', 'Volume', 1000, 'USD', 0, 0, \(bind: start)) RETURNING id
                """
            ).first()!.int64("id")
            try await db.raw(
                """
                INSERT INTO loyalty_members (program_id, customer_id, number, enrolled_at)
                SELECT \(bind: program), id, 'VOL' || lpad(id::text, 9, '0'), \(bind: start) FROM customers ORDER BY id
                """
            ).run()
            try await db.raw(
                """
                INSERT INTO ledger_accounts (key, program_id, member_id, point_type, balance, debt)
                SELECT 'member:' || id || ':reward', program_id, id, 'reward', 0, 0 FROM loyalty_members ORDER BY id
                """
            ).run()
            try await db.raw(
                """
                INSERT INTO ledger_accounts (key, program_id, member_id, point_type, balance, debt)
                VALUES ('liability:' || \(bind: program) || ':reward', \(bind: program), NULL, 'reward', 0, 0)
                """
            ).run()
            return program
        }
        built.customers = customers
        let bases = try await database.read { db in
            try await db.raw(
                """
                SELECT (SELECT MIN(id) FROM customers) AS c, (SELECT MIN(id) FROM ledger_accounts WHERE member_id IS NOT NULL) AS a,
                  (SELECT MAX(id) - MIN(id) + 1 FROM ledger_accounts WHERE member_id IS NOT NULL) AS accounts,
                  (SELECT id FROM ledger_accounts WHERE member_id IS NULL AND program_id = \(bind: program)) AS l
                """
            ).first()!
        }
        let customerBase = try bases.int64("c"), accountBase = try bases.int64("a"), liability = try bases.int64("l")
        guard try bases.int64("accounts") == Int64(customers) else { throw VolumeCheckError("member accounts are not numbered in one run") }
        let span = end - start
        let chunk = 500_000
        for lo in stride(from: 0, to: n, by: chunk) {
            let hi = min(n, lo + chunk)
            progress("volume: transactions, transfers and postings \(lo)–\(hi) of \(n)…")
            try await database.write { db in
                // i-th purchase: member i mod customers, at an even step through the history.
                let rows: SQLQueryString = """
                    SELECT i, \(bind: start) + (i::bigint * \(bind: span)) / \(bind: Int64(n)) AS at, i % \(bind: Int64(customers)) AS m,
                      1000 + (i * 7919) % 20000 AS amount FROM generate_series(\(bind: Int64(lo)), \(bind: Int64(hi - 1))) i
                    """
                try await db.raw(
                    """
                    INSERT INTO transactions (external_id, customer_id, kind, occurred_at, amount_minor, currency, store, channel)
                    SELECT 'vol-' || i, \(bind: customerBase) + m, 'purchase', at, amount, 'USD', 'store-' || (i % 50), 'store' FROM (
                    """ + rows + ") r"
                ).run()
                try await db.raw(
                    """
                    WITH t AS (
                      INSERT INTO ledger_transfers (program_id, from_account, to_account, points, reason, reference, idempotency_key, occurred_at)
                      SELECT \(bind: program), \(bind: liability), \(bind: accountBase) + m, amount / 100, 'accrual', 'vol-' || i, 'accrual:vol-' || i, at FROM (
                    """ + rows
                        + """
                        ) r RETURNING id, from_account, to_account, points, occurred_at)
                        INSERT INTO ledger_postings (transfer_id, account_id, points, occurred_at)
                        SELECT id, from_account, -points, occurred_at FROM t UNION ALL SELECT id, to_account, points, occurred_at FROM t
                        """
                ).run()
            }
        }
        built.transactions = n
        built.transfers = n
        built.postings = 2 * n
        progress("volume: interactions, campaign messages and responses…")
        let quarter = max(1, n / 4), fortieth = max(1, n / 40)
        try await database.write { db in
            try await db.raw(
                """
                INSERT INTO interactions (customer_id, channel, direction, outcome, subject, occurred_at)
                SELECT \(bind: customerBase) + i % \(bind: Int64(customers)), 'phone', 'inbound', 'resolved', 'call', \(bind: start) + (i::bigint * \(bind: span)) / \(bind: Int64(quarter))
                FROM generate_series(0, \(bind: Int64(quarter - 1))) i
                """
            ).run()
            // Campaign c sends one email to every member, queued at its own time; a few are still pending.
            try await db.raw(
                """
                INSERT INTO campaign_messages (campaign_id, wave, customer_id, channel, status, address, subject, body, html, secret, attempts,
                  next_attempt_at, queued_at, sent_at)
                SELECT c, 1, \(bind: customerBase) + i % \(bind: Int64(customers)), 'email', CASE WHEN i % 1000 = 0 THEN 'pending' ELSE 'sent' END,
                  'member' || i || '@example.com', 'Offer', 'Hello', 0, i, 1, q, q, q
                FROM (SELECT i, i / \(bind: Int64(customers)) + 1 AS c,
                        \(bind: start) + ((i / \(bind: Int64(customers)))::bigint * \(bind: span)) / (\(bind: Int64(quarter / customers + 1))) AS q
                      FROM generate_series(0, \(bind: Int64(quarter - 1))) i) s
                """
            ).run()
            // The campaigns those messages belong to; the newest is still running (its pending messages are due).
            try await db.raw(
                """
                INSERT INTO campaigns (id, name, owner, status, seed, plan, offer, created_at)
                SELECT c, 'Volume ' || c, 'bench', CASE WHEN c = \(bind: Int64(quarter / customers + 1)) THEN 'running' ELSE 'completed' END, c, '{}', '{}',
                  \(bind: start) FROM generate_series(1, \(bind: Int64(quarter / customers + 1))) c
                """
            ).run()
            try await db.raw("SELECT setval(pg_get_serial_sequence('campaigns', 'id'), (SELECT MAX(id) FROM campaigns))").run()
            // Each campaign's one wave, prepared when its messages were queued (as queueWave records it).
            try await db.raw(
                """
                INSERT INTO campaign_waves (campaign_id, number, prepared_at, queued, suppressed, links)
                SELECT campaign_id, 1, MIN(queued_at), COUNT(*), '{}', '[]' FROM campaign_messages GROUP BY campaign_id
                """
            ).run()
            try await db.raw(
                """
                INSERT INTO campaign_responses (campaign_id, wave, customer_id, control, kind, reference, amount_minor, occurred_at)
                SELECT m.campaign_id, 1, m.customer_id, 0, 'clicked', 'offer', 0, m.queued_at + 3600
                FROM campaign_messages m WHERE m.status = 'sent' AND m.customer_id % 10 = 0 LIMIT \(bind: Int64(fortieth))
                """
            ).run()
        }
        built.interactions = quarter
        let counts = try await database.read { db in
            try await db.raw(
                "SELECT (SELECT COUNT(*) FROM campaign_messages) AS m, (SELECT COUNT(*) FROM campaign_responses) AS r"
            ).first()!
        }
        built.messages = Int(try counts.int64("m"))
        built.responses = Int(try counts.int64("r"))
        progress("volume: ANALYZE…")
        for table in bigTables + ["customers", "loyalty_members", "ledger_accounts"] {
            try await database.write { db in try await db.raw("ANALYZE \(unsafeRaw: table)").run() }
        }
        built.seconds = Date().timeIntervalSince(started)
        return built
    }

    /// The hot queries with parameters from the middle of the data.
    static func hotQueries(_ db: any SQLDatabase, now: Date) async throws -> [HotQuery] {
        let sample = try await db.raw(
            """
            SELECT t.id AS transaction, t.customer_id, t.external_id, t.occurred_at, t.store, a.id AS account, a.key, l.idempotency_key, l.reference
            FROM transactions t JOIN loyalty_members m ON m.customer_id = t.customer_id JOIN ledger_accounts a ON a.member_id = m.id
            JOIN ledger_transfers l ON l.reference = t.external_id
            WHERE (t.id, t.occurred_at) = (SELECT transaction_id, occurred_at FROM transaction_keys ORDER BY external_id LIMIT 1 OFFSET (SELECT COUNT(*) / 2 FROM transaction_keys))
            """
        ).first()
        guard let sample else { throw VolumeCheckError("no transactions to sample: build the database first") }
        let customer = try sample.int64("customer_id"), external = try sample.string("external_id"), at = try sample.int64("occurred_at")
        let transaction = try sample.int64("transaction")
        let liability = try await db.raw("SELECT id FROM ledger_accounts WHERE key LIKE 'liability:%' ORDER BY id LIMIT 1").first()?.int64("id") ?? 0
        let account = try sample.int64("account"), accountKey = try sample.string("key"), key = try sample.string("idempotency_key")
        let store = try sample.optionalString("store") ?? "store-1"
        let monthStart = LocalDate(Date(epochSeconds: at)).firstOfMonth().startOfDay.epochSeconds
        let monthEnd = LocalDate(Date(epochSeconds: at)).firstOfMonth(addingMonths: 1).startOfDay.epochSeconds
        let campaign = try await db.raw("SELECT MAX(campaign_id) AS c FROM campaign_messages").first()!.int64("c")
        let recipient = try await db.raw("SELECT MIN(customer_id) AS r FROM campaign_messages WHERE campaign_id = \(bind: campaign)").first()!.int64("r")
        func q(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "''") + "'" }
        // The stores' own column lists, so that these stay the queries the stores send.
        let transactionColumns = SQLCustomerStore.transactionColumns, transferColumns = SQLLedgerStore.transferColumns
        return [
            HotQuery(
                name: "customer's purchases, newest first (customer 360)", source: "SQLCustomerStore.transactions(of:)",
                sql: "SELECT \(transactionColumns) FROM transactions WHERE customer_id = \(customer) AND id < \(Int64.max) ORDER BY id DESC LIMIT 51",
                maxPartitions: nil),
            HotQuery(
                name: "customer's timeline before a time", source: "SQLCustomerStore.timeline",
                sql:
                    "SELECT \(transactionColumns) FROM transactions WHERE customer_id = \(customer) AND occurred_at < \(at) ORDER BY occurred_at DESC, id DESC LIMIT 50",
                maxPartitions: nil),
            HotQuery(
                name: "purchase by external id: its key (a partner's purchase, a repeat, a return's original)",
                source: "SQLCustomerStore.transaction(externalID:), transaction_keys_claim trigger",
                sql: "SELECT transaction_id, occurred_at FROM transaction_keys WHERE external_id = \(q(external))", maxPartitions: 0),
            HotQuery(
                name: "a group of purchases' external ids: their keys (a partner's purchases checked)",
                source: "SQLCustomerStore.stores(ofTransactions:)",
                sql: "SELECT external_id, transaction_id, occurred_at FROM transaction_keys WHERE external_id = ANY(ARRAY[\(q(external)), 'no-such-id'])",
                maxPartitions: 0),
            HotQuery(
                name: "purchase by external id: the purchase, in its month", source: "SQLCustomerStore.transaction(externalID:)",
                sql: "SELECT \(transactionColumns) FROM transactions WHERE occurred_at = \(at) AND id = \(transaction)", maxPartitions: 1),
            HotQuery(
                name: "purchases stored already, by external id (an import's repeats)", source: "SQLCustomerStore.recordTransactions",
                sql: "", maxPartitions: 1,
                statement: "SELECT \(unsafeRaw: transactionColumns) FROM transactions WHERE "
                    + MonthlyPartitions.externalID(in: [external], partitioned: true)),
            HotQuery(
                name: "partner's receipt by its number", source: "SQLPartnerStore.receipts",
                sql: "", maxPartitions: 1,
                statement: "SELECT id FROM transactions t WHERE t.store IN (\(bind: store)) AND "
                    + MonthlyPartitions.externalID(in: [external], alias: "t", partitioned: true)
                    + " ORDER BY t.occurred_at DESC, t.id DESC LIMIT 50"),
            HotQuery(
                name: "partner statement: an outlet's month", source: "SQLPartnerStore.statement",
                sql: """
                    SELECT kind, COUNT(*) AS n, CAST(COALESCE(SUM(amount_minor), 0) AS BIGINT) AS amount FROM transactions
                    WHERE store IN (\(q(store))) AND occurred_at >= \(monthStart) AND occurred_at < \(monthEnd) GROUP BY kind
                    """, maxPartitions: 1),
            HotQuery(
                name: "transfer by idempotency key", source: "SQLLedgerStore.byKey (replay, idempotent)",
                sql: """
                    SELECT \(transferColumns)
                    FROM ledger_transfers t JOIN ledger_accounts f ON f.id = t.from_account JOIN ledger_accounts d ON d.id = t.to_account
                    WHERE t.id = (SELECT transfer_id FROM ledger_transfer_keys WHERE idempotency_key = \(q(key)))
                    AND t.occurred_at = (SELECT occurred_at FROM ledger_transfer_keys WHERE idempotency_key = \(q(key)))
                    """, maxPartitions: 1),
            HotQuery(
                name: "transfers of a purchase (return, clawback)", source: "SQLLedgerStore.clawback",
                sql: """
                    SELECT t.id, t.points FROM ledger_transfers t JOIN ledger_accounts a ON a.key = \(q(accountKey))
                    WHERE t.reference = \(q(external)) AND t.to_account = a.id
                    """, maxPartitions: nil),
            HotQuery(
                name: "member's statement: opening balance", source: "SQLLedgerStore.statement(of:)",
                sql: "SELECT CAST(COALESCE(SUM(points), 0) AS BIGINT) AS total FROM ledger_postings WHERE account_id = \(account) AND occurred_at < \(monthStart)",
                maxPartitions: nil),
            HotQuery(
                name: "member's statement: a month's movements", source: "SQLLedgerStore.statement(of:)",
                sql: """
                    SELECT \(transferColumns)
                    FROM ledger_transfers t JOIN ledger_accounts f ON f.id = t.from_account JOIN ledger_accounts d ON d.id = t.to_account
                    WHERE t.id IN (SELECT transfer_id FROM ledger_postings WHERE account_id = \(account) AND occurred_at >= \(monthStart)
                    AND occurred_at < \(monthEnd)) AND t.occurred_at >= \(monthStart) AND t.occurred_at < \(monthEnd) ORDER BY t.id
                    """, maxPartitions: 2),
            HotQuery(
                name: "members' earnings since a month began (monthly caps)", source: "SQLLedgerStore+Accrual (4b)",
                sql: """
                    SELECT p.account_id, p.occurred_at, p.points FROM ledger_postings p JOIN ledger_transfers t ON t.id = p.transfer_id AND t.occurred_at = p.occurred_at
                    WHERE p.account_id IN (\(account)) AND p.occurred_at >= \(monthStart) AND t.occurred_at >= \(monthStart) AND t.reason = 'accrual' AND t.from_account = \(liability)
                    """, maxPartitions: nil),
            HotQuery(
                name: "outbox: due messages of a channel", source: "SQLCampaignStore+Outbox.claim",
                sql: """
                    SELECT campaign_id, wave, customer_id FROM campaign_messages WHERE status = 'pending' AND channel = 'email'
                    AND next_attempt_at <= \(now.epochSeconds)
                    AND campaign_id IN (SELECT id FROM campaigns WHERE status = 'running') ORDER BY next_attempt_at, campaign_id, wave, customer_id LIMIT 100
                    """, maxPartitions: nil),
            HotQuery(
                name: "a message by its key (settling a send, an agent's call)", source: "SQLCampaignStore+Outbox.keyCondition",
                sql: "", maxPartitions: 1,
                statement: SQLCampaignStore.messageSelect + " WHERE "
                    + SQLCampaignStore.keyCondition(MessageKey(campaign: CampaignID(campaign), wave: 1, customer: recipient))),
            HotQuery(
                name: "campaign results: messages by wave and status", source: "SQLCampaignStore+Responses.results",
                sql: "SELECT wave, channel, status, COUNT(*) AS n FROM campaign_messages WHERE campaign_id = \(campaign) GROUP BY wave, channel, status",
                maxPartitions: nil, readsWholeMonth: true),
            HotQuery(
                name: "customer's interactions, newest first", source: "SQLCustomerStore.interactions",
                sql: "SELECT * FROM interactions WHERE customer_id = \(customer) AND id < \(Int64.max) ORDER BY id DESC LIMIT 51", maxPartitions: nil),
        ]
    }

    /// Each hot query's plan, run for real (`EXPLAIN ANALYZE`) and checked. On a small database
    /// a partition is scanned whole because that is cheapest; `sequentialScansDiscouraged`
    /// (`enable_seqscan = off`) then shows whether an index would serve the query.
    public static func explain(_ database: any Database, now: Date, sequentialScansDiscouraged: Bool = false) async throws -> [Plan] {
        try await database.write { db in
            if sequentialScansDiscouraged { try await db.raw("SET LOCAL enable_seqscan = off").run() }
            var plans: [Plan] = []
            for query in try await hotQueries(db, now: now) {
                let explained = SQLQueryString("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ") + (query.statement ?? SQLQueryString(query.sql))
                let text = try await db.raw(explained).first()!.decode(column: "QUERY PLAN", as: String.self)
                plans.append(try check(query, plan: text))
            }
            return plans
        }
    }

    static func check(_ query: HotQuery, plan text: String) throws -> Plan {
        guard let top = (try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]])?.first, let root = top["Plan"] as? [String: Any]
        else { throw VolumeCheckError("unreadable plan for \(query.name)") }
        var read = Set<String>(), seq: [String] = [], indexes = Set<String>()
        func walk(_ node: [String: Any]) {
            if let relation = node["Relation Name"] as? String, bigTables.contains(where: { relation == $0 || relation.hasPrefix($0 + "_p") || relation == $0 + "_default" }) {
                let loops = node["Actual Loops"] as? Int ?? 0
                // The default partitions hold only rows outside the months made (none, normally): reading
                // them whole costs nothing and is not counted.
                let isDefault = relation.hasSuffix("_default")
                if loops > 0, !bigTables.contains(relation), !isDefault { read.insert(relation) }
                // A scan of an empty or nearly empty partition (the months ahead) reads a block or two: not counted.
                let blocks = (node["Shared Hit Blocks"] as? Int ?? 0) + (node["Shared Read Blocks"] as? Int ?? 0)
                if node["Node Type"] as? String == "Seq Scan", loops > 0, !isDefault, blocks > 8 { seq.append(relation) }
            }
            if let index = node["Index Name"] as? String {
                indexes.insert(index.replacingOccurrences(of: #"_p[0-9]{6}_"#, with: "_p*_", options: .regularExpression))
            }
            for child in node["Plans"] as? [[String: Any]] ?? [] { walk(child) }
        }
        walk(root)
        var problems: [String] = []
        if !seq.isEmpty, !query.readsWholeMonth || seq.count > 1 { problems.append("sequential scan of \(seq.joined(separator: ", "))") }
        if let most = query.maxPartitions, read.count > most { problems.append("read \(read.count) partitions, at most \(most) expected") }
        return Plan(
            name: query.name, source: query.source, milliseconds: top["Execution Time"] as? Double ?? 0, partitionsRead: read.count,
            sequentialScans: seq, indexes: indexes.sorted(), problems: problems)
    }
}

public struct VolumeCheckError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
