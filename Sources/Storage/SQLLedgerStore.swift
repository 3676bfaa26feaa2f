import Customers
import Foundation
import Loyalty
import SQLKit
import SharedModels

/// Programs, memberships and the double-entry points ledger over SQLKit.
///
/// Every movement runs in one write transaction: the transfer, its two postings, both account
/// balances, the lots it creates or consumes and their movements. On PostgreSQL the member's
/// account row is locked first (`SELECT … FOR UPDATE`), so concurrent spends of one balance
/// queue up; SQLite has a single writer, which gives the same guarantee.
public struct SQLLedgerStore: LoyaltyStore {
    let database: any Database
    /// Purchases evaluated between two writes of a batch's rows (``AccrualWriter``).
    let accrualChunk: Int
    /// The ids of programs' own accounts, which never change once made (``StripedBalances``).
    let programAccounts = ProgramAccountIDs()

    public init(database: any Database, accrualChunk: Int = 16_384) {
        precondition(accrualChunk > 0)
        self.database = database
        self.accrualChunk = accrualChunk
    }

    var lockClause: String { database.capabilities.rowLock }

    // MARK: Programs and members

    public func insertProgram(
        code: String, name: String, valuePerThousandPoints: Money, expiryMonths: Int?, expiryStyle: Program.ExpiryStyle, pendingDays: Int,
        allowNegativeBalance: Bool, at: Date
    ) async throws -> Program {
        let id = try await database.write { db in
            if try await db.raw("SELECT id FROM loyalty_programs WHERE code = \(bind: code)").first() != nil {
                throw LoyaltyError.programCodeTaken(code)
            }
            return try await db.raw(
                """
                INSERT INTO loyalty_programs (code, name, value_per_thousand_minor, currency, expiry_months, expiry_style, pending_days, allow_negative,
                created_at)
                VALUES (\(bind: code), \(bind: name), \(bind: valuePerThousandPoints.minorUnits), \(bind: valuePerThousandPoints.currency),
                \(bind: expiryMonths.map(Int64.init)), \(bind: expiryStyle.code), \(bind: Int64(pendingDays)), \(bind: Int64(allowNegativeBalance ? 1 : 0)),
                \(bind: at.epochSeconds))
                RETURNING id
                """
            ).first()!.int64("id")
        }
        return try await program(ProgramID(id))!
    }

    public func program(_ id: ProgramID) async throws -> Program? {
        try await database.read { db in
            try await db.raw("SELECT * FROM loyalty_programs WHERE id = \(bind: id.rawValue)").first().map(Self.decodeProgram)
        }
    }

    public func programs() async throws -> [Program] {
        try await database.read { db in try await db.raw("SELECT * FROM loyalty_programs ORDER BY id").all().map(Self.decodeProgram) }
    }

    static func decodeProgram(_ row: any SQLRow) throws -> Program {
        Program(
            id: ProgramID(try row.int64("id")), code: try row.string("code"), name: try row.string("name"),
            valuePerThousandPoints: Money(minorUnits: try row.int64("value_per_thousand_minor"), currency: try row.string("currency")),
            expiryMonths: try row.optionalInt64("expiry_months").map { Int($0) }, pendingDays: Int(try row.int64("pending_days")),
            allowNegativeBalance: try row.int64("allow_negative") != 0,
            earningRules: try row.optionalString("earning_rules").map { try ColumnJSON.decode(EarningRules.self, from: $0) },
            tierPolicy: try row.optionalString("tier_policy").map { try ColumnJSON.decode(TierPolicy.self, from: $0) },
            transferLimitPerYear: try row.optionalInt64("transfer_limit_yearly"), referralPoints: try row.optionalInt64("referral_points"),
            expiryStyle: Program.ExpiryStyle(code: try row.string("expiry_style")) ?? .afterEarning, createdAt: try row.date("created_at"))
    }

    public func enroll(_ customer: CustomerID, in program: ProgramID, at: Date) async throws -> Member {
        let id = try await database.write { db in
            if try await db.raw(
                "SELECT id FROM loyalty_members WHERE program_id = \(bind: program.rawValue) AND customer_id = \(bind: customer.rawValue)"
            ).first() != nil {
                throw LoyaltyError.alreadyEnrolled(customer, program)
            }
            let code = try await db.raw("SELECT code FROM loyalty_programs WHERE id = \(bind: program.rawValue)").first()!.string("code")
            let id = try await db.raw(
                """
                INSERT INTO loyalty_members (program_id, customer_id, enrolled_at)
                VALUES (\(bind: program.rawValue), \(bind: customer.rawValue), \(bind: at.epochSeconds)) RETURNING id
                """
            ).first()!.int64("id")
            let number = code + String(repeating: "0", count: max(0, 9 - String(id).count)) + String(id)
            let policy = try await db.raw("SELECT tier_policy FROM loyalty_programs WHERE id = \(bind: program.rawValue)").first()?
                .optionalString("tier_policy")
            let entry = try policy.map { try ColumnJSON.decode(TierPolicy.self, from: $0).entry.name }
            try await db.raw("UPDATE loyalty_members SET number = \(bind: number), tier = \(bind: entry) WHERE id = \(bind: id)").run()
            return id
        }
        return try await member(MemberID(id))!
    }

    public func member(_ id: MemberID) async throws -> Member? {
        try await database.read { db in
            try await db.raw("SELECT * FROM loyalty_members WHERE id = \(bind: id.rawValue)").first().map(Self.decodeMember)
        }
    }

    public func members(holding number: String) async throws -> [Member] {
        try await database.read { db in
            try await db.raw(
                """
                SELECT * FROM loyalty_members WHERE number = \(bind: number)
                  OR id IN (SELECT member_id FROM loyalty_cards WHERE number = \(bind: number))
                  OR id IN (SELECT member_id FROM loyalty_vouchers WHERE code = \(bind: number))
                ORDER BY id LIMIT 20
                """
            ).all().map(Self.decodeMember)
        }
    }

