import Customers
import Foundation
import Loyalty
import SQLKit
import SharedModels

/// Promotions, the reward catalogue and vouchers.
extension SQLLedgerStore {
    // MARK: Promotions

    public func insertPromotion(_ d: PromotionDraft, program: ProgramID, at: Date) async throws -> Promotion {
        let action = try ColumnJSON.encode(d.action)
        let id = try await database.write { db in
            if try await db.raw(
                "SELECT id FROM loyalty_promotions WHERE program_id = \(bind: program.rawValue) AND code = \(bind: d.code)"
            ).first() != nil {
                throw LoyaltyError.codeTaken(d.code)
            }
            let id = try await db.raw(
                """
                INSERT INTO loyalty_promotions (program_id, code, name, starts_at, ends_at, requires_enrolment, criteria, action, per_member_limit,
                budget_points, priority, stacking, created_at, partner, partner_share, approval)
                VALUES (\(bind: program.rawValue), \(bind: d.code), \(bind: d.name), \(bind: d.startsAt.epochSeconds), \(bind: d.endsAt.epochSeconds),
                \(bind: Int64(d.requiresEnrolment ? 1 : 0)), \(bind: d.criteria), \(bind: action), \(bind: d.perMemberLimit.map(Int64.init)),
                \(bind: d.budgetPoints), \(bind: Int64(d.priority)), \(bind: d.stacking.rawValue), \(bind: at.epochSeconds), \(bind: d.partner),
                \(bind: d.partnerShare.map(Int64.init)), \(bind: d.partner == nil ? "approved" : "pending")) RETURNING id
                """
            ).first()!.int64("id")
            try await SQLLedgerStore.bumpRevision(db, program)
            if let budget = d.budgetPoints {
                // The budget is set aside from the liability, so the ledger shows what the promotion may still cost.
                let locked = try await lockAccounts(db, [.liability(program, .reward), .budget(PromotionID(id))], program: program.rawValue)
                let liability = locked[.liability(program, .reward)]!, funded = locked[.budget(PromotionID(id))]!
                _ = try await post(
                    db, program: program.rawValue, from: liability, to: funded, points: budget, reason: .budgetFunding,
                    reference: "promotion:\(id)", key: "budget:\(id)", memo: "budget of promotion \(d.code)", at: at)
            }
            return id
        }
        return try await promotion(PromotionID(id))!
    }

    static func decodePromotion(_ row: any SQLRow) throws -> Promotion {
        Promotion(
            id: PromotionID(try row.int64("id")), programID: ProgramID(try row.int64("program_id")), code: try row.string("code"),
            name: try row.string("name"), startsAt: try row.date("starts_at"), endsAt: try row.date("ends_at"),
            requiresEnrolment: try row.int64("requires_enrolment") != 0, criteria: try row.optionalString("criteria"),
            action: try ColumnJSON.decode(Promotion.Action.self, from: try row.string("action")),
            perMemberLimit: try row.optionalInt64("per_member_limit").map { Int($0) }, budgetPoints: try row.optionalInt64("budget_points"),
            priority: Int(try row.int64("priority")), stacking: Promotion.Stacking(rawValue: try row.string("stacking")) ?? .cumulative,
            createdAt: try row.date("created_at"), partner: try row.optionalString("partner"),
            partnerShare: try row.optionalInt64("partner_share").map { Int($0) },
            approval: Promotion.Approval(rawValue: try row.string("approval")) ?? .approved, decidedBy: try row.optionalString("decided_by"),
            pausedAt: try row.optionalDate("paused_at"), archivedAt: try row.optionalDate("archived_at"))
    }

