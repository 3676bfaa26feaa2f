import Customers
import Foundation
import Loyalty
import SQLKit
import SharedModels

extension SQLLedgerStore {
    /// Posts purchases' accruals set-wise: a handful of queries to read what the batch needs
    /// (earlier postings, accounts, promotion usage, qualifying history), the rules and
    /// promotions evaluated in memory row by row in order, then every transfer, posting, lot,
    /// application and voucher written with bulk inserts and each touched balance updated once.
    /// One plan or a hundred thousand, it is one database transaction.
    public func post(_ plans: [AccrualPlan]) async throws -> [PostedAccrual] {
        guard !plans.isEmpty else { return [] }
        let store = self
        return try await database.write { db in
            var writer = store.accrualWriter(db)
            return try await writer.post(plans)
        }
    }

    public func record(
        _ purchases: [(customer: CustomerID, details: TransactionDetails)],
        planning plan: @escaping @Sendable ([(Transaction, inserted: Bool)]) -> [(index: Int, plan: AccrualPlan)]
    ) async throws -> (recorded: [(Transaction, inserted: Bool)], posted: [(index: Int, plan: AccrualPlan, posted: PostedAccrual)]) {
        let store = self
        let partitioned = database.capabilities.partitionsByMonth
        try await SQLCustomerStore.makeMonths(for: purchases, in: database)
        return try await database.write { db in
            let recorded = try await SQLCustomerStore.recordTransactions(db, purchases, partitioned: partitioned)
            let plans = plan(recorded)
            var writer = store.accrualWriter(db)
            let posted = plans.isEmpty ? [] : try await writer.post(plans.map(\.plan))
            return (recorded, zip(plans, posted).map { ($0.index, $0.plan, $1) })
        }
    }

    /// A writer for one set-wise accrual on `db`, inside its write transaction.
    func accrualWriter(_ db: any SQLDatabase) -> AccrualWriter {
        AccrualWriter(
            db: db, ids: database.capabilities.ids, lockClause: lockClause, chunk: accrualChunk, programAccounts: programAccounts,
            keyTable: database.capabilities.partitionsByMonth ? "ledger_transfer_keys" : "ledger_transfers",
            writesTogether: database.capabilities.writesTogether, bindsArrays: database.capabilities.bindsArrays)
    }
}

/// The state of one set-wise accrual inside its write transaction.
struct AccrualWriter {
    let db: any SQLDatabase
    let ids: SQLCapabilities.IDSource
    let lockClause: String
    /// Plans evaluated between two writes of a batch's rows.
    let chunk: Int
    let programAccounts: ProgramAccountIDs
    /// Where transfers' idempotency keys are looked up: their key table on partitioned
    /// PostgreSQL (one index), else the transfers (MonthlyPartitions).
    let keyTable: String
    /// Whether the final writes go as one statement (``WriteBatch``).
    let writesTogether: Bool
    /// Whether lists are bound as arrays (``ListedRows``).
    let bindsArrays: Bool

    typealias Account = SQLLedgerStore.AccountRow

    /// Up to this many purchases (a group of API purchases: at most 512), ids are reserved ahead
    /// in the combined read; a batch reserves what it used, chunk by chunk.
    static let reservingUpTo = 512

    var accounts: [LedgerAccount: Account] = [:]
    /// Rolling expiry: each member account's latest purchase in the batch and the expiry it gives all their lots.
    var extendedLots: [Int64: (activity: Int64, expiresAt: Int64)] = [:]
    /// Month arithmetic by day, as a batch's purchases share few days.
    var months = MonthCalendar()
    var balanceDelta: [Int64: Int64] = [:]
    var debtDelta: [Int64: Int64] = [:]
    var transfers: [[SQLValue]] = []
    var postings: [[SQLValue]] = []
    var lots: [[SQLValue]] = []
    var lotMovements: [[SQLValue]] = []
    var applications: [[SQLValue]] = []
    var vouchers: [[SQLValue]] = []
    var transferIDs: IDPool
    var lotIDs: IDPool
    var voucherIDs: IDPool
    var applicationIDs: IDPool

    init(
        db: any SQLDatabase, ids: SQLCapabilities.IDSource, lockClause: String, chunk: Int, programAccounts: ProgramAccountIDs, keyTable: String,
        writesTogether: Bool, bindsArrays: Bool
    ) {
        self.db = db
        self.writesTogether = writesTogether
        self.bindsArrays = bindsArrays
        self.keyTable = keyTable
        self.programAccounts = programAccounts
        self.ids = ids
        self.lockClause = lockClause
        self.chunk = chunk
        transferIDs = IDPool(table: "ledger_transfers")
        lotIDs = IDPool(table: "point_lots")
        voucherIDs = IDPool(table: "loyalty_vouchers")
        applicationIDs = IDPool(table: "promotion_applications")
    }