    static func decodeMember(_ row: any SQLRow) throws -> Member {
        Member(
            id: MemberID(try row.int64("id")), programID: ProgramID(try row.int64("program_id")),
            customerID: CustomerID(try row.int64("customer_id")),
            number: try row.string("number"), tier: try row.optionalString("tier"), enrolledAt: try row.date("enrolled_at"))
    }

    public func memberships(of customer: CustomerID) async throws -> [Member] {
        try await database.read { db in
            try await db.raw("SELECT * FROM loyalty_members WHERE customer_id = \(bind: customer.rawValue) ORDER BY id").all().map(Self.decodeMember)
        }
    }

    /// Marks a change to a program's rules or promotions.
    static func bumpRevision(_ db: any SQLDatabase, _ program: ProgramID) async throws {
        try await db.raw("UPDATE loyalty_programs SET revision = revision + 1 WHERE id = \(bind: program.rawValue)").run()
    }

    public func revisions(of programs: Set<ProgramID>) async throws -> [ProgramID: Int64] {
        guard !programs.isEmpty else { return [:] }
        return try await database.read { db in
            var found: [ProgramID: Int64] = [:]
            for row in try await db.raw("SELECT id, revision FROM loyalty_programs WHERE id IN (\(binds: programs.map(\.rawValue)))").all() {
                found[ProgramID(try row.int64("id"))] = try row.int64("revision")
            }
            return found
        }
    }

    public func memberships(among customers: Set<CustomerID>) async throws -> (members: [CustomerID: [Member]], revisions: [ProgramID: Int64]) {
        guard !customers.isEmpty else { return ([:], [:]) }
        return try await database.read { db in
            var found: [CustomerID: [Member]] = [:], revisions: [ProgramID: Int64] = [:]
            for chunk in chunks(customers.map(\.rawValue), of: 5000) {
                for row in try await db.raw(
                    """
                    SELECT m.*, p.revision AS program_revision FROM loyalty_members m JOIN loyalty_programs p ON p.id = m.program_id
                    WHERE m.customer_id \(oneOf: Array(chunk)) ORDER BY m.id
                    """
                ).all() {
                    let member = try Self.decodeMember(row)
                    found[member.customerID, default: []].append(member)
                    revisions[member.programID] = try row.int64("program_revision")
                }
            }
            return (found, revisions)
        }
    }

    public func configure(_ program: ProgramID, rules: EarningRules?, tiers: TierPolicy?) async throws {
        let rulesJSON = try rules.map { try ColumnJSON.encode($0) }
        let tiersJSON = try tiers.map { try ColumnJSON.encode($0) }
        try await database.write { db in
            try await db.raw(
                "UPDATE loyalty_programs SET earning_rules = \(bind: rulesJSON), tier_policy = \(bind: tiersJSON) WHERE id = \(bind: program.rawValue)"
            ).run()
            try await Self.bumpRevision(db, program)
            if let entry = tiers?.entry.name {
                try await db.raw("UPDATE loyalty_members SET tier = \(bind: entry) WHERE program_id = \(bind: program.rawValue) AND tier IS NULL")
                    .run()
            }
        }
    }

    public func setTier(_ tier: String, for member: MemberID, reason: String, at: Date) async throws {
        try await database.write { db in
            let from = try await db.raw("SELECT tier FROM loyalty_members WHERE id = \(bind: member.rawValue)\(unsafeRaw: lockClause)").first()?
                .optionalString("tier")
            try await db.raw("UPDATE loyalty_members SET tier = \(bind: tier) WHERE id = \(bind: member.rawValue)").run()
            try await db.raw(
                """
                INSERT INTO tier_history (member_id, from_tier, to_tier, reason, changed_at)
                VALUES (\(bind: member.rawValue), \(bind: from), \(bind: tier), \(bind: reason), \(bind: at.epochSeconds))
                """
            ).run()
        }
    }

    public func qualifyingPoints(of member: MemberID, since date: Date) async throws -> Int64 {
        try await database.read { db in
            try await db.raw(
                """
                SELECT CAST(COALESCE(SUM(CASE WHEN t.to_account = a.id THEN t.points ELSE -t.points END), 0) AS BIGINT) AS n
                FROM ledger_transfers t JOIN ledger_accounts a ON a.key = \(bind: LedgerAccount.member(member, .qualifying).key)
                WHERE (t.to_account = a.id AND t.reason IN ('accrual', 'adjustment') OR t.from_account = a.id AND t.reason = 'clawback')
                AND t.occurred_at >= \(bind: date.epochSeconds)
                """
            ).first()!.int64("n")
        }
    }

    // MARK: Accounts and transfers

    /// An account as a transaction found it. A program's own account (``StripedBalances``) is not
    /// locked and its `balance` is not read (0 here): nothing checks it.
    struct AccountRow {
        let id: Int64
        let balance: Int64
        let debt: Int64
        var programID: Int64 = 0
        /// A program's own account: its balance changes go to a stripe (``StripedBalances``).
        var striped = false
    }

