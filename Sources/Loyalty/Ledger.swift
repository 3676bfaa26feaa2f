import Foundation
import SharedModels

public typealias TransferID = ID<Transfer>
public typealias LotID = ID<Lot>

/// Where points sit. Every movement of points is a ``Transfer`` between two accounts, so the
/// postings of all accounts always sum to zero.
public enum LedgerAccount: Sendable, Hashable, CustomStringConvertible {
    /// A member's points of one type.
    case member(MemberID, PointType)
    /// What the program owes its members: points come from here when earned and return here when spent.
    case liability(ProgramID, PointType)
    /// Where expired points go.
    case breakage(ProgramID, PointType)
    /// A promotion's budget: funded from the liability when the promotion is created, drawn down by its awards.
    case budget(PromotionID)

    public var program: ProgramID? {
        switch self {
        case .member, .budget: nil
        case .liability(let program, _), .breakage(let program, _): program
        }
    }

    public var pointType: PointType {
        switch self {
        case .member(_, let type), .liability(_, let type), .breakage(_, let type): type
        case .budget: .reward
        }
    }

    /// A stable key for storage: `member:42:reward`, `liability:1:reward`, `breakage:1:qualifying`.
    public var key: String {
        switch self {
        case .member(let member, let type): "member:\(member.rawValue):\(type.rawValue)"
        case .liability(let program, let type): "liability:\(program.rawValue):\(type.rawValue)"
        case .breakage(let program, let type): "breakage:\(program.rawValue):\(type.rawValue)"
        case .budget(let promotion): "budget:\(promotion.rawValue):reward"
        }
    }

    public var description: String { key }
}

/// Why points moved.
public enum TransferReason: String, Sendable, Codable, CaseIterable {
    case accrual
    case redemption
    case expiry
    case clawback
    case adjustment
    /// Points given back when a redemption is cancelled.
    case refund
    /// Points paid from new earnings toward a debt left by a claw-back.
    case debtRepayment = "debt_repayment"
    /// A promotion's budget set aside from the liability, or its unused part given back.
    case budgetFunding = "budget_funding"
    /// Points one member gives another, or pools into a household account.
    case transfer
    /// A refer-a-friend bonus.
    case referral
}

/// An immutable movement of points between two accounts. Never edited: a mistake is corrected by another transfer.
public struct Transfer: Sendable, Equatable {
    public var id: TransferID
    public var from: LedgerAccount
    public var to: LedgerAccount
    /// Always positive; points are whole numbers.
    public var points: Int64
    public var reason: TransferReason
    /// What caused it, e.g. the purchase's transaction id; a claw-back finds its accrual by this.
    public var reference: String?
    /// The caller's key: a second request with the same key returns this transfer and moves nothing.
    public var idempotencyKey: String?
    public var memo: String?
    public var occurredAt: Date

    public init(
        id: TransferID, from: LedgerAccount, to: LedgerAccount, points: Int64, reason: TransferReason, reference: String?, idempotencyKey: String?,
        memo: String?, occurredAt: Date
    ) {
        self.id = id
        self.from = from
        self.to = to
        self.points = points
        self.reason = reason
        self.reference = reference
        self.idempotencyKey = idempotencyKey
        self.memo = memo
        self.occurredAt = occurredAt
    }
}

/// Points earned together: when they become spendable, when they expire, and how many are left.
public struct Lot: Sendable, Equatable {
    public var id: LotID
    public var account: LedgerAccount
    public var earnedBy: TransferID
    public var points: Int64
    public var remaining: Int64
    public var availableAt: Date
    public var expiresAt: Date?

    public init(id: LotID, account: LedgerAccount, earnedBy: TransferID, points: Int64, remaining: Int64, availableAt: Date, expiresAt: Date?) {
        self.id = id
        self.account = account
        self.earnedBy = earnedBy
        self.points = points
        self.remaining = remaining
        self.availableAt = availableAt
        self.expiresAt = expiresAt
    }

    public func isAvailable(at date: Date) -> Bool { availableAt <= date }
    public func isExpired(at date: Date) -> Bool { expiresAt.map { $0 <= date } ?? false }
}

/// A member's points of one type right now.
public struct Balance: Sendable, Equatable {
    /// Spendable: in lots that are available and not expired.
    public var available: Int64
    /// In lots still inside their return window.
    public var pending: Int64
    /// Points a claw-back could not take; new earnings repay it first.
    public var debt: Int64
    /// The account's ledger balance: available + pending − (debt when negative balances are allowed).
    public var ledger: Int64

    public init(available: Int64, pending: Int64, debt: Int64, ledger: Int64, nextExpiry: ExpiringPoints? = nil) {
        self.available = available
        self.pending = pending
        self.debt = debt
        self.ledger = ledger
        self.nextExpiry = nextExpiry
    }

    /// "X points expire on D": the next expiry of spendable points, if any.
    public var nextExpiry: ExpiringPoints?
}

/// Points that expire together.
public struct ExpiringPoints: Sendable, Equatable {
    public var points: Int64
    public var on: Date

    public init(points: Int64, on: Date) {
        self.points = points
        self.on = on
    }
}

/// Which lots give how many points to a debit: the earliest-expiring first (lots that never
/// expire last), ties broken by age. Pure and deterministic, so it is tested exhaustively.
public enum LotAllocation {
    /// Takes up to `points` from `lots`; returns the takings and what could not be covered.
    public static func take(_ points: Int64, from lots: [Lot]) -> (takings: [(lot: LotID, points: Int64)], shortfall: Int64) {
        precondition(points >= 0, "cannot take a negative amount")
        var left = points
        var takings: [(LotID, Int64)] = []
        for lot in order(lots) where left > 0 && lot.remaining > 0 {
            let taken = min(lot.remaining, left)
            takings.append((lot.id, taken))
            left -= taken
        }
        return (takings, left)
    }

    /// First-expiring-first: by expiry (never last), then by when they became available, then by id.
    public static func order(_ lots: [Lot]) -> [Lot] {
        lots.sorted { a, b in
            switch (a.expiresAt, b.expiresAt) {
            case (let x?, let y?) where x != y: return x < y
            case (.some, nil): return true
            case (nil, .some): return false
            default: return (a.availableAt, a.id.rawValue) < (b.availableAt, b.id.rawValue)
            }
        }
    }
}
