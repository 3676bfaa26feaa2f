import Customers
import Foundation
import SharedModels

/// A request to move a member's points: who, which points, how many, why, and the key that
/// makes it apply once.
public struct Movement: Sendable, Equatable {
    public var member: MemberID
    public var pointType: PointType
    public var points: Int64
    public var reason: TransferReason
    public var reference: String?
    public var idempotencyKey: String?
    public var memo: String?
    public var at: Date

    public init(
        member: MemberID, pointType: PointType, points: Int64, reason: TransferReason, reference: String?, idempotencyKey: String?, memo: String?,
        at: Date
    ) {
        self.member = member
        self.pointType = pointType
        self.points = points
        self.reason = reason
        self.reference = reference
        self.idempotencyKey = idempotencyKey
        self.memo = memo
        self.at = at
    }
}

/// A credit to a member: a movement from the program's liability into a new lot that becomes
/// spendable at `availableAt` and expires at `expiresAt`.
public struct Earning: Sendable, Equatable {
    public var movement: Movement
    public var availableAt: Date
    public var expiresAt: Date?

    public init(_ movement: Movement, availableAt: Date, expiresAt: Date?) {
        self.movement = movement
        self.availableAt = availableAt
        self.expiresAt = expiresAt
    }
}

/// What a claw-back did: points taken back, and what had to be left as a debt (or taken below zero).
public struct ClawBackResult: Sendable, Equatable {
    public var transfer: Transfer?
    public var taken: Int64
    public var debt: Int64

    public init(transfer: Transfer?, taken: Int64, debt: Int64) {
        self.transfer = transfer
        self.taken = taken
        self.debt = debt
    }
}

/// Opening balance, movements and closing balance of an account over a period.
public struct Statement: Sendable, Equatable {
    public var opening: Int64
    public var movements: [(transfer: Transfer, signedPoints: Int64)]
    public var closing: Int64

    public static func == (lhs: Statement, rhs: Statement) -> Bool {
        lhs.opening == rhs.opening && lhs.closing == rhs.closing && lhs.movements.map(\.transfer) == rhs.movements.map(\.transfer)
            && lhs.movements.map(\.signedPoints) == rhs.movements.map(\.signedPoints)
    }

    public init(opening: Int64, movements: [(transfer: Transfer, signedPoints: Int64)], closing: Int64) {
        self.opening = opening
        self.movements = movements
        self.closing = closing
    }
}

/// What `patron ledger verify` checked, and what it found broken.
public struct LedgerReport: Sendable, Equatable {
    public var transfers: Int
    public var accounts: Int
    public var lots: Int
    /// Sum of every posting; zero in a healthy ledger.
    public var postingsTotal: Int64
    /// Points members hold in total (the programs' outstanding liability).
    public var memberPoints: Int64
    /// Each broken invariant, named, with the account or lot at fault.
    public var violations: [String]

    public init(transfers: Int, accounts: Int, lots: Int, postingsTotal: Int64, memberPoints: Int64, violations: [String]) {
        self.transfers = transfers
        self.accounts = accounts
        self.lots = lots
        self.postingsTotal = postingsTotal
        self.memberPoints = memberPoints
        self.violations = violations
    }

    public var isHealthy: Bool { violations.isEmpty }
}

