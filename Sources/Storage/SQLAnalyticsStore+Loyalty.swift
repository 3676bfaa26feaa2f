import Analytics
import Foundation
import SQLKit
import SharedModels

/// Loyalty analytics, read set-wise from the ledger and the Loyalty room's tables.
extension SQLAnalyticsStore {
    /// The loyalty report over `[from, to)`: points issued, redeemed and expired, active members,
    /// tier changes, outlets, rewards and promotions within the period; the points outstanding and
    /// the liability as of now. Without `from`, points and rewards count from the start, and
    /// active members and tier changes over the last 365 days.
    public func loyaltyReport(from: Date?, to: Date) async throws -> LoyaltyReport {
        let nowSeconds = to.epochSeconds
        let yearAgo = from?.epochSeconds ?? (nowSeconds - 365 * 86_400)
        let since = from?.epochSeconds ?? Int64.min / 2
        let now = to
        return try await database.readFromReplica { db in
            struct ProgramRow {
                let id: Int64
                let code, name, currency: String
                let valuePerThousand: Int64
            }
            let programs = try await db.raw("SELECT id, code, name, currency, value_per_thousand_minor FROM loyalty_programs ORDER BY id").all().map {
                ProgramRow(
                    id: try $0.int64("id"), code: try $0.string("code"), name: try $0.string("name"), currency: try $0.string("currency"),
                    valuePerThousand: try $0.int64("value_per_thousand_minor"))
            }
            func grouped(_ sql: SQLQueryString) async throws -> [Int64: [LoyaltyReport.Count]] {
                var result: [Int64: [LoyaltyReport.Count]] = [:]
                for row in try await db.raw(sql).all() {
                    result[try row.int64("program_id"), default: []].append(.init(key: try row.string("k"), count: try row.int64("n")))
                }
                return result
            }
            let tiers = try await grouped(
                """
                SELECT program_id, COALESCE(tier, '(none)') AS k, CAST(COUNT(*) AS BIGINT) AS n FROM loyalty_members
                GROUP BY program_id, COALESCE(tier, '(none)') ORDER BY program_id, n DESC
                """)
            let active = try await grouped(
                """
                SELECT a.program_id, 'active' AS k, CAST(COUNT(DISTINCT a.member_id) AS BIGINT) AS n FROM ledger_transfers t
                JOIN ledger_accounts a ON a.id = t.to_account
                WHERE t.reason = 'accrual' AND a.member_id IS NOT NULL AND t.occurred_at >= \(bind: yearAgo) AND t.occurred_at < \(bind: nowSeconds)
                GROUP BY a.program_id
                """)
            var migrations: [Int64: [LoyaltyReport.Migration]] = [:]
            for row in try await db.raw(
                """
                SELECT m.program_id, COALESCE(h.from_tier, '(none)') AS from_tier, h.to_tier, CAST(COUNT(*) AS BIGINT) AS n
                FROM tier_history h JOIN loyalty_members m ON m.id = h.member_id WHERE h.changed_at >= \(bind: yearAgo) AND h.changed_at < \(bind: nowSeconds)
                GROUP BY m.program_id, COALESCE(h.from_tier, '(none)'), h.to_tier ORDER BY m.program_id, n DESC
                """
            ).all() {
                migrations[try row.int64("program_id"), default: []].append(
                    .init(from: try row.string("from_tier"), to: try row.string("to_tier"), members: Int(try row.int64("n"))))
            }
            // Reward points by reason and direction: into members from the program, or out of members.
            var issued: [Int64: Int64] = [:]
            var redeemed: [Int64: Int64] = [:]
            var expired: [Int64: Int64] = [:]
            for row in try await db.raw(
                """
                SELECT t.program_id, t.reason, CASE WHEN f.member_id IS NULL THEN 'in' ELSE 'out' END AS direction, CAST(SUM(t.points) AS BIGINT) AS n
                FROM ledger_transfers t JOIN ledger_accounts f ON f.id = t.from_account JOIN ledger_accounts d ON d.id = t.to_account
                WHERE f.point_type = 'reward' AND d.point_type = 'reward' AND ((f.member_id IS NULL) <> (d.member_id IS NULL))
                AND t.occurred_at >= \(bind: since) AND t.occurred_at < \(bind: nowSeconds)
                GROUP BY t.program_id, t.reason, CASE WHEN f.member_id IS NULL THEN 'in' ELSE 'out' END
                """
            ).all() {
                let program = try row.int64("program_id")
                let points = try row.int64("n")
                let into = try row.string("direction") == "in"
                switch try row.string("reason") {
                case "redemption": redeemed[program, default: 0] += into ? -points : points
                case "refund": redeemed[program, default: 0] -= points
                case "expiry": expired[program, default: 0] += into ? -points : points
                case "debt_repayment": break
                default: issued[program, default: 0] += into ? points : -points  // accrual, referral, adjustment, clawback
                }
            }
            var outstanding: [Int64: Int64] = [:]
            for row in try await db.raw(
                """
                SELECT program_id, CAST(SUM(balance) AS BIGINT) AS n FROM ledger_accounts WHERE member_id IS NOT NULL AND point_type = 'reward'
                GROUP BY program_id
                """
            ).all() {
                outstanding[try row.int64("program_id")] = try row.optionalInt64("n") ?? 0
            }
            let purchases = MonthlyPartitions.joinTransaction("x", externalID: "t.reference", partitioned: database.capabilities.partitionsByMonth)
            let outlets = try await grouped(
                """
                SELECT t.program_id, COALESCE(x.store, 'unknown') AS k, CAST(SUM(t.points) AS BIGINT) AS n FROM ledger_transfers t
                JOIN ledger_accounts d ON d.id = t.to_account \(unsafeRaw: purchases)
                WHERE t.reason = 'accrual' AND d.member_id IS NOT NULL AND d.point_type = 'reward'
                AND t.occurred_at >= \(bind: since) AND t.occurred_at < \(bind: nowSeconds)
                GROUP BY t.program_id, COALESCE(x.store, 'unknown') ORDER BY t.program_id, n DESC
                """)
            let rewards = try await grouped(
                """
                SELECT r.program_id, r.code AS k, CAST(SUM(v.points) AS BIGINT) AS n FROM loyalty_vouchers v JOIN loyalty_rewards r ON r.id = v.reward_id
                WHERE v.status <> 'cancelled' AND v.issued_at >= \(bind: since) AND v.issued_at < \(bind: nowSeconds)
                GROUP BY r.program_id, r.code ORDER BY r.program_id, n DESC
                """)
            var effects: [Int64: [LoyaltyReport.PromotionEffect]] = [:]
            for p in try await db.raw(
                """
                SELECT id, program_id, code, name, starts_at, ends_at, requires_enrolment FROM loyalty_promotions
                WHERE starts_at < \(bind: nowSeconds) AND ends_at > \(bind: since) ORDER BY program_id, starts_at DESC, id
                """
            ).all() {
                let id = try p.int64("id")
                let program = try p.int64("program_id")
                let start = try p.int64("starts_at")
                let end = min(try p.int64("ends_at"), nowSeconds)
                let window = max(86_400, end - start)
                // Who got it: enrolled members for an opt-in promotion, otherwise those it applied to.
                let promoted: SQLQueryString =
                    try p.int64("requires_enrolment") != 0
                    ? "SELECT DISTINCT member_id FROM promotion_enrolments WHERE promotion_id = \(bind: id)"
                    : "SELECT DISTINCT member_id FROM promotion_applications WHERE promotion_id = \(bind: id)"
                let rows = try await db.raw(
                    """
                    WITH promoted AS (\(promoted)),
                    pool AS (
                      SELECT m.id AS member_id, m.customer_id, CASE WHEN p.member_id IS NULL THEN 0 ELSE 1 END AS got
                      FROM loyalty_members m LEFT JOIN promoted p ON p.member_id = m.id
                      WHERE m.program_id = \(bind: program)
                    ),
                    spend AS (
                      SELECT pool.member_id, pool.got,
                        COALESCE(SUM(CASE WHEN t.occurred_at >= \(bind: start) THEN t.amount_minor END), 0) AS during,
                        COALESCE(SUM(CASE WHEN t.occurred_at < \(bind: start) THEN t.amount_minor END), 0) AS before
                      FROM pool LEFT JOIN transactions t ON t.customer_id = pool.customer_id AND t.kind = 'purchase'
                        AND t.occurred_at >= \(bind: start - window) AND t.occurred_at < \(bind: end)
                      GROUP BY pool.member_id, pool.got
                    )
                    SELECT got, CAST(COUNT(*) AS BIGINT) AS members, CAST(SUM(during) AS BIGINT) AS during, CAST(SUM(before) AS BIGINT) AS before
                    FROM spend WHERE got = 1 OR before > 0 GROUP BY got
                    """
                ).all()
                var groups: [Int64: (members: Int64, during: Int64, before: Int64)] = [:]
                for r in rows {
                    groups[try r.int64("got")] = (try r.int64("members"), try r.optionalInt64("during") ?? 0, try r.optionalInt64("before") ?? 0)
                }
                let points =
                    try await db.raw(
                        "SELECT CAST(COALESCE(SUM(points), 0) AS BIGINT) AS n FROM promotion_applications WHERE promotion_id = \(bind: id)"
                    ).first()?.int64("n") ?? 0
                let got = groups[1] ?? (0, 0, 0)
                let others = groups[0] ?? (0, 0, 0)
                func per(_ total: Int64, _ n: Int64) -> Double { n > 0 ? Double(total) / Double(n) : 0 }
                effects[program, default: []].append(
                    .init(
                        code: try p.string("code"), name: try p.string("name"), members: Int(got.members), points: points,
                        revenuePerMember: per(got.during, got.members), revenuePerMemberBefore: per(got.before, got.members),
                        comparableMembers: Int(others.members), comparableRevenuePerMember: per(others.during, others.members),
                        comparableRevenuePerMemberBefore: per(others.before, others.members)))
            }
            return LoyaltyReport(
                generatedAt: now,
                programs: programs.map { p in
                    let out = outstanding[p.id] ?? 0
                    return LoyaltyReport.Program(
                        code: p.code, name: p.name, members: Int(tiers[p.id]?.reduce(0) { $0 + $1.count } ?? 0),
                        activeMembers: Int(active[p.id]?.first?.count ?? 0), tiers: tiers[p.id] ?? [], migrations: migrations[p.id] ?? [],
                        pointsIssued: issued[p.id] ?? 0, pointsRedeemed: redeemed[p.id] ?? 0, pointsExpired: expired[p.id] ?? 0,
                        pointsOutstanding: out,
                        liability: out * p.valuePerThousand / 1000, currency: p.currency, earnedByOutlet: outlets[p.id] ?? [],
                        redeemedByReward: rewards[p.id] ?? [], promotions: effects[p.id] ?? [])
                })
        }
    }
}
