import App
import Customers
import Foundation
import Loyalty
import SharedModels
import Storage
import StoragePostgres
import TestSupport
import SQLKit
import Testing

/// The largest tables partitioned by month on PostgreSQL (#18, volume): the uniqueness rules
/// that no partitioned index can keep still hold across months and across the moves the nightly
/// job makes, and retention removes old message and response logs on both engines.
@Suite struct MonthlyPartitionsTests {
    static let partitioned = ["transactions", "interactions", "ledger_transfers", "ledger_postings", "campaign_messages", "campaign_responses"]

    static func strings(_ p: Patron, _ sql: String, column: String) async throws -> [String] {
        try await p.database.read { db in try await db.raw(SQLQueryString(sql)).all().map { try $0.decode(column: column, as: String.self) } }
    }

    static func count(_ p: Patron, _ sql: String) async throws -> Int64 {
        try await p.database.read { db in try await db.raw(SQLQueryString(sql)).first()!.decode(column: "n", as: Int64.self) }
    }

    @Test(
        "PostgreSQL: the big tables are partitioned by month; rows dated before any month was made move into theirs; external ids and idempotency keys stay unique across months",
        .enabled(if: TestEngine.available.contains(.postgres)))
    func uniqueAcrossMonths() async throws {
        try await LedgerFixture.run(.postgres) { f in
            let names = try await Self.strings(
                f.patron, "SELECT c.relname AS name FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid ORDER BY 1", column: "name")
            #expect(names == Self.partitioned.sorted())
            let customer = try await f.ledger.member(f.member).customerID
            func purchase(_ id: String, at date: Date, amount: Int64 = 12_000) async throws -> TransactionIntake.Receipt {
                let details = TransactionDetails(
                    externalID: id, kind: .purchase, occurredAt: date, amount: Money(minorUnits: amount, currency: "USD"),
                    lines: [.init(product: "tent", category: "camping", amount: amount)])
                return try await f.patron.intake.submit(details, identifiers: [CustomerIdentifier(kind: .customerID, value: String(customer.rawValue))])
            }
            // The test clock stands in January 2026, before the months the migration made (today's):
            // these rows land in the default partitions.
            _ = try await purchase("P1", at: f.clock.now)
            let earned = try await f.ledger.earn(500, to: f.member, reference: "bonus", idempotencyKey: "k1", pending: false)
            #expect(
                try await Self.strings(f.patron, "SELECT tableoid::regclass::text AS p FROM transactions WHERE external_id = 'P1'", column: "p")
                    == ["transactions_default"])

            // The nightly job makes January to April and moves the rows into January.
            let run = try await MonthlyPartitions.maintain(f.patron.database, now: f.clock.now, retention: Retention())
            #expect(run.made == 4 * Self.partitioned.count)
            #expect(
                try await Self.strings(f.patron, "SELECT tableoid::regclass::text AS p FROM transactions WHERE external_id = 'P1'", column: "p")
                    == ["transactions_p202601"])
            #expect(
                try await Self.strings(
                    f.patron, "SELECT DISTINCT tableoid::regclass::text AS p FROM ledger_postings WHERE transfer_id = \(earned.id.rawValue)",
                    column: "p") == ["ledger_postings_p202601"])
            #expect(try await MonthlyPartitions.maintain(f.patron.database, now: f.clock.now, retention: Retention()).made == 0)

            // The same purchase sent again, dated two months later (another partition), is not recorded twice.
            let balance = try await f.balance().ledger
            _ = try await purchase("P1", at: f.clock.now.addingTimeInterval(62 * 86_400), amount: 99_000)
            #expect(try await Self.count(f.patron, "SELECT COUNT(*) AS n FROM transactions WHERE external_id = 'P1'") == 1)
            #expect(try await f.balance().ledger == balance)
            // The same idempotency key in another month returns the first transfer.
            let again = try await f.ledger.earn(
                500, to: f.member, reference: "bonus", idempotencyKey: "k1", pending: false, at: f.clock.now.addingTimeInterval(62 * 86_400))
            #expect(again.id == earned.id)
            #expect(try await Self.count(f.patron, "SELECT COUNT(*) AS n FROM ledger_transfers WHERE idempotency_key = 'k1'") == 1)
            // The keys followed their rows through the move: none was lost, none is left over.
            #expect(try await Self.count(f.patron, "SELECT COUNT(*) AS n FROM transaction_keys") == 1)
            #expect(
                try await Self.count(f.patron, "SELECT COUNT(*) AS n FROM ledger_transfer_keys")
                    == Self.count(f.patron, "SELECT COUNT(*) AS n FROM ledger_transfers WHERE idempotency_key IS NOT NULL"))
        }
    }

    /// A batch of `count` purchases T<first>… for `customer`, a day apart from the test clock's
    /// day (so they span three months), each with one line.
    static func purchases(_ first: Int, _ count: Int, customer: CustomerID, start: Date, amount: Int64 = 1_000)
        -> [(customer: CustomerID, details: TransactionDetails)]
    {
        (first..<first + count).map { n in
            let date = start.addingTimeInterval(Double(n % 90) * 86_400)
            return (
                customer,
                TransactionDetails(
                    externalID: "T\(n)", kind: .purchase, occurredAt: date, amount: Money(minorUnits: amount, currency: "USD"),
                    lines: [.init(product: "tent", category: "camping", amount: amount)])
            )
        }
    }

    /// A database with one customer; the customer store itself (for its bulk writes) and the test clock's now.
    static func withBuyer(_ engine: TestEngine, _ body: @escaping (Patron, SQLCustomerStore, CustomerID, Date) async throws -> Void) async throws {
        try await TestDatabase.withPatron(engine) { p in
            let customer = try await p.customers.create(ProfileDraft(firstName: "Bulk", lastName: "Buyer")).id
            try await body(p, SQLCustomerStore(database: p.database), customer, p.settings.clock.now)
        }
    }

    @Test(
        "purchases written in bulk (imports, batch accrual) are recorded once each — a repeat in the batch, one already stored, or one another import writes at the same time is skipped — and keep their lines and keys",
        arguments: TestEngine.available)
    func bulkTransactions(engine: TestEngine) async throws {
        try await Self.withBuyer(engine) { p, store, customer, start async throws in
            // 300 new purchases over three months, and T5 again at the end with another amount.
            var batch = Self.purchases(1, 300, customer: customer, start: start)
            batch += Self.purchases(5, 1, customer: customer, start: start, amount: 99_999)
            #expect(try await p.customers.insertTransactions(batch) == 300)
            #expect(try await p.customers.transaction(externalID: "T5")?.details.amount.minorUnits == 1_000, "the batch's first T5 is the one kept")
            // One already stored, sent alone, is a duplicate.
            #expect(try await store.insertTransaction(batch[6].details, for: customer).inserted == false)
            // 250 more, of which T250…T300 are stored already.
            let recorded = try await store.recordTransactions(Self.purchases(250, 250, customer: customer, start: start))
            #expect(recorded.filter(\.inserted).count == 199)
            #expect(recorded.first { $0.0.details.externalID == "T260" }.map { !$0.inserted && $0.0.id.rawValue > 0 } == true)
            #expect(
                recorded.first { $0.0.details.externalID == "T260" }?.0.id == (try await p.customers.transaction(externalID: "T260"))?.id,
                "a purchase stored already is returned as stored")
            // Two imports at once that share 200 purchases: each purchase is written once.
            async let a = p.customers.insertTransactions(Self.purchases(1_000, 400, customer: customer, start: start))
            async let b = p.customers.insertTransactions(Self.purchases(1_200, 400, customer: customer, start: start))
            let (first, second) = try await (a, b)
            #expect(first + second == 600)
            let total = 300 + 199 + 600
            #expect(try await Self.count(p, "SELECT COUNT(*) AS n FROM transactions") == Int64(total))
            #expect(try await Self.count(p, "SELECT COUNT(DISTINCT external_id) AS n FROM transactions") == Int64(total))
            #expect(try await Self.count(p, "SELECT COUNT(*) AS n FROM transaction_lines") == Int64(total))
            #expect(
                try await Self.count(p, "SELECT COUNT(*) AS n FROM transaction_lines l LEFT JOIN transactions t ON t.id = l.transaction_id WHERE t.id IS NULL")
                    == 0, "every line belongs to its purchase")
            if engine == .postgres {
                #expect(
                    try await Self.count(
                        p, "SELECT COUNT(*) AS n FROM transaction_keys k JOIN transactions t ON t.id = k.transaction_id AND t.external_id = k.external_id")
                        == Int64(total), "each purchase's key names it")
                #expect(try await Self.count(p, "SELECT COUNT(*) AS n FROM transaction_keys") == Int64(total))
                // A purchase is found by its external id through its key: no month keeps an index of its own on it.
                #expect(
                    try await Self.count(
                        p, "SELECT COUNT(*) AS n FROM pg_indexes WHERE tablename LIKE 'transactions%' AND indexdef LIKE '%(external_id)%'") == 0)
                // After a bulk write, a purchase written alone still claims its key.
                #expect(try await store.insertTransaction(Self.purchases(5_000, 1, customer: customer, start: start)[0].details, for: customer).inserted)
                #expect(try await store.insertTransaction(Self.purchases(5_000, 1, customer: customer, start: start)[0].details, for: customer).inserted == false)
                #expect(try await Self.count(p, "SELECT COUNT(*) AS n FROM transaction_keys") == Int64(total + 1))
                // The months of purchases written in bulk were made first: none waits in the default partition.
                #expect(try await Self.count(p, "SELECT COUNT(*) AS n FROM transactions_default") == 0)
                #expect(try await Self.count(p, "SELECT COUNT(*) AS n FROM transactions_p202603") > 0)
                // A purchase of a month not made yet, sent alone, waits there until the nightly job makes its month.
                var old = Self.purchases(6_000, 1, customer: customer, start: start)[0].details
                old.occurredAt = start.addingTimeInterval(-200 * 86_400)
                #expect(try await store.insertTransaction(old, for: customer).inserted)
                #expect(try await Self.count(p, "SELECT COUNT(*) AS n FROM transactions_default") == 1)
                _ = try await MonthlyPartitions.maintain(p.database, now: start, retention: Retention())
                #expect(try await Self.count(p, "SELECT COUNT(*) AS n FROM transactions_default") == 0)
                #expect(
                    try await Self.strings(p, "SELECT tableoid::regclass::text AS p FROM transactions WHERE external_id = 'T6000'", column: "p")
                        == ["transactions_p" + LocalDate(old.occurredAt).description.prefix(7).replacingOccurrences(of: "-", with: "")])
                #expect(try await Self.count(p, "SELECT COUNT(*) AS n FROM transaction_keys WHERE external_id = 'T6000'") == 1)
            }
        }
    }

    @Test(
        "an import batch of 20,500 rows, split between writers on PostgreSQL, records 20,000 purchases: a repeat in the batch is skipped and the first one is kept",
        arguments: TestEngine.available)
    func largeBatch(engine: TestEngine) async throws {
        try await Self.withBuyer(engine) { p, store, customer, start async throws in
            var batch = Self.purchases(1, 20_000, customer: customer, start: start)
            batch += Self.purchases(1, 500, customer: customer, start: start, amount: 77_777)
            #expect(try await store.insertTransactions(batch) == 20_000)
            #expect(try await Self.count(p, "SELECT COUNT(*) AS n FROM transactions WHERE amount_minor = 77777") == 0, "the batch's first row of each id is kept")
            #expect(try await Self.count(p, "SELECT COUNT(DISTINCT external_id) AS n FROM transactions") == 20_000)
            #expect(try await Self.count(p, "SELECT COUNT(*) AS n FROM transaction_lines") == 20_000)
            #expect(try await store.insertTransactions(batch) == 0, "the same batch again records nothing")
        }
    }

    @Test(
        "a batch accrual of 2,100 purchases posts each once, set-wise: a second run replays them all, and every transfer's key is kept",
        arguments: TestEngine.available)
    func bulkAccrual(engine: TestEngine) async throws {
        try await LedgerFixture.run(engine) { f in
            try await f.ledger.configure(f.program.id, rules: EarningRules(pointsPerUnit: 1), tiers: nil)
            let customer = try await f.ledger.member(f.member).customerID
            let rows = Self.purchases(1, 2_100, customer: customer, start: f.clock.now.addingTimeInterval(-100 * 86_400))
            #expect(try await f.patron.customers.insertTransactions(rows) == 2_100)
            #expect(try await f.patron.intake.accrue(batch: rows) == 2_100)
            #expect(try await f.balance().ledger == 21_000)
            #expect(try await f.patron.intake.accrue(batch: rows) == 0, "a batch sent again posts nothing")
            #expect(try await f.balance().ledger == 21_000)
            let keyed = try await Self.count(f.patron, "SELECT COUNT(*) AS n FROM ledger_transfers WHERE idempotency_key IS NOT NULL")
            #expect(keyed == 4_200, "a reward and a qualifying transfer a purchase")
            if engine == .postgres {
                #expect(try await Self.count(f.patron, "SELECT COUNT(*) AS n FROM ledger_transfers_default WHERE reason = 'accrual'") == 0)
                #expect(try await Self.count(f.patron, "SELECT COUNT(*) AS n FROM ledger_postings_default p JOIN ledger_transfers t ON t.id = p.transfer_id WHERE t.reason = 'accrual'") == 0)
                #expect(
                    try await Self.count(
                        f.patron,
                        "SELECT COUNT(*) AS n FROM ledger_transfer_keys k JOIN ledger_transfers t ON t.id = k.transfer_id AND t.idempotency_key = k.idempotency_key"
                    ) == keyed)
                // Keys are looked up in their table only: the transfers carry no index on them.
                #expect(
                    try await Self.count(f.patron, "SELECT COUNT(*) AS n FROM pg_indexes WHERE tablename = 'ledger_transfers' AND indexdef LIKE '%idempotency_key%'")
                        == 0)
                // One earned alone afterwards still claims its key, and a repeat of it is the same transfer.
                let one = try await f.ledger.earn(5, to: f.member, reference: "solo", idempotencyKey: "solo-1", pending: false)
                #expect(try await f.ledger.earn(5, to: f.member, reference: "solo", idempotencyKey: "solo-1", pending: false).id == one.id)
                #expect(try await Self.count(f.patron, "SELECT COUNT(*) AS n FROM ledger_transfer_keys") == keyed + 1)
            }
        }
    }

    @Test("retention removes campaign messages and responses older than its months, and keeps the rest", arguments: TestEngine.available)
    func retention(engine: TestEngine) async throws {
        let clock = TestClock()
        try await TestDatabase.withPatron(engine, clock: clock) { p in
            _ = try await MonthlyPartitions.maintain(p.database, now: clock.now, retention: Retention())
            // One message and one response in each of January to April 2026.
            let months: [Int64] = [1_767_225_600, 1_769_904_000, 1_772_323_200, 1_775_001_600]
            try await p.database.write { db in
                for (i, t) in months.enumerated() {
                    try await db.raw(
                        """
                        INSERT INTO campaign_messages (campaign_id, wave, customer_id, channel, status, html, secret, attempts, next_attempt_at, queued_at)
                        VALUES (1, \(bind: Int64(i + 1)), 7, 'email', 'sent', 0, 0, 1, \(bind: t), \(bind: t + 3600))
                        """
                    ).run()
                    try await db.raw(
                        """
                        INSERT INTO campaign_responses (campaign_id, wave, customer_id, control, kind, reference, amount_minor, occurred_at)
                        VALUES (1, \(bind: Int64(i + 1)), 7, 0, 'clicked', \(bind: "link-\(i)"), 0, \(bind: t + 7200))
                        """
                    ).run()
                }
            }
            clock.advance(days: 100)  // 11 April 2026: keep the two months before April.
            let run = try await MonthlyPartitions.maintain(p.database, now: clock.now, retention: Retention(messageMonths: 2, responseMonths: 2))
            #expect(try await Self.count(p, "SELECT COUNT(*) AS n FROM campaign_messages") == 3)
            #expect(try await Self.count(p, "SELECT COUNT(*) AS n FROM campaign_responses") == 3)
            #expect(try await Self.count(p, "SELECT MIN(queued_at) AS n FROM campaign_messages") == months[1] + 3600)
            if engine == .postgres {
                #expect(run.dropped == 2, "January's partitions of both tables are dropped whole")
                #expect(try await Self.count(p, "SELECT COUNT(*) AS n FROM campaign_response_keys") == 3)
                // A response kept is still a repeat.
                let repeated = try await p.database.write { db in
                    try await db.raw(
                        """
                        INSERT INTO campaign_responses (campaign_id, wave, customer_id, control, kind, reference, amount_minor, occurred_at)
                        VALUES (1, 2, 7, 0, 'clicked', 'link-1', 0, \(bind: months[1] + 9000)) ON CONFLICT DO NOTHING RETURNING id
                        """
                    ).all().count
                }
                #expect(repeated == 0)
            } else {
                #expect(run.deleted == 2)
            }
            #expect(try await MonthlyPartitions.maintain(p.database, now: clock.now, retention: Retention(messageMonths: 2, responseMonths: 2)).deleted == 0)
        }
    }

    @Test(
        "PostgreSQL: a database made before partitioning keeps every row through the migration, and new ids follow the old",
        .enabled(if: TestEngine.available.contains(.postgres)))
    func upgrade() async throws {
        try await TestDatabase.withEmptyDatabase(.postgres) { location in
            guard case .postgres(let url) = location else { return }
            let database = try await PostgresDatabase.open(url: url, maxConnections: 2)
            let before = Array(Migrations.all.prefix { !$0.name.hasPrefix("volume-") })
            try await Migrations.run(on: database, steps: before)
            try await database.write { db in
                try await db.raw(
                    """
                    INSERT INTO customers (first_name, last_name, search_name, completeness, profile, status, created_at, updated_at)
                    VALUES ('Old', 'Buyer', 'old buyer', 0, '{}', 'active', 1, 1)
                    """
                ).run()
                // 2019-03-01 and 2026-01-15: one falls in a month made for old rows, both keep their ids.
                try await db.raw(
                    """
                    INSERT INTO transactions (external_id, customer_id, kind, occurred_at, amount_minor, currency)
                    VALUES ('old-1', 1, 'purchase', 1551398400, 100, 'USD'), ('old-2', 1, 'purchase', 1768435200, 200, 'USD')
                    """
                ).run()
                try await db.raw(
                    "INSERT INTO transaction_lines (transaction_id, line_no, product, quantity, amount_minor) VALUES (2, 1, 'tent', 1, 200)"
                ).run()
            }
            try await Migrations.run(on: database)
            let rows = try await database.read { db in
                try await db.raw("SELECT id, external_id, tableoid::regclass::text AS p FROM transactions ORDER BY id").all().map {
                    "\(try $0.decode(column: "id", as: Int64.self)) \(try $0.decode(column: "external_id", as: String.self)) \(try $0.decode(column: "p", as: String.self))"
                }
            }
            #expect(rows == ["1 old-1 transactions_p201903", "2 old-2 transactions_p202601"])
            let next = try await database.write { db in
                try await db.raw(
                    """
                    INSERT INTO transactions (external_id, customer_id, kind, occurred_at, amount_minor, currency)
                    VALUES ('old-1', 1, 'purchase', 1768435200, 1, 'USD'), ('new-1', 1, 'purchase', 1768435200, 300, 'USD') ON CONFLICT DO NOTHING RETURNING id
                    """
                ).all().map { try $0.decode(column: "id", as: Int64.self) }
            }
            #expect(next.count == 1 && next[0] > 2, "a repeated external id is skipped; a new row's id follows the old ones")
            try await database.close()
        }
    }

    /// The bounded version of `patron bench volume` (10 million transactions, run by hand; its
    /// figures are in docs/scaling.md): 60,000 purchases over 36 months, and every hot query's plan.
    @Test(
        "PostgreSQL: on three years of purchases, no hot query scans a month's partition whole, and those bounded in time read only their months",
        .enabled(if: TestEngine.available.contains(.postgres)))
    func hotQueryPlans() async throws {
        let clock = TestClock()
        try await TestDatabase.withPatron(.postgres, clock: clock) { p in
            let built = try await VolumeCheck.build(p.database, transactions: 60_000, months: 36, now: clock.now) { _ in }
            #expect(try await Self.count(p, "SELECT COUNT(*) AS n FROM transactions") == 60_000)
            #expect(try await Self.count(p, "SELECT COUNT(*) AS n FROM ledger_postings") == Int64(built.postings))
            let months = try await Self.count(
                p, "SELECT COUNT(*) AS n FROM pg_inherits WHERE inhparent = 'transactions'::regclass")
            #expect(months >= 37, "a partition per month, and the default")
            // On 60,000 rows a partition is small enough that scanning it whole is cheapest, and chosen:
            // with sequential scans made dear, the plan shows whether an index serves the query.
            let plans = try await VolumeCheck.explain(p.database, now: clock.now, sequentialScansDiscouraged: true)
            #expect(plans.count >= 12)
            for plan in plans {
                #expect(plan.problems == [], "\(plan.name): \(plan.problems)")
            }
            let statement = try #require(plans.first { $0.name.hasPrefix("partner statement") })
            #expect(statement.partitionsRead == 1, "an outlet's month reads one month of 37")
            // Regression: the outbox's own statement (not a copy of it) found a message by probing every month.
            let message = try #require(plans.first { $0.name.hasPrefix("a message by its key") })
            #expect(message.partitionsRead == 1, "a message is read in its wave's month alone")
        }
    }
}