/// The program definitions, memberships and the points ledger as stored. Every method that
/// moves points runs in one database transaction and is idempotent by its key.
public protocol LedgerStore: Sendable {
    func insertProgram(
        code: String, name: String, valuePerThousandPoints: Money, expiryMonths: Int?, expiryStyle: Program.ExpiryStyle, pendingDays: Int,
        allowNegativeBalance: Bool, at: Date
    )
        async throws -> Program
    func program(_ id: ProgramID) async throws -> Program?
    /// Every program, oldest first.
    func programs() async throws -> [Program]
    /// Throws ``LoyaltyError/alreadyEnrolled(_:_:)``.
    func enroll(_ customer: CustomerID, in program: ProgramID, at: Date) async throws -> Member
    func member(_ id: MemberID) async throws -> Member?
    /// The members a printed number belongs to: a membership number, a card's number or a voucher's code (exact, case as stored).
    func members(holding number: String) async throws -> [Member]
    /// Every membership of a customer, in all programs.
    func memberships(of customer: CustomerID) async throws -> [Member]
    /// Each program's revision, which every change to its rules or promotions increases.
    func revisions(of programs: Set<ProgramID>) async throws -> [ProgramID: Int64]
    /// The memberships of these customers, by customer, and their programs' revisions (one query
    /// for a whole import batch or group of API purchases).
    func memberships(among customers: Set<CustomerID>) async throws -> (members: [CustomerID: [Member]], revisions: [ProgramID: Int64])
    /// Stores a program's earning rules and tier ladder.
    func configure(_ program: ProgramID, rules: EarningRules?, tiers: TierPolicy?) async throws
    /// Moves a member to a tier and records the change in their tier history.
    func setTier(_ tier: String, for member: MemberID, reason: String, at: Date) async throws
    /// Qualifying points the member earned since `date`, less what claw-backs took back.
    func qualifyingPoints(of member: MemberID, since date: Date) async throws -> Int64

    /// Credits a new lot. Repays the member's debt first (that part never becomes spendable).
    func earn(_ earning: Earning) async throws -> Transfer
    /// Debits spendable lots, earliest-expiring first. Throws ``LoyaltyError/insufficientPoints(available:requested:)``.
    func spend(_ spending: Movement) async throws -> Transfer
    /// Takes back what a return is due (``ClawBack/points(earned:clawedBack:)``, from what the
    /// purchase earned and lost so far, read under the member's lock in the same transaction):
    /// first from the lots the purchase earned, then from the member's other lots (spendable, then
    /// pending); what is still missing becomes a debt, or a negative balance when the program
    /// allows one. Idempotent by the claw-back's key.
    func clawBack(_ request: ClawBack) async throws -> ClawBackResult
    /// Moves what is left of every lot expired by `date` to breakage. Returns the transfers made.
    func expire(asOf date: Date) async throws -> [Transfer]
    func balance(of member: MemberID, _ pointType: PointType, at date: Date) async throws -> Balance
    func statement(of member: MemberID, _ pointType: PointType, from: Date, to: Date) async throws -> Statement
    /// Checks every invariant of the ledger.
    func verify() async throws -> LedgerReport
}

/// A purchase to accrue in one program. The store posts it in one database transaction and
/// evaluates it there (``earning(tier:)`` and ``PromotionEngine``) with the member's tier and the
/// promotions' usage as they are under the write lock, so concurrent and batched purchases see
/// each other's upgrades, limits and budgets.
public struct AccrualPlan: Sendable {
    public var member: Member
    public var program: Program
    public var purchase: TransactionDetails
    /// When the points count: the purchase's time, never in the future.
    public var at: Date
    /// The program's promotions running at some time of the batch.
    public var promotions: [CompiledPromotion]

    public init(member: Member, program: Program, purchase: TransactionDetails, at: Date, promotions: [CompiledPromotion]) {
        self.member = member
        self.program = program
        self.purchase = purchase
        self.at = at
        self.promotions = promotions
    }

    /// The key under which the accrual is posted once.
    public var key: String { "accrual:\(program.id.rawValue):\(purchase.externalID)" }
    /// The key of its qualifying points.
    public var qualifyingKey: String { "qualifying:\(program.id.rawValue):\(purchase.externalID)" }

    /// The rules' points for a member in `tier`, the qualifying points, and the promotions whose
    /// dates and criteria the purchase meets.
    public func earning(tier: String?) -> (accrual: Accrual, qualifying: Int64, candidates: [CompiledPromotion]) {
        guard let rules = program.earningRules else { return (Accrual(parts: []), 0, []) }
        let values = Accrual.values(of: purchase, tier: tier)
        let accrual = Accrual.compute(purchase, tier: tier, rules: rules, values: values)
        let candidates = promotions.filter { $0.matches(values, at: purchase.occurredAt) }
        return (accrual, accrual.base, candidates)
    }

