import Foundation
import SharedModels

/// What the search box asks for: words to find in names, and identifier values to find exactly.
public struct CustomerSearch: Sendable, Equatable {
    /// Lower-cased words that must all appear in the name.
    public var words: [String]
    /// Values that find a customer exactly if any matches.
    public var identifiers: [CustomerIdentifier]

    public init(words: [String], identifiers: [CustomerIdentifier]) {
        self.words = words
        self.identifiers = identifiers
    }

    /// Reads free text the way an agent types it: `ann@example.com` is an email, `+1 555 0100`
    /// a phone, `4000123412341234` a card number (or phone or id), anything else words of a name.
    public init(_ text: String, defaultCountryCode: String = "1") {
        let trimmed = text.trimmingSpaces()
        var identifiers: [CustomerIdentifier] = []
        if let email = IdentifierKind.email.normalise(trimmed) { identifiers.append(.init(kind: .email, value: email)) }
        // A phone as people write it: spaces, dashes, dots, slashes and brackets between the digits.
        let digitsOnly = trimmed.filter { !" -().+/.".contains($0) }
        if !digitsOnly.isEmpty, digitsOnly.allSatisfy(\.isNumber) {
            if let phone = IdentifierKind.phone.normalise(trimmed, defaultCountryCode: defaultCountryCode) {
                identifiers.append(.init(kind: .phone, value: phone))
            }
            if let id = IdentifierKind.customerID.normalise(digitsOnly) { identifiers.append(.init(kind: .customerID, value: id)) }
        }
        if let card = IdentifierKind.card.normalise(trimmed), trimmed.count >= 4, !trimmed.contains(" ") || digitsOnly.allSatisfy(\.isNumber) {
            identifiers.append(.init(kind: .card, value: card))
        }
        identifiers.append(.init(kind: .external, value: trimmed))
        let words = identifiers.contains(where: { $0.kind == .email }) ? [] : trimmed.lowercased().split(separator: " ").map(String.init)
        self.init(words: words, identifiers: trimmed.isEmpty ? [] : identifiers)
    }
}

/// A validated customer row of an import: an optional id to keep, the profile, card numbers.
public struct ImportedCustomer: Sendable {
    public var id: CustomerID?
    public var profile: Profile
    public var cards: [String]

    public init(id: CustomerID?, profile: Profile, cards: [String]) {
        self.id = id
        self.profile = profile
        self.cards = cards
    }
}

/// Profiles: create, read, change, find. Implemented once in Storage over SQLKit.
public protocol CustomerProfileStore: Sendable {
    /// Which of these ``Tombstone`` keys an erasure left behind.
    func erased(_ keys: [String]) async throws -> Set<String>
    /// Inserts a person; with `id` the record takes that id (imports that keep the source's ids).
    func insertCustomer(_ profile: Profile, id: CustomerID?, at: Date) async throws -> Customer
    /// Inserts or, where the id exists, replaces the profiles of a batch in one database transaction,
    /// and attaches the rows' card numbers. Returns how many were new.
    func upsertCustomers(_ rows: [ImportedCustomer], at: Date) async throws -> Int
    func customer(_ id: CustomerID) async throws -> Customer?
    func replaceProfile(of id: CustomerID, with profile: Profile, at: Date) async throws -> Customer
    /// Active customers matching the search (all of them for nil), ordered by id.
    func customers(matching search: CustomerSearch?, after: Cursor?, limit: Int) async throws -> Page<Customer>
    /// A sorted, filtered page of active customers and their total; `phoneDigits` also matches the end of a phone number.
    func list(_ query: CustomerListQuery, search: CustomerSearch?, phoneDigits: String?) async throws -> CountedPage<Customer>
    func facets() async throws -> CustomerFacets
    /// Throws ``CustomerError/identifierInUse(kind:value:owner:)`` for a card or external reference already owned by another.
    func addIdentifier(_ identifier: CustomerIdentifier, to id: CustomerID) async throws
    /// For each identifier, the active customers that carry it (a merged customer's id resolves to its survivor).
    func owners(of identifiers: Set<CustomerIdentifier>) async throws -> [CustomerIdentifier: [CustomerID]]
}

