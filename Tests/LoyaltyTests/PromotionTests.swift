import App
import Customers
import Foundation
import Loyalty
import SharedModels
import Storage
import TestSupport
import Testing

extension LedgerFixture {
    /// Records a purchase for the fixture's member (or `customer`) and accrues it.
    @discardableResult
    func purchase(
        _ id: String, _ minor: Int64, category: String = "grocery", channel: Channel? = nil, customer: CustomerID? = nil
    ) async throws -> [PointsLedger.AccrualResult] {
        let owner: CustomerID
        if let customer { owner = customer } else { owner = try await ledger.member(member).customerID }
        let details = TransactionDetails(
            externalID: id, kind: .purchase, occurredAt: clock.now, amount: Money(minorUnits: minor, currency: "USD"), channel: channel,
            lines: [.init(product: category, category: category, amount: minor)])
        let (_, results) = try await patron.intake.submit(
            details, identifiers: [CustomerIdentifier(kind: .customerID, value: String(owner.rawValue))])
        return results
    }

    /// 1 point per dollar, Blue/Silver(500)/Gold(2000), Gold earns ×1.5.
    func configureTiers() async throws {
        try await ledger.configure(
            program.id, rules: EarningRules(pointsPerUnit: 1, tierPercent: ["Gold": 150]),
            tiers: try! TierPolicy(tiers: [.init(name: "Blue", threshold: 0), .init(name: "Silver", threshold: 500), .init(name: "Gold", threshold: 2000)])
        )
    }

    func draft(
        _ code: String, _ action: Promotion.Action, criteria: String? = nil, limit: Int? = nil, budget: Int64? = nil, priority: Int = 0,
        stacking: Promotion.Stacking = .cumulative, enrolment: Bool = false, days: Int = 30
    ) -> PromotionDraft {
        PromotionDraft(
            code: code, name: code, startsAt: clock.now, endsAt: clock.now.addingTimeInterval(Double(days) * 86_400), requiresEnrolment: enrolment,
            criteria: criteria, action: action, perMemberLimit: limit, budgetPoints: budget, priority: priority, stacking: stacking)
    }
}

