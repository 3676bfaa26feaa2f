import Foundation
import SharedModels

/// The Customers room's front door: every use of customer data by the API, the console, imports
/// and other rooms goes through here. It validates and normalises input, matches incoming
/// activity to customers, and delegates storage to a ``CustomerStore``.
///
/// All methods throw ``CustomerError``; whenever one throws, nothing was written.
public struct CustomerService: Sendable {
    let store: any CustomerStore
    public let clock: Clock
    public let matcher: IdentityMatcher
    /// Country calling code for phone numbers written without one, e.g. "1" or "44".
    public let defaultCountryCode: String
    /// ISO 4217 currency of amounts sent without one.
    public let defaultCurrency: String

    public init(
        store: any CustomerStore, clock: Clock = .system, matcher: IdentityMatcher = IdentityMatcher(), defaultCountryCode: String = "1",
        defaultCurrency: String = "USD"
    ) {
        self.store = store
        self.defaultCurrency = defaultCurrency
        self.clock = clock
        self.matcher = matcher
        self.defaultCountryCode = defaultCountryCode
    }

    var today: LocalDate { LocalDate(clock.now) }

    // MARK: Profiles

    /// Creates a person from a draft; throws ``CustomerError/invalid(_:)`` listing every bad field.
    public func create(_ draft: ProfileDraft) async throws -> Customer {
        let profile = try draft.profile(today: today, defaultCountryCode: defaultCountryCode)
        try await refuseErased(id: nil, profile: profile)
        return try await store.insertCustomer(profile, id: nil, at: clock.now)
    }

    /// Throws ``CustomerError/identifierInUse(kind:value:owner:)`` when an email or phone the
    /// profile adds already identifies another customer: a person cannot take over someone else's
    /// identifiers (their purchases would stop matching, and look-ups would find both). Nothing was written.
    func refuseTaken(_ profile: Profile, newComparedTo old: Profile, by id: CustomerID) async throws {
        let added =
            profile.emails.filter { !old.emails.contains($0) }.map { CustomerIdentifier(kind: .email, value: $0.description) }
            + profile.phones.filter { !old.phones.contains($0) }.map { CustomerIdentifier(kind: .phone, value: $0.description) }
        guard !added.isEmpty else { return }
        let owners = try await store.owners(of: Set(added))
        for identifier in added {
            if let owner = owners[identifier]?.first(where: { $0 != id }) {
                throw CustomerError.identifierInUse(kind: identifier.kind, value: identifier.value, owner: owner)
            }
        }
    }

    /// Throws ``CustomerError/erased(field:)`` when the id or an identifier of the profile belonged
    /// to an erased person (see ``Tombstone``). Nothing was written.
    public func refuseErased(id: CustomerID?, profile: Profile?, cards: [String] = []) async throws {
        let keys = Tombstone.keys(id: id, profile: profile, cards: cards)
        guard !keys.isEmpty else { return }
        let erased = try await store.erased(keys.map(\.key))
        if let hit = keys.first(where: { erased.contains($0.key) }) { throw CustomerError.erased(field: hit.field) }
    }

    /// Validates a draft for import without writing it.
    public func validate(_ draft: ProfileDraft) throws -> Profile {
        try draft.profile(today: today, defaultCountryCode: defaultCountryCode)
    }

    /// A customer by id, merged or not; throws ``CustomerError/notFound(kind:id:)``.
    public func customer(_ id: CustomerID) async throws -> Customer {
        guard let customer = try await store.customer(id) else { throw CustomerError.notFound(kind: "customer", id: id.rawValue) }
        return customer
    }

    /// An active customer; a merged one throws ``CustomerError/merged(_:into:)``.
    func activeCustomer(_ id: CustomerID) async throws -> Customer {
        let customer = try await customer(id)
        if customer.status == .merged, let survivor = customer.mergedInto { throw CustomerError.merged(id, into: survivor) }
        return customer
    }

    /// Changes the fields present in the draft and keeps the rest.
    public func update(_ id: CustomerID, with draft: ProfileDraft) async throws -> Customer {
        let existing = try await activeCustomer(id)
        let profile = try draft.profile(applyingTo: existing.profile, today: today, defaultCountryCode: defaultCountryCode)
        try await refuseErased(id: id, profile: profile)
        try await refuseTaken(profile, newComparedTo: existing.profile, by: id)
        return try await store.replaceProfile(of: id, with: profile, at: clock.now)
    }

