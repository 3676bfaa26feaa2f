import Customers
import Expressions
import Foundation
import SharedModels

/// How a program's members earn points on purchases: a base rate per currency unit, rates by
/// category and channel, tier multipliers, bonus rules written in the rule language, and caps.
/// Pure: the same transaction and member always earn the same points.
public struct EarningRules: Sendable, Equatable, Codable {
    /// How fractional points are rounded, per product line.
    public enum Rounding: String, Sendable, Equatable, Codable, CaseIterable {
        case down
        case nearest
        case up
    }

    /// Points per whole currency unit (e.g. 1 point per dollar), before multipliers.
    public var pointsPerUnit: Int64
    /// Percent of the base rate by product category (e.g. `["wine": 200]` earns double on wine).
    public var categoryPercent: [String: Int64]
    /// Percent of the base rate by product (e.g. `["Trail Runner": 300]`); wins over the category's.
    public var productPercent: [String: Int64]
    /// Percent of the base rate by channel (e.g. `["web": 150]`).
    public var channelPercent: [String: Int64]
    /// Percent of the base rate by store or partner outlet (e.g. `["S1": 200]`, `["HOTEL-ACME": 300]`).
    public var storePercent: [String: Int64]
    /// Percent of the base points a tier earns on top of nothing (e.g. `["Gold": 150]` for ×1.5).
    public var tierPercent: [String: Int64]
    public var bonuses: [BonusRule]
    /// No transaction earns more than this, bonuses included.
    public var maxPerTransaction: Int64?
    /// No member earns more than this from purchases in one calendar month (promotions apart).
    public var maxPerMonth: Int64?
    public var rounding: Rounding

    public init(
        pointsPerUnit: Int64, categoryPercent: [String: Int64] = [:], productPercent: [String: Int64] = [:], channelPercent: [String: Int64] = [:],
        storePercent: [String: Int64] = [:], tierPercent: [String: Int64] = [:], bonuses: [BonusRule] = [], maxPerTransaction: Int64? = nil,
        maxPerMonth: Int64? = nil, rounding: Rounding = .down
    ) {
        self.pointsPerUnit = pointsPerUnit
        self.categoryPercent = categoryPercent
        self.productPercent = productPercent
        self.channelPercent = channelPercent
        self.storePercent = storePercent
        self.tierPercent = tierPercent
        self.bonuses = bonuses
        self.maxPerTransaction = maxPerTransaction
        self.maxPerMonth = maxPerMonth
        self.rounding = rounding
    }

    enum CodingKeys: String, CodingKey {
        case pointsPerUnit, categoryPercent, productPercent, channelPercent, storePercent, tierPercent, bonuses, maxPerTransaction, maxPerMonth,
            rounding
    }

    /// Reads rules stored before a field existed with that field's default.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            pointsPerUnit: try c.decode(Int64.self, forKey: .pointsPerUnit),
            categoryPercent: try c.decodeIfPresent([String: Int64].self, forKey: .categoryPercent) ?? [:],
            productPercent: try c.decodeIfPresent([String: Int64].self, forKey: .productPercent) ?? [:],
            channelPercent: try c.decodeIfPresent([String: Int64].self, forKey: .channelPercent) ?? [:],
            storePercent: try c.decodeIfPresent([String: Int64].self, forKey: .storePercent) ?? [:],
            tierPercent: try c.decodeIfPresent([String: Int64].self, forKey: .tierPercent) ?? [:],
            bonuses: try c.decodeIfPresent([BonusRule].self, forKey: .bonuses) ?? [],
            maxPerTransaction: try c.decodeIfPresent(Int64.self, forKey: .maxPerTransaction),
            maxPerMonth: try c.decodeIfPresent(Int64.self, forKey: .maxPerMonth),
            rounding: try c.decodeIfPresent(Rounding.self, forKey: .rounding) ?? .down)
    }

    /// The fields a bonus rule may use.
    public static let schema = Schema(fields: [
        "purchase.amount": .number, "purchase.channel": .string, "purchase.store": .string, "purchase.category": .string,
        "purchase.categories": .list(.string), "member.tier": .string, "purchase.date": .date,
    ])

    /// The fields of ``schema`` in the order ``Accrual/values(of:tier:)`` gives them to compiled rules.
    public static let fieldOrder = [
        "purchase.amount", "purchase.channel", "purchase.store", "purchase.category", "purchase.categories", "member.tier", "purchase.date",
    ]
}

