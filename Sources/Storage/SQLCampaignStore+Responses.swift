import Campaigns
import Customers
import Expressions
import Foundation
import SQLKit
import SharedModels

// Responses
extension SQLCampaignStore {

    /// Inserts one response unless recorded already; a target customer's also goes on their timeline.
    @discardableResult
    func insertResponse(_ db: any SQLDatabase, _ r: Response) async throws -> Bool {
        let control =
            try await db.raw(
                "SELECT control FROM campaign_audience WHERE campaign_id = \(bind: r.campaign.rawValue) AND customer_id = \(bind: r.customer)"
            ).first()?.int64("control") ?? 0
        let inserted = try await db.raw(
            """
            INSERT INTO campaign_responses (campaign_id, wave, customer_id, control, kind, reference, amount_minor, occurred_at) VALUES
            (\(bind: r.campaign.rawValue), \(bind: r.wave.map(Int64.init)), \(bind: r.customer), \(bind: control), \(bind: r.kind.rawValue),
            \(bind: r.reference), \(bind: r.amount), \(bind: r.occurredAt.epochSeconds)) ON CONFLICT DO NOTHING RETURNING id
            """
        ).first()
        guard let id = try inserted?.int64("id") else { return false }
        if control == 0 && r.kind != .delivered && r.kind != .bounced { try await timeline(db, responses: [id]) }
        return true
    }

    /// Writes these responses onto their customers' timelines as inbound interactions (callers
    /// pass only target customers' responses other than delivered and bounced).
    func timeline(_ db: any SQLDatabase, responses ids: [Int64]) async throws {
        for part in chunks(ids, of: 10_000) {
            try await db.raw(
                """
                INSERT INTO interactions (customer_id, channel, direction, outcome, agent, subject, notes, occurred_at)
                SELECT r.customer_id, COALESCE((SELECT m.channel FROM campaign_waves w JOIN campaign_messages m ON m.campaign_id = w.campaign_id
                  AND m.wave = w.number AND m.queued_at = w.prepared_at AND m.customer_id = r.customer_id
                  WHERE w.campaign_id = r.campaign_id AND w.number = r.wave), 'web'), 'inbound', 'campaign:' || r.kind, 'campaigns', c.name,
                  'campaign ' || CAST(r.campaign_id AS TEXT) || ', wave ' || COALESCE(CAST(r.wave AS TEXT), '-') || ', offer ' || c.offer
                  || CASE WHEN r.reference = '' THEN '' ELSE ', ' || r.reference END, r.occurred_at
                FROM campaign_responses r JOIN campaigns c ON c.id = r.campaign_id WHERE r.id IN (\(binds: Array(part)))
                """
            ).run()
        }
    }

    public func record(_ responses: [Response]) async throws -> Int {
        try await database.write { db in
            var n = 0
            for r in responses where try await insertResponse(db, r) { n += 1 }
            return n
        }
    }

