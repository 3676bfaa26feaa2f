import Customers
import Foundation
import Loyalty
import SQLKit
import SharedModels

/// Tier history, transfers between members, referrals, and purchase history for simulations.
extension SQLLedgerStore {
    public func members(of program: ProgramID, after: MemberID?, limit: Int) async throws -> [Member] {
        try await database.read { db in
            try await db.raw(
                """
                SELECT * FROM loyalty_members WHERE program_id = \(bind: program.rawValue) AND id > \(bind: after?.rawValue ?? 0)
                ORDER BY id LIMIT \(literal: limit)
                """
            ).all().map(Self.decodeMember)
        }
    }

    public func tierHistory(of member: MemberID) async throws -> [TierChange] {
        try await database.read { db in
            try await db.raw("SELECT * FROM tier_history WHERE member_id = \(bind: member.rawValue) ORDER BY id").all().map { row in
                TierChange(
                    from: try row.optionalString("from_tier"), to: try row.string("to_tier"), reason: try row.string("reason"),
                    at: try row.date("changed_at"))
            }
        }
    }

    public func tierReviewedAt(_ program: ProgramID) async throws -> Date? {
        try await database.read { db in
            try await db.raw("SELECT tier_reviewed_at FROM loyalty_programs WHERE id = \(bind: program.rawValue)").first()?.optionalDate(
                "tier_reviewed_at")
        }
    }

    public func setTierReviewed(_ program: ProgramID, at: Date) async throws {
        try await database.write { db in
            try await db.raw("UPDATE loyalty_programs SET tier_reviewed_at = \(bind: at.epochSeconds) WHERE id = \(bind: program.rawValue)").run()
        }
    }

    public func setOptions(of program: ProgramID, transferLimitPerYear: Int64?, referralPoints: Int64?) async throws {
        try await database.write { db in
            try await db.raw(
                """
                UPDATE loyalty_programs SET transfer_limit_yearly = \(bind: transferLimitPerYear), referral_points = \(bind: referralPoints)
                WHERE id = \(bind: program.rawValue)
                """
            ).run()
            try await Self.bumpRevision(db, program)
        }
    }

    public func transferPoints(_ m: Movement, to receiver: MemberID, yearlyLimit: Int64?, since yearStart: Date) async throws -> Transfer {
        let giverAccount = LedgerAccount.member(m.member, .reward)
        let receiverAccount = LedgerAccount.member(receiver, .reward)
        return try await idempotent(m.idempotencyKey) { db in
            let program = try await programID(db, of: m.member)
            if let earlier = try await replay(db, key: m.idempotencyKey, from: giverAccount, to: receiverAccount, points: m.points) { return earlier }
            let giver = try await account(db, giverAccount, program: program, lock: true)
            if let limit = yearlyLimit {
                let given = try await db.raw(
                    """
                    SELECT CAST(COALESCE(SUM(points), 0) AS BIGINT) AS n FROM ledger_transfers WHERE from_account = \(bind: giver.id)
                    AND reason = 'transfer' AND occurred_at >= \(bind: yearStart.epochSeconds)
                    """
                ).first()!.int64("n")
                if given + m.points > limit {
                    throw LoyaltyError.limitExceeded(
                        "A member may give \(limit) points a year; \(given) given so far this year, \(m.points) more asked.")
                }
            }
            let now = m.at.epochSeconds
            let spendable = try await Self.lots(
                db, account: giver.id, ledgerAccount: giverAccount,
                where: "AND available_at <= \(bind: now) AND (expires_at IS NULL OR expires_at > \(bind: now))")
            let (takings, shortfall) = LotAllocation.take(m.points, from: spendable)
            guard shortfall == 0 else {
                throw LoyaltyError.insufficientPoints(available: spendable.reduce(0) { $0 + $1.remaining }, requested: m.points)
            }
            let target = try await account(db, receiverAccount, program: program, lock: true)
            let transfer = try await post(
                db, program: program, from: giver.id, to: target.id, points: m.points, reason: .transfer, reference: m.reference,
                key: m.idempotencyKey, memo: m.memo, at: m.at)
            try await Self.consume(db, takings, by: transfer)
            // The receiver's points keep the expiry they had, so a transfer never extends a lot's life.
            let expiries = Dictionary(spendable.map { ($0.id, $0.expiresAt) }, uniquingKeysWith: { a, _ in a })
            for taking in takings {
                try await db.raw(
                    """
                    INSERT INTO point_lots (account_id, transfer_id, points, remaining, available_at, expires_at)
                    VALUES (\(bind: target.id), \(bind: transfer), \(bind: taking.points), \(bind: taking.points), \(bind: now),
                    \(bind: (expiries[taking.lot] ?? nil)?.epochSeconds))
                    """
                ).run()
            }
            return try await Self.transfers(db, where: "t.id = \(bind: transfer)")[0]
        }
    }