    mutating func post(_ plans: [AccrualPlan]) async throws -> [PostedAccrual] {
        // Plans of one program share its promotions.
        var promotionsByProgram: [ProgramID: [CompiledPromotion]] = [:]
        for plan in plans where promotionsByProgram[plan.program.id] == nil { promotionsByProgram[plan.program.id] = plan.promotions }
        var promotions: [PromotionID: Promotion] = [:]
        for promotion in promotionsByProgram.values.joined() { promotions[promotion.promotion.id] = promotion.promotion }

        // 1. Accounts: members', liabilities, promotion budgets, locked (all but programs' own).
        var needed: [String: Int64] = [:]
        for plan in plans {
            needed[LedgerAccount.member(plan.member.id, .reward).key] = plan.program.id.rawValue
            needed[LedgerAccount.member(plan.member.id, .qualifying).key] = plan.program.id.rawValue
        }
        for (program, promotions) in promotionsByProgram {
            needed[LedgerAccount.liability(program, .reward).key] = program.rawValue
            needed[LedgerAccount.liability(program, .qualifying).key] = program.rawValue
            for promotion in promotions where promotion.promotion.budgetPoints != nil {
                needed[LedgerAccount.budget(promotion.promotion.id).key] = program.rawValue
            }
        }
        try await loadAccounts(needed)

        // 2. What the batch needs to know, read under the members' locks in one statement (or as
        // few as the binds allow): what was posted before (replays report and move nothing),
        // promotion usage of these members (applications so far, enrolments), the qualifying
        // history of tiered members since the earliest window start, what members of capped
        // programs earned in the months the batch touches, and each member's tier as stored now
        // (an earlier batch or request may have moved it since the caller read it).
        var reads = ReadBatch()
        let partitioned = keyTable == "ledger_transfer_keys"
        let keys = plans.flatMap { [$0.key, $0.qualifyingKey] }
        let postedParts = lists(keys).map { chunk in
            reads.add("SELECT idempotency_key FROM \(unsafeRaw: keyTable) WHERE idempotency_key \(oneOf: chunk)", .init(t: "idempotency_key"))
        }
        let appliedBeforeParts = lists(Array(Set(plans.map(\.purchase.externalID)))).map { chunk in
            reads.add(
                "SELECT DISTINCT member_id, reference FROM promotion_applications WHERE reference \(oneOf: chunk)",
                .init(a: "member_id", t: "reference"))
        }
        let members = Array(Set(plans.map(\.member.id.rawValue)))
        let limited = promotions.values.filter { $0.perMemberLimit != nil }.map(\.id.rawValue)
        let enrolling = promotions.values.filter(\.requiresEnrolment).map(\.id.rawValue)
        let appliedParts = limited.isEmpty ? [] : lists(members).map { chunk in
            reads.add(Self.promotionUses(limited, by: chunk), .init(a: "promotion_id", b: "member_id", c: "n"))
        }
        let enrolledParts = enrolling.isEmpty ? [] : lists(members).map { chunk in
            reads.add(
                "SELECT promotion_id, member_id FROM promotion_enrolments WHERE promotion_id \(oneOf: enrolling) AND member_id \(oneOf: chunk)",
                .init(a: "promotion_id", b: "member_id"))
        }
        // What counts toward tier: points earned or adjusted in, and claw-backs out. (A posting has
        // its transfer's time: the join reads one month's transfers, not every month's.)
        let tiered = plans.filter { $0.program.tierPolicy != nil }
        var qualifyingParts: [Int] = []
        if let earliest = tiered.map({ Self.windowStart(of: $0) }).min() {
            let ids = Array(Set(tiered.compactMap { accounts[.member($0.member.id, .qualifying)]?.id }))
            qualifyingParts = lists(ids).map { chunk in
                reads.add(
                    Self.postings(
                        partitioned: partitioned, of: chunk, since: earliest, transfer: "t.reason",
                        matching: "(x.points > 0 AND x.transfer IN ('accrual', 'adjustment') OR x.points < 0 AND x.transfer = 'clawback')"),
                    .init(a: "account_id", b: "occurred_at", c: "points"))
            }
        }
        let capped = plans.filter { $0.program.earningRules?.maxPerMonth != nil }
        var earnedParts: [Int] = []
        if let earliest = capped.map({ months.monthStart($0.at.epochSeconds) }).min() {
            var byProgram: [ProgramID: [Int64]] = [:]
            for plan in capped {
                if let account = accounts[.member(plan.member.id, .reward)] { byProgram[plan.program.id, default: []].append(account.id) }
            }
            for (program, ids) in byProgram {
                guard let liability = accounts[.liability(program, .reward)] else { continue }
                for chunk in lists(Array(Set(ids))) {
                    earnedParts.append(
                        reads.add(
                            Self.postings(
                                partitioned: partitioned, of: chunk, since: earliest, transfer: "t.reason || ':' || CAST(t.from_account AS TEXT)",
                                matching: "x.transfer = 'accrual:\(liability.id)'"),
                            .init(a: "account_id", b: "occurred_at", c: "points")))
                }
            }
        }
        let tierParts = lists(Array(Set(tiered.map(\.member.id.rawValue)))).map { chunk in
            reads.add("SELECT id, tier FROM loyalty_members WHERE id \(oneOf: chunk)", .init(a: "id", t: "tier"))
        }
        // Ids for what a group of API purchases will write, reserved from the sequences in the same
        // statement: most groups then need no round trip of their own for ids (IDPool.allocate
        // takes the rest). A purchase writes about two transfers and their lots, and an application
        // per promotion it earns; a number left unused is a gap in the sequence, as a rollback leaves.
        var reservedParts: [(pool: WritableKeyPath<AccrualWriter, IDPool>, part: Int)] = []
        if ids == .sequence, plans.count <= Self.reservingUpTo {
            for (pool, perPlan) in [(\AccrualWriter.transferIDs, 3), (\.lotIDs, 3), (\.applicationIDs, 2)] {
                reservedParts.append((pool, reads.add(IDPool.nextIDs(of: self[keyPath: pool].table, count: Int64(perPlan * plans.count)), .init(a: "id"))))
            }
        }
        let read = try await reads.run(db)
        func rows(_ parts: [Int]) -> [[SQLValue]] { parts.flatMap { read[$0] } }
        for (pool, part) in reservedParts { self[keyPath: pool].reserved += rows([part]).compactMap { $0[0].int }.sorted() }
        let postedBefore = Set(rows(postedParts).compactMap { $0[3].text })
        let appliedBefore = Set(rows(appliedBeforeParts).map { "\($0[0].int ?? 0):\($0[3].text ?? "")" })
        var applied: [PairKey: Int] = [:]
        for row in rows(appliedParts) { applied[PairKey(row[0].int ?? 0, row[1].int ?? 0)] = Int(row[2].int ?? 0) }
        let enrolled = Set(rows(enrolledParts).map { PairKey($0[0].int ?? 0, $0[1].int ?? 0) })
        var qualifyingHistory: [Int64: [(at: Int64, points: Int64)]] = [:]
        for row in rows(qualifyingParts) { qualifyingHistory[row[0].int ?? 0, default: []].append((row[1].int ?? 0, row[2].int ?? 0)) }
        var earnedInMonth: [PairKey: Int64] = [:]
        for row in rows(earnedParts) {
            earnedInMonth[PairKey(row[0].int ?? 0, months.monthStart(row[1].int ?? 0)), default: 0] += row[2].int ?? 0
        }
        var tiers: [MemberID: String?] = [:]
        for row in rows(tierParts) { tiers[MemberID(row[0].int ?? 0)] = .some(row[3].text) }

        // 3. Rewards that promotions give as vouchers, locked (their stock is taken below): after
        // the accounts, in ascending id, in one statement (the house order, SQLLedgerStore.lockAccounts).
        var rewards: [String: (id: Int64, stock: Int64?, validityDays: Int, active: Bool)] = [:]
        var given: [Int64: Set<String>] = [:]
        for promotion in promotions.values {
            if case .voucher(let code) = promotion.action { given[promotion.programID.rawValue, default: []].insert(code) }
        }
        if !given.isEmpty {
            let matches = given.sorted { $0.key < $1.key }.map { program, codes in
                "(program_id = \(bind: program) AND code IN (\(binds: codes.sorted())))" as SQLQueryString
            }
            for row in try await db.raw(
                "SELECT id, program_id, code, stock, validity_days, active FROM loyalty_rewards WHERE \(matches.joined(separator: " OR ")) ORDER BY id\(unsafeRaw: lockClause)"
            ).all() {
                rewards["\(try row.int64("program_id")):\(try row.string("code"))"] = (
                    try row.int64("id"), try row.optionalInt64("stock"), Int(try row.int64("validity_days")), try row.int64("active") != 0
                )
            }
        }
        var stockTaken: [Int64: Int64] = [:]

        // 4. Each purchase in order, against what the earlier ones in the batch did, starting from
        // each member's tier as stored now (under the accounts' locks).
        var tierChanges: [(member: Int64, from: String?, to: String, reason: String, at: Int64)] = []
        var results: [PostedAccrual] = []
        var seen: Set<String> = []
        var recordedPoints: [String: Int64] = [:]
        // Rows are written in chunks while the next chunk is evaluated: SQLite (or PostgreSQL)
        // inserts on its own thread while rules run on the other core.
        var writing: Task<Void, any Error>?
        let db = self.db, ids = self.ids, claimingKeys = keyTable == "ledger_transfer_keys", together = writesTogether
        do {
            for (number, plan) in plans.enumerated() {
                if number > 0 && number % chunk == 0 && !transfers.isEmpty {
                    try await writing?.value
                    let rows = try await takeRows()
                    writing = Task {
                        var writes = WriteBatch(together: together)
                        try await Self.insert(rows, into: db, ids: ids, claimingKeys: claimingKeys, writes: &writes)
                        try await writes.run(db)
                    }
                }
                let member = plan.member.id
                let planKey = plan.key, qualifyingKey = plan.qualifyingKey
                if postedBefore.contains(planKey) || postedBefore.contains(qualifyingKey) || seen.contains(planKey)
                    || appliedBefore.contains("\(member.rawValue):\(plan.purchase.externalID)")
                {
                    let key = LedgerAccount.member(member, .reward).key
                    if recordedPoints[plan.key] == nil {
                        recordedPoints[plan.key] = try await db.raw(
                            """
                            SELECT CAST(COALESCE(SUM(t.points), 0) AS BIGINT) AS n FROM ledger_transfers t JOIN ledger_accounts a ON a.id = t.to_account
                            WHERE t.reference = \(bind: plan.purchase.externalID) AND t.reason = 'accrual' AND a.key = \(bind: key)
                            """
                        ).first()!.int64("n")
                    }
                    results.append(
                        PostedAccrual(
                            member: member, accrual: Accrual(parts: [.init(source: "recorded", points: recordedPoints[plan.key] ?? 0)]), awards: [],
                            vouchers: [], newTier: nil, replayed: true))
                    continue
                }
                seen.insert(planKey)
                // What the purchase earns is Loyalty's to decide; this gathers what it needs and
                // writes what it decides.
                let tier = tiers[member] ?? plan.member.tier
                let at = plan.at.epochSeconds
                let memberReward = LedgerAccount.member(member, .reward)
                let month = accounts[memberReward].map { PairKey($0.id, months.monthStart(at)) }
                let qualifyingAccount = accounts[.member(member, .qualifying)]
                let program = plan.program.id
                // Moved out and back (not copied): the closures below read self while it is in use.
                var calendar = MonthCalendar()
                swap(&calendar, &months)
                defer { swap(&calendar, &months) }
                let decision = AccrualEngine.decide(
                    plan,
                    AccrualEngine.Inputs(
                        tier: tier, earnedThisMonth: month.flatMap { earnedInMonth[$0] } ?? 0,
                        qualifyingHistory: qualifyingAccount.flatMap { qualifyingHistory[$0.id] } ?? []),
                    calendar: &calendar,
                    usage: { p in
                        PromotionUsage(
                            memberApplications: applied[PairKey(p.id.rawValue, member.rawValue)] ?? 0,
                            budgetLeft: p.budgetPoints == nil ? nil : balance(.budget(p.id)),
                            enrolled: enrolled.contains(PairKey(p.id.rawValue, member.rawValue)))
                    },
                    reward: { code in
                        rewards["\(program.rawValue):\(code)"].map { r in (r.active, r.stock.map { $0 - (stockTaken[r.id] ?? 0) }) }
                    })
                let awards = decision.awards, qualifying = decision.qualifying
                let availableAt = decision.availableAt, expiresAt = decision.expiresAt
                if decision.extendsRollingExpiry, let expiresAt, let account = accounts[memberReward] {
                    extendedLots[account.id] = (at, expiresAt)
                }
                let reference = plan.purchase.externalID
                var mainKey: String? = planKey
                let fromLiability = decision.fromLiability
                if plan.program.earningRules?.maxPerMonth != nil, let month { earnedInMonth[month, default: 0] += fromLiability }
                if fromLiability > 0 {
                    credit(
                        from: .liability(program, .reward), to: memberReward, points: fromLiability, reference: reference,
                        key: mainKey, at: at, availableAt: availableAt, expiresAt: expiresAt, allowNegative: plan.program.allowNegativeBalance)
                    mainKey = nil
                }
                for award in awards where award.fromBudget && award.points > 0 {
                    credit(
                        from: .budget(award.promotion), to: memberReward, points: award.points, reference: reference,
                        key: mainKey ?? "\(planKey):promotion:\(award.promotion.rawValue)", at: at, availableAt: availableAt, expiresAt: expiresAt,
                        allowNegative: plan.program.allowNegativeBalance, memo: "promotion \(award.code)")
                    mainKey = nil
                }
                // What a replay of this purchase later in the batch reports.
                recordedPoints[planKey] =
                    max(fromLiability, 0) + awards.filter { $0.fromBudget && $0.points > 0 }.reduce(0) { $0 + $1.points }
                if qualifying > 0 {
                    credit(
                        from: .liability(program, .qualifying), to: .member(member, .qualifying), points: qualifying,
                        reference: reference, key: qualifyingKey, at: at, availableAt: availableAt, expiresAt: nil, allowNegative: false)
                }
                var issued: [Voucher] = []
                for award in awards {
                    var voucherID: Int64?
                    if let code = award.voucherReward, let reward = rewards["\(program.rawValue):\(code)"] {
                        let id = voucherIDs.next()
                        voucherID = id
                        if reward.stock != nil { stockTaken[reward.id, default: 0] += 1 }
                        let expires = plan.at.addingTimeInterval(TimeInterval(reward.validityDays) * 86_400)
                        let voucher = Voucher(
                            id: VoucherID(id), code: Voucher.newCode(program: plan.program.code), rewardID: RewardID(reward.id), memberID: member,
                            points: 0,
                            cash: nil, status: .issued, issuedAt: plan.at, expiresAt: expires, promotionID: award.promotion)
                        issued.append(voucher)
                        vouchers.append([
                            .integer(id), .text(voucher.code), .integer(reward.id), .integer(member.rawValue), .integer(0), .null, .null,
                            .text(Voucher.Status.issued.rawValue), .integer(at), .integer(expires.epochSeconds), .null,
                            .integer(award.promotion.rawValue),
                            .null, .null,
                        ])
                    }
                    applications.append([
                        .integer(applicationIDs.next()), .integer(award.promotion.rawValue), .integer(member.rawValue), .text(reference),
                        .integer(award.points), SQLValue(voucherID), .integer(plan.purchase.amount.minorUnits), .integer(at),
                    ])
                    applied[PairKey(award.promotion.rawValue, member.rawValue), default: 0] += 1
                }
                var newTier: String?
                if plan.program.tierPolicy != nil, let account = qualifyingAccount {
                    if qualifying > 0 { qualifyingHistory[account.id, default: []].append((at, qualifying)) }
                    if let upgrade = decision.upgrade {
                        tierChanges.append((member.rawValue, tier, upgrade.tier, upgrade.reason, at))
                        tiers[member] = upgrade.tier
                        newTier = upgrade.tier
                    }
                }
                let parts = decision.parts
                results.append(
                    PostedAccrual(member: member, accrual: Accrual(parts: parts), awards: awards, vouchers: issued, newTier: newTier, replayed: false)
                )
            }

        } catch {
            _ = try? await writing?.value
            throw error
        }

        // 5. Write what is left, the balances and tiers (one statement where the engine allows),
        // then expiry extensions and stock.
        try await writing?.value
        var writes = WriteBatch(together: writesTogether)
        try await Self.insert(try await takeRows(), into: db, ids: ids, claimingKeys: keyTable == "ledger_transfer_keys", writes: &writes)
        balanceWrites(&writes)
        // Tier changes set-wise: each member's last tier, and every change in its history in order
        // (a batch changed 4,295 tiers of 10,000 members, two statements each).
        var lastTier: [Int64: String] = [:]
        for change in tierChanges { lastTier[change.member] = change.to }
        for v in ListedRows.statements(
            lastTier.sorted { $0.key < $1.key }.map { [.integer($0.key), .text($0.value)] }, columns: [.integer("member"), .text("tier")], arrays: bindsArrays)
        {
            writes.add("UPDATE loyalty_members SET tier = v.tier FROM \(v) WHERE loyalty_members.id = v.member", binds: v.binds(arrays: bindsArrays))
        }
        writes.insert(
            into: "tier_history", columns: ["member_id", "from_tier", "to_tier", "reason", "changed_at"],
            rows: tierChanges.map { [.integer($0.member), SQLValue($0.from), .text($0.to), .text($0.reason), .integer($0.at)] })
        try await writes.run(db)
        // Rolling expiry: a purchase extends every lot of the member still alive at that moment.
        for (account, extension_) in extendedLots.sorted(by: { $0.key < $1.key }) {
            try await db.raw(
                """
                UPDATE point_lots SET expires_at = \(bind: extension_.expiresAt) WHERE account_id = \(bind: account) AND remaining > 0
                AND expires_at IS NOT NULL AND expires_at > \(bind: extension_.activity) AND expires_at < \(bind: extension_.expiresAt)
                """
            ).run()
        }
        for (reward, taken) in stockTaken {
            try await db.raw("UPDATE loyalty_rewards SET stock = stock - \(bind: taken) WHERE id = \(bind: reward)").run()
        }
        // Vouchers' ids are known only now.
        return results.map { result in
            var result = result
            result.vouchers = result.vouchers.map { voucher in
                var voucher = voucher
                voucher.id = VoucherID(voucherIDs.id(voucher.id.rawValue))
                return voucher
            }
            return result
        }
    }

