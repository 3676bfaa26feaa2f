import Foundation
import Partners
import SQLKit
import SharedModels

/// Partners and settlements over SQL. A statement reads the partner's outlets' purchases, the
/// reward points the ledger credited (and clawed back) on them, and the vouchers of its rewards
/// that were used — set-wise, as segments read other rooms' tables.
public struct SQLPartnerStore: PartnerStore {
    let database: any Database

    public init(database: any Database) { self.database = database }

    static func decode(_ row: any SQLRow) throws -> Partner {
        Partner(
            code: try row.string("code"), name: try row.string("name"),
            outlets: try row.string("outlets").split(separator: ",").map(String.init),
            rewards: try row.string("rewards").split(separator: ",").map(String.init), currency: try row.string("currency"),
            pricePerThousandPoints: try row.int64("price_per_thousand_minor"), payoutPerVoucher: try row.int64("payout_per_voucher_minor"),
            createdAt: try row.date("created_at"))
    }

    public func upsert(_ p: Partner) async throws {
        try await database.write { db in
            try await db.raw(
                """
                INSERT INTO partners (code, name, outlets, rewards, currency, price_per_thousand_minor, payout_per_voucher_minor, created_at)
                VALUES (\(bind: p.code), \(bind: p.name), \(bind: p.outlets.joined(separator: ",")), \(bind: p.rewards.joined(separator: ",")),
                  \(bind: p.currency), \(bind: p.pricePerThousandPoints), \(bind: p.payoutPerVoucher), \(bind: p.createdAt.epochSeconds))
                ON CONFLICT (code) DO UPDATE SET name = excluded.name, outlets = excluded.outlets, rewards = excluded.rewards,
                  currency = excluded.currency, price_per_thousand_minor = excluded.price_per_thousand_minor,
                  payout_per_voucher_minor = excluded.payout_per_voucher_minor
                """
            ).run()
        }
    }

    public func partner(_ code: String) async throws -> Partner? {
        try await database.read { db in try await db.raw("SELECT * FROM partners WHERE code = \(bind: code)").first().map(Self.decode) }
    }

    public func partners(codes: Set<String>) async throws -> [Partner] {
        try await database.read { db in
            try await db.raw("SELECT * FROM partners WHERE code \(oneOf: codes.sorted())").all().map(Self.decode)
        }
    }

    public func partners() async throws -> [Partner] {
        try await database.read { db in try await db.raw("SELECT * FROM partners ORDER BY code").all().map(Self.decode) }
    }

    public func figures(_ p: Partner, from: Date, to: Date) async throws -> (
        purchases: Int, returns: Int, sales: Int64, pointsIssued: Int64, cofundedPoints: Int64, vouchersHonoured: Int
    ) {
        let (f, t) = (from.epochSeconds, to.epochSeconds)
        return try await database.read { db in
            var purchases = 0, returns = 0
            var sales: Int64 = 0
            for row in try await db.raw(
                """
                SELECT kind, COUNT(*) AS n, CAST(COALESCE(SUM(amount_minor), 0) AS BIGINT) AS amount FROM transactions
                WHERE store IN (\(binds: p.outlets)) AND occurred_at >= \(bind: f) AND occurred_at < \(bind: t) GROUP BY kind
                """
            ).all() {
                let n = Int(try row.int64("n")), amount = try row.int64("amount")
                if try row.string("kind") == "return" {
                    returns = n
                    sales -= abs(amount)
                } else {
                    purchases = n
                    sales += amount
                }
            }
            // Drawn from the outlets' purchases and returns of the period (by the store and date index),
            // then the ledger's transfers on them (by the reference index).
            let purchasesOf: SQLQueryString = """
                SELECT external_id FROM transactions WHERE store IN (\(binds: p.outlets)) AND kind = 'purchase'
                  AND occurred_at >= \(bind: f) AND occurred_at < \(bind: t)
                """
            let returnedOf: SQLQueryString = """
                SELECT original_external_id FROM transactions WHERE store IN (\(binds: p.outlets)) AND kind = 'return'
                  AND occurred_at >= \(bind: f) AND occurred_at < \(bind: t) AND original_external_id IS NOT NULL
                """
            let earned = try await db.raw(
                """
                SELECT CAST(COALESCE(SUM(l.points), 0) AS BIGINT) AS n FROM ledger_transfers l JOIN ledger_accounts a ON a.id = l.to_account
                WHERE l.reason = 'accrual' AND a.member_id IS NOT NULL AND a.point_type = 'reward'
                  AND l.occurred_at >= \(bind: f) AND l.occurred_at < \(bind: t) AND l.reference IN (
                """ + purchasesOf + ")"
            ).first()!.int64("n")
            let clawed = try await db.raw(
                """
                SELECT CAST(COALESCE(SUM(l.points), 0) AS BIGINT) AS n FROM ledger_transfers l JOIN ledger_accounts a ON a.id = l.from_account
                WHERE l.reason = 'clawback' AND a.member_id IS NOT NULL AND a.point_type = 'reward'
                  AND l.occurred_at >= \(bind: f) AND l.occurred_at < \(bind: t) AND l.reference IN (
                """ + returnedOf + ")"
            ).first()!.int64("n")
            var vouchers = 0
            if !p.rewards.isEmpty {
                vouchers = Int(
                    try await db.raw(
                        """
                        SELECT COUNT(*) AS n FROM loyalty_vouchers v JOIN loyalty_rewards r ON r.id = v.reward_id
                        WHERE r.code IN (\(binds: p.rewards)) AND v.status = 'used' AND v.honoured_by = \(bind: p.code)
                          AND v.closed_at >= \(bind: f) AND v.closed_at < \(bind: t)
                        """
                    ).first()!.int64("n"))
            }
            // The partner's share of what its joint promotions awarded elsewhere (rounded down): at its
            // own outlets it pays for every point earned already, promotions included.
            let cofunded =
                try await db.raw(
                    """
                    SELECT CAST(COALESCE(SUM(pa.points * pr.partner_share), 0) AS BIGINT) AS n FROM promotion_applications pa
                    JOIN loyalty_promotions pr ON pr.id = pa.promotion_id
                    WHERE pr.partner = \(bind: p.code) AND pa.applied_at >= \(bind: f) AND pa.applied_at < \(bind: t) AND pa.reference NOT IN (
                    """ + purchasesOf + ")"
                ).first()!.int64("n") / 100
            return (purchases, returns, sales, earned - clawed, cofunded, vouchers)
        }
    }

