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

/// L2-regularised logistic regression fitted by Newton's method (as scikit-learn's default,
/// C = 1: the penalty is ½‖w‖², the intercept unpenalised).
public struct LogisticRegression: Sendable {
    public var weights: [Double]
    public var intercept: Double

    public init(x: [[Double]], y: [Double], c: Double = 1, iterations: Int = 50) {
        let d = x.first?.count ?? 0
        var w = [Double](repeating: 0, count: d + 1)  // last is the intercept
        for _ in 0..<iterations {
            var gradient = [Double](repeating: 0, count: d + 1)
            var hessian = [Double](repeating: 0, count: (d + 1) * (d + 1))
            for (row, label) in zip(x, y) {
                var z = w[d]
                for k in 0..<d { z += w[k] * row[k] }
                let p = 1 / (1 + exp(-z))
                let r = p - label
                let h = max(p * (1 - p), 1e-12)
                for k in 0..<d {
                    gradient[k] += r * row[k]
                    let hk = h * row[k]
                    if hk == 0 { continue }
                    for l in k..<d { hessian[k * (d + 1) + l] += hk * row[l] }
                    hessian[k * (d + 1) + d] += hk
                }
                gradient[d] += r
                hessian[d * (d + 1) + d] += h
            }
            for k in 0..<d {
                gradient[k] += w[k] / c
                hessian[k * (d + 1) + k] += 1 / c
                for l in 0..<k { hessian[k * (d + 1) + l] = hessian[l * (d + 1) + k] }
            }
            for l in 0..<d { hessian[d * (d + 1) + l] = hessian[l * (d + 1) + d] }
            guard let step = Self.solve(hessian, gradient, n: d + 1) else { break }
            for k in 0...d { w[k] -= step[k] }
            if step.map(abs).max() ?? 0 < 1e-9 { break }
        }
        self.weights = Array(w.prefix(d))
        self.intercept = w[d]
    }

    public func probability(_ row: [Double]) -> Double {
        var z = intercept
        for k in weights.indices { z += weights[k] * row[k] }
        return 1 / (1 + exp(-z))
    }

    /// Solves A x = b for a symmetric positive-definite A by Cholesky.
    static func solve(_ a: [Double], _ b: [Double], n: Int) -> [Double]? {
        var l = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in 0...i {
                var s = a[i * n + j]
                for k in 0..<j { s -= l[i * n + k] * l[j * n + k] }
                if i == j {
                    guard s > 0 else { return nil }
                    l[i * n + i] = sqrt(s)
                } else {
                    l[i * n + j] = s / l[j * n + j]
                }
            }
        }
        var y = [Double](repeating: 0, count: n)
        for i in 0..<n {
            var s = b[i]
            for k in 0..<i { s -= l[i * n + k] * y[k] }
            y[i] = s / l[i * n + i]
        }
        var x = [Double](repeating: 0, count: n)
        for i in stride(from: n - 1, through: 0, by: -1) {
            var s = y[i]
            for k in (i + 1)..<n { s -= l[k * n + i] * x[k] }
            x[i] = s / l[i * n + i]
        }
        return x
    }
}

/// Gradient-boosted regression trees for log-loss (Friedman 2001), as scikit-learn's
/// `GradientBoostingClassifier` defaults: 100 trees of depth 3, learning rate 0.1, leaves set by
/// one Newton step. Splits are searched over at most 255 quantile bins per feature.
public struct GradientBoosting: Sendable {
    struct Node: Sendable {
        var feature: Int = -1
        var threshold: Double = 0
        var left: Int = -1
        var right: Int = -1
        /// The node's Newton-step value (used for leaves, and for explanations on the path).
        var value: Double = 0
    }
    var trees: [[Node]] = []
    var base: Double = 0
    let learningRate: Double