    public func updatePromotion(_ p: Promotion) async throws {
        let action = try ColumnJSON.encode(p.action)
        try await database.write { db in
            try await db.raw(
                """
                UPDATE loyalty_promotions SET name = \(bind: p.name), starts_at = \(bind: p.startsAt.epochSeconds), ends_at = \(bind: p.endsAt.epochSeconds),
                criteria = \(bind: p.criteria), action = \(bind: action), requires_enrolment = \(bind: Int64(p.requiresEnrolment ? 1 : 0)),
                paused_at = \(bind: p.pausedAt?.epochSeconds), archived_at = \(bind: p.archivedAt?.epochSeconds) WHERE id = \(bind: p.id.rawValue)
                """
            ).run()
            // Running promotions are cached by the program's revision: the change applies from the next purchase.
            try await SQLLedgerStore.bumpRevision(db, p.programID)
        }
    }

    public func pendingPromotions(partner: String?) async throws -> [Promotion] {
        try await database.read { db in
            let filter: SQLQueryString = partner.map { " AND partner = \(bind: $0)" } ?? ""
            return try await db.raw("SELECT * FROM loyalty_promotions WHERE approval = 'pending'" + filter + " ORDER BY starts_at, id").all()
                .map(Self.decodePromotion)
        }
    }

    public func decidePromotion(_ id: PromotionID, approve: Bool, by: String, at: Date) async throws -> Promotion? {
        try await database.write { db in
            guard
                let row = try await db.raw(
                    """
                    UPDATE loyalty_promotions SET approval = \(bind: approve ? "approved" : "declined"), decided_by = \(bind: by),
                      decided_at = \(bind: at.epochSeconds) WHERE id = \(bind: id.rawValue) AND approval = 'pending' RETURNING *
                    """
                ).first()
            else { return nil }
            let promotion = try Self.decodePromotion(row)
            // Running promotions are cached by the program's revision: the decision takes effect on the next purchase.
            try await SQLLedgerStore.bumpRevision(db, promotion.programID)
            return promotion
        }
    }

    public func promotion(_ id: PromotionID) async throws -> Promotion? {
        try await database.read { db in
            try await db.raw("SELECT * FROM loyalty_promotions WHERE id = \(bind: id.rawValue)").first().map(Self.decodePromotion)
        }
    }

    public func promotions(of program: ProgramID) async throws -> [Promotion] {
        try await database.read { db in
            try await db.raw("SELECT * FROM loyalty_promotions WHERE program_id = \(bind: program.rawValue) ORDER BY id DESC").all().map(
                Self.decodePromotion)
        }
    }

    public func promotions(of program: ProgramID, runningBetween from: Date, and to: Date) async throws -> [Promotion] {
        try await database.read { db in
            try await db.raw(
                """
                SELECT * FROM loyalty_promotions WHERE program_id = \(bind: program.rawValue) AND ends_at > \(bind: from.epochSeconds)
                AND starts_at < \(bind: to.epochSeconds) AND approval = 'approved' AND paused_at IS NULL ORDER BY id
                """
            ).all().map(Self.decodePromotion)
        }
    }

    public func enrolments(of member: MemberID) async throws -> Set<PromotionID> {
        try await database.read { db in
            Set(
                try await db.raw("SELECT promotion_id FROM promotion_enrolments WHERE member_id = \(bind: member.rawValue)").all().map {
                    PromotionID(try $0.int64("promotion_id"))
                })
        }
    }

    public func enroll(_ member: MemberID, inPromotion promotion: PromotionID, at: Date) async throws {
        try await database.write { db in
            try await db.raw(
                """
                INSERT INTO promotion_enrolments (promotion_id, member_id, enrolled_at) VALUES (\(bind: promotion.rawValue), \(bind: member.rawValue),
                \(bind: at.epochSeconds)) ON CONFLICT (promotion_id, member_id) DO NOTHING
                """
            ).run()
        }
    }