    public func receipts(_ p: Partner, reference: String?, limit: Int) async throws -> [Receipt] {
        let filter: SQLQueryString =
            reference.map { " AND " + MonthlyPartitions.externalID(in: [$0], alias: "t", partitioned: database.capabilities.partitionsByMonth) } ?? ""
        return try await database.read { db in
            try await db.raw(
                """
                SELECT t.external_id, t.occurred_at, t.amount_minor, t.kind, t.store,
                  CAST(COALESCE((SELECT SUM(CASE WHEN l.reason = 'accrual' THEN l.points ELSE -l.points END) FROM ledger_transfers l
                    JOIN ledger_accounts a ON a.id = CASE WHEN l.reason = 'accrual' THEN l.to_account ELSE l.from_account END
                    WHERE l.reference = t.external_id AND l.reason IN ('accrual', 'clawback') AND a.member_id IS NOT NULL AND a.point_type = 'reward'
                      AND t.kind = 'purchase'), 0) AS BIGINT) AS points
                FROM transactions t WHERE t.store IN (\(binds: p.outlets))
                """ + filter + " ORDER BY t.occurred_at DESC, t.id DESC LIMIT \(literal: limit)"
            ).all().map { row in
                Receipt(
                    reference: try row.string("external_id"), at: try row.date("occurred_at"), amount: try row.int64("amount_minor"),
                    isReturn: try row.string("kind") == "return", store: try row.string("store"), points: try row.int64("points"))
            }
        }
    }

    static func settlement(_ row: any SQLRow) throws -> Settlement {
        Settlement(
            id: try row.int64("id"), statement: try ColumnJSON.decode(PartnerStatement.self, from: try row.string("statement")),
            status: Settlement.Status(rawValue: try row.string("status")) ?? .open, closedBy: try row.string("closed_by"),
            closedAt: try row.date("closed_at"), paidBy: try row.optionalString("paid_by"), paidAt: try row.optionalDate("paid_at"))
    }

    public func insertSettlement(_ s: PartnerStatement, by: String, at: Date) async throws -> Settlement {
        let json = try ColumnJSON.encode(s)
        let id = try await database.write { db -> Int64? in
            try await db.raw(
                """
                INSERT INTO partner_settlements (partner, period_from, period_to, statement, net_minor, currency, status, closed_by, closed_at)
                VALUES (\(bind: s.partner), \(bind: s.from.description), \(bind: s.to.description), \(bind: json), \(bind: s.net.minorUnits),
                  \(bind: s.net.currency), 'open', \(bind: by), \(bind: at.epochSeconds))
                ON CONFLICT (partner, period_from) DO NOTHING RETURNING id
                """
            ).first()?.int64("id")
        }
        guard let id else { throw PartnerError.conflict("\(s.partner)'s period from \(s.from) is settled already.") }
        return try await database.read { db in
            try await db.raw("SELECT * FROM partner_settlements WHERE id = \(bind: id)").first().map(Self.settlement)!
        }
    }

    public func settlements(partner: String) async throws -> [Settlement] {
        try await database.read { db in
            try await db.raw("SELECT * FROM partner_settlements WHERE partner = \(bind: partner) ORDER BY period_from DESC").all().map(
                Self.settlement)
        }
    }

    public func markPaid(_ id: Int64, by: String, at: Date) async throws -> Settlement? {
        try await database.write { db in
            try await db.raw(
                """
                UPDATE partner_settlements SET status = 'paid', paid_by = \(bind: by), paid_at = \(bind: at.epochSeconds)
                WHERE id = \(bind: id) AND status = 'open' RETURNING *
                """
            ).first().map(Self.settlement)
        }
    }
}
