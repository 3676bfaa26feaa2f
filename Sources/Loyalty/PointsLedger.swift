import Customers
import Foundation
import SharedModels

/// The loyalty room's front door for programs, memberships and points.
///
/// Points move only as transfers between accounts (see ``LedgerAccount``), so they are never
/// created or lost silently: earning takes them from the program's liability, spending and
/// claw-backs give them back, expiry moves them to breakage. Every method that moves points
/// takes an idempotency key: the same key twice moves points once and returns the first result.
/// Whenever a method throws, nothing was written.
public struct PointsLedger: Sendable {
    let store: any LoyaltyStore
    public let clock: Clock
    /// Programs with their promotions parsed, by revision, so a transaction neither reads nor parses fifty rules again.
    let programs = ProgramCache()

    public init(store: any LoyaltyStore, clock: Clock = .system) {
        self.store = store
        self.clock = clock
    }

    // MARK: Programs and members

    /// Creates a program. `code` is 2–12 upper-case letters or digits and starts membership numbers.
    public func createProgram(
        code: String, name: String, valuePerThousandPoints: Money, expiryMonths: Int? = nil, pendingDays: Int = 0, allowNegativeBalance: Bool = false,
        expiryStyle: Program.ExpiryStyle = .afterEarning
    ) async throws -> Program {
        var errors: [FieldError] = []
        if !(2...12).contains(code.count) || !code.allSatisfy({ $0.isASCII && ($0.isUppercase || $0.isNumber) }) {
            errors.append(FieldError("code", "must be 2 to 12 upper-case letters or digits"))
        }
        let name = name.trimmingSpaces()
        if !(1...200).contains(name.count) { errors.append(FieldError("name", "must be 1 to 200 characters")) }
        if valuePerThousandPoints.minorUnits < 0 || !Money.isCurrencyCode(valuePerThousandPoints.currency) {
            errors.append(FieldError("valuePerThousandPoints", "must be a non-negative amount in an ISO 4217 currency"))
        }
        if let months = expiryMonths, !(1...120).contains(months) {
            errors.append(FieldError("expiryMonths", "must be 1 to 120, or absent for never"))
        }
        if !(0...365).contains(pendingDays) { errors.append(FieldError("pendingDays", "must be 0 to 365")) }
        if !errors.isEmpty { throw LoyaltyError.invalid(errors) }
        return try await store.insertProgram(
            code: code, name: name, valuePerThousandPoints: valuePerThousandPoints, expiryMonths: expiryMonths, expiryStyle: expiryStyle,
            pendingDays: pendingDays,
            allowNegativeBalance: allowNegativeBalance, at: clock.now)
    }

    public func program(_ id: ProgramID) async throws -> Program {
        guard let program = try await store.program(id) else { throw LoyaltyError.programNotFound(id) }
        return program
    }

    public func enroll(_ customer: CustomerID, in program: ProgramID) async throws -> Member {
        _ = try await self.program(program)
        return try await store.enroll(customer, in: program, at: clock.now)
    }

    public func member(_ id: MemberID) async throws -> Member {
        guard let member = try await store.member(id) else { throw LoyaltyError.memberNotFound(id) }
        return member
    }

    func memberAndProgram(_ id: MemberID) async throws -> (Member, Program) {
        let member = try await member(id)
        return (member, try await program(member.programID))
    }

    /// The most points one movement (an earning, a redemption, an adjustment, a transfer) may
    /// move: 10⁹. Together with bounded purchases, no balance or sum of points can come near
    /// `Int64`'s limit, so a caller cannot poison a balance that every later read must add up.
    public static let maximumMovement: Int64 = 1_000_000_000

    static func requirePositive(_ points: Int64) throws {
        guard points > 0 else { throw LoyaltyError.invalid([FieldError("points", "must be a positive whole number")]) }
        guard points <= maximumMovement else { throw LoyaltyError.invalid([FieldError("points", "must be at most \(maximumMovement)")]) }
    }

