import Foundation
import SharedModels

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