    public init(x: [[Double]], y: [Double], trees count: Int = 100, depth: Int = 3, learningRate: Double = 0.1, minLeaf: Int = 1) {
        self.learningRate = learningRate
        let n = x.count
        let d = x.first?.count ?? 0
        let positives = y.reduce(0, +)
        let prior = min(max(positives / Double(max(n, 1)), 1e-6), 1 - 1e-6)
        base = log(prior / (1 - prior))
        // Bin each feature once: up to 255 thresholds at quantiles of its distinct values.
        var thresholds: [[Double]] = []
        var bins = [[UInt8]](repeating: [UInt8](repeating: 0, count: n), count: d)
        for k in 0..<d {
            let distinct = Array(Set(x.map { $0[k] })).sorted()
            var cuts: [Double] = []
            if distinct.count <= 256 {
                cuts = zip(distinct, distinct.dropFirst()).map { ($0 + $1) / 2 }
            } else {
                let values = x.map { $0[k] }.sorted()
                for q in 1..<256 {
                    let v = values[q * (n - 1) / 256]
                    if cuts.last.map({ v > $0 }) ?? true { cuts.append(v) }
                }
            }
            thresholds.append(cuts)
            for i in 0..<n {
                // The bin is the number of cuts below the value (binary search).
                var lo = 0
                var hi = cuts.count
                let v = x[i][k]
                while lo < hi {
                    let mid = (lo + hi) / 2
                    if cuts[mid] < v { lo = mid + 1 } else { hi = mid }
                }
                bins[k][i] = UInt8(lo)
            }
        }
        var score = [Double](repeating: base, count: n)
        var residual = [Double](repeating: 0, count: n)
        var hessian = residual
        for _ in 0..<count {
            for i in 0..<n {
                let p = 1 / (1 + exp(-score[i]))
                residual[i] = y[i] - p
                hessian[i] = p * (1 - p)
            }
            var nodes: [Node] = []
            func grow(_ rows: [Int], level: Int) -> Int {
                let g = rows.reduce(0) { $0 + residual[$1] }
                let h = rows.reduce(0) { $0 + hessian[$1] }
                let index = nodes.count
                nodes.append(Node(value: h > 1e-12 ? g / h : 0))
                guard level < depth, rows.count >= 2 * minLeaf else { return index }
                // Best split by least-squares improvement on the residuals.
                let total = Double(rows.count)
                var best = (gain: 1e-12, feature: -1, bin: 0)
                var sums = [Double](repeating: 0, count: 256)
                var counts = [Int](repeating: 0, count: 256)
                for k in 0..<d where !thresholds[k].isEmpty {
                    for b in 0...thresholds[k].count {
                        sums[b] = 0
                        counts[b] = 0
                    }
                    let column = bins[k]
                    for i in rows {
                        let b = Int(column[i])
                        sums[b] += residual[i]
                        counts[b] += 1
                    }
                    var leftSum = 0.0
                    var leftCount = 0
                    for b in 0..<thresholds[k].count {
                        leftSum += sums[b]
                        leftCount += counts[b]
                        let rightCount = rows.count - leftCount
                        if leftCount < minLeaf || rightCount < minLeaf { continue }
                        let rightSum = g - leftSum
                        let gain = leftSum * leftSum / Double(leftCount) + rightSum * rightSum / Double(rightCount) - g * g / total
                        if gain > best.gain { best = (gain, k, b) }
                    }
                }
                guard best.feature >= 0 else { return index }
                let column = bins[best.feature]
                let left = rows.filter { Int(column[$0]) <= best.bin }
                let right = rows.filter { Int(column[$0]) > best.bin }
                nodes[index].feature = best.feature
                nodes[index].threshold = thresholds[best.feature][best.bin]
                let l = grow(left, level: level + 1)
                let r = grow(right, level: level + 1)
                nodes[index].left = l
                nodes[index].right = r
                return index
            }
            _ = grow(Array(0..<n), level: 0)
            trees.append(nodes)
            for i in 0..<n { score[i] += learningRate * Self.leaf(nodes, x[i]).value }
        }
    }

    static func leaf(_ nodes: [Node], _ row: [Double]) -> Node {
        var i = 0
        while nodes[i].feature >= 0 { i = row[nodes[i].feature] < nodes[i].threshold ? nodes[i].left : nodes[i].right }
        return nodes[i]
    }

    public func logOdds(_ row: [Double]) -> Double {
        trees.reduce(base) { $0 + learningRate * Self.leaf($1, row).value }
    }

    public func probability(_ row: [Double]) -> Double { 1 / (1 + exp(-logOdds(row))) }

