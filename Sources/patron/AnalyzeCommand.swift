import Analytics
import App
import Demo
import Interchange
import ArgumentParser
import Campaigns
import Foundation
import SharedModels

/// `patron analyze …`: customer intelligence over a file or over the database.
struct Analyze: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Customer intelligence: RFM, lifetime value, churn risk, basket rules, and the scoring job.",
        subcommands: [Score.self, RFMCommand.self, CLV.self, Churn.self, Basket.self, Loyalty.self, CampaignsAnalytics.self])

    static func json(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    struct CLV: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "clv", abstract: "Fit BG/NBD and Gamma-Gamma; P(alive), expected purchases and CLV per customer.")
        @Option(
            help: "A CSV with the header customer_id,date,amount (date YYYY-MM-DD); the database's customers are scored by `patron analyze score`.")
        var transactions: String?
        @Option(help: "Last day of the calibration period (YYYY-MM-DD); later purchases are the holdout. Default: the last purchase.")
        var calibrationEnd: String?
        @Option(help: "The model's time unit: day, week or month.") var period: String = "week"
        @Option(help: "CLV horizon in months.") var months: Int = 12
        @Option(help: "Monthly discount rate for CLV.") var discount: Double = 0.01
        @Option(help: "Write per-customer x, t_x, T, P(alive), expected purchases and CLV to this CSV.") var out: String?
        @Flag(help: "Print a JSON object as the last line.") var json = false

        func run() async throws {
            guard let period = FileAnalysis.Period(rawValue: period) else {
                throw ValidationError("--period: '\(period)' is not one of day, week, month")
            }
            var end: LocalDate?
            if let calibrationEnd {
                guard let date = LocalDate(calibrationEnd) else {
                    throw ValidationError("--calibration-end: '\(calibrationEnd)' is not a date YYYY-MM-DD")
                }
                end = date
            }
            guard (1...120).contains(months) else { throw ValidationError("--months must be 1 to 120") }
            guard let transactions else {
                throw ValidationError("--transactions FILE is required (the database's lifetime values come from `patron analyze score`)")
            }
            let report = try await reporting {
                try FileAnalysis.clv(
                    transactions: transactions, calibrationEnd: end, period: period, months: months, monthlyDiscount: discount, out: out)
            }
            let m = report.bgnbd
            print(
                "\(report.customers) customers (\(report.repeatCustomers) with repeat purchases), calibration to \(report.calibrationEnd), in \(report.period)s"
            )
            print(
                String(
                    format: "BG/NBD       r = %.3f  alpha = %.3f  a = %.3f  b = %.3f  log-likelihood = %.1f", m.r, m.alpha, m.a, m.b, m.logLikelihood)
            )
            if let g = report.gammaGamma {
                print(String(format: "Gamma-Gamma  p = %.2f  q = %.2f  gamma = %.2f", g.p, g.q, g.gamma))
            } else {
                print("Gamma-Gamma  not fitted: too few customers with repeat purchases of positive value")
            }
            if let h = report.holdout {
                print(
                    String(format: "holdout      %.1f %@s: %d repeat purchases seen, %.1f forecast", h.periods, report.period, h.actual, h.predicted))
            }
            print(String(format: "fitted in %.1f ms", report.fitMilliseconds))
            if let out { print("per-customer results written to \(out)") }
            if json { print(try Analyze.json(report)) }
        }
    }

    struct Basket: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Frequent itemsets (FP-growth) and association rules.")
        @Option(help: "A file with one basket per line, items comma-separated.") var baskets: String
        @Option(help: "Minimum support: a share of baskets (0.15), or a count of baskets (694).") var minSupport: Double = 0.1
        @Option(help: "Minimum confidence of a rule.") var minConfidence: Double = 0.8
        @Option(help: "Write every rule to this CSV.") var out: String?
        @Option(help: "Rules to print.") var top: Int = 10
        @Flag(help: "Print a JSON object as the last line.") var json = false

        func run() async throws {
            let report = try await reporting {
                try FileAnalysis.basket(baskets: baskets, minSupport: minSupport, minConfidence: minConfidence)
            }
            print("\(report.baskets) baskets, minimum support \(report.minimumCount) baskets")
            print("frequent itemsets by size: \(report.itemsetsBySize.map(String.init).joined(separator: " / ")) (\(report.itemsets) in all)")
            print("\(report.rules.count) rules with confidence ≥ \(minConfidence)")
            for rule in report.rules.prefix(max(0, top)) {
                print(
                    String(
                        format: "  %@ ⇒ %@   support %.3f  confidence %.3f  lift %.2f", rule.antecedent.joined(separator: ", "),
                        rule.consequent.joined(separator: ", "), rule.support, rule.confidence, rule.lift))
            }
            print(String(format: "mined in %.1f ms", report.mineMilliseconds))
            if let out {
                var text = "antecedent,consequent,support,confidence,lift,conviction,count\n"
                for r in report.rules {
                    text += "\"\(r.antecedent.joined(separator: ", "))\",\"\(r.consequent.joined(separator: ", "))\","
                    text +=
                        String(format: "%.6f,%.6f,%.6f,", r.support, r.confidence, r.lift)
                        + (r.conviction.isFinite ? String(format: "%.6f", r.conviction) : "") + ",\(r.count)\n"
                }
                guard FileManager.default.createFile(atPath: out, contents: Data(text.utf8)) else { throw fail("\(out): cannot write the file") }
                print("rules written to \(out)")
            }
            if json { print(try Analyze.json(report)) }
        }
    }

    struct Churn: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Train churn models on a table and report cross-validated ROC AUC (logistic regression, gradient-boosted trees).")
        @Option(help: "A CSV with a header: numeric and categorical columns, missing values allowed.") var table: String
        @Option(help: "The yes/no column to predict.") var target: String
        @Option(help: "Cross-validation folds.") var folds: Int = 5
        @Option(help: "Seed for the fold split.") var seed: UInt64 = 42
        @Flag(help: "Print a JSON object as the last line.") var json = false

        func run() async throws {
            guard (2...20).contains(folds) else { throw ValidationError("--folds must be 2 to 20") }
            let report = try await reporting { try FileAnalysis.churn(table: table, target: target, folds: folds, seed: seed) }
            print("\(report.rows) rows, \(report.features) feature columns, \(report.positives) with \(report.target) = \(report.positive)")
            for (model, auc) in report.auc.sorted(by: { $0.key < $1.key }) {
                print("  " + model.padding(toLength: 20, withPad: " ", startingAt: 0) + String(format: " cross-validated ROC AUC %.3f", auc))
            }
            print(String(format: "trained and validated in %.0f ms", report.trainMilliseconds))
            if json { print(try Analyze.json(report)) }
        }
    }

    struct RFMCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rfm", abstract: "RFM scores and segments, and the Pareto curve.")
        @Option(help: "A CSV with the header customer_id,date,amount.") var transactions: String?
        @Option(help: "The date to measure recency from (YYYY-MM-DD). Default: the day after the last purchase.") var asOf: String?
        @Option(help: "Write per-customer scores to this CSV.") var out: String?
        @Flag(help: "Print a JSON object as the last line.") var json = false

        func run() async throws {
            var date: LocalDate?
            if let asOf {
                guard let d = LocalDate(asOf) else { throw ValidationError("--as-of: '\(asOf)' is not a date YYYY-MM-DD") }
                date = d
            }
            guard let transactions else {
                throw ValidationError("--transactions FILE is required (the database's RFM segments come from `patron analyze score`)")
            }
            let report = try await reporting { try FileAnalysis.rfm(transactions: transactions, asOf: date, out: out) }
            print("\(report.customers) customers as of \(report.asOf)")
            for segment in RFMSegment.allCases {
                if let n = report.segments[segment.rawValue] { print("  \(segment.label.padding(toLength: 22, withPad: " ", startingAt: 0)) \(n)") }
            }
            print(
                String(
                    format: "Pareto: the top 20%% of customers bring %.1f%% of revenue; %.1f%% of customers bring 80%%",
                    report.pareto.top20RevenueShare * 100, report.pareto.customerShareFor80 * 100))
            if let out { print("scores written to \(out)") }
            if json { print(try Analyze.json(report)) }
        }
    }

    struct Score: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "The scoring job: fit the models on the database and write every customer's RFM segment, CLV, P(alive), churn risk, value tier and recommendations onto the profile."
        )
        @OptionGroup var db: DatabaseOption
        @Flag(help: "Print a JSON object as the last line.") var json = false

        func run() async throws {
            let run = try await db.with { try await $0.runNightly() }
            Analyze.describe(run)
            if json { print(try Analyze.json(run)) }
        }
    }

    static func describe(_ run: ScoringRun) {
        print("scored \(run.customers) customers (\(run.buyers) with purchases) at \(run.ranAt)")
        if let m = run.bgnbd {
            print(String(format: "BG/NBD (weeks)  r = %.3f  alpha = %.3f  a = %.3f  b = %.3f", m.r, m.alpha, m.a, m.b))
        } else {
            print("BG/NBD          not fitted: no repeat purchases yet")
        }
        if let g = run.gammaGamma { print(String(format: "Gamma-Gamma     p = %.2f  q = %.2f  gamma = %.2f (%@)", g.p, g.q, g.gamma, run.currency)) }
        if let auc = run.churnAUC {
            print(String(format: "churn (%d days) trained on %d customers, held-out ROC AUC %.3f", run.churnHorizonDays, run.churnTrainingRows, auc))
        } else {
            print("churn           not trained: too little history before the cut-off")
        }
        print("basket rules    \(run.rules)")
        print(
            "RFM segments    "
                + RFMSegment.allCases.compactMap { s in run.segments[s.rawValue].map { "\(s.rawValue) \($0)" } }.joined(separator: ", "))
        print("value tiers     " + ValueTier.allCases.map { "\($0.rawValue) \(run.valueTiers[$0.rawValue] ?? 0)" }.joined(separator: ", "))
        print(
            "milliseconds    "
                + ["read", "rfm", "clv", "churn", "basket", "score", "write"].compactMap { k in run.milliseconds[k].map { "\(k) \(Int($0))" } }
                .joined(separator: ", "))
    }

    struct CampaignsAnalytics: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "campaigns", abstract: "Campaign analytics: response and incremental lift by campaign, wave, channel, offer and value tier.")
        @OptionGroup var db: DatabaseOption

        func run() async throws {
            let a = try await db.with { try await $0.campaigns.analytics() }
            func pct(_ x: Double) -> String { String(format: "%.2f%%", x * 100) }
            for (c, pnl, b) in a.campaigns {
                print(
                    "\(c.id) \(c.plan.name) [\(c.plan.offer.label)]: target \(pct(pnl.target.responseRate)) vs control \(pct(pnl.control.responseRate)), lift \(pct(pnl.responseLift.value)); incremental revenue "
                        + String(
                            format: "%.2f (%.2f to %.2f) %@", pnl.incrementalRevenue.value, pnl.incrementalRevenue.low, pnl.incrementalRevenue.high,
                            pnl.currency))
                for w in b.waves {
                    print(
                        "  wave \(w.number) \(w.channel.rawValue): \(w.queued) queued, \(w.delivered) delivered, \(w.clicked) clicked, \(w.purchasers) bought, lift \(pct(w.lift))"
                    )
                }
                for t in b.valueTiers {
                    print("  value tier \(t.valueTier): \(pct(t.targetResponseRate)) vs \(pct(t.controlResponseRate)), lift \(pct(t.lift))")
                }
            }
            for (label, rows) in [("channel", a.channels), ("offer", a.offers)] {
                for r in rows {
                    print(
                        "\(label) \(r.key): \(r.campaigns) campaigns, \(pct(r.targetResponseRate)) vs \(pct(r.controlResponseRate)), lift \(pct(r.lift))"
                    )
                }
            }
        }
    }

    struct Loyalty: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Loyalty analytics: tier mix and migration, liability, breakage, redemption, earn by outlet, promotion effectiveness.")
        @OptionGroup var db: DatabaseOption
        @Flag(help: "Print a JSON object as the last line.") var json = false

        func run() async throws {
            let report = try await db.with { patron in try await patron.intelligence.loyaltyReport(now: patron.settings.clock.now) }
            for p in report.programs {
                print("\(p.code) \(p.name): \(p.members) members, \(p.activeMembers) earned in the last year")
                print("  tiers: " + p.tiers.map { "\($0.key) \($0.count)" }.joined(separator: ", "))
                if !p.migrations.isEmpty {
                    print("  tier changes (year): " + p.migrations.map { "\($0.from)→\($0.to) \($0.members)" }.joined(separator: ", "))
                }
                print(
                    String(
                        format: "  points issued %lld, redeemed %lld (%.1f%%), expired %lld (breakage %.1f%%), outstanding %lld = liability %@",
                        p.pointsIssued, p.pointsRedeemed, p.redemptionRate * 100, p.pointsExpired, p.breakageRate * 100, p.pointsOutstanding,
                        Money(minorUnits: p.liability, currency: p.currency).description))
                print("  earned by outlet: " + p.earnedByOutlet.prefix(8).map { "\($0.key) \($0.count)" }.joined(separator: ", "))
                if !p.redeemedByReward.isEmpty {
                    print("  redeemed by reward: " + p.redeemedByReward.map { "\($0.key) \($0.count)" }.joined(separator: ", "))
                }
                for e in p.promotions {
                    print(
                        String(
                            format: "  promotion %@: %d members (%lld points), revenue/member %.2f vs %.2f comparable; incremental %.2f",
                            e.code, e.members, e.points, e.revenuePerMember / 100, e.comparableRevenuePerMember / 100,
                            e.incrementalRevenuePerMember / 100))
                }
            }
            if json { print(try Analyze.json(report)) }
        }
    }
}