    /// Sets how a program's members earn and its tier ladder. Members without a tier start at the entry tier.
    public func configure(_ program: ProgramID, rules: EarningRules?, tiers: TierPolicy?) async throws {
        _ = try await self.program(program)
        if let rules, rules.pointsPerUnit < 0 { throw LoyaltyError.invalid([FieldError("pointsPerUnit", "must not be negative")]) }
        if let tiers, Set(tiers.tiers.map(\.name)).count != tiers.tiers.count {
            throw LoyaltyError.invalid([FieldError("tiers", "tier names must be different")])
        }
        try await store.configure(program, rules: rules, tiers: tiers)
    }

    /// What one recorded purchase or return did to one membership.
    public struct AccrualResult: Sendable, Equatable {
        public var member: MemberID
        /// For a purchase: the points and their breakdown by rule and promotion.
        public var accrual: Accrual?
        /// For a return: what was taken back.
        public var clawBack: ClawBackResult?
        /// The member's tier after this transaction, when it changed.
        public var newTier: String?
        /// Vouchers promotions gave for this purchase.
        public var vouchers: [Voucher] = []
    }

    /// Runs a recorded transaction through every program its customer belongs to: a purchase
    /// earns reward and qualifying points by the program's rules and running promotions (pending
    /// for the return window) and may lift the member's tier at once; a return takes back, in
    /// proportion, what its original purchase earned, promotion bonuses included. Idempotent by
    /// the transaction's id, so replaying a transaction (or accruing after a crash) never pays twice.
    /// - Parameter original: for a return, the purchase it returns.
    public func accrue(_ transaction: Transaction, original: Transaction?) async throws -> [AccrualResult] {
        let details = transaction.details
        let memberships = try await store.memberships(of: transaction.customerID)
        switch details.kind {
        case .purchase:
            let plans = try await plans(for: [(memberships, details)])
            return try await post(plans).map(Self.result)
        case .return:
            // Points date from the transaction (an imported history earns and expires as it happened), never from the future.
            let at = min(details.occurredAt, clock.now)
            var results: [AccrualResult] = []
            for member in memberships {
                let key = "\(member.programID.rawValue):\(details.externalID)"
                guard let original, let reference = details.originalExternalID, original.details.amount.minorUnits > 0 else { continue }
                let returned = min(details.amount.minorUnits, original.details.amount.minorUnits)
                guard returned > 0 else { continue }
                let reward = try await clawBack(
                    purchase: reference, returned: returned, of: original.details.amount.minorUnits, from: member.id, idempotencyKey: "return:" + key,
                    at: at)
                _ = try await clawBack(
                    purchase: reference, returned: returned, of: original.details.amount.minorUnits, from: member.id, pointType: .qualifying,
                    idempotencyKey: "return-qualifying:" + key, at: at)
                results.append(AccrualResult(member: member.id, clawBack: reward))
            }
            return results
        }
    }

    /// Posts accrual plans in one database transaction, then pays the referral bonuses they complete.
    public func post(_ plans: [AccrualPlan]) async throws -> [PostedAccrual] {
        try await completingReferrals(plans, store.post(plans))
    }

    /// Records purchases on their customers and posts the accruals `planner` plans for them (from
    /// the transactions as stored: a replayed id earns as it was first recorded) in one database
    /// transaction, so a purchase is never kept without its points; then pays the referral
    /// bonuses they complete.
    /// - Returns: each purchase's transaction and whether it is new, and each plan's posting, by the purchase's index.
    public func record(
        _ purchases: [(customer: CustomerID, details: TransactionDetails)], memberships: [CustomerID: [Member]], planner: AccrualPlanner
    ) async throws -> (recorded: [(Transaction, inserted: Bool)], posted: [(index: Int, accrual: PostedAccrual)]) {
        let (recorded, indexed) = try await store.record(purchases) { recorded in
            planner.plans(for: recorded.map { (memberships[$0.0.customerID] ?? [], $0.0.details) })
        }
        let posted = try await completingReferrals(indexed.map(\.plan), indexed.map(\.posted))
        return (recorded, zip(indexed, posted).map { ($0.index, $1) })
    }

    private func completingReferrals(_ plans: [AccrualPlan], _ posted: [PostedAccrual]) async throws -> [PostedAccrual] {
        // Only programs with a refer-a-friend bonus look for pending referrals.
        guard plans.contains(where: { $0.program.referralPoints != nil }) else { return posted }
        try await completeReferrals(
            after: posted, customers: Dictionary(plans.map { ($0.member.id, $0.member.customerID) }, uniquingKeysWith: { a, _ in a }))
        return posted
    }

