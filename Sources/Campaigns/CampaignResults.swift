import Foundation
import SharedModels

/// What the store counts for a campaign's P&L and analytics.
public struct CampaignFigures: Sendable, Equatable {
    /// One group's (target or control) purchases in the attribution window.
    public struct Group: Sendable, Equatable {
        public var customers: Int
        /// Customers with at least one attributed purchase.
        public var responders: Int
        /// Minor units.
        public var revenue: Int64
        /// Σ (each customer's revenue)², for the variance of revenue per customer.
        public var revenueSquares: Double

        public init(customers: Int = 0, responders: Int = 0, revenue: Int64 = 0, revenueSquares: Double = 0) {
            self.customers = customers
            self.responders = responders
            self.revenue = revenue
            self.revenueSquares = revenueSquares
        }
    }

    public var target: Group
    public var control: Group
    /// Per wave: messages by status (`pending`, `sent`, `delivered`, `bounced`, `failed`, `suppressed`)
    /// and customers by response kind (`opened`, `clicked`…, `purchased`).
    public var waves: [Int: [String: Int]]
    /// Messages handed to each channel (what a per-message cost applies to).
    public var sentByChannel: [CampaignChannel: Int]
    /// Promotion enrolments and voucher redemptions by target customers.
    public var redemptions: Int
    /// Points the campaign's promotion awarded to target customers in the window.
    public var points: Int64
    /// Target and control groups by value tier (A–D, or `unscored`).
    public var byValueTier: [String: (target: Group, control: Group)]

    public init(
        target: Group, control: Group, waves: [Int: [String: Int]], sentByChannel: [CampaignChannel: Int], redemptions: Int, points: Int64,
        byValueTier: [String: (target: Group, control: Group)]
    ) {
        self.target = target
        self.control = control
        self.waves = waves
        self.sentByChannel = sentByChannel
        self.redemptions = redemptions
        self.points = points
        self.byValueTier = byValueTier
    }

    public static func == (a: CampaignFigures, b: CampaignFigures) -> Bool {
        a.target == b.target && a.control == b.control && a.waves == b.waves && a.sentByChannel == b.sentByChannel
            && a.redemptions == b.redemptions && a.points == b.points && a.byValueTier.keys == b.byValueTier.keys
    }
}

/// An estimate with a 95% confidence interval.
public struct Estimate: Sendable, Equatable, Codable {
    public var value: Double
    public var low: Double
    public var high: Double

    public init(value: Double, low: Double, high: Double) {
        self.value = value
        self.low = low
        self.high = high
    }

    init(value: Double, standardError: Double) {
        self.init(value: value, low: value - 1.959964 * standardError, high: value + 1.959964 * standardError)
    }

    func scaled(_ k: Double, plus c: Double = 0) -> Estimate {
        let (a, b) = (low * k + c, high * k + c)
        return Estimate(value: value * k + c, low: min(a, b), high: max(a, b))
    }
}

/// A campaign's profit and loss: what it cost, what the target group did against the control
/// group, and the incremental revenue and ROI that difference implies.
public struct CampaignPnL: Sendable, Equatable {
    public struct GroupResult: Sendable, Equatable {
        public var customers: Int
        public var responders: Int
        public var responseRate: Double
        /// Major units.
        public var revenue: Double
        public var revenuePerCustomer: Double
    }

    public var campaign: CampaignID
    public var name: String
    public var currency: String
    public var target: GroupResult
    public var control: GroupResult
    /// Messages handed to channels, by channel.
    public var messages: [CampaignChannel: Int]
    /// Major units: messages, redemptions, points at their value, fixed.
    public var costMessages: Double
    public var costRedemptions: Double
    public var pointsIssued: Int64
    public var costPoints: Double
    public var costFixed: Double
    public var cost: Double
    public var budget: Double?
    /// Target response rate minus control response rate.
    public var responseLift: Estimate
    /// (Target revenue per customer − control's) × target customers.
    public var incrementalRevenue: Estimate
    /// Incremental revenue × margin − cost.
    public var incrementalProfit: Estimate
    /// Incremental profit ÷ cost (nil when nothing was spent).
    public var roi: Estimate?

