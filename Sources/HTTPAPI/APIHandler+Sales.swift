import Access
import Customers
import Foundation
import OpenAPIRuntime
import Sales
import SharedModels

/// The Sales room's operations. Reading needs `sales:read` (leads also `campaigns:read`, which
/// marketers who made them have); changing needs `sales:manage`, and only the lead's or
/// opportunity's owner or an admin may change it. Members and partners have no access.
extension APIHandler {
    /// The caller as the Sales room sees them, for the ownership rule.
    private func salesActor(_ principal: Principal) -> SalesActor { SalesActor(principal.actor, isAdmin: principal.isAdmin) }

    /// `me` is the caller; anything else is taken as an email.
    private func person(_ value: String?, _ principal: Principal) -> String? {
        guard let v = value?.trimmingCharacters(in: .whitespaces), !v.isEmpty else { return nil }
        return v.lowercased() == "me" ? principal.actor : v
    }

    private func requireLeadReader() throws -> Principal {
        let principal = try Caller.required()
        guard principal.can(.salesRead) || principal.can(.campaignsRead) else { throw AccessError.forbidden(.salesRead) }
        return principal
    }

    static func date(_ text: String, field: String) throws -> LocalDate {
        guard let d = LocalDate(text.trimmingCharacters(in: .whitespaces)) else {
            throw Problem(validation: [FieldError(field, "is a date, YYYY-MM-DD")])
        }
        return d
    }

    static func schema(_ m: Money) -> Schemas.Money { .init(amount: m.minorUnits, currency: m.currency) }

    static func schema(_ l: SalesLead) -> Schemas.Lead {
        .init(
            id: l.id.rawValue, customerId: l.customer, customerName: l.customerName, campaignId: l.campaign, source: l.source, note: l.note,
            createdBy: l.createdBy, status: .init(rawValue: l.status.rawValue)!, owner: l.owner, reason: l.reason,
            opportunityId: l.opportunity?.rawValue,
            createdAt: l.createdAt, updatedAt: l.updatedAt)
    }

    static func schema(_ o: Opportunity) -> Schemas.Opportunity {
        .init(
            id: o.id.rawValue, name: o.name, customerId: o.customer, customerName: o.customerName, accountId: o.account, accountName: o.accountName,
            leadId: o.lead?.rawValue, owner: o.owner, stage: .init(rawValue: o.stage.rawValue)!, amount: schema(o.amount),
            weighted: schema(o.weighted),
            probability: o.probability, expectedClose: o.expectedClose.description, nextStep: o.nextStep, lostReason: o.lostReason,
            createdAt: o.createdAt, updatedAt: o.updatedAt, closedAt: o.closedAt)
    }

    static func schema(_ f: Pipeline.Figure) -> Schemas.PipelineFigure { .init(count: f.count, amount: f.amount, weighted: f.weighted) }

    static func draft(_ b: Schemas.OpportunityInput) throws -> OpportunityDraft {
        OpportunityDraft(
            name: b.name, customer: b.customerId, account: b.accountId,
            amount: Money(minorUnits: b.amount, currency: b.currency.trimmingCharacters(in: .whitespaces).uppercased()),
            expectedClose: try date(b.expectedClose, field: "expectedClose"),
            stage: b.stage.flatMap { Opportunity.Stage(rawValue: $0.rawValue) } ?? .prospecting, probability: b.probability, nextStep: b.nextStep,
            owner: b.owner)
    }

    // MARK: Leads

    func listLeads(_ input: Operations.ListLeads.Input) async throws -> Operations.ListLeads.Output {
        let principal = try requireLeadReader()
        let q = input.query
        let statuses: [SalesLead.Status] =
            switch q.status {
            case nil: []
            case .active?: [.new, .working, .qualified]
            case .some(let s): [SalesLead.Status(rawValue: s.rawValue)!]
            }
        let leads = try await sales.leads(owner: person(q.owner, principal), statuses: statuses, campaign: q.campaignId, limit: q.limit ?? 50)
        return .ok(.init(body: .json(leads.map(Self.schema))))
    }

    func createLead(_ input: Operations.CreateLead.Input) async throws -> Operations.CreateLead.Output {
        let principal = try Caller.require(.leadsCreate)
        guard case .json(let b) = input.body else { preconditionFailure() }
        let owner = person(b.owner, principal)
        guard owner != nil || principal.can(.salesManage) else { throw Problem(validation: [FieldError("owner", "name the rep who will work it")]) }
        let l = try await sales.enterLead(
            customer: b.customerId, source: LeadSource(rawValue: b.source.rawValue)!, note: b.note, owner: owner, by: salesActor(principal))
        return .created(.init(body: .json(Self.schema(l))))
    }

    func getLead(_ input: Operations.GetLead.Input) async throws -> Operations.GetLead.Output {
        _ = try requireLeadReader()
        return .ok(.init(body: .json(Self.schema(try await sales.lead(LeadID(input.path.id))))))
    }

    func updateLead(_ input: Operations.UpdateLead.Input) async throws -> Operations.UpdateLead.Output {
        let principal = try Caller.require(.salesManage)
        guard case .json(let b) = input.body else { preconditionFailure() }
        let l = try await sales.updateLead(
            LeadID(input.path.id), status: b.status.flatMap { SalesLead.Status(rawValue: $0.rawValue) }, owner: person(b.owner, principal),
            reason: b.reason, by: salesActor(principal))
        return .ok(.init(body: .json(Self.schema(l))))
    }