    public func attribute(_ c: Campaign, until: Date) async throws -> Int {
        guard let launched = c.launchedAt else { return 0 }
        let (from, to) = (launched.epochSeconds, until.epochSeconds)
        let id = c.id.rawValue
        let lastWave = { @Sendable (alias: String, time: String) -> String in
            """
            (SELECT MAX(m.wave) FROM campaign_messages m WHERE m.campaign_id = a.campaign_id AND m.customer_id = \(alias).customer_id
             AND m.status IN ('sent', 'delivered') AND m.sent_at <= \(time))
            """
        }
        return try await database.write { db in
            /// Inserts the responses `select` finds (skipping those recorded before) and returns
            /// how many were new; the target's go onto the timeline.
            func insert(_ select: SQLQueryString) async throws -> Int {
                let rows = try await db.raw(
                    "INSERT INTO campaign_responses (campaign_id, wave, customer_id, control, kind, reference, amount_minor, occurred_at) " + select
                        + " ON CONFLICT DO NOTHING RETURNING id, control"
                ).all()
                try await timeline(db, responses: try rows.filter { try $0.int64("control") == 0 }.map { try $0.int64("id") })
                return rows.count
            }
            var new = try await insert(
                """
                SELECT a.campaign_id, \(unsafeRaw: lastWave("a", "t.occurred_at")), a.customer_id, a.control, 'purchased', 'tx:' || CAST(t.id AS TEXT),
                  t.amount_minor, t.occurred_at
                FROM campaign_audience a JOIN transactions t ON t.customer_id = a.customer_id AND t.kind = 'purchase'
                WHERE a.campaign_id = \(bind: id) AND t.occurred_at >= \(bind: from) AND t.occurred_at <= \(bind: to)
                  AND t.currency = \(bind: c.plan.currency)
                """)
            if c.plan.offer.kind == .promotion, let code = c.plan.offer.code {
                new += try await insert(
                    """
                    SELECT a.campaign_id, \(unsafeRaw: lastWave("a", "e.enrolled_at")), a.customer_id, a.control, 'enrolled',
                      'promotion:' || CAST(e.promotion_id AS TEXT), 0, e.enrolled_at
                    FROM campaign_audience a JOIN loyalty_members lm ON lm.customer_id = a.customer_id
                    JOIN promotion_enrolments e ON e.member_id = lm.id JOIN loyalty_promotions pr ON pr.id = e.promotion_id AND pr.code = \(bind: code)
                    WHERE a.campaign_id = \(bind: id) AND e.enrolled_at >= \(bind: from) AND e.enrolled_at <= \(bind: to)
                    """)
            }
            if c.plan.offer.kind == .voucher, let code = c.plan.offer.code {
                new += try await insert(
                    """
                    SELECT a.campaign_id, \(unsafeRaw: lastWave("a", "v.closed_at")), a.customer_id, a.control, 'redeemed', 'voucher:' || v.code, 0, v.closed_at
                    FROM campaign_audience a JOIN loyalty_members lm ON lm.customer_id = a.customer_id
                    JOIN loyalty_vouchers v ON v.member_id = lm.id JOIN loyalty_rewards rw ON rw.id = v.reward_id AND rw.code = \(bind: code)
                    WHERE a.campaign_id = \(bind: id) AND v.status = 'used' AND v.closed_at >= \(bind: from) AND v.closed_at <= \(bind: to)
                    """)
            }
            return new
        }
    }

