import Access
import Campaigns
import Customers
import Foundation
import HTTPTypes
import OpenAPIRuntime
import SharedModels

/// Campaigns: marketers plan and launch their own, analysts and loyalty managers read results,
/// agents work the call lists, gateways report receipts.
extension APIHandler {
    typealias Schemas = Components.Schemas

    // MARK: Mapping

    func plan(_ b: Schemas.CampaignPlan) throws -> CampaignPlan {
        func date(_ text: String, _ field: String) throws -> LocalDate {
            guard let d = LocalDate(text) else { throw Problem(validation: [FieldError(field, "must be a date YYYY-MM-DD")]) }
            return d
        }
        let defaults = CampaignPlan(name: "", startsOn: LocalDate("2026-01-01")!, endsOn: LocalDate("2026-01-01")!, segment: 0, waves: [])
        return CampaignPlan(
            name: b.name, objective: b.objective, budget: b.budget, currency: b.currency ?? customers.defaultCurrency,
            startsOn: try date(b.startsOn, "startsOn"), endsOn: try date(b.endsOn, "endsOn"), segment: b.segmentId,
            controlPercent: b.controlPercent ?? defaults.controlPercent,
            offer: CampaignOffer(kind: b.offer.flatMap { CampaignOffer.Kind(rawValue: $0.kind.rawValue) } ?? .none, code: b.offer?.code),
            waves: b.waves.map {
                Wave(
                    channel: CampaignChannel(rawValue: $0.channel.rawValue)!, day: $0.day,
                    audience: $0.audience.flatMap { Wave.Audience(rawValue: $0.rawValue) } ?? .all, rule: $0.rule, subject: $0.subject, body: $0.body)
            },
            frequencyCaps: b.frequencyCaps?.map {
                FrequencyCap(channel: CampaignChannel(rawValue: $0.channel.rawValue)!, messages: $0.messages, days: $0.days)
            } ?? FrequencyCap.defaults,
            costs: b.costs.map(Self.costs) ?? CampaignCosts(), attributionDays: b.attributionDays ?? defaults.attributionDays,
            marginPercent: b.marginPercent ?? defaults.marginPercent)
    }

    static func costs(_ c: Schemas.CampaignCosts) -> CampaignCosts {
        CampaignCosts(
            perMessage: (c.perMessage?.additionalProperties ?? [:]).mapValues(Int64.init), perRedemption: c.perRedemption ?? 0,
            pointValuePer100: c.pointValuePer100 ?? 100, fixed: c.fixed ?? 0)
    }

    static func schema(_ p: CampaignPlan) -> Schemas.CampaignPlan {
        Schemas.CampaignPlan(
            name: p.name, objective: p.objective, budget: p.budget, currency: p.currency, startsOn: p.startsOn.description,
            endsOn: p.endsOn.description, segmentId: p.segment, controlPercent: p.controlPercent,
            offer: .init(kind: .init(rawValue: p.offer.kind.rawValue)!, code: p.offer.code),
            waves: p.waves.map {
                .init(
                    channel: .init(rawValue: $0.channel.rawValue)!, day: $0.day, audience: .init(rawValue: $0.audience.rawValue), rule: $0.rule,
                    subject: $0.subject, body: $0.body)
            },
            frequencyCaps: p.frequencyCaps.map { .init(channel: .init(rawValue: $0.channel.rawValue)!, messages: $0.messages, days: $0.days) },
            costs: .init(
                perMessage: .init(additionalProperties: p.costs.perMessage.mapValues { Int($0) }), perRedemption: p.costs.perRedemption,
                pointValuePer100: p.costs.pointValuePer100, fixed: p.costs.fixed),
            attributionDays: p.attributionDays, marginPercent: p.marginPercent)
    }

    static func schema(_ w: WaveState) -> Schemas.WaveState {
        .init(number: w.number, preparedAt: w.preparedAt, queued: w.queued, suppressed: .init(additionalProperties: w.suppressed))
    }

