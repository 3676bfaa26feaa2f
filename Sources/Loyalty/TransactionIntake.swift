import Customers
import Foundation
import SharedModels

/// Where purchases and returns come in — API, import, linking — so that each one is recorded
/// on the customer and then runs through the loyalty engine the same way.
///
/// Earning is idempotent by transaction id, so sending a transaction again (which records
/// nothing new) never pays twice, and completes an accrual that a crash cut short where
/// recording and earning are two database transactions (imports, returns, linking).
///
/// Matched purchases arriving concurrently (API requests) are handled in groups: what arrives
/// while a group is written waits and goes in the next group, recorded with one statement and
/// accrued set-wise — as an import batch is — in the same database transaction, so an API
/// purchase is never kept without its points.
public struct TransactionIntake: Sendable {
    public typealias Receipt = (IngestOutcome, [PointsLedger.AccrualResult])
    public let customers: CustomerService
    public let loyalty: PointsLedger
    private let purchases: Coalescer<Submission, Handled>
    /// Partners' terms (outlets, rewards) by code, read for a set of codes at once: the Partners
    /// room's, handed in by the app (Loyalty does not depend on Partners).
    public typealias PartnerTerms = @Sendable (Set<String>) async throws -> [String: Party]
    private let terms: PartnerTerms

    /// Who sent a transaction: a party whose terms the caller holds, or a partner by its code,
    /// whose terms are read with the other partners' of its group.
    enum Sender: Sendable {
        case known(Party)
        case partner(code: String)
    }

    /// A purchase as it came in: matched, checked and recorded with the others of its group.
    struct Submission: Sendable {
        let details: TransactionDetails
        let identifiers: [CustomerIdentifier]
        let sender: Sender
    }

    /// What a group did with a purchase: recorded and accrued it, or found no customer for it (it
    /// is then held on its own, as a purchase that matched no one always was).
    enum Handled: Sendable {
        case done(Receipt)
        case alone(IdentityMatcher.Result)
    }

    /// - Parameter lanes: groups written at once (1 where the database has a single writer).
    /// - Parameter terms: partners' terms by code (``submit(_:identifiers:byPartner:)``); none by default.
    public init(customers: CustomerService, loyalty: PointsLedger, lanes: Int = 1, terms: @escaping PartnerTerms = { _ in [:] }) {
        self.customers = customers
        self.loyalty = loyalty
        self.terms = terms
        self.purchases = Coalescer(maximumGroup: 512, lanes: lanes) { group in
            do {
                return try await Self.handle(group, customers: customers, loyalty: loyalty, terms: terms)
            } catch {
                // One bad purchase must not fail the others: each goes again on its own.
                var results: [Result<Handled, any Error>] = []
                for item in group {
                    do {
                        results.append(try await Self.handle([item], customers: customers, loyalty: loyalty, terms: terms)[0])
                    } catch {
                        results.append(.failure(error))
                    }
                }
                return results
            }
        }
    }

    /// Records a purchase or return for the customer its identifiers find (or holds it as not
    /// matched) and accrues it in every program the customer belongs to.
    ///
    /// A partner (`party`) records only at its own outlets, returns only purchases made at them,
    /// and cannot learn about a transaction id of another store by sending it again.
    ///
    /// Purchases go in groups: what arrives while a group is written is matched to its customers,
    /// checked against the transactions already recorded with its ids and recorded together, one
    /// statement each for the whole group — not round trips of each request before it (#18).
    /// - Throws: ``LoyaltyError/notPartnerOutlet(_:)``, ``LoyaltyError/notPartnerTransaction(_:)``
    ///   (nothing was written), or what recording and accrual throw.
    public func submit(_ details: TransactionDetails, identifiers: [CustomerIdentifier], by party: Party = .company) async throws -> Receipt {
        try await submit(details, identifiers: identifiers, from: .known(party))
    }

    /// ``submit(_:identifiers:by:)`` for a partner known by its code (a partner's API key): its
    /// terms are read with the other partners' purchases of the group, not once a request.
    /// - Throws: also ``LoyaltyError/partnerWithoutTerms(_:)`` when the partner has no terms.
    public func submit(_ details: TransactionDetails, identifiers: [CustomerIdentifier], byPartner code: String) async throws -> Receipt {
        try await submit(details, identifiers: identifiers, from: .partner(code: code))
    }

    func submit(_ details: TransactionDetails, identifiers: [CustomerIdentifier], from sender: Sender) async throws -> Receipt {
        let valid = try details.validated()
        if case .known(let party) = sender, !party.owns(store: valid.store) { throw LoyaltyError.notPartnerOutlet(valid.store) }
        if valid.kind == .purchase {
            switch try await purchases.submit(Submission(details: valid, identifiers: identifiers, sender: sender)) {
            case .done(let receipt): return receipt
            case .alone(let match):
                let outcome = try await customers.record(valid, as: match, identifiers: identifiers)
                return (outcome, try await accrue(outcome))
            }
        }
        let party = try await Self.parties([sender], terms: terms)[0].get()
        guard party.owns(store: valid.store) else { throw LoyaltyError.notPartnerOutlet(valid.store) }
        if case .partner = party {
            let ids = Set([valid.externalID] + (valid.originalExternalID.map { [$0] } ?? []))
            let stores = try await customers.stores(ofTransactions: ids)
            if let store = stores[valid.externalID], !party.owns(store: store) { throw LoyaltyError.notPartnerTransaction(valid.externalID) }
            if let original = valid.originalExternalID, let store = stores[original], !party.owns(store: store) {
                throw LoyaltyError.notPartnerTransaction(original)
            }
        }
        let match = try await customers.match([identifiers])[0]
        let outcome = try await customers.record(valid, as: match, identifiers: identifiers)
        return (outcome, try await accrue(outcome))
    }