    /// The accounts of `keys` that exist: members' and budgets' read and locked (on PostgreSQL)
    /// in ascending id, programs' own accounts neither locked nor read once their id is known.
    /// Only ids read when `remembering` are kept for later transactions: a caller that made
    /// accounts in this transaction reads them back without, as they would not exist should it
    /// roll back.
    static func readAccounts(
        _ db: any SQLDatabase, _ keys: [String], lockClause: String, programAccounts: ProgramAccountIDs, remembering: Bool
    ) async throws -> [LedgerAccount: AccountRow] {
        var rows: [LedgerAccount: AccountRow] = [:]
        var locking: [String] = [], unknown: [String] = []
        for key in Set(keys) {
            guard let account = account(fromKey: key) else { continue }
            if !StripedBalances.applies(to: account) {
                locking.append(key)
            } else if let id = programAccounts.id(of: key) {
                rows[account] = AccountRow(id: id, balance: 0, debt: 0, programID: account.program?.rawValue ?? 0, striped: true)
            } else {
                unknown.append(key)
            }
        }
        for chunk in chunks(locking.sorted(), of: 5000) {
            for row in try await readRows(
                db,
                "SELECT id, key, balance, debt, program_id FROM ledger_accounts WHERE key \(oneOf: Array(chunk)) ORDER BY id\(unsafeRaw: lockClause)",
                columns: ["id", "key", "balance", "debt", "program_id"])
            {
                guard case .text(let key) = row[1], let account = account(fromKey: key), let id = row[0].int, let balance = row[2].int,
                    let debt = row[3].int, let programID = row[4].int
                else { continue }
                rows[account] = AccountRow(id: id, balance: balance, debt: debt, programID: programID)
            }
        }
        for chunk in chunks(unknown.sorted(), of: 5000) {
            for row in try await db.raw("SELECT id, key, program_id FROM ledger_accounts WHERE key IN (\(binds: Array(chunk)))").all() {
                let key = try row.string("key"), id = try row.int64("id")
                guard let account = account(fromKey: key) else { continue }
                if remembering { programAccounts.remember(key, id) }
                rows[account] = AccountRow(id: id, balance: 0, debt: 0, programID: try row.int64("program_id"), striped: true)
            }
        }
        return rows
    }

    /// Reads the accounts a transaction moves points between, creating missing ones at zero, and on
    /// PostgreSQL locks them (all but programs' own, ``StripedBalances``) at once in the ledger's
    /// one lock order, ascending account id.
    ///
    /// Every transaction that changes balances locks its accounts through ``readAccounts`` (the
    /// accrual writer its batch's accounts too), so two transactions never hold one account
    /// each while waiting for the other's: a transfer from A to B and one from B to A queue up
    /// instead of deadlocking. On SQLite the single writer gives the same guarantee.
    ///
    /// The house order around them: the row a change is about (a voucher, a promotion) first,
    /// then accounts, then rewards' rows (ascending id), whose stock many members share and which
    /// are therefore held for the shortest time. A redemption locks the member's account before
    /// the reward; a purchase whose promotion gives the reward, and a cancelled voucher that
    /// gives it back, lock their accounts before it too. Were one of them the other way round, a
    /// redemption and a purchase of the same member would each hold what the other waits for.
    func lockAccounts(_ db: any SQLDatabase, _ accounts: [LedgerAccount], program: Int64) async throws -> [LedgerAccount: AccountRow] {
        let wanted = Set(accounts)
        var rows = try await Self.readAccounts(db, wanted.map(\.key), lockClause: lockClause, programAccounts: programAccounts, remembering: true)
        let missing = wanted.filter { rows[$0] == nil }
        guard !missing.isEmpty else { return rows }
        for account in missing.sorted(by: { $0.key < $1.key }) {
            let memberID: Int64? = if case .member(let member, _) = account { member.rawValue } else { nil }
            try await db.raw(
                """
                INSERT INTO ledger_accounts (key, program_id, member_id, point_type, balance, debt)
                VALUES (\(bind: account.key), \(bind: account.program?.rawValue ?? program), \(bind: memberID), \(bind: account.pointType.rawValue), 0, 0)
                ON CONFLICT (key) DO NOTHING
                """
            ).run()
        }
        rows.merge(
            try await Self.readAccounts(db, missing.map(\.key), lockClause: lockClause, programAccounts: programAccounts, remembering: false)
        ) { _, made in made }
        return rows
    }

    func programID(_ db: any SQLDatabase, of member: MemberID) async throws -> Int64 {
        guard let row = try await db.raw("SELECT program_id FROM loyalty_members WHERE id = \(bind: member.rawValue)").first() else {
            throw LoyaltyError.memberNotFound(member)
        }
        return try row.int64("program_id")
    }

    /// Writes a transfer, its two postings and both balances (a program's own account's into a
    /// stripe), and takes `takings` from the source's lots for it. On PostgreSQL it is one
    /// statement (a data-modifying `WITH`), where it was six round trips, each of them time the
    /// member's account, and the stripe, stayed locked (#18: a redemption's stripe waited 0.4 ms
    /// on average under 32 clients).
    func post(
        _ db: any SQLDatabase, program: Int64, from source: AccountRow, to target: AccountRow, points: Int64, reason: TransferReason,
        reference: String?,
        key: String?, memo: String?, at: Date, consuming takings: [(lot: LotID, points: Int64)] = []
    ) async throws -> Int64 {
        let from = source.id, to = target.id
        precondition(points > 0 && from != to, "a transfer moves a positive amount between two accounts")
        let transfer: SQLQueryString = """
            INSERT INTO ledger_transfers (program_id, from_account, to_account, points, reason, reference, idempotency_key, memo, occurred_at)
            VALUES (\(bind: program), \(bind: from), \(bind: to), \(bind: points), \(bind: reason.rawValue), \(bind: reference), \(bind: key),
            \(bind: memo), \(bind: at.epochSeconds)) RETURNING id
            """
        // Members' and budgets' rows in one statement, programs' own accounts in their stripes.
        let changes = [(source, -points), (target, points)]
        let balances = Self.addStatement(changes.filter { !$0.0.striped }.map { ($0.0.id, $0.1) }, to: "ledger_accounts", column: "balance")
        let stripes = StripedBalances.statement(changes.filter { $0.0.striped }.map { ($0.0.id, $0.1) })?.sql
        let takings = takings.filter { $0.points > 0 }.sorted { $0.lot.rawValue < $1.lot.rawValue }
        let lots = Self.addStatement(takings.map { ($0.lot.rawValue, -$0.points) }, to: "point_lots", column: "remaining")
        guard database.capabilities.writesTogether else {
            let id = try await db.raw(transfer).first()!.int64("id")
            try await db.raw(
                """
                INSERT INTO ledger_postings (transfer_id, account_id, points, occurred_at)
                VALUES (\(bind: id), \(bind: from), \(bind: -points), \(bind: at.epochSeconds)), (\(bind: id), \(bind: to), \(bind: points), \(bind: at.epochSeconds))
                """
            ).run()
            for statement in [balances, stripes, lots].compactMap({ $0 }) { try await db.raw(statement).run() }
            if !takings.isEmpty {
                let movements = takings.map { "(\(bind: $0.lot.rawValue), \(bind: id), \(bind: $0.points))" as SQLQueryString }
                try await db.raw("INSERT INTO lot_movements (lot_id, transfer_id, points) VALUES " + movements.joined(separator: ", ")).run()
            }
            return id
        }
        // Each part runs once and sees the database as it was before the statement; no two change one row.
        var parts: [SQLQueryString] = [
            "t AS (" + transfer + ")",
            """
            p AS (INSERT INTO ledger_postings (transfer_id, account_id, points, occurred_at) SELECT t.id, v.account, v.points, \(bind: at.epochSeconds)
            FROM t, (VALUES (CAST(\(bind: from) AS BIGINT), CAST(\(bind: -points) AS BIGINT)), (\(bind: to), \(bind: points))) AS v(account, points))
            """,
        ]
        for (name, statement) in [("b", balances), ("s", stripes), ("l", lots)] {
            if let statement { parts.append("\(unsafeRaw: name) AS (" + statement + ")") }
        }
        if !takings.isEmpty {
            let movements = takings.enumerated().map { n, taking in
                n == 0
                    ? "(CAST(\(bind: taking.lot.rawValue) AS BIGINT), CAST(\(bind: taking.points) AS BIGINT))" as SQLQueryString
                    : "(\(bind: taking.lot.rawValue), \(bind: taking.points))"
            }
            parts.append(
                "m AS (INSERT INTO lot_movements (lot_id, transfer_id, points) SELECT v.lot, t.id, v.points FROM t, (VALUES "
                    + movements.joined(separator: ", ") + ") AS v(lot, points))")
        }
        return try await db.raw("WITH " + parts.joined(separator: ", ") + " SELECT id FROM t").first()!.int64("id")
    }