    static func schema(_ c: Campaign) -> Schemas.Campaign {
        .init(
            id: c.id.rawValue, owner: c.owner, status: .init(rawValue: c.status.rawValue)!, createdAt: c.createdAt, launchedAt: c.launchedAt,
            plan: schema(c.plan), waves: c.waves.map(schema))
    }

    static func schema(_ e: Estimate) -> Schemas.Estimate { .init(value: e.value, low: e.low, high: e.high) }

    static func schema(_ g: CampaignPnL.GroupResult) -> Schemas.GroupResult {
        .init(
            customers: g.customers, responders: g.responders, responseRate: g.responseRate, revenue: g.revenue,
            revenuePerCustomer: g.revenuePerCustomer)
    }

    static func schema(_ p: CampaignPnL) -> Schemas.CampaignPnl {
        .init(
            campaignId: p.campaign.rawValue, name: p.name, currency: p.currency, target: schema(p.target), control: schema(p.control),
            messages: .init(additionalProperties: Dictionary(uniqueKeysWithValues: p.messages.map { ($0.key.rawValue, $0.value) })),
            costMessages: p.costMessages, costRedemptions: p.costRedemptions, pointsIssued: p.pointsIssued, costPoints: p.costPoints,
            costFixed: p.costFixed, cost: p.cost, budget: p.budget, responseLift: schema(p.responseLift),
            incrementalRevenue: schema(p.incrementalRevenue), incrementalProfit: schema(p.incrementalProfit), roi: p.roi.map(schema))
    }

    static func schema(_ c: Campaign, _ p: CampaignPnL, _ b: CampaignBreakdown) -> Schemas.CampaignResults {
        .init(
            pnl: schema(p), offer: c.plan.offer.label,
            waves: b.waves.map {
                .init(
                    number: $0.number, channel: .init(rawValue: $0.channel.rawValue)!, day: $0.day, queued: $0.queued, suppressed: $0.suppressed,
                    delivered: $0.delivered, bounced: $0.bounced, opened: $0.opened, clicked: $0.clicked, unsubscribed: $0.unsubscribed,
                    purchasers: $0.purchasers, responseRate: $0.responseRate, lift: $0.lift)
            },
            valueTiers: b.valueTiers.map {
                .init(
                    valueTier: $0.valueTier, targetCustomers: $0.targetCustomers, controlCustomers: $0.controlCustomers,
                    targetResponseRate: $0.targetResponseRate, controlResponseRate: $0.controlResponseRate, lift: $0.lift,
                    incrementalRevenue: $0.incrementalRevenue)
            })
    }

    static func schema(_ t: AgentTask) -> Schemas.AgentTask {
        .init(
            id: t.id, customerId: t.customer, customerName: t.customerName, phone: t.phone, campaignId: t.campaign.rawValue, wave: t.wave,
            script: t.script, status: .init(rawValue: t.status.rawValue)!, outcome: t.outcome, notes: t.notes, createdAt: t.createdAt,
            completedAt: t.completedAt, completedBy: t.completedBy)
    }

    /// Only the campaign's owner or an admin changes, launches or cancels it (the Campaigns room's rule).
    func requireCampaignOwner(_ id: Int64) async throws -> Campaign {
        let principal = try Caller.require(.campaignsManage)
        return try await campaigns.campaign(CampaignID(id), changeableBy: Steward(principal.actor, isAdmin: principal.isAdmin))
    }

    // MARK: Campaigns

    func listCampaigns(_ input: Operations.ListCampaigns.Input) async throws -> Operations.ListCampaigns.Output {
        _ = try Caller.require(.campaignsRead)
        return .ok(.init(body: .json(try await campaigns.campaigns().map(Self.schema))))
    }

    func createCampaign(_ input: Operations.CreateCampaign.Input) async throws -> Operations.CreateCampaign.Output {
        let principal = try Caller.require(.campaignsManage)
        guard case .json(let body) = input.body else { preconditionFailure() }
        return .created(.init(body: .json(Self.schema(try await campaigns.create(try plan(body), owner: principal.actor)))))
    }

    func getCampaign(_ input: Operations.GetCampaign.Input) async throws -> Operations.GetCampaign.Output {
        _ = try Caller.require(.campaignsRead)
        return .ok(.init(body: .json(Self.schema(try await campaigns.campaign(CampaignID(input.path.id))))))
    }