    /// The amount in whole currency units, rounded down, for per-unit promotions.
    public var units: Int64 { purchase.amount.minorUnits / Money.unit(of: purchase.amount.currency) }
}

/// What posting an ``AccrualPlan`` did.
public struct PostedAccrual: Sendable, Equatable {
    public var member: MemberID
    /// The rules' parts followed by one `promotion CODE` part per award.
    public var accrual: Accrual
    public var awards: [PromotionAward]
    public var vouchers: [Voucher]
    /// The member's tier after the purchase, when it changed.
    public var newTier: String?
    /// The accrual was posted before (a replayed transaction): nothing moved now.
    public var replayed: Bool

    public init(member: MemberID, accrual: Accrual, awards: [PromotionAward], vouchers: [Voucher], newTier: String?, replayed: Bool) {
        self.member = member
        self.accrual = accrual
        self.awards = awards
        self.vouchers = vouchers
        self.newTier = newTier
        self.replayed = replayed
    }
}

/// What a promotion did, for measuring its effect.
public struct PromotionResults: Sendable, Equatable {
    public var applications: Int
    public var members: Int
    public var points: Int64
    public var vouchers: Int
    /// Total amount of the purchases it applied to, in minor units of the program's currency.
    public var purchaseAmount: Int64
    public var budgetLeft: Int64?
    public var enrolled: Int

    public init(applications: Int, members: Int, points: Int64, vouchers: Int, purchaseAmount: Int64, budgetLeft: Int64?, enrolled: Int) {
        self.applications = applications
        self.members = members
        self.points = points
        self.vouchers = vouchers
        self.purchaseAmount = purchaseAmount
        self.budgetLeft = budgetLeft
        self.enrolled = enrolled
    }
}

/// Promotions, the reward catalogue and vouchers as stored.
public protocol CatalogueStore: Sendable {
    /// Stores a promotion and funds its budget from the program's liability, in one transaction.
    func insertPromotion(_ draft: PromotionDraft, program: ProgramID, at: Date) async throws -> Promotion
    func promotion(_ id: PromotionID) async throws -> Promotion?
    /// Every promotion of the program, newest first.
    func promotions(of program: ProgramID) async throws -> [Promotion]
    /// Promotions running at some time in `[from, to)`, for accrual.
    func promotions(of program: ProgramID, runningBetween from: Date, and to: Date) async throws -> [Promotion]
    /// Joint promotions waiting for their partner's approval (of one partner, or all).
    func pendingPromotions(partner: String?) async throws -> [Promotion]
    /// Records the partner's decision on a pending joint promotion; nil when it is not pending.
    func decidePromotion(_ id: PromotionID, approve: Bool, by: String, at: Date) async throws -> Promotion?
    func enroll(_ member: MemberID, inPromotion promotion: PromotionID, at: Date) async throws
    /// The promotions a member has opted into.
    func enrolments(of member: MemberID) async throws -> Set<PromotionID>
    /// Writes a promotion's changed terms and its paused and archived marks; running promotions
    /// are re-read from the next purchase.
    func updatePromotion(_ promotion: Promotion) async throws
    /// Ends a promotion now and gives its unused budget back to the liability.
    func endPromotion(_ id: PromotionID, at: Date) async throws -> Promotion
    func promotionResults(_ id: PromotionID) async throws -> PromotionResults
    /// Every promotion application of a member: which promotion, on which purchase, how many points.
    func promotionApplications(of member: MemberID) async throws -> [(promotion: PromotionID, reference: String, points: Int64)]

    /// Posts accruals in one database transaction; a plan whose key was posted before is replayed.
    func post(_ plans: [AccrualPlan]) async throws -> [PostedAccrual]
    /// Records purchases on their customers (as ``CustomerStore/recordTransactions(_:)`` does) and
    /// posts the plans `plan` makes from the recorded transactions, in one database transaction.
    func record(
        _ purchases: [(customer: CustomerID, details: TransactionDetails)],
        planning plan: @escaping @Sendable ([(Transaction, inserted: Bool)]) -> [(index: Int, plan: AccrualPlan)]
    ) async throws -> (recorded: [(Transaction, inserted: Bool)], posted: [(index: Int, plan: AccrualPlan, posted: PostedAccrual)])

