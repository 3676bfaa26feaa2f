import App
import Customers
import Foundation
import Loyalty
import SharedModels
import TestSupport
import Testing

/// A program, a member and a clock, on a fresh database.
struct LedgerFixture {
    let patron: Patron
    let clock: TestClock
    let program: Program
    let member: MemberID

    var ledger: PointsLedger { patron.loyalty }

    static func run(
        _ engine: TestEngine, expiryMonths: Int? = 12, pendingDays: Int = 0, allowNegative: Bool = false,
        _ body: @escaping (LedgerFixture) async throws -> Void
    ) async throws {
        let clock = TestClock()
        try await TestDatabase.withPatron(engine, clock: clock) { patron in
            let program = try await patron.loyalty.createProgram(
                code: "NW", name: "Northwind Rewards", valuePerThousandPoints: Money(minorUnits: 1000, currency: "USD"), expiryMonths: expiryMonths,
                pendingDays: pendingDays, allowNegativeBalance: allowNegative)
            let customer = try await patron.customers.create(ProfileDraft(firstName: "Ann", lastName: "Lee"))
            let member = try await patron.loyalty.enroll(customer.id, in: program.id)
            do {
                try await body(LedgerFixture(patron: patron, clock: clock, program: program, member: member.id))
            } catch {
                // PostgreSQL's errors print nothing useful unless reflected.
                Issue.record("\(String(reflecting: error))")
                throw error
            }
            let report = try await patron.loyalty.verify()
            #expect(report.violations == [], "ledger invariants after the test")
        }
    }

    func balance() async throws -> Balance { try await ledger.balance(of: member) }
}