extension Bench {
    struct AnalyticsBench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "analytics",
            abstract: "Time each model on the public data sets, then the nightly scoring job on demo companies of N customers.")
        @Option(help: "Directory holding the public data sets.") var data: String = AnalyticsBenchmark.defaultDataDirectory()
        @Option(help: "Demo company sizes, comma-separated (0 for none).") var customers: String = "100000,1000000"
        @Option(help: "Where the demo databases are kept and reused (patron-demo-N.sqlite).") var directory: String = BenchCompany.defaultDirectory
        @Option(help: "Repeats per model timing (the median is reported).") var repeats: Int = 20
        @Flag(help: "Print the result as JSON on the last line.") var json = false

        struct Scoring: Encodable {
            var customers: Int
            var buyers: Int
            var totalMilliseconds: Double
            var steps: [String: Double]
            var churnAUC: Double?
            var rules: Int
            var loadSeconds: Double?
            enum CodingKeys: String, CodingKey {
                case customers, buyers
                case totalMilliseconds = "total_ms"
                case steps
                case churnAUC = "churn_auc"
                case rules
                case loadSeconds = "demo_load_s"
            }
        }

        struct Report: Encodable {
            var bench = "analytics"
            var models: [AnalyticsBenchmark.ModelTiming]
            var scoring: [Scoring]
        }

        func run() async throws {
            let sizes = try customers.split(separator: ",").map { text -> Int in
                guard let n = Int(text.trimmingCharacters(in: .whitespaces)), n >= 0 else {
                    throw ValidationError("--customers: '\(text)' is not a count")
                }
                return n
            }.filter { $0 > 0 }
            let log: (String) -> Void = { FileHandle.standardError.write(Data("\($0)\n".utf8)) }
            let bench = AnalyticsBenchmark(dataDirectory: data, repeats: repeats)
            let models: [AnalyticsBenchmark.ModelTiming]
            do {
                models = try bench.models(log: log)
            } catch {
                throw fail("--data \(data): cannot read the public data sets (\(error))")
            }
            print("model                          Patron ms    peer ms   result")
            for m in models {
                let peer = m.peerMilliseconds.map { String(format: "%9.0f", $0) } ?? "        -"
                print(m.name.padding(toLength: 30, withPad: " ", startingAt: 0) + String(format: " %9.2f  %@   %@", m.milliseconds, peer, m.result))
            }
            var scoring: [Scoring] = []
            for n in sizes {
                let (patron, built) = try await BenchCompany.open(customers: n, directory: directory, logger: quietLogger(), log: log)
                let result = try await patron.closing { patron -> Scoring in
                    let start = ContinuousClock.now
                    let run = try await patron.intelligence.score()
                    return Scoring(
                        customers: run.customers, buyers: run.buyers, totalMilliseconds: (ContinuousClock.now - start).milliseconds,
                        steps: run.milliseconds, churnAUC: run.churnAUC, rules: run.rules, loadSeconds: built)
                }
                print(
                    String(format: "scoring %d customers: %.1f s (", result.customers, result.totalMilliseconds / 1000)
                        + ["read", "rfm", "clv", "churn", "basket", "score", "write"].compactMap { k in
                            result.steps[k].map { String(format: "%@ %.1f s", k, $0 / 1000) }
                        }.joined(separator: ", ") + ")")
                scoring.append(result)
            }
            if json { print(try Analyze.json(Report(models: models, scoring: scoring))) }
        }
    }
}