/// Extra points when a purchase meets a condition.
public struct BonusRule: Sendable, Equatable, Codable {
    public enum Action: Sendable, Equatable, Codable {
        /// Adds this percent of the base points (100 doubles them).
        case percentOfBase(Int64)
        /// Adds a fixed number of points.
        case fixed(Int64)
    }

    public var name: String
    /// The rule-language condition as written, e.g. `purchase.category == "wine" and member.tier in ["Gold"]`.
    public let source: String
    /// The parsed, type-checked condition.
    public let criteria: RuleExpression
    /// The condition compiled over ``EarningRules/fieldOrder``.
    let compiled: CompiledRule
    public var action: Action
    /// At most this many points from this bonus on one transaction.
    public var cap: Int64?

    /// Parses and type-checks the criteria; throws ``ExpressionError`` at the line and column at fault.
    public init(name: String, criteria: String, action: Action, cap: Int64? = nil) throws {
        let rule = try Parser.parse(criteria)
        try TypeChecker(schema: EarningRules.schema).checkCondition(rule)
        self.name = name
        self.source = criteria
        self.criteria = rule
        self.compiled = CompiledRule(rule, fields: EarningRules.fieldOrder)
        self.action = action
        self.cap = cap
    }

    public static func == (a: BonusRule, b: BonusRule) -> Bool {
        a.name == b.name && a.criteria == b.criteria && a.action == b.action && a.cap == b.cap
    }

    enum CodingKeys: String, CodingKey { case name, criteria, action, cap }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        try self.init(
            name: try container.decode(String.self, forKey: .name), criteria: try container.decode(String.self, forKey: .criteria),
            action: try container.decode(Action.self, forKey: .action), cap: try container.decodeIfPresent(Int64.self, forKey: .cap))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(source, forKey: .criteria)
        try container.encode(action, forKey: .action)
        try container.encodeIfPresent(cap, forKey: .cap)
    }
}

/// The points a purchase earns and where each part comes from.
public struct Accrual: Sendable, Equatable {
    public struct Part: Sendable, Equatable {
        /// `base`, `tier Gold`, `bonus Wine week`, `cap`.
        public var source: String
        public var points: Int64

        public init(source: String, points: Int64) {
            self.source = source
            self.points = points
        }
    }

    public var parts: [Part]

    public init(parts: [Part]) { self.parts = parts }
    public var total: Int64 { Accrual.bounded(parts.reduce(Int128(0)) { $0 + Int128($1.points) }) }

    /// The most points one part of one purchase's accrual can be, either way: 10¹². Rules and
    /// amounts are bounded where they come in, so only absurd settings reach it; past it the
    /// points are held at it rather than overflow.
    public static let maximumPoints: Int64 = 1_000_000_000_000

    /// `value` held within ±``maximumPoints``.
    static func bounded(_ value: Int128) -> Int64 { Int64(max(-Int128(maximumPoints), min(Int128(maximumPoints), value))) }
    /// The base points before tier, bonuses and caps: what multipliers multiply and what qualifies toward tier.
    public var base: Int64 { parts.first { $0.source == "base" }?.points ?? 0 }

    /// Computes the accrual of one purchase for a member in `tier` (nil when untiered).
    public static func compute(_ purchase: TransactionDetails, tier: String?, rules: EarningRules) -> Accrual {
        compute(purchase, tier: tier, rules: rules, values: values(of: purchase, tier: tier))
    }

