import Foundation
import SharedModels

/// What the scoring job knows of one active customer, computed by the store in SQL: purchase
/// days (purchases of one day are one purchase, values summed) as of now and as of a cut-off in
/// the past (to train the churn model on what happened since), service contacts, loyalty and
/// profile facts, and the categories bought in the last year.
public struct CustomerFacts: Sendable, Hashable {
    public var customer: Int64
    /// Days since 1970-01-01 of the first and last purchase (nil: never bought).
    public var firstDay: Int?
    public var lastDay: Int?
    public var purchaseDays = 0
    public var revenue: Int64 = 0
    /// Value of the first purchase day (the lifetime-value models look at repeat purchases).
    public var firstDayRevenue: Int64 = 0
    public var purchaseDays365 = 0
    public var revenue365: Int64 = 0
    /// The same as of the cut-off.
    public var purchaseDaysAtCutoff = 0
    public var lastDayAtCutoff: Int?
    public var revenueAtCutoff: Int64 = 0
    public var purchaseDays365AtCutoff = 0
    public var revenue365AtCutoff: Int64 = 0
    /// Service contacts (interactions) in the year before now, and before the cut-off.
    public var contacts365 = 0
    public var contacts365AtCutoff = 0
    public var tier: String?
    public var pointsBalance: Int64?
    public var lifeStage: String?
    public var birthYear: Int?
    public var categories: [String] = []

    public init(customer: Int64) { self.customer = customer }
}

/// One customer's scores as the job writes them onto the profile.
public struct CustomerScores: Sendable, Hashable, Codable {
    public var customer: Int64
    public var scoredAt: Date
    public var rfm: RFMScore
    public var recencyDays: Int?
    public var frequency: Int
    /// Revenue over the customer's history, minor units of `currency`.
    public var monetary: Int64
    public var probabilityAlive: Double?
    public var expectedPurchases12m: Double?
    /// Discounted lifetime value of the next 12 months, minor units.
    public var clv12m: Int64?
    public var churnRisk: Double?
    public var churnDrivers: [Driver]
    public var valueTier: ValueTier
    public var recommendations: [String]
    public var currency: String

    public init(
        customer: Int64, scoredAt: Date, rfm: RFMScore, recencyDays: Int?, frequency: Int, monetary: Int64, probabilityAlive: Double?,
        expectedPurchases12m: Double?, clv12m: Int64?, churnRisk: Double?, churnDrivers: [Driver], valueTier: ValueTier, recommendations: [String],
        currency: String
    ) {
        self.customer = customer
        self.scoredAt = scoredAt
        self.rfm = rfm
        self.recencyDays = recencyDays
        self.frequency = frequency
        self.monetary = monetary
        self.probabilityAlive = probabilityAlive
        self.expectedPurchases12m = expectedPurchases12m
        self.clv12m = clv12m
        self.churnRisk = churnRisk
        self.churnDrivers = churnDrivers
        self.valueTier = valueTier
        self.recommendations = recommendations
        self.currency = currency
    }
}

/// What one run of the scoring job fitted and how long each step took.
public struct ScoringRun: Sendable, Hashable, Codable {
    public var ranAt: Date
    public var customers: Int
    public var buyers: Int
    public var currency: String
    public var bgnbd: BGNBD?
    public var gammaGamma: GammaGamma?
    /// Churn: trained on customers active at the cut-off; AUC on a held-out fifth.
    public var churnHorizonDays: Int
    public var churnTrainingRows: Int
    public var churnAUC: Double?
    public var rules: Int
    public var segments: [String: Int]
    public var valueTiers: [String: Int]
    public var milliseconds: [String: Double]

    enum CodingKeys: String, CodingKey {
        case ranAt = "ran_at"
        case customers, buyers, currency, bgnbd
        case gammaGamma = "gamma_gamma"
        case churnHorizonDays = "churn_horizon_days"
        case churnTrainingRows = "churn_training_rows"
        case churnAUC = "churn_auc"
        case rules, segments
        case valueTiers = "value_tiers"
        case milliseconds
    }
}