    func convertLead(_ input: Operations.ConvertLead.Input) async throws -> Operations.ConvertLead.Output {
        let principal = try Caller.require(.salesManage)
        guard case .json(let b) = input.body else { preconditionFailure() }
        var d = try Self.draft(b)
        d.owner = person(b.owner, principal)
        let o = try await sales.convert(LeadID(input.path.id), into: d, by: salesActor(principal))
        return .created(.init(body: .json(Self.schema(o))))
    }

    // MARK: Opportunities

    func listOpportunities(_ input: Operations.ListOpportunities.Input) async throws -> Operations.ListOpportunities.Output {
        let principal = try Caller.require(.salesRead)
        let q = input.query
        let stages: [Opportunity.Stage] =
            switch q.stage {
            case nil, .open?: Opportunity.Stage.open
            case .closed?: [.won, .lost]
            case .all?: []
            case .some(let s): [Opportunity.Stage(rawValue: s.rawValue)!]
            }
        let list = try await sales.opportunities(
            OpportunityFilter(owner: person(q.owner, principal), stages: stages, customer: q.customerId, accounts: q.accountId.map { [$0] } ?? []),
            limit: q.limit ?? 50)
        return .ok(.init(body: .json(list.map(Self.schema))))
    }

    func createOpportunity(_ input: Operations.CreateOpportunity.Input) async throws -> Operations.CreateOpportunity.Output {
        let principal = try Caller.require(.salesManage)
        guard case .json(let b) = input.body else { preconditionFailure() }
        var d = try Self.draft(b)
        d.owner = person(b.owner, principal)
        return .created(.init(body: .json(Self.schema(try await sales.create(d, by: salesActor(principal))))))
    }

    func getOpportunity(_ input: Operations.GetOpportunity.Input) async throws -> Operations.GetOpportunity.Output {
        _ = try Caller.require(.salesRead)
        let id = OpportunityID(input.path.id)
        let o = try await sales.opportunity(id)
        let history = try await sales.history(id)
        return .ok(
            .init(
                body: .json(
                    .init(
                        opportunity: Self.schema(o),
                        history: history.map {
                            .init(
                                at: $0.at, author: $0.author, stage: .init(rawValue: $0.stage.rawValue)!, amount: Self.schema($0.amount),
                                probability: $0.probability, owner: $0.owner, note: $0.note)
                        }))))
    }

    func updateOpportunity(_ input: Operations.UpdateOpportunity.Input) async throws -> Operations.UpdateOpportunity.Output {
        let principal = try Caller.require(.salesManage)
        guard case .json(let b) = input.body else { preconditionFailure() }
        let id = OpportunityID(input.path.id)
        var change = OpportunityChange(
            name: b.name, stage: b.stage.flatMap { Opportunity.Stage(rawValue: $0.rawValue) }, probability: b.probability,
            expectedClose: try b.expectedClose.map { try Self.date($0, field: "expectedClose") }, nextStep: b.nextStep,
            owner: person(b.owner, principal),
            lostReason: b.lostReason, note: b.note)
        if let amount = b.amount { change.amount = Money(minorUnits: amount, currency: try await sales.opportunity(id).amount.currency) }
        return .ok(.init(body: .json(Self.schema(try await sales.update(id, change, by: salesActor(principal))))))
    }

    // MARK: Reports

    func getPipeline(_ input: Operations.GetPipeline.Input) async throws -> Operations.GetPipeline.Output {
        let principal = try Caller.require(.salesRead)
        let p = try await sales.pipeline(owner: person(input.query.owner, principal), days: input.query.days ?? 90)
        return .ok(
            .init(
                body: .json(
                    .init(
                        today: p.today.description, since: p.since, days: p.days,
                        sections: p.sections.map { s in
                            .init(
                                currency: s.currency,
                                stages: s.stages.map { .init(stage: .init(rawValue: $0.stage.rawValue)!, figure: Self.schema($0.figure)) },
                                forecast: s.forecast.map { .init(month: $0.month, figure: Self.schema($0.figure)) }, open: Self.schema(s.open),
                                overdue: Self.schema(s.overdue), won: Self.schema(s.won), lost: Self.schema(s.lost), winRate: s.winRate,
                                averageDaysToWin: s.averageDaysToWin,
                                owners: s.owners.map {
                                    .init(owner: $0.owner, open: Self.schema($0.open), won: Self.schema($0.won), lost: Self.schema($0.lost))
                                })
                        }))))
    }

    func listKeyAccounts(_ input: Operations.ListKeyAccounts.Input) async throws -> Operations.ListKeyAccounts.Output {
        let principal = try Caller.require(.salesRead)
        let accounts = try await sales.keyAccounts(manager: person(input.query.manager, principal))
        return .ok(
            .init(
                body: .json(
                    accounts.map { a in
                        .init(
                            accountId: a.account, name: a.name, manager: a.manager, contacts: a.contacts, revenue: a.revenue.map(Self.schema),
                            lastInteraction: a.lastInteraction, openOpportunities: a.openOpportunities, pipeline: a.pipeline.map(Self.schema),
                            weighted: a.weighted.map(Self.schema), won: a.won.map(Self.schema), nextClose: a.nextClose?.description)
                    })))
    }
}
