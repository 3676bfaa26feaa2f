import Customers
import Expressions
import Foundation
import SharedModels

/// Why a promotion did or did not give a member points on one purchase — the answer to a caller's
/// "why didn't I get my points for promotion X?". The checks run in the order the engine applies
/// them, and the first that fails is the reason.
public struct PromotionVerdict: Sendable, Equatable {
    public var code: String
    public var name: String
    /// Points the promotion gave on this purchase (0 when it did not apply, or gave a voucher).
    public var points: Int64
    public var applied: Bool
    /// A sentence: what applied, or which condition failed and with what value.
    public var reason: String

    public init(code: String, name: String, points: Int64, applied: Bool, reason: String) {
        self.code = code
        self.name = name
        self.points = points
        self.applied = applied
        self.reason = reason
    }
}

extension PromotionEngine {
    /// Each promotion of the program, checked against one purchase of a member.
    /// - Parameters:
    ///   - usage: each promotion's use by this member before the purchase, its budget left, and
    ///     whether the member has joined it.
    ///   - applied: what was actually awarded on this purchase, by promotion (points; 0 for a voucher).
    public static func explain(
        _ purchase: TransactionDetails, tier: String?, promotions: [Promotion], usage: [PromotionID: PromotionUsage],
        applied: [PromotionID: Int64]
    ) -> [PromotionVerdict] {
        let values = Accrual.values(of: purchase, tier: tier)
        let when = purchase.occurredAt
        return promotions.sorted { ($0.priority, -$0.id.rawValue) > ($1.priority, -$1.id.rawValue) }.map { p in
            func verdict(_ reason: String) -> PromotionVerdict {
                PromotionVerdict(code: p.code, name: p.name, points: 0, applied: false, reason: reason)
            }
            if let points = applied[p.id] {
                let what: String = if case .voucher(let code) = p.action { "a \(code) voucher" } else { "\(points) points" }
                return PromotionVerdict(code: p.code, name: p.name, points: points, applied: true, reason: "Applied: it gave \(what).")
            }
            switch p.approval {
            case .pending: return verdict("Not running yet: its partner has not approved it.")
            case .declined: return verdict("Not running: its partner declined it.")
            case .approved: break
            }
            if let paused = p.pausedAt { return verdict("It is paused since \(LocalDate(paused)); it gives nothing until it is resumed.") }
            if when < p.startsAt { return verdict("The purchase was on \(LocalDate(when)); the promotion starts on \(LocalDate(p.startsAt)).") }
            if when >= p.endsAt {
                return verdict("The purchase was on \(LocalDate(when)); the promotion ended on \(LocalDate(p.endsAt.addingTimeInterval(-1))).")
            }
            if let failed = failedCondition(p.criteria, values: values, at: when) {
                return verdict("The purchase did not meet the condition \(failed).")
            }
            let used = usage[p.id] ?? PromotionUsage()
            if p.requiresEnrolment && !used.enrolled { return verdict("The member had not joined it, and it needs joining first (opt-in).") }
            if let limit = p.perMemberLimit, used.memberApplications >= limit {
                return verdict("The member had had it \(used.memberApplications) times already; it gives at most \(limit) per member.")
            }
            if let left = used.budgetLeft, left <= 0 { return verdict("Its points budget was used up.") }
            switch p.action {
            case .pointsPerUnit(let n) where n * (purchase.amount.minorUnits / Money.unit(of: purchase.amount.currency)) <= 0:
                return verdict("The purchase was under one whole currency unit, so it earned no points per unit.")
            default:
                break
            }
            // Stacking stopped it only when another promotion applied: an exclusive one takes no
            // company, and an exclusive one that applied ends the list.
            let others = promotions.filter { $0.id != p.id && applied[$0.id] != nil }
            if !others.isEmpty && (p.stacking == .exclusive || others.contains { $0.stacking == .exclusive }) {
                return verdict("Another promotion that does not combine with others applied to the purchase first.")
            }
            return verdict("Every condition held, but it gave nothing on this purchase (its points came to zero).")
        }
    }

    /// The first part of an `and`-chain of criteria the purchase fails, as written (with the
    /// purchase's value of the fields it reads), or nil when the criteria hold.
    static func failedCondition(_ criteria: String?, values: [Value], at date: Date) -> String? {
        guard let criteria, let rule = try? Parser.parse(criteria) else { return nil }
        var parts: [RuleExpression] = []
        func split(_ e: RuleExpression) {
            if case .binary(.and, let l, let r) = e.kind {
                split(l)
                split(r)
            } else {
                parts.append(e)
            }
        }
        split(rule)
        for part in parts where !CompiledRule(part, fields: EarningRules.fieldOrder).matches(values, now: date) {
            let read = EarningRules.fieldOrder.enumerated().filter { part.description.contains($0.element) }.map { i, field in
                "\(field) is \(describe(values[i]))"
            }
            return "`\(part.description)`" + (read.isEmpty ? "" : " (\(read.joined(separator: ", ")))")
        }
        return nil
    }

    static func describe(_ v: Value) -> String {
        switch v {
        case .null: "empty"
        case .string(let s): "\"\(s)\""
        case .number(let n): n == n.rounded() && abs(n) < 1e15 ? String(Int64(n)) : String(format: "%.2f", n)
        case .bool(let b): b ? "true" : "false"
        case .date(let d): LocalDate(d).description
        case .duration(let s): "\(Int64(s / 86_400)) days"
        case .geo(let lat, let lon): String(format: "%.4f, %.4f", lat, lon)
        case .list(let items): "[" + items.map(describe).joined(separator: ", ") + "]"
        }
    }
}