/// Households and B2B accounts.
public protocol CustomerGroupStore: Sendable {
    func insertHousehold(name: String, members: [CustomerID], at: Date) async throws -> Household
    /// Many households at once (imports, the demo company), in one transaction; returns how many.
    func insertHouseholds(_ households: [(name: String, members: [CustomerID])], at: Date) async throws -> Int
    func household(_ id: HouseholdID) async throws -> Household?
    func move(_ customer: CustomerID, to household: HouseholdID) async throws -> Household
    func insertAccount(_ draft: AccountDraft, at: Date) async throws -> Account
    func account(_ id: AccountID) async throws -> Account?
    func attach(_ contact: CustomerID, role: String?, to account: AccountID) async throws -> Account
}

/// Interactions, transactions, the timeline and the items waiting to be matched.
public protocol CustomerActivityStore: Sendable {
    func insertInteraction(_ details: InteractionDetails, for customer: CustomerID) async throws -> Interaction
    /// Records a transaction once: when its external id exists, returns the stored one and `inserted == false`.
    func insertTransaction(_ details: TransactionDetails, for customer: CustomerID) async throws -> (Transaction, inserted: Bool)
    /// Records a batch in one database transaction, skipping external ids already present. Returns how many were new.
    func insertTransactions(_ rows: [(customer: CustomerID, details: TransactionDetails)]) async throws -> Int
    /// Records each transaction, or returns the one stored under its external id before, saying which.
    func recordTransactions(_ rows: [(customer: CustomerID, details: TransactionDetails)]) async throws -> [(Transaction, inserted: Bool)]
    /// The transaction recorded under a source system's id, if any.
    func transaction(externalID: String) async throws -> Transaction?
    /// The store of each recorded transaction among `externalIDs` (those not recorded are absent):
    /// what a partner's purchases are checked against, a group at a time.
    func stores(ofTransactions externalIDs: Set<String>) async throws -> [String: String]
    func interactions(of customer: CustomerID, after: Cursor?, limit: Int) async throws -> Page<Interaction>
    func transactions(of customer: CustomerID, after: Cursor?, limit: Int) async throws -> Page<Transaction>
    func timeline(of customer: CustomerID, kinds: Set<TimelineEntry.Kind>, before: Date?, limit: Int) async throws -> [TimelineEntry]
    func holdUnmatched(_ items: [(payload: UnmatchedItem.Payload, identifiers: [CustomerIdentifier], reason: String)], at: Date) async throws
        -> [UnmatchedID]
    /// Items not linked yet, oldest first.
    func unmatchedItems(after: Cursor?, limit: Int) async throws -> Page<UnmatchedItem>
    func unmatchedItem(_ id: UnmatchedID) async throws -> UnmatchedItem?
    /// A waiting (not linked) purchase or return held with this receipt number.
    func unmatchedTransaction(externalID: String) async throws -> UnmatchedItem?
    /// Records the item's payload for `customer` and marks it linked, in one database transaction.
    func link(_ id: UnmatchedID, to customer: CustomerID, at: Date) async throws -> IngestOutcome
}

/// Consent history and do-not-contact blocks.
public protocol ConsentStore: Sendable {
    func appendConsent(_ consent: Consent, for customer: CustomerID) async throws
    /// Many consent events at once (imports, the demo company), in one transaction.
    func appendConsents(_ consents: [(customer: CustomerID, consent: Consent)]) async throws
    /// Sets a block; an active block on the same channel is replaced.
    func block(_ block: ContactBlock, for customer: CustomerID) async throws
    func clearBlock(on channel: Channel, for customer: CustomerID, by: String, at: Date) async throws
    func consentState(of customer: CustomerID) async throws -> ConsentState
}

/// Duplicate detection and merging.
public protocol DataQualityStore: Sendable {
    /// Pairs of active customers sharing an email or phone; with `involving`, only pairs with that customer.
    func sharedIdentifierPairs(involving: CustomerID?, limit: Int) async throws -> [DuplicateCandidate]
    /// Pairs of active customers at the same postal code whose names start alike, for ``NameSimilarity``.
    func sameAddressPairs(involving: CustomerID?, limit: Int) async throws -> [NamePair]
    /// Moves every history of `duplicate` to `survivor`, stores `profile` on the survivor, marks the
    /// duplicate merged and logs the merge with a snapshot — all in one database transaction.
    func merge(_ duplicate: Customer, into survivor: Customer, profile: Profile, by: String, at: Date) async throws -> Customer
}

/// Everything Customers needs from storage.
public typealias CustomerStore = CustomerProfileStore & CustomerGroupStore & CustomerActivityStore & ConsentStore & DataQualityStore
