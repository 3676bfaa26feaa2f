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

    public func memberList(_ q: MemberListQuery) async throws -> CountedPage<MemberListRow> {
        var conditions: [SQLQueryString] = ["1 = 1"]
        if let program = q.program { conditions.append("m.program_id = \(bind: program.rawValue)") }
        if let tier = q.tier { conditions.append("m.tier = \(bind: tier)") }
        // Only letters and digits reach here (PointsLedger.memberList), so the prefix needs no escaping.
        if let number = q.number { conditions.append("m.number LIKE \(bind: number + "%")") }
        let filter = conditions.joined(separator: " AND ")
        let direction: SQLQueryString = q.descending ? " DESC" : " ASC"
        let order: SQLQueryString =
            switch q.sort {
            case .number: "m.number" + direction
            case .tier: "COALESCE(m.tier, '')" + direction + ", m.number"
            case .enrolled: "m.enrolled_at" + direction + ", m.id" + direction
            case .points: "COALESCE(a.balance, 0)" + direction + ", m.id"
            }
        return try await database.readFromReplica { db in
            let total = try await db.raw("SELECT COUNT(*) AS n FROM loyalty_members m WHERE " + filter).first()?.int64("n") ?? 0
            let rows = try await db.raw(
                "SELECT m.*, COALESCE(a.balance, 0) AS points FROM loyalty_members m LEFT JOIN ledger_accounts a ON a.member_id = m.id "
                    + "AND a.point_type = 'reward' WHERE " + filter + " ORDER BY " + order + " LIMIT \(literal: q.limit) OFFSET \(literal: q.offset)"
            ).all()
            return CountedPage(
                items: try rows.map { MemberListRow(member: try Self.decodeMember($0), points: try $0.int64("points")) }, total: Int(total))
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
            let locked = try await lockAccounts(db, [giverAccount, receiverAccount], program: program)
            let giver = locked[giverAccount]!, target = locked[receiverAccount]!
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
            let (takings, spendable) = try await Self.take(db, m.points, from: giver.id, giverAccount, at: m.at)
            let transfer = try await post(
                db, program: program, from: giver, to: target, points: m.points, reason: .transfer, reference: m.reference,
                key: m.idempotencyKey, memo: m.memo, at: m.at, consuming: takings)
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

    static func decodeCard(_ row: any SQLRow) throws -> MembershipCard {
        let fee = try row.optionalMoney("fee_minor", "fee_currency")
        return MembershipCard(
            id: CardID(try row.int64("id")), memberID: MemberID(try row.int64("member_id")), number: try row.string("number"),
            kind: MembershipCard.Kind(rawValue: try row.string("kind")) ?? .free, fee: fee, issuedAt: try row.date("issued_at"),
            validUntil: try row.optionalDate("valid_until"), status: MembershipCard.Status(rawValue: try row.string("status")) ?? .active,
            reason: try row.optionalString("reason"))
    }

    public func insertCard(member: MemberID, kind: MembershipCard.Kind, fee: Money?, validUntil: Date?, at: Date) async throws -> MembershipCard {
        try await database.write { db in try await Self.insertCard(db, member: member, kind: kind, fee: fee, validUntil: validUntil, at: at) }
    }

    static func insertCard(_ db: any SQLDatabase, member: MemberID, kind: MembershipCard.Kind, fee: Money?, validUntil: Date?, at: Date) async throws
        -> MembershipCard
    {
        guard let owner = try await db.raw("SELECT number, customer_id FROM loyalty_members WHERE id = \(bind: member.rawValue)").first() else {
            throw LoyaltyError.memberNotFound(member)
        }
        let issued = try await db.raw("SELECT COUNT(*) AS n FROM loyalty_cards WHERE member_id = \(bind: member.rawValue)").first()!.int64("n")
        let number = try owner.string("number") + (issued + 1 < 10 ? "0" : "") + String(issued + 1)
        let id = try await db.raw(
            """
            INSERT INTO loyalty_cards (member_id, number, kind, fee_minor, fee_currency, issued_at, valid_until, status)
            VALUES (\(bind: member.rawValue), \(bind: number), \(bind: kind.rawValue), \(bind: fee?.minorUnits), \(bind: fee?.currency),
            \(bind: at.epochSeconds), \(bind: validUntil?.epochSeconds), 'active') RETURNING id
            """
        ).first()!.int64("id")
        try await db.raw(
            """
            INSERT INTO customer_identifiers (customer_id, kind, value) VALUES (\(bind: try owner.int64("customer_id")), 'card', \(bind: number))
            ON CONFLICT DO NOTHING
            """
        ).run()
        return try await db.raw("SELECT * FROM loyalty_cards WHERE id = \(bind: id)").first().map(Self.decodeCard)!
    }

    public func card(_ id: CardID) async throws -> MembershipCard? {
        try await database.read { db in try await db.raw("SELECT * FROM loyalty_cards WHERE id = \(bind: id.rawValue)").first().map(Self.decodeCard) }
    }

    public func cards(of member: MemberID) async throws -> [MembershipCard] {
        try await database.read { db in
            try await db.raw("SELECT * FROM loyalty_cards WHERE member_id = \(bind: member.rawValue) ORDER BY id").all().map(Self.decodeCard)
        }
    }

    public func closeCard(_ id: CardID, status: MembershipCard.Status, reason: String, at: Date) async throws -> MembershipCard {
        try await database.write { db in try await Self.closeCard(db, id, status: status, reason: reason, at: at) }
    }

    public func replaceCard(_ id: CardID, reason: String, at: Date) async throws -> MembershipCard {
        try await database.write { db in
            let old = try await Self.closeCard(db, id, status: .replaced, reason: reason, at: at)
            return try await Self.insertCard(db, member: old.memberID, kind: old.kind, fee: nil, validUntil: old.validUntil, at: at)
        }
    }

    static func closeCard(_ db: any SQLDatabase, _ id: CardID, status: MembershipCard.Status, reason: String, at: Date) async throws
        -> MembershipCard
    {
        guard let row = try await db.raw("SELECT * FROM loyalty_cards WHERE id = \(bind: id.rawValue)").first() else {
            throw LoyaltyError.cardNotFound(id)
        }
        let card = try Self.decodeCard(row)
        // Conditional on the card still being active: of two concurrent closings on PostgreSQL, the second finds no row.
        let closed = try await db.raw(
            """
            UPDATE loyalty_cards SET status = \(bind: status.rawValue), reason = \(bind: reason), closed_at = \(bind: at.epochSeconds)
            WHERE id = \(bind: id.rawValue) AND status = 'active' RETURNING id
            """
        ).first()
        guard closed != nil else {
            let now = try await db.raw("SELECT status FROM loyalty_cards WHERE id = \(bind: id.rawValue)").first()?.string("status")
            throw LoyaltyError.cardClosed(card.number, status: now ?? card.status.rawValue)
        }
        try await db.raw("DELETE FROM customer_identifiers WHERE kind = 'card' AND value = \(bind: card.number)").run()
        return try await db.raw("SELECT * FROM loyalty_cards WHERE id = \(bind: id.rawValue)").first().map(Self.decodeCard)!
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