extension Bench {
    struct SegmentsBench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "segments", abstract: "Median time to count a six-condition segment over a demo company of N customers.")
        @OptionGroup var demo: DemoCompanyOptions
        @Option(help: "Counts to time (the median is reported).") var repeats: Int = 15
        @Flag(help: "Print the result as JSON on the last line.") var json = false

        func run() async throws {
            guard repeats > 0 else { throw ValidationError("--repeats must be positive") }
            let (patron, _) = try await demo.open(defaultCustomers: 1_000_000)
            let result = try await patron.closing { try await SegmentBenchmark(repeats: repeats).run(patron: $0) }
            print("segment: \(SegmentBenchmark.rule)")
            print(
                String(
                    format: "%d of %d customers; median count %.1f ms over %d counts", result.count, result.customers, result.countMilliseconds,
                    repeats))
            if json { print(try Analyze.json(result)) }
        }
    }
}

extension Bench {
    struct CampaignsBench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "campaigns",
            abstract: "Time to launch a campaign to a demo company of N customers: audience, control group, suppression, personalisation, outbox.")
        @OptionGroup var demo: DemoCompanyOptions
        @Flag(help: "Print the result as JSON on the last line.") var json = false

        func run() async throws {
            let (patron, _) = try await demo.open(defaultCustomers: 1_000_000)
            let runs = try await patron.closing { patron in
                [
                    try await CampaignBenchmark().run(patron: patron, channel: .email),
                    try await CampaignBenchmark().run(patron: patron, channel: .call),
                ]
            }
            for r in runs {
                print(
                    String(
                        format: "%@ wave to %d customers: %d messages queued, %d held out as control, ", r.channel, r.customers, r.recipients,
                        r.control)
                        + "suppressed " + r.suppressed.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
                        + String(format: "; prepared in %.1f s", r.prepareSeconds))
            }
            struct Report: Encodable {
                var bench = "campaigns"
                var customers: Int
                /// The larger run's: the most messages personalised and queued.
                var recipients: Int
                var prepareSeconds: Double
                var runs: [CampaignBenchmark.Result]
                enum CodingKeys: String, CodingKey {
                    case bench, customers, recipients, runs
                    case prepareSeconds = "prepare_s"
                }
            }
            let largest = runs.max { $0.recipients < $1.recipients }!
            if json {
                print(
                    try Analyze.json(
                        Report(customers: largest.customers, recipients: largest.recipients, prepareSeconds: largest.prepareSeconds, runs: runs)))
            }
        }
    }
}