    /// Finds active customers by name words, email, phone, card number or id.
    /// - Throws: ``CustomerError/invalid(_:)`` for a query over 200 characters or 10 words.
    public func search(_ text: String?, after cursor: Cursor?, limit: PageSize) async throws -> Page<Customer> {
        try await store.customers(matching: try searchFor(text), after: cursor, limit: limit.value)
    }

    /// How free text searches: nil when there is none.
    /// - Throws: ``CustomerError/invalid(_:)`` for a query over 200 characters or 10 words.
    func searchFor(_ text: String?) throws -> CustomerSearch? {
        if let text, text.count > 200 || text.split(whereSeparator: \.isWhitespace).count > 10 {
            throw CustomerError.invalid([FieldError("q", "a search is at most 200 characters and 10 words")])
        }
        return text.flatMap { $0.trimmingSpaces().isEmpty ? nil : CustomerSearch($0, defaultCountryCode: defaultCountryCode) }
    }

    /// Attaches an identifier such as a card number; throws if it is malformed or owned by another customer.
    public func addIdentifier(kind: IdentifierKind, value: String, to id: CustomerID) async throws -> Customer {
        let customer = try await activeCustomer(id)
        guard kind != .customerID else { throw CustomerError.invalid([FieldError("kind", "customer ids are assigned by Patron")]) }
        guard let normalised = kind.normalise(value, defaultCountryCode: defaultCountryCode) else {
            throw CustomerError.invalid([FieldError("value", "'\(value)' is not a valid \(kind.rawValue)")])
        }
        if try await !store.erased([Tombstone.key(kind: kind.rawValue, value: normalised)]).isEmpty { throw CustomerError.erased(field: "value") }
        switch kind {
        case .email:
            var profile = customer.profile
            if let email = EmailAddress(normalised), !profile.emails.contains(email) { profile.emails.append(email) }
            return try await store.replaceProfile(of: id, with: profile, at: clock.now)
        case .phone:
            var profile = customer.profile
            if let phone = PhoneNumber(normalised, defaultCountryCode: defaultCountryCode), !profile.phones.contains(phone) {
                profile.phones.append(phone)
            }
            return try await store.replaceProfile(of: id, with: profile, at: clock.now)
        default:
            try await store.addIdentifier(CustomerIdentifier(kind: kind, value: normalised), to: id)
            return try await self.customer(id)
        }
    }

    // MARK: Households and accounts

    public func createHousehold(name: String, members: [CustomerID]) async throws -> Household {
        let trimmed = name.trimmingSpaces()
        guard (1...200).contains(trimmed.count) else { throw CustomerError.invalid([FieldError("name", "must be 1 to 200 characters")]) }
        for member in members { _ = try await activeCustomer(member) }
        return try await store.insertHousehold(name: trimmed, members: members, at: clock.now)
    }

    public func household(_ id: HouseholdID) async throws -> Household {
        guard let household = try await store.household(id) else { throw CustomerError.notFound(kind: "household", id: id.rawValue) }
        return household
    }

    /// Moves a person into a household (out of any other).
    public func addToHousehold(_ customer: CustomerID, household id: HouseholdID) async throws -> Household {
        _ = try await household(id)
        _ = try await activeCustomer(customer)
        return try await store.move(customer, to: id)
    }

    public func createAccount(_ draft: AccountDraft) async throws -> Account {
        let valid = try draft.validated()
        if let parent = valid.parentID { _ = try await account(parent) }
        return try await store.insertAccount(valid, at: clock.now)
    }

    public func account(_ id: AccountID) async throws -> Account {
        guard let account = try await store.account(id) else { throw CustomerError.notFound(kind: "account", id: id.rawValue) }
        return account
    }

    public func addContact(_ customer: CustomerID, role: String?, to account: AccountID) async throws -> Account {
        _ = try await self.account(account)
        _ = try await activeCustomer(customer)
        if let role, role.count > 100 { throw CustomerError.invalid([FieldError("role", "must be at most 100 characters")]) }
        return try await store.attach(customer, role: role?.trimmingSpaces(), to: account)
    }

    // MARK: Activity

