import Customers
import Foundation
import SharedModels

/// Promotions, rewards and vouchers.
extension PointsLedger {
    // MARK: Promotions

    /// Creates a promotion; it applies from the next transaction inside its dates. A budget is
    /// set aside from the program's liability at once.
    public func createPromotion(_ draft: PromotionDraft, in program: ProgramID) async throws -> Promotion {
        _ = try await self.program(program)
        let draft = try draft.validated()
        if case .voucher(let code) = draft.action, try await store.reward(code: code, program: program) == nil {
            throw LoyaltyError.invalid([FieldError("action", "no reward \(code) in the program's catalogue")])
        }
        return try await store.insertPromotion(draft, program: program, at: clock.now)
    }

    public func promotion(_ id: PromotionID) async throws -> Promotion {
        guard let promotion = try await store.promotion(id) else { throw LoyaltyError.promotionNotFound(id) }
        return promotion
    }

    /// Joint promotions waiting for their partner (one partner's, or every partner's: the approvals queue).
    public func pendingPromotions(partner: String? = nil) async throws -> [Promotion] {
        try await store.pendingPromotions(partner: partner?.uppercased())
    }

    /// The co-funding partner approves (it starts running on its dates) or declines a joint
    /// promotion. Only that partner may decide, once.
    public func decide(promotion id: PromotionID, partner: String, approve: Bool, by actor: String) async throws -> Promotion {
        let p = try await promotion(id)
        guard p.partner == partner.uppercased() else { throw LoyaltyError.promotionNotFound(id) }
        guard p.approval == .pending, let decided = try await store.decidePromotion(id, approve: approve, by: actor, at: clock.now) else {
            throw LoyaltyError.invalid([FieldError("approval", "the promotion is \(p.approval.rawValue) already")])
        }
        return decided
    }

    /// Opts a member into a promotion that requires enrolment. Enrolling twice is harmless.
    public func enroll(_ member: MemberID, inPromotion id: PromotionID) async throws {
        let promotion = try await promotion(id)
        let member = try await self.member(member)
        guard member.programID == promotion.programID else {
            throw LoyaltyError.invalid([FieldError("memberId", "the member belongs to another program")])
        }
        guard promotion.endsAt > clock.now else { throw LoyaltyError.invalid([FieldError("promotion", "the promotion has ended")]) }
        try await store.enroll(member.id, inPromotion: id, at: clock.now)
    }

    /// Stops a promotion now; what is left of its budget goes back to the program's liability.
    public func end(_ id: PromotionID) async throws -> Promotion {
        _ = try await promotion(id)
        return try await store.endPromotion(id, at: clock.now)
    }

    /// Changes a promotion's terms. An ended or archived promotion keeps the terms it ran with;
    /// a promotion that has started keeps its start (members have earned under it); the end may
    /// move, but not into the past (ending now is ``end(_:)``, which returns the budget).
    public func update(_ id: PromotionID, terms: PromotionTerms) async throws -> Promotion {
        var p = try await promotion(id)
        let now = clock.now
        switch p.status(at: now) {
        case .ended, .archived, .declined:
            throw LoyaltyError.invalid([FieldError("promotion", "an ended promotion keeps the terms it ran with")])
        case .live, .paused:
            if terms.startsAt != p.startsAt {
                throw LoyaltyError.invalid([FieldError("startsAt", "the promotion has started; its start date cannot move")])
            }
        case .scheduled, .awaitingPartner:
            break
        }
        if terms.endsAt <= now { throw LoyaltyError.invalid([FieldError("endsAt", "must be in the future; to stop it now, end it")]) }
        // The same checks as a new promotion's, on the changed terms.
        var draft = PromotionDraft(
            code: p.code, name: terms.name, startsAt: terms.startsAt, endsAt: terms.endsAt, requiresEnrolment: terms.requiresEnrolment,
            criteria: terms.criteria, action: terms.action, perMemberLimit: p.perMemberLimit, budgetPoints: p.budgetPoints, priority: p.priority,
            stacking: p.stacking, partner: p.partner, partnerShare: p.partnerShare)
        draft = try draft.validated()
        if case .voucher(let code) = draft.action, try await store.reward(code: code, program: p.programID) == nil {
            throw LoyaltyError.invalid([FieldError("action", "no reward \(code) in the program's catalogue")])
        }
        p.name = draft.name
        p.startsAt = draft.startsAt
        p.endsAt = draft.endsAt
        p.criteria = draft.criteria
        p.action = draft.action
        p.requiresEnrolment = draft.requiresEnrolment
        try await store.updatePromotion(p)
        return p
    }

    /// Pauses a scheduled or live promotion: it gives nothing until it is resumed.
    public func pause(_ id: PromotionID) async throws -> Promotion {
        try await mark(id, when: [.live, .scheduled], else: "only a scheduled or live promotion can be paused") { $0.pausedAt = $1 }
    }

