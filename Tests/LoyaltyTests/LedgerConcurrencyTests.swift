import App
import Customers
import Foundation
import Loyalty
import SQLKit
import Storage
import SharedModels
import TestSupport
import Testing

/// Attacks on the ledger from concurrent callers: each test reproduces a defect found by driving
/// the real server with concurrent clients, and fails on the code before its fix.
@Suite("The points ledger under concurrency")
struct LedgerConcurrencyTests {
    @Test("Regression: concurrent returns of one purchase claw back at most what it earned", arguments: TestEngine.available)
    func concurrentReturns(engine: TestEngine) async throws {
        try await LedgerFixture.run(engine) { f in
            _ = try await f.ledger.earn(1_000, to: f.member, reference: "P1", idempotencyKey: "accrual:P1", pending: false)
            _ = try await f.ledger.earn(5_000, to: f.member, reference: "OTHER", idempotencyKey: "accrual:OTHER", pending: false)
            let ledger = f.ledger, member = f.member
            // Four full returns of the same purchase under different return ids, all at once.
            let results = try await withThrowingTaskGroup(of: ClawBackResult.self) { group in
                for attempt in 0..<4 {
                    group.addTask {
                        try await ledger.clawBack(purchase: "P1", returned: 10_000, of: 10_000, from: member, idempotencyKey: "return:R\(attempt)")
                    }
                }
                return try await group.reduce(into: [ClawBackResult]()) { $0.append($1) }
            }
            #expect(results.map(\.taken).reduce(0, +) == 1_000)
            #expect(results.filter { $0.taken > 0 }.count == 1)
            #expect(try await f.balance().available == 5_000)
        }
    }

    @Test("Regression: expiry running while returns arrive never takes a lot or a balance below zero", arguments: TestEngine.available)
    func expiryRacesReturns(engine: TestEngine) async throws {
        try await LedgerFixture.run(engine, expiryMonths: 1) { f in
            let customers = f.patron.customers, loyalty = f.ledger
            var members: [MemberID] = [f.member]
            for index in 0..<7 {
                let customer = try await customers.create(ProfileDraft(firstName: "M\(index)", lastName: "Race"))
                members.append(try await loyalty.enroll(customer.id, in: f.program.id).id)
            }
            for member in members {
                for lot in 0..<12 {
                    _ = try await loyalty.earn(100, to: member, reference: "P\(member.rawValue)-\(lot)", idempotencyKey: "e\(member.rawValue)-\(lot)", pending: false)
                }
            }
            f.clock.advance(days: 40)
            let returns = members.flatMap { member in (0..<12).map { (member, "P\(member.rawValue)-\($0)") } }
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { _ = try await loyalty.expire() }
                for (member, purchase) in returns {
                    group.addTask {
                        _ = try await loyalty.clawBack(purchase: purchase, returned: 1, of: 1, from: member, idempotencyKey: "return:\(purchase)")
                    }
                }
                group.addTask { _ = try await loyalty.expire() }
                try await group.waitForAll()
            }
            for member in members {
                let balance = try await loyalty.balance(of: member)
                #expect(balance.ledger == 0, "member \(member.rawValue): every point was either clawed back or expired")
            }
            // LedgerFixture verifies every invariant (no negative lot, balance equals lots) afterwards.
        }
    }

    @Test("Regression: transfers in opposite directions at once neither deadlock nor fail", arguments: TestEngine.available)
    func oppositeTransfers(engine: TestEngine) async throws {
        try await LedgerFixture.run(engine) { f in
            let customer = try await f.patron.customers.create(ProfileDraft(firstName: "Bo", lastName: "Lee"))
            let other = try await f.ledger.enroll(customer.id, in: f.program.id).id
            try await f.ledger.setMemberOptions(of: f.program.id, transferLimitPerYear: 1_000_000, referralPoints: nil)
            _ = try await f.ledger.earn(10_000, to: f.member, reference: "A", idempotencyKey: "A", pending: false)
            _ = try await f.ledger.earn(10_000, to: other, reference: "B", idempotencyKey: "B", pending: false)
            let ledger = f.ledger, member = f.member
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<40 {
                    group.addTask {
                        let (from, to) = index.isMultiple(of: 2) ? (member, other) : (other, member)
                        _ = try await ledger.transfer(10, from: from, to: to, idempotencyKey: "t\(index)")
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await f.ledger.balance(of: f.member).available == 10_000)
            #expect(try await f.ledger.balance(of: other).available == 10_000)
        }
    }
}