/// The plan to distribute Patron by member on Citus (docs/scaling.md), checked on plain
/// PostgreSQL: scripts/citus-plan.sql lays the tables out as Citus would (hash-partitioned by the
/// member's customer, the same key rules) and each query of the plan must be what it says —
/// one shard, shard-by-shard joins, or a fan-out that never joins across shards.
@Suite struct CitusPlanTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../scripts/citus-plan.sql")

    /// The script's statements (a `$$` body kept whole), and the checks after `-- queries`.
    static func parse(_ text: String) -> (setUp: [String], checks: [(kind: String, name: String, sql: String)]) {
        var setUp: [String] = [], checks: [(String, String, String)] = []
        var current = "", inBody = false, inQueries = false, label: (String, String)? = nil
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if !inBody && trimmed.hasPrefix("--") {
                if trimmed == "-- queries" { inQueries = true }
                if trimmed.hasPrefix("-- check: ") {
                    let rest = trimmed.dropFirst("-- check: ".count)
                    let parts = rest.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                    label = (parts[0], parts.count > 1 ? parts[1] : "")
                }
                continue
            }
            if trimmed.isEmpty && current.isEmpty { continue }
            current += line + "\n"
            if line.components(separatedBy: "$$").count % 2 == 0 { inBody.toggle() }
            if !inBody && trimmed.hasSuffix(";") {
                let sql = current.trimmingCharacters(in: .whitespacesAndNewlines).dropLast()
                if inQueries, let l = label { checks.append((l.0, l.1, String(sql))) } else { setUp.append(String(sql)) }
                current = ""
                label = nil
            }
        }
        return (setUp, checks)
    }

    /// Distributed relations (`<table>_s<k>`) under a plan node, as shard numbers per table.
    static func shards(_ node: [String: Any], into found: inout [String: Set<String>]) {
        if let relation = node["Relation Name"] as? String, let range = relation.range(of: #"_s[0-9]+$"#, options: .regularExpression) {
            found[String(relation[..<range.lowerBound]), default: []].insert(String(relation[range].dropFirst(2)))
        }
        for child in node["Plans"] as? [[String: Any]] ?? [] { shards(child, into: &found) }
    }

    /// Joins whose two sides reach different shards: a join across shards.
    static func crossShardJoins(_ node: [String: Any]) -> [String] {
        var found: [String] = []
        if let type = node["Node Type"] as? String, ["Nested Loop", "Hash Join", "Merge Join"].contains(type) {
            var under: [String: Set<String>] = [:]
            shards(node, into: &under)
            if Set(under.values.flatMap { $0 }).count > 1 { found.append(type) }
        }
        for child in node["Plans"] as? [[String: Any]] ?? [] { found += crossShardJoins(child) }
        return found
    }

    @Test("each query of the Citus plan reads one shard, joins shard by shard, or fans out without joining across shards", .enabled(if: TestEngine.available.contains(.postgres)))
    func plan() async throws {
        let (setUp, checks) = Self.parse(try String(contentsOf: Self.script, encoding: .utf8))
        #expect(checks.count >= 12)
        try await TestDatabase.withEmptyDatabase(.postgres) { location in
            guard case .postgres(let url) = location else { return }
            let database = try await PostgresDatabase.open(url: url, maxConnections: 1)
            let findings = try await database.write { db -> [String] in
                for statement in setUp { try await db.raw(SQLQueryString(statement)).run() }
                var findings: [String] = []
                for check in checks {
                    let text = try await db.raw(SQLQueryString("EXPLAIN (FORMAT JSON) " + check.sql)).first()!.decode(column: "QUERY PLAN", as: String.self)
                    let plan = try #require(((try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]])?.first?["Plan"]) as? [String: Any])
                    var read: [String: Set<String>] = [:]
                    Self.shards(plan, into: &read)
                    let across = Self.crossShardJoins(plan)
                    switch check.kind {
                    case "router":
                        if read.isEmpty || read.values.contains(where: { $0.count != 1 }) { findings.append("\(check.name): reads \(read)") }
                    case "colocated", "fanout":
                        if !across.isEmpty { findings.append("\(check.name): joins across shards (\(across))") }
                        if !read.values.contains(where: { $0.count == 8 }) { findings.append("\(check.name): reads \(read), not every shard") }
                    default:
                        findings.append("\(check.name): unknown check \(check.kind)")
                    }
                }
                return findings
            }
            #expect(findings == [])
            try await database.close()
        }
    }
}