    /// Normalises raw identifiers; throws naming the first malformed one.
    public func identifiers(customerID: CustomerID?, raw: [(kind: IdentifierKind, value: String)]) throws -> [CustomerIdentifier] {
        var result: [CustomerIdentifier] = customerID.map { [CustomerIdentifier(kind: .customerID, value: String($0.rawValue))] } ?? []
        var errors: [FieldError] = []
        for (index, identifier) in raw.enumerated() {
            if let value = identifier.kind.normalise(identifier.value, defaultCountryCode: defaultCountryCode) {
                result.append(CustomerIdentifier(kind: identifier.kind, value: value))
            } else {
                errors.append(FieldError("identifiers[\(index)].value", "'\(identifier.value)' is not a valid \(identifier.kind.rawValue)"))
            }
        }
        if !errors.isEmpty { throw CustomerError.invalid(errors) }
        return result
    }

    /// Matches each list of identifiers to at most one customer with one lookup for the whole batch.
    public func match(_ batch: [[CustomerIdentifier]]) async throws -> [IdentityMatcher.Result] {
        let owners = try await store.owners(of: Set(batch.joined()))
        return batch.map { matcher.match($0, owners: owners) }
    }

    /// Records a purchase or return for the customer its identifiers find, or holds it as not matched.
    /// The same external id twice records once and returns the first result.
    public func submit(_ details: TransactionDetails, identifiers: [CustomerIdentifier]) async throws -> IngestOutcome {
        let valid = try details.validated()
        return try await record(valid, as: try await match([identifiers])[0], identifiers: identifiers)
    }

    /// Records a validated transaction as its identifiers were already matched: for the customer
    /// found, or held as not matched.
    public func record(_ valid: TransactionDetails, as match: IdentityMatcher.Result, identifiers: [CustomerIdentifier]) async throws
        -> IngestOutcome
    {
        switch match {
        case .matched(let customer, let kind):
            let (transaction, inserted) = try await store.insertTransaction(valid, for: customer)
            return inserted ? .recordedTransaction(transaction, matchedBy: kind) : .duplicateTransaction(transaction)
        case .unmatched(let reason):
            let ids = try await store.holdUnmatched([(.transaction(valid), identifiers, reason)], at: clock.now)
            return .unmatched(ids[0])
        }
    }

    /// Logs an interaction for the customer its identifiers find, or holds it as not matched.
    public func submit(_ details: InteractionDetails, identifiers: [CustomerIdentifier]) async throws -> IngestOutcome {
        let valid = try details.validated()
        switch try await match([identifiers])[0] {
        case .matched(let customer, let kind):
            return .recordedInteraction(try await store.insertInteraction(valid, for: customer), matchedBy: kind)
        case .unmatched(let reason):
            let ids = try await store.holdUnmatched([(.interaction(valid), identifiers, reason)], at: clock.now)
            return .unmatched(ids[0])
        }
    }

    public func interactions(of id: CustomerID, after cursor: Cursor?, limit: PageSize) async throws -> Page<Interaction> {
        _ = try await customer(id)
        return try await store.interactions(of: id, after: cursor, limit: limit.value)
    }

    public func transactions(of id: CustomerID, after cursor: Cursor?, limit: PageSize) async throws -> Page<Transaction> {
        _ = try await customer(id)
        return try await store.transactions(of: id, after: cursor, limit: limit.value)
    }

    /// Interactions, transactions and consent changes, newest first.
    public func timeline(of id: CustomerID, limit: PageSize) async throws -> [TimelineEntry] {
        try await timeline(of: id, kinds: Set(TimelineEntry.Kind.allCases), before: nil, limit: limit)
    }

    /// The customer's history newest first: only `kinds`, only before `before` (the next page).
    public func timeline(of id: CustomerID, kinds: Set<TimelineEntry.Kind>, before: Date?, limit: PageSize) async throws -> [TimelineEntry] {
        _ = try await customer(id)
        return try await store.timeline(of: id, kinds: kinds, before: before, limit: limit.value)
    }

    public func unmatched(after cursor: Cursor?, limit: PageSize) async throws -> Page<UnmatchedItem> {
        try await store.unmatchedItems(after: cursor, limit: limit.value)
    }

    /// The purchase or return waiting to be linked that has this receipt number, as an agent
    /// types it off the customer's receipt; nil when none waits.
    public func unmatchedTransaction(receipt: String) async throws -> UnmatchedItem? {
        let typed = receipt.trimmingSpaces()
        guard !typed.isEmpty, typed.count <= 64 else { return nil }
        return try await store.unmatchedTransaction(externalID: typed)
    }