@Suite("Batch accrual and tiers")
struct BatchTierTests {
    /// A purchase (or a return of `original`) of `amount` cents by `customer` at `at`, as a batch holds it.
    static func row(
        _ customer: CustomerID, _ id: String, _ amount: Int64, _ at: Date, returning original: String? = nil
    ) -> (customer: CustomerID, details: TransactionDetails) {
        (
            customer,
            TransactionDetails(
                externalID: id, kind: original == nil ? .purchase : .return, occurredAt: at, amount: Money(minorUnits: amount, currency: "USD"),
                originalExternalID: original)
        )
    }

    @Test("Regression: a batch split at a return earns after it at the tier reached before it, with one tier change", arguments: TestEngine.available)
    func tierAcrossReturn(engine: TestEngine) async throws {
        try await LedgerFixture.run(engine) { f in
            try await f.ledger.configure(
                f.program.id, rules: EarningRules(pointsPerUnit: 1, tierPercent: ["Gold": 200]),
                tiers: try! TierPolicy(tiers: [.init(name: "Blue", threshold: 0), .init(name: "Gold", threshold: 100)]))
            let customer = try await f.ledger.member(f.member).customerID
            let start = f.clock.now.addingTimeInterval(-3_600)
            func row(_ id: String, _ amount: Int64, _ offset: Double, returning original: String? = nil) -> (customer: CustomerID, details: TransactionDetails) {
                Self.row(customer, id, amount, start.addingTimeInterval(offset), returning: original)
            }
            // 150 points lift Ann to Gold; a small return splits the batch; the next purchases earn at Gold (200%).
            let rows = [row("B1", 15_000, 1), row("B2", 1_000, 2), row("B2R", 1_000, 3, returning: "B2"), row("B3", 10_000, 4), row("B4", 10_000, 5)]
            _ = try await f.patron.customers.insertTransactions(rows)
            try await f.patron.intake.accrue(batch: rows)
            #expect(try await f.ledger.member(f.member).tier == "Gold")
            let history = try await f.patron.loyalty.tierHistory(of: f.member)
            #expect(history.filter { $0.to == "Gold" }.count == 1, "one upgrade, not one per sub-batch")
            // 150 (Blue) + 20 (Gold, B2) − 20 (returned) + 200 + 200 (Gold).
            #expect(try await f.balance().ledger == 150 + 20 - 20 + 200 + 200)
        }
    }

    /// A batch's tier changes are written set-wise (each member's last tier in one update, every
    /// change in the history in one insert) instead of two statements a change.
    @Test("a batch that moves members up one and two tiers stores each member's last tier and every change, in order", arguments: TestEngine.available)
    func manyTierChanges(engine: TestEngine) async throws {
        try await LedgerFixture.run(engine) { f in
            try await f.ledger.configure(
                f.program.id, rules: EarningRules(pointsPerUnit: 1),
                tiers: try! TierPolicy(tiers: [.init(name: "Blue", threshold: 0), .init(name: "Silver", threshold: 100), .init(name: "Gold", threshold: 200)]))
            let ann = try await f.ledger.member(f.member).customerID
            let bob = try await f.patron.customers.create(ProfileDraft(firstName: "Bob", lastName: "Ray")).id
            let cy = try await f.patron.customers.create(ProfileDraft(firstName: "Cy", lastName: "Oh")).id
            let bobMember = try await f.ledger.enroll(bob, in: f.program.id).id
            let cyMember = try await f.ledger.enroll(cy, in: f.program.id).id
            let start = f.clock.now.addingTimeInterval(-3_600)
            func row(_ customer: CustomerID, _ id: String, _ amount: Int64, _ offset: Double) -> (customer: CustomerID, details: TransactionDetails) {
                Self.row(customer, id, amount, start.addingTimeInterval(offset))
            }
            // Ann: 120 (Silver), then 100 more (Gold); Bob: 150 (Silver); Cy: 50 (stays Blue).
            let rows = [row(ann, "A1", 12_000, 1), row(bob, "B1", 15_000, 2), row(cy, "C1", 5_000, 3), row(ann, "A2", 10_000, 4)]
            _ = try await f.patron.customers.insertTransactions(rows)
            try await f.patron.intake.accrue(batch: rows)
            #expect(try await f.ledger.member(f.member).tier == "Gold")
            #expect(try await f.ledger.member(bobMember).tier == "Silver")
            #expect(try await f.ledger.member(cyMember).tier == "Blue")
            let annHistory = try await f.ledger.tierHistory(of: f.member).filter { $0.to != "Blue" }
            #expect(annHistory.map(\.to) == ["Silver", "Gold"] && annHistory.map(\.from) == ["Blue", "Silver"], "in the order they happened: \(annHistory)")
            #expect(try await f.ledger.tierHistory(of: bobMember).filter { $0.to == "Silver" }.count == 1)
            #expect(try await f.ledger.tierHistory(of: cyMember).filter { $0.to != "Blue" }.isEmpty)
        }
    }
}

