import Customers
import Expressions
import Foundation
import Loyalty
import PropertyBased
import SharedModels
import Testing

@Suite("Earning rules and tiers")
struct EarningRulesTests {
    func purchase(_ lines: [(String, Int64)], channel: Channel = .store, store: String = "S1") -> TransactionDetails {
        TransactionDetails(
            externalID: "T1", occurredAt: Date(epochSeconds: 1_767_225_600),
            amount: Money(minorUnits: lines.reduce(0) { $0 + $1.1 }, currency: "USD"),
            store: store, channel: channel, lines: lines.map { .init(product: $0.0, category: $0.0, amount: $0.1) })
    }

    @Test("Base points by category and channel, tier multiplier, bonus with criteria, and caps, with a breakdown")
    func breakdown() throws {
        let rules = EarningRules(
            pointsPerUnit: 1, categoryPercent: ["wine": 200], channelPercent: ["web": 150], tierPercent: ["Gold": 150],
            bonuses: [
                try BonusRule(
                    name: "Wine week", criteria: #"purchase.category == "wine" and member.tier in ["Gold", "Platinum"]"#, action: .percentOfBase(100)),
                try BonusRule(name: "Big basket", criteria: "purchase.amount >= 100", action: .fixed(50), cap: 40),
            ])
        let accrual = Accrual.compute(purchase([("wine", 4_599), ("cheese", 1_250)]), tier: "Gold", rules: rules)
        // wine 45.99 × 2 = 91 (rounded down), cheese 12.50 × 1 = 12: base 103
        #expect(accrual.parts.map(\.source) == ["base", "tier Gold", "bonus Wine week"])
        #expect(accrual.parts.map(\.points) == [103, 51, 103])
        #expect(accrual.total == 257)
        let web = Accrual.compute(purchase([("books", 10_000)], channel: .web), tier: nil, rules: rules)
        #expect(web.parts.map(\.points) == [150, 40])
        var capped = rules
        capped.maxPerTransaction = 120
        #expect(Accrual.compute(purchase([("wine", 4_599), ("cheese", 1_250)]), tier: "Gold", rules: capped).total == 120)
    }

    @Test("Rates by product and by store or partner outlet, and each rounding")
    func productStoreRounding() {
        var rules = EarningRules(pointsPerUnit: 1, categoryPercent: ["wine": 200], productPercent: ["wine": 300], storePercent: ["HOTEL": 200])
        // The product's rate wins over its category's: 10.50 × 3 = 31.5 → 31 rounded down.
        #expect(Accrual.compute(purchase([("wine", 1_050)]), tier: nil, rules: rules).total == 31)
        // At the partner outlet, twice that: 63.
        #expect(Accrual.compute(purchase([("wine", 1_050)], store: "HOTEL"), tier: nil, rules: rules).total == 63)
        rules.rounding = .nearest
        #expect(Accrual.compute(purchase([("wine", 1_050)]), tier: nil, rules: rules).total == 32)
        #expect(Accrual.compute(purchase([("bread", 1_049)]), tier: nil, rules: rules).total == 10)
        rules.rounding = .up
        #expect(Accrual.compute(purchase([("bread", 1_001)]), tier: nil, rules: rules).total == 11)
        #expect(Accrual.compute(purchase([("bread", 1_000)]), tier: nil, rules: rules).total == 10)
    }

    @Test("Rules stored before a field existed read with its default, and tiers carry benefits")
    func olderRules() throws {
        let old = Data(#"{"pointsPerUnit":2,"categoryPercent":{},"channelPercent":{},"tierPercent":{},"bonuses":[]}"#.utf8)
        let rules = try JSONDecoder().decode(EarningRules.self, from: old)
        #expect(rules == EarningRules(pointsPerUnit: 2))
        let policy = try! TierPolicy(tiers: [.init(name: "Blue", threshold: 0), .init(name: "Gold", threshold: 10, benefits: ["lounge", "fast_lane"])])
        let decoded = try JSONDecoder().decode(TierPolicy.self, from: try JSONEncoder().encode(policy))
        #expect(decoded.benefits(of: "Gold") == ["lounge", "fast_lane"])
        #expect(decoded.benefits(of: "Blue").isEmpty)
    }

    @Test("A bonus rule with a bad criterion is refused with its position")
    func badCriteria() {
        #expect(throws: ExpressionError.self) { try BonusRule(name: "x", criteria: "purchase.colour == \"red\"", action: .fixed(1)) }
    }

    @Test("Accrual never goes negative and grows with the amount")
    func monotone() async {
        let rules = EarningRules(pointsPerUnit: 2, categoryPercent: ["a": 300], tierPercent: ["Gold": 125])
        await propertyCheck(input: Gen.int(in: 0...1_000_000), Gen.int(in: 0...1_000_000)) { a, b in
            let small = Accrual.compute(purchase([("a", Int64(min(a, b)))]), tier: "Gold", rules: rules).total
            let large = Accrual.compute(purchase([("a", Int64(max(a, b)))]), tier: "Gold", rules: rules).total
            #expect(small >= 0 && small <= large)
        }
    }

    let tiers = try! TierPolicy(tiers: [
        .init(name: "Blue", threshold: 0), .init(name: "Silver", threshold: 1000), .init(name: "Gold", threshold: 3000),
        .init(name: "Platinum", threshold: 6000),
    ])

    @Test("Upgrades are immediate; downgrades wait for the review and fall one tier at most")
    func tierMoves() {
        #expect(tiers.afterEarning(current: "Blue", points: 3200).name == "Gold")
        #expect(tiers.afterEarning(current: "Gold", points: 100).name == "Gold")
        #expect(tiers.review(current: "Platinum", points: 0).name == "Gold")
        #expect(tiers.review(current: "Silver", points: 7000).name == "Platinum")
        #expect(try! TierPolicy(tiers: tiers.tiers, softLanding: false).review(current: "Platinum", points: 0).name == "Blue")
        #expect(tiers.progress(current: "Silver", points: 1750)?.missing == 1250)
        #expect(tiers.progress(current: "Platinum", points: 9000) == nil)
    }

    @Test("Regression: a period whose returns outweigh its purchases leaves the member where they are, without crashing")
    func negativePeriod() {
        #expect(tiers.tier(for: -250).name == "Blue")
        #expect(tiers.afterEarning(current: "Silver", points: -250).name == "Silver")
        #expect(tiers.review(current: "Gold", points: -250).name == "Silver")
    }
}