/// The Analytics room's storage, sized by use case.
public protocol AnalyticsStore: Sendable {
    /// Facts of every active customer as of `now`, with the churn cut-off at `cutoff`.
    func customerFacts(now: Date, cutoff: Date) async throws -> [CustomerFacts]
    /// Baskets (categories, or products without one) of the most recent purchases since `since`.
    func baskets(since: Date, until: Date, limit: Int) async throws -> [[String]]
    /// The currency most purchases are in (nil when there are none).
    func mainCurrency() async throws -> String?
    /// Replaces every customer's scores and records the run, in one transaction.
    func replaceScores(_ scores: [CustomerScores], run: ScoringRun) async throws
    func scores(of customer: Int64) async throws -> CustomerScores?
    func latestRun() async throws -> ScoringRun?
    /// The stored scores, best value first, paged by rank.
    func scoredCustomers(segment: String?, valueTier: String?, minimumChurnRisk: Double?, offset: Int, limit: Int) async throws -> [CustomerScores]
    /// The loyalty report over `[from, to)` (see the store for what a nil `from` counts).
    func loyaltyReport(from: Date?, to: Date) async throws -> LoyaltyReport
    /// The RFM grid and the revenue of every scored customer, from the stored scores.
    func rfmAnalysis() async throws -> RFMAnalysis
    /// How many scored customers have a 12-month CLV (minor units) below each bound, bucket by
    /// bucket: one count per bound, then the count above the last, then those without a CLV.
    func clvDistribution(bounds: [Int64]) async throws -> [Int]
    /// Sales (purchases less returns, minor units) and purchase counts between consecutive
    /// instants of `bounds` (epoch seconds): one pair per interval.
    func sales(between bounds: [Int64]) async throws -> [(amount: Int64, purchases: Int)]
}

/// The scoring job: fits the models on the database's history and writes every customer's RFM
/// segment, lifetime value, P(alive), churn risk and drivers, value tier and cross-sell
/// recommendations onto their profile.
public struct CustomerIntelligence: Sendable {
    let store: any AnalyticsStore
    public let clock: Clock
    /// Churn means no purchase within this many days.
    public var churnHorizonDays = 90
    /// The churn model trains on at most this many customers (a seeded sample).
    public var churnTrainingLimit = 40_000
    public var basketLimit = 200_000
    /// The lifetime-value models are fitted on at most this many buyers (a seeded sample);
    /// every buyer is then scored with them.
    public var fitLimit = 200_000
    public var minimumRuleSupport = 0.01
    public var minimumRuleConfidence = 0.1

    public init(store: any AnalyticsStore, clock: Clock) {
        self.store = store
        self.clock = clock
    }

    static let churnColumns = [
        "recency_days", "purchases", "purchases_365", "revenue", "revenue_365", "tenure_days", "average_purchase", "contacts_365", "tier",
        "points_balance", "life_stage", "age",
    ]

    /// The churn features of a customer as of `day` (now, or the cut-off for training).
    static func churnRow(_ f: CustomerFacts, day: Int, atCutoff: Bool) -> [FeatureCell] {
        let purchases = atCutoff ? f.purchaseDaysAtCutoff : f.purchaseDays
        let last = atCutoff ? f.lastDayAtCutoff : f.lastDay
        let revenue = atCutoff ? f.revenueAtCutoff : f.revenue
        let year = LocalDate(daysSinceEpoch: day).year
        return [
            .number(last.map { Double(day - $0) }), .number(Double(purchases)),
            .number(Double(atCutoff ? f.purchaseDays365AtCutoff : f.purchaseDays365)), .number(Double(revenue)),
            .number(Double(atCutoff ? f.revenue365AtCutoff : f.revenue365)), .number(f.firstDay.map { Double(day - $0) }),
            .number(purchases > 0 ? Double(revenue / Int64(purchases)) : nil), .number(Double(atCutoff ? f.contacts365AtCutoff : f.contacts365)),
            .text(f.tier ?? "none"), .number(f.pointsBalance.map(Double.init)), .text(f.lifeStage), .number(f.birthYear.map { Double(year - $0) }),
        ]
    }

    static func scores(
        _ f: CustomerFacts, summary: RepeatSummary?, rfm: RFMScore,
        models: (bgnbd: BGNBD?, clv: LifetimeValueModel?, churn: ChurnScorer?, rules: [MarketBasket.Rule]), today: Int, now: Date, unit: Double,
        currency: String
    ) -> CustomerScores {
        let clv = summary.flatMap { s in models.clv.map { $0.value(s, months: 12, monthlyDiscount: 0.01) * unit } }
        let churn = f.purchaseDays > 0 ? models.churn?.score(cells: churnRow(f, day: today, atCutoff: false)) : nil
        let recommended = f.categories.isEmpty ? [] : MarketBasket.recommendations(for: Set(f.categories), rules: models.rules).map(\.item)
        return CustomerScores(
            customer: f.customer, scoredAt: now, rfm: rfm, recencyDays: f.lastDay.map { today - $0 }, frequency: f.purchaseDays, monetary: f.revenue,
            probabilityAlive: summary.flatMap { s in models.bgnbd.map { $0.probabilityAlive(s) } }.flatMap(finite),
            expectedPurchases12m: summary.flatMap { s in models.bgnbd.map { $0.expectedPurchases(s, over: 52) } }.flatMap(finite),
            clv12m: clv.flatMap(finite).flatMap { Int64(exactly: $0.rounded()) }, churnRisk: churn.flatMap { finite($0.risk) }, churnDrivers: churn?.drivers ?? [], valueTier: .d,
            recommendations: recommended, currency: currency)
    }