    public func resume(_ id: PromotionID) async throws -> Promotion {
        try await mark(id, when: [.paused], else: "the promotion is not paused") { p, _ in p.pausedAt = nil }
    }

    /// Takes an ended or declined promotion off the working lists; its results stay.
    public func archive(_ id: PromotionID) async throws -> Promotion {
        try await mark(id, when: [.ended, .declined], else: "only an ended or declined promotion can be archived; end it first") { $0.archivedAt = $1 }
    }

    /// Changes a promotion's paused or archived mark when its status allows, or says why not.
    private func mark(
        _ id: PromotionID, when allowed: Set<Promotion.Status>, else refusal: String, _ change: (inout Promotion, Date) -> Void
    ) async throws -> Promotion {
        var p = try await promotion(id)
        let now = clock.now
        guard allowed.contains(p.status(at: now)) else { throw LoyaltyError.invalid([FieldError("promotion", refusal)]) }
        change(&p, now)
        try await store.updatePromotion(p)
        return p
    }

    // MARK: Rewards and vouchers

    public func addReward(
        to program: ProgramID, code: String, name: String, kind: Reward.Kind, pointsPrice: Int64, cashPrice: Money? = nil, tiers: [String] = [],
        stock: Int? = nil, validityDays: Int = 90
    ) async throws -> Reward {
        let program = try await self.program(program)
        let code = code.trimmingSpaces().uppercased()
        try Reward.validate(code: code, name: name, pointsPrice: pointsPrice, cashPrice: cashPrice, stock: stock, validityDays: validityDays)
        if let ladder = program.tierPolicy, let unknown = tiers.first(where: { tier in !ladder.tiers.contains { $0.name == tier } }) {
            throw LoyaltyError.invalid([FieldError("tiers", "\(unknown) is not a tier of the program")])
        }
        return try await store.insertReward(
            Reward(
                id: RewardID(0), programID: program.id, code: code, name: name.trimmingSpaces(), kind: kind, pointsPrice: pointsPrice,
                cashPrice: cashPrice, tiers: tiers, stock: stock, validityDays: validityDays))
    }

    public func reward(_ id: RewardID) async throws -> Reward {
        guard let reward = try await store.reward(id) else { throw LoyaltyError.rewardNotFound(String(id.rawValue)) }
        return reward
    }

    /// Changes a reward's stock or withdraws it; vouchers already issued stay valid.
    public func restock(_ id: RewardID, stock: Int?, active: Bool) async throws -> Reward {
        var reward = try await reward(id)
        if let stock, stock < 0 { throw LoyaltyError.invalid([FieldError("stock", "must not be negative, or absent for unlimited")]) }
        reward.stock = stock
        reward.active = active
        try await store.updateReward(reward)
        return reward
    }

    /// Changes what members see of a reward and what it costs. Vouchers already issued keep the
    /// points they were bought for.
    public func updateReward(
        _ id: RewardID, name: String, pointsPrice: Int64, description: String?, imageURL: String?, stock: Int?, active: Bool
    ) async throws -> Reward {
        var reward = try await reward(id)
        let description = description?.trimmingSpaces()
        let imageURL = imageURL?.trimmingSpaces()
        try Reward.validate(
            code: reward.code, name: name, pointsPrice: pointsPrice, cashPrice: reward.cashPrice, stock: stock, validityDays: reward.validityDays)
        try Reward.validate(description: description, imageURL: imageURL)
        reward.name = name.trimmingSpaces()
        reward.pointsPrice = pointsPrice
        reward.description = (description?.isEmpty ?? true) ? nil : description
        reward.imageURL = (imageURL?.isEmpty ?? true) ? nil : imageURL
        reward.stock = stock
        reward.active = active
        try await store.updateReward(reward)
        return reward
    }

    /// The rewards a member could redeem now, with the reason for each they cannot.
    public func catalogue(for member: MemberID) async throws -> [(reward: Reward, unavailable: String?)] {
        let member = try await self.member(member)
        let balance = try await store.balance(of: member.id, .reward, at: clock.now)
        return try await store.rewards(of: member.programID).filter(\.active).map { reward in
            (reward, Self.unavailability(of: reward, for: member, available: balance.available))
        }
    }

    static func unavailability(of reward: Reward, for member: Member, available: Int64?) -> String? {
        if !reward.active { return "the reward is withdrawn" }
        if !reward.tiers.isEmpty && !reward.tiers.contains(member.tier ?? "") {
            return "for \(reward.tiers.joined(separator: ", ")) members only"
        }
        if reward.stock == 0 { return "out of stock" }
        if let available, available < reward.pointsPrice { return "needs \(reward.pointsPrice) points, \(available) available" }
        return nil
    }

