import Customers
import Expressions
import Foundation
import SharedModels
import Synchronization

public typealias PromotionID = ID<Promotion>

/// A time-bound offer on top of a program's earning rules: "triple points on wine in December
/// for Gold members who opted in", "500 points on your first web order". Promotions take effect
/// on the next transaction after they are created, and every application is recorded.
public struct Promotion: Sendable, Equatable {
    /// What a promotion gives when a purchase qualifies.
    public enum Action: Sendable, Equatable, Codable {
        /// Extra points per whole currency unit spent.
        case pointsPerUnit(Int64)
        /// Multiplies the base points: 300 means triple points (two extra times the base).
        case multiplier(percent: Int64)
        /// A fixed award per qualifying purchase.
        case fixed(Int64)
        /// Issues a voucher for a reward of the catalogue, free of points.
        case voucher(rewardCode: String)
    }

    /// Whether other promotions may apply to the same purchase.
    public enum Stacking: String, Sendable, Equatable, Codable, CaseIterable {
        /// Applies alone: when it is the highest-priority promotion that qualifies, no other applies.
        case exclusive
        /// Applies together with the other cumulative promotions that qualify.
        case cumulative
    }

    public var id: PromotionID
    public var programID: ProgramID
    /// Short unique name within the program, e.g. `WINE-DEC`.
    public var code: String
    public var name: String
    public var startsAt: Date
    /// Exclusive: the promotion no longer applies at this instant.
    public var endsAt: Date
    /// Only members who enrolled in the promotion benefit.
    public var requiresEnrolment: Bool
    /// Rule-language condition over a purchase and its member; nil for every purchase.
    public var criteria: String?
    public var action: Action
    /// At most this many applications per member; nil for no limit.
    public var perMemberLimit: Int?
    /// At most this many points in total; nil for no budget. Funded from the program's liability
    /// into the promotion's budget account when the promotion is created.
    public var budgetPoints: Int64?
    /// Higher first.
    public var priority: Int
    public var stacking: Stacking
    public var createdAt: Date
    /// A joint promotion's co-funding partner (its code), who pays `partnerShare` percent of the
    /// points it awards; nil for the program's own promotions.
    public var partner: String?
    public var partnerShare: Int?
    /// Whether it may run: a joint promotion waits for its partner's approval.
    public var approval: Approval
    /// Who approved or declined it, when it needed approval.
    public var decidedBy: String?
    /// When a loyalty manager paused it; a paused promotion gives nothing until it is resumed.
    public var pausedAt: Date?
    /// When it was archived (only an ended or declined promotion is): off the working lists.
    public var archivedAt: Date?

    public enum Approval: String, Sendable, Codable, CaseIterable {
        case approved
        /// Waiting for the co-funding partner to approve it (in the partner portal).
        case pending
        case declined
    }

    public init(
        id: PromotionID, programID: ProgramID, code: String, name: String, startsAt: Date, endsAt: Date, requiresEnrolment: Bool = false,
        criteria: String? = nil, action: Action, perMemberLimit: Int? = nil, budgetPoints: Int64? = nil, priority: Int = 0,
        stacking: Stacking = .cumulative, createdAt: Date, partner: String? = nil, partnerShare: Int? = nil, approval: Approval = .approved,
        decidedBy: String? = nil, pausedAt: Date? = nil, archivedAt: Date? = nil
    ) {
        self.id = id
        self.programID = programID
        self.code = code
        self.name = name
        self.startsAt = startsAt
        self.endsAt = endsAt
        self.requiresEnrolment = requiresEnrolment
        self.criteria = criteria
        self.action = action
        self.perMemberLimit = perMemberLimit
        self.budgetPoints = budgetPoints
        self.priority = priority
        self.stacking = stacking
        self.createdAt = createdAt
        self.partner = partner
        self.partnerShare = partnerShare
        self.approval = approval
        self.decidedBy = decidedBy
        self.pausedAt = pausedAt
        self.archivedAt = archivedAt
    }

    /// Approved, not paused and within its dates.
    public func isRunning(at date: Date) -> Bool { approval == .approved && pausedAt == nil && startsAt <= date && date < endsAt }

    /// Where a promotion stands, as the console lists it.
    public enum Status: String, Sendable, CaseIterable {
        case awaitingPartner = "awaiting_partner"
        case declined
        case scheduled
        case live
        case paused
        case ended
        case archived
    }

    public func status(at date: Date) -> Status {
        if archivedAt != nil { return .archived }
        switch approval {
        case .pending: return .awaitingPartner
        case .declined: return .declined
        case .approved: break
        }
        if date >= endsAt { return .ended }
        if pausedAt != nil { return .paused }
        return date < startsAt ? .scheduled : .live
    }
}

