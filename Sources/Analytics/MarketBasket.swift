import Foundation
import SharedModels

/// Frequent itemsets by FP-growth (Han, Pei & Yin 2000) and association rules over baskets of
/// item names (products or categories).
public struct MarketBasket: Sendable {
    public struct Itemset: Sendable, Hashable {
        /// Item names, in the vocabulary's order.
        public var items: [String]
        /// Baskets containing every item.
        public var count: Int
    }

    public struct Rule: Sendable, Hashable, Codable {
        public var antecedent: [String]
        public var consequent: [String]
        /// Share of baskets holding antecedent and consequent.
        public var support: Double
        public var confidence: Double
        public var lift: Double
        /// (1 − support(consequent)) / (1 − confidence); infinite for a rule that always holds.
        public var conviction: Double
        /// Baskets holding the antecedent, and those holding both.
        public var antecedentCount: Int
        public var count: Int

        enum CodingKeys: String, CodingKey {
            case antecedent, consequent, support, confidence, lift, conviction
            case antecedentCount = "antecedent_count"
            case count
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(antecedent, forKey: .antecedent)
            try c.encode(consequent, forKey: .consequent)
            try c.encode(support, forKey: .support)
            try c.encode(confidence, forKey: .confidence)
            try c.encode(lift, forKey: .lift)
            // JSON has no infinity: a rule that always holds has no conviction figure.
            if conviction.isFinite { try c.encode(conviction, forKey: .conviction) } else { try c.encodeNil(forKey: .conviction) }
            try c.encode(antecedentCount, forKey: .antecedentCount)
            try c.encode(count, forKey: .count)
        }
    }

    public let basketCount: Int
    public let minimumCount: Int
    /// Item names by index; indices are ordered by descending frequency.
    public let vocabulary: [String]
    /// Every frequent itemset as sorted item indices, with its count.
    public let itemsets: [[Int32]: Int]

    /// The minimum count for a support given as a share of baskets, rounded as Weka does
    /// (0.15 of 4,627 baskets is 694); a value of 1 or more is a count of baskets. A count above
    /// the number of baskets (or a support that is not a number) finds nothing rather than trapping.
    public static func minimumCount(support: Double, baskets: Int) -> Int {
        guard support.isFinite, support > 0 else { return baskets + 1 }
        if support >= 1 { return Int(min(support, Double(baskets + 1))) }
        return max(1, Int(support * Double(baskets) + 0.5))
    }

    /// Mines every itemset held by at least `minimumCount` baskets. Repeated items in a basket count once.
    public init(baskets: [[String]], minimumCount: Int) {
        var index: [String: Int] = [:]
        var names: [String] = []
        var counts: [Int] = []
        var encoded: [[Int]] = []
        encoded.reserveCapacity(baskets.count)
        for basket in baskets {
            var seen = Set<Int>()
            var row: [Int] = []
            for item in basket {
                let i: Int
                if let known = index[item] {
                    i = known
                } else {
                    i = names.count
                    index[item] = i
                    names.append(item)
                    counts.append(0)
                }
                if seen.insert(i).inserted {
                    row.append(i)
                    counts[i] += 1
                }
            }
            encoded.append(row)
        }
        // Frequent items, most frequent first (ties by name so results do not depend on input order).
        let frequent = names.indices.filter { counts[$0] >= minimumCount }.sorted {
            counts[$0] != counts[$1] ? counts[$0] > counts[$1] : names[$0] < names[$1]
        }
        var rank = [Int32](repeating: -1, count: names.count)
        for (r, i) in frequent.enumerated() { rank[i] = Int32(r) }
        var tree = FPTree(itemCount: frequent.count)
        var path: [Int32] = []
        for row in encoded {
            path.removeAll(keepingCapacity: true)
            for i in row where rank[i] >= 0 { path.append(rank[i]) }
            path.sort()
            tree.insert(path, count: 1)
        }
        var found: [[Int32]: Int] = [:]
        var suffix: [Int32] = []
        tree.mine(suffix: &suffix, minimumCount: minimumCount) { items, count in found[items.sorted()] = count }
        self.basketCount = baskets.count
        self.minimumCount = minimumCount
        self.vocabulary = frequent.map { names[$0] }
        self.itemsets = found
    }

