import Foundation
import SharedModels

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