    /// The rows written since the last call, with real ids in place of local ones.
    struct Rows: Sendable {
        var transfers: [[SQLValue]]
        var postings: [[SQLValue]]
        var lots: [[SQLValue]]
        var lotMovements: [[SQLValue]]
        var vouchers: [[SQLValue]]
        var applications: [[SQLValue]]
        /// The transfers' ids, one run on SQLite.
        var transferIDs: ClosedRange<Int64>?
    }

    /// Reserves ids for the rows collected since the last call and hands them over. A plan's rows
    /// refer only to each other, and rows are taken between plans, so every reference resolves.
    mutating func takeRows() async throws -> Rows {
        let firstTransfer = transferIDs.allocated + 1
        var pools = [transferIDs, lotIDs, voucherIDs, applicationIDs]
        try await IDPool.allocate(&pools, db, ids: ids)
        (transferIDs, lotIDs, voucherIDs, applicationIDs) = (pools[0], pools[1], pools[2], pools[3])
        func resolve(_ rows: [[SQLValue]], columns: [Int: IDPool]) -> [[SQLValue]] {
            rows.map { row in
                var row = row
                for (index, pool) in columns { if case .integer(let local) = row[index] { row[index] = .integer(pool.id(local)) } }
                return row
            }
        }
        let rows = Rows(
            transfers: resolve(transfers, columns: [0: transferIDs]), postings: resolve(postings, columns: [0: transferIDs]),
            lots: resolve(lots, columns: [0: lotIDs, 2: transferIDs]), lotMovements: resolve(lotMovements, columns: [0: lotIDs, 1: transferIDs]),
            vouchers: resolve(vouchers, columns: [0: voucherIDs]), applications: resolve(applications, columns: [0: applicationIDs, 5: voucherIDs]),
            transferIDs: transferIDs.count >= firstTransfer ? transferIDs.id(firstTransfer)...transferIDs.id(transferIDs.count) : nil)
        transfers.removeAll(keepingCapacity: true)
        postings.removeAll(keepingCapacity: true)
        lots.removeAll(keepingCapacity: true)
        lotMovements.removeAll(keepingCapacity: true)
        vouchers.removeAll(keepingCapacity: true)
        applications.removeAll(keepingCapacity: true)
        return rows
    }

