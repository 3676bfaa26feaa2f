import Analytics
import Foundation
import Loyalty
import SharedModels

/// What an agent can do for the customer on the line, best first, each with its reason: a
/// retention offer when the customer is likely to leave, rewards they can take now or nearly,
/// promotions they have not joined, and products customers like them buy (a basket rule).
struct NextBestAction: Equatable {
    let action: String
    let reason: String
    /// Higher first.
    let rank: Double

    /// Ranks the actions for one customer from what the console already read.
    static func rank(
        scores: CustomerScores?, available: [(program: String, points: Int64)], rewards: [Reward], joinable: [Promotion],
        basketRules: [MarketBasket.Rule], now: Date
    ) -> [NextBestAction] {
        var actions: [NextBestAction] = []
        if let s = scores, let risk = s.churnRisk, risk >= 0.5 {
            let value = s.clv12m.map { Format.money(minorUnits: $0, currency: s.currency) } ?? "unknown"
            actions.append(
                NextBestAction(
                    action: "Offer a retention gesture (a voucher or bonus points)",
                    reason: "Churn risk \(Format.pct(risk)); value tier \(s.valueTier.rawValue), 12-month value \(value).",
                    rank: 100 + risk * 10 + (s.valueTier.rawValue == "A" ? 5 : s.valueTier.rawValue == "B" ? 3 : 0)))
        }
        let points = available.map(\.points).max() ?? 0
        let inStock = rewards.filter { $0.active && ($0.stock ?? 1) > 0 }
        for r in inStock.filter({ $0.pointsPrice <= points }).sorted(by: { $0.pointsPrice > $1.pointsPrice }).prefix(2) {
            actions.append(
                NextBestAction(
                    action: "Suggest redeeming \(r.name)",
                    reason: "Costs \(Format.number(r.pointsPrice)) points; they have \(Format.number(points)).", rank: 80 + Double(r.pointsPrice) / 1e9))
        }
        for p in joinable.prefix(2) {
            actions.append(
                NextBestAction(
                    action: "Invite them to join \(p.name)",
                    reason: "An opt-in promotion they have not joined, running through \(Format.lastDay(endingBefore: p.endsAt)).", rank: 60))
        }
        if let near = inStock.filter({ $0.pointsPrice > points && Double($0.pointsPrice) <= Double(points) * 1.25 + 100 })
            .min(by: { $0.pointsPrice < $1.pointsPrice })
        {
            actions.append(
                NextBestAction(
                    action: "Tell them they are close to \(near.name)",
                    reason: "\(Format.number(near.pointsPrice - points)) points to go (it costs \(Format.number(near.pointsPrice))).", rank: 50))
        }
        for category in (scores?.recommendations ?? []).prefix(2) {
            let rule = basketRules.filter { $0.consequent.contains(category) }.max { $0.confidence < $1.confidence }
            let reason =
                rule.map {
                    "\(Format.pct($0.confidence)) of customers who buy \($0.antecedent.joined(separator: " and ")) also buy \(category) (lift \(String(format: "%.1f", $0.lift)))."
                } ?? "Customers with similar baskets buy it."
            actions.append(NextBestAction(action: "Suggest \(category)", reason: reason, rank: 40 + (rule?.confidence ?? 0)))
        }
        return actions.sorted { $0.rank > $1.rank }
    }

    /// A churn model driver as a sentence: which fact of the customer moves their risk, and which way.
    static func driver(_ feature: String, raises: Bool) -> String {
        let fact: String =
            switch feature {
            case "recency_days": raises ? "No purchase for a long time" : "A recent purchase"
            case "purchases", "purchases_365": raises ? "Few purchases" : "Frequent purchases"
            case "revenue", "revenue_365": raises ? "Low spending" : "High spending"
            case "tenure_days": raises ? "A short time as a customer" : "A long time as a customer"
            case "average_purchase": raises ? "Small baskets" : "Large baskets"
            case "contacts_365": raises ? "Contacts with the service desk" : "Few contacts with the service desk"
            case "tier": raises ? "Their loyalty tier" : "Their loyalty tier"
            case "points_balance": raises ? "A small points balance" : "Points waiting to be spent"
            case "life_stage": "Their life stage"
            case "age": "Their age"
            default: Format.label(feature)
            }
        return "\(fact) \(raises ? "raises" : "lowers") the risk"
    }
}
