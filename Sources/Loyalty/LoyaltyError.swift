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
    /// A partner named a store that is not one of its outlets (or none).
    case notPartnerOutlet(String?)
    /// A partner referred to a transaction (an existing id, or the purchase a return returns) at
    /// a store that is not one of its outlets.
    case notPartnerTransaction(String)
    /// A partner tried to honour a voucher of a reward it does not honour.
    case notPartnerReward(String)
    /// A partner's key sent a transaction, and the partner has no terms (outlets, rewards) on record.
    case partnerWithoutTerms(String)
}

extension LoyaltyError: CustomStringConvertible {
    /// A sentence for people (pages and problem details); the API's `code` names the case for programs.
    public var description: String {
        switch self {
        case .invalid(let errors): errors.map { "\($0.field): \($0.reason)" }.joined(separator: "; ")
        case .programNotFound(let id): "No program has id \(id)."
        case .memberNotFound(let id): "No member has id \(id)."
        case .programCodeTaken(let code): "A program has the code \(code)."
        case .alreadyEnrolled(let customer, let program): "Customer \(customer) is already a member of program \(program)."
        case .insufficientPoints(let available, let requested): "\(requested) points asked, \(available) spendable."
        case .idempotencyKeyReused(let key): "The key \(key) was used for a different movement."
        case .promotionNotFound(let id): "No promotion has id \(id)."
        case .codeTaken(let code): "The program already has \(code)."
        case .rewardNotFound(let code): "No reward \(code)."
        case .voucherNotFound(let code): "No voucher \(code)."
        case .outOfStock(let code): "No \(code) vouchers are left."
        case .rewardNotAvailable(let code, let reason): "\(code) cannot be redeemed: \(reason)."
        case .voucherClosed(let code, let status): "Voucher \(code) is \(status)."
        case .limitExceeded(let detail): detail
        case .cardNotFound(let id): "No card has id \(id)."
        case .cardClosed(let number, let status): "Card \(number) is \(status)."
        case .notPartnerOutlet(let store): "\(store.map { "Store \($0)" } ?? "A transaction without a store") is not one of your outlets."
        case .notPartnerTransaction(let id): "Transaction \(id) was not made at one of your outlets."
        case .notPartnerReward(let code): "You do not honour the reward \(code)."
        case .partnerWithoutTerms(let code): "This key's partner \(code) has no terms."
        }
    }
}