@Suite("The points ledger on every engine")
struct LedgerTests {
    @Test("Earning, spending and the balance; membership numbers", arguments: TestEngine.available)
    func earnAndSpend(engine: TestEngine) async throws {
        try await LedgerFixture.run(engine) { f in
            #expect(try await f.ledger.member(f.member).number == "NW000000001")
            _ = try await f.ledger.earn(500, to: f.member, reference: "T1", idempotencyKey: "earn-T1")
            _ = try await f.ledger.redeem(200, from: f.member, reference: "R1", idempotencyKey: "redeem-R1")
            let balance = try await f.balance()
            #expect(balance.available == 300)
            #expect(balance.ledger == 300)
            await #expect(throws: LoyaltyError.insufficientPoints(available: 300, requested: 301)) {
                _ = try await f.ledger.redeem(301, from: f.member, reference: "R2", idempotencyKey: "redeem-R2")
            }
            #expect(try await f.balance().available == 300)
            await #expect(throws: LoyaltyError.self) { _ = try await f.ledger.earn(0, to: f.member, reference: nil, idempotencyKey: nil) }
        }
    }

    @Test("Regression: a replayed purchase event pays once", arguments: TestEngine.available)
    func replayedPurchase(engine: TestEngine) async throws {
        try await LedgerFixture.run(engine) { f in
            let first = try await f.ledger.earn(100, to: f.member, reference: "T1", idempotencyKey: "purchase:T1")
            let second = try await f.ledger.earn(100, to: f.member, reference: "T1", idempotencyKey: "purchase:T1")
            #expect(first == second)
            #expect(try await f.balance().available == 100)
            await #expect(throws: LoyaltyError.idempotencyKeyReused("purchase:T1")) {
                _ = try await f.ledger.earn(999, to: f.member, reference: "T1", idempotencyKey: "purchase:T1")
            }
        }
    }

    @Test("Regression: concurrent spends never over-draw a balance", arguments: TestEngine.available)
    func concurrentSpends(engine: TestEngine) async throws {
        try await LedgerFixture.run(engine) { f in
            _ = try await f.ledger.earn(100, to: f.member, reference: "T1", idempotencyKey: "earn")
            let ledger = f.ledger, member = f.member
            let outcomes = await withTaskGroup(of: Bool.self) { group in
                for attempt in 0..<32 {
                    group.addTask {
                        (try? await ledger.redeem(100, from: member, reference: "R\(attempt)", idempotencyKey: "redeem-\(attempt)")) != nil
                    }
                }
                return await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 }.count == 1)
            #expect(try await f.balance().available == 0)
        }
    }

    @Test("Regression: pending points are not spendable until the return window closes", arguments: TestEngine.available)
    func pendingPoints(engine: TestEngine) async throws {
        try await LedgerFixture.run(engine, pendingDays: 30) { f in
            _ = try await f.ledger.earn(400, to: f.member, reference: "T1", idempotencyKey: "T1")
            var balance = try await f.balance()
            #expect(balance.available == 0)
            #expect(balance.pending == 400)
            await #expect(throws: LoyaltyError.insufficientPoints(available: 0, requested: 1)) {
                _ = try await f.ledger.redeem(1, from: f.member, reference: nil, idempotencyKey: nil)
            }
            f.clock.advance(by: 30 * 86_400)
            balance = try await f.balance()
            #expect(balance.available == 400)
            #expect(balance.pending == 0)
        }
    }

    @Test("Regression: expiry takes only what is left, earliest lots first, and spends never touch expired points", arguments: TestEngine.available)
    func expiry(engine: TestEngine) async throws {
        try await LedgerFixture.run(engine, expiryMonths: 1) { f in
            _ = try await f.ledger.earn(100, to: f.member, reference: "A", idempotencyKey: "A", pending: false)
            f.clock.advance(by: 10 * 86_400)
            _ = try await f.ledger.earn(50, to: f.member, reference: "B", idempotencyKey: "B", pending: false)
            // Spending 120 empties the older lot first and takes 20 from the newer one.
            _ = try await f.ledger.redeem(120, from: f.member, reference: "R", idempotencyKey: "R")
            #expect(try await f.balance().nextExpiry?.points == 30)
            f.clock.advance(by: 25 * 86_400)  // the first lot's date has passed, the second's has not
            #expect(try await f.ledger.expire().isEmpty)
            f.clock.advance(by: 10 * 86_400)  // now the second lot expires too
            await #expect(throws: LoyaltyError.insufficientPoints(available: 0, requested: 30)) {
                _ = try await f.ledger.redeem(30, from: f.member, reference: nil, idempotencyKey: nil)
            }
            let expired = try await f.ledger.expire()
            #expect(expired.map(\.points) == [30])
            #expect(expired.first?.to == .breakage(f.program.id, .reward))
            #expect(try await f.ledger.expire().isEmpty)
            #expect(try await f.balance() == Balance(available: 0, pending: 0, debt: 0, ledger: 0))
        }
    }

    @Test("Regression: expiry over more accounts than one transaction takes (200) expires them all, chunk by chunk", arguments: TestEngine.available)
    func expiryOverManyAccounts(engine: TestEngine) async throws {
        try await LedgerFixture.run(engine, expiryMonths: 1) { f in
            // The second chunk of due accounts once trapped the expiry job (and took the server down).
            var members = [f.member]
            for n in 0..<230 {
                let customer = try await f.patron.customers.create(ProfileDraft(firstName: "M\(n)", lastName: "Lee"))
                members.append(try await f.patron.loyalty.enroll(customer.id, in: f.program.id).id)
            }
            for (n, member) in members.enumerated() {
                _ = try await f.ledger.earn(10, to: member, reference: "E\(n)", idempotencyKey: "E\(n)", pending: false)
            }
            f.clock.advance(by: 40 * 86_400)
            let expired = try await f.ledger.expire()
            #expect(expired.count == members.count && expired.allSatisfy { $0.points == 10 })
            #expect(try await f.ledger.expire().isEmpty)
        }
    }

    @Test("Regression: a refund takes back exactly what its purchase earned, once", arguments: TestEngine.available)
    func refund(engine: TestEngine) async throws {
        try await LedgerFixture.run(engine) { f in
            _ = try await f.ledger.earn(200, to: f.member, reference: "T1", idempotencyKey: "T1-base")
            _ = try await f.ledger.earn(50, to: f.member, reference: "T1", idempotencyKey: "T1-bonus")
            _ = try await f.ledger.earn(70, to: f.member, reference: "T2", idempotencyKey: "T2")
            let result = try await f.ledger.clawBack(purchase: "T1", returned: 10_000, of: 10_000, from: f.member, idempotencyKey: "return-T1")
            #expect(result.taken == 250)
            #expect(result.debt == 0)
            #expect(try await f.balance().available == 70)
            // Earn → refund → the same refund again: nothing more is taken.
            let again = try await f.ledger.clawBack(purchase: "T1", returned: 10_000, of: 10_000, from: f.member, idempotencyKey: "return-T1-again")
            #expect(again.taken == 0)
            #expect(try await f.balance().available == 70)
        }
    }

    @Test("Regression: returning a purchase whose points were spent takes other points once, then leaves a debt", arguments: TestEngine.available)
    func refundAfterRedemption(engine: TestEngine) async throws {
        try await LedgerFixture.run(engine) { f in
            _ = try await f.ledger.earn(300, to: f.member, reference: "T1", idempotencyKey: "T1")
            _ = try await f.ledger.redeem(300, from: f.member, reference: "R1", idempotencyKey: "R1")
            _ = try await f.ledger.earn(100, to: f.member, reference: "T2", idempotencyKey: "T2")
            let half = try await f.ledger.clawBack(purchase: "T1", returned: 50, of: 100, from: f.member, idempotencyKey: "ret-1")
            #expect(half.taken == 100)
            #expect(half.debt == 50)
            var balance = try await f.balance()
            #expect(balance.available == 0)
            #expect(balance.debt == 50)
            // The rest of the purchase comes back: only the other half is due, and all of it becomes debt.
            let rest = try await f.ledger.clawBack(purchase: "T1", returned: 50, of: 100, from: f.member, idempotencyKey: "ret-2")
            #expect(rest.taken == 0)
            #expect(rest.debt == 150)
            // A third return of the same purchase has nothing left to take.
            #expect(try await f.ledger.clawBack(purchase: "T1", returned: 100, of: 100, from: f.member, idempotencyKey: "ret-3").debt == 0)
            // New earnings repay the debt before they can be spent.
            _ = try await f.ledger.earn(500, to: f.member, reference: "T3", idempotencyKey: "T3")
            balance = try await f.balance()
            #expect(balance.debt == 0)
            #expect(balance.available == 300)
            #expect(balance.ledger == 300)
        }
    }

    @Test("With negative balances allowed, a claw-back goes below zero and earnings fill it", arguments: TestEngine.available)
    func negativeBalance(engine: TestEngine) async throws {
        try await LedgerFixture.run(engine, allowNegative: true) { f in
            _ = try await f.ledger.earn(100, to: f.member, reference: "T1", idempotencyKey: "T1")
            _ = try await f.ledger.redeem(100, from: f.member, reference: "R1", idempotencyKey: "R1")
            let result = try await f.ledger.clawBack(purchase: "T1", returned: 1, of: 1, from: f.member, idempotencyKey: "ret")
            #expect(result.taken == 0)
            #expect(result.debt == 100)
            #expect(try await f.balance().ledger == -100)
            _ = try await f.ledger.earn(150, to: f.member, reference: "T2", idempotencyKey: "T2")
            let balance = try await f.balance()
            #expect(balance.ledger == 50)
            #expect(balance.available == 50)
            #expect(balance.debt == 0)
        }
    }

    @Test("Adjustments need a reason and are kept on the statement with opening and closing balances", arguments: TestEngine.available)
    func adjustmentsAndStatement(engine: TestEngine) async throws {
        try await LedgerFixture.run(engine) { f in
            let start = f.clock.now
            _ = try await f.ledger.earn(100, to: f.member, reference: "T1", idempotencyKey: "T1")
            f.clock.advance(by: 86_400)
            let middle = f.clock.now
            _ = try await f.ledger.adjust(25, for: f.member, memo: "goodwill: late delivery", by: "agent@x.com", idempotencyKey: "adj-1")
            _ = try await f.ledger.adjust(-5, for: f.member, memo: "correction", by: "agent@x.com", idempotencyKey: "adj-2")
            await #expect(throws: LoyaltyError.self) { _ = try await f.ledger.adjust(5, for: f.member, memo: " ", by: "x", idempotencyKey: nil) }
            let statement = try await f.ledger.statement(of: f.member, from: middle, to: f.clock.now.addingTimeInterval(1))
            #expect(statement.opening == 100)
            #expect(statement.movements.map(\.signedPoints) == [25, -5])
            #expect(statement.movements.first?.transfer.memo == "goodwill: late delivery (by agent@x.com)")
            #expect(statement.closing == 120)
            #expect(try await f.ledger.statement(of: f.member, from: start, to: middle).closing == 100)
        }
    }

    @Test("A customer enrols once per program")
    func enrolOnce() async throws {
        try await LedgerFixture.run(.sqlite) { f in
            let customer = try await f.ledger.member(f.member).customerID
            await #expect(throws: LoyaltyError.alreadyEnrolled(customer, f.program.id)) { _ = try await f.ledger.enroll(customer, in: f.program.id) }
            await #expect(throws: LoyaltyError.self) {
                _ = try await f.ledger.createProgram(code: "nw", name: "", valuePerThousandPoints: Money(minorUnits: -1, currency: "USD"))
            }
            await #expect(throws: LoyaltyError.programCodeTaken("NW")) {
                _ = try await f.ledger.createProgram(code: "NW", name: "Again", valuePerThousandPoints: Money(minorUnits: 1, currency: "USD"))
            }
        }
    }
}
