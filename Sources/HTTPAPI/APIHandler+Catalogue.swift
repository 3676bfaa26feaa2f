import Access
import Customers
import Foundation
import HTTPTypes
import Loyalty
import OpenAPIRuntime
import Partners
import SharedModels

/// Promotions, rewards, vouchers, member-to-member operations, tiers and simulations.
extension APIHandler {
    /// The member, when the caller is that member, or staff holding `permission`.
    func actingMember(_ id: Int64, staff permission: Permission) async throws -> (Principal, Member) {
        let principal = try Caller.required()
        if case .member = principal {} else { try principal.require(permission) }
        return (principal, try await readableMember(id))
    }

    func key(_ principal: Principal, _ header: String?) -> String? { header.map { "api:\(principal.key):\($0)" } }

    // MARK: Programs

    func joinProgram(_ input: Operations.JoinProgram.Input) async throws -> Operations.JoinProgram.Output {
        guard case .member(let customer, _) = try Caller.required() else {
            throw Problem(status: .forbidden, code: "members_only", detail: "Only a member joins a program themselves; staff enrol customers.")
        }
        return .created(.init(body: .json(.init(try await loyalty.enroll(CustomerID(customer), in: ProgramID(input.path.id))))))
    }

    func setProgramOptions(_ input: Operations.SetProgramOptions.Input) async throws -> Operations.SetProgramOptions.Output {
        _ = try Caller.require(.loyaltyManage)
        guard case .json(let body) = input.body else { preconditionFailure() }
        let id = ProgramID(input.path.id)
        try await loyalty.setMemberOptions(of: id, transferLimitPerYear: body.transferLimitPerYear, referralPoints: body.referralPoints)
        return .ok(.init(body: .json(.init(try await loyalty.program(id)))))
    }

    func reviewTiers(_ input: Operations.ReviewTiers.Input) async throws -> Operations.ReviewTiers.Output {
        _ = try Caller.require(.loyaltyManage)
        let review = try await loyalty.reviewTiers(of: ProgramID(input.path.id))
        return .ok(
            .init(
                body: .json(.init(reviewed: review.reviewed, upgraded: review.upgraded, downgraded: review.downgraded, notBefore: review.notBefore))))
    }

    // MARK: Promotions

    static func draft(_ p: Schemas.PromotionInput) throws -> PromotionDraft {
        func need(_ value: Int64?, _ what: String) throws -> Int64 {
            guard let value else {
                throw Problem(status: .unprocessableContent, code: "validation_failed", detail: "action.\(what) is required", field: "action.\(what)")
            }
            return value
        }
        let action: Promotion.Action =
            switch p.action.kind {
            case .pointsPerUnit: .pointsPerUnit(try need(p.action.points, "points"))
            case .fixed: .fixed(try need(p.action.points, "points"))
            case .multiplier: .multiplier(percent: try need(p.action.percent, "percent"))
            case .voucher: .voucher(rewardCode: p.action.rewardCode ?? "")
            }
        return PromotionDraft(
            code: p.code, name: p.name, startsAt: p.startsAt, endsAt: p.endsAt, requiresEnrolment: p.requiresEnrolment ?? false, criteria: p.criteria,
            action: action, perMemberLimit: p.perMemberLimit, budgetPoints: p.budgetPoints, priority: p.priority ?? 0,
            stacking: p.stacking.map { convert($0) } ?? .cumulative, partner: p.partner, partnerShare: p.partnerShare)
    }

    func createPromotion(_ input: Operations.CreatePromotion.Input) async throws -> Operations.CreatePromotion.Output {
        _ = try Caller.require(.loyaltyManage)
        guard case .json(let body) = input.body else { preconditionFailure() }
        if let partner = body.partner, !partner.isEmpty { _ = try await partners.partner(partner) }
        return .created(.init(body: .json(.init(try await loyalty.createPromotion(try Self.draft(body), in: ProgramID(input.path.id))))))
    }

    func listPromotions(_ input: Operations.ListPromotions.Input) async throws -> Operations.ListPromotions.Output {
        _ = try Caller.require(.loyaltyRead)
        let program = try await loyalty.program(ProgramID(input.path.id))
        return .ok(.init(body: .json(try await loyalty.promotions(of: program.id).map(Schemas.Promotion.init))))
    }