    public func figures(_ c: Campaign) async throws -> CampaignFigures {
        try await database.readFromReplica { db in
            let i = c.id.rawValue
            var target = CampaignFigures.Group()
            var control = CampaignFigures.Group()
            var tiers: [String: (target: CampaignFigures.Group, control: CampaignFigures.Group)] = [:]
            let groups = try await readRows(
                db,
                """
                SELECT a.control, COALESCE(s.value_tier, 'unscored') AS tier, COUNT(*) AS customers,
                  SUM(CASE WHEN r.revenue IS NULL THEN 0 ELSE 1 END) AS responders, SUM(COALESCE(r.revenue, 0)) AS revenue,
                  SUM(CAST(COALESCE(r.revenue, 0) AS DOUBLE PRECISION) * COALESCE(r.revenue, 0)) AS squares
                FROM campaign_audience a LEFT JOIN customer_scores s ON s.customer_id = a.customer_id
                LEFT JOIN (SELECT customer_id, SUM(amount_minor) AS revenue FROM campaign_responses WHERE campaign_id = \(bind: i)
                  AND kind = 'purchased' GROUP BY customer_id) r ON r.customer_id = a.customer_id
                WHERE a.campaign_id = \(bind: i) GROUP BY a.control, COALESCE(s.value_tier, 'unscored')
                """, columns: ["control", "tier", "customers", "responders", "revenue", "squares"])
            for row in groups {
                let g = CampaignFigures.Group(
                    customers: Int(row[2].int ?? 0), responders: Int(row[3].int ?? 0), revenue: row[4].int ?? 0, revenueSquares: row[5].double ?? 0)
                let tier = row[1].text ?? "unscored"
                var pair = tiers[tier] ?? (.init(), .init())
                if (row[0].int ?? 0) != 0 {
                    control.add(g)
                    pair.control = g
                } else {
                    target.add(g)
                    pair.target = g
                }
                tiers[tier] = pair
            }
            var waves: [Int: [String: Int]] = [:]
            var sent: [CampaignChannel: Int] = [:]
            for row in try await readRows(
                db,
                "SELECT wave, channel, status, COUNT(*) AS n FROM campaign_messages WHERE campaign_id = \(bind: i) GROUP BY wave, channel, status",
                columns: ["wave", "channel", "status", "n"])
            {
                let (wave, status, n) = (Int(row[0].int ?? 0), row[2].text ?? "", Int(row[3].int ?? 0))
                waves[wave, default: [:]][status, default: 0] += n
                if ["sent", "delivered", "bounced"].contains(status), let ch = row[1].text.flatMap(CampaignChannel.init(rawValue:)) {
                    sent[ch, default: 0] += n
                }
            }
            for row in try await readRows(
                db,
                """
                SELECT wave, kind, COUNT(DISTINCT customer_id) AS n FROM campaign_responses WHERE campaign_id = \(bind: i) AND control = 0
                AND wave IS NOT NULL AND kind NOT IN ('delivered', 'bounced', 'purchased') GROUP BY wave, kind
                """, columns: ["wave", "kind", "n"])
            {
                waves[Int(row[0].int ?? 0), default: [:]][row[1].text ?? "", default: 0] = Int(row[2].int ?? 0)
            }
            // A buyer counts once, at the last wave that reached them, so the waves' buyers and
            // those no wave reached add up to the P&L's target responders.
            for row in try await readRows(
                db,
                """
                SELECT wave, COUNT(*) AS n FROM (SELECT customer_id, MAX(wave) AS wave FROM campaign_responses
                  WHERE campaign_id = \(bind: i) AND control = 0 AND kind = 'purchased' AND wave IS NOT NULL GROUP BY customer_id) b
                GROUP BY wave
                """, columns: ["wave", "n"])
            {
                waves[Int(row[0].int ?? 0), default: [:]]["purchased", default: 0] = Int(row[1].int ?? 0)
            }
            let redemptions =
                try await db.raw(
                    "SELECT COUNT(*) AS n FROM campaign_responses WHERE campaign_id = \(bind: i) AND control = 0 AND kind IN ('enrolled', 'redeemed')"
                ).first()!.int64("n")
            var points: Int64 = 0
            if c.plan.offer.kind == .promotion, let code = c.plan.offer.code, let launched = c.launchedAt {
                let end = launched.epochSeconds + Int64(c.plan.attributionDays) * 86_400
                points =
                    try await db.raw(
                        """
                        SELECT CAST(COALESCE(SUM(pa.points), 0) AS BIGINT) AS n FROM campaign_audience a JOIN loyalty_members lm ON lm.customer_id = a.customer_id
                        JOIN promotion_applications pa ON pa.member_id = lm.id JOIN loyalty_promotions pr ON pr.id = pa.promotion_id AND pr.code = \(bind: code)
                        WHERE a.campaign_id = \(bind: i) AND a.control = 0 AND pa.applied_at >= \(bind: launched.epochSeconds) AND pa.applied_at <= \(bind: end)
                        """
                    ).first()!.int64("n")
            }
            return CampaignFigures(
                target: target, control: control, waves: waves, sentByChannel: sent, redemptions: Int(redemptions), points: points, byValueTier: tiers
            )
        }
    }

    public func unsubscribe(customer: Int64, channel: CampaignChannel, campaign: CampaignID, at: Date) async throws {
        try await database.write { db in
            try await db.raw(
                """
                INSERT INTO consent_events (customer_id, purpose, channel, granted, source, text, recorded_by, recorded_at) VALUES
                (\(bind: customer), 'marketing', \(bind: channel.rawValue), 0, 'unsubscribe_link', \(bind: "campaign \(campaign)"),
                \(bind: "campaign:\(campaign)"), \(bind: at.epochSeconds))
                """
            ).run()
        }
    }
}