    /// Computes the P&L from the store's figures. Welch's normal approximation gives the intervals.
    public init(campaign: Campaign, figures f: CampaignFigures) {
        let unit = Double(Money.unit(of: campaign.plan.currency))
        func group(_ g: CampaignFigures.Group) -> GroupResult {
            let n = Double(max(g.customers, 1))
            return GroupResult(
                customers: g.customers, responders: g.responders, responseRate: Double(g.responders) / n, revenue: Double(g.revenue) / unit,
                revenuePerCustomer: Double(g.revenue) / unit / n)
        }
        func meanAndVariance(_ g: CampaignFigures.Group) -> (Double, Double) {
            let n = Double(g.customers)
            guard n > 1 else { return (n == 1 ? Double(g.revenue) / unit : 0, 0) }
            let mean = Double(g.revenue) / unit / n
            let variance = max(0, (g.revenueSquares / (unit * unit) - n * mean * mean) / (n - 1))
            return (mean, variance)
        }
        self.campaign = campaign.id
        self.name = campaign.plan.name
        self.currency = campaign.plan.currency
        target = group(f.target)
        control = group(f.control)
        messages = f.sentByChannel
        let costs = campaign.plan.costs
        costMessages = Double(f.sentByChannel.reduce(Int64(0)) { $0 + Int64($1.value) * costs.message($1.key) }) / unit
        costRedemptions = Double(Int64(f.redemptions) * costs.perRedemption) / unit
        pointsIssued = f.points
        costPoints = Double(f.points) * Double(costs.pointValuePer100) / 100 / unit
        costFixed = Double(costs.fixed) / unit
        cost = costMessages + costRedemptions + costPoints + costFixed
        budget = campaign.plan.budget.map { Double($0) / unit }

        let (nt, nc) = (Double(f.target.customers), Double(f.control.customers))
        let (pt, pc) = (target.responseRate, nc > 0 ? control.responseRate : 0)
        let rateError = sqrt((nt > 0 ? pt * (1 - pt) / nt : 0) + (nc > 0 ? pc * (1 - pc) / nc : 0))
        responseLift = Estimate(value: pt - pc, standardError: rateError)
        let (mt, vt) = meanAndVariance(f.target)
        let (mc, vc) = meanAndVariance(f.control)
        let perCustomer = Estimate(value: mt - (nc > 0 ? mc : 0), standardError: sqrt((nt > 0 ? vt / nt : 0) + (nc > 0 ? vc / nc : 0)))
        incrementalRevenue = perCustomer.scaled(nt)
        incrementalProfit = incrementalRevenue.scaled(campaign.plan.marginPercent / 100, plus: -cost)
        roi = cost > 0 ? incrementalProfit.scaled(1 / cost) : nil
    }
}

/// Response and lift per wave and per value tier, for campaign analytics.
public struct CampaignBreakdown: Sendable, Equatable {
    public struct WaveRow: Sendable, Equatable {
        public var number: Int
        public var channel: CampaignChannel
        public var day: Int
        public var queued: Int
        /// Messages waiting to be handed to their channel (pending or being sent).
        public var waiting: Int
        /// Messages the channel refused for now and will be tried again, or gave up on.
        public var failed: Int
        public var suppressed: Int
        public var delivered: Int
        public var bounced: Int
        public var opened: Int
        public var clicked: Int
        public var unsubscribed: Int
        /// Target customers who bought after this wave reached them, each counted once, at the
        /// last wave that reached them before they bought.
        public var purchasers: Int
        /// Purchasers ÷ messages queued.
        public var responseRate: Double
        /// Response rate minus the control group's.
        public var lift: Double
    }

    public struct SegmentRow: Sendable, Equatable {
        public var valueTier: String
        public var targetCustomers: Int
        public var controlCustomers: Int
        public var targetResponseRate: Double
        public var controlResponseRate: Double
        public var lift: Double
        /// Major units per target customer, minus control's, times target customers.
        public var incrementalRevenue: Double
    }

    public var waves: [WaveRow]
    /// Target customers who bought in the attribution window though no message had reached them
    /// (still queued, suppressed or bounced): with the waves' purchasers they make the P&L's
    /// target responders.
    public var unreachedPurchasers: Int
    public var valueTiers: [SegmentRow]