    /// Inserts rows taken by ``takeRows()``, each table with bulk statements.
    /// - Parameter claimingKeys: the transfers' idempotency keys have a key table
    ///   (`ledger_transfer_keys`, partitioned PostgreSQL): from ``copyThreshold`` transfers they are
    ///   written to it set-wise, and its per-row trigger stands aside. A key already there fails
    ///   the write with a unique violation, as the trigger would.
    ///
    /// The rows go to `writes`, in order (the caller runs it), except what must be written at once:
    /// transfers whose keys are claimed set-wise, and SQLite's postings read off their transfers.
    static func insert(
        _ rows: Rows, into db: any SQLDatabase, ids: SQLCapabilities.IDSource, claimingKeys: Bool, writes: inout WriteBatch
    ) async throws {
        let columns = ["id", "program_id", "from_account", "to_account", "points", "reason", "reference", "idempotency_key", "memo", "occurred_at"]
        if claimingKeys, rows.transfers.count >= copyThreshold {
            let keys: [[SQLValue]] = rows.transfers.compactMap { row in row[7] == .null ? nil : [row[7], row[0], row[9]] }
            try await MonthlyPartitions.withKeysClaimed(db, in: "ledger_transfer_keys") {
                _ = try await insertRows(db, into: "ledger_transfer_keys", columns: ["idempotency_key", "transfer_id", "occurred_at"], rows: keys)
                _ = try await insertRows(db, into: "ledger_transfers", columns: columns, rows: rows.transfers)
            }
        } else {
            writes.insert(into: "ledger_transfers", columns: columns, rows: rows.transfers)
        }
        switch (ids, rows.transferIDs) {
        case (.afterLargest, let ids?):
            // The transfers' ids are one run on SQLite's single writer: their postings are read off
            // them inside the database, instead of binding four values a posting — after the
            // transfers are written.
            try await writes.run(db)
            try await db.raw(
                """
                INSERT INTO ledger_postings (transfer_id, account_id, points, occurred_at)
                SELECT id, from_account, -points, occurred_at FROM ledger_transfers WHERE id BETWEEN \(bind: ids.lowerBound) AND \(bind: ids.upperBound)
                UNION ALL SELECT id, to_account, points, occurred_at FROM ledger_transfers WHERE id BETWEEN \(bind: ids.lowerBound) AND \(bind: ids.upperBound)
                """
            ).run()
        case (.afterLargest, nil): break
        case (.sequence, _):
            writes.insert(into: "ledger_postings", columns: ["transfer_id", "account_id", "points", "occurred_at"], rows: rows.postings)
        }
        writes.insert(
            into: "point_lots", columns: ["id", "account_id", "transfer_id", "points", "remaining", "available_at", "expires_at"], rows: rows.lots)
        writes.insert(into: "lot_movements", columns: ["lot_id", "transfer_id", "points"], rows: rows.lotMovements)
        writes.insert(
            into: "loyalty_vouchers",
            columns: [
                "id", "code", "reward_id", "member_id", "points", "cash_minor", "cash_currency", "status", "issued_at", "expires_at", "closed_at",
                "promotion_id", "transfer_id", "idempotency_key",
            ], rows: rows.vouchers)
        writes.insert(
            into: "promotion_applications",
            columns: ["id", "promotion_id", "member_id", "reference", "points", "voucher_id", "amount_minor", "applied_at"], rows: rows.applications)
    }

