import Access
import App
import Customers
import Foundation
import Loyalty
import SharedModels
import TestSupport
import Testing

extension LedgerFixture {
    /// Another customer enrolled in the fixture's program.
    func newMember(_ name: String, household: HouseholdID? = nil) async throws -> Member {
        let customer = try await patron.customers.create(ProfileDraft(firstName: name, lastName: "Test"))
        if let household { _ = try await patron.customers.addToHousehold(customer.id, household: household) }
        return try await ledger.enroll(customer.id, in: program.id)
    }
}

@Suite("Tiers, transfers, pooling, referrals and simulation on every engine")
struct MemberTests {
    @Test("The review moves members down at most one tier; progress says how far the next tier is", arguments: TestEngine.available)
    func review(engine: TestEngine) async throws {
        try await LedgerFixture.run(engine) { f in
            try await f.configureTiers()
            _ = try await f.purchase("P1", 250_000)  // 2,500 qualifying points → Gold
            #expect(try await f.ledger.member(f.member).tier == "Gold")
            let progress = try await f.ledger.tierProgress(of: f.member)
            #expect(progress?.nextTier == nil && progress?.qualifyingPoints == 2_500)
            let silver = try await f.newMember("Sam")
            _ = try await f.purchase("S1", 60_000, customer: silver.customerID)  // 600 → Silver
            #expect(try await f.ledger.tierProgress(of: silver.id)?.missing == 1_400)
            // A year and a day later the points no longer count: Gold lands softly on Silver, Silver on Blue.
            f.clock.advance(days: 367)
            let review = try await f.ledger.reviewTiers(of: f.program.id)
            #expect(review == .init(reviewed: 2, upgraded: 0, downgraded: 2))
            #expect(try await f.ledger.member(f.member).tier == "Silver")
            #expect(try await f.ledger.member(silver.id).tier == "Blue")
            #expect(try await f.ledger.reviewTiers(of: f.program.id).notBefore != nil, "one review a period")
            f.clock.advance(days: 31)
            #expect(try await f.ledger.reviewTiers(of: f.program.id).downgraded == 1, "the next month's review lands Silver on Blue")
            let history = try await f.ledger.tierHistory(of: f.member)
            #expect(history.map(\.to) == ["Gold", "Silver", "Blue"])
            #expect(history[1].reason.hasPrefix("review"))
        }
    }

    @Test("A calendar-year ladder counts points since 1 January and reviews the year just ended", arguments: [TestEngine.sqlite])
    func calendarYear(engine: TestEngine) async throws {
        try await LedgerFixture.run(engine) { f in
            try await f.ledger.configure(
                f.program.id, rules: EarningRules(pointsPerUnit: 1),
                tiers: try! TierPolicy(tiers: [.init(name: "Blue", threshold: 0), .init(name: "Gold", threshold: 1_000)], period: .calendarYear))
            _ = try await f.purchase("P1", 50_000)  // 2026-01-01: 500 points
            let progress = try await f.ledger.tierProgress(of: f.member)
            #expect(progress?.missing == 500)
            #expect(progress?.by == Date(timeIntervalSince1970: 1_798_761_600), "31 December 2026, midnight")
            f.clock.advance(days: 300)
            _ = try await f.purchase("P2", 60_000)
            #expect(try await f.ledger.member(f.member).tier == "Gold")
            f.clock.advance(days: 70)  // into 2027: last year's 1,100 points keep Gold
            #expect(try await f.ledger.reviewTiers(of: f.program.id).downgraded == 0)
            #expect(try await f.ledger.tierProgress(of: f.member)?.qualifyingPoints == 0)
        }
    }