    /// Number of frequent itemsets by size, size 1 first.
    public var itemsetsBySize: [Int] {
        var sizes: [Int] = []
        for key in itemsets.keys {
            while sizes.count < key.count { sizes.append(0) }
            sizes[key.count - 1] += 1
        }
        return sizes
    }

    public func names(_ items: [Int32]) -> [String] { items.map { vocabulary[Int($0)] } }

    /// Every rule A ⇒ C from a frequent itemset split into two non-empty parts (multi-item
    /// consequents included), with confidence at least `minimumConfidence`; best first by
    /// confidence, then support, then lift.
    public func rules(minimumConfidence: Double) -> [Rule] {
        let n = Double(basketCount)
        // Every itemset keyed by the XOR of its items' random 128-bit codes (Zobrist hashing), so
        // a split's two halves are looked up without building arrays for them.
        var generator = SeededGenerator(seed: 0x5EED)
        let codes = (0..<vocabulary.count).map { _ in Key(a: generator.next(), b: generator.next()) }
        var counts: [Key: Int] = [:]
        counts.reserveCapacity(itemsets.count)
        for (items, count) in itemsets {
            counts[items.reduce(Key(a: 0, b: 0)) { $0 ^ codes[Int($1)] }] = count
        }
        var rules: [Rule] = []
        var itemCodes: [Key] = []
        for (items, count) in itemsets where items.count > 1 {
            let k = items.count
            itemCodes.removeAll(keepingCapacity: true)
            var whole = Key(a: 0, b: 0)
            for item in items {
                itemCodes.append(codes[Int(item)])
                whole = whole ^ codes[Int(item)]
            }
            // Every proper non-empty subset as antecedent, by bit mask.
            for mask in 1..<((1 << k) - 1) {
                var antecedentKey = Key(a: 0, b: 0)
                for bit in 0..<k where mask & (1 << bit) != 0 { antecedentKey = antecedentKey ^ itemCodes[bit] }
                guard let antecedentCount = counts[antecedentKey] else { continue }
                // support(A ∪ C) / support(A), from the supports as shares, exactly as arules and
                // mlxtend compute it, so thresholds cut at the same rules (504/560 is 0.8999…).
                let confidence = (Double(count) / n) / (Double(antecedentCount) / n)
                guard confidence >= minimumConfidence, let consequentCount = counts[whole ^ antecedentKey] else { continue }
                var antecedent: [Int32] = []
                var consequent: [Int32] = []
                for bit in 0..<k {
                    if mask & (1 << bit) != 0 { antecedent.append(items[bit]) } else { consequent.append(items[bit]) }
                }
                let consequentShare = Double(consequentCount) / n
                rules.append(
                    Rule(
                        antecedent: names(antecedent), consequent: names(consequent), support: Double(count) / n, confidence: confidence,
                        lift: confidence / consequentShare, conviction: confidence >= 1 ? .infinity : (1 - consequentShare) / (1 - confidence),
                        antecedentCount: antecedentCount, count: count))
            }
        }
        rules.sort {
            if $0.confidence != $1.confidence { return $0.confidence > $1.confidence }
            if $0.count != $1.count { return $0.count > $1.count }
            if $0.lift != $1.lift { return $0.lift > $1.lift }
            return ($0.antecedent + ["⇒"] + $0.consequent).lexicographicallyPrecedes($1.antecedent + ["⇒"] + $1.consequent)
        }
        return rules
    }

    /// A 128-bit set fingerprint: the XOR of its members' random codes.
    struct Key: Hashable {
        var a: UInt64
        var b: UInt64
        static func ^ (l: Key, r: Key) -> Key { Key(a: l.a ^ r.a, b: l.b ^ r.b) }
    }

    /// Cross-sell: the items these rules recommend to a customer who bought `bought` — rules whose
    /// antecedent they match and whose consequent holds something they have not bought — best
    /// rule first, each item once.
    public static func recommendations(for bought: Set<String>, rules: [Rule], limit: Int = 3) -> [(item: String, rule: Rule)] {
        var result: [(item: String, rule: Rule)] = []
        var offered = Set<String>()
        for rule in rules where rule.antecedent.allSatisfy(bought.contains) {
            for item in rule.consequent where !bought.contains(item) && offered.insert(item).inserted {
                result.append((item, rule))
                if result.count == limit { return result }
            }
        }
        return result
    }
}