@Suite("Ledger verification")
struct LedgerVerifyTests {
    /// A program, Ann its member, and 1,000 points she earned on purchase P1.
    static func withEarning(
        _ engine: TestEngine, allowNegative: Bool, _ body: @escaping (Patron, Program, MemberID, Transfer) async throws -> Void
    ) async throws {
        try await TestDatabase.withPatron(engine) { patron in
            let program = try await patron.loyalty.createProgram(
                code: "NW", name: "Northwind Rewards", valuePerThousandPoints: Money(minorUnits: 1000, currency: "USD"), expiryMonths: nil,
                pendingDays: 0, allowNegativeBalance: allowNegative)
            let customer = try await patron.customers.create(ProfileDraft(firstName: "Ann", lastName: "Lee"))
            let member = try await patron.loyalty.enroll(customer.id, in: program.id).id
            let earned = try await patron.loyalty.earn(1_000, to: member, reference: "P1", idempotencyKey: "accrual:P1", pending: false)
            try await body(patron, program, member, earned)
        }
    }

    @Test("ledger verify names a transfer whose postings are on another account than it names", arguments: TestEngine.available)
    func postingsOffTheirTransfer(engine: TestEngine) async throws {
        try await Self.withEarning(engine, allowNegative: false) { patron, program, member, earned in
            #expect(try await patron.loyalty.verify().violations == [])
            // The points left another program account than the transfer says, and its balance moved alike:
            // every posting still cancels and every balance still equals its postings.
            try await patron.database.write { db in
                let other = try await db.raw(
                    "INSERT INTO ledger_accounts (key, program_id, point_type, balance, debt) VALUES ('breakage:' || CAST(\(bind: program.id.rawValue) AS TEXT) || ':reward', \(bind: program.id.rawValue), 'reward', 0, 0) RETURNING id"
                ).first()!.decode(column: "id", as: Int64.self)
                let source = try await db.raw("SELECT from_account FROM ledger_transfers WHERE id = \(bind: earned.id.rawValue)").first()!
                    .decode(column: "from_account", as: Int64.self)
                try await db.raw(
                    "UPDATE ledger_postings SET account_id = \(bind: other) WHERE transfer_id = \(bind: earned.id.rawValue) AND account_id = \(bind: source)"
                ).run()
                try await db.raw("UPDATE ledger_accounts SET balance = balance - 1000 WHERE id = \(bind: other)").run()
                try await db.raw("UPDATE ledger_balance_stripes SET balance = 0 WHERE account_id = \(bind: source)").run()
                try await db.raw("UPDATE ledger_accounts SET balance = 0 WHERE id = \(bind: source)").run()
            }
            let violations = try await patron.loyalty.verify().violations
            #expect(
                violations == [
                    "a transfer's postings move its points from the account it names to the other: transfer \(earned.id.rawValue) does not"
                ], "\(violations)")
        }
    }

    @Test("ledger verify names a transfer without postings, and on PostgreSQL a transfer or a lot naming an account that does not exist", arguments: TestEngine.available)
    func transfersOwnAccounts(engine: TestEngine) async throws {
        try await Self.withEarning(engine, allowNegative: false) { patron, _, _, earned in
            // A second transfer of the same accounts, written without its postings: no balance moved.
            let bare = try await patron.database.write { db in
                try await db.raw(
                    """
                    INSERT INTO ledger_transfers (program_id, from_account, to_account, points, reason, reference, idempotency_key, memo, occurred_at)
                    SELECT program_id, from_account, to_account, 5, reason, 'P2', 'accrual:P2', memo, occurred_at FROM ledger_transfers
                    WHERE id = \(bind: earned.id.rawValue) RETURNING id
                    """
                ).first()!.decode(column: "id", as: Int64.self)
            }
            var violations = try await patron.loyalty.verify().violations
            #expect(violations == ["every transfer has two postings that cancel: transfer \(bare) has none"], "\(violations)")
            guard engine == .postgres else { return }  // SQLite's foreign keys refuse what follows in any session
            // Without the foreign keys (what a bulk load with triggers off, or their removal, would allow).
            try await patron.database.write { db in
                try await db.raw("SET LOCAL session_replication_role = replica").run()
                try await db.raw("UPDATE ledger_transfers SET to_account = 999999999 WHERE id = \(bind: bare)").run()
            }
            violations = try await patron.loyalty.verify().violations
            #expect(violations.contains("a transfer moves points between two accounts of the ledger: transfer \(bare) names one that is not"), "\(violations)")
            // A lot moved off every account: the member's balance no longer matches their lots, and the lot is named.
            let lot = try await patron.database.write { db in
                try await db.raw("SET LOCAL session_replication_role = replica").run()
                return try await db.raw("UPDATE point_lots SET account_id = 999999999 WHERE id = (SELECT MIN(id) FROM point_lots) RETURNING id")
                    .first()!.decode(column: "id", as: Int64.self)
            }
            violations = try await patron.loyalty.verify().violations
            #expect(violations.contains("every lot is held by an account of the ledger: lot \(lot) names one that is not"), "\(violations)")
        }
    }

    @Test("ledger verify names a purchase clawed back beyond what it earned", arguments: TestEngine.available)
    func overClaw(engine: TestEngine) async throws {
        try await Self.withEarning(engine, allowNegative: true) { patron, _, member, _ in
            _ = try await patron.loyalty.clawBack(purchase: "P1", returned: 1, of: 1, from: member, idempotencyKey: "return:R1")
            #expect(try await patron.loyalty.verify().violations == [])
            // What the concurrent-returns defect wrote: a second claw-back of the whole purchase.
            try await patron.database.write { db in
                let first = try await db.raw("SELECT program_id, from_account, to_account, occurred_at FROM ledger_transfers WHERE reason = 'clawback'")
                    .first()!
                let from = try first.decode(column: "from_account", as: Int64.self), to = try first.decode(column: "to_account", as: Int64.self)
                let at = try first.decode(column: "occurred_at", as: Int64.self)
                let id = try await db.raw(
                    """
                    INSERT INTO ledger_transfers (program_id, from_account, to_account, points, reason, reference, idempotency_key, memo, occurred_at)
                    VALUES (\(bind: try first.decode(column: "program_id", as: Int64.self)), \(bind: from), \(bind: to), 1000, 'clawback', 'P1',
                    'return:R2', 'return of 1 of 1', \(bind: at)) RETURNING id
                    """
                ).first()!.decode(column: "id", as: Int64.self)
                try await db.raw(
                    "INSERT INTO ledger_postings (transfer_id, account_id, points, occurred_at) VALUES (\(bind: id), \(bind: from), -1000, \(bind: at)), (\(bind: id), \(bind: to), 1000, \(bind: at))"
                ).run()
                try await db.raw("UPDATE ledger_accounts SET balance = balance - 1000 WHERE id = \(bind: from)").run()
                try await db.raw("UPDATE ledger_accounts SET balance = balance + 1000 WHERE id = \(bind: to)").run()
            }
            let violations = try await patron.loyalty.verify().violations
            #expect(violations.contains { $0.hasPrefix("a return claws back at most what its purchase earned: member:\(member.rawValue):reward lost 2000") })
        }
    }
}

