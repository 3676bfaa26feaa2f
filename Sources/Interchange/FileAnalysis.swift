import Analytics
import Foundation
import SharedModels

/// The `patron analyze … --transactions/--baskets/--table FILE` commands: the models run over a
/// file, without a database. Bad input names the file, line and field.
public enum FileAnalysis {
    /// Purchases read from a CSV `customer_id,date,amount` (date YYYY-MM-DD, amount in major units).
    public struct Purchases: Sendable {
        public var byCustomer: [String: [DatedPurchase]]
        public var firstDay: Int
        public var lastDay: Int
        public var rows: Int
    }

    public static func readPurchases(_ path: String) throws -> Purchases {
        var csv = try CSVRows(path: path, known: ["customer_id", "date", "amount"], required: ["customer_id", "date", "amount"])
        var byCustomer: [String: [DatedPurchase]] = [:]
        var first = Int.max
        var last = Int.min
        var rows = 0
        while let row = try csv.next() {
            guard let customer = csv.value(row, "customer_id") else {
                throw ImportError(file: path, line: csv.line, reason: "field 'customer_id': it is empty")
            }
            guard let text = csv.value(row, "date"), let date = LocalDate(text) else {
                throw ImportError(file: path, line: csv.line, reason: "field 'date': '\(csv.value(row, "date") ?? "")' is not a date YYYY-MM-DD")
            }
            guard let text = csv.value(row, "amount"), let amount = Double(text), amount.isFinite else {
                throw ImportError(file: path, line: csv.line, reason: "field 'amount': '\(csv.value(row, "amount") ?? "")' is not a number")
            }
            let day = date.daysSinceEpoch
            first = min(first, day)
            last = max(last, day)
            byCustomer[customer, default: []].append(DatedPurchase(day: day, value: amount))
            rows += 1
        }
        guard rows > 0 else { throw ImportError(file: path, line: 1, reason: "the file has no purchases") }
        return Purchases(byCustomer: byCustomer, firstDay: first, lastDay: last, rows: rows)
    }

    public enum Period: String, Sendable, CaseIterable {
        case day, week, month
        public var days: Double {
            switch self {
            case .day: 1
            case .week: 7
            case .month: 30
            }
        }
    }

    public struct CLVReport: Sendable, Encodable {
        public struct Holdout: Sendable, Encodable {
            /// Length of the period after the calibration end, in model periods.
            public var periods: Double
            /// Repeat purchase days actually seen, and the model's forecast.
            public var actual: Int
            public var predicted: Double
        }
        public var customers: Int
        public var repeatCustomers: Int
        public var period: String
        public var calibrationEnd: String
        public var bgnbd: BGNBD
        public var gammaGamma: GammaGamma?
        public var holdout: Holdout?
        public var fitMilliseconds: Double

        enum CodingKeys: String, CodingKey {
            case customers
            case repeatCustomers = "repeat_customers"
            case period
            case calibrationEnd = "calibration_end"
            case bgnbd
            case gammaGamma = "gamma_gamma"
            case holdout
            case fitMilliseconds = "fit_ms"
        }
    }