    /// A model's output where it is a number; a model fitted on too little or degenerate data can
    /// give NaN or infinity, which is no score (nil) rather than a crash or a poisoned profile.
    static func finite(_ value: Double) -> Double? { value.isFinite ? value : nil }

    public func score() async throws -> ScoringRun {
        let now = clock.now
        let today = Int((now.timeIntervalSince1970 / 86_400).rounded(.down))
        let cutoffDay = today - churnHorizonDays
        var timings: [String: Double] = [:]
        var mark = ContinuousClock.now
        func lap(_ name: String) {
            let t = ContinuousClock.now
            timings[name] = (t - mark).milliseconds
            mark = t
        }
        let facts = try await store.customerFacts(now: now, cutoff: Date(timeIntervalSince1970: Double(cutoffDay) * 86_400))
        let currency = try await store.mainCurrency() ?? "USD"
        let unit = Double(Money.unit(of: currency))
        lap("read")

        // RFM over the whole history.
        let rfm = RFM.score(
            facts.map {
                CustomerActivity(
                    customer: $0.customer, daysSinceLastPurchase: $0.lastDay.map { today - $0 }, purchases: $0.purchaseDays, revenue: $0.revenue)
            })
        lap("rfm")

        // Lifetime value in weeks, from repeat purchase days.
        var summaries: [RepeatSummary?] = []
        summaries.reserveCapacity(facts.count)
        for f in facts {
            guard let first = f.firstDay, let last = f.lastDay, f.purchaseDays > 0 else {
                summaries.append(nil)
                continue
            }
            summaries.append(
                RepeatSummary(
                    firstDay: first, lastDay: last, purchaseDays: f.purchaseDays, repeatValue: Double(f.revenue - f.firstDayRevenue) / unit,
                    end: today))
        }
        let buyers = summaries.compactMap { $0 }
        var sampler = SeededGenerator(seed: 1_997)
        let fitted = buyers.count > fitLimit ? Array(buyers.shuffled(using: &sampler).prefix(fitLimit)) : buyers
        let bgnbd = try? BGNBD.fit(fitted)
        let spend = try? GammaGamma.fit(fitted)
        let clvModel = bgnbd.flatMap { b in spend.map { LifetimeValueModel(transactions: b, spend: $0, periodDays: 7) } }
        lap("clv")

        // Churn: learn from who stopped buying after the cut-off, then score as of today.
        var churnScorer: ChurnScorer?
        var churnAUC: Double?
        var trainingRows = 0
        let trainable = facts.filter { $0.purchaseDaysAtCutoff > 0 }
        if trainable.count >= 50 {
            var generator = SeededGenerator(seed: 2_024)
            let sample = trainable.count > churnTrainingLimit ? Array(trainable.shuffled(using: &generator).prefix(churnTrainingLimit)) : trainable
            let cells = sample.map { Self.churnRow($0, day: cutoffDay, atCutoff: true) }
            let rows = cells.map { $0.map(\.asText) }
            let labels = sample.map { $0.lastDay.map { $0 > cutoffDay } == true ? 0.0 : 1.0 }
            let positives = labels.reduce(0, +)
            if positives >= 10, Double(labels.count) - positives >= 10 {
                // Trained on four fifths, its AUC measured on the fifth it never saw.
                let fold = ChurnModels.folds(labels: labels, k: 5, seed: 7)
                let train = rows.indices.filter { fold[$0] != 0 }
                let test = rows.indices.filter { fold[$0] == 0 }
                let scorer = ChurnScorer(
                    table: FeatureTable(columns: Self.churnColumns, rows: train.map { rows[$0] }), labels: train.map { labels[$0] })
                churnAUC = rocAUC(scores: test.map { scorer.score(cells: cells[$0], drivers: 0).risk }, labels: test.map { labels[$0] })
                churnScorer = scorer
                trainingRows = train.count
            }
        }
        lap("churn")

        // Cross-sell rules over recent baskets.
        let baskets = try await store.baskets(since: now.addingTimeInterval(-365 * 86_400), until: now, limit: basketLimit)
        var rules: [MarketBasket.Rule] = []
        if baskets.count >= 20 {
            let mined = MarketBasket(baskets: baskets, minimumCount: MarketBasket.minimumCount(support: minimumRuleSupport, baskets: baskets.count))
            // Only rules that lift the chance of the item well above its base rate are offers.
            rules = mined.rules(minimumConfidence: minimumRuleConfidence).filter { $0.lift >= 1.2 }
        }
        lap("basket")

        // Scores per customer, on every core: each customer's scores depend only on the models.
        let models = (bgnbd: bgnbd, clv: clvModel, churn: churnScorer, rules: rules)
        let histories = summaries
        let parts = max(1, min(ProcessInfo.processInfo.activeProcessorCount, facts.count / 10_000))
        let chunk = (facts.count + parts - 1) / max(parts, 1)
        var scores: [CustomerScores] = []
        scores.reserveCapacity(facts.count)
        try await withThrowingTaskGroup(of: (Int, [CustomerScores]).self) { group in
            for part in 0..<parts {
                let range = (part * chunk)..<min(facts.count, (part + 1) * chunk)
                group.addTask {
                    var out: [CustomerScores] = []
                    out.reserveCapacity(range.count)
                    for i in range {
                        out.append(
                            Self.scores(
                                facts[i], summary: histories[i], rfm: rfm[facts[i].customer]!, models: models, today: today, now: now, unit: unit,
                                currency: currency))
                    }
                    return (part, out)
                }
            }
            var done: [(Int, [CustomerScores])] = []
            for try await result in group { done.append(result) }
            for (_, part) in done.sorted(by: { $0.0 < $1.0 }) { scores += part }
        }
        var clvByCustomer: [Int64: Double] = [:]
        clvByCustomer.reserveCapacity(scores.count)
        for (s, f) in zip(scores, facts) { clvByCustomer[s.customer] = Double(s.clv12m ?? 0) + Double(f.revenue365) }
        let tiers = ValueTier.assign(clvByCustomer)
        for i in scores.indices { scores[i].valueTier = tiers[scores[i].customer] ?? .d }
        lap("score")

        var segments: [String: Int] = [:]
        var valueTiers: [String: Int] = [:]
        for s in scores {
            segments[s.rfm.segment.rawValue, default: 0] += 1
            valueTiers[s.valueTier.rawValue, default: 0] += 1
        }
        let run = ScoringRun(
            ranAt: now, customers: facts.count, buyers: buyers.count, currency: currency, bgnbd: bgnbd, gammaGamma: spend,
            churnHorizonDays: churnHorizonDays, churnTrainingRows: trainingRows, churnAUC: churnAUC, rules: rules.count, segments: segments,
            valueTiers: valueTiers, milliseconds: timings)
        try await store.replaceScores(scores, run: run)
        lap("write")
        var finished = run
        finished.milliseconds = timings
        return finished
    }
}

