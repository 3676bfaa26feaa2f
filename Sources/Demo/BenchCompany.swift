import App
import Interchange
import Analytics
import Campaigns
import Foundation
import Logging
import SharedModels

/// The demo companies the benchmarks share: `patron-demo-N.sqlite` in a directory, built once
/// (the million-customer one takes minutes) and reused, scored, with segment facts, as of a
/// fixed day so every run measures the same data.
public enum BenchCompany {
    /// 2026-11-02: the demo's last day of history, and the day the benchmarks run "today".
    public static let day = Date(timeIntervalSince1970: 1_793_577_600)

    public static var defaultDirectory: String {
        FileManager.default.temporaryDirectory.appendingPathComponent("patron-bench").path
    }

    /// Opens (building if needed) the demo company of `customers` people, scored and refreshed.
    /// `log` hears progress; the returned seconds are the build time when it was built now.
    public static func open(customers: Int, directory: String, logger: Logger, log: (String) -> Void) async throws -> (Patron, Double?) {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = (directory as NSString).appendingPathComponent("patron-demo-\(customers).sqlite")
        var settings = try Settings.fromEnvironment()
        settings.clock = Clock { day }
        let patron = try await Patron.open(.sqlite(path: path), settings: settings, logger: logger)
        do {
            var built: Double?
            if try await patron.isEmpty() {
                log("building a demo company of \(customers) customers in \(path) (kept for the next run)…")
                let start = ContinuousClock.now
                _ = try await DemoCompany(customers: customers, seed: 1, until: day).load(into: patron, log: log)
                built = seconds(since: start)
            }
            if try await patron.intelligence.latestRun() == nil {
                log("scoring the demo company…")
                _ = try await patron.runNightly()
            } else if try await patron.segments.factsRefreshedAt() == nil {
                try await patron.segments.refresh()
            }
            return (patron, built)
        } catch {
            try? await patron.close()
            throw error
        }
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        (ContinuousClock.now - start).milliseconds / 1000
    }
}

/// `patron bench segments`: the median time to count a six-condition segment.
public struct SegmentBenchmark: Sendable {
    /// Six conditions over profile, consent, scores, behaviour and the home store.
    public static let rule = """
        age >= 25 and consent.email and churn.risk < 0.6 and value.tier in ["A", "B", "C"] \
        and last_purchase > today - 365d and home_store in ["S01", "S02", "S03", "S04", "S05", "S06"]
        """

    public struct Result: Sendable, Encodable {
        public var bench = "segments"
        public var countMilliseconds: Double
        public var customers: Int
        public var count: Int
        public var repeats: Int
        public var rule: String
        public var engine = "sqlite"

        enum CodingKeys: String, CodingKey {
            case bench
            case countMilliseconds = "count_ms"
            case customers, count, repeats, rule, engine
        }
    }

    public let repeats: Int

    public init(repeats: Int = 15) { self.repeats = repeats }

    public func run(patron: Patron) async throws -> Result {
        var samples: [Double] = []
        var count = 0
        _ = try await patron.segments.count(rule: Self.rule)  // warm the page cache
        for _ in 0..<repeats {
            let (n, ms) = try await patron.segments.count(rule: Self.rule)
            count = n
            samples.append(ms)
        }
        samples.sort()
        let customers = try await patron.segments.count(rule: "customer_since <= now").count
        return Result(countMilliseconds: samples[samples.count / 2], customers: customers, count: count, repeats: repeats, rule: Self.rule)
    }
}
