import Access
import Foundation
import HTTPTypes
import Loyalty
import OpenAPIRuntime
import Partners
import SharedModels

/// Partners' terms, statements and settlements. Loyalty managers and admins manage them; a
/// partner's API key reads its own statement and settlements (another partner's are 404).
extension APIHandler {
    /// The caller may read `code`'s account: staff with partners:manage, or that partner's key.
    private func mayReadAccount(_ code: String) throws {
        let principal = try Caller.required()
        if let partner = principal.partnerCode {
            // A partner's cashier reads no account; its manager and its key read their own.
            guard principal.mayManagePartnerAccount, partner.uppercased() == code.uppercased() else { throw PartnerError.notFound(code) }
            return
        }
        try principal.require(.partnersManage)
    }

    static func schema(_ p: Partner) -> Schemas.Partner {
        .init(
            code: p.code, name: p.name, outlets: p.outlets, rewards: p.rewards, currency: p.currency,
            pricePerThousandPoints: p.pricePerThousandPoints,
            payoutPerVoucher: p.payoutPerVoucher)
    }

    static func schema(_ s: PartnerStatement) -> Schemas.PartnerStatement {
        .init(
            partner: s.partner, from: s.from.description, to: s.to.description, purchases: s.purchases, returns: s.returns, sales: s.sales,
            pointsIssued: s.pointsIssued, pointsCharge: s.pointsCharge.minorUnits, cofundedPoints: s.cofundedPoints,
            cofundingCharge: s.cofundingCharge.minorUnits, vouchersHonoured: s.vouchersHonoured,
            voucherPayout: s.voucherPayout.minorUnits, net: s.net.minorUnits, currency: s.net.currency)
    }

    static func schema(_ s: Settlement) -> Schemas.Settlement {
        .init(
            id: s.id, statement: schema(s.statement), status: .init(rawValue: s.status.rawValue)!, closedBy: s.closedBy, closedAt: s.closedAt,
            paidBy: s.paidBy, paidAt: s.paidAt)
    }

    func listPartners(_ input: Operations.ListPartners.Input) async throws -> Operations.ListPartners.Output {
        _ = try Caller.require(.partnersManage)
        return .ok(.init(body: .json(try await partners.partners().map(Self.schema))))
    }

    func savePartner(_ input: Operations.SavePartner.Input) async throws -> Operations.SavePartner.Output {
        _ = try Caller.require(.partnersManage)
        guard case .json(let b) = input.body else { preconditionFailure() }
        let p = try await partners.save(
            code: input.path.code, name: b.name, outlets: b.outlets, rewards: b.rewards ?? [], currency: b.currency,
            pricePerThousandPoints: b.pricePerThousandPoints, payoutPerVoucher: b.payoutPerVoucher ?? 0)
        return .ok(.init(body: .json(Self.schema(p))))
    }

    func partnerStatement(_ input: Operations.PartnerStatement.Input) async throws -> Operations.PartnerStatement.Output {
        try mayReadAccount(input.path.code)
        guard let from = LocalDate(input.query.from) else { throw PartnerError.invalid(field: "from", reason: "must be a date YYYY-MM-DD") }
        guard let to = LocalDate(input.query.to) else { throw PartnerError.invalid(field: "to", reason: "must be a date YYYY-MM-DD") }
        return .ok(.init(body: .json(Self.schema(try await partners.statement(input.path.code, from: from, to: to)))))
    }

    func listSettlements(_ input: Operations.ListSettlements.Input) async throws -> Operations.ListSettlements.Output {
        try mayReadAccount(input.path.code)
        return .ok(.init(body: .json(try await partners.settlements(input.path.code).map(Self.schema))))
    }

    func settleMonth(_ input: Operations.SettleMonth.Input) async throws -> Operations.SettleMonth.Output {
        let principal = try Caller.require(.partnersManage)
        guard case .json(let b) = input.body else { preconditionFailure() }
        guard let month = LocalDate(b.month + "-01") else { throw PartnerError.invalid(field: "month", reason: "must be YYYY-MM") }
        return .created(.init(body: .json(Self.schema(try await partners.settle(input.path.code, month: month, by: principal.actor)))))
    }

    func markSettlementPaid(_ input: Operations.MarkSettlementPaid.Input) async throws -> Operations.MarkSettlementPaid.Output {
        let principal = try Caller.require(.partnersManage)
        return .ok(.init(body: .json(Self.schema(try await partners.markPaid(input.path.id, by: principal.actor)))))
    }
}

/// Joint promotions' approvals.
extension APIHandler {
    func listPendingPromotions(_ input: Operations.ListPendingPromotions.Input) async throws -> Operations.ListPendingPromotions.Output {
        let principal = try Caller.required()
        let partner: String?
        if let code = principal.partnerCode {
            guard principal.mayManagePartnerAccount else { throw Problem(status: .forbidden, code: "partner_managers_only", detail: "Only the partner's managers see its joint promotions.") }
            partner = code
        } else {
            try principal.require(.loyaltyRead)
            partner = nil
        }
        return .ok(.init(body: .json(try await loyalty.pendingPromotions(partner: partner).map(Schemas.Promotion.init))))
    }

    func decidePromotion(_ input: Operations.DecidePromotion.Input) async throws -> Operations.DecidePromotion.Output {
        let principal = try Caller.required()
        guard let code = principal.partnerCode, principal.mayManagePartnerAccount else {
            throw Problem(status: .forbidden, code: "partners_only", detail: "Only the co-funding partner's key approves a joint promotion.")
        }
        guard case .json(let b) = input.body else { preconditionFailure() }
        let p = try await loyalty.decide(promotion: PromotionID(input.path.id), partner: code, approve: b.approve, by: principal.actor)
        return .ok(.init(body: .json(.init(p))))
    }
}