    static let transferColumns = """
        t.id, t.points, t.reason, t.reference, t.idempotency_key, t.memo, t.occurred_at, f.key AS from_key, d.key AS to_key
        """

    static func account(fromKey key: String) -> LedgerAccount? {
        // Found by the colons' bytes: splitting by `Character` was 4% of the accrual writer's CPU.
        guard let first = key.utf8.firstIndex(of: UInt8(ascii: ":")), let last = key.utf8.lastIndex(of: UInt8(ascii: ":")), first < last,
            let id = Int64(key[key.index(after: first)..<last]), let type = PointType(rawValue: String(key[key.index(after: last)...]))
        else { return nil }
        switch key[..<first] {
        case "member": return .member(MemberID(id), type)
        case "liability": return .liability(ProgramID(id), type)
        case "breakage": return .breakage(ProgramID(id), type)
        case "budget": return .budget(PromotionID(id))
        default: return nil
        }
    }

    static func transfers(_ db: any SQLDatabase, where condition: SQLQueryString) async throws -> [Transfer] {
        try await db.raw(
            """
            SELECT \(unsafeRaw: transferColumns) FROM ledger_transfers t JOIN ledger_accounts f ON f.id = t.from_account
            JOIN ledger_accounts d ON d.id = t.to_account
            """ + " WHERE " + condition
        ).all().map { row in
            Transfer(
                id: TransferID(try row.int64("id")), from: account(fromKey: try row.string("from_key"))!,
                to: account(fromKey: try row.string("to_key"))!,
                points: try row.int64("points"), reason: TransferReason(rawValue: try row.string("reason")) ?? .adjustment,
                reference: try row.optionalString("reference"), idempotencyKey: try row.optionalString("idempotency_key"),
                memo: try row.optionalString("memo"),
                occurredAt: try row.date("occurred_at"))
        }
    }

    /// The condition on a transfer (`t`) with this idempotency key: on partitioned PostgreSQL
    /// through its key table, by id and month, so one month's partition is read instead of every
    /// month's (MonthlyPartitions); elsewhere by the column.
    func byKey(_ key: String) -> SQLQueryString {
        database.capabilities.partitionsByMonth
            ? """
            t.id = (SELECT transfer_id FROM ledger_transfer_keys WHERE idempotency_key = \(bind: key))
            AND t.occurred_at = (SELECT occurred_at FROM ledger_transfer_keys WHERE idempotency_key = \(bind: key))
            """
            : "t.idempotency_key = \(bind: key)"
    }

    /// The earlier transfer with this key, if any; throws when it was for a different movement.
    func replay(_ db: any SQLDatabase, key: String?, from: LedgerAccount, to: LedgerAccount, points: Int64) async throws -> Transfer? {
        guard let key, let earlier = try await Self.transfers(db, where: byKey(key)).first else { return nil }
        guard earlier.from == from, earlier.to == to, earlier.points == points else { throw LoyaltyError.idempotencyKeyReused(key) }
        return earlier
    }

    /// Runs a movement; if a concurrent request with the same key won the race, returns its transfer.
    func idempotent(_ key: String?, _ body: @escaping @Sendable (any SQLDatabase) async throws -> Transfer) async throws -> Transfer {
        do {
            return try await database.write(body)
        } catch let error where key != nil && SQLAccessStore.isUniqueViolation(error) {
            let earlier = try await database.read { db in try await Self.transfers(db, where: byKey(key!)).first }
            guard let earlier else { throw error }
            return earlier
        }
    }

    // MARK: Lots

