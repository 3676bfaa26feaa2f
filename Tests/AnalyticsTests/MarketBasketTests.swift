import Foundation
import SharedModels
import Testing

@testable import Analytics

@Suite struct MarketBasketTests {
    static func supermarket() throws -> [[String]] {
        try SharedData.lines("weka_supermarket_baskets.csv").map { $0.split(separator: ",").map(String.init) }
    }

    @Test func reproducesWekaOnTheSupermarketBaskets() throws {
        let baskets = try Self.supermarket()
        #expect(baskets.count == 4627)
        let minimum = MarketBasket.minimumCount(support: 0.15, baskets: baskets.count)
        #expect(minimum == 694)
        let mined = MarketBasket(baskets: baskets, minimumCount: minimum)
        #expect(mined.itemsetsBySize == [44, 380, 910, 633, 105, 1])
        let rules = mined.rules(minimumConfidence: 0.9)
        #expect(rules.count == 16)
        let best = try #require(rules.first)
        #expect(best.antecedent.sorted() == ["biscuits", "frozen foods", "fruit", "total=high"])
        #expect(best.consequent == ["bread and cake"])
        #expect(best.count == 723 && best.antecedentCount == 788)
        #expect(String(format: "%.2f", best.confidence) == "0.92")
    }

    @Test func reproducesTheTenPercentFigures() throws {
        let baskets = try Self.supermarket()
        let mined = MarketBasket(baskets: baskets, minimumCount: MarketBasket.minimumCount(support: 0.10, baskets: baskets.count))
        #expect(mined.itemsets.count == 10_282)
        #expect(mined.rules(minimumConfidence: 0.9).count == 457)
    }

    /// Every itemset's count equals a brute-force count, and no frequent pair is missed.
    @Test func countsAgreeWithBruteForce() {
        var generator = SeededGenerator(seed: 7)
        let items = ["a", "b", "c", "d", "e", "f", "g"]
        let baskets = (0..<300).map { _ in items.filter { _ in generator.next() % 3 == 0 } }
        let mined = MarketBasket(baskets: baskets, minimumCount: 8)
        for (key, count) in mined.itemsets {
            let names = Set(mined.names(key))
            #expect(baskets.filter { names.isSubset(of: Set($0)) }.count == count)
        }
        for x in items {
            for y in items where x < y {
                let count = baskets.filter { $0.contains(x) && $0.contains(y) }.count
                let found = mined.itemsets.contains { Set(mined.names($0.key)) == [x, y] }
                #expect(found == (count >= 8))
            }
        }
        // Multi-item consequents are included, and metrics follow their definitions.
        for rule in mined.rules(minimumConfidence: 0) {
            #expect(abs(rule.confidence - Double(rule.count) / Double(rule.antecedentCount)) < 1e-9)
            #expect(rule.lift > 0)
        }
        #expect(mined.rules(minimumConfidence: 0).contains { $0.consequent.count > 1 })
    }

    @Test func recommendsWhatTheCustomerHasNotBought() throws {
        let baskets = try Self.supermarket()
        let rules = MarketBasket(baskets: baskets, minimumCount: 694).rules(minimumConfidence: 0.8)
        let offers = MarketBasket.recommendations(for: ["biscuits", "frozen foods", "fruit", "total=high"], rules: rules)
        #expect(offers.first?.item == "bread and cake")
        #expect(offers.allSatisfy { !["biscuits", "frozen foods", "fruit", "total=high"].contains($0.item) })
    }
}
