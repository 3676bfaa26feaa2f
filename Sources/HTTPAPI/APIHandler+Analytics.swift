import Access
import Analytics
import Campaigns
import Customers
import Foundation
import HTTPTypes
import SharedModels

/// Customer intelligence: per-customer scores (part of the customer 360, for staff), the
/// scoring job, and the analyses across customers (analytics:read).
extension APIHandler {
    func getCustomerScores(_ input: Operations.GetCustomerScores.Input) async throws -> Operations.GetCustomerScores.Output {
        // Scores are internal (churn risk, value tier): staff only, never the member themselves.
        let principal = try Caller.require(.customersRead)
        guard case .staff = principal else { throw AccessError.forbidden(.customersRead) }
        _ = try await customers.customer(CustomerID(input.path.id))
        guard let scores = try await intelligence.scores(of: input.path.id) else {
            throw Problem(
                status: .notFound, code: "scores_not_found",
                detail:
                    "Customer \(input.path.id) has no scores yet: the scoring job runs nightly, or on demand with POST /v1/analytics/scoring-runs.")
        }
        return .ok(.init(body: .json(.init(scores))))
    }

    func runScoring(_ input: Operations.RunScoring.Input) async throws -> Operations.RunScoring.Output {
        _ = try Caller.require(.analyticsRun)
        // As the nightly job does: score, then rebuild what segment rules read.
        let run = try await intelligence.score()
        try await segments.refresh()
        return .created(.init(body: .json(.init(run))))
    }

    func getLatestScoringRun(_ input: Operations.GetLatestScoringRun.Input) async throws -> Operations.GetLatestScoringRun.Output {
        _ = try Caller.require(.analyticsRead)
        guard let run = try await intelligence.latestRun() else {
            throw Problem(status: .notFound, code: "scores_not_found", detail: "The scoring job has not run yet.")
        }
        return .ok(.init(body: .json(.init(run))))
    }

    func listScoredCustomers(_ input: Operations.ListScoredCustomers.Input) async throws -> Operations.ListScoredCustomers.Output {
        _ = try Caller.require(.analyticsRead)
        let q = input.query
        if let offset = q.offset, !(0...1_000_000_000).contains(offset) {
            throw Problem(status: .unprocessableContent, code: "validation_failed", detail: "offset must be 0 to 1000000000", field: "offset")
        }
        let page = try await intelligence.scoredCustomers(
            segment: q.segment?.rawValue, valueTier: q.valueTier?.rawValue, minimumChurnRisk: q.minChurnRisk, offset: q.offset ?? 0, limit: try pageSize(q.limit).value)
        return .ok(.init(body: .json(page.map(Schemas.CustomerScores.init))))
    }

    func getRfmAnalysis(_ input: Operations.GetRfmAnalysis.Input) async throws -> Operations.GetRfmAnalysis.Output {
        _ = try Caller.require(.analyticsRead)
        let a = try await intelligence.rfmAnalysis()
        return .ok(
            .init(
                body: .json(
                    .init(
                        customers: a.customers, segments: .init(additionalProperties: a.segments),
                        grid: a.grid.map { .init(recency: $0.recency, frequency: $0.frequency, customers: $0.customers, revenue: $0.revenue) },
                        pareto: .init(
                            points: a.pareto.points.map { .init(customerShare: $0.customerShare, revenueShare: $0.revenueShare) },
                            top20RevenueShare: a.pareto.top20RevenueShare, customerShareFor80: a.pareto.customerShareFor80)))))
    }

    func getBasketRules(_ input: Operations.GetBasketRules.Input) async throws -> Operations.GetBasketRules.Output {
        _ = try Caller.require(.analyticsRead)
        let support = input.query.minSupport ?? 0.01
        let confidence = input.query.minConfidence ?? 0.3
        guard support.isFinite, support > 0, support <= 1_000_000_000 else {
            throw Problem(
                status: .unprocessableContent, code: "validation_failed",
                detail: "minSupport must be a share of baskets above 0 (up to 1) or a count of baskets (up to 1,000,000,000)", field: "minSupport")
        }
        guard confidence.isFinite, (0...1).contains(confidence) else {
            throw Problem(
                status: .unprocessableContent, code: "validation_failed", detail: "minConfidence must be between 0 and 1", field: "minConfidence")
        }
        let (mined, rules) = try await intelligence.basketRules(minimumSupport: support, minimumConfidence: confidence)
        return .ok(
            .init(
                body: .json(
                    .init(
                        baskets: mined.basketCount, minCount: mined.minimumCount, itemsetsBySize: mined.itemsetsBySize,
                        rules: rules.prefix(try pageSize(input.query.limit ?? 100, maximum: 1_000).value).map {
                            .init(
                                antecedent: $0.antecedent, consequent: $0.consequent, support: $0.support, confidence: $0.confidence, lift: $0.lift,
                                conviction: $0.conviction.isFinite ? $0.conviction : nil, count: $0.count)
                        }))))
    }