    /// ``compute(_:tier:rules:)`` with the purchase's field values already worked out.
    static func compute(_ purchase: TransactionDetails, tier: String?, rules: EarningRules, values: [Value]) -> Accrual {
        let unit = Int128(Money.unit(of: purchase.amount.currency))
        // minor × rate × percent ÷ (unit × 100), rounded as the program says, in exact 128-bit
        // arithmetic; a result beyond what one purchase may earn is held at that maximum.
        func points(_ minor: Int64, percent: Int64) -> Int64 {
            let numerator = Int128(minor) * Int128(rules.pointsPerUnit) * Int128(percent), denominator = unit * 100
            let quotient: Int128 =
                switch rules.rounding {
                case .down: numerator / denominator
                case .up: (numerator + denominator - 1) / denominator
                case .nearest: (numerator + denominator / 2) / denominator
                }
            return Accrual.bounded(quotient)
        }
        let channelPercent = purchase.channel.flatMap { rules.channelPercent[$0.rawValue] } ?? 100
        let storePercent = purchase.store.flatMap { rules.storePercent[$0] } ?? 100
        let base: Int64
        if purchase.lines.isEmpty {
            base = points(purchase.amount.minorUnits, percent: channelPercent * storePercent / 100)
        } else {
            base = Accrual.bounded(
                purchase.lines.reduce(Int128(0)) { total, line in
                    let product = rules.productPercent[line.product] ?? line.category.flatMap { rules.categoryPercent[$0] } ?? 100
                    return total + Int128(points(line.amount, percent: product * channelPercent / 100 * storePercent / 100))
                })
        }
        var parts = [Part(source: "base", points: base)]
        if let tier, let percent = rules.tierPercent[tier], percent != 100 {
            parts.append(Part(source: "tier \(tier)", points: Accrual.bounded(Int128(base) * Int128(percent - 100) / 100)))
        }
        for bonus in rules.bonuses where bonus.compiled.matches(values, now: purchase.occurredAt) {
            var extra: Int64 =
                switch bonus.action {
                case .percentOfBase(let percent): Accrual.bounded(Int128(base) * Int128(percent) / 100)
                case .fixed(let points): Accrual.bounded(Int128(points))
                }
            if let cap = bonus.cap { extra = min(extra, cap) }
            if extra != 0 { parts.append(Part(source: "bonus \(bonus.name)", points: extra)) }
        }
        if let cap = rules.maxPerTransaction {
            let total = parts.reduce(0) { $0 + $1.points }
            if total > cap { parts.append(Part(source: "cap", points: Accrual.bounded(Int128(cap) - Int128(total)))) }
        }
        return Accrual(parts: parts)
    }

    /// The purchase's values of ``EarningRules/fieldOrder``, for compiled rules.
    public static func values(of purchase: TransactionDetails, tier: String?) -> [Value] {
        [
            .number(Double(purchase.amount.minorUnits) / Double(Money.unit(of: purchase.amount.currency))),
            purchase.channel.map { .string($0.rawValue) } ?? .null,
            purchase.store.map { .string($0) } ?? .null,
            purchase.lines.first?.category.map { .string($0) } ?? .null,
            .list(purchase.lines.compactMap { $0.category.map { .string($0) } }),
            tier.map { .string($0) } ?? .null,
            .date(purchase.occurredAt),
        ]
    }
}

/// Tier levels by qualifying points over a qualification period.
public struct TierPolicy: Sendable, Equatable, Codable {
    public struct Tier: Sendable, Equatable, Codable {
        public var name: String
        /// Qualifying points needed in the period to reach this tier; the lowest tier needs 0.
        public var threshold: Int64
        /// Flags other modules read, e.g. `lounge`, `fast_lane`, `free_shipping`.
        public var benefits: [String]

        public init(name: String, threshold: Int64, benefits: [String] = []) {
            self.name = name
            self.threshold = threshold
            self.benefits = benefits
        }