    /// A group of purchases: its partners' terms, its customers and its partners' ids each read once
    /// for the whole group, the matched purchases recorded and accrued together.
    static func handle(_ group: [Submission], customers: CustomerService, loyalty: PointsLedger, terms: PartnerTerms) async throws
        -> [Result<Handled, any Error>]
    {
        let parties = try await Self.parties(group.map(\.sender), terms: terms)
        let matches = try await customers.match(group.map(\.identifiers))
        let partners = zip(group, parties).filter { if case .success(.partner) = $1 { true } else { false } }
        let stores = try await customers.stores(ofTransactions: Set(partners.map(\.0.details.externalID)))
        var results = [Result<Handled, any Error>?](repeating: nil, count: group.count)
        var matched: [(index: Int, customer: CustomerID, details: TransactionDetails, kind: IdentifierKind)] = []
        for (index, submission) in group.enumerated() {
            let party: Party
            switch parties[index] {
            case .success(let known): party = known
            case .failure(let error):
                results[index] = .failure(error)
                continue
            }
            if !party.owns(store: submission.details.store) {
                results[index] = .failure(LoyaltyError.notPartnerOutlet(submission.details.store))
            } else if let store = stores[submission.details.externalID], !party.owns(store: store) {
                results[index] = .failure(LoyaltyError.notPartnerTransaction(submission.details.externalID))
            } else if case .matched(let customer, let kind) = matches[index] {
                matched.append((index, customer, submission.details, kind))
            } else {
                results[index] = .success(.alone(matches[index]))
            }
        }
        if !matched.isEmpty {
            let receipts = try await record(matched.map { ($0.customer, $0.details, $0.kind) }, customers: customers, loyalty: loyalty)
            for (item, receipt) in zip(matched, receipts) { results[item.index] = .success(.done(receipt)) }
        }
        return results.map { $0! }
    }

    /// Each sender's party: partners known by code get their terms with one read for them all.
    static func parties(_ senders: [Sender], terms: PartnerTerms) async throws -> [Result<Party, any Error>] {
        let codes = Set(senders.compactMap { if case .partner(let code) = $0 { code } else { nil } })
        let found = codes.isEmpty ? [:] : try await terms(codes)
        return senders.map { sender in
            switch sender {
            case .known(let party): .success(party)
            case .partner(let code): found[code].map { .success($0) } ?? .failure(LoyaltyError.partnerWithoutTerms(code))
            }
        }
    }

    /// Records a group of matched purchases and accrues them together.
    static func record(_ group: [(CustomerID, TransactionDetails, IdentifierKind)], customers: CustomerService, loyalty: PointsLedger)
        async throws -> [Receipt]
    {
        let (memberships, planner) = try await loyalty.planning(among: Set(group.map(\.0)))
        let (recorded, posted) = try await loyalty.record(group.map { ($0.0, $0.1) }, memberships: memberships, planner: planner)
        var results = [[PointsLedger.AccrualResult]](repeating: [], count: group.count)
        for (index, outcome) in posted { results[index].append(PointsLedger.result(outcome)) }
        return zip(zip(recorded, group), results).map { pair, points in
            let ((transaction, inserted), (_, _, kind)) = pair
            return (inserted ? .recordedTransaction(transaction, matchedBy: kind) : .duplicateTransaction(transaction), points)
        }
    }

    /// Links a held item to a customer; a transaction then earns as if it had matched on arrival.
    public func link(_ id: UnmatchedID, to customer: CustomerID) async throws -> (IngestOutcome, [PointsLedger.AccrualResult]) {
        let outcome = try await customers.link(id, to: customer)
        return (outcome, try await accrue(outcome))
    }

    public func accrue(_ outcome: IngestOutcome) async throws -> [PointsLedger.AccrualResult] {
        switch outcome {
        case .recordedTransaction(let transaction, _), .duplicateTransaction(let transaction): try await accrue(transaction)
        case .recordedInteraction, .unmatched: []
        }
    }

    /// Accrues one recorded transaction, finding a return's original purchase.
    public func accrue(_ transaction: Transaction) async throws -> [PointsLedger.AccrualResult] {
        var original: Transaction?
        if transaction.details.kind == .return, let reference = transaction.details.originalExternalID {
            original = try await customers.transaction(externalID: reference)
        }
        return try await loyalty.accrue(transaction, original: original)
    }

    /// Accrues the transactions of an import batch: its purchases set-wise in one database
    /// transaction (the same rules, promotions and tiers as one by one, in the batch's order),
    /// its returns one by one. Customers who are members of no program cost nothing but one query.
    /// - Returns: how many accruals were posted.
    @discardableResult
    public func accrue(batch: [(customer: CustomerID, details: TransactionDetails)]) async throws -> Int {
        let memberships = try await loyalty.memberships(among: Set(batch.map(\.customer)))
        guard !memberships.isEmpty else { return 0 }
        var purchases: [(memberships: [Member], purchase: TransactionDetails)] = []
        var accrued = 0
        func flush() async throws {
            let plans = try await loyalty.plans(for: purchases)
            accrued += try await loyalty.post(plans).filter { !$0.replayed }.count
            purchases.removeAll()
        }
        for row in batch {
            guard let members = memberships[row.customer] else { continue }
            switch row.details.kind {
            case .purchase: purchases.append((members, row.details))
            case .return:
                // A return takes back what its purchase earned, so the purchases before it are posted first.
                try await flush()
                guard let transaction = try await customers.transaction(externalID: row.details.externalID) else { continue }
                accrued += try await accrue(transaction).count
            }
        }
        try await flush()
        return accrued
    }
}
