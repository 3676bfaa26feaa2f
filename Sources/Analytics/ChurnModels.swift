import Foundation
import SharedModels

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
