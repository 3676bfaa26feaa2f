import SharedModels

/// The kinds of values that can find a customer, in the default matching priority.
///
/// Only a value that belongs to exactly one active customer matches; an email shared by two
/// people in a household matches nobody and leaves the item *not matched*.
public enum IdentifierKind: String, Sendable, Codable, CaseIterable {
    case customerID = "customer_id"
    case card
    case email
    case phone
    /// A reference from another system, e.g. the e-commerce platform's customer number.
    case external

    /// Normalises a raw value for storage and lookup; nil when it cannot be an identifier of this kind.
    public func normalise(_ raw: String, defaultCountryCode: String = "1") -> String? {
        let trimmed = raw.trimmingSpaces()
        guard !trimmed.isEmpty, trimmed.count <= 128 else { return nil }
        switch self {
        case .customerID: return Int64(trimmed).flatMap { $0 > 0 ? String($0) : nil }
        case .card: return trimmed.filter { $0 != " " && $0 != "-" }.uppercased()
        case .email: return EmailAddress(trimmed)?.value
        case .phone: return PhoneNumber(trimmed, defaultCountryCode: defaultCountryCode)?.value
        case .external: return trimmed
        }
    }
}

/// A kind and a normalised value, e.g. `email: ann@example.com`.
public struct CustomerIdentifier: Hashable, Sendable, Codable {
    public var kind: IdentifierKind
    public var value: String

    public init(kind: IdentifierKind, value: String) {
        self.kind = kind
        self.value = value
    }
}