    static func lots(_ db: any SQLDatabase, account: Int64, ledgerAccount: LedgerAccount, where extra: SQLQueryString = "") async throws -> [Lot] {
        try await db.raw(
            "SELECT * FROM point_lots WHERE account_id = \(bind: account) AND remaining > 0 " + extra + " ORDER BY id"
        ).all().map { row in
            Lot(
                id: LotID(try row.int64("id")), account: ledgerAccount, earnedBy: TransferID(try row.int64("transfer_id")),
                points: try row.int64("points"),
                remaining: try row.int64("remaining"), availableAt: try row.date("available_at"), expiresAt: try row.optionalDate("expires_at"))
        }
    }

    /// Adds each row's change to `column` of `table`, in one statement whatever the number of rows.
    static func add(_ changes: [(id: Int64, delta: Int64)], to table: String, column: String, _ db: any SQLDatabase) async throws {
        guard let statement = addStatement(changes, to: table, column: column) else { return }
        try await db.raw(statement).run()
    }

    /// The statement of ``add(_:to:column:_:)``; nil when nothing changes.
    static func addStatement(_ changes: [(id: Int64, delta: Int64)], to table: String, column: String) -> SQLQueryString? {
        guard !changes.isEmpty else { return nil }
        let cases = changes.map { "WHEN \(bind: $0.id) THEN \(bind: $0.delta)" as SQLQueryString }
        let ids = changes.map { "\(bind: $0.id)" as SQLQueryString }
        return "UPDATE \(unsafeRaw: table) SET \(unsafeRaw: column) = \(unsafeRaw: column) + CASE id " + cases.joined(separator: " ")
            + " END WHERE id IN (" + ids.joined(separator: ", ") + ")"
    }

    // MARK: Movements

    public func earn(_ earning: Earning) async throws -> Transfer {
        let e = earning.movement
        let memberAccount = LedgerAccount.member(e.member, e.pointType)
        return try await idempotent(e.idempotencyKey) { db in
            let program = try await programID(db, of: e.member)
            let liability = LedgerAccount.liability(ProgramID(program), e.pointType)
            if let earlier = try await replay(db, key: e.idempotencyKey, from: liability, to: memberAccount, points: e.points) { return earlier }
            let locked = try await lockAccounts(db, [memberAccount, liability], program: program)
            let member = locked[memberAccount]!, source = locked[liability]!
            let transfer = try await post(
                db, program: program, from: source, to: member, points: e.points, reason: e.reason, reference: e.reference,
                key: e.idempotencyKey,
                memo: e.memo, at: e.at)
            let lot = try await db.raw(
                """
                INSERT INTO point_lots (account_id, transfer_id, points, remaining, available_at, expires_at)
                VALUES (\(bind: member.id), \(bind: transfer), \(bind: e.points), \(bind: e.points), \(bind: earning.availableAt.epochSeconds),
                \(bind: earning.expiresAt.map(\.epochSeconds))) RETURNING id
                """
            ).first()!.int64("id")
            if member.debt > 0 {
                // A debt left by a claw-back is repaid first from what was just earned.
                let repay = min(member.debt, e.points)
                let allowNegative =
                    try await db.raw("SELECT allow_negative FROM loyalty_programs WHERE id = \(bind: program)").first()!.int64("allow_negative") != 0
                if allowNegative {
                    // The debt is already on the ledger as a negative balance: only the lot shrinks.
                    try await db.raw("UPDATE point_lots SET remaining = remaining - \(bind: repay) WHERE id = \(bind: lot)").run()
                } else {
                    let repayment = try await post(
                        db, program: program, from: member, to: source, points: repay, reason: .debtRepayment, reference: e.reference, key: nil,
                        memo: "repays a claw-back debt", at: e.at, consuming: [(LotID(lot), repay)])
                }
                try await db.raw("UPDATE ledger_accounts SET debt = debt - \(bind: repay) WHERE id = \(bind: member.id)").run()
            }
            return try await Self.transfers(db, where: "t.id = \(bind: transfer)")[0]
        }
    }

    public func spend(_ s: Movement) async throws -> Transfer {
        try await idempotent(s.idempotencyKey) { db in try await debit(db, s) }
    }

    /// Which spendable lots of an account give `points`, earliest-expiring first, with the lots
    /// read; throws ``LoyaltyError/insufficientPoints(available:requested:)`` when they cannot.
    static func take(_ db: any SQLDatabase, _ points: Int64, from account: Int64, _ ledgerAccount: LedgerAccount, at date: Date) async throws
        -> (takings: [(lot: LotID, points: Int64)], lots: [Lot])
    {
        let now = date.epochSeconds
        let spendable = try await lots(
            db, account: account, ledgerAccount: ledgerAccount,
            where: "AND available_at <= \(bind: now) AND (expires_at IS NULL OR expires_at > \(bind: now))")
        let (takings, shortfall) = LotAllocation.take(points, from: spendable)
        guard shortfall == 0 else { throw LoyaltyError.insufficientPoints(available: spendable.reduce(0) { $0 + $1.remaining }, requested: points) }
        return (takings, spendable)
    }

    /// Spends inside the caller's transaction. The member's account names its program, so one
    /// statement locks the account and finds the program; the program's liability needs none.
    /// `locked` is the member's account when the caller locked it already.
    func debit(_ db: any SQLDatabase, _ s: Movement, locked: AccountRow? = nil) async throws -> Transfer {
        let memberAccount = LedgerAccount.member(s.member, s.pointType)
        let member: AccountRow, program: Int64
        var row = locked
        if row == nil { row = try await lockMemberAccount(db, memberAccount) }
        if let row {
            member = row
            program = row.programID
        } else {
            // No account yet: the member has never held points (or is not a member).
            program = try await programID(db, of: s.member)
            member = try await lockAccounts(db, [memberAccount], program: program)[memberAccount]!
        }
        let liability = LedgerAccount.liability(ProgramID(program), s.pointType)
        if let earlier = try await replay(db, key: s.idempotencyKey, from: memberAccount, to: liability, points: s.points) { return earlier }
        let target = try await lockAccounts(db, [liability], program: program)[liability]!
        let (takings, _) = try await Self.take(db, s.points, from: member.id, memberAccount, at: s.at)
        let transfer = try await post(
            db, program: program, from: member, to: target, points: s.points, reason: s.reason, reference: s.reference,
            key: s.idempotencyKey,
            memo: s.memo, at: s.at, consuming: takings)
        return Transfer(
            id: TransferID(transfer), from: memberAccount, to: liability, points: s.points, reason: s.reason, reference: s.reference,
            idempotencyKey: s.idempotencyKey, memo: s.memo, occurredAt: Date(epochSeconds: s.at.epochSeconds))
    }

