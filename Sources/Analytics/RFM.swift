import Foundation

/// One customer's behaviour as of a date, the input of RFM and value tiers.
public struct CustomerActivity: Sendable, Hashable {
    public var customer: Int64
    /// Days since the last purchase (nil: never bought).
    public var daysSinceLastPurchase: Int?
    /// Purchases (days with a purchase) in the window.
    public var purchases: Int
    /// Revenue in the window, in minor units.
    public var revenue: Int64

    public init(customer: Int64, daysSinceLastPurchase: Int?, purchases: Int, revenue: Int64) {
        self.customer = customer
        self.daysSinceLastPurchase = daysSinceLastPurchase
        self.purchases = purchases
        self.revenue = revenue
    }
}

/// Recency, frequency and monetary scores of 1–5 (5 best) by quintile, and the named segment of
/// the usual R×F map. Ties always share a score: a customer's score is 1 + ⌊5 × (share of
/// customers strictly worse)⌋, so the result does not depend on input order.
public struct RFMScore: Sendable, Hashable, Codable {
    public var recency: Int
    public var frequency: Int
    public var monetary: Int
    public var segment: RFMSegment

    public var code: String { "\(recency)\(frequency)\(monetary)" }

    public init(recency: Int, frequency: Int, monetary: Int, segment: RFMSegment) {
        self.recency = recency
        self.frequency = frequency
        self.monetary = monetary
        self.segment = segment
    }
}

public enum RFMSegment: String, Sendable, Hashable, Codable, CaseIterable {
    case champions, loyal = "loyal_customers", potentialLoyalists = "potential_loyalists", newCustomers = "new_customers"
    case promising, needAttention = "need_attention", aboutToSleep = "about_to_sleep", atRisk = "at_risk"
    case cantLose = "cant_lose", hibernating
    /// Never bought.
    case prospects

    /// The standard R×F grid (as in the `rfm` R package and most RFM guides).
    public init(recency r: Int, frequency f: Int) {
        switch (r, f) {
        case (5, 4...5): self = .champions
        case (3...4, 4...5): self = .loyal
        case (4...5, 2...3): self = .potentialLoyalists
        case (5, 1): self = .newCustomers
        case (4, 1): self = .promising
        case (3, 3): self = .needAttention
        case (3, 1...2): self = .aboutToSleep
        case (1...2, 5): self = .cantLose
        case (1...2, 3...4): self = .atRisk
        default: self = .hibernating
        }
    }

    public var label: String {
        switch self {
        case .champions: "Champions"
        case .loyal: "Loyal customers"
        case .potentialLoyalists: "Potential loyalists"
        case .newCustomers: "New customers"
        case .promising: "Promising"
        case .needAttention: "Need attention"
        case .aboutToSleep: "About to sleep"
        case .atRisk: "At risk"
        case .cantLose: "Can't lose them"
        case .hibernating: "Hibernating"
        case .prospects: "Prospects"
        }
    }
}

public enum RFM {
    /// Scores for every customer who bought (those who never did are `prospects` with zeros).
    public static func score(_ customers: [CustomerActivity]) -> [Int64: RFMScore] {
        let buyers = customers.filter { $0.daysSinceLastPurchase != nil && $0.purchases > 0 }
        // Higher is better for every key: recency is negated.
        let r = quintiles(buyers.map { -Double($0.daysSinceLastPurchase!) })
        let f = quintiles(buyers.map { Double($0.purchases) })
        let m = quintiles(buyers.map { Double($0.revenue) })
        var result: [Int64: RFMScore] = [:]
        result.reserveCapacity(customers.count)
        for (i, c) in buyers.enumerated() {
            result[c.customer] = RFMScore(recency: r[i], frequency: f[i], monetary: m[i], segment: RFMSegment(recency: r[i], frequency: f[i]))
        }
        for c in customers where result[c.customer] == nil {
            result[c.customer] = RFMScore(recency: 0, frequency: 0, monetary: 0, segment: .prospects)
        }
        return result
    }

