import Campaigns
import Customers
import Expressions
import Foundation
import SQLKit
import SharedModels

// What-if
extension SQLCampaignStore {

    public func reach(_ rule: RuleExpression, channels: [CampaignChannel], now: Date) async throws -> ReachEstimate {
        let condition = try await segments.condition(rule, now: now)
        return try await database.readFromReplica { db in
            let row =
                try await readRows(
                    db,
                    """
                    SELECT COUNT(*) AS n, SUM(CASE WHEN c.consent_email <> 0 AND c.has_email <> 0 THEN 1 ELSE 0 END) AS email,
                      SUM(CASE WHEN c.consent_sms <> 0 AND c.has_phone <> 0 THEN 1 ELSE 0 END) AS sms,
                      SUM(CASE WHEN c.has_phone <> 0 THEN 1 ELSE 0 END) AS phone, AVG(c.p_alive) AS p_alive, SUM(c.revenue) AS revenue,
                      SUM(c.purchases) AS purchases, AVG(c.clv) AS clv
                    FROM segment_facts c WHERE
                    """ + condition, columns: ["n", "email", "sms", "phone", "p_alive", "revenue", "purchases", "clv"]
                ).first ?? []
            func int(_ i: Int) -> Int { row.indices.contains(i) ? Int(row[i].int ?? 0) : 0 }
            func dbl(_ i: Int) -> Double? { row.indices.contains(i) ? row[i].double : nil }
            var reachable: [CampaignChannel: Int] = [:]
            for ch in channels {
                reachable[ch] =
                    switch ch {
                    case .email: int(1)
                    case .sms: int(2)
                    case .call: int(3)
                    case .directMail: int(0)
                    }
            }
            let purchases = dbl(6) ?? 0
            return ReachEstimate(
                customers: int(0), reachable: reachable, meanPAlive: dbl(4), averageOrderValue: purchases > 0 ? (dbl(5) ?? 0) / purchases : nil,
                meanCLV: dbl(7))
        }
    }
}