    /// A member's account, locked; nil when the member has never held points of its type.
    func lockMemberAccount(_ db: any SQLDatabase, _ account: LedgerAccount) async throws -> AccountRow? {
        try await Self.readAccounts(db, [account.key], lockClause: lockClause, programAccounts: programAccounts, remembering: true)[account]
    }

    /// Points a purchase credited to an account and what returns took back since (debts count
    /// as taken where the program forbids negative balances), read in the caller's transaction.
    static func purchaseEarnings(_ db: any SQLDatabase, of reference: String, account key: String) async throws -> (earned: Int64, clawedBack: Int64)
    {
        let row = try await db.raw(
            """
            SELECT CAST(COALESCE(SUM(CASE WHEN t.reason = 'accrual' AND t.to_account = a.id THEN t.points ELSE 0 END), 0) AS BIGINT) AS earned,
            CAST(COALESCE(SUM(CASE WHEN t.reason = 'clawback' AND t.from_account = a.id THEN t.points ELSE 0 END), 0) AS BIGINT) AS clawed
            FROM ledger_transfers t JOIN ledger_accounts a ON a.key = \(bind: key) WHERE t.reference = \(bind: reference)
            """
        ).first()
        // Without negative balances a debt is taken back off the ledger, so it counts as clawed back too.
        let debtRow = try await db.raw(
            """
            SELECT CAST(COALESCE(SUM(d.points), 0) AS BIGINT) AS owed FROM ledger_clawback_debts d JOIN ledger_accounts a ON a.key = d.account_key
            JOIN loyalty_programs p ON p.id = a.program_id WHERE d.account_key = \(bind: key) AND d.reference = \(bind: reference) AND p.allow_negative = 0
            """
        ).first()
        return (try row?.int64("earned") ?? 0, (try row?.int64("clawed") ?? 0) + (try debtRow?.int64("owed") ?? 0))
    }

    public func clawBack(_ request: ClawBack) async throws -> ClawBackResult {
        let memberAccount = LedgerAccount.member(request.member, request.pointType)
        return try await database.write { db -> ClawBackResult in
            let program = try await programID(db, of: request.member)
            let liability = LedgerAccount.liability(ProgramID(program), request.pointType)
            if let key = request.idempotencyKey {
                let earlier = try await Self.transfers(db, where: byKey(key)).first
                let owed = try await db.raw(
                    "SELECT CAST(COALESCE(SUM(points), 0) AS BIGINT) AS owed, COUNT(*) AS n FROM ledger_clawback_debts WHERE idempotency_key = \(bind: key)"
                ).first()!
                if try earlier != nil || owed.int64("n") > 0 {
                    let debt = try owed.int64("owed")
                    return ClawBackResult(transfer: earlier, taken: (earlier?.points ?? 0) - (request.allowNegative ? debt : 0), debt: debt)
                }
            }
            // Under the member's lock, so a concurrent return of the same purchase reads what this one takes.
            let locked = try await lockAccounts(db, [memberAccount, liability], program: program)
            let member = locked[memberAccount]!, target = locked[liability]!
            let (earned, clawed) = try await Self.purchaseEarnings(db, of: request.purchase, account: memberAccount.key)
            let points = request.points(earned: earned, clawedBack: clawed)
            guard points > 0 else { return ClawBackResult(transfer: nil, taken: 0, debt: 0) }
            let movement = request.movement(points: points)
            let lots = try await Self.lots(db, account: member.id, ledgerAccount: memberAccount)
            let earnedHere = Set(
                try await Self.transfers(
                    db, where: "t.reference = \(bind: request.purchase) AND t.reason = 'accrual' AND d.id = \(bind: member.id)"
                ).map(\.id))
            let (takings, left) = LotAllocation.clawBack(points, from: lots, earnedBy: earnedHere, at: request.at)
            let taken = points - left
            let posted = request.allowNegative ? points : taken
            var transfer: Transfer?
            if posted > 0 {
                let id = try await post(
                    db, program: program, from: member, to: target, points: posted, reason: .clawback, reference: movement.reference,
                    key: movement.idempotencyKey, memo: movement.memo, at: movement.at, consuming: takings)
                transfer = try await Self.transfers(db, where: "t.id = \(bind: id)")[0]
            }
            if left > 0 {
                // Remember the debt under the purchase and key, so a replay or a second return sees it.
                try await db.raw("UPDATE ledger_accounts SET debt = debt + \(bind: left) WHERE id = \(bind: member.id)").run()
                try await db.raw(
                    """
                    INSERT INTO ledger_clawback_debts (account_key, reference, idempotency_key, points, occurred_at)
                    VALUES (\(bind: memberAccount.key), \(bind: request.purchase), \(bind: request.idempotencyKey), \(bind: left), \(bind: request.at.epochSeconds))
                    """
                ).run()
            }
            return ClawBackResult(transfer: transfer, taken: taken, debt: left)
        }
    }

    /// Accounts expired a transaction at a time, so that locks are held briefly.
    static let expiryChunk = 200