    /// The postings of `accounts` since `since` whose transfer matches: `transfer` is an expression
    /// of the transfer `t`, and `matching` a condition on `x.transfer` and the posting's `x.points`.
    ///
    /// On partitioned PostgreSQL a group of API purchases reads few postings, and each one's
    /// transfer is looked up by its key (a scalar subquery, which the planner never turns into a
    /// join): with a join, a month's partition filled since its last `ANALYZE` looked empty to the
    /// planner, which hashed every transfer of the month — 5.6 ms of a group's 6.4 ms read, measured
    /// under 32 clients (#18). Many postings (a batch) are joined.
    static func postings(partitioned: Bool, of accounts: [Int64], since: Int64, transfer: String, matching: String) -> SQLQueryString {
        if partitioned, accounts.count <= 256 {
            return """
                SELECT x.account_id, x.occurred_at, x.points FROM (
                  SELECT p.account_id, p.occurred_at, p.points,
                    (SELECT \(unsafeRaw: transfer) FROM ledger_transfers t WHERE t.id = p.transfer_id AND t.occurred_at = p.occurred_at) AS transfer
                  FROM ledger_postings p WHERE p.account_id \(oneOf: accounts) AND p.occurred_at >= \(bind: since) OFFSET 0
                ) x WHERE \(unsafeRaw: matching)
                """
        }
        return """
            SELECT x.account_id, x.occurred_at, x.points FROM (
              SELECT p.account_id, p.occurred_at, p.points, \(unsafeRaw: transfer) AS transfer
              FROM ledger_postings p JOIN ledger_transfers t ON t.id = p.transfer_id AND t.occurred_at = p.occurred_at
              WHERE p.account_id \(oneOf: accounts) AND p.occurred_at >= \(bind: since) AND t.occurred_at >= \(bind: since)
            ) x WHERE \(unsafeRaw: matching)
            """
    }

