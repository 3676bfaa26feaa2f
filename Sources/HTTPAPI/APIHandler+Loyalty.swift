import Access
import Customers
import Expressions
import Foundation
import HTTPTypes
import Loyalty
import OpenAPIRuntime
import SharedModels

extension APIHandler {
    var loyalty: PointsLedger { intake.loyalty }

    /// The member, if the caller may see them: staff with loyalty:read, or the member themselves.
    func readableMember(_ id: Int64) async throws -> Member {
        let principal = try Caller.required()
        let member = try await loyalty.member(MemberID(id))
        if case .member(let own, _) = principal {
            guard member.customerID.rawValue == own else { throw LoyaltyError.memberNotFound(MemberID(id)) }
        } else {
            try principal.require(.loyaltyRead)
        }
        return member
    }

    func createProgram(_ input: Operations.CreateProgram.Input) async throws -> Operations.CreateProgram.Output {
        _ = try Caller.require(.loyaltyManage)
        guard case .json(let body) = input.body else { preconditionFailure() }
        var rules: EarningRules?
        if let r = body.earningRules {
            var bonuses: [BonusRule] = []
            for (index, bonus) in (r.bonuses ?? []).enumerated() {
                let action: BonusRule.Action = bonus.fixedPoints.map { .fixed($0) } ?? .percentOfBase(bonus.percentOfBase ?? 0)
                do {
                    bonuses.append(try BonusRule(name: bonus.name, criteria: bonus.criteria, action: action, cap: bonus.cap))
                } catch let error as ExpressionError {
                    throw Problem(
                        status: .unprocessableContent, code: "invalid_rule", detail: "earningRules.bonuses[\(index)].criteria: \(error)",
                        field: "earningRules.bonuses[\(index)].criteria")
                }
            }
            rules = EarningRules(
                pointsPerUnit: r.pointsPerUnit, categoryPercent: r.categoryPercent?.additionalProperties ?? [:],
                productPercent: r.productPercent?.additionalProperties ?? [:], channelPercent: r.channelPercent?.additionalProperties ?? [:],
                storePercent: r.storePercent?.additionalProperties ?? [:], tierPercent: r.tierPercent?.additionalProperties ?? [:],
                bonuses: bonuses, maxPerTransaction: r.maxPerTransaction, maxPerMonth: r.maxPerMonth,
                rounding: r.rounding.map { convert($0) } ?? .down)
        }
        var tiers: TierPolicy?
        if let levels = body.tiers, !levels.isEmpty {
            tiers = try TierPolicy(
                tiers: levels.map { .init(name: $0.name, threshold: $0.threshold, benefits: $0.benefits ?? []) },
                periodMonths: body.tierPeriodMonths ?? 12,
                period: body.tierPeriod.map { convert($0) } ?? .rolling)
        }
        var expiryStyle = Program.ExpiryStyle.afterEarning
        if let code = body.expiryStyle {
            guard let style = Program.ExpiryStyle(code: code) else {
                throw Problem(
                    status: .unprocessableContent, code: "validation_failed", detail: "expiryStyle: use after_earning, rolling or fixed:MM-DD",
                    field: "expiryStyle")
            }
            expiryStyle = style
        }
        let program = try await loyalty.createProgram(
            code: body.code, name: body.name,
            valuePerThousandPoints: Money(minorUnits: body.valuePerThousandPoints.amount, currency: body.valuePerThousandPoints.currency),
            expiryMonths: body.expiryMonths, pendingDays: body.pendingDays ?? 0, allowNegativeBalance: body.allowNegativeBalance ?? false,
            expiryStyle: expiryStyle)
        try await loyalty.configure(program.id, rules: rules, tiers: tiers)
        if body.transferLimitPerYear != nil || body.referralPoints != nil {
            try await loyalty.setMemberOptions(of: program.id, transferLimitPerYear: body.transferLimitPerYear, referralPoints: body.referralPoints)
        }
        return .created(.init(body: .json(.init(try await loyalty.program(program.id)))))
    }

    func getProgram(_ input: Operations.GetProgram.Input) async throws -> Operations.GetProgram.Output {
        _ = try Caller.required()
        return .ok(.init(body: .json(.init(try await loyalty.program(ProgramID(input.path.id))))))
    }

    func enrollMember(_ input: Operations.EnrollMember.Input) async throws -> Operations.EnrollMember.Output {
        _ = try Caller.require(.membersEnroll)
        guard case .json(let body) = input.body else { preconditionFailure() }
        let customer = try await customers.customer(CustomerID(body.customerId))
        if let survivor = customer.mergedInto { throw CustomerError.merged(customer.id, into: survivor) }
        return .created(.init(body: .json(.init(try await loyalty.enroll(customer.id, in: ProgramID(input.path.id))))))
    }

    func listMemberships(_ input: Operations.ListMemberships.Input) async throws -> Operations.ListMemberships.Output {
        let principal = try Caller.required()
        if case .member(let own, _) = principal, own != input.path.id { throw CustomerError.notFound(kind: "customer", id: input.path.id) }
        if case .member = principal {} else { try principal.require(.loyaltyRead) }
        let members = try await loyalty.memberships(of: CustomerID(input.path.id))
        return .ok(.init(body: .json(members.map(Schemas.Member.init))))
    }