    public func endPromotion(_ id: PromotionID, at: Date) async throws -> Promotion {
        try await database.write { db in
            guard let row = try await db.raw("SELECT * FROM loyalty_promotions WHERE id = \(bind: id.rawValue)\(unsafeRaw: lockClause)").first()
            else {
                throw LoyaltyError.promotionNotFound(id)
            }
            let promotion = try Self.decodePromotion(row)
            if promotion.endsAt > at {
                try await db.raw("UPDATE loyalty_promotions SET ends_at = \(bind: at.epochSeconds) WHERE id = \(bind: id.rawValue)").run()
                try await SQLLedgerStore.bumpRevision(db, promotion.programID)
            }
            if promotion.budgetPoints != nil {
                let program = promotion.programID.rawValue
                let locked = try await lockAccounts(db, [.budget(id), .liability(promotion.programID, .reward)], program: program)
                let budget = locked[.budget(id)]!, liability = locked[.liability(promotion.programID, .reward)]!
                if budget.balance > 0 {
                    _ = try await post(
                        db, program: program, from: budget, to: liability, points: budget.balance, reason: .budgetFunding,
                        reference: "promotion:\(id.rawValue)", key: "budget-return:\(id.rawValue)", memo: "unused budget of \(promotion.code)", at: at
                    )
                }
            }
            return try await db.raw("SELECT * FROM loyalty_promotions WHERE id = \(bind: id.rawValue)").first().map(Self.decodePromotion)!
        }
    }

    public func promotionResults(_ id: PromotionID) async throws -> PromotionResults {
        try await database.read { db in
            guard
                let promotion = try await db.raw("SELECT * FROM loyalty_promotions WHERE id = \(bind: id.rawValue)").first().map(Self.decodePromotion)
            else { throw LoyaltyError.promotionNotFound(id) }
            let row = try await db.raw(
                """
                SELECT COUNT(*) AS n, COUNT(DISTINCT member_id) AS members, CAST(COALESCE(SUM(points), 0) AS BIGINT) AS points,
                COUNT(voucher_id) AS vouchers, CAST(COALESCE(SUM(amount_minor), 0) AS BIGINT) AS amount
                FROM promotion_applications WHERE promotion_id = \(bind: id.rawValue)
                """
            ).first()!
            let enrolled = try await db.raw("SELECT COUNT(*) AS n FROM promotion_enrolments WHERE promotion_id = \(bind: id.rawValue)").first()!
                .int64("n")
            var left: Int64?
            if promotion.budgetPoints != nil {
                left =
                    try await db.raw("SELECT balance FROM ledger_accounts WHERE key = \(bind: LedgerAccount.budget(id).key)").first()?.int64(
                        "balance")
                    ?? 0
            }
            return PromotionResults(
                applications: Int(try row.int64("n")), members: Int(try row.int64("members")), points: try row.int64("points"),
                vouchers: Int(try row.int64("vouchers")), purchaseAmount: try row.int64("amount"), budgetLeft: left, enrolled: Int(enrolled))
        }
    }

    // MARK: Rewards

    public func insertReward(_ r: Reward) async throws -> Reward {
        let tiers = try ColumnJSON.encode(r.tiers)
        let id = try await database.write { db in
            if try await db.raw("SELECT id FROM loyalty_rewards WHERE program_id = \(bind: r.programID.rawValue) AND code = \(bind: r.code)").first()
                != nil
            {
                throw LoyaltyError.codeTaken(r.code)
            }
            return try await db.raw(
                """
                INSERT INTO loyalty_rewards (program_id, code, name, kind, points_price, cash_minor, cash_currency, tiers, stock, validity_days, active,
                description, image_url)
                VALUES (\(bind: r.programID.rawValue), \(bind: r.code), \(bind: r.name), \(bind: r.kind.rawValue), \(bind: r.pointsPrice),
                \(bind: r.cashPrice?.minorUnits), \(bind: r.cashPrice?.currency), \(bind: tiers), \(bind: r.stock.map(Int64.init)),
                \(bind: Int64(r.validityDays)), \(bind: Int64(r.active ? 1 : 0)), \(bind: r.description), \(bind: r.imageURL)) RETURNING id
                """
            ).first()!.int64("id")
        }
        return try await reward(RewardID(id))!
    }