/// What a loyalty manager may change on a promotion after creating it: the name, the dates (the
/// start only while it has not started), the criteria and the action. The code, the funding and
/// the budget stay as they were agreed.
public struct PromotionTerms: Sendable, Equatable {
    public var name: String
    public var startsAt: Date
    public var endsAt: Date
    public var criteria: String?
    public var action: Promotion.Action
    public var requiresEnrolment: Bool

    public init(name: String, startsAt: Date, endsAt: Date, criteria: String?, action: Promotion.Action, requiresEnrolment: Bool) {
        self.name = name
        self.startsAt = startsAt
        self.endsAt = endsAt
        self.criteria = criteria
        self.action = action
        self.requiresEnrolment = requiresEnrolment
    }

    public init(_ p: Promotion) {
        self.init(name: p.name, startsAt: p.startsAt, endsAt: p.endsAt, criteria: p.criteria, action: p.action, requiresEnrolment: p.requiresEnrolment)
    }
}

/// A promotion as a loyalty manager drafts it; validated by ``PromotionDraft/validated()``.
public struct PromotionDraft: Sendable, Equatable {
    public var code: String
    public var name: String
    public var startsAt: Date
    public var endsAt: Date
    public var requiresEnrolment: Bool
    public var criteria: String?
    public var action: Promotion.Action
    public var perMemberLimit: Int?
    public var budgetPoints: Int64?
    public var priority: Int
    public var stacking: Promotion.Stacking
    /// A joint promotion: the partner (code) who co-funds it and its share in percent. It runs
    /// only once the partner approves it.
    public var partner: String?
    public var partnerShare: Int?

    public init(
        code: String, name: String, startsAt: Date, endsAt: Date, requiresEnrolment: Bool = false, criteria: String? = nil,
        action: Promotion.Action, perMemberLimit: Int? = nil, budgetPoints: Int64? = nil, priority: Int = 0,
        stacking: Promotion.Stacking = .cumulative, partner: String? = nil, partnerShare: Int? = nil
    ) {
        self.partner = partner
        self.partnerShare = partnerShare
        self.code = code
        self.name = name
        self.startsAt = startsAt
        self.endsAt = endsAt
        self.requiresEnrolment = requiresEnrolment
        self.criteria = criteria
        self.action = action
        self.perMemberLimit = perMemberLimit
        self.budgetPoints = budgetPoints
        self.priority = priority
        self.stacking = stacking
    }

    /// Checks every field; throws ``LoyaltyError/invalid(_:)`` naming each bad one (a rule's
    /// error gives its line and column).
    public func validated() throws -> PromotionDraft {
        var errors: [FieldError] = []
        var draft = self
        draft.code = code.trimmingSpaces().uppercased()
        draft.name = name.trimmingSpaces()
        if !(2...40).contains(draft.code.count)
            || !draft.code.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") })
        {
            errors.append(FieldError("code", "must be 2 to 40 letters, digits, - or _"))
        }
        if !(1...200).contains(draft.name.count) { errors.append(FieldError("name", "must be 1 to 200 characters")) }
        if endsAt <= startsAt { errors.append(FieldError("endsAt", "must be after startsAt")) }
        draft.partner = partner.map { $0.trimmingSpaces().uppercased() }.flatMap { $0.isEmpty ? nil : $0 }
        if draft.partner != nil {
            if !(1...100).contains(partnerShare ?? 0) {
                errors.append(FieldError("partnerShare", "a joint promotion needs the partner's share, 1 to 100 percent"))
            }
        } else if partnerShare != nil {
            errors.append(FieldError("partnerShare", "only a joint promotion (with a partner) has a partner's share"))
        }
        if let criteria, !criteria.trimmingSpaces().isEmpty {
            do {
                try TypeChecker(schema: EarningRules.schema).checkCondition(try Parser.parse(criteria))
            } catch let error as ExpressionError {
                errors.append(FieldError("criteria", "\(error)"))
            }
        } else {
            draft.criteria = nil
        }
        switch action {
        case .pointsPerUnit(let n), .fixed(let n):
            if n <= 0 { errors.append(FieldError("action", "points must be positive")) }
        case .multiplier(let percent):
            if percent <= 100 { errors.append(FieldError("action", "a multiplier is a percent above 100 (200 doubles the base points)")) }
        case .voucher(let reward):
            if reward.trimmingSpaces().isEmpty { errors.append(FieldError("action", "name the reward the voucher is for")) }
        }
        if let limit = perMemberLimit, limit < 1 { errors.append(FieldError("perMemberLimit", "must be at least 1, or absent for no limit")) }
        if let budget = budgetPoints, budget < 1 { errors.append(FieldError("budgetPoints", "must be at least 1, or absent for no budget")) }
        if !errors.isEmpty { throw LoyaltyError.invalid(errors) }
        return draft
    }
}