@Suite("Promotions on every engine")
struct PromotionTests {
    @Test("Promotions stack by priority, an exclusive one applies alone, and every award is in the breakdown", arguments: TestEngine.available)
    func stacking(engine: TestEngine) async throws {
        try await LedgerFixture.run(engine) { f in
            try await f.configureTiers()
            _ = try await f.ledger.createPromotion(f.draft("DOUBLE", .multiplier(percent: 200)), in: f.program.id)
            _ = try await f.ledger.createPromotion(f.draft("WEB50", .fixed(50), criteria: #"purchase.channel == "web""#), in: f.program.id)
            _ = try await f.ledger.createPromotion(
                f.draft("WINE5", .pointsPerUnit(5), criteria: #"purchase.category == "wine""#, priority: 10, stacking: .exclusive), in: f.program.id)
            // 100.00 of groceries on the web: base 100, double +100, web +50.
            let web = try await f.purchase("P1", 10_000, channel: .web)
            #expect(web.first?.accrual?.parts.map(\.source) == ["base", "promotion DOUBLE", "promotion WEB50"])
            #expect(web.first?.accrual?.total == 250)
            // 100.00 of wine: the exclusive promotion wins; nothing else applies.
            let wine = try await f.purchase("P2", 10_000, category: "wine", channel: .web)
            #expect(wine.first?.accrual?.parts.map(\.source) == ["base", "promotion WINE5"])
            #expect(wine.first?.accrual?.total == 600)
            #expect(try await f.balance().available == 850)
            // Promotions outside their dates do nothing: a month later they have ended.
            f.clock.advance(days: 31)
            #expect(try await f.purchase("P3", 10_000, category: "wine").first?.accrual?.total == 100)
        }
    }

    @Test(
        "Regression: a purchase earning from more promotions than ids were reserved ahead for writes every award with ids of its own",
        arguments: TestEngine.available)
    func moreAwardsThanReserved(engine: TestEngine) async throws {
        try await LedgerFixture.run(engine) { f in
            try await f.configureTiers()
            // Six budgets: eight transfers and six applications for one purchase, where a group
            // reserves three and two a purchase (AccrualWriter.post); the rest come after.
            for n in 1...6 { _ = try await f.ledger.createPromotion(f.draft("B\(n)", .fixed(Int64(n)), budget: 1_000), in: f.program.id) }
            let first = try await f.purchase("P1", 1_000)
            #expect(first.first?.accrual?.parts.map(\.points).sorted() == [1, 2, 3, 4, 5, 6, 10])
            #expect(try await f.purchase("P2", 1_000).first?.accrual?.total == 31)
            #expect(try await f.balance().available == 62)
            #expect(try await f.patron.loyalty.verify().violations == [])
        }
    }

    @Test("Per-member limits, budgets that run out, enrolment, results, and ending gives the budget back", arguments: TestEngine.available)
    func limitsAndBudgets(engine: TestEngine) async throws {
        try await LedgerFixture.run(engine) { f in
            try await f.configureTiers()
            let once = try await f.ledger.createPromotion(f.draft("WELCOME", .fixed(200), limit: 1), in: f.program.id)
            let budgeted = try await f.ledger.createPromotion(f.draft("POOL", .fixed(300), budget: 500), in: f.program.id)
            let optIn = try await f.ledger.createPromotion(f.draft("OPTIN", .fixed(7), enrolment: true), in: f.program.id)
            let first = try await f.purchase("P1", 1_000)
            #expect(first.first?.accrual?.parts.map(\.points) == [10, 200, 300])
            // The welcome bonus is used up; the budget has 200 left, so the award is cut to fit.
            let second = try await f.purchase("P2", 1_000)
            #expect(second.first?.accrual?.parts.map(\.points) == [10, 200])
            // Nothing left in the budget: only base points.
            #expect(try await f.purchase("P3", 1_000).first?.accrual?.total == 10)
            try await f.ledger.enroll(f.member, inPromotion: optIn.id)
            #expect(try await f.purchase("P4", 1_000).first?.accrual?.parts.map(\.source) == ["base", "promotion OPTIN"])
            let results = try await f.ledger.promotionResults(budgeted.id)
            #expect(results.applications == 2 && results.points == 500 && results.budgetLeft == 0 && results.purchaseAmount == 2_000)
            #expect(try await f.ledger.promotionResults(once.id).members == 1)
            #expect(try await f.ledger.promotionResults(optIn.id).enrolled == 1)
            #expect(try await f.balance().available == 40 + 200 + 500 + 7)
            // Ending a promotion with budget left gives it back to the liability.
            let spare = try await f.ledger.createPromotion(f.draft("SPARE", .fixed(10), budget: 1_000), in: f.program.id)
            _ = try await f.purchase("P5", 1_000)
            let ended = try await f.ledger.end(spare.id)
            #expect(ended.endsAt <= f.clock.now)
            #expect(try await f.ledger.promotionResults(spare.id).budgetLeft == 0)
            #expect(try await f.purchase("P6", 1_000).first?.accrual?.total == 17)
        }
    }

    @Test("A return takes back the promotion bonus too, even from a budget", arguments: TestEngine.available)
    func returnTakesBonusBack(engine: TestEngine) async throws {
        try await LedgerFixture.run(engine) { f in
            try await f.configureTiers()
            _ = try await f.ledger.createPromotion(f.draft("TRIPLE", .multiplier(percent: 300), budget: 10_000), in: f.program.id)
            _ = try await f.purchase("P1", 10_000)
            #expect(try await f.balance().available == 300)
            let customer = try await f.ledger.member(f.member).customerID
            let refund = TransactionDetails(
                externalID: "P1-R", kind: .return, occurredAt: f.clock.now, amount: Money(minorUnits: 10_000, currency: "USD"),
                originalExternalID: "P1")
            _ = try await f.patron.intake.submit(refund, identifiers: [CustomerIdentifier(kind: .customerID, value: String(customer.rawValue))])
            #expect(try await f.balance().available == 0)
        }
    }

    @Test("Bad promotions are refused with every field named", arguments: [TestEngine.sqlite])
    func validation(engine: TestEngine) async throws {
        try await LedgerFixture.run(engine) { f in
            var draft = f.draft("x", .multiplier(percent: 90), criteria: "purchase.amount >", limit: 0)
            draft.endsAt = draft.startsAt
            do {
                _ = try await f.ledger.createPromotion(draft, in: f.program.id)
                Issue.record("accepted")
            } catch LoyaltyError.invalid(let errors) {
                #expect(Set(errors.map(\.field)) == ["code", "endsAt", "criteria", "action", "perMemberLimit"])
                #expect(errors.first { $0.field == "criteria" }?.reason.contains("column") == true)
            }
            await #expect(throws: LoyaltyError.invalid([FieldError("action", "no reward NOPE in the program's catalogue")])) {
                _ = try await f.ledger.createPromotion(f.draft("GIFT", .voucher(rewardCode: "NOPE")), in: f.program.id)
            }
        }
    }

    @Test(
        "An import batch earns exactly what the same purchases and returns earn one by one (tiers, promotions and returns across sub-batches)",
        arguments: TestEngine.available)
    func batchEqualsOneByOne(engine: TestEngine) async throws {
        var random = SeededGenerator(seed: 42)
        let purchases: [(customer: Int, minor: Int64, category: String, day: Int)] = (0..<120).map { index in
            // Customers buy at different rates, so they end in different tiers.
            (
                [0, 0, 0, 0, 0, 0, 1, 1, 1, 2, 3][Int(random.next() % 11)], Int64(random.next() % 10_000) + 100,
                ["wine", "grocery", "toys"][Int(random.next() % 3)], index / 4
            )
        }
        // A batch's rows are written in chunks while the next chunk is evaluated: chunks of 7 make
        // every kind of row cross a chunk boundary.
        func run(batch: Bool, chunk: Int? = nil) async throws -> [String] {
            var outcome: [String] = []
            try await LedgerFixture.run(engine) { f in
                try await f.configureTiers()
                _ = try await f.ledger.createPromotion(
                    f.draft(
                        "WINE", .multiplier(percent: 300), criteria: #"purchase.category == "wine" and member.tier in ["Silver", "Gold"]"#, limit: 3),
                    in: f.program.id)
                _ = try await f.ledger.createPromotion(
                    f.draft("BIG", .fixed(250), criteria: "purchase.amount >= 500", budget: 1_500), in: f.program.id)
                _ = try await f.ledger.createPromotion(
                    f.draft("TOYS", .pointsPerUnit(2), criteria: #"purchase.category == "toys""#, priority: 5, stacking: .exclusive), in: f.program.id
                )
                var customers: [CustomerID] = []
                var members: [MemberID] = []
                for index in 0..<4 {
                    let customer = try await f.patron.customers.create(ProfileDraft(firstName: "C\(index)", lastName: "Test"))
                    customers.append(customer.id)
                    members.append(try await f.ledger.enroll(customer.id, in: f.program.id).id)
                }
                let start = f.clock.now
                var rows: [(customer: CustomerID, details: TransactionDetails)] = []
                for (index, p) in purchases.enumerated() {
                    let details = TransactionDetails(
                        externalID: "T\(index)", kind: .purchase, occurredAt: start.addingTimeInterval(Double(p.day) * 86_400 + Double(index)),
                        amount: Money(minorUnits: p.minor, currency: "USD"),
                        lines: [.init(product: p.category, category: p.category, amount: p.minor)])
                    rows.append((customers[p.customer], details))
                    // Every ninth row a partial return of an earlier purchase: the batch is split
                    // there, and tiers and promotion usage must carry across the split.
                    if index % 9 == 8 {
                        let original = rows[rows.count - 4]
                        rows.append(
                            (
                                original.customer,
                                TransactionDetails(
                                    externalID: "R\(index)", kind: .return, occurredAt: details.occurredAt.addingTimeInterval(0.5),
                                    amount: Money(minorUnits: original.details.amount.minorUnits / 2, currency: "USD"),
                                    originalExternalID: original.details.externalID)
                            ))
                    }
                }
                f.clock.advance(days: 40)
                if batch {
                    _ = try await f.patron.customers.insertTransactions(rows)
                    let intake =
                        chunk.map {
                            TransactionIntake(
                                customers: f.patron.customers,
                                loyalty: PointsLedger(store: SQLLedgerStore(database: f.patron.database, accrualChunk: $0), clock: f.patron.loyalty.clock))
                        } ?? f.patron.intake
                    try await intake.accrue(batch: rows)
                } else {
                    for row in rows {
                        _ = try await f.patron.intake.submit(
                            row.details, identifiers: [CustomerIdentifier(kind: .customerID, value: String(row.customer.rawValue))])
                    }
                }
                for member in members {
                    let balance = try await f.ledger.balance(of: member)
                    let tier = try await f.ledger.member(member).tier ?? "-"
                    let changes = try await f.patron.loyalty.tierHistory(of: member).map(\.to).joined(separator: ">")
                    outcome.append("\(tier) \(balance.available) \(try await f.ledger.balance(of: member, .qualifying).available) \(changes)")
                }
            }
            return outcome
        }
        let oneByOne = try await run(batch: false)
        #expect(try await run(batch: true) == oneByOne)
        #expect(try await run(batch: true, chunk: 7) == oneByOne)
        #expect(Set(oneByOne.map { $0.split(separator: " ")[0] }).count > 1, "the history reaches different tiers")
    }
}

@Suite("Rewards and vouchers on every engine")
struct RewardTests {
    @Test("Redeem a reward for a voucher, use it, cancel another for the points back with their expiry", arguments: TestEngine.available)
    func redeemUseCancel(engine: TestEngine) async throws {
        try await LedgerFixture.run(engine) { f in
            try await f.configureTiers()
            let coffee = try await f.ledger.addReward(to: f.program.id, code: "coffee", name: "A coffee", kind: .product, pointsPrice: 150, stock: 2)
            #expect(coffee.code == "COFFEE")
            let lounge = try await f.ledger.addReward(
                to: f.program.id, code: "LOUNGE", name: "Lounge pass", kind: .upgrade, pointsPrice: 10, tiers: ["Gold"])
            _ = try await f.purchase("P1", 40_000)
            let expiry = try await f.balance().nextExpiry
            let voucher = try await f.ledger.redeem(reward: coffee.id, for: f.member, idempotencyKey: "k1")
            #expect(voucher.status == .issued && voucher.points == 150 && voucher.code.hasPrefix("NW-"))
            #expect(try await f.ledger.redeem(reward: coffee.id, for: f.member, idempotencyKey: "k1") == voucher, "the same key, the same voucher")
            #expect(try await f.balance().available == 250)
            // Tier-only rewards refuse other tiers, with the reason.
            await #expect(throws: LoyaltyError.rewardNotAvailable("LOUNGE", reason: "for Gold members only")) {
                _ = try await f.ledger.redeem(reward: lounge.id, for: f.member, idempotencyKey: nil)
            }
            let catalogue = try await f.ledger.catalogue(for: f.member)
            #expect(catalogue.map(\.reward.code) == ["LOUNGE", "COFFEE"])
            #expect(catalogue.map(\.unavailable) == ["for Gold members only", nil])
            // Used vouchers cannot be cancelled; issued ones can, and the points come back with their expiry.
            let used = try await f.ledger.use(voucher: voucher.id)
            #expect(used.status == .used)
            await #expect(throws: LoyaltyError.voucherClosed(voucher.code, status: "used")) { _ = try await f.ledger.cancel(voucher: voucher.id) }
            let second = try await f.ledger.redeem(reward: coffee.id, for: f.member, idempotencyKey: "k2")
            await #expect(throws: LoyaltyError.outOfStock("COFFEE")) {
                _ = try await f.ledger.redeem(reward: coffee.id, for: f.member, idempotencyKey: "k3")
            }
            #expect(try await f.balance().available == 100)
            let cancelled = try await f.ledger.cancel(voucher: second.id)
            #expect(cancelled.status == .cancelled)
            let balance = try await f.balance()
            #expect(balance.available == 250)
            #expect(balance.nextExpiry?.on == expiry?.on)
            #expect(try await f.ledger.reward(coffee.id).stock == 1)
        }
    }

    @Test("A promotion can give a voucher, while the reward is in stock", arguments: TestEngine.available)
    func promotionVoucher(engine: TestEngine) async throws {
        try await LedgerFixture.run(engine) { f in
            try await f.configureTiers()
            _ = try await f.ledger.addReward(to: f.program.id, code: "TOTE", name: "Tote bag", kind: .product, pointsPrice: 500, stock: 1)
            _ = try await f.ledger.createPromotion(f.draft("BAG", .voucher(rewardCode: "TOTE"), criteria: "purchase.amount > 50"), in: f.program.id)
            let first = try await f.purchase("P1", 6_000)
            #expect(first.first?.vouchers.count == 1)
            #expect(first.first?.vouchers.first?.points == 0)
            #expect(try await f.purchase("P2", 6_000).first?.vouchers.isEmpty == true, "out of stock")
            #expect(try await f.ledger.vouchers(of: f.member).count == 1)
        }
    }

    @Test("32 simultaneous redemptions against points for one give exactly one voucher", arguments: TestEngine.available)
    func concurrentRedemptions(engine: TestEngine) async throws {
        try await LedgerFixture.run(engine) { f in
            try await f.configureTiers()
            let gift = try await f.ledger.addReward(to: f.program.id, code: "GIFT", name: "Gift", kind: .product, pointsPrice: 100)
            _ = try await f.purchase("P1", 10_000)
            let ledger = f.ledger, member = f.member
            let successes = await withTaskGroup(of: Bool.self) { group in
                for index in 0..<32 {
                    group.addTask { (try? await ledger.redeem(reward: gift.id, for: member, idempotencyKey: "r\(index)")) != nil }
                }
                return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(successes == 1)
            #expect(try await f.ledger.vouchers(of: f.member).count == 1)
            #expect(try await f.balance().available == 0)
        }
    }
}

@Suite("Per-period caps on every engine")
struct PeriodCapTests {
    @Test("A member earns at most the monthly cap, in real time and in a batch; the next month starts afresh", arguments: TestEngine.available)
    func monthlyCap(engine: TestEngine) async throws {
        try await LedgerFixture.run(engine) { f in
            try await f.ledger.configure(f.program.id, rules: EarningRules(pointsPerUnit: 1, maxPerMonth: 250), tiers: nil)
            #expect(try await f.purchase("P1", 20_000).first?.accrual?.total == 200)
            let second = try await f.purchase("P2", 20_000).first?.accrual
            #expect(second?.parts.map(\.source) == ["base", "monthly cap"])
            #expect(second?.total == 50)
            #expect(try await f.purchase("P3", 20_000).first?.accrual?.total == 0)
            // In a batch, the same cap holds across the batch's purchases.
            f.clock.advance(days: 31)
            let customer = try await f.ledger.member(f.member).customerID
            let rows = (4...6).map { n in
                (
                    customer: customer,
                    details: TransactionDetails(
                        externalID: "P\(n)", occurredAt: f.clock.now.addingTimeInterval(Double(n)), amount: Money(minorUnits: 10_000, currency: "USD")
                    )
                )
            }
            f.clock.advance(days: 1)
            _ = try await f.patron.customers.insertTransactions(rows)
            try await f.patron.intake.accrue(batch: rows)
            #expect(try await f.balance().available == 250 + 250)
        }
    }
}