    @Test("Members give points within the yearly limit; the points keep their expiry", arguments: TestEngine.available)
    func transfers(engine: TestEngine) async throws {
        try await LedgerFixture.run(engine) { f in
            try await f.configureTiers()
            let friend = try await f.newMember("Bo")
            _ = try await f.purchase("P1", 100_000)
            await #expect(throws: LoyaltyError.limitExceeded("This program does not allow points transfers.")) {
                _ = try await f.ledger.transfer(10, from: f.member, to: friend.id, idempotencyKey: nil)
            }
            try await f.ledger.setMemberOptions(of: f.program.id, transferLimitPerYear: 500, referralPoints: nil)
            let gift = try await f.ledger.transfer(300, from: f.member, to: friend.id, idempotencyKey: "g1")
            #expect(try await f.ledger.transfer(300, from: f.member, to: friend.id, idempotencyKey: "g1") == gift, "replayed, not repeated")
            #expect(try await f.ledger.balance(of: friend.id).available == 300)
            #expect(try await f.ledger.balance(of: friend.id).nextExpiry?.on == (try await f.balance().nextExpiry?.on))
            await #expect(throws: LoyaltyError.self) { _ = try await f.ledger.transfer(201, from: f.member, to: friend.id, idempotencyKey: nil) }
            #expect(try await f.balance().available == 700)
        }
    }

    @Test("A household pools its points into one member's account", arguments: TestEngine.available)
    func pooling(engine: TestEngine) async throws {
        try await LedgerFixture.run(engine) { f in
            try await f.configureTiers()
            let customer = try await f.ledger.member(f.member).customerID
            let home = try await f.patron.customers.createHousehold(name: "Lee", members: [customer])
            let partner = try await f.newMember("Kim", household: home.id)
            let stranger = try await f.newMember("Zed")
            _ = try await f.purchase("K1", 40_000, customer: partner.customerID)
            let households = { (id: CustomerID) in try await f.patron.customers.customer(id).householdID }
            await #expect(throws: LoyaltyError.invalid([FieldError("intoMemberId", "must belong to the same household")])) {
                _ = try await f.ledger.pool(from: partner.id, into: stranger.id, idempotencyKey: nil, households: households)
            }
            let pooled = try await f.ledger.pool(from: partner.id, into: f.member, idempotencyKey: nil, households: households)
            #expect(pooled?.points == 400)
            #expect(try await f.balance().available == 400)
            #expect(try await f.ledger.balance(of: partner.id).available == 0)
        }
    }

    @Test("Refer a friend: both earn the bonus once, after the friend's first purchase", arguments: TestEngine.available)
    func referral(engine: TestEngine) async throws {
        try await LedgerFixture.run(engine) { f in
            try await f.configureTiers()
            try await f.ledger.setMemberOptions(of: f.program.id, transferLimitPerYear: nil, referralPoints: 250)
            let friendCustomer = try await f.patron.customers.create(ProfileDraft(firstName: "Ola", lastName: "Test"))
            let referral = try await f.ledger.refer(friendCustomer.id, by: f.member)
            await #expect(throws: LoyaltyError.self) { _ = try await f.ledger.refer(friendCustomer.id, by: f.member) }
            let friend = try await f.ledger.enroll(friendCustomer.id, in: f.program.id)
            _ = try await f.purchase("F1", 1_000, customer: friendCustomer.id)
            _ = try await f.purchase("F2", 1_000, customer: friendCustomer.id)
            #expect(try await f.balance().available == 250)
            #expect(try await f.ledger.balance(of: friend.id).available == 250 + 20)
            #expect(try await f.ledger.referrals(by: f.member).first?.completedAt != nil)
            #expect(referral.completedAt == nil)
        }
    }

    @Test("Simulating a draft promotion over past purchases writes nothing and finds the day its budget ran out", arguments: TestEngine.available)
    func simulation(engine: TestEngine) async throws {
        try await LedgerFixture.run(engine) { f in
            try await f.configureTiers()
            for day in 0..<10 {
                _ = try await f.purchase("P\(day)", 10_000, category: day.isMultiple(of: 2) ? "wine" : "bread")
                f.clock.advance(days: 1)
            }
            let before = try await f.ledger.verify()
            let draft = f.draft("WINEX3", .multiplier(percent: 300), criteria: #"purchase.category == "wine""#, budget: 900)
            let simulation = try await f.ledger.simulate(draft, in: f.program.id, months: 3)
            #expect(simulation.transactions == 10)
            #expect(simulation.matched == 5)
            #expect(simulation.points == 900)  // 200, 200, 200, 200, then 100 left
            #expect(simulation.members == 1)
            #expect(simulation.cost == Money(minorUnits: 900, currency: "USD"))
            #expect(simulation.budgetExhaustedOn == Date(timeIntervalSince1970: 1_767_225_600 + 8 * 86_400))
            let after = try await f.ledger.verify()
            #expect(after.transfers == before.transfers, "nothing written")
        }
    }
}

@Suite("Membership cards on every engine")
struct CardTests {
    @Test("A card finds its member; a blocked card no longer does; a replacement keeps the validity", arguments: TestEngine.available)
    func cards(engine: TestEngine) async throws {
        try await LedgerFixture.run(engine) { f in
            try await f.configureTiers()
            let paid = try await f.ledger.issueCard(to: f.member, fee: Money(minorUnits: 2_500, currency: "USD"), validityYears: 2)
            #expect(paid.kind == .paid && paid.number.hasSuffix("01"))
            #expect(paid.validUntil == Calendar.utc.date(byAdding: .year, value: 2, to: f.clock.now))
            await #expect(throws: LoyaltyError.self) {
                _ = try await f.ledger.issueCard(to: f.member, fee: Money(minorUnits: 500, currency: "USD"), validityYears: nil)
            }
            // A purchase presented with the card earns for its member.
            func buy(_ id: String) async throws -> IngestOutcome {
                let details = TransactionDetails(externalID: id, occurredAt: f.clock.now, amount: Money(minorUnits: 10_000, currency: "USD"))
                return try await f.patron.intake.submit(details, identifiers: [CustomerIdentifier(kind: .card, value: paid.number)]).0
            }
            guard case .recordedTransaction = try await buy("C1") else { Issue.record("the card did not match"); return }
            #expect(try await f.balance().available == 100)
            let replacement = try await f.ledger.replace(card: paid.id, reason: "worn out")
            #expect(replacement.number.hasSuffix("02") && replacement.validUntil == paid.validUntil && replacement.kind == .paid)
            guard case .unmatched = try await buy("C2") else { Issue.record("a replaced card still matched"); return }
            _ = try await f.ledger.block(card: replacement.id, reason: "stolen")
            await #expect(throws: LoyaltyError.cardClosed(replacement.number, status: "blocked")) {
                _ = try await f.ledger.block(card: replacement.id, reason: "again")
            }
            let cards = try await f.ledger.cards(of: f.member)
            #expect(cards.map(\.status) == [.replaced, .blocked])
            let free = try await f.ledger.issueCard(to: f.member, fee: nil, validityYears: nil)
            #expect(free.kind == .free && free.validUntil == nil)
        }
    }
}

