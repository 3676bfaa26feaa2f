import Loyalty
import SQLKit
import SharedModels
import Synchronization

/// Balances of a program's own accounts — its liability and breakage — kept in stripes.
///
/// Every accrual, redemption, return and expiry of a program moves points to or from these
/// accounts. Were they locked like a member's account, or their balance updated in their one row,
/// every purchase of the program would wait for the one before it to commit: a program-wide
/// queue, the ceiling measured in #18 (32 clients redeeming: p99 213 ms on PostgreSQL). Nothing
/// checks their balance (a member's must cover a redemption, a promotion's budget must cover an
/// award; those stay locked), so they are never locked, and a transaction adds its change to one
/// of ``count`` rows of `ledger_balance_stripes`, picked at random: two transactions wait for
/// each other only when they pick the same stripe, and then only for the end of the other's
/// commit. The account's balance is its row's plus its stripes' (``balanceSQL``), which
/// `ledger verify` checks against its postings like any other.
enum StripedBalances {
    /// Stripes per account: enough that 32 concurrent writers rarely meet.
    static let count = 16

    static func applies(to account: LedgerAccount) -> Bool {
        switch account {
        case .liability, .breakage: true
        case .member, .budget: false
        }
    }

    /// Adds each change to a stripe of its account, in one statement; one stripe for the whole
    /// transaction, rows in ascending account id, so two transactions lock stripes in one order.
    static func add(_ changes: [(account: Int64, delta: Int64)], _ db: any SQLDatabase) async throws {
        guard let statement = statement(changes) else { return }
        try await db.raw(statement.sql).run()
    }

    /// The statement of ``add(_:_:)`` and its number of binds; nil when nothing changes.
    static func statement(_ changes: [(account: Int64, delta: Int64)]) -> (sql: SQLQueryString, binds: Int)? {
        var byAccount: [Int64: Int64] = [:]
        for change in changes { byAccount[change.account, default: 0] += change.delta }
        let rows = byAccount.filter { $0.value != 0 }.sorted { $0.key < $1.key }
        guard !rows.isEmpty else { return nil }
        let stripe = Int64.random(in: 0..<Int64(count))
        let values = rows.map { "(\(bind: $0.key), \(bind: stripe), \(bind: $0.value))" as SQLQueryString }
        return (
            "INSERT INTO ledger_balance_stripes (account_id, stripe, balance) VALUES " + values.joined(separator: ", ")
                + " ON CONFLICT (account_id, stripe) DO UPDATE SET balance = ledger_balance_stripes.balance + excluded.balance",
            3 * rows.count
        )
    }

    /// The balance of the account `a` (a `ledger_accounts` alias), stripes included.
    static func balanceSQL(_ a: String) -> String {
        "(\(a).balance + CAST(COALESCE((SELECT SUM(s.balance) FROM ledger_balance_stripes s WHERE s.account_id = \(a).id), 0) AS BIGINT))"
    }
}

/// Ids of programs' own accounts by key, for one database: they never change once made, so a
/// transaction needs no statement to find them.
final class ProgramAccountIDs: Sendable {
    private let ids = Mutex<[String: Int64]>([:])
    func id(of key: String) -> Int64? { ids.withLock { $0[key] } }
    func remember(_ key: String, _ id: Int64) { ids.withLock { $0[key] = id } }
}
