import Foundation

/// Special functions and optimisers the models need. No numeric library is available on this
/// stack, so these are written here and tested against known values.
public enum Numerics {
    /// ln Γ(x) for x > 0.
    @inlinable public static func logGamma(_ x: Double) -> Double { lgamma(x) }

    /// ψ(x), the digamma function, for x > 0: recurrence up to x ≥ 10, then the asymptotic series.
    public static func digamma(_ x: Double) -> Double {
        var x = x
        var result = 0.0
        while x < 10 {
            result -= 1 / x
            x += 1
        }
        let f = 1 / (x * x)
        let series = f * (1.0 / 12 - f * (1.0 / 120 - f * (1.0 / 252 - f * (1.0 / 240 - f * (1.0 / 132)))))
        return result + log(x) - 0.5 / x - series
    }

    /// ln(e^a + e^b) without overflow.
    @inlinable public static func logAddExp(_ a: Double, _ b: Double) -> Double {
        let m = max(a, b)
        if m == -.infinity { return m }
        return m + log(exp(a - m) + exp(b - m))
    }

    /// Gauss's hypergeometric function ₂F₁(a, b; c; z) for 0 ≤ z < 1, by its power series.
    public static func hypergeometric2F1(_ a: Double, _ b: Double, _ c: Double, _ z: Double) -> Double {
        precondition(z >= 0 && z < 1, "2F1 is summed only for 0 ≤ z < 1")
        var term = 1.0
        var sum = 1.0
        var k = 0.0
        while k < 1_000_000 {
            term *= (a + k) * (b + k) / ((c + k) * (k + 1)) * z
            sum += term
            if abs(term) <= 1e-15 * abs(sum) { break }
            k += 1
        }
        return sum
    }

    /// The outcome of a minimisation.
    public struct Minimum: Sendable {
        public var point: [Double]
        public var value: Double
        public var iterations: Int
        public var evaluations: Int
        public var converged: Bool
    }

    /// Minimises a smooth function with BFGS and a backtracking (Armijo) line search, using the
    /// analytic gradient `f` returns with its value. Falls back to Nelder–Mead from the best point
    /// found if the quasi-Newton steps stall before the gradient is small.
    public static func minimize(
        from start: [Double], tolerance: Double = 1e-9, maxIterations: Int = 500,
        _ f: ([Double]) -> (value: Double, gradient: [Double])
    ) -> Minimum {
        let n = start.count
        var x = start
        var (fx, g) = f(x)
        var evaluations = 1
        // Inverse Hessian approximation, starting from the identity.
        var h = [Double](repeating: 0, count: n * n)
        for i in 0..<n { h[i * n + i] = 1 }
        var iteration = 0
        var converged = false
        while iteration < maxIterations {
            iteration += 1
            if g.allSatisfy({ $0.isFinite }), g.map(abs).max()! < tolerance {
                converged = true
                break
            }
            // Direction p = −H g; reset to steepest descent if it is not downhill.
            var p = [Double](repeating: 0, count: n)
            for i in 0..<n {
                var s = 0.0
                for j in 0..<n { s -= h[i * n + j] * g[j] }
                p[i] = s
            }
            var slope = zip(p, g).reduce(0) { $0 + $1.0 * $1.1 }
            if !(slope < 0) {
                for i in 0..<n * n { h[i] = 0 }
                for i in 0..<n { h[i * n + i] = 1 }
                p = g.map { -$0 }
                slope = -g.reduce(0) { $0 + $1 * $1 }
            }
            // Keep a step within a sane size in log-parameter space.
            let longest = p.map(abs).max()!
            var step = longest > 5 ? 5 / longest : 1.0
            var accepted: (x: [Double], fx: Double, g: [Double])?
            while step > 1e-14 {
                let candidate = zip(x, p).map { $0 + step * $1 }
                let (fc, gc) = f(candidate)
                evaluations += 1
                if fc.isFinite, fc <= fx + 1e-4 * step * slope {
                    accepted = (candidate, fc, gc)
                    break
                }
                step *= 0.5
            }
            guard let next = accepted else {
                // No step improves any more: at the optimum up to rounding when the gradient is small.
                if g.map(abs).max()! < tolerance * 1e4 { converged = true }
                break
            }
            let s = zip(next.x, x).map { $0 - $1 }
            let y = zip(next.g, g).map { $0 - $1 }
            let sy = zip(s, y).reduce(0) { $0 + $1.0 * $1.1 }
            let improvement = fx - next.fx
            x = next.x
            fx = next.fx
            g = next.g
            if sy > 1e-12 {
                // H ← (I − ρ s yᵀ) H (I − ρ y sᵀ) + ρ s sᵀ
                let rho = 1 / sy
                var hy = [Double](repeating: 0, count: n)
                for i in 0..<n {
                    var t = 0.0
                    for j in 0..<n { t += h[i * n + j] * y[j] }
                    hy[i] = t
                }
                let yhy = zip(y, hy).reduce(0) { $0 + $1.0 * $1.1 }
                for i in 0..<n {
                    for j in 0..<n {
                        h[i * n + j] += -rho * (hy[i] * s[j] + s[i] * hy[j]) + (rho * rho * yhy + rho) * s[i] * s[j]
                    }
                }
            }
            if improvement >= 0, improvement < 1e-16 * max(1, abs(fx)), g.map(abs).max()! < tolerance * 1e3 {
                converged = true
                break
            }
        }
        if !converged {
            let polished = nelderMead(from: x, maxEvaluations: 2_000) { f($0).value }
            evaluations += polished.evaluations
            if polished.value < fx {
                return Minimum(
                    point: polished.point, value: polished.value, iterations: iteration, evaluations: evaluations, converged: polished.converged)
            }
        }
        return Minimum(point: x, value: fx, iterations: iteration, evaluations: evaluations, converged: converged)
    }