    func getBalance(_ input: Operations.GetBalance.Input) async throws -> Operations.GetBalance.Output {
        let member = try await readableMember(input.path.id)
        let balance = try await loyalty.balance(of: member.id, input.query.pointType.map { convert($0) } ?? .reward)
        return .ok(
            .init(
                body: .json(
                    .init(
                        available: balance.available, pending: balance.pending, debt: balance.debt, ledger: balance.ledger,
                        expiringPoints: balance.nextExpiry?.points, expiringOn: balance.nextExpiry?.on))))
    }

    func getStatement(_ input: Operations.GetStatement.Input) async throws -> Operations.GetStatement.Output {
        let member = try await readableMember(input.path.id)
        guard input.query.from < input.query.to else {
            throw Problem(status: .unprocessableContent, code: "validation_failed", detail: "from must be before to", field: "from")
        }
        let pointType: PointType = input.query.pointType.map { convert($0) } ?? .reward
        let statement = try await loyalty.statement(of: member.id, pointType, from: input.query.from, to: input.query.to)
        let expiring = try await loyalty.balance(of: member.id, pointType).nextExpiry
        return .ok(
            .init(
                body: .json(
                    .init(
                        opening: statement.opening,
                        movements: statement.movements.map { Schemas.PointsTransfer($0.transfer, signed: $0.signedPoints) },
                        closing: statement.closing, expiringPoints: expiring?.points, expiringOn: expiring?.on,
                        tier: try await tierStatus(member.id)))))
    }

    func redeemPoints(_ input: Operations.RedeemPoints.Input) async throws -> Operations.RedeemPoints.Output {
        let (principal, member) = try await actingMember(input.path.id, staff: .pointsRedeem)
        guard case .json(let body) = input.body else { preconditionFailure() }
        let key = key(principal, input.headers.idempotencyKey)
        let transfer = try await loyalty.redeem(
            body.points, from: member.id, reference: body.reference, idempotencyKey: key, memo: "by \(principal.actor)")
        return .created(.init(body: .json(.init(transfer, signed: -transfer.points))))
    }

    func adjustPoints(_ input: Operations.AdjustPoints.Input) async throws -> Operations.AdjustPoints.Output {
        let principal = try Caller.require(.pointsAdjust)
        guard case .json(let body) = input.body else { preconditionFailure() }
        let member = try await loyalty.member(MemberID(input.path.id))
        let key = key(principal, input.headers.idempotencyKey)
        let transfer = try await loyalty.adjust(
            body.points, body.pointType.map { convert($0) } ?? .reward, for: member.id, memo: body.reason, by: principal.actor, idempotencyKey: key)
        return .created(.init(body: .json(.init(transfer, signed: body.points))))
    }
}

extension Schemas.Program {
    init(_ p: Program) {
        let rules = p.earningRules.map { r in
            Schemas.EarningRules(
                pointsPerUnit: r.pointsPerUnit, categoryPercent: .init(additionalProperties: r.categoryPercent),
                channelPercent: .init(additionalProperties: r.channelPercent), tierPercent: .init(additionalProperties: r.tierPercent),
                productPercent: .init(additionalProperties: r.productPercent), storePercent: .init(additionalProperties: r.storePercent),
                maxPerTransaction: r.maxPerTransaction, maxPerMonth: r.maxPerMonth, rounding: convert(r.rounding),
                bonuses: r.bonuses.map { bonus in
                    var percent: Int64?, fixed: Int64?
                    switch bonus.action {
                    case .percentOfBase(let value): percent = value
                    case .fixed(let value): fixed = value
                    }
                    return .init(name: bonus.name, criteria: bonus.source, percentOfBase: percent, fixedPoints: fixed, cap: bonus.cap)
                })
        }
        self.init(
            id: p.id.rawValue, code: p.code, name: p.name,
            valuePerThousandPoints: .init(amount: p.valuePerThousandPoints.minorUnits, currency: p.valuePerThousandPoints.currency),
            expiryMonths: p.expiryMonths, expiryStyle: p.expiryStyle.code,
            pendingDays: p.pendingDays, allowNegativeBalance: p.allowNegativeBalance, earningRules: rules,
            tiers: (p.tierPolicy?.tiers ?? []).map { .init(name: $0.name, threshold: $0.threshold, benefits: $0.benefits) },
            tierPeriod: p.tierPolicy.map { convert($0.period) }, transferLimitPerYear: p.transferLimitPerYear, referralPoints: p.referralPoints,
            createdAt: p.createdAt)
    }
}

extension Schemas.Member {
    init(_ m: Member) {
        self.init(
            id: m.id.rawValue, programId: m.programID.rawValue, customerId: m.customerID.rawValue, number: m.number, tier: m.tier,
            enrolledAt: m.enrolledAt)
    }
}

extension Schemas.PointsTransfer {
    init(_ t: Transfer, signed: Int64) {
        self.init(id: t.id.rawValue, points: signed, reason: t.reason.rawValue, reference: t.reference, memo: t.memo, occurredAt: t.occurredAt)
    }
}