    static func result(_ posted: PostedAccrual) -> AccrualResult {
        AccrualResult(member: posted.member, accrual: posted.accrual, newTier: posted.newTier, vouchers: posted.vouchers)
    }

    /// The accrual plans of purchases by members: one per membership in a program with earning
    /// rules, with the program's promotions running around the purchases' dates. Programs and
    /// promotions are read once per call.
    public func plans(for purchases: [(memberships: [Member], purchase: TransactionDetails)]) async throws -> [AccrualPlan] {
        let dates = purchases.map(\.purchase.occurredAt)
        guard let first = dates.min(), let last = dates.max() else { return [] }
        let programs = Set(purchases.flatMap { $0.memberships.map(\.programID) })
        return try await planner(for: programs, between: first, and: last).plans(for: purchases).map(\.plan)
    }

    /// A planner for purchases in these programs, with the programs' current rules and the
    /// promotions running at some time between `first` and `last` (all of them when nil).
    public func planner(for ids: Set<ProgramID>, between first: Date? = nil, and last: Date? = nil) async throws -> AccrualPlanner {
        try await planner(for: ids, revisions: try await store.revisions(of: ids), between: first, and: last)
    }

    /// These customers' memberships and a planner for their programs, with one statement while
    /// the programs' rules are cached: the members and their programs' revisions are read
    /// together (a group of API purchases waits on every round trip before its write).
    public func planning(among customers: Set<CustomerID>) async throws -> (memberships: [CustomerID: [Member]], planner: AccrualPlanner) {
        let (members, revisions) = try await store.memberships(among: customers)
        return (members, try await planner(for: Set(revisions.keys), revisions: revisions, between: nil, and: nil))
    }

    private func planner(for ids: Set<ProgramID>, revisions: [ProgramID: Int64], between first: Date?, and last: Date?) async throws -> AccrualPlanner {
        var programs: [ProgramID: (Program, [CompiledPromotion])] = [:]
        for id in ids {
            let (program, promotions) = try await configuration(of: id, revision: revisions[id] ?? 0)
            guard let first, let last else {
                programs[id] = (program, promotions)
                continue
            }
            programs[id] = (program, promotions.filter { $0.promotion.endsAt > first && $0.promotion.startsAt <= last })
        }
        return AccrualPlanner(programs: programs, now: clock.now)
    }

    /// A program and all its promotions, parsed, from the cache while the revision is current.
    func configuration(of id: ProgramID, revision: Int64) async throws -> (Program, [CompiledPromotion]) {
        if let cached = programs.get(id, revision: revision) { return cached }
        // Read after the revision: a change in between only makes the next call read again.
        let program = try await self.program(id)
        let promotions = try await store.promotions(of: id).map { try CompiledPromotion($0) }
        programs.set(id, revision: revision, (program, promotions))
        return (program, promotions)
    }

    // MARK: Moving points

    /// Credits points earned by a purchase (or given as a bonus). They are pending for the
    /// program's return window unless `pending` is false, and expire per the program's policy.
    public func earn(
        _ points: Int64, _ pointType: PointType = .reward, to member: MemberID, reference: String?, idempotencyKey: String?, memo: String? = nil,
        pending: Bool = true, reason: TransferReason = .accrual, at date: Date? = nil
    ) async throws -> Transfer {
        try Self.requirePositive(points)
        let (_, program) = try await memberAndProgram(member)
        let now = date ?? clock.now
        return try await store.earn(
            Earning(
                Movement(
                    member: member, pointType: pointType, points: points, reason: reason, reference: reference, idempotencyKey: idempotencyKey,
                    memo: memo, at: now),
                availableAt: pending ? program.availability(ofPointsEarnedAt: now) : now,
                expiresAt: pointType == .reward ? program.expiry(ofPointsEarnedAt: now) : nil))
    }

    /// Spends spendable points on a reward, earliest-expiring first.
    public func redeem(_ points: Int64, from member: MemberID, reference: String?, idempotencyKey: String?, memo: String? = nil) async throws
        -> Transfer
    {
        try Self.requirePositive(points)
        // The store's transaction finds the member (or throws memberNotFound) as it locks their account.
        return try await store.spend(
            Movement(
                member: member, pointType: .reward, points: points, reason: .redemption, reference: reference, idempotencyKey: idempotencyKey,
                memo: memo,
                at: clock.now))
    }