    static func decodeReward(_ row: any SQLRow) throws -> Reward {
        let cash = try row.optionalMoney("cash_minor", "cash_currency")
        return Reward(
            id: RewardID(try row.int64("id")), programID: ProgramID(try row.int64("program_id")), code: try row.string("code"),
            name: try row.string("name"), kind: Reward.Kind(rawValue: try row.string("kind")) ?? .product, pointsPrice: try row.int64("points_price"),
            cashPrice: cash, tiers: try ColumnJSON.decode([String].self, from: try row.string("tiers")),
            stock: try row.optionalInt64("stock").map { Int($0) }, validityDays: Int(try row.int64("validity_days")),
            active: try row.int64("active") != 0, description: try row.optionalString("description"),
            imageURL: try row.optionalString("image_url"))
    }

    public func reward(_ id: RewardID) async throws -> Reward? {
        try await database.read { db in
            try await db.raw("SELECT * FROM loyalty_rewards WHERE id = \(bind: id.rawValue)").first().map(Self.decodeReward)
        }
    }

    public func reward(code: String, program: ProgramID) async throws -> Reward? {
        try await database.read { db in
            try await db.raw("SELECT * FROM loyalty_rewards WHERE program_id = \(bind: program.rawValue) AND code = \(bind: code)").first().map(
                Self.decodeReward)
        }
    }

    public func rewards(of program: ProgramID) async throws -> [Reward] {
        try await database.read { db in
            try await db.raw("SELECT * FROM loyalty_rewards WHERE program_id = \(bind: program.rawValue) ORDER BY points_price, id").all().map(
                Self.decodeReward)
        }
    }

    public func updateReward(_ r: Reward) async throws {
        let tiers = try ColumnJSON.encode(r.tiers)
        try await database.write { db in
            try await db.raw(
                """
                UPDATE loyalty_rewards SET name = \(bind: r.name), points_price = \(bind: r.pointsPrice), cash_minor = \(bind: r.cashPrice?.minorUnits),
                cash_currency = \(bind: r.cashPrice?.currency), tiers = \(bind: tiers), stock = \(bind: r.stock.map(Int64.init)),
                validity_days = \(bind: Int64(r.validityDays)), active = \(bind: Int64(r.active ? 1 : 0)), description = \(bind: r.description),
                image_url = \(bind: r.imageURL) WHERE id = \(bind: r.id.rawValue)
                """
            ).run()
        }
    }

    // MARK: Vouchers

    static func decodeVoucher(_ row: any SQLRow) throws -> Voucher {
        let cash = try row.optionalMoney("cash_minor", "cash_currency")
        return Voucher(
            id: VoucherID(try row.int64("id")), code: try row.string("code"), rewardID: RewardID(try row.int64("reward_id")),
            memberID: MemberID(try row.int64("member_id")), points: try row.int64("points"), cash: cash,
            status: Voucher.Status(rawValue: try row.string("status")) ?? .issued, issuedAt: try row.date("issued_at"),
            expiresAt: try row.date("expires_at"), closedAt: try row.optionalDate("closed_at"),
            promotionID: try row.optionalInt64("promotion_id").map { PromotionID($0) })
    }