    /// How many times each of `members` had each of `promotions` applied (per-member limits),
    /// through the applications' member index (migration `volume-4-applications-by-member`).
    static func promotionUses(_ promotions: [Int64], by members: [Int64]) -> SQLQueryString {
        """
        SELECT promotion_id, member_id, COUNT(*) AS n FROM promotion_applications WHERE member_id \(oneOf: members)
        AND promotion_id \(oneOf: promotions) GROUP BY promotion_id, member_id
        """
    }

    static func windowStart(of plan: AccrualPlan) -> Int64 {
        guard let policy = plan.program.tierPolicy else { return plan.at.epochSeconds }
        return policy.periodStart(at: plan.at).epochSeconds
    }

    func balance(_ key: LedgerAccount) -> Int64 {
        guard let account = accounts[key] else { return 0 }
        return account.balance + (balanceDelta[account.id] ?? 0)
    }

    /// Reads (creating at zero) the accounts, locking them on PostgreSQL — all but programs' own
    /// accounts, which are neither locked nor read once their id is known (``StripedBalances``).
    mutating func loadAccounts(_ needed: [String: Int64]) async throws {
        accounts.merge(
            try await SQLLedgerStore.readAccounts(db, Array(needed.keys), lockClause: lockClause, programAccounts: programAccounts, remembering: true)
        ) { _, read in read }
        let missing = needed.filter { key, _ in SQLLedgerStore.account(fromKey: key).map { accounts[$0] == nil } ?? false }
        guard !missing.isEmpty else { return }
        let rows: [[SQLValue]] = missing.sorted { $0.key < $1.key }.map { key, program in
            let account = SQLLedgerStore.account(fromKey: key)
            let member: Int64? = if case .member(let id, _)? = account { id.rawValue } else { nil }
            return [.text(key), .integer(program), SQLValue(member), .text(account?.pointType.rawValue ?? "reward"), .integer(0), .integer(0)]
        }
        _ = try await insertRows(
            db, into: "ledger_accounts", columns: ["key", "program_id", "member_id", "point_type", "balance", "debt"], rows: rows,
            suffix: "ON CONFLICT (key) DO NOTHING")
        accounts.merge(
            try await SQLLedgerStore.readAccounts(db, Array(missing.keys), lockClause: lockClause, programAccounts: programAccounts, remembering: false)
        ) { _, made in made }
    }