/// One promotion's share of a purchase.
public struct PromotionAward: Sendable, Equatable {
    public var promotion: PromotionID
    public var code: String
    /// Points awarded (0 for a voucher).
    public var points: Int64
    /// Points come from the promotion's budget account rather than the program's liability.
    public var fromBudget: Bool
    /// The reward a voucher is issued for.
    public var voucherReward: String?

    public init(promotion: PromotionID, code: String, points: Int64, fromBudget: Bool, voucherReward: String? = nil) {
        self.promotion = promotion
        self.code = code
        self.points = points
        self.fromBudget = fromBudget
        self.voucherReward = voucherReward
    }
}

/// How much of a promotion has been used: by one member, and of its budget.
public struct PromotionUsage: Sendable, Equatable {
    public var memberApplications: Int
    /// Points left in the budget; nil when the promotion has none.
    public var budgetLeft: Int64?
    public var enrolled: Bool

    public init(memberApplications: Int = 0, budgetLeft: Int64? = nil, enrolled: Bool = false) {
        self.memberApplications = memberApplications
        self.budgetLeft = budgetLeft
        self.enrolled = enrolled
    }
}

/// A promotion ready to evaluate: its criteria parsed once. A class, so the many plans of a
/// batch share one copy.
public final class CompiledPromotion: Sendable {
    public let promotion: Promotion
    let criteria: CompiledRule?

    public init(_ promotion: Promotion) throws {
        self.promotion = promotion
        self.criteria = try promotion.criteria.map { CompiledRule(try Parser.parse($0), fields: EarningRules.fieldOrder) }
    }

    /// Whether a purchase qualifies, leaving limits and budgets aside: `values` are the
    /// purchase's fields in ``EarningRules/fieldOrder`` (``Accrual/values(of:tier:)``).
    public func matches(_ values: [Value], at date: Date) -> Bool {
        promotion.isRunning(at: date) && (criteria.map { $0.matches(values, now: date) } ?? true)
    }
}

/// Decides which promotions apply to a purchase and what each gives. Pure, so the engine, the
/// batch importer and the simulator all get the same answer.
public enum PromotionEngine {
    /// - Parameters:
    ///   - candidates: the program's promotions that qualify on dates and criteria, any order.
    ///   - usage: what each has used so far (missing means unused).
    ///   - base: the purchase's base points, which multipliers multiply.
    ///   - units: the purchase's amount in whole currency units, rounded down.
    public static func awards(
        _ candidates: [CompiledPromotion], usage: [PromotionID: PromotionUsage], base: Int64, units: Int64
    ) -> [PromotionAward] {
        let ordered = candidates.sorted { ($0.promotion.priority, -$0.promotion.id.rawValue) > ($1.promotion.priority, -$1.promotion.id.rawValue) }
        var awards: [PromotionAward] = []
        for candidate in ordered {
            let p = candidate.promotion
            let used = usage[p.id] ?? PromotionUsage()
            if p.requiresEnrolment && !used.enrolled { continue }
            if let limit = p.perMemberLimit, used.memberApplications >= limit { continue }
            if p.stacking == .exclusive && !awards.isEmpty { continue }
            var points: Int64 =
                switch p.action {
                case .pointsPerUnit(let perUnit): perUnit * units
                case .multiplier(let percent): base * (percent - 100) / 100
                case .fixed(let n): n
                case .voucher: 0
                }
            if let left = used.budgetLeft { points = min(points, max(0, left)) }
            let isVoucher: Bool = if case .voucher = p.action { true } else { false }
            guard points > 0 || isVoucher else { continue }
            let reward: String? = if case .voucher(let code) = p.action { code } else { nil }
            awards.append(PromotionAward(promotion: p.id, code: p.code, points: points, fromBudget: p.budgetPoints != nil, voucherReward: reward))
            if p.stacking == .exclusive { break }
        }
        return awards
    }
}

/// Each program's configuration (rules, tiers, promotions parsed) at a revision.
final class ProgramCache: Sendable {
    private let entries = Mutex<[ProgramID: (revision: Int64, value: (Program, [CompiledPromotion]))]>([:])

    func get(_ id: ProgramID, revision: Int64) -> (Program, [CompiledPromotion])? {
        entries.withLock { entries in entries[id].flatMap { $0.revision == revision ? $0.value : nil } }
    }

    func set(_ id: ProgramID, revision: Int64, _ value: (Program, [CompiledPromotion])) {
        entries.withLock { $0[id] = (revision, value) }
    }
}
