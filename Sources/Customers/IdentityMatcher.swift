/// Finds the customer a transaction or interaction belongs to.
///
/// Identifiers are tried in the configured priority (customer id, card, email, phone by default).
/// The first kind whose values point at exactly one active customer decides; a value shared by
/// several customers is not unique and is skipped. If nothing decides, the item is not matched.
public struct IdentityMatcher: Sendable {
    public enum Result: Sendable, Equatable {
        case matched(CustomerID, by: IdentifierKind)
        case unmatched(reason: String)
    }

    public let priority: [IdentifierKind]

    public init(priority: [IdentifierKind] = [.customerID, .card, .email, .phone, .external]) {
        self.priority = priority
    }

    /// - Parameter owners: who carries each identifier, from ``CustomerProfileStore/owners(of:)``.
    public func match(_ identifiers: [CustomerIdentifier], owners: [CustomerIdentifier: [CustomerID]]) -> Result {
        guard !identifiers.isEmpty else { return .unmatched(reason: "no identifier given") }
        var reasons: [String] = []
        for kind in priority {
            let candidates = Set(identifiers.filter { $0.kind == kind }.flatMap { owners[$0] ?? [] })
            switch candidates.count {
            case 1: return .matched(candidates.first!, by: kind)
            case 0:
                if identifiers.contains(where: { $0.kind == kind }) { reasons.append("no customer has this \(kind.rawValue)") }
            default: reasons.append("\(candidates.count) customers share this \(kind.rawValue)")
            }
        }
        return .unmatched(reason: reasons.joined(separator: "; "))
    }
}
