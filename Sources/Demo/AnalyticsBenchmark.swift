import App
import Interchange
import Analytics
import Foundation
import SharedModels

/// `patron bench analytics`: each model on the public data sets (against the Python peers'
/// times measured here), then the full nightly scoring job on demo companies of N customers.
public struct AnalyticsBenchmark: Sendable {
    /// Where `CDNOW_sample.txt`, `weka_supermarket_baskets.csv` and `mlc_churn.csv` are.
    public let dataDirectory: String
    public let repeats: Int

    public init(dataDirectory: String, repeats: Int = 20) {
        self.dataDirectory = dataDirectory
        self.repeats = repeats
    }

    /// The shared data directory: `$PATRON_SHARED_DATA`, `../shared/data` or `/work/shared/data`.
    public static func defaultDataDirectory() -> String {
        let candidates = [ProcessInfo.processInfo.environment["PATRON_SHARED_DATA"], "../shared/data", "/work/shared/data"].compactMap { $0 }
        return candidates.first { FileManager.default.fileExists(atPath: $0 + "/CDNOW_sample.txt") } ?? "../shared/data"
    }

    public struct ModelTiming: Sendable, Encodable {
        public var name: String
        /// Median over the repeats, milliseconds.
        public var milliseconds: Double
        /// The peer's time measured on this machine (Python), when there is one.
        public var peerMilliseconds: Double?
        public var peer: String?
        /// What the run produced, to compare with the published figures.
        public var result: String

        enum CodingKeys: String, CodingKey {
            case name
            case milliseconds = "ms"
            case peerMilliseconds = "peer_ms"
            case peer, result
        }
    }

    static func median(_ values: [Double]) -> Double {
        let s = values.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    func time<T>(_ times: Int, _ body: () throws -> T) rethrows -> (ms: Double, value: T) {
        var samples: [Double] = []
        var last: T?
        for _ in 0..<max(1, times) {
            let start = ContinuousClock.now
            last = try body()
            samples.append((ContinuousClock.now - start).milliseconds)
        }
        return (Self.median(samples), last!)
    }

    /// Times every model on the shared data sets.
    public func models(log: (String) -> Void) throws -> [ModelTiming] {
        var timings: [ModelTiming] = []
        // CDNOW: raw purchases → summaries → BG/NBD and Gamma-Gamma.
        var purchases: [Int: [DatedPurchase]] = [:]
        for line in try String(contentsOfFile: dataDirectory + "/CDNOW_sample.txt", encoding: .utf8).split(whereSeparator: \.isNewline) {
            let f = line.split(separator: " ")
            guard f.count >= 5, let id = Int(f[1]), let amount = Double(f[4]),
                let date = LocalDate("\(f[2].prefix(4))-\(f[2].dropFirst(4).prefix(2))-\(f[2].suffix(2))")
            else { continue }
            purchases[id, default: []].append(DatedPurchase(day: date.daysSinceEpoch, value: amount))
        }
        let end = LocalDate(year: 1997, month: 9, day: 30)!.daysSinceEpoch
        let (summaryMS, summaries) = time(repeats) { purchases.values.compactMap { RepeatSummary(purchases: $0, calibrationEnd: end) } }
        timings.append(.init(name: "cdnow_summary", milliseconds: summaryMS, result: "\(summaries.count) customers"))
        let (bgMS, bg) = try time(repeats) { try BGNBD.fit(summaries) }
        timings.append(
            .init(
                name: "bgnbd_fit", milliseconds: bgMS, peerMilliseconds: 45, peer: "lifetimes BetaGeoFitter",
                result: String(format: "r=%.3f alpha=%.3f a=%.3f b=%.3f LL=%.1f", bg.r, bg.alpha, bg.a, bg.b, bg.logLikelihood)))
        log(timings.last.map { "\($0.name): \(String(format: "%.2f", $0.milliseconds)) ms (\($0.result))" }!)
        let (ggMS, gg) = try time(repeats) { try GammaGamma.fit(summaries) }
        timings.append(
            .init(name: "gamma_gamma_fit", milliseconds: ggMS, result: String(format: "p=%.2f q=%.2f gamma=%.2f", gg.p, gg.q, gg.gamma)))
        log(timings.last.map { "\($0.name): \(String(format: "%.2f", $0.milliseconds)) ms (\($0.result))" }!)
        let model = LifetimeValueModel(transactions: bg, spend: gg, periodDays: 7)
        let (clvMS, total) = time(repeats) { summaries.reduce(0) { $0 + model.value($1) } }
        timings.append(.init(name: "clv_2357_customers", milliseconds: clvMS, result: String(format: "total 12-month CLV $%.0f", total)))

        // Supermarket baskets: FP-growth and rules at 0.15 and 0.10.
        let baskets = try FileAnalysis.readBaskets(dataDirectory + "/weka_supermarket_baskets.csv")
        for (support, peer) in [(0.15, 700.0), (0.10, 1_800.0)] {
            let (ms, mined) = time(max(3, repeats / 4)) { () -> (MarketBasket, Int) in
                let m = MarketBasket(baskets: baskets, minimumCount: MarketBasket.minimumCount(support: support, baskets: baskets.count))
                return (m, m.rules(minimumConfidence: 0.9).count)
            }
            timings.append(
                .init(
                    name: "fpgrowth_rules_\(support)", milliseconds: ms, peerMilliseconds: peer, peer: "mlxtend fpgrowth",
                    result: "itemsets \(mined.0.itemsetsBySize.map(String.init).joined(separator: "/")), \(mined.1) rules ≥ 0.9"))
            log(timings.last.map { "\($0.name): \(String(format: "%.1f", $0.milliseconds)) ms (\($0.result))" }!)
        }

        // Churn: 5-fold cross-validation of both models.
        let table = try FileAnalysis.readTable(dataDirectory + "/mlc_churn.csv")
        let (labels, _) = try table.labels("churn")
        let features = table.dropping("churn")
        for m in ChurnModels.Model.allCases {
            let (ms, auc) = time(1) { ChurnModels.crossValidate(features, labels: labels, models: [m])[m]! }
            timings.append(
                .init(name: "churn_cv5_\(m.rawValue)", milliseconds: ms, result: String(format: "AUC %.3f", auc.reduce(0, +) / Double(auc.count))))
            log(timings.last.map { "\($0.name): \(String(format: "%.0f", $0.milliseconds)) ms (\($0.result))" }!)
        }
        return timings
    }
}