    public func expire(asOf date: Date) async throws -> [Transfer] {
        let due = try await database.read { db in
            try await db.raw(
                """
                SELECT DISTINCT a.id, a.key, a.program_id FROM point_lots l JOIN ledger_accounts a ON a.id = l.account_id
                WHERE l.expires_at IS NOT NULL AND l.expires_at <= \(bind: date.epochSeconds) AND l.remaining > 0 ORDER BY a.id
                """
            ).all().compactMap { row -> (account: LedgerAccount, program: Int64)? in
                guard let account = Self.account(fromKey: try row.string("key")) else { return nil }
                return (account, try row.int64("program_id"))
            }
        }
        var made: [Transfer] = []
        for chunk in chunks(due, of: Self.expiryChunk) {
            made += try await database.write { db in
                // Lock the accounts first, then read their lots: a claw-back or spend that took from
                // a lot meanwhile has committed (and is seen) or waits for this transaction.
                var accounts = chunk.map(\.account)
                accounts += Set(chunk.map { LedgerAccount.breakage(ProgramID($0.program), $0.account.pointType) })
                let locked = try await lockAccounts(db, accounts, program: chunk[0].program)
                let ids = chunk.compactMap { locked[$0.account]?.id }
                let lots = try await db.raw(
                    """
                    SELECT l.id, l.remaining, a.key, a.program_id, a.id AS account_id FROM point_lots l JOIN ledger_accounts a ON a.id = l.account_id
                    WHERE l.account_id IN (\(binds: ids)) AND l.expires_at IS NOT NULL AND l.expires_at <= \(bind: date.epochSeconds)
                    AND l.remaining > 0 ORDER BY l.id
                    """
                ).all()
                var made: [Transfer] = []
                for row in lots {
                    let lot = try row.int64("id"), remaining = try row.int64("remaining"), program = try row.int64("program_id")
                    guard let memberAccount = Self.account(fromKey: try row.string("key")),
                        let breakage = locked[.breakage(ProgramID(program), memberAccount.pointType)]
                    else { continue }
                    let transfer = try await post(
                        db, program: program, from: AccountRow(id: try row.int64("account_id"), balance: 0, debt: 0), to: breakage, points: remaining,
                        reason: .expiry, reference: nil,
                        key: "expiry:lot:\(lot)", memo: "points earned together expired", at: date, consuming: [(LotID(lot), remaining)])
                    made += try await Self.transfers(db, where: "t.id = \(bind: transfer)")
                }
                return made
            }
        }
        return made
    }

    // MARK: Reading

    public func balance(of member: MemberID, _ pointType: PointType, at date: Date) async throws -> Balance {
        try await database.read { db in
            let key = LedgerAccount.member(member, pointType).key
            guard let row = try await db.raw("SELECT id, balance, debt FROM ledger_accounts WHERE key = \(bind: key)").first() else {
                return Balance(available: 0, pending: 0, debt: 0, ledger: 0)
            }
            let lots = try await Self.lots(db, account: try row.int64("id"), ledgerAccount: .member(member, pointType))
            let spendable = lots.filter { $0.isAvailable(at: date) && !$0.isExpired(at: date) }
            let next = LotAllocation.order(spendable).first { $0.expiresAt != nil }?.expiresAt
            return Balance(
                available: spendable.reduce(0) { $0 + $1.remaining },
                pending: lots.filter { !$0.isAvailable(at: date) }.reduce(0) { $0 + $1.remaining },
                debt: try row.int64("debt"), ledger: try row.int64("balance"),
                nextExpiry: next.map { day in
                    ExpiringPoints(points: spendable.filter { $0.expiresAt == day }.reduce(0) { $0 + $1.remaining }, on: day)
                })
        }
    }

    public func statement(of member: MemberID, _ pointType: PointType, from: Date, to: Date) async throws -> Statement {
        try await database.read { db in
            let key = LedgerAccount.member(member, pointType).key
            guard let account = try await db.raw("SELECT id FROM ledger_accounts WHERE key = \(bind: key)").first()?.int64("id") else {
                return Statement(opening: 0, movements: [], closing: 0)
            }
            let opening = try await db.raw(
                "SELECT CAST(COALESCE(SUM(points), 0) AS BIGINT) AS total FROM ledger_postings WHERE account_id = \(bind: account) AND occurred_at < \(bind: from.epochSeconds)"
            ).first()!.int64("total")
            // By the account's postings (their index), the transfers only in the period's months.
            let transfers = try await Self.transfers(
                db,
                where: """
                    t.id IN (SELECT transfer_id FROM ledger_postings WHERE account_id = \(bind: account) AND occurred_at >= \(bind: from.epochSeconds)
                    AND occurred_at < \(bind: to.epochSeconds)) AND t.occurred_at >= \(bind: from.epochSeconds) AND t.occurred_at < \(bind: to.epochSeconds)
                    ORDER BY t.id
                    """)
            let movements = transfers.map { ($0, $0.to.key == key ? $0.points : -$0.points) }
            return Statement(opening: opening, movements: movements, closing: opening + movements.reduce(0) { $0 + $1.1 })
        }
    }