    /// Records a credit into a member's account with its lot, repaying a claw-back debt first.
    /// Ids in the rows are local until ``IDPool/allocate`` maps them.
    mutating func credit(
        from source: LedgerAccount, to target: LedgerAccount, points: Int64, reference: String, key: String?, at: Int64, availableAt: Int64,
        expiresAt: Int64?, allowNegative: Bool, memo: String? = nil
    ) {
        let from = accounts[source]!, to = accounts[target]!
        let transfer = record(from: from, to: to, points: points, reason: .accrual, reference: reference, key: key, memo: memo, at: at)
        let lot = lotIDs.next()
        let (repay, remaining) = AccrualEngine.repayment(credit: points, debt: to.debt + (debtDelta[to.id] ?? 0))
        if repay > 0 {
            debtDelta[to.id, default: 0] -= repay
            if !allowNegative {
                let repayment = record(
                    from: to, to: accounts[Self.repaymentAccount(source: source, target: target, program: to.programID)]!,
                    points: repay, reason: .debtRepayment, reference: reference, key: nil, memo: "repays a claw-back debt", at: at)
                lotMovements.append([.integer(lot), .integer(repayment), .integer(repay)])
            }
        }
        lots.append([
            .integer(lot), .integer(to.id), .integer(transfer), .integer(points), .integer(remaining), .integer(availableAt), SQLValue(expiresAt),
        ])
    }

    /// A debt is repaid to the liability the points came from (a budget's points repay the program's liability).
    static func repaymentAccount(source: LedgerAccount, target: LedgerAccount, program: Int64) -> LedgerAccount {
        guard case .budget = source, case .member(_, let type) = target else { return source }
        return .liability(ProgramID(program), type)
    }

    mutating func record(
        from: Account, to: Account, points: Int64, reason: TransferReason, reference: String?, key: String?, memo: String?, at: Int64
    ) -> Int64 {
        let id = transferIDs.next()
        transfers.append([
            .integer(id), .integer(to.programID), .integer(from.id), .integer(to.id), .integer(points), .text(reason.rawValue), SQLValue(reference),
            SQLValue(key), SQLValue(memo), .integer(at),
        ])
        if ids == .sequence {
            postings.append([.integer(id), .integer(from.id), .integer(-points), .integer(at)])
            postings.append([.integer(id), .integer(to.id), .integer(points), .integer(at)])
        }
        balanceDelta[from.id, default: 0] -= points
        balanceDelta[to.id, default: 0] += points
        return id
    }

