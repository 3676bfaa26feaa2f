import Campaigns
import Foundation
import SharedModels
import Testing

/// The Campaigns room's pure rules, without a database: suppression, the control-group draw,
/// P&L arithmetic.
@Suite struct CampaignLogicTests {
    @Test("suppression: consent by channel, blocks, addresses and frequency caps")
    func suppression() {
        func r(consent: Bool?, blocked: Bool = false, email: String? = "a@b.c", recent: [Int: Int] = [:]) -> Recipient {
            Recipient(
                customer: 1, firstName: nil, lastName: nil, email: email, phone: nil, address: [], tier: nil, points: nil, recommendations: [],
                consent: consent, blocked: blocked, recentMessages: recent)
        }
        let caps = [FrequencyCap(channel: .email, messages: 2, days: 7)]
        #expect(CampaignService.suppression(r(consent: true), channel: .email, caps: caps) == nil)
        #expect(CampaignService.suppression(r(consent: nil), channel: .email, caps: caps) == "consent", "email is opt-in")
        #expect(CampaignService.suppression(r(consent: false), channel: .email, caps: caps) == "consent")
        #expect(CampaignService.suppression(r(consent: true, blocked: true), channel: .email, caps: caps) == "blocked")
        #expect(CampaignService.suppression(r(consent: true, email: nil), channel: .email, caps: caps) == "no_address")
        #expect(CampaignService.suppression(r(consent: true, recent: [7: 2]), channel: .email, caps: caps) == "frequency_cap")
        #expect(CampaignService.suppression(r(consent: true, recent: [7: 1]), channel: .email, caps: caps) == nil)
        #expect(CampaignService.suppression(r(consent: nil), channel: .directMail, caps: []) == "no_address", "direct mail needs an address")
        var withAddress = r(consent: nil)
        withAddress.address = ["1 Main St", "12345 Springfield"]
        #expect(CampaignService.suppression(withAddress, channel: .directMail, caps: []) == nil, "direct mail is opt-out")
    }

    @Test("the control-group draw is reproducible and close to its share")
    func controlGroup() {
        let held = (1...100_000).filter { ControlGroup.isControl(customer: Int64($0), seed: 42, percent: 10) }
        #expect(abs(Double(held.count) / 100_000 - 0.10) < 0.005)
        #expect(held == (1...100_000).filter { ControlGroup.isControl(customer: Int64($0), seed: 42, percent: 10) })
        #expect(held != (1...100_000).filter { ControlGroup.isControl(customer: Int64($0), seed: 43, percent: 10) })
    }

    @Test("P&L arithmetic: incremental revenue, its interval, cost and ROI")
    func pnlArithmetic() {
        let plan = CampaignPlan(
            name: "x", startsOn: LocalDate("2026-01-01")!, endsOn: LocalDate("2026-02-01")!, segment: 1, controlPercent: 10,
            waves: [Wave(channel: .email, day: 0, subject: "s", body: "b")], costs: CampaignCosts(perMessage: ["email": 10], fixed: 10_000),
            marginPercent: 50)
        let c = Campaign(id: CampaignID(1), plan: plan, owner: "m", status: .running, seed: 1, createdAt: Date(), launchedAt: Date(), waves: [])
        // 1,000 target customers, 100 bought $50 each; 100 control, 5 bought $50.
        let f = CampaignFigures(
            target: .init(customers: 1_000, responders: 100, revenue: 500_000, revenueSquares: 100 * 5_000.0 * 5_000),
            control: .init(customers: 100, responders: 5, revenue: 25_000, revenueSquares: 5 * 5_000.0 * 5_000), waves: [:],
            sentByChannel: [.email: 1_000], redemptions: 0, points: 0, byValueTier: [:])
        let pnl = CampaignPnL(campaign: c, figures: f)
        #expect(abs(pnl.responseLift.value - 0.05) < 1e-12)
        #expect(abs(pnl.incrementalRevenue.value - 2_500) < 1e-9)  // ($5.00 − $2.50) × 1,000
        #expect(abs(pnl.cost - 200) < 1e-9)  // 1,000 × $0.10 + $100 fixed
        #expect(abs(pnl.incrementalProfit.value - (1_250 - 200)) < 1e-9)
        #expect(abs(pnl.roi!.value - 1_050.0 / 200) < 1e-9)
        // Welch: per-customer variances (100×50² − 1,000×5²)/999 and (5×50² − 100×2.5²)/99.
        let se = sqrt((250_000.0 - 25_000) / 999 / 1_000 + (12_500.0 - 625) / 99 / 100) * 1_000
        #expect(abs(pnl.incrementalRevenue.low - (2_500 - 1.959964 * se)) < 1e-6)
        #expect(abs(pnl.incrementalRevenue.high - (2_500 + 1.959964 * se)) < 1e-6)
        #expect(abs(pnl.incrementalProfit.low - (0.5 * (2_500 - 1.959964 * se) - 200)) < 1e-6)
    }
}
