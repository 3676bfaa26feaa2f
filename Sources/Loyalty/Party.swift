import Foundation

/// Who acts on transactions and vouchers, and so what they may touch: the company itself (staff,
/// imports, the company's own tills) or one coalition partner, which speaks only for its own
/// outlets and honours only its own rewards. Ownership is data carried into the domain, so every
/// way in (API, partner portal) is checked the same way.
public enum Party: Sendable, Equatable {
    case company
    /// A partner, by code, with the store codes of its outlets and the codes of the rewards it honours.
    case partner(code: String, outlets: Set<String>, rewards: Set<String>)

    /// Whether a transaction at `store` is this party's to record, return or read.
    public func owns(store: String?) -> Bool {
        switch self {
        case .company: true
        case .partner(_, let outlets, _): store.map { outlets.contains($0) } ?? false
        }
    }

    /// Whether this party may honour a voucher of the reward with `code`.
    public func honours(reward code: String) -> Bool {
        switch self {
        case .company: true
        case .partner(_, _, let rewards): rewards.contains(code)
        }
    }

    /// The partner's code; nil for the company.
    public var partnerCode: String? {
        if case .partner(let code, _, _) = self { code } else { nil }
    }
}