    func insertReward(_ reward: Reward) async throws -> Reward
    func reward(_ id: RewardID) async throws -> Reward?
    func reward(code: String, program: ProgramID) async throws -> Reward?
    func rewards(of program: ProgramID) async throws -> [Reward]
    func updateReward(_ reward: Reward) async throws
    /// Spends the points and issues a voucher in one transaction, taking one from stock.
    /// Throws ``LoyaltyError/outOfStock(_:)`` or ``LoyaltyError/insufficientPoints(available:requested:)``.
    func redeem(_ reward: Reward, member: MemberID, voucherCode: String, idempotencyKey: String?, at: Date) async throws -> Voucher
    /// Cancels an issued voucher and gives its points back (to lots with their original expiry) and its unit back to stock.
    func cancel(_ voucher: VoucherID, at: Date) async throws -> Voucher
    /// Marks an issued voucher as used, by the partner with code `honouredBy` (nil: the company).
    func use(_ voucher: VoucherID, at: Date, honouredBy: String?) async throws -> Voucher
    func voucher(_ id: VoucherID) async throws -> Voucher?
    func voucher(code: String) async throws -> Voucher?
    func vouchers(of member: MemberID) async throws -> [Voucher]
}

/// Members' tiers, transfers between members, referrals, and the history simulations read.
public protocol MemberStore: Sendable {
    /// A program's members in id order, a page at a time.
    func members(of program: ProgramID, after: MemberID?, limit: Int) async throws -> [Member]
    /// A page of members with their reward points and the count of all that match.
    func memberList(_ query: MemberListQuery) async throws -> CountedPage<MemberListRow>
    func tierHistory(of member: MemberID) async throws -> [TierChange]
    /// When the program's tiers were last reviewed.
    func tierReviewedAt(_ program: ProgramID) async throws -> Date?
    func setTierReviewed(_ program: ProgramID, at: Date) async throws
    /// Sets the yearly transfer limit and the referral bonus.
    func setOptions(of program: ProgramID, transferLimitPerYear: Int64?, referralPoints: Int64?) async throws
    /// Moves spendable points from one member to another of the same program in one transaction:
    /// the giver's earliest-expiring lots first, the receiver's new lots keeping their expiry.
    /// With `yearlyLimit`, what the giver gave since `yearStart` plus this must stay within it.
    func transferPoints(_ movement: Movement, to receiver: MemberID, yearlyLimit: Int64?, since yearStart: Date) async throws -> Transfer
    /// Throws ``LoyaltyError/invalid(_:)`` when the friend was referred before in the program.
    func insertReferral(program: ProgramID, referrer: MemberID, friend: CustomerID, at: Date) async throws -> Referral
    func referrals(by referrer: MemberID) async throws -> [Referral]
    /// Pending referrals of these friends.
    func pendingReferrals(friends: Set<CustomerID>) async throws -> [Referral]
    func completeReferral(_ id: ReferralID, at: Date) async throws
    /// Issues a card with the next number of the member and makes it a customer identifier, in one transaction.
    func insertCard(member: MemberID, kind: MembershipCard.Kind, fee: Money?, validUntil: Date?, at: Date) async throws -> MembershipCard
    func card(_ id: CardID) async throws -> MembershipCard?
    func cards(of member: MemberID) async throws -> [MembershipCard]
    /// Blocks or replaces an active card; its number stops identifying the customer.
    func closeCard(_ id: CardID, status: MembershipCard.Status, reason: String, at: Date) async throws -> MembershipCard
    /// Marks an active card replaced and issues its successor (same kind and validity) in one transaction.
    func replaceCard(_ id: CardID, reason: String, at: Date) async throws -> MembershipCard
    /// The purchases of a program's members in `[from, to)`, oldest first, with lines.
    func purchases(of program: ProgramID, from: Date, to: Date) async throws -> [(member: Member, purchase: TransactionDetails)]
}

/// Everything the loyalty room stores.
public typealias LoyaltyStore = LedgerStore & CatalogueStore & MemberStore