/// An FP-tree in flat arrays: node i has an item, a count, a parent and the next node of the same item.
struct FPTree {
    var item: [Int32] = [-1]
    var count: [Int] = [0]
    var parent: [Int32] = [-1]
    var firstChild: [Int32] = [-1]
    var nextSibling: [Int32] = [-1]
    var nextSame: [Int32] = [-1]
    /// Per item: first node and the item's total count in this tree.
    var head: [Int32]
    var total: [Int]

    init(itemCount: Int) {
        head = [Int32](repeating: -1, count: itemCount)
        total = [Int](repeating: 0, count: itemCount)
    }

    /// Adds a path of items in ascending rank order (most frequent first).
    mutating func insert(_ path: [Int32], count c: Int) {
        var node: Int32 = 0
        for it in path {
            var child = firstChild[Int(node)]
            while child >= 0 && item[Int(child)] != it { child = nextSibling[Int(child)] }
            if child < 0 {
                if firstChild[Int(node)] >= 0 { branched = true }
                child = Int32(item.count)
                item.append(it)
                count.append(0)
                parent.append(node)
                firstChild.append(-1)
                nextSibling.append(firstChild[Int(node)])
                firstChild[Int(node)] = child
                nextSame.append(head[Int(it)])
                head[Int(it)] = child
            }
            count[Int(child)] += c
            total[Int(it)] += c
            node = child
        }
    }

    /// Whether some node has two children (a tree that is one path is mined without recursion).
    var branched = false

    /// Calls `emit` with every frequent itemset that ends in `suffix` (the stack is restored on return).
    func mine(suffix: inout [Int32], minimumCount: Int, _ emit: ([Int32], Int) -> Void) {
        if !branched {
            // One path: every combination of its frequent nodes is frequent, with the count of
            // its deepest node (counts only fall along a path).
            var nodes: [Int] = []
            var node = firstChild[0]
            while node >= 0, count[Int(node)] >= minimumCount {
                nodes.append(Int(node))
                node = firstChild[Int(node)]
            }
            guard !nodes.isEmpty, nodes.count < 31 else {
                if nodes.isEmpty { return }
                mineBranches(suffix: &suffix, minimumCount: minimumCount, emit)
                return
            }
            let base = suffix.count
            for mask in 1..<(1 << nodes.count) {
                suffix.removeSubrange(base...)
                var deepest = 0
                for (bit, n) in nodes.enumerated() where mask & (1 << bit) != 0 {
                    suffix.append(item[n])
                    deepest = n
                }
                emit(suffix, count[deepest])
            }
            suffix.removeSubrange(base...)
            return
        }
        mineBranches(suffix: &suffix, minimumCount: minimumCount, emit)
    }

    private func mineBranches(suffix: inout [Int32], minimumCount: Int, _ emit: ([Int32], Int) -> Void) {
        var path: [Int32] = []
        var counts: [Int] = []
        // Least frequent item first, as FP-growth does.
        for it in stride(from: head.count - 1, through: 0, by: -1) where total[it] >= minimumCount {
            suffix.append(Int32(it))
            defer { suffix.removeLast() }
            emit(suffix, total[it])
            // The conditional pattern base: the prefix path of every node of this item.
            counts.removeAll(keepingCapacity: true)
            counts.append(contentsOf: repeatElement(0, count: it))
            var node = head[it]
            while node >= 0 {
                var p = parent[Int(node)]
                let c = count[Int(node)]
                while p > 0 {
                    counts[Int(item[Int(p)])] += c
                    p = parent[Int(p)]
                }
                node = nextSame[Int(node)]
            }
            guard counts.contains(where: { $0 >= minimumCount }) else { continue }
            var conditional = FPTree(itemCount: it)
            node = head[it]
            while node >= 0 {
                path.removeAll(keepingCapacity: true)
                var p = parent[Int(node)]
                while p > 0 {
                    let i = item[Int(p)]
                    if counts[Int(i)] >= minimumCount { path.append(i) }
                    p = parent[Int(p)]
                }
                if !path.isEmpty {
                    path.reverse()
                    conditional.insert(path, count: count[Int(node)])
                }
                node = nextSame[Int(node)]
            }
            conditional.mine(suffix: &suffix, minimumCount: minimumCount, emit)
        }
    }
}