/// The house lock order (SQLLedgerStore.lockAccounts): accounts, then rewards' rows. Each test
/// holds a reward's row, lets a real operation on it run until it waits for a lock, and checks
/// that by then the operation holds the member's account. A redemption locked the reward and then
/// the account while a purchase giving that reward (or a cancelled voucher giving it back) locked
/// the account and then the reward: a redemption and a purchase of one member deadlocked on
/// PostgreSQL, which aborted one of them after a second.
@Suite("The house lock order on PostgreSQL", .enabled(if: TestEngine.available.contains(.postgres)))
struct LockOrderTests {
    /// Whether `operation` holds the fixture member's account while it waits for `reward`'s row.
    static func holdsAccountBeforeReward(_ f: LedgerFixture, _ reward: RewardID, _ operation: @escaping @Sendable () async throws -> Void) async throws
        -> Bool
    {
        let database = f.patron.database
        let account = LedgerAccount.member(f.member, .reward).key
        let (held, task) = try await database.write { db in
            _ = try await db.raw("SELECT id FROM loyalty_rewards WHERE id = \(bind: reward.rawValue) FOR UPDATE").all()
            let started = Task { try await operation() }
            var waiting: Int64 = 0
            for _ in 0..<500 where waiting == 0 {
                try await Task.sleep(for: .milliseconds(10))
                waiting = try await database.read { r in
                    try await r.raw(
                        "SELECT COUNT(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
                    ).first()!.decode(column: "n", as: Int64.self)
                }
            }
            #expect(waiting == 1, "the operation waits for the reward's row")
            do {
                _ = try await database.write { other in
                    try await other.raw("SELECT id FROM ledger_accounts WHERE key = \(bind: account) FOR UPDATE NOWAIT").all()
                }
                return (false, started)
            } catch {
                #expect(String(reflecting: error).contains("55P03"), "the account is locked, not \(error)")
                return (true, started)
            }
        }
        try await task.value
        return held
    }

