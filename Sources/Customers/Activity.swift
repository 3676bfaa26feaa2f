import Foundation
import SharedModels

public typealias InteractionID = ID<Interaction>
public typealias TransactionID = ID<Transaction>
public typealias UnmatchedID = ID<UnmatchedItem>

/// How company and customer were in touch.
public enum Channel: String, Sendable, Codable, CaseIterable {
    case call, email, sms, web, store, visit
    case directMail = "direct_mail"
}

/// Something that happened between the company and a customer on a channel.
public struct Interaction: Sendable, Equatable, Codable {
    public enum Direction: String, Sendable, Codable, CaseIterable { case inbound, outbound }

    public var id: InteractionID
    public var customerID: CustomerID
    public var details: InteractionDetails

    public init(id: InteractionID, customerID: CustomerID, details: InteractionDetails) {
        self.id = id
        self.customerID = customerID
        self.details = details
    }
}

/// What is recorded of an interaction, before and after it is matched.
public struct InteractionDetails: Sendable, Equatable, Codable {
    public var channel: Channel
    public var direction: Interaction.Direction
    public var outcome: String?
    /// The staff user or system that handled it.
    public var agent: String?
    public var subject: String?
    public var notes: String?
    public var occurredAt: Date

    public init(
        channel: Channel, direction: Interaction.Direction, outcome: String? = nil, agent: String? = nil, subject: String? = nil,
        notes: String? = nil, occurredAt: Date
    ) {
        self.channel = channel
        self.direction = direction
        self.outcome = outcome
        self.agent = agent
        self.subject = subject
        self.notes = notes
        self.occurredAt = occurredAt
    }

    func validated() throws -> InteractionDetails {
        var errors: [FieldError] = []
        for (field, value, limit) in [("outcome", outcome, 100), ("agent", agent, 200), ("subject", subject, 300), ("notes", notes, 10_000)] {
            if let value, value.count > limit { errors.append(FieldError(field, "must be at most \(limit) characters")) }
        }
        if !errors.isEmpty { throw CustomerError.invalid(errors) }
        return self
    }
}

/// A purchase or a return, with its lines. Amounts are minor units of `amount.currency`.
public struct Transaction: Sendable, Equatable, Codable {
    public var id: TransactionID
    public var customerID: CustomerID
    public var details: TransactionDetails

    public init(id: TransactionID, customerID: CustomerID, details: TransactionDetails) {
        self.id = id
        self.customerID = customerID
        self.details = details
    }
}

/// What a source system says about a transaction.
public struct TransactionDetails: Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, Codable, CaseIterable { case purchase, `return` }

    public struct Line: Sendable, Equatable, Codable {
        public var product: String
        public var category: String?
        public var quantity: Int
        /// Line total in minor units.
        public var amount: Int64

        public init(product: String, category: String? = nil, quantity: Int = 1, amount: Int64) {
            self.product = product
            self.category = category
            self.quantity = quantity
            self.amount = amount
        }
    }

    /// The source system's id; unique. The same id twice is recorded once.
    public var externalID: String
    public var kind: Kind
    public var occurredAt: Date
    /// Never negative: a refund is a transaction of kind `return`.
    public var amount: Money
    public var store: String?
    public var channel: Channel?
    /// For a return, the purchase it returns.
    public var originalExternalID: String?
    public var lines: [Line]

    public init(
        externalID: String, kind: Kind = .purchase, occurredAt: Date, amount: Money, store: String? = nil, channel: Channel? = nil,
        originalExternalID: String? = nil, lines: [Line] = []
    ) {
        self.externalID = externalID
        self.kind = kind
        self.occurredAt = occurredAt
        self.amount = amount
        self.store = store
        self.channel = channel
        self.originalExternalID = originalExternalID
        self.lines = lines
    }

    /// Throws ``CustomerError/invalid(_:)`` naming each broken rule: an id of 1–64 characters,
    /// a non-negative amount in a valid currency, lines that add up to the amount.
    /// At most this many lines in one transaction.
    public static let maximumLines = 1_000

    /// The transaction if every field is within bounds (amounts 0 … ``Money/maximumMinorUnits``,
    /// at most ``maximumLines`` lines that add up to the amount).
    /// - Throws: ``CustomerError/invalid(_:)`` naming every field at fault.
    public func validated() throws -> TransactionDetails {
        var errors: [FieldError] = []
        if externalID.isEmpty || externalID.count > 64 { errors.append(FieldError("transactionId", "must be 1 to 64 characters")) }
        if amount.minorUnits < 0 { errors.append(FieldError("amount", "must not be negative; send a return instead")) }
        if amount.minorUnits > Money.maximumMinorUnits {
            errors.append(FieldError("amount", "must be at most \(Money.maximumMinorUnits) minor units"))
        }
        if lines.count > Self.maximumLines { errors.append(FieldError("lines", "at most \(Self.maximumLines) lines")) }
        if !Money.isCurrencyCode(amount.currency) { errors.append(FieldError("currency", "not an ISO 4217 code")) }
        if let store, store.count > 64 { errors.append(FieldError("store", "must be at most 64 characters")) }
        if kind == .purchase, originalExternalID != nil {
            errors.append(FieldError("originalTransactionId", "only a return refers to an original purchase"))
        }
        for (index, line) in lines.enumerated() {
            if line.product.isEmpty { errors.append(FieldError("lines[\(index)].product", "must not be empty")) }
            if line.product.count > 200 { errors.append(FieldError("lines[\(index)].product", "must be at most 200 characters")) }
            if (line.category?.count ?? 0) > 200 { errors.append(FieldError("lines[\(index)].category", "must be at most 200 characters")) }
            if line.quantity <= 0 || line.quantity > 1_000_000 {
                errors.append(FieldError("lines[\(index)].quantity", "must be 1 to 1,000,000"))
            }
            if line.amount < 0 || line.amount > Money.maximumMinorUnits {
                errors.append(FieldError("lines[\(index)].amount", "must be 0 to \(Money.maximumMinorUnits) minor units"))
            }
        }
        if !lines.isEmpty, errors.isEmpty, lines.reduce(0, { $0 + $1.amount }) != amount.minorUnits {
            errors.append(FieldError("lines", "line amounts add up to \(lines.reduce(0) { $0 + $1.amount }), not \(amount.minorUnits)"))
        }
        if !errors.isEmpty { throw CustomerError.invalid(errors) }
        return self
    }
}