    public func verify() async throws -> LedgerReport {
        try await database.read { db in
            var violations: [String] = []
            let count = { (sql: SQLQueryString) in try await db.raw(sql).first()!.int64("n") }
            let transfers = try await count("SELECT COUNT(*) AS n FROM ledger_transfers")
            let accounts = try await count("SELECT COUNT(*) AS n FROM ledger_accounts")
            let lots = try await count("SELECT COUNT(*) AS n FROM point_lots")
            let total = try await count("SELECT CAST(COALESCE(SUM(points), 0) AS BIGINT) AS n FROM ledger_postings")
            if total != 0 { violations.append("postings sum to zero: they sum to \(total)") }
            for row in try await db.raw(
                "SELECT transfer_id FROM ledger_postings GROUP BY transfer_id HAVING COUNT(*) <> 2 OR SUM(points) <> 0"
            ).all() {
                violations.append("every transfer has two postings that cancel: transfer \(try row.int64("transfer_id")) does not")
            }
            // A transfer without postings moves nothing on any balance, so no check by posting or
            // by account sees it.
            for row in try await db.raw(
                """
                SELECT t.id FROM ledger_transfers t WHERE NOT EXISTS (SELECT 1 FROM ledger_postings p WHERE p.transfer_id = t.id)
                ORDER BY t.id LIMIT 20
                """
            ).all() {
                violations.append("every transfer has two postings that cancel: transfer \(try row.int64("id")) has none")
            }
            // The accounts a transfer names exist: checked here, not only by the foreign keys, so the
            // ledger's integrity can be told without them.
            for row in try await db.raw(
                """
                SELECT t.id FROM ledger_transfers t LEFT JOIN ledger_accounts f ON f.id = t.from_account LEFT JOIN ledger_accounts d ON d.id = t.to_account
                WHERE f.id IS NULL OR d.id IS NULL ORDER BY t.id LIMIT 20
                """
            ).all() {
                violations.append("a transfer moves points between two accounts of the ledger: transfer \(try row.int64("id")) names one that is not")
            }
            // A lot on no account of the ledger holds points no member's balance counts; on
            // PostgreSQL nothing but the statement check (StatementReferences) stands in its way.
            for row in try await db.raw(
                "SELECT l.id FROM point_lots l LEFT JOIN ledger_accounts a ON a.id = l.account_id WHERE a.id IS NULL ORDER BY l.id LIMIT 20"
            ).all() {
                violations.append("every lot is held by an account of the ledger: lot \(try row.int64("id")) names one that is not")
            }
            // Postings that cancel could still be on other accounts than their transfer names (a
            // balance updated alike would hide it from the check by account below).
            for row in try await db.raw(
                """
                SELECT p.transfer_id FROM ledger_postings p LEFT JOIN ledger_transfers t ON t.id = p.transfer_id
                WHERE t.id IS NULL OR NOT (p.account_id = t.from_account AND p.points = -t.points OR p.account_id = t.to_account AND p.points = t.points)
                ORDER BY p.transfer_id LIMIT 20
                """
            ).all() {
                violations.append(
                    "a transfer's postings move its points from the account it names to the other: transfer \(try row.int64("transfer_id")) does not")
            }
            for row in try await db.raw(
                """
                SELECT a.key, \(unsafeRaw: StripedBalances.balanceSQL("a")) AS balance,
                CAST(COALESCE((SELECT SUM(p.points) FROM ledger_postings p WHERE p.account_id = a.id), 0) AS BIGINT) AS posted
                FROM ledger_accounts a
                """
            ).all() where try row.int64("balance") != (try row.int64("posted")) {
                violations.append(
                    "balance equals the sum of postings: \(try row.string("key")) has \(try row.int64("balance")), postings say \(try row.int64("posted"))"
                )
            }
            for row in try await db.raw(
                """
                SELECT a.key, a.balance, a.debt, p.allow_negative, CAST(COALESCE((SELECT SUM(l.remaining) FROM point_lots l WHERE l.account_id = a.id), 0) AS BIGINT) AS in_lots
                FROM ledger_accounts a JOIN loyalty_programs p ON p.id = a.program_id WHERE a.member_id IS NOT NULL
                """
            ).all() {
                let key = try row.string("key"), balance = try row.int64("balance"), debt = try row.int64("debt"), inLots = try row.int64("in_lots")
                let negativeAllowed = try row.int64("allow_negative") != 0
                if balance < 0 && !negativeAllowed { violations.append("a member's balance is never negative: \(key) has \(balance)") }
                if balance != inLots - (negativeAllowed ? debt : 0) {
                    violations.append("a member's balance equals the points left in their lots: \(key) has \(balance), lots hold \(inLots)")
                }
                if debt < 0 { violations.append("a debt is never negative: \(key) owes \(debt)") }
            }
            for row in try await db.raw(
                """
                SELECT l.id, l.points, l.remaining, CAST(COALESCE((SELECT SUM(m.points) FROM lot_movements m WHERE m.lot_id = l.id), 0) AS BIGINT) AS moved
                FROM point_lots l
                """
            ).all() {
                let id = try row.int64("id"), points = try row.int64("points"), remaining = try row.int64("remaining"), moved = try row.int64("moved")
                if remaining < 0 || remaining > points {
                    violations.append("a lot holds between zero and what it earned: lot \(id) holds \(remaining) of \(points)")
                }
                if moved != points - remaining && moved > points - remaining {
                    violations.append("a lot's movements account for what it lost: lot \(id) lost \(points - remaining), movements say \(moved)")
                }
            }
            for row in try await db.raw(
                """
                SELECT a.key, c.reference, c.clawed, CAST(COALESCE(e.earned, 0) AS BIGINT) AS earned FROM
                (SELECT from_account, reference, CAST(SUM(points) AS BIGINT) AS clawed FROM ledger_transfers WHERE reason = 'clawback'
                 GROUP BY from_account, reference) c
                JOIN ledger_accounts a ON a.id = c.from_account
                LEFT JOIN (SELECT to_account, reference, SUM(points) AS earned FROM ledger_transfers WHERE reason = 'accrual'
                 GROUP BY to_account, reference) e ON e.to_account = c.from_account AND e.reference = c.reference
                WHERE c.clawed > COALESCE(e.earned, 0) ORDER BY a.key, c.reference
                """
            ).all() {
                violations.append(
                    "a return claws back at most what its purchase earned: \(try row.string("key")) lost \(try row.int64("clawed")) to returns of "
                        + "\(try row.optionalString("reference") ?? "(none)"), which earned \(try row.int64("earned"))")
            }
            for row in try await db.raw("SELECT key, balance FROM ledger_accounts WHERE key LIKE 'budget:%' AND balance < 0").all() {
                violations.append("a promotion never spends beyond its budget: \(try row.string("key")) holds \(try row.int64("balance"))")
            }
            let memberPoints = try await count(
                "SELECT CAST(COALESCE(SUM(balance), 0) AS BIGINT) AS n FROM ledger_accounts WHERE member_id IS NOT NULL")
            return LedgerReport(
                transfers: Int(transfers), accounts: Int(accounts), lots: Int(lots), postingsTotal: total, memberPoints: memberPoints,
                violations: violations)
        }
    }
}