    static func decodeReferral(_ row: any SQLRow) throws -> Referral {
        Referral(
            id: ReferralID(try row.int64("id")), programID: ProgramID(try row.int64("program_id")), referrer: MemberID(try row.int64("referrer_id")),
            friend: CustomerID(try row.int64("friend_customer_id")), createdAt: try row.date("created_at"),
            completedAt: try row.optionalDate("completed_at"))
    }

    public func insertReferral(program: ProgramID, referrer: MemberID, friend: CustomerID, at: Date) async throws -> Referral {
        try await database.write { db in
            if try await db.raw(
                "SELECT id FROM loyalty_referrals WHERE program_id = \(bind: program.rawValue) AND friend_customer_id = \(bind: friend.rawValue)"
            ).first() != nil {
                throw LoyaltyError.invalid([FieldError("friendCustomerId", "this friend was referred before")])
            }
            let id = try await db.raw(
                """
                INSERT INTO loyalty_referrals (program_id, referrer_id, friend_customer_id, created_at)
                VALUES (\(bind: program.rawValue), \(bind: referrer.rawValue), \(bind: friend.rawValue), \(bind: at.epochSeconds)) RETURNING id
                """
            ).first()!.int64("id")
            return try await db.raw("SELECT * FROM loyalty_referrals WHERE id = \(bind: id)").first().map(Self.decodeReferral)!
        }
    }

    public func referrals(by referrer: MemberID) async throws -> [Referral] {
        try await database.read { db in
            try await db.raw("SELECT * FROM loyalty_referrals WHERE referrer_id = \(bind: referrer.rawValue) ORDER BY id").all().map(
                Self.decodeReferral)
        }
    }

    public func pendingReferrals(friends: Set<CustomerID>) async throws -> [Referral] {
        guard !friends.isEmpty else { return [] }
        return try await database.read { db in
            var found: [Referral] = []
            for chunk in chunks(friends.map(\.rawValue), of: 5000) {
                found += try await db.raw(
                    "SELECT * FROM loyalty_referrals WHERE completed_at IS NULL AND friend_customer_id IN (\(binds: Array(chunk))) ORDER BY id"
                ).all().map(Self.decodeReferral)
            }
            return found
        }
    }

    public func completeReferral(_ id: ReferralID, at: Date) async throws {
        try await database.write { db in
            try await db.raw(
                "UPDATE loyalty_referrals SET completed_at = \(bind: at.epochSeconds) WHERE id = \(bind: id.rawValue) AND completed_at IS NULL"
            ).run()
        }
    }

    public func purchases(of program: ProgramID, from: Date, to: Date) async throws -> [(member: Member, purchase: TransactionDetails)] {
        try await database.read { db in
            var members: [CustomerID: Member] = [:]
            for row in try await db.raw("SELECT * FROM loyalty_members WHERE program_id = \(bind: program.rawValue)").all() {
                let member = try Self.decodeMember(row)
                members[member.customerID] = member
            }
            let transactions = try await SQLCustomerStore.transactions(
                db,
                where: """
                    kind = 'purchase' AND occurred_at >= \(bind: from.epochSeconds) AND occurred_at < \(bind: to.epochSeconds)
                    AND customer_id IN (SELECT customer_id FROM loyalty_members WHERE program_id = \(bind: program.rawValue)) ORDER BY occurred_at, id
                    """)
            return transactions.compactMap { transaction in members[transaction.customerID].map { ($0, transaction.details) } }
        }
    }
}