    /// A staff correction: positive adds spendable points, negative removes spendable points.
    /// `memo` is the reason code and is required.
    public func adjust(
        _ points: Int64, _ pointType: PointType = .reward, for member: MemberID, memo: String, by actor: String, idempotencyKey: String?
    ) async throws -> Transfer {
        guard points != 0 else { throw LoyaltyError.invalid([FieldError("points", "must not be zero")]) }
        guard points.magnitude <= UInt64(Self.maximumMovement) else {
            throw LoyaltyError.invalid([FieldError("points", "must be between -\(Self.maximumMovement) and \(Self.maximumMovement)")])
        }
        guard !memo.trimmingSpaces().isEmpty else { throw LoyaltyError.invalid([FieldError("memo", "give the reason for the adjustment")]) }
        let note = "\(memo.trimmingSpaces()) (by \(actor))"
        if points > 0 {
            return try await earn(
                points, pointType, to: member, reference: nil, idempotencyKey: idempotencyKey, memo: note, pending: false, reason: .adjustment)
        }
        _ = try await self.member(member)
        return try await store.spend(
            Movement(
                member: member, pointType: pointType, points: -points, reason: .adjustment, reference: nil, idempotencyKey: idempotencyKey,
                memo: note,
                at: clock.now))
    }

    /// Takes back what a purchase earned when it is returned, in proportion to what was returned:
    /// a full return takes back exactly every point the purchase earned, bonuses included; partial
    /// returns never take back more than is left to take. Points already spent are taken from
    /// other lots, and what cannot be taken becomes a debt (or a negative balance, if the program allows).
    public func clawBack(
        purchase reference: String, returned: Int64, of purchaseAmount: Int64, from member: MemberID, pointType: PointType = .reward,
        idempotencyKey: String?, at date: Date? = nil
    ) async throws -> ClawBackResult {
        guard purchaseAmount > 0, (1...purchaseAmount).contains(returned) else {
            throw LoyaltyError.invalid([FieldError("returned", "must be between 1 and the purchase amount \(purchaseAmount)")])
        }
        let (_, program) = try await memberAndProgram(member)
        return try await store.clawBack(
            ClawBack(
                member: member, pointType: pointType, purchase: reference, returned: returned, purchaseAmount: purchaseAmount,
                allowNegative: program.allowNegativeBalance, idempotencyKey: idempotencyKey, at: date ?? clock.now))
    }

    /// Expires every lot whose date has come. Safe to run at any time and any number of times.
    public func expire() async throws -> [Transfer] { try await store.expire(asOf: clock.now) }

    public func balance(of member: MemberID, _ pointType: PointType = .reward) async throws -> Balance {
        _ = try await self.member(member)
        return try await store.balance(of: member, pointType, at: clock.now)
    }

    public func statement(of member: MemberID, _ pointType: PointType = .reward, from: Date, to: Date) async throws -> Statement {
        _ = try await self.member(member)
        return try await store.statement(of: member, pointType, from: from, to: to)
    }

    public func verify() async throws -> LedgerReport { try await store.verify() }
}

/// Programs and their promotions as read at one moment, so that plans can be made without
/// waiting on the database (inside a write transaction, from the transactions just recorded).
public struct AccrualPlanner: Sendable {
    let programs: [ProgramID: (Program, [CompiledPromotion])]
    let now: Date

    /// One plan per membership in a program with earning rules, each with its purchase's index.
    /// Points date from the purchase, never from the future.
    public func plans(for purchases: [(memberships: [Member], purchase: TransactionDetails)]) -> [(index: Int, plan: AccrualPlan)] {
        var plans: [(Int, AccrualPlan)] = []
        for (index, (memberships, purchase)) in purchases.enumerated() {
            for member in memberships {
                guard let (program, promotions) = programs[member.programID], program.earningRules != nil else { continue }
                plans.append(
                    (
                        index,
                        AccrualPlan(member: member, program: program, purchase: purchase, at: min(purchase.occurredAt, now), promotions: promotions)
                    ))
            }
        }
        return plans
    }
}
