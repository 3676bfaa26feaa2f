import SharedModels

/// A field of the input and what is wrong with it, e.g. `emails[1]`: "not an email address".
public struct FieldError: Sendable, Equatable, Error {
    public var field: String
    public var reason: String

    public init(_ field: String, _ reason: String) {
        self.field = field
        self.reason = reason
    }
}

/// Every way a Customers operation can refuse. In each case nothing was written.
public enum CustomerError: Error, Sendable, Equatable {
    /// The input broke one or more rules; each field is named. Nothing was written.
    case invalid([FieldError])
    /// No such record (`kind` is "customer", "household", "account", "unmatched item"). Nothing was written.
    case notFound(kind: String, id: Int64)
    /// The customer was merged into another; change the survivor instead. Nothing was written.
    case merged(CustomerID, into: CustomerID)
    /// The identifier (e.g. a card number) already belongs to another customer. Nothing was written.
    case identifierInUse(kind: IdentifierKind, value: String, owner: CustomerID)
    /// A customer cannot be merged into itself. Nothing was written.
    case mergeWithSelf
    /// The unmatched item was already linked. Nothing was written.
    case alreadyLinked(UnmatchedID, to: CustomerID)
    /// The customer id or identifier in `field` belonged to a person who was erased at their
    /// request; it cannot bring them back.
    case erased(field: String)
}

extension CustomerError: CustomStringConvertible {
    /// A sentence for a person (the console's error line, the command line).
    public var description: String {
        switch self {
        case .invalid(let errors): errors.map { "\($0.field): \($0.reason)" }.joined(separator: "; ")
        case .notFound(let kind, let id): "No \(kind) has id \(id)."
        case .merged(let id, let survivor): "Customer \(id) was merged into customer \(survivor); use that one."
        // Said to members in the portal too: which customer owns it is not theirs to know.
        case .identifierInUse(let kind, let value, _): "The \(kind.rawValue) \(value) is already another customer's."
        case .mergeWithSelf: "A customer cannot be merged into itself."
        case .alreadyLinked(let id, let customer): "Unmatched item \(id) is linked to customer \(customer) already."
        case .erased(let field): "\(field): belongs to a person erased at their request, who cannot be brought back"
        }
    }
}