    public func redeem(_ reward: Reward, member: MemberID, voucherCode: String, idempotencyKey: String?, at: Date) async throws -> Voucher {
        let voucherKey = idempotencyKey.map { "voucher:" + $0 }
        do {
            return try await database.write { db in
                if let voucherKey,
                    let earlier = try await db.raw("SELECT * FROM loyalty_vouchers WHERE idempotency_key = \(bind: voucherKey)").first()
                {
                    return try Self.decodeVoucher(earlier)
                }
                // The member's account first, then the reward's row (the house order, lockAccounts).
                let account = LedgerAccount.member(member, .reward)
                let locked = reward.pointsPrice > 0 ? try await lockMemberAccount(db, account) : nil
                // The reward's row is locked (PostgreSQL) or the writer is single (SQLite): stock cannot go below zero.
                guard
                    let row = try await db.raw(
                        "SELECT stock, active FROM loyalty_rewards WHERE id = \(bind: reward.id.rawValue)\(unsafeRaw: lockClause)"
                    )
                    .first()
                else { throw LoyaltyError.rewardNotFound(reward.code) }
                if try row.int64("active") == 0 { throw LoyaltyError.rewardNotAvailable(reward.code, reason: "the reward is withdrawn") }
                if let stock = try row.optionalInt64("stock") {
                    guard stock > 0 else { throw LoyaltyError.outOfStock(reward.code) }
                    try await db.raw("UPDATE loyalty_rewards SET stock = stock - 1 WHERE id = \(bind: reward.id.rawValue)").run()
                }
                var transfer: Int64?
                if reward.pointsPrice > 0 {
                    transfer = try await debit(
                        db,
                        Movement(
                            member: member, pointType: .reward, points: reward.pointsPrice, reason: .redemption, reference: voucherCode,
                            idempotencyKey: idempotencyKey.map { "redeem:" + $0 }, memo: "reward \(reward.code): \(reward.name)", at: at),
                        locked: locked
                    ).id.rawValue
                }
                let expires = at.addingTimeInterval(TimeInterval(reward.validityDays) * 86_400)
                let id = try await db.raw(
                    """
                    INSERT INTO loyalty_vouchers (code, reward_id, member_id, points, cash_minor, cash_currency, status, issued_at, expires_at,
                    transfer_id, idempotency_key)
                    VALUES (\(bind: voucherCode), \(bind: reward.id.rawValue), \(bind: member.rawValue), \(bind: reward.pointsPrice),
                    \(bind: reward.cashPrice?.minorUnits), \(bind: reward.cashPrice?.currency), 'issued', \(bind: at.epochSeconds),
                    \(bind: expires.epochSeconds), \(bind: transfer), \(bind: voucherKey)) RETURNING id
                    """
                ).first()!.int64("id")
                return try await db.raw("SELECT * FROM loyalty_vouchers WHERE id = \(bind: id)").first().map(Self.decodeVoucher)!
            }
        } catch let error where voucherKey != nil && SQLAccessStore.isUniqueViolation(error) {
            // A concurrent request with the same key won.
            guard let earlier = try await voucher(key: voucherKey!) else { throw error }
            return earlier
        }
    }

    func voucher(key: String) async throws -> Voucher? {
        try await database.read { db in
            try await db.raw("SELECT * FROM loyalty_vouchers WHERE idempotency_key = \(bind: key)").first().map(Self.decodeVoucher)
        }
    }

