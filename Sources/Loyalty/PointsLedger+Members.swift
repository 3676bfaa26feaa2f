import Customers
import Foundation
import SharedModels

/// Tier reviews and progress, transfers between members, household pooling, referrals and
/// simulations of draft promotions.
extension PointsLedger {
    // MARK: Tiers

    /// What a tier review did.
    public struct TierReview: Sendable, Equatable {
        public var reviewed = 0
        public var upgraded = 0
        public var downgraded = 0
        /// When the program was reviewed too recently: when the next review may run.
        public var notBefore: Date?

        public init(reviewed: Int = 0, upgraded: Int = 0, downgraded: Int = 0, notBefore: Date? = nil) {
            self.reviewed = reviewed
            self.upgraded = upgraded
            self.downgraded = downgraded
            self.notBefore = notBefore
        }
    }

    /// The periodic tier review: each member moves to the tier their qualifying points of the
    /// period earn — down at most one tier with a soft landing. Upgrades happen at once when
    /// points are earned; this is where downgrades happen. Runs once per period (a month for a
    /// rolling period, after 1 January for a calendar year): an earlier call does nothing and
    /// says when the next review may run.
    public func reviewTiers(of program: ProgramID) async throws -> TierReview {
        let program = try await self.program(program)
        guard let policy = program.tierPolicy else { return TierReview() }
        let now = clock.now
        if let last = try await store.tierReviewedAt(program.id), now < policy.nextReview(after: last) {
            return TierReview(notBefore: policy.nextReview(after: last))
        }
        let period = policy.reviewedPeriod(at: now)
        var review = TierReview()
        var after: MemberID?
        while true {
            let page = try await store.members(of: program.id, after: after, limit: 1000)
            guard let last = page.last else { break }
            after = last.id
            for member in page {
                review.reviewed += 1
                let points =
                    try await store.qualifyingPoints(of: member.id, since: period.from)
                    - (period.to < now ? try await store.qualifyingPoints(of: member.id, since: period.to) : 0)
                let current = member.tier ?? policy.entry.name
                let next = policy.review(current: current, points: points)
                guard next.name != current else { continue }
                let up = (policy.tiers.firstIndex(of: next) ?? 0) > (policy.tiers.firstIndex { $0.name == current } ?? 0)
                if up { review.upgraded += 1 } else { review.downgraded += 1 }
                try await store.setTier(next.name, for: member.id, reason: "review: \(points) qualifying points", at: now)
            }
        }
        try await store.setTierReviewed(program.id, at: now)
        return review
    }

    /// "1,250 qualifying points to Gold by 31 Dec".
    public struct TierProgress: Sendable, Equatable {
        public var tier: String
        public var qualifyingPoints: Int64
        public var nextTier: String?
        public var missing: Int64?
        /// The end of the qualification period, when it has one.
        public var by: Date?
        /// The tier's benefit flags (lounge, fast lane…), for other modules and the member.
        public var benefits: [String]
    }

    public func tierProgress(of member: MemberID) async throws -> TierProgress? {
        let (member, program) = try await memberAndProgram(member)
        guard let policy = program.tierPolicy else { return nil }
        let now = clock.now
        let points = try await store.qualifyingPoints(of: member.id, since: policy.periodStart(at: now))
        let current = member.tier ?? policy.entry.name
        let progress = policy.progress(current: current, points: points)
        return TierProgress(
            tier: current, qualifyingPoints: points, nextTier: progress?.next.name, missing: progress?.missing, by: policy.periodEnd(at: now),
            benefits: policy.benefits(of: current))
    }

    // MARK: Member to member

    /// Sets what members may give each other per year and the refer-a-friend bonus.
    public func setMemberOptions(of program: ProgramID, transferLimitPerYear: Int64?, referralPoints: Int64?) async throws {
        _ = try await self.program(program)
        var errors: [FieldError] = []
        if let limit = transferLimitPerYear, limit < 0 { errors.append(FieldError("transferLimitPerYear", "must not be negative")) }
        if let points = referralPoints, points <= 0 { errors.append(FieldError("referralPoints", "must be positive, or absent for none")) }
        if !errors.isEmpty { throw LoyaltyError.invalid(errors) }
        try await store.setOptions(of: program, transferLimitPerYear: transferLimitPerYear, referralPoints: referralPoints)
    }

    /// Gives spendable points to another member of the same program, within the program's yearly limit.
    public func transfer(_ points: Int64, from giver: MemberID, to receiver: MemberID, idempotencyKey: String?) async throws -> Transfer {
        try Self.requirePositive(points)
        let (from, program) = try await memberAndProgram(giver)
        let to = try await member(receiver)
        guard from.id != to.id else { throw LoyaltyError.invalid([FieldError("toMemberId", "must be another member")]) }
        guard to.programID == program.id else { throw LoyaltyError.invalid([FieldError("toMemberId", "must be a member of the same program")]) }
        guard let limit = program.transferLimitPerYear else { throw LoyaltyError.limitExceeded("This program does not allow points transfers.") }
        let now = clock.now
        let yearStart = Calendar.utc.date(from: Calendar.utc.dateComponents([.year], from: now))!
        return try await store.transferPoints(
            Movement(
                member: from.id, pointType: .reward, points: points, reason: .transfer, reference: to.number, idempotencyKey: idempotencyKey,
                memo: "to member \(to.number)", at: now),
            to: to.id, yearlyLimit: limit, since: yearStart)
    }