    public init(campaign: Campaign, figures f: CampaignFigures) {
        let unit = Double(Money.unit(of: campaign.plan.currency))
        let controlRate = f.control.customers > 0 ? Double(f.control.responders) / Double(f.control.customers) : 0
        waves = campaign.plan.waves.enumerated().map { index, wave in
            let n = index + 1
            let c = f.waves[n] ?? [:]
            let queued = ["pending", "sending", "sent", "delivered", "bounced", "failed"].reduce(0) { $0 + (c[$1] ?? 0) }
            let rate = queued > 0 ? Double(c["purchased"] ?? 0) / Double(queued) : 0
            return WaveRow(
                number: n, channel: wave.channel, day: wave.day, queued: queued, waiting: (c["pending"] ?? 0) + (c["sending"] ?? 0),
                failed: c["failed"] ?? 0, suppressed: c["suppressed"] ?? 0,
                delivered: c["delivered"] ?? 0, bounced: c["bounced"] ?? 0, opened: c["opened"] ?? 0, clicked: c["clicked"] ?? 0,
                unsubscribed: c["unsubscribed"] ?? 0, purchasers: c["purchased"] ?? 0, responseRate: rate, lift: rate - controlRate)
        }
        unreachedPurchasers = max(0, f.target.responders - waves.reduce(0) { $0 + $1.purchasers })
        valueTiers = f.byValueTier.keys.sorted().map { tier in
            let (t, c) = f.byValueTier[tier]!
            let tr = t.customers > 0 ? Double(t.responders) / Double(t.customers) : 0
            let cr = c.customers > 0 ? Double(c.responders) / Double(c.customers) : 0
            let tm = t.customers > 0 ? Double(t.revenue) / unit / Double(t.customers) : 0
            let cm = c.customers > 0 ? Double(c.revenue) / unit / Double(c.customers) : 0
            return SegmentRow(
                valueTier: tier, targetCustomers: t.customers, controlCustomers: c.customers, targetResponseRate: tr, controlResponseRate: cr,
                lift: tr - cr, incrementalRevenue: (tm - cm) * Double(t.customers))
        }
    }
}

/// A what-if before launch: who a plan would reach and what it would likely bring and cost.
public struct WhatIf: Sendable, Equatable {
    public struct Input: Sendable, Equatable {
        public var rule: String
        public var channels: [CampaignChannel]
        public var controlPercent: Double
        public var offer: CampaignOffer.Kind
        public var costs: CampaignCosts
        /// Points a responder earns from the offer.
        public var pointsPerResponder: Int64
        public var currency: String

        public init(
            rule: String, channels: [CampaignChannel], controlPercent: Double = 10, offer: CampaignOffer.Kind = .none, costs: CampaignCosts = .init(),
            pointsPerResponder: Int64 = 0, currency: String = "USD"
        ) {
            self.rule = rule
            self.channels = channels
            self.controlPercent = controlPercent
            self.offer = offer
            self.costs = costs
            self.pointsPerResponder = pointsPerResponder
            self.currency = currency
        }
    }

    /// Historical response rates: of target and control groups of earlier campaigns on a channel.
    public struct Rates: Sendable, Equatable {
        public var target: Double
        public var control: Double
        /// How many earlier campaigns they come from (0: Patron's defaults).
        public var campaigns: Int

        public init(target: Double, control: Double, campaigns: Int) {
            self.target = target
            self.control = control
            self.campaigns = campaigns
        }

        /// Defaults when no campaign has run on a channel yet: purchase rates within 30 days of
        /// a contact, typical of retail loyalty programmes, against a 1.5% base rate.
        public static let defaults: [CampaignChannel: Rates] = [
            .email: .init(target: 0.025, control: 0.015, campaigns: 0), .sms: .init(target: 0.035, control: 0.015, campaigns: 0),
            .directMail: .init(target: 0.03, control: 0.015, campaigns: 0), .call: .init(target: 0.08, control: 0.015, campaigns: 0),
        ]
    }

    public var customers: Int
    public var target: Int
    public var control: Int
    /// Target customers each channel may reach.
    public var reach: [CampaignChannel: Int]
    public var rates: [CampaignChannel: Rates]
    public var expectedResponders: Double
    public var expectedIncrementalResponders: Double
    /// Major units.
    public var expectedRevenue: Double
    public var expectedIncrementalRevenue: Double
    public var expectedCost: Double
    public var expectedPoints: Double
    /// Points liability at the point value, major units.
    public var pointsLiability: Double
    /// Customers the segment's scores say are still active (Σ P(alive)) among the target.
    public var activeCustomers: Double?
    public var averageOrderValue: Double?

