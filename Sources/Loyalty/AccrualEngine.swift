import Customers
import Foundation
import SharedModels

/// How many points a purchase earns, and everything else accrual decides: the one file that
/// answers it. Pure: the store reads and locks what a batch needs (accounts, the member's tier as
/// stored now, promotion usage and budgets, rewards' stock, what each member earned this month,
/// qualifying history), asks ``decide(_:_:calendar:)`` for each purchase, writes the entries it
/// returns inside the same transaction, and keeps its running figures (stock taken, month's
/// earnings, qualifying history) up to date from the decision. Tested without a database.
public enum AccrualEngine {
    /// What the store knows, for one purchase, as of the purchases before it in the batch.
    public struct Inputs: Sendable {
        /// The member's tier as stored now (under the account locks), nil for none.
        public var tier: String?
        /// Points the member earned from the program's liability in this purchase's month so far
        /// (only read for a program with a monthly cap).
        public var earnedThisMonth: Int64
        /// Qualifying points credited to the member before this purchase, with when.
        public var qualifyingHistory: [(at: Int64, points: Int64)]

        public init(tier: String?, earnedThisMonth: Int64, qualifyingHistory: [(at: Int64, points: Int64)]) {
            self.tier = tier
            self.earnedThisMonth = earnedThisMonth
            self.qualifyingHistory = qualifyingHistory
        }
    }

    /// The entries one purchase makes.
    public struct Decision: Sendable {
        /// The earning rules' points (base, multipliers, bonuses).
        public var accrual: Accrual
        /// The promotions that apply, vouchers only where their reward is active and in stock.
        public var awards: [PromotionAward]
        /// Points credited from the program's liability (rules and liability-funded promotions),
        /// after the monthly cap; may be 0.
        public var fromLiability: Int64
        /// The cut the monthly cap made (negative points), if it made one.
        public var monthlyCap: Accrual.Part?
        /// Points credited to the member's qualifying account (tier status).
        public var qualifying: Int64
        /// When the points can be spent, and when they expire (epoch seconds).
        public var availableAt: Int64
        public var expiresAt: Int64?
        /// A rolling-expiry program: every lot of the member's points now expires at `expiresAt`.
        public var extendsRollingExpiry: Bool
        /// The tier the member moves up to, with why.
        public var upgrade: (tier: String, reason: String)?
        /// What the member is told the purchase earned, part by part.
        public var parts: [Accrual.Part]
    }

    /// - Parameters:
    ///   - usage: what a promotion has used so far (asked only of the promotions that qualify).
    ///   - reward: a voucher reward by code: whether it is active and how many are left (nil: no
    ///     stock limit); nil when the program has no such reward.
    public static func decide(
        _ plan: AccrualPlan, _ inputs: Inputs, calendar: inout MonthCalendar, usage: (Promotion) -> PromotionUsage,
        reward: (String) -> (active: Bool, left: Int64?)?
    ) -> Decision {
        let (accrual, qualifying, candidates) = plan.earning(tier: inputs.tier)
        var used: [PromotionID: PromotionUsage] = [:]
        for candidate in candidates { used[candidate.promotion.id] = usage(candidate.promotion) }
        var awards = PromotionEngine.awards(candidates, usage: used, base: accrual.base, units: plan.units)
        // A voucher needs its reward active and in stock.
        awards = awards.filter { award in
            guard let code = award.voucherReward else { return true }
            guard let reward = reward(code), reward.active else { return false }
            return reward.left.map { $0 > 0 } ?? true
        }
        let at = plan.at.epochSeconds
        let availableAt = plan.program.availability(ofPointsEarnedAt: plan.at).epochSeconds
        let expiresAt: Int64? =
            if case .fixedDate = plan.program.expiryStyle {
                plan.program.expiry(ofPointsEarnedAt: plan.at)?.epochSeconds
            } else {
                plan.program.expiryMonths.map { calendar.shift(at, by: $0) }
            }
        // The monthly cap limits what the liability pays out; budget-funded promotions are apart.
        var fromLiability = accrual.total + awards.filter { !$0.fromBudget }.reduce(0) { $0 + $1.points }
        var monthlyCap: Accrual.Part?
        if let cap = plan.program.earningRules?.maxPerMonth {
            let allowed = max(0, cap - inputs.earnedThisMonth)
            if fromLiability > allowed {
                monthlyCap = Accrual.Part(source: "monthly cap", points: allowed - fromLiability)
                fromLiability = allowed
            }
        }
        // Tier: up at once when the period's qualifying points reach a higher tier (down only at
        // the periodic review).
        var upgrade: (tier: String, reason: String)?
        if let policy = plan.program.tierPolicy {
            let since = policy.period == .rolling ? calendar.shift(at, by: -policy.periodMonths) : policy.periodStart(at: plan.at).epochSeconds
            let earlier = inputs.qualifyingHistory.reduce(Int64(0)) { $0 + ($1.at >= since ? $1.points : 0) }
            let points = earlier + (qualifying > 0 ? qualifying : 0)
            let current = inputs.tier ?? policy.entry.name
            let next = policy.afterEarning(current: current, points: points)
            if next.name != current { upgrade = (next.name, "upgrade: \(points) qualifying points") }
        }
        let parts = accrual.parts + awards.map { Accrual.Part(source: "promotion \($0.code)", points: $0.points) } + (monthlyCap.map { [$0] } ?? [])
        return Decision(
            accrual: accrual, awards: awards, fromLiability: fromLiability, monthlyCap: monthlyCap, qualifying: qualifying, availableAt: availableAt,
            expiresAt: expiresAt, extendsRollingExpiry: plan.program.expiryStyle == .rolling && expiresAt != nil, upgrade: upgrade, parts: parts)
    }

    /// Points credited to an account that owes a claw-back debt repay the debt first: how much
    /// repays, and how much stays with the member.
    public static func repayment(credit points: Int64, debt: Int64) -> (repaid: Int64, kept: Int64) {
        let repaid = debt > 0 ? min(debt, points) : 0
        return (repaid, points - repaid)
    }
}

/// `date + n months` and month starts in UTC, over epoch seconds, computed once per day and month
/// count (accrual asks for thousands a second): adding months keeps the time of day.
public struct MonthCalendar: Sendable {
    private var cache: [DayMonths: Int64] = [:]
    private var starts: [Int64: Int64] = [:]

    private struct DayMonths: Hashable {
        let day: Int64, months: Int
    }

    public init() {}

    /// The first instant of the UTC calendar month of `at`.
    public mutating func monthStart(_ at: Int64) -> Int64 {
        let day = at >= 0 ? at / 86_400 : (at - 86_399) / 86_400
        if let start = starts[day] { return start }
        let start = Calendar.utc.date(from: Calendar.utc.dateComponents([.year, .month], from: Date(epochSeconds: day * 86_400)))!.epochSeconds
        starts[day] = start
        return start
    }

    public mutating func shift(_ at: Int64, by months: Int) -> Int64 {
        let day = at >= 0 ? at / 86_400 : (at - 86_399) / 86_400
        let key = DayMonths(day: day, months: months)
        if let start = cache[key] { return start + (at - day * 86_400) }
        let start = Calendar.utc.date(byAdding: .month, value: months, to: Date(epochSeconds: day * 86_400))!.epochSeconds
        cache[key] = start
        return start + (at - day * 86_400)
    }
}
