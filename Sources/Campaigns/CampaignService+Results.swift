import Expressions
import Foundation
import SharedModels

// Results
extension CampaignService {

    /// Records purchases, enrolments and redemptions in the attribution window as responses.
    @discardableResult
    public func attribute(_ id: CampaignID) async throws -> Int { try await attribute(try await campaign(id)) }

    func attribute(_ c: Campaign) async throws -> Int {
        guard let launched = c.launchedAt else { return 0 }
        let end = launched.addingTimeInterval(Double(c.plan.attributionDays) * 86_400)
        return try await store.attribute(c, until: min(end, clock.now))
    }

    public func pnl(_ id: CampaignID) async throws -> CampaignPnL { try await breakdown(id).0 }

    /// The P&L from the responses attributed so far (the campaign job attributes every minute),
    /// without attributing now: for overviews that show many campaigns.
    public func recordedPnL(_ id: CampaignID) async throws -> CampaignPnL {
        let c = try await campaign(id)
        return CampaignPnL(campaign: c, figures: try await store.figures(c))
    }

    /// The P&L and the response by wave and value tier, after attributing what happened since the last pass.
    public func breakdown(_ id: CampaignID) async throws -> (CampaignPnL, CampaignBreakdown) {
        let c = try await campaign(id)
        try await attribute(c)
        let f = try await store.figures(c)
        return (CampaignPnL(campaign: c, figures: f), CampaignBreakdown(campaign: c, figures: f))
    }

    /// Results of every launched campaign, with lift pooled by channel and by offer.
    public func analytics() async throws -> CampaignAnalytics {
        var rows: [(campaign: Campaign, pnl: CampaignPnL, breakdown: CampaignBreakdown)] = []
        for c in try await campaigns() where c.launchedAt != nil {
            let (pnl, breakdown) = try await self.breakdown(c.id)
            rows.append((c, pnl, breakdown))
        }
        return CampaignAnalytics(rows)
    }

    /// Historical response rates per channel from completed campaigns' target and control groups
    /// (a campaign counts for each channel it used; one still inside its attribution window would
    /// understate them).
    public func historicalRates() async throws -> [CampaignChannel: WhatIf.Rates] {
        var sums: [CampaignChannel: (t: Double, c: Double, n: Int)] = [:]
        for c in try await campaigns() where c.status == .completed {
            let f = try await store.figures(c)
            guard f.target.customers > 0, f.control.customers > 0 else { continue }
            let t = Double(f.target.responders) / Double(f.target.customers)
            let k = Double(f.control.responders) / Double(f.control.customers)
            for channel in Set(c.plan.waves.map(\.channel)) {
                let s = sums[channel] ?? (0, 0, 0)
                sums[channel] = (s.t + t, s.c + k, s.n + 1)
            }
        }
        return sums.mapValues { WhatIf.Rates(target: $0.t / Double($0.n), control: $0.c / Double($0.n), campaigns: $0.n) }
    }

    /// Who a plan would reach and what it would likely bring and cost, before launch.
    public func whatIf(_ input: WhatIf.Input) async throws -> WhatIf {
        guard !input.channels.isEmpty else { throw CampaignError.invalid(field: "channels", reason: "name at least one channel") }
        guard (0...50).contains(input.controlPercent) else { throw CampaignError.invalid(field: "control_percent", reason: "must be from 0 to 50") }
        let rule = try await segments.checkedRule(input.rule, of: nil)
        try await segments.ensureFacts()
        let now = clock.now
        let estimate = try await store.reach(rule, channels: input.channels, now: now)
        let everyone = try await store.reach(try SegmentFields.check("true"), channels: [], now: now)
        return WhatIf(input: input, reach: estimate, rates: try await historicalRates(), basePAlive: everyone.meanPAlive)
    }
}
