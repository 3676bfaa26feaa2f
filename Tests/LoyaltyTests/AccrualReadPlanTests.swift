import App
import Customers
import Foundation
import Loyalty
import SQLKit
import SharedModels
@testable import Storage
import TestSupport
import Testing

/// The plans of what the accrual writer reads for a group of purchases on PostgreSQL (#18).
@Suite struct AccrualReadPlanTests {
    /// Regression: counting a group's uses of promotions with a per-member limit read every
    /// application of those promotions and filtered by member — its cost grew with every purchase
    /// ever rewarded. It must be served by the applications' member index.
    @Test("a member's uses of limited promotions are read by member, not by scanning the promotions' applications", .enabled(if: TestEngine.available.contains(.postgres)))
    func byMember() async throws {
        try await TestDatabase.withPatron(.postgres, clock: TestClock()) { p in
            // 20 promotions applied to 1,000 members five times each: 100,000 applications (their
            // promotions and members are left out: foreign keys are not checked for this session).
            try await p.database.write { db in
                try await db.raw("SET LOCAL session_replication_role = replica").run()
                try await db.raw(
                    """
                    INSERT INTO promotion_applications (promotion_id, member_id, reference, points, amount_minor, applied_at)
                    SELECT pr, m, 'R' || pr || '-' || m || '-' || n, 10, 1000, 0
                    FROM generate_series(1, 20) pr, generate_series(1, 1000) m, generate_series(1, 5) n
                    """
                ).run()
                try await db.raw("ANALYZE promotion_applications").run()
            }
            let query = AccrualWriter.promotionUses(Array(1...20), by: [3, 17, 170, 333, 404, 512, 640, 777, 901, 999])
            let plan = try await p.database.read { db in
                try await db.raw("EXPLAIN (ANALYZE, FORMAT JSON) " + query).first()!.decode(column: "QUERY PLAN", as: String.self)
            }
            #expect(plan.contains("promotion_applications_member"), "\(plan)")
            #expect(plan.range(of: #""Rows Removed by Filter": [1-9]"#, options: .regularExpression) == nil, "no application read is thrown away: \(plan)")
            let counts = try await p.database.read { db in try await db.raw(query).all() }
            #expect(counts.count == 200)
            #expect(try counts.allSatisfy { try $0.decode(column: "n", as: Int64.self) == 5 })
        }
    }

    /// Regression: a month's partition filled since its last `ANALYZE` looks empty to the planner,
    /// which joined a group's few postings to their transfers by hashing every transfer of the
    /// month. Each posting's transfer must be found by its key, whatever the statistics say.
    @Test("a group's qualifying history finds each posting's transfer by its key, even in a month the planner has no statistics for", .enabled(if: TestEngine.available.contains(.postgres)))
    func transfersByKey() async throws {
        let clock = TestClock()
        try await TestDatabase.withPatron(.postgres, clock: clock) { p in
            let now = clock.now.epochSeconds
            try await SQLCustomerStore.makeMonths(for: [(customer: CustomerID(1), details: TransactionDetails(
                externalID: "m", occurredAt: clock.now, amount: Money(minorUnits: 1, currency: "USD")))], in: p.database)
            // 30,000 transfers this month, two postings each, over 1,000 accounts; not analyzed.
            try await p.database.write { db in
                try await db.raw("SET LOCAL session_replication_role = replica").run()
                try await db.raw(
                    """
                    INSERT INTO ledger_transfers (id, program_id, from_account, to_account, points, reason, reference, idempotency_key, occurred_at)
                    SELECT n, 1, 0, 1 + n % 1000, 10, 'accrual', 'R' || n, 'K' || n, \(unsafeRaw: String(now)) - n FROM generate_series(1, 30000) n
                    """
                ).run()
                try await db.raw(
                    """
                    INSERT INTO ledger_postings (transfer_id, account_id, points, occurred_at)
                    SELECT id, to_account, points, occurred_at FROM ledger_transfers UNION ALL SELECT id, from_account, -points, occurred_at FROM ledger_transfers
                    """
                ).run()
            }
            let query = AccrualWriter.postings(
                partitioned: true, of: [3, 17, 170, 333, 404, 512, 640, 777, 901, 999, 5, 6, 7, 8, 9, 10], since: now - 40 * 86_400,
                transfer: "t.reason", matching: "(x.points > 0 AND x.transfer IN ('accrual', 'adjustment') OR x.points < 0 AND x.transfer = 'clawback')")
            let plan = try await p.database.read { db in
                try await db.raw("EXPLAIN (ANALYZE, FORMAT JSON) " + query).first()!.decode(column: "QUERY PLAN", as: String.self)
            }
            #expect(!plan.contains("Hash Join") && !plan.contains("Merge Join") && plan.contains("SubPlan"), "\(plan)")
            let rows = try await p.database.read { db in try await db.raw(query).all() }
            #expect(rows.count == 16 * 30, "each account's 30 accrual postings")
        }
    }
}

