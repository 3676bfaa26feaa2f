import Foundation

/// One customer's purchase history in the form the lifetime-value models read: `x` repeat
/// purchases (purchase days after the first), the last at `recency` (t_x) and the customer's age
/// `age` (T), both in periods since the first purchase; `averageValue` is the mean value of the
/// repeat purchases (0 when x = 0).
public struct RepeatSummary: Sendable, Hashable {
    public var frequency: Int
    public var recency: Double
    public var age: Double
    public var averageValue: Double

    public init(frequency: Int, recency: Double, age: Double, averageValue: Double = 0) {
        self.frequency = frequency
        self.recency = recency
        self.age = age
        self.averageValue = averageValue
    }
}

/// A dated purchase for building summaries: days since 1970-01-01 and a value in major units.
public struct DatedPurchase: Sendable, Hashable {
    public var day: Int
    public var value: Double
    public init(day: Int, value: Double) {
        self.day = day
        self.value = value
    }
}

extension RepeatSummary {
    /// Builds the summary from raw purchases the way Fader, Hardie & Lee and the `lifetimes`
    /// library do: purchases on the same day are one purchase (their values summed); only days up
    /// to `calibrationEnd` count; times are in periods of `periodDays` days. Nil if the customer's
    /// first purchase is after the calibration end.
    public init?(purchases: [DatedPurchase], calibrationEnd: Int, periodDays: Double = 7) {
        var byDay: [Int: Double] = [:]
        for p in purchases where p.day <= calibrationEnd { byDay[p.day, default: 0] += p.value }
        guard let first = byDay.keys.min(), let last = byDay.keys.max() else { return nil }
        self.init(
            firstDay: first, lastDay: last, purchaseDays: byDay.count, repeatValue: byDay.reduce(0.0) { $1.key == first ? $0 : $0 + $1.value },
            end: calibrationEnd, periodDays: periodDays)
    }

    /// The summary from day-level aggregates (days since 1970-01-01): `purchaseDays` days with a
    /// purchase between `firstDay` and `lastDay`, worth `repeatValue` after the first day, seen
    /// from `end`.
    public init(firstDay: Int, lastDay: Int, purchaseDays: Int, repeatValue: Double, end: Int, periodDays: Double = 7) {
        let repeats = purchaseDays - 1
        self.init(
            frequency: repeats, recency: Double(lastDay - firstDay) / periodDays, age: Double(end - firstDay) / periodDays,
            averageValue: repeats > 0 ? repeatValue / Double(repeats) : 0)
    }
}

/// The BG/NBD model of repeat buying (Fader, Hardie & Lee 2005, "Counting Your Customers the
/// Easy Way"): while alive a customer buys at a Poisson rate λ ~ Gamma(r, α); after each
/// purchase they drop out with probability p ~ Beta(a, b).
public struct BGNBD: Sendable, Hashable, Codable {
    public var r: Double
    public var alpha: Double
    public var a: Double
    public var b: Double
    public var logLikelihood: Double

    public init(r: Double, alpha: Double, a: Double, b: Double, logLikelihood: Double = .nan) {
        self.r = r
        self.alpha = alpha
        self.a = a
        self.b = b
        self.logLikelihood = logLikelihood
    }

    enum CodingKeys: String, CodingKey {
        case r, alpha, a, b
        case logLikelihood = "log_likelihood"
    }

    /// Fits by maximum likelihood (BFGS on log-parameters with the analytic gradient). Customers
    /// with the same (x, t_x, T) are counted once with a weight, so the cost grows with distinct
    /// histories, not customers.
    public static func fit(_ customers: [RepeatSummary]) throws -> BGNBD {
        let data = Compressed(customers)
        guard data.total > 0 else { throw AnalyticsError.notEnoughData("no customers to fit") }
        guard data.rows.contains(where: { $0.x > 0 }) else { throw AnalyticsError.notEnoughData("no customer made a repeat purchase") }
        let n = data.total
        let result = Numerics.minimize(from: [0, 0, 0, 0]) { theta in
            let (ll, g) = data.logLikelihood(r: exp(theta[0]), alpha: exp(theta[1]), a: exp(theta[2]), b: exp(theta[3]), gradient: true)
            // Per customer, so the tolerance does not depend on the data's size.
            return (-ll / n, zip(g, theta).map { -$0 * exp($1) / n })
        }
        let p = result.point.map(exp)
        guard p.allSatisfy({ $0.isFinite && $0 > 0 }) else { throw AnalyticsError.didNotConverge("BG/NBD") }
        return BGNBD(r: p[0], alpha: p[1], a: p[2], b: p[3], logLikelihood: -result.value * n)
    }

    /// The total log-likelihood of these customers under the model's parameters.
    public func logLikelihood(of customers: [RepeatSummary]) -> Double {
        Compressed(customers).logLikelihood(r: r, alpha: alpha, a: a, b: b, gradient: false).value
    }