    /// Adds the balance changes to `writes`: members' and budgets' accounts updated, programs' own
    /// added to a stripe (last, so that where statements run one by one the stripe is held for as
    /// short a time as possible). One update on PostgreSQL, one per thousand accounts on SQLite (``ListedRows``).
    func balanceWrites(_ writes: inout WriteBatch) {
        let stripedIDs = Set(accounts.values.filter(\.striped).map(\.id))
        let changed = Set(balanceDelta.keys.filter { !stripedIDs.contains($0) }).union(debtDelta.keys).sorted()
        for (statement, binds) in Self.balanceUpdates(changed.map { [$0, balanceDelta[$0] ?? 0, debtDelta[$0] ?? 0] }, arrays: bindsArrays) {
            writes.add(statement, binds: binds)
        }
        if let stripes = StripedBalances.statement(balanceDelta.filter { stripedIDs.contains($0.key) }.map { ($0.key, $0.value) }) {
            writes.add(stripes.sql, binds: stripes.binds)
        }
    }
}

extension AccrualWriter {
    /// The combined read's lists (``lists(_:arrays:of:)``): chunks of 5,000 members' postings were each
    /// merge-joined to every transfer since the window's start again, ten times for 50,000 members.
    func lists<T>(_ items: [T]) -> [[T]] { Storage.lists(items, arrays: bindsArrays, of: 5000) }

    /// Accounts' balances and debts changed by (account, balance change, debt change) rows
    /// (``ListedRows``): one statement on PostgreSQL, one per thousand accounts on SQLite.
    static func balanceUpdates(_ rows: [[Int64]], arrays: Bool) -> [(SQLQueryString, binds: Int)] {
        ListedRows.statements(rows.map { $0.map(SQLValue.integer) }, columns: [.integer("account"), .integer("delta"), .integer("debt_delta")], arrays: arrays).map { v in
            (
                "UPDATE ledger_accounts SET balance = balance + v.delta, debt = debt + v.debt_delta FROM \(v) WHERE ledger_accounts.id = v.account",
                v.binds(arrays: arrays)
            )
        }
    }
}

/// Row ids handed out before the rows are written: local numbers first, mapped to real ids
/// reserved in one query (the next ids on SQLite's single writer; the sequence on PostgreSQL).
struct IDPool {
    let table: String
    /// Local ids handed out.
    var count: Int64 = 0
    /// Local ids with a real id reserved.
    var allocated: Int64 = 0
    /// SQLite: the table's largest id before this writer's rows.
    var first: Int64?
    /// PostgreSQL: the real ids, by local id.
    var reserved: [Int64] = []

    init(table: String) { self.table = table }

    /// A local id, 1-based.
    mutating func next() -> Int64 {
        count += 1
        return count
    }

    /// Reserves ids for the local ids handed out since the last call: on SQLite one query reads
    /// the largest id of each table not read yet (the writer is alone and its own rows follow on,
    /// so the next ids are free); on PostgreSQL each pool takes what it needs from its sequence.
    static func allocate(_ pools: inout [IDPool], _ db: any SQLDatabase, ids: SQLCapabilities.IDSource) async throws {
        let used = pools.indices.filter { pools[$0].count > pools[$0].allocated }
        guard !used.isEmpty else { return }
        switch ids {
        case .afterLargest:
            let unread = used.filter { pools[$0].first == nil }
            if !unread.isEmpty {
                let columns = unread.map { "(SELECT COALESCE(MAX(id), 0) FROM \"\(pools[$0].table)\") AS p\($0)" }
                let row = try await db.raw(SQLQueryString("SELECT " + columns.joined(separator: ", "))).first()!
                for index in unread { pools[index].first = try row.int64("p\(index)") }
            }
        case .sequence:
            // Every pool from its sequence in one statement, each pool's ids in order; a pool
            // that reserved enough ahead (AccrualWriter.post) takes none.
            let short = used.filter { pools[$0].count > Int64(pools[$0].reserved.count) }
            if !short.isEmpty {
                let parts = short.map { index -> SQLQueryString in
                    "SELECT CAST(\(literal: index) AS BIGINT) AS pool, q.id FROM ("
                        + nextIDs(of: pools[index].table, count: pools[index].count - Int64(pools[index].reserved.count)) + ") AS q"
                }
                var taken: [Int: [Int64]] = [:]
                for row in try await db.raw(parts.joined(separator: " UNION ALL ")).all() {
                    taken[Int(try row.int64("pool")), default: []].append(try row.int64("id"))
                }
                for index in short { pools[index].reserved += (taken[index] ?? []).sorted() }
            }
        }
        for index in used { pools[index].allocated = pools[index].count }
    }

    func id(_ local: Int64) -> Int64 { first.map { $0 + local } ?? reserved[Int(local - 1)] }

    /// `count` ids taken from `table`'s sequence (PostgreSQL), a row each, as `id`.
    static func nextIDs(of table: String, count: Int64) -> SQLQueryString {
        "SELECT nextval((SELECT pg_get_serial_sequence(\(bind: table), 'id'))::regclass) AS id FROM generate_series(1, \(bind: count))"
    }
}

/// A promotion and a member, as a dictionary key.
struct PairKey: Hashable {
    let first: Int64, second: Int64
    init(_ first: Int64, _ second: Int64) {
        self.first = first
        self.second = second
    }
}