    /// Household pooling: moves all of a member's spendable points to another member of the same
    /// household and program (the household's pooling account). No yearly limit applies.
    public func pool(from member: MemberID, into pooler: MemberID, idempotencyKey: String?, households: (CustomerID) async throws -> HouseholdID?)
        async throws -> Transfer?
    {
        let (from, program) = try await memberAndProgram(member)
        let into = try await self.member(pooler)
        guard into.programID == program.id, into.id != from.id else {
            throw LoyaltyError.invalid([FieldError("intoMemberId", "must be another member of the same program")])
        }
        guard let household = try await households(from.customerID), try await households(into.customerID) == household else {
            throw LoyaltyError.invalid([FieldError("intoMemberId", "must belong to the same household")])
        }
        let available = try await store.balance(of: from.id, .reward, at: clock.now).available
        guard available > 0 else { return nil }
        return try await store.transferPoints(
            Movement(
                member: from.id, pointType: .reward, points: available, reason: .transfer, reference: into.number, idempotencyKey: idempotencyKey,
                memo: "household pooling into \(into.number)", at: clock.now),
            to: into.id, yearlyLimit: nil, since: clock.now)
    }

    /// Records that a member invited a friend (a customer, member or not yet).
    public func refer(_ friend: CustomerID, by referrer: MemberID) async throws -> Referral {
        let (member, program) = try await memberAndProgram(referrer)
        guard program.referralPoints != nil else { throw LoyaltyError.limitExceeded("This program has no refer-a-friend bonus.") }
        guard member.customerID != friend else { throw LoyaltyError.invalid([FieldError("friendCustomerId", "a member cannot refer themselves")]) }
        if try await store.memberships(of: friend).contains(where: { $0.programID == program.id && $0.enrolledAt < member.enrolledAt }) {
            throw LoyaltyError.invalid([FieldError("friendCustomerId", "is a member since before the referrer")])
        }
        return try await store.insertReferral(program: program.id, referrer: member.id, friend: friend, at: clock.now)
    }

    /// Pays the referral bonuses that these accruals complete: a friend's first purchase that
    /// earned points pays the referrer and the friend the program's referral points, once.
    func completeReferrals(after posted: [PostedAccrual], customers: [MemberID: CustomerID]) async throws {
        let earners = Set(posted.filter { !$0.replayed && $0.accrual.total > 0 }.compactMap { customers[$0.member] })
        guard !earners.isEmpty else { return }
        for referral in try await store.pendingReferrals(friends: earners) {
            let program = try await self.program(referral.programID)
            guard let points = program.referralPoints,
                let friend = try await store.memberships(of: referral.friend).first(where: { $0.programID == program.id })
            else { continue }
            for (member, side) in [(referral.referrer, "referrer"), (friend.id, "friend")] {
                _ = try await earn(
                    points, to: member, reference: "referral:\(referral.id.rawValue)", idempotencyKey: "referral:\(referral.id.rawValue):\(side)",
                    memo: "refer-a-friend bonus", pending: false, reason: .referral)
            }
            try await store.completeReferral(referral.id, at: clock.now)
        }
    }

    // MARK: Simulation

    /// What a draft promotion would have done over past purchases.
    public struct Simulation: Sendable, Equatable {
        public var transactions = 0
        public var matched = 0
        public var members = 0
        public var points: Int64 = 0
        /// The points' cost at the program's value per point, in minor units.
        public var cost = Money(minorUnits: 0, currency: "USD")
        /// The day the budget ran out, if it did.
        public var budgetExhaustedOn: Date?
        public var from = Date()
        public var to = Date()
    }

    /// Runs a draft promotion over the program's purchases of the last `months` months as if it
    /// had run then, alone and with its limits and budget, at each member's current tier. Reads
    /// only: nothing is written to the ledger.
    public func simulate(_ draft: PromotionDraft, in program: ProgramID, months: Int) async throws -> Simulation {
        guard (1...36).contains(months) else { throw LoyaltyError.invalid([FieldError("months", "must be 1 to 36")]) }
        let program = try await self.program(program)
        let draft = try draft.validated()
        let now = clock.now
        let from = Calendar.utc.date(byAdding: .month, value: -months, to: now)!
        // The draft runs over the whole window, whatever dates it was drafted with.
        let promotion = try CompiledPromotion(
            Promotion(
                id: PromotionID(0), programID: program.id, code: draft.code, name: draft.name, startsAt: from, endsAt: now.addingTimeInterval(1),
                requiresEnrolment: false, criteria: draft.criteria, action: draft.action, perMemberLimit: draft.perMemberLimit,
                budgetPoints: draft.budgetPoints, priority: draft.priority, stacking: draft.stacking, createdAt: now))
        var result = Simulation(from: from, to: now)
        result.cost = Money(minorUnits: 0, currency: program.valuePerThousandPoints.currency)
        var used: [MemberID: Int] = [:]
        var left = draft.budgetPoints
        // Up to and including this second.
        for (member, purchase) in try await store.purchases(of: program.id, from: from, to: now.addingTimeInterval(1)) {
            result.transactions += 1
            let plan = AccrualPlan(member: member, program: program, purchase: purchase, at: purchase.occurredAt, promotions: [promotion])
            let (accrual, _, candidates) = plan.earning(tier: member.tier)
            guard !candidates.isEmpty else { continue }
            let usage = PromotionUsage(memberApplications: used[member.id] ?? 0, budgetLeft: left, enrolled: true)
            guard
                let award = PromotionEngine.awards(
                    candidates, usage: [promotion.promotion.id: usage], base: accrual.base,
                    units: plan.units
                ).first
            else { continue }
            result.matched += 1
            used[member.id, default: 0] += 1
            result.points += award.points
            if let budget = left {
                left = budget - award.points
                if left == 0 && result.budgetExhaustedOn == nil { result.budgetExhaustedOn = purchase.occurredAt }
            }
        }
        result.members = used.count
        result.cost.minorUnits = result.points * program.valuePerThousandPoints.minorUnits / 1000
        return result
    }
}