    /// P(alive | x, t_x, T).
    public func probabilityAlive(_ c: RepeatSummary) -> Double {
        guard c.frequency > 0 else { return 1 }
        let x = Double(c.frequency)
        let ratio = (a / (b + x - 1)) * exp((r + x) * (log(alpha + c.age) - log(alpha + c.recency)))
        return 1 / (1 + ratio)
    }

    /// E[Y(t) | x, t_x, T]: expected purchases in the next `t` periods (FHL 2005, eq. 10).
    public func expectedPurchases(_ c: RepeatSummary, over t: Double) -> Double {
        guard t > 0 else { return 0 }
        let x = Double(c.frequency)
        let z = t / (alpha + c.age + t)
        let hyper = Numerics.hypergeometric2F1(r + x, b + x, a + b + x - 1, z)
        let numerator = (a + b + x - 1) / (a - 1) * (1 - exp((r + x) * log((alpha + c.age) / (alpha + c.age + t))) * hyper)
        let denominator = c.frequency > 0 ? 1 + (a / (b + x - 1)) * exp((r + x) * log((alpha + c.age) / (alpha + c.recency))) : 1
        return numerator / denominator
    }

    /// E[X(t)]: expected purchases of a new customer in their first `t` periods.
    public func expectedPurchasesOfNewCustomer(over t: Double) -> Double {
        let hyper = Numerics.hypergeometric2F1(r, b, a + b - 1, t / (alpha + t))
        return (a + b - 1) / (a - 1) * (1 - exp(r * log(alpha / (alpha + t))) * hyper)
    }

    /// The data with identical histories merged, and the per-x terms computed once per call.
    struct Compressed {
        struct Row {
            var x: Int
            var tx: Double
            var t: Double
            var weight: Double
        }
        var rows: [Row]
        var total: Double
        var maxX: Int

        init(_ customers: [RepeatSummary]) {
            var index: [RepeatSummary: Int] = [:]
            var rows: [Row] = []
            for c in customers {
                let key = RepeatSummary(frequency: c.frequency, recency: c.frequency == 0 ? 0 : c.recency, age: c.age)
                if let i = index[key] {
                    rows[i].weight += 1
                } else {
                    index[key] = rows.count
                    rows.append(Row(x: key.frequency, tx: key.recency, t: key.age, weight: 1))
                }
            }
            self.rows = rows
            self.total = Double(customers.count)
            self.maxX = rows.map(\.x).max() ?? 0
        }

        func logLikelihood(r: Double, alpha: Double, a: Double, b: Double, gradient: Bool) -> (value: Double, gradient: [Double]) {
            // Per x: ln Γ(r+x) − ln Γ(r) and the Beta-function term, with their derivatives, as
            // running sums (x is a whole number).
            var lgR = [Double](repeating: 0, count: maxX + 1)
            var dR = lgR
            var a2 = lgR
            var da2a = lgR
            var da2b = lgR
            for x in stride(from: 1, through: maxX, by: 1) {
                let i = Double(x - 1)
                lgR[x] = lgR[x - 1] + log(r + i)
                dR[x] = dR[x - 1] + 1 / (r + i)
                a2[x] = a2[x - 1] + log(b + i) - log(a + b + i)
                da2a[x] = da2a[x - 1] - 1 / (a + b + i)
                da2b[x] = da2b[x - 1] + 1 / (b + i) - 1 / (a + b + i)
            }
            let logAlpha = log(alpha)
            let logA = log(a)
            var ll = 0.0
            var gr = 0.0
            var galpha = 0.0
            var ga = 0.0
            var gb = 0.0
            for row in rows {
                let x = Double(row.x)
                let logAT = log(alpha + row.t)
                let a3 = -(r + x) * logAT
                let a1 = lgR[row.x] + r * logAlpha + a2[row.x]
                if row.x == 0 {
                    ll += row.weight * (a1 + a3)
                    if gradient {
                        gr += row.weight * (logAlpha - logAT)
                        galpha += row.weight * (r / alpha - r / (alpha + row.t))
                    }
                    continue
                }
                let logATx = log(alpha + row.tx)
                let a4 = logA - log(b + x - 1) - (r + x) * logATx
                let m = max(a3, a4)
                let e3 = exp(a3 - m)
                let e4 = exp(a4 - m)
                let sum = e3 + e4
                ll += row.weight * (a1 + m + log(sum))
                if gradient {
                    let w3 = e3 / sum
                    let w4 = e4 / sum
                    gr += row.weight * (dR[row.x] + logAlpha - w3 * logAT - w4 * logATx)
                    galpha += row.weight * (r / alpha - w3 * (r + x) / (alpha + row.t) - w4 * (r + x) / (alpha + row.tx))
                    ga += row.weight * (da2a[row.x] + w4 / a)
                    gb += row.weight * (da2b[row.x] - w4 / (b + x - 1))
                }
            }
            return (ll, [gr, galpha, ga, gb])
        }
    }
}