    func updateCampaign(_ input: Operations.UpdateCampaign.Input) async throws -> Operations.UpdateCampaign.Output {
        _ = try await requireCampaignOwner(input.path.id)
        guard case .json(let body) = input.body else { preconditionFailure() }
        return .ok(.init(body: .json(Self.schema(try await campaigns.update(CampaignID(input.path.id), try plan(body))))))
    }

    func deleteCampaign(_ input: Operations.DeleteCampaign.Input) async throws -> Operations.DeleteCampaign.Output {
        _ = try await requireCampaignOwner(input.path.id)
        try await campaigns.delete(CampaignID(input.path.id))
        return .noContent(.init())
    }

    func launchCampaign(_ input: Operations.LaunchCampaign.Input) async throws -> Operations.LaunchCampaign.Output {
        _ = try await requireCampaignOwner(input.path.id)
        return .ok(.init(body: .json(Self.schema(try await campaigns.launch(CampaignID(input.path.id))))))
    }

    func cancelCampaign(_ input: Operations.CancelCampaign.Input) async throws -> Operations.CancelCampaign.Output {
        _ = try await requireCampaignOwner(input.path.id)
        return .ok(.init(body: .json(Self.schema(try await campaigns.cancel(CampaignID(input.path.id))))))
    }

    func prepareWave(_ input: Operations.PrepareWave.Input) async throws -> Operations.PrepareWave.Output {
        _ = try await requireCampaignOwner(input.path.id)
        return .ok(.init(body: .json(Self.schema(try await campaigns.prepareWave(CampaignID(input.path.id), number: input.path.number)))))
    }

    func previewWave(_ input: Operations.PreviewWave.Input) async throws -> Operations.PreviewWave.Output {
        _ = try Caller.require(.campaignsRead)
        let m = try await campaigns.preview(CampaignID(input.path.id), wave: input.path.number, customer: input.query.customerId)
        return .ok(
            .init(
                body: .json(
                    .init(channel: .init(rawValue: m.channel.rawValue)!, address: m.address, subject: m.subject, body: m.body, html: m.isHTML))))
    }

    func campaignResults(_ input: Operations.CampaignResults.Input) async throws -> Operations.CampaignResults.Output {
        _ = try Caller.require(.campaignsRead)
        let c = try await campaigns.campaign(CampaignID(input.path.id))
        let (pnl, breakdown) = try await campaigns.breakdown(c.id)
        return .ok(.init(body: .json(Self.schema(c, pnl, breakdown))))
    }

    func compareCampaigns(_ input: Operations.CompareCampaigns.Input) async throws -> Operations.CompareCampaigns.Output {
        _ = try Caller.require(.campaignsRead)
        let parts = input.query.ids.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let ids = parts.compactMap(Int64.init)
        guard !ids.isEmpty, ids.count == parts.count, ids.count <= 20 else {
            throw Problem(validation: [FieldError("ids", "must be 1 to 20 campaign ids separated by commas")])
        }
        var out: [Schemas.CampaignPnl] = []
        for id in ids { out.append(Self.schema(try await campaigns.pnl(CampaignID(id)))) }
        return .ok(.init(body: .json(out)))
    }