    /// Combines the reach with the rates: each channel adds its response among those it reaches
    /// and the earlier channels did not move, scaled by the segment's mean P(alive) relative to
    /// everyone's.
    public init(input: Input, reach estimate: ReachEstimate, rates: [CampaignChannel: Rates], basePAlive: Double?) {
        let unit = Double(Money.unit(of: input.currency))
        let share = 1 - input.controlPercent / 100
        customers = estimate.customers
        target = Int((Double(estimate.customers) * share).rounded())
        control = estimate.customers - target
        var reach: [CampaignChannel: Int] = [:]
        var used: [CampaignChannel: Rates] = [:]
        let activity = (estimate.meanPAlive ?? 0) > 0 && (basePAlive ?? 0) > 0 ? estimate.meanPAlive! / basePAlive! : 1
        var notYet = 1.0
        var responders = 0.0
        var baseline = 0.0
        var messages = 0.0
        var cost = Double(input.costs.fixed) / unit
        for channel in input.channels {
            let r = rates[channel] ?? Rates.defaults[channel]!
            used[channel] = r
            let n = Double(estimate.reachable[channel] ?? 0) * share
            reach[channel] = Int(n.rounded())
            let lift = max(0, r.target - r.control) * activity
            responders += n * notYet * lift
            baseline = max(baseline, Double(target) * r.control * activity)
            notYet *= max(0, 1 - lift)
            messages += n
            cost += n * Double(input.costs.message(channel)) / unit
        }
        self.reach = reach
        self.rates = used
        expectedIncrementalResponders = responders
        expectedResponders = responders + baseline
        let aov = estimate.averageOrderValue ?? 0
        averageOrderValue = estimate.averageOrderValue
        expectedRevenue = expectedResponders * aov
        expectedIncrementalRevenue = responders * aov
        expectedPoints = expectedResponders * Double(input.pointsPerResponder)
        pointsLiability = expectedPoints * Double(input.costs.pointValuePer100) / 100 / unit
        if input.offer != .none { cost += expectedResponders * Double(input.costs.perRedemption) / unit }
        expectedCost = cost + pointsLiability
        activeCustomers = estimate.meanPAlive.map { $0 * Double(target) }
    }
}

/// Campaign analytics across campaigns: each one's results, and lift pooled by channel and by offer.
public struct CampaignAnalytics: Sendable {
    /// Target against control, pooled over campaigns (or waves) sharing a channel or an offer.
    public struct LiftRow: Sendable, Equatable {
        public var key: String
        public var campaigns: Int
        public var targetCustomers: Int
        public var targetResponders: Int
        public var controlCustomers: Int
        public var controlResponders: Int
        /// Major units, summed over the campaigns.
        public var incrementalRevenue: Double

        public var targetResponseRate: Double { targetCustomers > 0 ? Double(targetResponders) / Double(targetCustomers) : 0 }
        public var controlResponseRate: Double { controlCustomers > 0 ? Double(controlResponders) / Double(controlCustomers) : 0 }
        public var lift: Double { targetResponseRate - controlResponseRate }
    }

    public var campaigns: [(campaign: Campaign, pnl: CampaignPnL, breakdown: CampaignBreakdown)]
    public var channels: [LiftRow]
    public var offers: [LiftRow]

    public init(_ campaigns: [(campaign: Campaign, pnl: CampaignPnL, breakdown: CampaignBreakdown)]) {
        self.campaigns = campaigns
        var channels: [String: LiftRow] = [:]
        var offers: [String: LiftRow] = [:]
        for (c, pnl, breakdown) in campaigns {
            let key = c.plan.offer.kind.rawValue
            var o =
                offers[key]
                ?? LiftRow(
                    key: key, campaigns: 0, targetCustomers: 0, targetResponders: 0, controlCustomers: 0, controlResponders: 0, incrementalRevenue: 0)
            o.campaigns += 1
            o.targetCustomers += pnl.target.customers
            o.targetResponders += pnl.target.responders
            o.controlCustomers += pnl.control.customers
            o.controlResponders += pnl.control.responders
            o.incrementalRevenue += pnl.incrementalRevenue.value
            offers[key] = o
            // A channel's recipients against the campaign's control group (which no channel reached).
            var seen: Set<String> = []
            for w in breakdown.waves where w.queued > 0 {
                let k = w.channel.rawValue
                var row =
                    channels[k]
                    ?? LiftRow(
                        key: k, campaigns: 0, targetCustomers: 0, targetResponders: 0, controlCustomers: 0, controlResponders: 0,
                        incrementalRevenue: 0)
                if seen.insert(k).inserted {
                    row.campaigns += 1
                    row.controlCustomers += pnl.control.customers
                    row.controlResponders += pnl.control.responders
                }
                row.targetCustomers += w.queued
                row.targetResponders += w.purchasers
                channels[k] = row
            }
        }
        self.channels = channels.values.sorted { $0.key < $1.key }
        self.offers = offers.values.sorted { $0.key < $1.key }
    }
}