/// How the accrual writer's balance updates reach the accounts table (#18).
@Suite struct AccrualBalanceUpdateTests {
    /// Regression: a batch's balances were updated a thousand accounts a statement, each a
    /// `VALUES` list that PostgreSQL hashed against a scan of every ledger account — a batch of
    /// 100,000 purchases by 50,000 members (100,000 accounts) scanned them a hundred times,
    /// 2.7 s of its server time, and more as the table grew.
    @Test("a batch's balance updates read the accounts table at most once, and change exactly the accounts named", arguments: TestEngine.available)
    func balancesInOnePass(engine: TestEngine) async throws {
        try await TestDatabase.withPatron(engine, clock: TestClock()) { p in
            let program = try await p.loyalty.createProgram(code: "NW", name: "Northwind", valuePerThousandPoints: Money(minorUnits: 1000, currency: "USD"))
            try await p.database.write { db in
                try await db.raw(
                    """
                    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 30000)
                    INSERT INTO ledger_accounts (key, program_id, member_id, point_type, balance, debt)
                    SELECT 'probe:' || i, \(bind: program.id.rawValue), NULL, 'reward', 100, 0 FROM n
                    """
                ).run()
                if engine == .postgres { try await db.raw("ANALYZE ledger_accounts").run() }
            }
            let ids = try await p.database.read { db in
                try await db.raw("SELECT id FROM ledger_accounts WHERE key LIKE 'probe:%' ORDER BY id").all().map { try $0.decode(column: "id", as: Int64.self) }
            }
            let changed = stride(from: 0, to: ids.count, by: 10).map { ids[$0] }
            let rows = changed.map { [$0, 7, $0 % 3] }
            let arrays = p.database.capabilities.bindsArrays
            let updates = AccrualWriter.balanceUpdates(rows, arrays: arrays)
            if engine == .postgres {
                let plans = try await p.database.write { db in
                    var plans: [String] = []
                    for (statement, _) in updates {
                        plans.append(try await db.raw("EXPLAIN (ANALYZE, FORMAT JSON) " + statement).first()!.decode(column: "QUERY PLAN", as: String.self))
                    }
                    try await db.raw("UPDATE ledger_accounts SET balance = 100, debt = 0 WHERE key LIKE 'probe:%'").run()
                    return plans
                }
                #expect(plans.map { Self.rowsRead(of: "ledger_accounts", in: $0) }.reduce(0, +) <= 30_000 + changed.count, "\(plans)")
            }
            try await p.database.write { db in
                for (statement, _) in updates { try await db.raw(statement).run() }
            }
            let totals = try await p.database.read { db in
                try await db.raw("SELECT CAST(SUM(balance) AS BIGINT) AS b, CAST(SUM(debt) AS BIGINT) AS d FROM ledger_accounts WHERE key LIKE 'probe:%'").first()!
            }
            #expect(try totals.decode(column: "b", as: Int64.self) == 100 * 30_000 + 7 * Int64(changed.count))
            #expect(try totals.decode(column: "d", as: Int64.self) == changed.reduce(0) { $0 + $1 % 3 })
        }
    }

    /// Regression: with full pages, each balance update wrote the account's new row version on
    /// another page and an entry in each of the table's three indexes (a batch's update of 100,000
    /// balances took 1.2–1.6 s); with room kept on each page it stays there (0.5 s).
    @Test("a balance update keeps each account on its page (no index entries written)", .enabled(if: TestEngine.available.contains(.postgres)))
    func balancesStayOnTheirPages() async throws {
        try await TestDatabase.withPatron(.postgres, clock: TestClock()) { p in
            let program = try await p.loyalty.createProgram(code: "NW", name: "Northwind", valuePerThousandPoints: Money(minorUnits: 1000, currency: "USD"))
            try await p.database.write { db in
                try await db.raw(
                    """
                    INSERT INTO ledger_accounts (key, program_id, member_id, point_type, balance, debt)
                    SELECT 'probe:' || i, \(bind: program.id.rawValue), NULL, 'reward', 100, 0 FROM generate_series(1, 20000) i
                    """
                ).run()
            }
            let query: SQLQueryString = "SELECT id, (ctid::text::point)[0] AS page FROM ledger_accounts WHERE key LIKE 'probe:%'"
            @Sendable func pages() async throws -> [Int64: Double] {
                try await p.database.read { db in
                    Dictionary(uniqueKeysWithValues: try await db.raw(query).all().map { (try $0.decode(column: "id", as: Int64.self), try $0.decode(column: "page", as: Double.self)) })
                }
            }
            let before = try await pages()
            // One update: a second finds room only once the first's old versions are pruned, which
            // waits for every older snapshot in the database (other tests' transactions meanwhile).
            let updates = AccrualWriter.balanceUpdates(before.keys.sorted().map { [$0, 5, 0] }, arrays: true)
            try await p.database.write { db in
                for (statement, _) in updates { try await db.raw(statement).run() }
            }
            let after = try await pages()
            let stayed = before.filter { after[$0.key] == $0.value }.count
            #expect(stayed * 100 >= before.count * 95, "\(stayed) of \(before.count) accounts stayed on their page")
        }
    }

    /// The rows a plan read from `table` (returned and filtered out), over all its loops.
    static func rowsRead(of table: String, in plan: String) -> Int {
        guard let data = plan.data(using: .utf8), let json = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]] else { return .max }
        func walk(_ node: [String: Any]) -> Int {
            var read = 0
            if node["Relation Name"] as? String == table {
                let rows = (node["Actual Rows"] as? Int ?? 0) + (node["Rows Removed by Filter"] as? Int ?? 0)
                read += rows * (node["Actual Loops"] as? Int ?? 1)
            }
            for child in node["Plans"] as? [[String: Any]] ?? [] { read += walk(child) }
            return read
        }
        return json.compactMap { $0["Plan"] as? [String: Any] }.reduce(0) { $0 + walk($1) }
    }
}