extension Bench {
    struct WebBench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "web", abstract: "Median time to serve each console and portal page over loopback HTTP on a demo company of N customers.")
        @OptionGroup var demo: DemoCompanyOptions
        @Option(help: "Requests timed per page (the median is reported).") var repeats: Int = 9
        @Flag(help: "Print the result as JSON on the last line.") var json = false

        func run() async throws {
            guard repeats > 0 else { throw ValidationError("--repeats must be positive") }
            let (patron, customers) = try await demo.open(defaultCustomers: 100_000)
            let r = try await patron.closing { try await WebBenchmark(repeats: repeats).run(patron: $0, customers: customers) }
            for p in r.pages { print(String(format: "%8.1f ms  %7d bytes  %@", p.milliseconds, p.bytes, p.path)) }
            print(String(format: "slowest page: %.1f ms", r.slowestMilliseconds))
            if json { print(try Analyze.json(r)) }
        }
    }
}

/// The shared demo company a benchmark runs on.
struct DemoCompanyOptions: ParsableArguments {
    @Option(help: "Customers in the demo company (built once, then reused; each benchmark has its own default).") var customers: Int?
    @Option(help: "Where the demo databases are kept and reused (patron-demo-N.sqlite).") var directory: String = BenchCompany.defaultDirectory

    /// Opens (building it the first time) the demo company; progress goes to standard error.
    func open(defaultCustomers: Int) async throws -> (Patron, Int) {
        let n = customers ?? defaultCustomers
        guard n > 0 else { throw ValidationError("--customers must be positive") }
        let log: (String) -> Void = { FileHandle.standardError.write(Data("\($0)\n".utf8)) }
        return (try await BenchCompany.open(customers: n, directory: directory, logger: quietLogger(), log: log).0, n)
    }
}