/// The Gamma-Gamma model of spend per purchase (Fader, Hardie & Lee 2005, "RFM and CLV"): a
/// customer's purchase values are Gamma(p, ν) with ν ~ Gamma(q, γ) across customers. Fitted on
/// customers with at least one repeat purchase.
public struct GammaGamma: Sendable, Hashable, Codable {
    public var p: Double
    public var q: Double
    public var gamma: Double
    public var logLikelihood: Double

    public init(p: Double, q: Double, gamma: Double, logLikelihood: Double = .nan) {
        self.p = p
        self.q = q
        self.gamma = gamma
        self.logLikelihood = logLikelihood
    }

    enum CodingKeys: String, CodingKey {
        case p, q, gamma
        case logLikelihood = "log_likelihood"
    }

    public static func fit(_ customers: [RepeatSummary]) throws -> GammaGamma {
        let rows = customers.filter { $0.frequency > 0 && $0.averageValue > 0 }
        guard rows.count >= 3 else { throw AnalyticsError.notEnoughData("the spend model needs customers with repeat purchases of positive value") }
        // Per distinct x, the constant part ((px−1) ln m + px ln x depends on p only linearly).
        var byX: [Int: (count: Double, sumLogM: Double)] = [:]
        for c in rows {
            byX[c.frequency, default: (0, 0)].count += 1
            byX[c.frequency]!.sumLogM += log(c.averageValue)
        }
        let groups = byX.sorted { $0.key < $1.key }
        let n = Double(rows.count)
        let xs = rows.map { Double($0.frequency) }
        let xm = rows.map { Double($0.frequency) * $0.averageValue }
        let result = Numerics.minimize(from: [0, 0, 0]) { theta in
            let p = exp(theta[0])
            let q = exp(theta[1])
            let g = exp(theta[2])
            var ll = 0.0
            var dp = 0.0
            var dq = 0.0
            var dg = 0.0
            let lgq = Numerics.logGamma(q)
            let psiq = Numerics.digamma(q)
            for (xi, group) in groups {
                let x = Double(xi)
                let px = p * x
                let c = group.count
                ll += c * (Numerics.logGamma(px + q) - Numerics.logGamma(px) - lgq + q * log(g) + px * log(x)) + (px - 1) * group.sumLogM
                let psiSum = Numerics.digamma(px + q)
                dp += c * x * (psiSum - Numerics.digamma(px) + log(x)) + x * group.sumLogM
                dq += c * (psiSum - psiq + log(g))
                dg += c * q / g
            }
            for i in xs.indices {
                let x = xs[i]
                let lgm = log(g + xm[i])
                ll -= (p * x + q) * lgm
                dp -= x * lgm
                dq -= lgm
                dg -= (p * x + q) / (g + xm[i])
            }
            return (-ll / n, [-dp * p / n, -dq * q / n, -dg * g / n])
        }
        let v = result.point.map(exp)
        guard v.allSatisfy({ $0.isFinite && $0 > 0 }) else { throw AnalyticsError.didNotConverge("Gamma-Gamma") }
        return GammaGamma(p: v[0], q: v[1], gamma: v[2], logLikelihood: -result.value * n)
    }

    /// E[M | x, m̄]: the expected value of this customer's future purchases (the population mean
    /// for a customer with no repeat purchase).
    public func expectedAverageValue(_ c: RepeatSummary) -> Double {
        let x = Double(c.frequency)
        guard c.frequency > 0, c.averageValue > 0 else { return q > 1 ? p * gamma / (q - 1) : .nan }
        return p * (gamma + x * c.averageValue) / (p * x + q - 1)
    }
}

/// Lifetime value from the two models: expected purchases month by month times expected value,
/// discounted monthly (as the `lifetimes` library computes it).
public struct LifetimeValueModel: Sendable {
    public var transactions: BGNBD
    public var spend: GammaGamma
    /// Days per model period (7 when the summaries are in weeks).
    public var periodDays: Double

    public init(transactions: BGNBD, spend: GammaGamma, periodDays: Double) {
        self.transactions = transactions
        self.spend = spend
        self.periodDays = periodDays
    }

    /// Discounted value over `months`, at `monthlyDiscount` (0.01 = 1 % a month), with `margin`
    /// the share of revenue that is profit (1 for revenue).
    public func value(_ c: RepeatSummary, months: Int = 12, monthlyDiscount: Double = 0.01, margin: Double = 1) -> Double {
        let perPurchase = spend.expectedAverageValue(c) * margin
        let monthInPeriods = 30.0 / periodDays
        var total = 0.0
        var previous = 0.0
        for month in stride(from: 1, through: months, by: 1) {
            let cumulative = transactions.expectedPurchases(c, over: Double(month) * monthInPeriods)
            total += (cumulative - previous) * perPurchase / pow(1 + monthlyDiscount, Double(month))
            previous = cumulative
        }
        return total
    }
}

