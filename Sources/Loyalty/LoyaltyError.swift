import Customers

/// Every way a Loyalty operation can refuse. In each case nothing was written: the ledger is unchanged.
public enum LoyaltyError: Error, Sendable, Equatable {
    /// The input broke one or more rules; each field is named.
    case invalid([FieldError])
    case programNotFound(ProgramID)
    case memberNotFound(MemberID)
    /// A program with this code exists.
    case programCodeTaken(String)
    /// The customer is already a member of the program.
    case alreadyEnrolled(CustomerID, ProgramID)
    /// The member has fewer spendable points than asked for.
    case insufficientPoints(available: Int64, requested: Int64)
    /// The idempotency key was used before for a different movement.
    case idempotencyKeyReused(String)
    case promotionNotFound(PromotionID)
    /// A promotion or reward with this code exists in the program.
    case codeTaken(String)
    case rewardNotFound(String)
    case voucherNotFound(String)
    /// No vouchers of the reward are left.
    case outOfStock(String)
    /// The reward is for other tiers, inactive, or of another program.
    case rewardNotAvailable(String, reason: String)
    /// The voucher was already used, cancelled or has expired.
    case voucherClosed(String, status: String)
    case cardNotFound(CardID)
    /// The card was blocked or replaced already.
    case cardClosed(String, status: String)
    /// A limit of the program refused the request (e.g. a transfer above the yearly limit).
    case limitExceeded(String)
}