    /// Fits BG/NBD and Gamma-Gamma on purchases up to the calibration end (the last date in the
    /// file by default) and, with `out`, writes each customer's summary, P(alive), expected
    /// purchases and discounted CLV over `months`.
    public static func clv(
        transactions path: String, calibrationEnd: LocalDate?, period: Period, months: Int = 12, monthlyDiscount: Double = 0.01, out: String?
    ) throws -> CLVReport {
        let purchases = try readPurchases(path)
        let end = calibrationEnd?.daysSinceEpoch ?? purchases.lastDay
        var ids: [String] = []
        var summaries: [RepeatSummary] = []
        for (id, list) in purchases.byCustomer {
            if let s = RepeatSummary(purchases: list, calibrationEnd: end, periodDays: period.days) {
                ids.append(id)
                summaries.append(s)
            }
        }
        guard !summaries.isEmpty else {
            throw AnalyticsError.notEnoughData("no customer bought on or before the calibration end \(LocalDate(daysSinceEpoch: end))")
        }
        let started = ContinuousClock.now
        let bgnbd = try BGNBD.fit(summaries)
        let spend = try? GammaGamma.fit(summaries)
        let elapsed = ContinuousClock.now - started
        var holdout: CLVReport.Holdout?
        if purchases.lastDay > end {
            let periods = Double(purchases.lastDay - end) / period.days
            var actual = 0
            var predicted = 0.0
            for (i, id) in ids.enumerated() {
                actual += Set(purchases.byCustomer[id]!.lazy.filter { $0.day > end }.map(\.day)).count
                predicted += bgnbd.expectedPurchases(summaries[i], over: periods)
            }
            holdout = .init(periods: periods, actual: actual, predicted: predicted)
        }
        if let out {
            guard FileManager.default.createFile(atPath: out, contents: nil), let handle = FileHandle(forWritingAtPath: out) else {
                throw ImportError(file: out, line: 0, reason: "cannot write the file")
            }
            defer { try? handle.close() }
            let horizon = Double(months) * 30 / period.days
            let model = spend.map { LifetimeValueModel(transactions: bgnbd, spend: $0, periodDays: period.days) }
            var text = "customer_id,x,t_x,T,average_value,p_alive,expected_purchases,clv\n"
            let order = ids.indices.sorted { ids[$0].compare(ids[$1], options: .numeric) == .orderedAscending }
            for i in order {
                let s = summaries[i]
                let clv = model.map { String(format: "%.2f", $0.value(s, months: months, monthlyDiscount: monthlyDiscount)) } ?? ""
                text += "\(CSVExporter.escape(ids[i])),\(s.frequency),\(fixed(s.recency)),\(fixed(s.age)),\(fixed(s.averageValue)),"
                text +=
                    "\(String(format: "%.4f", bgnbd.probabilityAlive(s))),\(String(format: "%.4f", bgnbd.expectedPurchases(s, over: horizon))),\(clv)\n"
                if text.utf8.count > 1 << 20 {
                    handle.write(Data(text.utf8))
                    text = ""
                }
            }
            handle.write(Data(text.utf8))
        }
        return CLVReport(
            customers: summaries.count, repeatCustomers: summaries.filter { $0.frequency > 0 }.count, period: period.rawValue,
            calibrationEnd: LocalDate(daysSinceEpoch: end).description, bgnbd: bgnbd, gammaGamma: spend, holdout: holdout,
            fitMilliseconds: elapsed.milliseconds)
    }

    static func fixed(_ v: Double) -> String { String(format: "%.2f", v) }

    public struct BasketReport: Sendable, Encodable {
        public var baskets: Int
        public var minimumCount: Int
        public var itemsetsBySize: [Int]
        public var itemsets: Int
        public var rules: [MarketBasket.Rule]
        public var mineMilliseconds: Double

        enum CodingKeys: String, CodingKey {
            case baskets
            case minimumCount = "min_count"
            case itemsetsBySize = "itemsets_by_size"
            case itemsets, rules
            case mineMilliseconds = "mine_ms"
        }
    }

    /// Reads one basket per line (items comma-separated; CSV quoting allowed).
    public static func readBaskets(_ path: String) throws -> [[String]] {
        var parser: CSVParser
        do { parser = try CSVParser(path: path) } catch { throw ImportError(file: path, line: 0, reason: "cannot open the file") }
        var baskets: [[String]] = []
        do {
            while let row = try parser.next() {
                baskets.append(row.map { $0.trimmingSpaces() }.filter { !$0.isEmpty })
            }
        } catch let failure as CSVParser.Failure {
            throw ImportError(file: path, line: failure.line, reason: "malformed CSV: \(failure.reason)")
        }
        guard !baskets.isEmpty else { throw ImportError(file: path, line: 1, reason: "the file has no baskets") }
        return baskets
    }

    public static func basket(baskets path: String, minSupport: Double, minConfidence: Double) throws -> BasketReport {
        guard minSupport > 0 else { throw AnalyticsError.invalid("--min-support must be above 0 (a share of baskets, or a count of 1 or more)") }
        guard (0...1).contains(minConfidence) else { throw AnalyticsError.invalid("--min-confidence must be between 0 and 1") }
        let baskets = try readBaskets(path)
        let started = ContinuousClock.now
        let minimum = MarketBasket.minimumCount(support: minSupport, baskets: baskets.count)
        let mined = MarketBasket(baskets: baskets, minimumCount: minimum)
        let rules = mined.rules(minimumConfidence: minConfidence)
        let elapsed = ContinuousClock.now - started
        return BasketReport(
            baskets: baskets.count, minimumCount: minimum, itemsetsBySize: mined.itemsetsBySize, itemsets: mined.itemsets.count, rules: rules,
            mineMilliseconds: elapsed.milliseconds)
    }

    public struct ChurnReport: Sendable, Encodable {
        public var rows: Int
        public var features: Int
        public var target: String
        public var positive: String
        public var positives: Int
        public var folds: Int
        /// Mean cross-validated ROC AUC per model.
        public var auc: [String: Double]
        public var foldAUC: [String: [Double]]
        public var trainMilliseconds: Double