        enum CodingKeys: String, CodingKey { case name, threshold, benefits }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            self.init(
                name: try c.decode(String.self, forKey: .name), threshold: try c.decode(Int64.self, forKey: .threshold),
                benefits: try c.decodeIfPresent([String].self, forKey: .benefits) ?? [])
        }
    }

    /// The benefit flags of a tier (none for an unknown tier).
    public func benefits(of tier: String?) -> [String] { tiers.first { $0.name == tier }?.benefits ?? [] }

    /// How the qualification period runs.
    public enum Period: String, Sendable, Equatable, Codable {
        /// The last `periodMonths` months, whatever the date.
        case rolling
        /// The calendar year so far; reviews happen after 31 December.
        case calendarYear = "calendar_year"
    }

    /// Lowest first.
    public var tiers: [Tier]
    /// At a review, a member falls at most one tier (soft landing).
    public var softLanding: Bool
    /// Qualifying points count over this many months back (a rolling qualification period).
    public var periodMonths: Int
    public var period: Period

    /// Throws ``LoyaltyError/invalid(_:)`` naming `tiers` or `tierPeriodMonths` when the tiers
    /// cannot work: none, a negative threshold, a lowest tier that needs points, two tiers with
    /// one name or one threshold. The one place tiers are checked (the API, the console and a
    /// stored program read back all come through here, so a bad row is an error, not a crash).
    public init(tiers: [Tier], softLanding: Bool = true, periodMonths: Int = 12, period: Period = .rolling) throws {
        // Sorted first: the tiers may be given in any order, and the lowest must need no points.
        let sorted = tiers.sorted { $0.threshold < $1.threshold }
        var problems: [FieldError] = []
        if sorted.isEmpty { problems.append(FieldError("tiers", "give at least one tier")) }
        if sorted.contains(where: { $0.threshold < 0 }) { problems.append(FieldError("tiers", "a threshold cannot be negative")) }
        if let lowest = sorted.first, lowest.threshold != 0 { problems.append(FieldError("tiers", "the lowest tier needs a threshold of 0")) }
        if Set(sorted.map { $0.name.lowercased() }).count != sorted.count { problems.append(FieldError("tiers", "two tiers have one name")) }
        if Set(sorted.map(\.threshold)).count != sorted.count { problems.append(FieldError("tiers", "two tiers have one threshold")) }
        if sorted.contains(where: { $0.name.trimmingCharacters(in: .whitespaces).isEmpty || $0.name.count > 100 }) {
            problems.append(FieldError("tiers", "a tier's name is 1 to 100 characters"))
        }
        if !(1...120).contains(periodMonths) { problems.append(FieldError("tierPeriodMonths", "must be 1 to 120 months")) }
        guard problems.isEmpty else { throw LoyaltyError.invalid(problems) }
        self.tiers = sorted
        self.softLanding = softLanding
        self.periodMonths = periodMonths
        self.period = period
    }

    enum CodingKeys: String, CodingKey { case tiers, softLanding, periodMonths, period }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try self.init(
            tiers: try c.decode([Tier].self, forKey: .tiers), softLanding: try c.decode(Bool.self, forKey: .softLanding),
            periodMonths: try c.decode(Int.self, forKey: .periodMonths), period: try c.decodeIfPresent(Period.self, forKey: .period) ?? .rolling)
    }

    /// Where the qualification period that counts at `date` starts.
    public func periodStart(at date: Date) -> Date {
        switch period {
        case .rolling: return Calendar.utc.date(byAdding: .month, value: -periodMonths, to: date)!
        case .calendarYear: return Calendar.utc.date(from: Calendar.utc.dateComponents([.year], from: date))!
        }
    }

    /// For a review at `date`: the period just ended. For a calendar year, a review in the first
    /// days of January reads the year before.
    public func reviewedPeriod(at date: Date) -> (from: Date, to: Date) {
        switch period {
        case .rolling: return (periodStart(at: date), date)
        case .calendarYear:
            let yearStart = periodStart(at: date)
            return (Calendar.utc.date(byAdding: .year, value: -1, to: yearStart)!, yearStart)
        }
    }

    /// The earliest next review after one at `last`: the next 1 January for a calendar year, a
    /// month later for a rolling period. Reviewing more often would land members more than one
    /// tier lower within one period.
    public func nextReview(after last: Date) -> Date {
        switch period {
        case .rolling: return Calendar.utc.date(byAdding: .month, value: 1, to: last)!
        case .calendarYear: return Calendar.utc.date(byAdding: .year, value: 1, to: periodStart(at: last))!
        }
    }

    /// When the current period ends: the end of the calendar year, or nil for a rolling period.
    public func periodEnd(at date: Date) -> Date? {
        guard period == .calendarYear else { return nil }
        return Calendar.utc.date(byAdding: .year, value: 1, to: periodStart(at: date))
    }

    /// The lowest tier, where every member starts.
    public var entry: Tier { tiers[0] }

    /// The highest tier the points reach; the entry tier for none or fewer (a period's returns can outweigh its purchases).
    public func tier(for points: Int64) -> Tier { tiers.last { $0.threshold <= points } ?? entry }

    /// Upgrades happen at once: the member's tier after earning, never lower than now.
    public func afterEarning(current: String, points: Int64) -> Tier {
        let reached = tier(for: points)
        let now = tiers.firstIndex { $0.name == current } ?? 0
        return tiers.firstIndex(of: reached)! > now ? reached : tiers[now]
    }

    /// At the periodic review: the tier the period's points earn, at most one below the current
    /// tier with a soft landing.
    public func review(current: String, points: Int64) -> Tier {
        let earned = tiers.firstIndex(of: tier(for: points))!
        let now = tiers.firstIndex { $0.name == current } ?? 0
        guard earned < now else { return tiers[earned] }
        return softLanding ? tiers[now - 1 < earned ? earned : now - 1] : tiers[earned]
    }

    /// "1,250 qualifying points to Gold": the next tier and how far it is.
    public func progress(current: String, points: Int64) -> (next: Tier, missing: Int64)? {
        let now = tiers.firstIndex { $0.name == current } ?? 0
        guard now + 1 < tiers.count else { return nil }
        let next = tiers[now + 1]
        return (next, max(0, next.threshold - points))
    }
}