/// A transaction or interaction that no identifier matched uniquely. It waits here, with
/// everything it said, until it is linked to a customer; then it takes effect.
public struct UnmatchedItem: Sendable, Equatable {
    public enum Payload: Sendable, Equatable, Codable {
        case transaction(TransactionDetails)
        case interaction(InteractionDetails)
    }

    public var id: UnmatchedID
    public var identifiers: [CustomerIdentifier]
    public var payload: Payload
    public var reason: String
    public var receivedAt: Date
    public var linkedTo: CustomerID?

    public init(
        id: UnmatchedID, identifiers: [CustomerIdentifier], payload: Payload, reason: String, receivedAt: Date, linkedTo: CustomerID?
    ) {
        self.id = id
        self.identifiers = identifiers
        self.payload = payload
        self.reason = reason
        self.receivedAt = receivedAt
        self.linkedTo = linkedTo
    }

    /// One line for lists: "purchase T-1001 of 12.50 USD at S3".
    public var summary: String {
        switch payload {
        case .transaction(let t):
            "\(t.kind.rawValue) \(t.externalID) of \(t.amount)" + (t.store.map { " at \($0)" } ?? "")
        case .interaction(let i):
            "\(i.direction.rawValue) \(i.channel.rawValue)" + (i.subject.map { ": \($0)" } ?? "")
        }
    }
}

/// What became of a submitted transaction or interaction.
public enum IngestOutcome: Sendable, Equatable {
    /// Matched and recorded now.
    case recordedTransaction(Transaction, matchedBy: IdentifierKind)
    /// The same transaction id was recorded before; this is the first result, and nothing new was written.
    case duplicateTransaction(Transaction)
    case recordedInteraction(Interaction, matchedBy: IdentifierKind)
    /// No identifier matched exactly one customer; kept until linked.
    case unmatched(UnmatchedID)
}

/// One entry of a customer's timeline.
public struct TimelineEntry: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable { case interaction, transaction, consent }

    public var kind: Kind
    public var occurredAt: Date
    public var summary: String
    public var channel: String?
    public var referenceID: Int64?
    /// The longer text: an interaction's notes, a purchase's lines.
    public var detail: String?

    public init(kind: Kind, occurredAt: Date, summary: String, channel: String?, referenceID: Int64?, detail: String? = nil) {
        self.detail = detail
        self.kind = kind
        self.occurredAt = occurredAt
        self.summary = summary
        self.channel = channel
        self.referenceID = referenceID
    }
}