    func getPromotion(_ input: Operations.GetPromotion.Input) async throws -> Operations.GetPromotion.Output {
        _ = try Caller.require(.loyaltyRead)
        let promotion = try await loyalty.promotion(PromotionID(input.path.id))
        let r = try await loyalty.promotionResults(promotion.id)
        return .ok(
            .init(
                body: .json(
                    .init(
                        promotion: .init(promotion),
                        results: .init(
                            applications: r.applications, members: r.members, points: r.points, vouchers: r.vouchers,
                            purchaseAmount: r.purchaseAmount, budgetLeft: r.budgetLeft, enrolled: r.enrolled)))))
    }

    func endPromotion(_ input: Operations.EndPromotion.Input) async throws -> Operations.EndPromotion.Output {
        _ = try Caller.require(.loyaltyManage)
        return .ok(.init(body: .json(.init(try await loyalty.end(PromotionID(input.path.id))))))
    }

    func enrollInPromotion(_ input: Operations.EnrollInPromotion.Input) async throws -> Operations.EnrollInPromotion.Output {
        guard case .json(let body) = input.body else { preconditionFailure() }
        let (_, member) = try await actingMember(body.memberId, staff: .loyaltyManage)
        try await loyalty.enroll(member.id, inPromotion: PromotionID(input.path.id))
        return .noContent(.init())
    }

    func simulatePromotion(_ input: Operations.SimulatePromotion.Input) async throws -> Operations.SimulatePromotion.Output {
        _ = try Caller.require(.loyaltyManage)
        guard case .json(let body) = input.body else { preconditionFailure() }
        let s = try await loyalty.simulate(try Self.draft(body.promotion), in: ProgramID(input.path.id), months: body.months)
        return .ok(
            .init(
                body: .json(
                    .init(
                        transactions: s.transactions, matched: s.matched, members: s.members, points: s.points,
                        cost: .init(amount: s.cost.minorUnits, currency: s.cost.currency), budgetExhaustedOn: s.budgetExhaustedOn, from: s.from,
                        to: s.to))))
    }

    // MARK: Rewards and vouchers

    func createReward(_ input: Operations.CreateReward.Input) async throws -> Operations.CreateReward.Output {
        _ = try Caller.require(.loyaltyManage)
        guard case .json(let b) = input.body else { preconditionFailure() }
        let reward = try await loyalty.addReward(
            to: ProgramID(input.path.id), code: b.code, name: b.name, kind: convert(b.kind), pointsPrice: b.pointsPrice,
            cashPrice: b.cashPrice.map { Money(minorUnits: $0.amount, currency: $0.currency) }, tiers: b.tiers ?? [], stock: b.stock,
            validityDays: b.validityDays ?? 90)
        return .created(.init(body: .json(.init(reward))))
    }

    func listRewards(_ input: Operations.ListRewards.Input) async throws -> Operations.ListRewards.Output {
        _ = try Caller.required()
        let program = try await loyalty.program(ProgramID(input.path.id))
        return .ok(.init(body: .json(try await loyalty.rewards(of: program.id).map(Schemas.Reward.init))))
    }

    func updateReward(_ input: Operations.UpdateReward.Input) async throws -> Operations.UpdateReward.Output {
        _ = try Caller.require(.loyaltyManage)
        guard case .json(let body) = input.body else { preconditionFailure() }
        return .ok(.init(body: .json(.init(try await loyalty.restock(RewardID(input.path.id), stock: body.stock, active: body.active)))))
    }

    func getCatalogue(_ input: Operations.GetCatalogue.Input) async throws -> Operations.GetCatalogue.Output {
        let member = try await readableMember(input.path.id)
        let items = try await loyalty.catalogue(for: member.id)
        return .ok(.init(body: .json(items.map { .init(reward: .init($0.reward), available: $0.unavailable == nil, reason: $0.unavailable) })))
    }

    func redeemReward(_ input: Operations.RedeemReward.Input) async throws -> Operations.RedeemReward.Output {
        let (principal, member) = try await actingMember(input.path.id, staff: .pointsRedeem)
        guard case .json(let body) = input.body else { preconditionFailure() }
        let voucher = try await loyalty.redeem(
            reward: RewardID(body.rewardId), for: member.id, idempotencyKey: key(principal, input.headers.idempotencyKey))
        return .created(.init(body: .json(.init(voucher, now: customers.clock.now))))
    }

    func listVouchers(_ input: Operations.ListVouchers.Input) async throws -> Operations.ListVouchers.Output {
        let member = try await readableMember(input.path.id)
        let now = customers.clock.now
        return .ok(.init(body: .json(try await loyalty.vouchers(of: member.id).map { Schemas.Voucher($0, now: now) })))
    }

