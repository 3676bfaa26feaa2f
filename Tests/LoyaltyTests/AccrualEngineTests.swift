import Customers
import Foundation
import Loyalty
import SharedModels
import Testing

/// "How many points does this purchase earn?" answered by one pure function, without a database.
@Suite("Accrual engine")
struct AccrualEngineTests {
    let now = Date(epochSeconds: 1_767_225_600 + 15 * 86_400)  // 2026-01-16

    func plan(_ program: Program, amount: Int64, tier: String? = nil) -> AccrualPlan {
        let member = Member(id: MemberID(7), programID: program.id, customerID: CustomerID(3), number: "M7", tier: tier, enrolledAt: now)
        let purchase = TransactionDetails(
            externalID: "T1", occurredAt: now, amount: Money(minorUnits: amount, currency: "USD"), store: "S1", channel: .store, lines: [])
        return AccrualPlan(member: member, program: program, purchase: purchase, at: now, promotions: [])
    }

    func program(rules: EarningRules, tiers: TierPolicy? = nil, expiryMonths: Int? = 12, style: Program.ExpiryStyle = .afterEarning) -> Program {
        Program(
            id: ProgramID(1), code: "NW", name: "Northwind", valuePerThousandPoints: Money(minorUnits: 1_000, currency: "USD"), expiryMonths: expiryMonths,
            pendingDays: 0, allowNegativeBalance: false, earningRules: rules, tierPolicy: tiers, expiryStyle: style, createdAt: now)
    }

    func inputs(tier: String? = nil, earned: Int64 = 0, history: [(at: Int64, points: Int64)] = []) -> AccrualEngine.Inputs {
        .init(tier: tier, earnedThisMonth: earned, qualifyingHistory: history)
    }

    @Test("A purchase earns its base points, expiring 12 months on; the monthly cap cuts what is over it and says so")
    func monthlyCap() {
        var calendar = MonthCalendar()
        let p = program(rules: EarningRules(pointsPerUnit: 1, maxPerMonth: 500))
        let free = AccrualEngine.decide(plan(p, amount: 30_000), inputs(), calendar: &calendar, usage: { _ in PromotionUsage() }, reward: { _ in nil })
        #expect(free.fromLiability == 300 && free.monthlyCap == nil && free.qualifying == 300)
        #expect(free.expiresAt == calendar.shift(now.epochSeconds, by: 12) && free.availableAt == now.epochSeconds)
        let capped = AccrualEngine.decide(plan(p, amount: 30_000), inputs(earned: 400), calendar: &calendar, usage: { _ in PromotionUsage() }, reward: { _ in nil })
        #expect(capped.fromLiability == 100 && capped.monthlyCap?.points == -200)
        #expect(capped.parts.last?.source == "monthly cap")
        let spent = AccrualEngine.decide(plan(p, amount: 30_000), inputs(earned: 900), calendar: &calendar, usage: { _ in PromotionUsage() }, reward: { _ in nil })
        #expect(spent.fromLiability == 0 && spent.monthlyCap?.points == -300)
    }

    @Test("Qualifying points within the period move a member up at once; older ones do not count")
    func tierUpgrade() throws {
        var calendar = MonthCalendar()
        let tiers = try TierPolicy(tiers: [.init(name: "Member", threshold: 0), .init(name: "Gold", threshold: 1_000)])
        let p = program(rules: EarningRules(pointsPerUnit: 1), tiers: tiers)
        let recent = [(at: now.epochSeconds - 30 * 86_400, points: Int64(800))]
        let up = AccrualEngine.decide(plan(p, amount: 30_000), inputs(tier: "Member", history: recent), calendar: &calendar, usage: { _ in PromotionUsage() }, reward: { _ in nil })
        #expect(up.upgrade?.tier == "Gold" && up.upgrade?.reason == "upgrade: 1100 qualifying points")
        let old = [(at: now.epochSeconds - 400 * 86_400, points: Int64(800))]
        #expect(AccrualEngine.decide(plan(p, amount: 30_000), inputs(tier: "Member", history: old), calendar: &calendar, usage: { _ in PromotionUsage() }, reward: { _ in nil }).upgrade == nil)
    }

    @Test("A rolling-expiry program extends every lot; a claw-back debt is repaid first")
    func rollingAndDebt() {
        var calendar = MonthCalendar()
        let p = program(rules: EarningRules(pointsPerUnit: 1), expiryMonths: 6, style: .rolling)
        let d = AccrualEngine.decide(plan(p, amount: 10_000), inputs(), calendar: &calendar, usage: { _ in PromotionUsage() }, reward: { _ in nil })
        #expect(d.extendsRollingExpiry && d.expiresAt == calendar.shift(now.epochSeconds, by: 6))
        #expect(AccrualEngine.repayment(credit: 100, debt: 30) == (30, 70))
        #expect(AccrualEngine.repayment(credit: 100, debt: 250) == (100, 0))
        #expect(AccrualEngine.repayment(credit: 100, debt: 0) == (0, 100))
    }
}
