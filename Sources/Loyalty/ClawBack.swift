import Foundation
import SharedModels

/// A return to take back from one member's account: which purchase, and what share of its amount
/// came back.
///
/// How many points that is depends on what the purchase earned and what earlier returns already
/// took, so the store reads those inside the same database transaction as the claw-back, after
/// locking the member's account, and asks ``points(earned:clawedBack:)``. Concurrent returns of one
/// purchase are thereby serialised: together they never take back more than it earned.
public struct ClawBack: Sendable, Equatable {
    public var member: MemberID
    public var pointType: PointType
    /// The returned purchase's external id (the `reference` of its accrual transfers).
    public var purchase: String
    /// Amount returned, in minor units: 1 … `purchaseAmount`.
    public var returned: Int64
    /// The purchase's amount, in minor units; positive.
    public var purchaseAmount: Int64
    /// Whether what cannot be taken may leave the balance negative (else it becomes a debt).
    public var allowNegative: Bool
    public var idempotencyKey: String?
    public var at: Date

    public init(
        member: MemberID, pointType: PointType, purchase: String, returned: Int64, purchaseAmount: Int64, allowNegative: Bool,
        idempotencyKey: String?, at: Date
    ) {
        precondition(purchaseAmount > 0 && (1...purchaseAmount).contains(returned), "a return is 1 … the purchase amount")
        self.member = member
        self.pointType = pointType
        self.purchase = purchase
        self.returned = returned
        self.purchaseAmount = purchaseAmount
        self.allowNegative = allowNegative
        self.idempotencyKey = idempotencyKey
        self.at = at
    }

    /// The points to take back: the returned share of what the purchase earned (rounded down, in
    /// exact 128-bit arithmetic), never more than is left after earlier claw-backs, never negative.
    /// - Parameters:
    ///   - earned: points the purchase's accruals credited to this account.
    ///   - clawedBack: points earlier returns of it took back, debts included.
    public func points(earned: Int64, clawedBack: Int64) -> Int64 {
        guard earned > 0 else { return 0 }
        let due = purchaseAmount.dividingFullWidth(earned.multipliedFullWidth(by: returned)).quotient
        let left = earned.subtractingReportingOverflow(clawedBack)
        return left.overflow ? 0 : max(0, min(due, left.partialValue))
    }

    /// The ledger movement for `points` of this claw-back.
    public func movement(points: Int64) -> Movement {
        Movement(
            member: member, pointType: pointType, points: points, reason: .clawback, reference: purchase, idempotencyKey: idempotencyKey,
            memo: "return of \(returned) of \(purchaseAmount)", at: at)
    }
}

extension LotAllocation {
    /// Which lots a claw-back takes from: the purchase's own lots first (earliest-expiring first),
    /// then the member's other spendable lots, then their pending lots. Returns the takings and
    /// what the lots could not cover (a debt, or a negative balance where the program allows one).
    public static func clawBack(_ points: Int64, from lots: [Lot], earnedBy purchase: Set<TransferID>, at date: Date)
        -> (takings: [(lot: LotID, points: Int64)], shortfall: Int64)
    {
        precondition(points >= 0, "cannot take a negative amount")
        let own = lots.filter { purchase.contains($0.earnedBy) }
        let others = lots.filter { !purchase.contains($0.earnedBy) }
        let ordered = order(own) + order(others.filter { $0.isAvailable(at: date) }) + order(others.filter { !$0.isAvailable(at: date) })
        var left = points
        var takings: [(LotID, Int64)] = []
        for lot in ordered where left > 0 && lot.remaining > 0 {
            let taken = min(lot.remaining, left)
            takings.append((lot.id, taken))
            left -= taken
        }
        return (takings, left)
    }
}