    /// An item the caller may act on: staff with `permission` (checked before anything is read),
    /// or the member who owns it — to any other member it does not exist.
    func acting<Item>(staff permission: Permission, _ load: () async throws -> Item, owner: (Item) -> MemberID, notFound: any Error)
        async throws -> Item
    {
        let principal = try Caller.required()
        if case .member = principal {} else { try principal.require(permission) }
        let item = try await load()
        if case .member(let own, _) = principal, try await loyalty.member(owner(item)).customerID.rawValue != own { throw notFound }
        return item
    }

    func actingVoucher(_ id: Int64, staff permission: Permission) async throws -> Voucher {
        try await acting(
            staff: permission, { try await loyalty.voucher(VoucherID(id)) }, owner: \.memberID, notFound: LoyaltyError.voucherNotFound(String(id)))
    }

    func cancelVoucher(_ input: Operations.CancelVoucher.Input) async throws -> Operations.CancelVoucher.Output {
        let voucher = try await actingVoucher(input.path.id, staff: .pointsRedeem)
        return .ok(.init(body: .json(.init(try await loyalty.cancel(voucher: voucher.id), now: customers.clock.now))))
    }

    func useVoucher(_ input: Operations.UseVoucher.Input) async throws -> Operations.UseVoucher.Output {
        let principal = try Caller.require(.vouchersRedeem)
        let voucher = try await loyalty.use(voucher: VoucherID(input.path.id), by: try await party(of: principal))
        return .ok(.init(body: .json(.init(voucher, now: customers.clock.now))))
    }

    // MARK: Member to member

    func transferPoints(_ input: Operations.TransferPoints.Input) async throws -> Operations.TransferPoints.Output {
        let (principal, member) = try await actingMember(input.path.id, staff: .pointsAdjust)
        guard case .json(let body) = input.body else { preconditionFailure() }
        let transfer = try await loyalty.transfer(
            body.points, from: member.id, to: MemberID(body.toMemberId), idempotencyKey: key(principal, input.headers.idempotencyKey))
        return .created(.init(body: .json(.init(transfer, signed: -transfer.points))))
    }

    func poolPoints(_ input: Operations.PoolPoints.Input) async throws -> Operations.PoolPoints.Output {
        let (principal, member) = try await actingMember(input.path.id, staff: .pointsAdjust)
        guard case .json(let body) = input.body else { preconditionFailure() }
        let customers = self.customers
        let transfer = try await loyalty.pool(
            from: member.id, into: MemberID(body.intoMemberId), idempotencyKey: key(principal, input.headers.idempotencyKey),
            households: { try await customers.customer($0).householdID })
        return .ok(.init(body: .json(.init(points: transfer?.points ?? 0, transfer: transfer.map { .init($0, signed: -$0.points) }))))
    }

    func referFriend(_ input: Operations.ReferFriend.Input) async throws -> Operations.ReferFriend.Output {
        let (_, member) = try await actingMember(input.path.id, staff: .loyaltyManage)
        guard case .json(let body) = input.body else { preconditionFailure() }
        let friend = try await customers.customer(CustomerID(body.friendCustomerId))
        return .created(.init(body: .json(.init(try await loyalty.refer(friend.id, by: member.id)))))
    }

    func listReferrals(_ input: Operations.ListReferrals.Input) async throws -> Operations.ListReferrals.Output {
        let member = try await readableMember(input.path.id)
        return .ok(.init(body: .json(try await loyalty.referrals(by: member.id).map(Schemas.Referral.init))))
    }

    func getTier(_ input: Operations.GetTier.Input) async throws -> Operations.GetTier.Output {
        let member = try await readableMember(input.path.id)
        return .ok(.init(body: .json(try await tierStatus(member.id))))
    }

    func tierStatus(_ member: MemberID) async throws -> Schemas.TierStatus {
        let progress = try await loyalty.tierProgress(of: member)
        let history = try await loyalty.tierHistory(of: member)
        return Schemas.TierStatus(
            tier: progress?.tier, qualifyingPoints: progress?.qualifyingPoints, nextTier: progress?.nextTier, missingPoints: progress?.missing,
            by: progress?.by, benefits: progress?.benefits, history: history.map { .init(from: $0.from, to: $0.to, reason: $0.reason, at: $0.at) })
    }
}