    /// Minimises a function without derivatives (Nelder–Mead, standard coefficients).
    public static func nelderMead(
        from start: [Double], scale: Double = 0.5, tolerance: Double = 1e-12, maxEvaluations: Int = 10_000, _ f: ([Double]) -> Double
    ) -> Minimum {
        let n = start.count
        var simplex = [start]
        for i in 0..<n {
            var v = start
            v[i] += scale
            simplex.append(v)
        }
        var values = simplex.map { value in
            let fv = f(value)
            return fv.isFinite ? fv : .infinity
        }
        var evaluations = n + 1
        var iterations = 0
        func eval(_ v: [Double]) -> Double {
            evaluations += 1
            let fv = f(v)
            return fv.isFinite ? fv : .infinity
        }
        while evaluations < maxEvaluations {
            iterations += 1
            let order = values.indices.sorted { values[$0] < values[$1] }
            simplex = order.map { simplex[$0] }
            values = order.map { values[$0] }
            if abs(values[n] - values[0]) <= tolerance * max(1, abs(values[0])) {
                return Minimum(point: simplex[0], value: values[0], iterations: iterations, evaluations: evaluations, converged: true)
            }
            var centroid = [Double](repeating: 0, count: n)
            for v in simplex.dropLast() { for i in 0..<n { centroid[i] += v[i] / Double(n) } }
            func along(_ t: Double) -> [Double] { (0..<n).map { centroid[$0] + t * (simplex[n][$0] - centroid[$0]) } }
            let reflected = along(-1)
            let fr = eval(reflected)
            if fr < values[0] {
                let expanded = along(-2)
                let fe = eval(expanded)
                if fe < fr { simplex[n] = expanded; values[n] = fe } else { simplex[n] = reflected; values[n] = fr }
            } else if fr < values[n - 1] {
                simplex[n] = reflected
                values[n] = fr
            } else {
                let contracted = fr < values[n] ? along(-0.5) : along(0.5)
                let fc = eval(contracted)
                if fc < min(fr, values[n]) {
                    simplex[n] = contracted
                    values[n] = fc
                } else {
                    for k in 1...n {
                        simplex[k] = (0..<n).map { simplex[0][$0] + 0.5 * (simplex[k][$0] - simplex[0][$0]) }
                        values[k] = eval(simplex[k])
                    }
                }
            }
        }
        let best = values.indices.min { values[$0] < values[$1] }!
        return Minimum(point: simplex[best], value: values[best], iterations: iterations, evaluations: evaluations, converged: false)
    }
}