    /// 1 + ⌊5 × (values strictly below) / n⌋, ties sharing a score.
    static func quintiles(_ values: [Double]) -> [Int] {
        let n = values.count
        guard n > 0 else { return [] }
        let order = values.indices.sorted { values[$0] < values[$1] }
        var scores = [Int](repeating: 0, count: n)
        var below = 0
        var i = 0
        while i < n {
            var j = i
            while j + 1 < n && values[order[j + 1]] == values[order[i]] { j += 1 }
            let score = 1 + min(4, 5 * below / n)
            for k in i...j { scores[order[k]] = score }
            below = j + 1
            i = j + 1
        }
        return scores
    }
}

/// Concentration of revenue: the share of revenue from the top x % of customers.
public struct ParetoCurve: Sendable, Codable {
    public struct Point: Sendable, Codable, Hashable {
        public var customerShare: Double
        public var revenueShare: Double
        enum CodingKeys: String, CodingKey {
            case customerShare = "customer_share"
            case revenueShare = "revenue_share"
        }
    }
    /// 101 points, top 0 % to top 100 % of customers.
    public var points: [Point]
    /// Revenue share of the top 20 % of customers.
    public var top20RevenueShare: Double
    /// The smallest share of customers that brings 80 % of revenue.
    public var customerShareFor80: Double
    public var customers: Int
    public var revenue: Int64

    enum CodingKeys: String, CodingKey {
        case points
        case top20RevenueShare = "top20_revenue_share"
        case customerShareFor80 = "customer_share_for_80"
        case customers, revenue
    }

    public init(revenues: [Int64]) {
        let sorted = revenues.map { max(0, $0) }.sorted(by: >)
        var cumulative = [Int64](repeating: 0, count: sorted.count + 1)
        for (i, v) in sorted.enumerated() { cumulative[i + 1] = cumulative[i] + v }
        let total = cumulative.last!
        let n = sorted.count
        func share(ofTop k: Int) -> Double { total == 0 ? 0 : Double(cumulative[k]) / Double(total) }
        points = (0...100).map { p in
            let k = Int((Double(n) * Double(p) / 100).rounded())
            return Point(customerShare: Double(p) / 100, revenueShare: share(ofTop: k))
        }
        top20RevenueShare = share(ofTop: Int((Double(n) * 0.2).rounded()))
        let needed = cumulative.firstIndex { Double($0) >= 0.8 * Double(total) } ?? n
        customerShareFor80 = n == 0 ? 0 : Double(needed) / Double(n)
        customers = n
        revenue = total
    }
}

/// Value tiers A–D from predicted and current value: customers sorted by CLV plus the last
/// twelve months' revenue; A are the most valuable customers bringing the first half of all
/// value, B the next 30 %, C the next 15 %, D the rest (and everyone with no value).
public enum ValueTier: String, Sendable, Codable, CaseIterable, Comparable {
    case a = "A", b = "B", c = "C", d = "D"

    public static func < (l: ValueTier, r: ValueTier) -> Bool { l.rawValue < r.rawValue }

    public static func assign(_ values: [Int64: Double]) -> [Int64: ValueTier] {
        let sorted = values.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
        let total = sorted.reduce(0) { $0 + max(0, $1.value) }
        var result: [Int64: ValueTier] = [:]
        result.reserveCapacity(sorted.count)
        var before = 0.0
        for (customer, value) in sorted {
            let tier: ValueTier
            if value <= 0 || total <= 0 {
                tier = .d
            } else {
                // The tier of the value band where this customer's value starts.
                let share = before / total
                tier = share < 0.5 ? .a : share < 0.8 ? .b : share < 0.95 ? .c : .d
            }
            result[customer] = tier
            before += max(0, value)
        }
        return result
    }
}