    func getLoyaltyAnalytics(_ input: Operations.GetLoyaltyAnalytics.Input) async throws -> Operations.GetLoyaltyAnalytics.Output {
        _ = try Caller.require(.analyticsRead)
        let r = try await intelligence.loyaltyReport(now: customers.clock.now)
        func counts(_ c: [LoyaltyReport.Count]) -> [Schemas.CountByKey] { c.map { .init(key: $0.key, count: $0.count) } }
        return .ok(
            .init(
                body: .json(
                    .init(
                        generatedAt: r.generatedAt,
                        programs: r.programs.map { p in
                            .init(
                                code: p.code, name: p.name, members: p.members, activeMembers: p.activeMembers, tiers: counts(p.tiers),
                                migrations: p.migrations.map { .init(from: $0.from, to: $0.to, members: $0.members) }, pointsIssued: p.pointsIssued,
                                pointsRedeemed: p.pointsRedeemed, pointsExpired: p.pointsExpired, pointsOutstanding: p.pointsOutstanding,
                                liability: .init(amount: p.liability, currency: p.currency), breakageRate: p.breakageRate,
                                redemptionRate: p.redemptionRate, earnedByOutlet: counts(p.earnedByOutlet),
                                redeemedByReward: counts(p.redeemedByReward),
                                promotions: p.promotions.map {
                                    .init(
                                        code: $0.code, name: $0.name, members: $0.members, points: $0.points, revenuePerMember: $0.revenuePerMember,
                                        revenuePerMemberBefore: $0.revenuePerMemberBefore, comparableMembers: $0.comparableMembers,
                                        comparableRevenuePerMember: $0.comparableRevenuePerMember,
                                        comparableRevenuePerMemberBefore: $0.comparableRevenuePerMemberBefore,
                                        incrementalRevenuePerMember: $0.incrementalRevenuePerMember)
                                })
                        }))))
    }
}

extension Schemas.CustomerScores {
    init(_ s: CustomerScores) {
        self.init(
            customerId: s.customer, scoredAt: s.scoredAt,
            rfm: .init(recency: s.rfm.recency, frequency: s.rfm.frequency, monetary: s.rfm.monetary, segment: s.rfm.segment.rawValue),
            recencyDays: s.recencyDays, frequency: s.frequency, monetary: .init(amount: s.monetary, currency: s.currency),
            probabilityAlive: s.probabilityAlive, expectedPurchases12m: s.expectedPurchases12m,
            clv12m: s.clv12m.map { .init(amount: $0, currency: s.currency) }, churnRisk: s.churnRisk,
            churnDrivers: s.churnDrivers.map { .init(feature: $0.feature, contribution: $0.contribution) },
            valueTier: .init(rawValue: s.valueTier.rawValue)!,
            recommendations: s.recommendations)
    }
}

extension Schemas.ScoringRun {
    init(_ r: ScoringRun) {
        self.init(
            ranAt: r.ranAt, customers: r.customers, buyers: r.buyers, currency: r.currency,
            bgnbd: r.bgnbd.map { .init(r: $0.r, alpha: $0.alpha, a: $0.a, b: $0.b, logLikelihood: $0.logLikelihood) },
            gammaGamma: r.gammaGamma.map { .init(p: $0.p, q: $0.q, gamma: $0.gamma) }, churnHorizonDays: r.churnHorizonDays,
            churnTrainingRows: r.churnTrainingRows, churnAuc: r.churnAUC, rules: r.rules, segments: .init(additionalProperties: r.segments),
            valueTiers: .init(additionalProperties: r.valueTiers), milliseconds: .init(additionalProperties: r.milliseconds))
    }
}