    func campaignWhatIf(_ input: Operations.CampaignWhatIf.Input) async throws -> Operations.CampaignWhatIf.Output {
        _ = try Caller.require(.campaignsRead)
        guard case .json(let b) = input.body else { preconditionFailure() }
        let w = try await campaigns.whatIf(
            WhatIf.Input(
                rule: b.rule, channels: b.channels.map { CampaignChannel(rawValue: $0.rawValue)! }, controlPercent: b.controlPercent ?? 10,
                offer: b.offer.flatMap { CampaignOffer.Kind(rawValue: $0.rawValue) } ?? .none, costs: b.costs.map(Self.costs) ?? CampaignCosts(),
                pointsPerResponder: b.pointsPerResponder ?? 0, currency: b.currency ?? customers.defaultCurrency))
        return .ok(
            .init(
                body: .json(
                    .init(
                        customers: w.customers, target: w.target, control: w.control,
                        reach: .init(additionalProperties: Dictionary(uniqueKeysWithValues: w.reach.map { ($0.key.rawValue, $0.value) })),
                        rates: .init(
                            additionalProperties: Dictionary(
                                uniqueKeysWithValues: w.rates.map {
                                    ($0.key.rawValue, .init(target: $0.value.target, control: $0.value.control, campaigns: $0.value.campaigns))
                                })), expectedResponders: w.expectedResponders, expectedIncrementalResponders: w.expectedIncrementalResponders,
                        expectedRevenue: w.expectedRevenue, expectedIncrementalRevenue: w.expectedIncrementalRevenue, expectedCost: w.expectedCost,
                        expectedPoints: w.expectedPoints, pointsLiability: w.pointsLiability, activeCustomers: w.activeCustomers,
                        averageOrderValue: w.averageOrderValue))))
    }

    func runCampaigns(_ input: Operations.RunCampaigns.Input) async throws -> Operations.RunCampaigns.Output {
        _ = try Caller.require(.campaignsManage)
        let r = try await campaigns.run(through: try channels())
        return .ok(.init(body: .json(.init(sent: r.sent, retried: r.retried, bounced: r.bounced))))
    }

    func createCampaignLeads(_ input: Operations.CreateCampaignLeads.Input) async throws -> Operations.CreateCampaignLeads.Output {
        let principal = try Caller.require(.campaignsManage)
        return .ok(.init(body: .json(.init(created: try await campaigns.createLeads(CampaignID(input.path.id), owner: principal.actor)))))
    }

    func recordCampaignEvent(_ input: Operations.RecordCampaignEvent.Input) async throws -> Operations.RecordCampaignEvent.Output {
        _ = try Caller.require(.campaignEventsWrite)
        guard case .json(let b) = input.body else { preconditionFailure() }
        guard try await campaigns.receipt(token: b.token, kind: Response.Kind(rawValue: b.event.rawValue)!) else {
            throw Problem(status: .notFound, code: "message_not_found", detail: "No campaign message has that token.", field: "token")
        }
        return .noContent(.init())
    }

    // MARK: Agent desk

    func listAgentTasks(_ input: Operations.ListAgentTasks.Input) async throws -> Operations.ListAgentTasks.Output {
        _ = try Caller.require(.tasksWork)
        let tasks = try await campaigns.tasks(
            status: input.query.status.flatMap { AgentTask.Status(rawValue: $0.rawValue) }, limit: try pageSize(input.query.limit).value)
        return .ok(.init(body: .json(tasks.map(Self.schema))))
    }

    func completeAgentTask(_ input: Operations.CompleteAgentTask.Input) async throws -> Operations.CompleteAgentTask.Output {
        let principal = try Caller.require(.tasksWork)
        guard case .json(let b) = input.body else { preconditionFailure() }
        let t = try await campaigns.completeTask(input.path.id, outcome: b.outcome, notes: b.notes, by: principal.actor)
        return .ok(.init(body: .json(Self.schema(t))))
    }

    // MARK: Analytics

    func campaignAnalytics(_ input: Operations.CampaignAnalytics.Input) async throws -> Operations.CampaignAnalytics.Output {
        _ = try Caller.require(.analyticsRead)
        let a = try await campaigns.analytics()
        func row(_ r: CampaignAnalytics.LiftRow) -> Schemas.LiftRow {
            .init(
                key: r.key, campaigns: r.campaigns, targetCustomers: r.targetCustomers, controlCustomers: r.controlCustomers,
                targetResponseRate: r.targetResponseRate, controlResponseRate: r.controlResponseRate, lift: r.lift,
                incrementalRevenue: r.incrementalRevenue)
        }
        return .ok(
            .init(
                body: .json(
                    .init(
                        campaigns: a.campaigns.map { Self.schema($0.campaign, $0.pnl, $0.breakdown) }, channels: a.channels.map(row),
                        offers: a.offers.map(row))
                )))
    }
}
