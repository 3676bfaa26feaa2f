import App
import Customers
import Foundation
import Loyalty
import SQLKit
import SharedModels
import Storage
import StoragePostgres
import TestSupport
import Testing

/// Patron behind PgBouncer in transaction mode (`PATRON_TEST_PGBOUNCER_URL`, started by
/// scripts/with-postgres.sh with 4 server connections per database): each transaction may run on
/// a different server connection, so nothing may rely on session state — no session advisory
/// locks, no `SET`, no named prepared statements (PgBouncer 1.18 cannot carry those across
/// server connections in this mode): Patron is told so with `prepared_statements=off`, and its
/// statements are then unnamed, parsed with each execution.
@Suite struct PgBouncerTests {
    static let bouncer = ProcessInfo.processInfo.environment["PATRON_TEST_PGBOUNCER_URL"]

    /// The bouncer's URL for the test database at `location`.
    static func bounced(_ location: DatabaseLocation) -> String? {
        guard case .postgres(let direct) = location, let name = URLComponents(string: direct)?.path.dropFirst() else { return nil }
        return TestDatabase.replacingDatabase(in: bouncer!, with: String(name))
    }

    @Test("32 clients earn and redeem through PgBouncer's 4 server connections: every acknowledged movement is there once, the ledger verifies",
        .enabled(if: bouncer != nil))
    func transactionPooling() async throws {
        try await TestDatabase.withEmptyDatabase(.postgres) { location in
            guard let bounced = Self.bounced(location) else { return }
            let url = bounced + (bounced.contains("?") ? "&" : "?") + "prepared_statements=off"
            // Migrations take a transaction-scoped advisory lock: they too run through the bouncer.
            let p = try await Patron.open(.postgres(url: url), settings: Settings(bcryptCost: 4))
            try await p.closing { p in
                let program = try await p.loyalty.createProgram(
                    code: "PGB", name: "Bouncer", valuePerThousandPoints: Money(minorUnits: 1000, currency: "USD"), expiryMonths: nil)
                try await p.loyalty.configure(program.id, rules: EarningRules(pointsPerUnit: 1), tiers: nil)
                var members: [(CustomerID, MemberID)] = []
                for n in 0..<8 {
                    let customer = try await p.customers.create(ProfileDraft(firstName: "B\(n)", lastName: "Ouncer"))
                    let member = try await p.loyalty.enroll(customer.id, in: program.id)
                    _ = try await p.loyalty.adjust(1_000, for: member.id, memo: "opening", by: "test", idempotencyKey: "open-\(n)")
                    members.append((customer.id, member.id))
                }
                let all = members
                let redeemed = try await withThrowingTaskGroup(of: Int.self) { group in
                    for client in 0..<32 {
                        group.addTask {
                            var spent = 0
                            for n in 0..<10 {
                                let (customer, member) = all[(client + n) % all.count]
                                if n % 2 == 0 {
                                    _ = try await p.loyalty.redeem(10, from: member, reference: "c\(client)-\(n)", idempotencyKey: "c\(client)-\(n)")
                                    spent += 10
                                } else {
                                    let details = TransactionDetails(
                                        externalID: "c\(client)-\(n)", kind: .purchase, occurredAt: Date(),
                                        amount: Money(minorUnits: 2_000, currency: "USD"))
                                    _ = try await p.intake.submit(
                                        details, identifiers: [CustomerIdentifier(kind: .customerID, value: String(customer.rawValue))])
                                }
                            }
                            return spent
                        }
                    }
                    return try await group.reduce(0, +)
                }
                var total: Int64 = 0
                for (_, member) in all { total += try await p.loyalty.balance(of: member).available }
                // 8 × 1,000 opening, 160 purchases of $20 earn 20 each, 160 redemptions of 10.
                #expect(redeemed == 1_600)
                #expect(total == 8_000 + 160 * 20 - 1_600)
                let report = try await p.loyalty.verify()
                #expect(report.violations == [])
            }
        }
    }

    @Test("without prepared_statements=off, the first statement PgBouncer cannot carry turns prepared statements off; every request succeeds when tried again",
        .enabled(if: bouncer != nil))
    func preparedStatementsTurnOff() async throws {
        try await TestDatabase.withEmptyDatabase(.postgres) { location in
            guard let url = Self.bounced(location) else { return }
            let database = try await PostgresDatabase.open(url: url)
            #expect(database.preparesStatements)
            let retried = try await withThrowingTaskGroup(of: Int.self) { group in
                for client in 0..<16 {
                    group.addTask {
                        var retried = 0
                        for n in 0..<20 {
                            for attempt in 1...2 {
                                do {
                                    let value = try await database.read { db in
                                        try await db.raw("SELECT \(bind: Int64(client * 100 + n)) + 1 AS v").first()!.decode(column: "v", as: Int64.self)
                                    }
                                    #expect(value == Int64(client * 100 + n + 1))
                                    break
                                } catch let failure as DatabaseFailure where attempt == 1 {
                                    guard case .unavailable = failure else { throw failure }
                                    retried += 1
                                }
                            }
                        }
                        return retried
                    }
                }
                return try await group.reduce(0, +)
            }
            // Sixteen clients over four server connections: a statement prepared on one is met on another.
            #expect(retried == 0 || !database.preparesStatements)
            print("PgBouncer without prepared_statements=off: \(retried) requests tried again, prepared statements \(database.preparesStatements ? "on" : "off")")
            try await database.close()
        }
    }
}