extension Schemas.Promotion {
    init(_ p: Promotion) {
        let action: Schemas.PromotionAction =
            switch p.action {
            case .pointsPerUnit(let n): .init(kind: .pointsPerUnit, points: n)
            case .fixed(let n): .init(kind: .fixed, points: n)
            case .multiplier(let percent): .init(kind: .multiplier, percent: percent)
            case .voucher(let code): .init(kind: .voucher, rewardCode: code)
            }
        self.init(
            id: p.id.rawValue, programId: p.programID.rawValue, code: p.code, name: p.name, startsAt: p.startsAt, endsAt: p.endsAt,
            requiresEnrolment: p.requiresEnrolment, criteria: p.criteria, action: action, perMemberLimit: p.perMemberLimit,
            budgetPoints: p.budgetPoints, priority: p.priority, stacking: convert(p.stacking), createdAt: p.createdAt, partner: p.partner,
            partnerShare: p.partnerShare, approval: .init(rawValue: p.approval.rawValue)!, decidedBy: p.decidedBy)
    }
}

extension Schemas.Reward {
    init(_ r: Reward) {
        self.init(
            id: r.id.rawValue, programId: r.programID.rawValue, code: r.code, name: r.name, kind: convert(r.kind), pointsPrice: r.pointsPrice,
            cashPrice: r.cashPrice.map { .init(amount: $0.minorUnits, currency: $0.currency) }, tiers: r.tiers, stock: r.stock,
            validityDays: r.validityDays, active: r.active)
    }
}

extension Schemas.Voucher {
    /// An issued voucher past its date reads as `expired`.
    init(_ v: Voucher, now: Date) {
        self.init(
            id: v.id.rawValue, code: v.code, rewardId: v.rewardID.rawValue, memberId: v.memberID.rawValue, points: v.points,
            cash: v.cash.map { .init(amount: $0.minorUnits, currency: $0.currency) }, status: v.isExpired(at: now) ? .expired : convert(v.status),
            issuedAt: v.issuedAt, expiresAt: v.expiresAt, closedAt: v.closedAt, promotionId: v.promotionID?.rawValue)
    }
}

extension Schemas.Referral {
    init(_ r: Referral) {
        self.init(
            id: r.id.rawValue, referrerId: r.referrer.rawValue, friendCustomerId: r.friend.rawValue, createdAt: r.createdAt,
            completedAt: r.completedAt)
    }
}

/// Membership cards.
extension APIHandler {
    func issueCard(_ input: Operations.IssueCard.Input) async throws -> Operations.IssueCard.Output {
        _ = try Caller.require(.customersWrite)
        guard case .json(let body) = input.body else { preconditionFailure() }
        let member = try await loyalty.member(MemberID(input.path.id))
        let card = try await loyalty.issueCard(
            to: member.id, fee: body.fee.map { Money(minorUnits: $0.amount, currency: $0.currency) }, validityYears: body.validityYears)
        return .created(.init(body: .json(.init(card))))
    }

    func listCards(_ input: Operations.ListCards.Input) async throws -> Operations.ListCards.Output {
        let member = try await readableMember(input.path.id)
        return .ok(.init(body: .json(try await loyalty.cards(of: member.id).map(Schemas.Card.init))))
    }

    func actingCard(_ id: Int64) async throws -> MembershipCard {
        try await acting(
            staff: .customersWrite, { try await loyalty.card(CardID(id)) }, owner: \.memberID, notFound: LoyaltyError.cardNotFound(CardID(id)))
    }

    func blockCard(_ input: Operations.BlockCard.Input) async throws -> Operations.BlockCard.Output {
        let card = try await actingCard(input.path.id)
        guard case .json(let body) = input.body else { preconditionFailure() }
        return .ok(.init(body: .json(.init(try await loyalty.block(card: card.id, reason: body.reason)))))
    }

    func replaceCard(_ input: Operations.ReplaceCard.Input) async throws -> Operations.ReplaceCard.Output {
        let card = try await actingCard(input.path.id)
        guard case .json(let body) = input.body else { preconditionFailure() }
        return .created(.init(body: .json(.init(try await loyalty.replace(card: card.id, reason: body.reason)))))
    }
}

extension Schemas.Card {
    init(_ c: MembershipCard) {
        self.init(
            id: c.id.rawValue, memberId: c.memberID.rawValue, number: c.number, kind: convert(c.kind),
            fee: c.fee.map { .init(amount: $0.minorUnits, currency: $0.currency) }, status: convert(c.status), issuedAt: c.issuedAt,
            validUntil: c.validUntil, reason: c.reason)
    }
}