        enum CodingKeys: String, CodingKey {
            case rows, features, target, positive, positives, folds, auc
            case foldAUC = "fold_auc"
            case trainMilliseconds = "train_ms"
        }
    }

    /// Reads any CSV with a header into a table (column names as written, lower-cased).
    public static func readTable(_ path: String) throws -> FeatureTable {
        var csv = try CSVRows(path: path, known: [], required: [], allowPrefix: "")
        let columns = csv.columns.sorted { $0.value < $1.value }.map(\.key)
        var rows: [[String]] = []
        while let row = try csv.next() {
            guard row.count == columns.count else {
                throw ImportError(file: path, line: csv.line, reason: "the row has \(row.count) fields; the header has \(columns.count)")
            }
            rows.append(row.map { $0.trimmingSpaces() })
        }
        guard rows.count >= 10 else { throw ImportError(file: path, line: 1, reason: "the file needs at least 10 rows to train on") }
        return FeatureTable(columns: columns, rows: rows)
    }

    public static func churn(table path: String, target: String, folds: Int = 5, seed: UInt64 = 42) throws -> ChurnReport {
        let table = try readTable(path)
        let name = target.lowercased()
        guard table.columns.contains(name) else {
            throw ImportError(file: path, line: 1, reason: "no column '\(target)'; columns: \(table.columns.joined(separator: ", "))")
        }
        let (labels, positive) = try table.labels(name)
        let positives = Int(labels.reduce(0, +))
        guard positives >= folds, labels.count - positives >= folds else {
            throw AnalyticsError.notEnoughData("each class needs at least \(folds) rows for \(folds)-fold cross-validation")
        }
        let features = table.dropping(name)
        let started = ContinuousClock.now
        let auc = ChurnModels.crossValidate(features, labels: labels, k: folds, seed: seed)
        let elapsed = ContinuousClock.now - started
        return ChurnReport(
            rows: table.rows.count, features: features.columns.count, target: name, positive: positive, positives: positives, folds: folds,
            auc: Dictionary(uniqueKeysWithValues: auc.map { ($0.key.rawValue, $0.value.reduce(0, +) / Double($0.value.count)) }),
            foldAUC: Dictionary(uniqueKeysWithValues: auc.map { ($0.key.rawValue, $0.value) }), trainMilliseconds: elapsed.milliseconds)
    }

    public struct RFMReport: Sendable, Encodable {
        public var customers: Int
        public var asOf: String
        public var segments: [String: Int]
        public var pareto: ParetoCurve

        enum CodingKeys: String, CodingKey {
            case customers
            case asOf = "as_of"
            case segments, pareto
        }
    }

    /// RFM over a purchases file as of a date (the day after the last purchase by default).
    public static func rfm(transactions path: String, asOf: LocalDate?, out: String?) throws -> RFMReport {
        let purchases = try readPurchases(path)
        let today = asOf?.daysSinceEpoch ?? purchases.lastDay + 1
        var ids: [Int64: String] = [:]
        var activity: [CustomerActivity] = []
        for (n, (id, list)) in purchases.byCustomer.sorted(by: { $0.key < $1.key }).enumerated() {
            let seen = list.filter { $0.day <= today }
            let days = Set(seen.map(\.day))
            ids[Int64(n)] = id
            activity.append(
                CustomerActivity(
                    customer: Int64(n), daysSinceLastPurchase: days.max().map { today - $0 }, purchases: days.count,
                    revenue: Int64((seen.reduce(0) { $0 + $1.value } * 100).rounded())))
        }
        let scores = RFM.score(activity)
        var segments: [String: Int] = [:]
        for s in scores.values { segments[s.segment.rawValue, default: 0] += 1 }
        if let out {
            var text = "customer_id,recency_days,frequency,monetary,r,f,m,segment\n"
            for a in activity.sorted(by: { ids[$0.customer]!.compare(ids[$1.customer]!, options: .numeric) == .orderedAscending }) {
                let s = scores[a.customer]!
                text += "\(CSVExporter.escape(ids[a.customer]!)),\(a.daysSinceLastPurchase.map(String.init) ?? ""),\(a.purchases),"
                text += "\(String(format: "%.2f", Double(a.revenue) / 100)),\(s.recency),\(s.frequency),\(s.monetary),\(s.segment.rawValue)\n"
            }
            guard FileManager.default.createFile(atPath: out, contents: Data(text.utf8)) else {
                throw ImportError(file: out, line: 0, reason: "cannot write the file")
            }
        }
        return RFMReport(
            customers: activity.count, asOf: LocalDate(daysSinceEpoch: today).description, segments: segments,
            pareto: ParetoCurve(revenues: activity.map(\.revenue)))
    }
}