    @Test("Regression: a redemption locks the member's account before the reward")
    func redemption() async throws {
        try await LedgerFixture.run(.postgres) { f in
            let gift = try await f.ledger.addReward(to: f.program.id, code: "GIFT", name: "Gift", kind: .product, pointsPrice: 100, stock: 5)
            _ = try await f.ledger.earn(500, to: f.member, reference: "P1", idempotencyKey: "P1", pending: false)
            let ledger = f.ledger, member = f.member
            #expect(try await Self.holdsAccountBeforeReward(f, gift.id) { _ = try await ledger.redeem(reward: gift.id, for: member, idempotencyKey: "r1") })
            #expect(try await f.ledger.reward(gift.id).stock == 4)
            #expect(try await f.balance().available == 400)
        }
    }

    @Test("A purchase whose promotion gives a reward locks the member's accounts before the reward")
    func purchaseGivingReward() async throws {
        try await LedgerFixture.run(.postgres) { f in
            try await f.configureTiers()
            let tote = try await f.ledger.addReward(to: f.program.id, code: "TOTE", name: "Tote bag", kind: .product, pointsPrice: 50, stock: 10)
            _ = try await f.ledger.createPromotion(f.draft("BAG", .voucher(rewardCode: "TOTE"), criteria: "purchase.amount > 50"), in: f.program.id)
            _ = try await f.purchase("P1", 6_000)  // makes the member's accounts
            #expect(try await Self.holdsAccountBeforeReward(f, tote.id) { _ = try await f.purchase("P2", 6_000) })
            #expect(try await f.ledger.vouchers(of: f.member).count == 2)
            #expect(try await f.ledger.reward(tote.id).stock == 8)
        }
    }

    @Test("Cancelling a voucher locks the member's account before the reward it gives back")
    func cancellation() async throws {
        try await LedgerFixture.run(.postgres) { f in
            let gift = try await f.ledger.addReward(to: f.program.id, code: "GIFT", name: "Gift", kind: .product, pointsPrice: 100, stock: 5)
            _ = try await f.ledger.earn(500, to: f.member, reference: "P1", idempotencyKey: "P1", pending: false)
            let voucher = try await f.ledger.redeem(reward: gift.id, for: f.member, idempotencyKey: "r1")
            let ledger = f.ledger
            #expect(try await Self.holdsAccountBeforeReward(f, gift.id) { _ = try await ledger.cancel(voucher: voucher.id) })
            #expect(try await f.ledger.voucher(voucher.id).status == .cancelled)
            #expect(try await f.ledger.reward(gift.id).stock == 5)
            #expect(try await f.balance().available == 500)
        }
    }
}
