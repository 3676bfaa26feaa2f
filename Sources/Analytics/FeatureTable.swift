import Foundation
import SharedModels

/// A table of named columns of text values, as read from a CSV or built from profiles: numeric
/// and categorical columns are told apart by their values; empty, `NA`, `?` and `null` are missing.
public struct FeatureTable: Sendable {
    public var columns: [String]
    public var rows: [[String]]

    public init(columns: [String], rows: [[String]]) {
        self.columns = columns
        self.rows = rows
    }

    static func isMissing(_ v: String) -> Bool {
        if v.isEmpty { return true }
        // Short words only, so most values (numbers, longer names) are decided by their length.
        guard v.utf8.count <= 4 else { return false }
        return v == "NA" || v == "?" || ["null", "nan"].contains(v.lowercased())
    }

    /// The 0/1 labels of a target column: `yes`, `true`, `1` (or, failing those, the rarer
    /// value) is the positive class.
    public func labels(_ target: String) throws -> (labels: [Double], positive: String) {
        guard let j = columns.firstIndex(of: target) else { throw AnalyticsError.invalid("no column named '\(target)'") }
        var counts: [String: Int] = [:]
        for row in rows { counts[row[j], default: 0] += 1 }
        guard counts.count == 2 else {
            throw AnalyticsError.invalid("the target column '\(target)' must have exactly two values, it has \(counts.count)")
        }
        let known = ["yes", "true", "1", "y", "churn", "churned"]
        let positive =
            counts.keys.first { known.contains($0.lowercased()) }
            ?? counts.min { $0.value < $1.value || ($0.value == $1.value && $0.key < $1.key) }!.key
        return (rows.map { $0[j] == positive ? 1 : 0 }, positive)
    }

    public func dropping(_ column: String) -> FeatureTable {
        guard let j = columns.firstIndex(of: column) else { return self }
        var t = self
        t.columns.remove(at: j)
        t.rows = rows.map {
            var r = $0; r.remove(at: j); return r
        }
        return t
    }
}

/// Turns a table into numbers, learnt on training rows only: numeric columns with missing values
/// imputed by the median (plus a "was missing" indicator), categorical columns one-hot encoded
/// (unseen levels encode as all zeros), then everything standardised.
public struct FeatureEncoder: Sendable {
    enum Column: Sendable {
        case numeric(index: Int, median: Double, hasMissing: Bool)
        case categorical(index: Int, levels: [String])
    }
    let columns: [Column]
    /// The name of each output feature, and the source column it came from.
    public let featureNames: [String]
    public let sourceColumns: [String]
    var mean: [Double] = []
    var scale: [Double] = []

    public init(fitting table: FeatureTable, rows: [Int]) {
        var columns: [Column] = []
        var names: [String] = []
        var sources: [String] = []
        for (j, name) in table.columns.enumerated() {
            let values = rows.map { table.rows[$0][j] }
            let present = values.filter { !FeatureTable.isMissing($0) }
            let numbers = present.compactMap(Double.init)
            if !present.isEmpty, numbers.count == present.count {
                let sorted = numbers.sorted()
                let median = sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
                let hasMissing = present.count < values.count
                columns.append(.numeric(index: j, median: median, hasMissing: hasMissing))
                names.append(name)
                sources.append(name)
                if hasMissing {
                    names.append("\(name) missing")
                    sources.append(name)
                }
            } else {
                let levels = Array(Set(values.map { FeatureTable.isMissing($0) ? "(missing)" : $0 })).sorted()
                columns.append(.categorical(index: j, levels: levels))
                for level in levels {
                    names.append("\(name)=\(level)")
                    sources.append(name)
                }
            }
        }
        self.columns = columns
        self.featureNames = names
        self.sourceColumns = sources
        let encoded = rows.map { raw(table.rows[$0]) }
        let n = Double(max(1, encoded.count))
        var mean = [Double](repeating: 0, count: names.count)
        var variance = mean
        for x in encoded { for k in x.indices { mean[k] += x[k] / n } }
        for x in encoded { for k in x.indices { variance[k] += (x[k] - mean[k]) * (x[k] - mean[k]) / n } }
        self.mean = mean
        self.scale = variance.map { $0 > 1e-12 ? sqrt($0) : 1 }
    }

    /// The unscaled features of a row (numbers, 0/1 indicators).
    public func raw(_ row: [String]) -> [Double] {
        var out: [Double] = []
        out.reserveCapacity(featureNames.count)
        for column in columns {
            switch column {
            case .numeric(let j, let median, let hasMissing):
                let v = row[j]
                let missing = FeatureTable.isMissing(v)
                out.append(missing ? median : Double(v) ?? median)
                if hasMissing { out.append(missing ? 1 : 0) }
            case .categorical(let j, let levels):
                let v = FeatureTable.isMissing(row[j]) ? "(missing)" : row[j]
                for level in levels { out.append(level == v ? 1 : 0) }
            }
        }
        return out
    }

    /// The unscaled features of a row given as typed cells (no text to parse): numbers for
    /// numeric columns, text for categorical ones, nil when missing.
    public func raw(cells row: [FeatureCell]) -> [Double] {
        var out: [Double] = []
        out.reserveCapacity(featureNames.count)
        for column in columns {
            switch column {
            case .numeric(let j, let median, let hasMissing):
                var value: Double?
                switch row[j] {
                case .number(let v): value = v
                case .text(let t): value = t.flatMap(Double.init)
                }
                out.append(value ?? median)
                if hasMissing { out.append(value == nil ? 1 : 0) }
            case .categorical(let j, let levels):
                var text: String
                switch row[j] {
                case .text(let t): text = t.flatMap { FeatureTable.isMissing($0) ? nil : $0 } ?? "(missing)"
                case .number(let v): text = v.map { String($0) } ?? "(missing)"
                }
                for level in levels { out.append(level == text ? 1 : 0) }
            }
        }
        return out
    }

    public func standardized(_ row: [String]) -> [Double] {
        var x = raw(row)
        for k in x.indices { x[k] = (x[k] - mean[k]) / scale[k] }
        return x
    }
}

/// One value of a row given without text: what the scoring job hands the churn model.
public enum FeatureCell: Sendable, Hashable {
    case number(Double?)
    case text(String?)

    /// The same value as a table cell (for training from the same rows).
    public var asText: String {
        switch self {
        case .number(let v): v.map { $0 == $0.rounded() && abs($0) < 1e15 ? String(Int64($0)) : String($0) } ?? ""
        case .text(let t): t ?? ""
        }
    }
}

/// A binary classifier's per-row explanation: each source column's push on the log-odds.
public struct Driver: Sendable, Hashable, Codable {
    public var feature: String
    public var contribution: Double
    public init(feature: String, contribution: Double) {
        self.feature = feature
        self.contribution = contribution
    }
}

/// Area under the ROC curve (the Mann–Whitney statistic, ties counted half).
public func rocAUC(scores: [Double], labels: [Double]) -> Double {
    let order = scores.indices.sorted { scores[$0] < scores[$1] }
    var rankSum = 0.0
    var i = 0
    while i < order.count {
        var j = i
        while j + 1 < order.count && scores[order[j + 1]] == scores[order[i]] { j += 1 }
        let rank = Double(i + j) / 2 + 1
        for k in i...j where labels[order[k]] == 1 { rankSum += rank }
        i = j + 1
    }
    let positives = labels.reduce(0, +)
    let negatives = Double(labels.count) - positives
    guard positives > 0, negatives > 0 else { return .nan }
    return (rankSum - positives * (positives + 1) / 2) / (positives * negatives)
}