    /// Per feature, its share of the log-odds along the row's path in every tree (the change in
    /// node value at each split it decides, Saabas's method); they sum to log-odds − the tree roots.
    public func contributions(_ row: [Double]) -> [Double] {
        var result = [Double](repeating: 0, count: row.count)
        for nodes in trees {
            var i = 0
            while nodes[i].feature >= 0 {
                let next = row[nodes[i].feature] < nodes[i].threshold ? nodes[i].left : nodes[i].right
                result[nodes[i].feature] += learningRate * (nodes[next].value - nodes[i].value)
                i = next
            }
        }
        return result
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

/// Churn (or any yes/no) models trained in-process with cross-validated AUC.
public enum ChurnModels {
    public enum Model: String, Sendable, CaseIterable, Codable {
        case logisticRegression = "logistic_regression"
        case gradientBoosting = "gradient_boosting"
    }

    /// Stratified k folds, shuffled reproducibly by `seed`.
    public static func folds(labels: [Double], k: Int, seed: UInt64) -> [Int] {
        var generator = SeededGenerator(seed: seed)
        var fold = [Int](repeating: 0, count: labels.count)
        for cls in [0.0, 1.0] {
            var members = labels.indices.filter { labels[$0] == cls }
            members.shuffle(using: &generator)
            for (position, i) in members.enumerated() { fold[i] = position % k }
        }
        return fold
    }

    /// Mean AUC over `k` stratified folds for each model (features learnt on each training fold only).
    public static func crossValidate(
        _ table: FeatureTable, labels: [Double], models: [Model] = Model.allCases, k: Int = 5, seed: UInt64 = 42
    ) -> [Model: [Double]] {
        let fold = folds(labels: labels, k: k, seed: seed)
        var result: [Model: [Double]] = [:]
        for f in 0..<k {
            let train = table.rows.indices.filter { fold[$0] != f }
            let test = table.rows.indices.filter { fold[$0] == f }
            let encoder = FeatureEncoder(fitting: table, rows: train)
            let testY = test.map { labels[$0] }
            for model in models {
                switch model {
                case .logisticRegression:
                    let lr = LogisticRegression(x: train.map { encoder.standardized(table.rows[$0]) }, y: train.map { labels[$0] })
                    result[model, default: []].append(
                        rocAUC(scores: test.map { lr.probability(encoder.standardized(table.rows[$0])) }, labels: testY))
                case .gradientBoosting:
                    let gb = GradientBoosting(x: train.map { encoder.raw(table.rows[$0]) }, y: train.map { labels[$0] })
                    result[model, default: []].append(rocAUC(scores: test.map { gb.probability(encoder.raw(table.rows[$0])) }, labels: testY))
                }
            }
        }
        return result
    }
}

/// A fitted churn model with explanations, for scoring customers.
public struct ChurnScorer: Sendable {
    public let encoder: FeatureEncoder
    public let model: GradientBoosting
    /// Per feature, the index of its source column in `sources`.
    let sourceOf: [Int]
    let sources: [String]

    public init(table: FeatureTable, labels: [Double]) {
        let encoder = FeatureEncoder(fitting: table, rows: Array(table.rows.indices))
        self.encoder = encoder
        model = GradientBoosting(x: table.rows.map { encoder.raw($0) }, y: labels)
        var sources: [String] = []
        var sourceOf: [Int] = []
        for name in encoder.sourceColumns {
            if sources.last != name { sources.append(name) }
            sourceOf.append(sources.count - 1)
        }
        self.sources = sources
        self.sourceOf = sourceOf
    }

    /// The probability and the source columns that push it up most.
    public func score(_ row: [String], drivers limit: Int = 3) -> (risk: Double, drivers: [Driver]) {
        explain(encoder.raw(row), drivers: limit)
    }

    public func score(cells row: [FeatureCell], drivers limit: Int = 3) -> (risk: Double, drivers: [Driver]) {
        explain(encoder.raw(cells: row), drivers: limit)
    }

    func explain(_ x: [Double], drivers limit: Int) -> (risk: Double, drivers: [Driver]) {
        let risk = model.probability(x)
        guard limit > 0 else { return (risk, []) }
        var bySource = [Double](repeating: 0, count: sources.count)
        for (feature, value) in model.contributions(x).enumerated() { bySource[sourceOf[feature]] += value }
        let drivers = bySource.indices.filter { bySource[$0] > 0 }
            .sorted { bySource[$0] > bySource[$1] || (bySource[$0] == bySource[$1] && sources[$0] < sources[$1]) }.prefix(limit)
        return (risk, drivers.map { Driver(feature: sources[$0], contribution: bySource[$0]) })
    }
}