    /// Links a held item to a customer; it then takes effect exactly as if it had matched on arrival.
    public func link(_ id: UnmatchedID, to customer: CustomerID) async throws -> IngestOutcome {
        guard let item = try await store.unmatchedItem(id) else { throw CustomerError.notFound(kind: "unmatched item", id: id.rawValue) }
        if let linked = item.linkedTo { throw CustomerError.alreadyLinked(id, to: linked) }
        _ = try await activeCustomer(customer)
        return try await store.link(id, to: customer, at: clock.now)
    }

    /// Tries every waiting item again against today's customers (after an import added the
    /// people they belong to, say) and links those that now match exactly one. Returns how many were linked.
    public func rematch(batchSize: Int = 1000) async throws -> Int {
        var linked = 0
        var cursor: Cursor?
        repeat {
            let page = try await store.unmatchedItems(after: cursor, limit: batchSize)
            let results = try await match(page.items.map(\.identifiers))
            for (item, result) in zip(page.items, results) {
                guard case .matched(let customer, _) = result else { continue }
                _ = try await store.link(item.id, to: customer, at: clock.now)
                linked += 1
            }
            cursor = page.next
        } while cursor != nil
        return linked
    }

    // MARK: Consents

    public func consents(of id: CustomerID) async throws -> ConsentState {
        _ = try await customer(id)
        return try await store.consentState(of: id)
    }

    /// Records a yes or no; history is kept and the newest record per purpose and channel is in force.
    public func recordConsent(
        purpose: Purpose, channel: Channel, granted: Bool, source: String, text: String?, for id: CustomerID, by actor: String
    ) async throws -> ConsentState {
        _ = try await activeCustomer(id)
        let trimmedSource = source.trimmingSpaces()
        guard (1...64).contains(trimmedSource.count) else { throw CustomerError.invalid([FieldError("source", "must be 1 to 64 characters")]) }
        if let text, text.count > 5000 { throw CustomerError.invalid([FieldError("text", "must be at most 5000 characters")]) }
        let consent = Consent(
            purpose: purpose, channel: channel, granted: granted, source: trimmedSource, text: text, recordedBy: actor, recordedAt: clock.now)
        try await store.appendConsent(consent, for: id)
        return try await store.consentState(of: id)
    }

    public func block(_ channel: Channel, reason: String, for id: CustomerID, by actor: String) async throws -> ConsentState {
        _ = try await activeCustomer(id)
        let trimmed = reason.trimmingSpaces()
        guard (1...500).contains(trimmed.count) else { throw CustomerError.invalid([FieldError("reason", "must be 1 to 500 characters")]) }
        try await store.block(ContactBlock(channel: channel, reason: trimmed, setBy: actor, setAt: clock.now), for: id)
        return try await store.consentState(of: id)
    }

    public func unblock(_ channel: Channel, for id: CustomerID, by actor: String) async throws -> ConsentState {
        _ = try await activeCustomer(id)
        try await store.clearBlock(on: channel, for: id, by: actor, at: clock.now)
        return try await store.consentState(of: id)
    }

    // MARK: Data quality

    /// Completeness and likely duplicates of one profile.
    public func quality(of id: CustomerID) async throws -> (completeness: Completeness, duplicates: [DuplicateCandidate]) {
        let customer = try await customer(id)
        return (customer.completeness, try await duplicates(involving: id, limit: 50))
    }

    /// Likely duplicate pairs, strongest first.
    public func duplicates(involving id: CustomerID? = nil, limit: Int) async throws -> [DuplicateCandidate] {
        let shared = try await store.sharedIdentifierPairs(involving: id, limit: limit)
        let similar = NameSimilarity.candidates(from: try await store.sameAddressPairs(involving: id, limit: limit * 20))
        var seen = Set<[Int64]>()
        return (shared + similar.sorted { $0.score > $1.score })
            .filter { seen.insert([$0.customerID.rawValue, $0.otherCustomerID.rawValue].sorted()).inserted }
            .prefix(limit).map { $0 }
    }

    /// Merges `duplicate` into `survivor`: the survivor keeps its values and gains what only the
    /// duplicate knew; interactions, transactions, consents, identifiers and household move over;
    /// the duplicate stays as a trace pointing to the survivor.
    public func merge(_ duplicate: CustomerID, into survivor: CustomerID, by actor: String) async throws -> Customer {
        guard duplicate != survivor else { throw CustomerError.mergeWithSelf }
        let kept = try await activeCustomer(survivor)
        let gone = try await activeCustomer(duplicate)
        return try await store.merge(gone, into: kept, profile: kept.profile.filled(from: gone.profile), by: actor, at: clock.now)
    }
}