    public func cancel(_ id: VoucherID, at: Date) async throws -> Voucher {
        try await database.write { db in
            guard let row = try await db.raw("SELECT * FROM loyalty_vouchers WHERE id = \(bind: id.rawValue)\(unsafeRaw: lockClause)").first() else {
                throw LoyaltyError.voucherNotFound(String(id.rawValue))
            }
            let voucher = try Self.decodeVoucher(row)
            guard voucher.status == .issued else { throw LoyaltyError.voucherClosed(voucher.code, status: voucher.status.rawValue) }
            if let transfer = try row.optionalInt64("transfer_id") {
                // Each lot the redemption drew on gets its points back in a new lot with the same expiry.
                let program = try await programID(db, of: voucher.memberID)
                let memberAccount = LedgerAccount.member(voucher.memberID, .reward), liabilityAccount = LedgerAccount.liability(ProgramID(program), .reward)
                let locked = try await lockAccounts(db, [memberAccount, liabilityAccount], program: program)
                let member = locked[memberAccount]!, liability = locked[liabilityAccount]!
                let refund = try await post(
                    db, program: program, from: liability, to: member, points: voucher.points, reason: .refund, reference: voucher.code,
                    key: "cancel:\(voucher.id.rawValue)", memo: "voucher \(voucher.code) cancelled", at: at)
                for taken in try await db.raw(
                    "SELECT m.points, l.expires_at FROM lot_movements m JOIN point_lots l ON l.id = m.lot_id WHERE m.transfer_id = \(bind: transfer) ORDER BY l.id"
                ).all() {
                    try await db.raw(
                        """
                        INSERT INTO point_lots (account_id, transfer_id, points, remaining, available_at, expires_at)
                        VALUES (\(bind: member.id), \(bind: refund), \(bind: try taken.int64("points")), \(bind: try taken.int64("points")),
                        \(bind: at.epochSeconds), \(bind: try taken.optionalInt64("expires_at")))
                        """
                    ).run()
                }
            }
            try await db.raw("UPDATE loyalty_rewards SET stock = stock + 1 WHERE id = \(bind: voucher.rewardID.rawValue) AND stock IS NOT NULL").run()
            try await db.raw(
                "UPDATE loyalty_vouchers SET status = 'cancelled', closed_at = \(bind: at.epochSeconds) WHERE id = \(bind: id.rawValue)"
            ).run()
            return try await db.raw("SELECT * FROM loyalty_vouchers WHERE id = \(bind: id.rawValue)").first().map(Self.decodeVoucher)!
        }
    }

    public func use(_ id: VoucherID, at: Date, honouredBy: String?) async throws -> Voucher {
        try await database.write { db in
            guard let row = try await db.raw("SELECT * FROM loyalty_vouchers WHERE id = \(bind: id.rawValue)\(unsafeRaw: lockClause)").first() else {
                throw LoyaltyError.voucherNotFound(String(id.rawValue))
            }
            let voucher = try Self.decodeVoucher(row)
            guard voucher.status == .issued else { throw LoyaltyError.voucherClosed(voucher.code, status: voucher.status.rawValue) }
            guard !voucher.isExpired(at: at) else { throw LoyaltyError.voucherClosed(voucher.code, status: "expired") }
            try await db.raw(
                """
                UPDATE loyalty_vouchers SET status = 'used', closed_at = \(bind: at.epochSeconds), honoured_by = \(bind: honouredBy)
                WHERE id = \(bind: id.rawValue)
                """
            ).run()
            return try await db.raw("SELECT * FROM loyalty_vouchers WHERE id = \(bind: id.rawValue)").first().map(Self.decodeVoucher)!
        }
    }

    public func voucher(_ id: VoucherID) async throws -> Voucher? {
        try await database.read { db in
            try await db.raw("SELECT * FROM loyalty_vouchers WHERE id = \(bind: id.rawValue)").first().map(Self.decodeVoucher)
        }
    }

    public func promotionApplications(of member: MemberID) async throws -> [(promotion: PromotionID, reference: String, points: Int64)] {
        try await database.read { db in
            try await db.raw(
                "SELECT promotion_id, reference, points FROM promotion_applications WHERE member_id = \(bind: member.rawValue) ORDER BY id"
            ).all().map { (PromotionID(try $0.int64("promotion_id")), try $0.string("reference"), try $0.int64("points")) }
        }
    }

    public func voucher(code: String) async throws -> Voucher? {
        try await database.read { db in
            try await db.raw("SELECT * FROM loyalty_vouchers WHERE code = \(bind: code)").first().map(Self.decodeVoucher)
        }
    }

    public func vouchers(of member: MemberID) async throws -> [Voucher] {
        try await database.read { db in
            try await db.raw("SELECT * FROM loyalty_vouchers WHERE member_id = \(bind: member.rawValue) ORDER BY id DESC").all().map(
                Self.decodeVoucher)
        }
    }
}