/// The RFM grid, segment counts and Pareto curve of the last scoring run.
public struct RFMAnalysis: Sendable, Codable {
    public struct Cell: Sendable, Codable, Hashable {
        public var recency: Int
        public var frequency: Int
        public var customers: Int
        /// Minor units.
        public var revenue: Int64
        public init(recency: Int, frequency: Int, customers: Int, revenue: Int64) {
            self.recency = recency
            self.frequency = frequency
            self.customers = customers
            self.revenue = revenue
        }
    }
    public var customers: Int
    public var segments: [String: Int]
    public var grid: [Cell]
    public var pareto: ParetoCurve

    public init(cells: [Cell], segments: [String: Int], revenues: [Int64]) {
        self.customers = segments.values.reduce(0, +)
        self.segments = segments
        self.grid = cells
        self.pareto = ParetoCurve(revenues: revenues)
    }
}

extension CustomerIntelligence {
    /// Association rules mined now over the last year's baskets.
    public func basketRules(minimumSupport: Double, minimumConfidence: Double) async throws -> (mined: MarketBasket, rules: [MarketBasket.Rule]) {
        guard minimumSupport > 0 else { throw AnalyticsError.invalid("minimum support must be above 0") }
        guard (0...1).contains(minimumConfidence) else { throw AnalyticsError.invalid("minimum confidence must be between 0 and 1") }
        let now = clock.now
        let baskets = try await store.baskets(since: now.addingTimeInterval(-365 * 86_400), until: now, limit: basketLimit)
        let mined = MarketBasket(baskets: baskets, minimumCount: MarketBasket.minimumCount(support: minimumSupport, baskets: max(1, baskets.count)))
        return (mined, mined.rules(minimumConfidence: minimumConfidence))
    }
}