    /// Spends a member's points on a reward and issues the voucher, earliest-expiring points
    /// first. Idempotent by key: the same key returns the same voucher and spends once.
    public func redeem(reward id: RewardID, for member: MemberID, idempotencyKey: String?) async throws -> Voucher {
        let reward = try await reward(id)
        let (member, program) = try await memberAndProgram(member)
        guard reward.programID == program.id else {
            throw LoyaltyError.rewardNotAvailable(reward.code, reason: "the reward belongs to another program")
        }
        if let reason = Self.unavailability(of: reward, for: member, available: nil) {
            throw reward.stock == 0 ? LoyaltyError.outOfStock(reward.code) : LoyaltyError.rewardNotAvailable(reward.code, reason: reason)
        }
        return try await store.redeem(
            reward, member: member.id, voucherCode: Voucher.newCode(program: program.code), idempotencyKey: idempotencyKey, at: clock.now)
    }

    /// Cancels an issued voucher: its points return to the member with the expiry they had, and
    /// the reward goes back to stock.
    public func cancel(voucher: VoucherID) async throws -> Voucher { try await store.cancel(voucher, at: clock.now) }

    /// Honours a voucher at the till or at a partner.
    /// Marks an issued voucher as used (honoured), recording who honoured it. A partner honours
    /// only vouchers of its own rewards.
    /// - Throws: ``LoyaltyError/notPartnerReward(_:)`` (nothing was written), ``LoyaltyError/voucherNotFound(_:)``,
    ///   ``LoyaltyError/voucherClosed(_:status:)``.
    public func use(voucher id: VoucherID, by party: Party = .company) async throws -> Voucher {
        if case .partner = party {
            let voucher = try await self.voucher(id)
            guard let reward = try await store.reward(voucher.rewardID), party.honours(reward: reward.code) else {
                throw LoyaltyError.notPartnerReward(try await store.reward(voucher.rewardID)?.code ?? "of voucher \(voucher.code)")
            }
        }
        return try await store.use(id, at: clock.now, honouredBy: party.partnerCode)
    }

    public func voucher(_ id: VoucherID) async throws -> Voucher {
        guard let voucher = try await store.voucher(id) else { throw LoyaltyError.voucherNotFound(String(id.rawValue)) }
        return voucher
    }

    /// A voucher by the code the member shows, as a cashier types it (any case, spaces ignored).
    public func voucher(code: String) async throws -> Voucher {
        let typed = code.uppercased().filter { !$0.isWhitespace }
        guard !typed.isEmpty, typed.count <= 64, let voucher = try await store.voucher(code: typed) else {
            throw LoyaltyError.voucherNotFound(String(code.prefix(64)))
        }
        return voucher
    }
}

/// Membership cards.
extension PointsLedger {
    /// Issues a card: free (for life, unless `validityYears` is given) or paid with a fee and a validity of 1–10 years.
    public func issueCard(to member: MemberID, fee: Money?, validityYears: Int?) async throws -> MembershipCard {
        let (member, program) = try await memberAndProgram(member)
        var errors: [FieldError] = []
        if let fee, fee.minorUnits <= 0 || !Money.isCurrencyCode(fee.currency) {
            errors.append(FieldError("fee", "a paid card has a positive fee in an ISO 4217 currency"))
        }
        if let years = validityYears, !(1...10).contains(years) { errors.append(FieldError("validityYears", "must be 1 to 10")) }
        if fee != nil && validityYears == nil { errors.append(FieldError("validityYears", "a paid card is valid for some years")) }
        if !errors.isEmpty { throw LoyaltyError.invalid(errors) }
        _ = program
        let now = clock.now
        let until = validityYears.map { Calendar.utc.date(byAdding: .year, value: $0, to: now)! }
        return try await store.insertCard(member: member.id, kind: fee == nil ? .free : .paid, fee: fee, validUntil: until, at: now)
    }

    public func card(_ id: CardID) async throws -> MembershipCard {
        guard let card = try await store.card(id) else { throw LoyaltyError.cardNotFound(id) }
        return card
    }

    /// Blocks a lost or stolen card: its number stops finding the member at once.
    public func block(card id: CardID, reason: String) async throws -> MembershipCard {
        guard !reason.trimmingSpaces().isEmpty else { throw LoyaltyError.invalid([FieldError("reason", "say why the card is blocked")]) }
        return try await store.closeCard(id, status: .blocked, reason: reason.trimmingSpaces(), at: clock.now)
    }

    /// Replaces a card: the old one stops working, the new one keeps its kind and validity (no new fee).
    public func replace(card id: CardID, reason: String) async throws -> MembershipCard {
        guard !reason.trimmingSpaces().isEmpty else { throw LoyaltyError.invalid([FieldError("reason", "say why the card is replaced")]) }
        return try await store.replaceCard(id, reason: reason.trimmingSpaces(), at: clock.now)
    }
}