@Suite("Expiry styles on every engine")
struct ExpiryStyleTests {
    @Test("Fixed-date expiry: points expire on 31 December at least twelve months after they were earned")
    func fixedDate() throws {
        let program = Program(
            id: ProgramID(1), code: "NW", name: "N", valuePerThousandPoints: Money(minorUnits: 1, currency: "USD"), expiryMonths: 12, pendingDays: 0,
            allowNegativeBalance: false, expiryStyle: .fixedDate(month: 12, day: 31), createdAt: Date())
        let earned = try #require(LocalDate("2026-03-15")).startOfDay
        #expect(program.expiry(ofPointsEarnedAt: earned) == LocalDate("2027-12-31")?.startOfDay)
        #expect(Program.ExpiryStyle(code: "fixed:12-31") == .fixedDate(month: 12, day: 31))
        #expect(Program.ExpiryStyle(code: "fixed:02-30") == nil)
        #expect(Program.ExpiryStyle.fixedDate(month: 3, day: 1).code == "fixed:03-01")
    }

    @Test("Rolling expiry: each purchase moves every living lot's expiry out; without activity they expire", arguments: TestEngine.available)
    func rolling(engine: TestEngine) async throws {
        let clock = TestClock()
        try await TestDatabase.withPatron(engine, clock: clock) { patron in
            let program = try await patron.loyalty.createProgram(
                code: "RL", name: "Rolling", valuePerThousandPoints: Money(minorUnits: 1000, currency: "USD"), expiryMonths: 6, expiryStyle: .rolling)
            try await patron.loyalty.configure(program.id, rules: EarningRules(pointsPerUnit: 1), tiers: nil)
            #expect(try await patron.loyalty.program(program.id).expiryStyle == .rolling)
            let customer = try await patron.customers.create(ProfileDraft(firstName: "Ro", lastName: "Ling"))
            let member = try await patron.loyalty.enroll(customer.id, in: program.id)
            func buy(_ id: String) async throws {
                let details = TransactionDetails(externalID: id, occurredAt: clock.now, amount: Money(minorUnits: 10_000, currency: "USD"))
                _ = try await patron.intake.submit(details, identifiers: [CustomerIdentifier(kind: .customerID, value: String(customer.id.rawValue))])
            }
            try await buy("R1")
            clock.advance(days: 150)
            try await buy("R2")  // extends R1's points to six months from now
            clock.advance(days: 150)
            #expect(try await patron.loyalty.expire().isEmpty)
            #expect(try await patron.loyalty.balance(of: member.id).available == 200)
            clock.advance(days: 40)
            #expect(try await patron.loyalty.expire().count == 2)
            #expect(try await patron.loyalty.balance(of: member.id).available == 0)
            #expect(try await patron.loyalty.verify().violations == [])
        }
    }
}

@Suite("Merging customers who are members")
struct MergeMembershipTests {
    @Test("A merge moves the duplicate's membership and login to the survivor, and purchases keep earning", arguments: TestEngine.available)
    func merge(engine: TestEngine) async throws {
        try await LedgerFixture.run(engine) { f in
            try await f.configureTiers()
            let survivor = try await f.patron.customers.create(ProfileDraft(firstName: "Ann", lastName: "Lee"))
            let duplicate = try await f.ledger.member(f.member).customerID
            _ = try await f.purchase("P1", 10_000)
            _ = try await f.patron.access.createMemberLogin(customerID: duplicate.rawValue, email: "ann@x.com", password: "password1")
            _ = try await f.patron.customers.merge(duplicate, into: survivor.id, by: "test")
            let memberships = try await f.ledger.memberships(of: survivor.id)
            #expect(memberships.map(\.id) == [f.member])
            _ = try await f.purchase("P2", 5_000, customer: survivor.id)
            #expect(try await f.balance().available == 150)
            let (_, _, principal) = try await f.patron.access.logIn(email: "ann@x.com", password: "password1", client: nil)
            #expect(principal == .member(customerID: survivor.id.rawValue, email: "ann@x.com"))
        }
    }
}
