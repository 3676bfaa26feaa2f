import Foundation
import SharedModels

/// Bulk import and export of customers and their activity, and reads for the edges (the store stays sealed).
extension CustomerService {
    /// The customers each identifier belongs to (imports check cards and references against them).
    public func owners(of identifiers: Set<CustomerIdentifier>) async throws -> [CustomerIdentifier: [CustomerID]] { try await store.owners(of: identifiers) }
    /// The transaction recorded under this id from its source, if any.
    public func transaction(externalID: String) async throws -> Transaction? { try await store.transaction(externalID: externalID) }
    /// The store each recorded transaction among `externalIDs` was made at; one read for a group.
    public func stores(ofTransactions externalIDs: Set<String>) async throws -> [String: String] {
        externalIDs.isEmpty ? [:] : try await store.stores(ofTransactions: externalIDs)
    }
    public func erased(_ keys: [String]) async throws -> Set<String> { try await store.erased(keys) }
    public func upsertCustomers(_ rows: [ImportedCustomer], at: Date) async throws -> Int { try await store.upsertCustomers(rows, at: at) }
    public func customers(matching search: CustomerSearch?, after: Cursor?, limit: Int) async throws -> Page<Customer> { try await store.customers(matching: search, after: after, limit: limit) }
    public func insertTransactions(_ rows: [(customer: CustomerID, details: TransactionDetails)]) async throws -> Int { try await store.insertTransactions(rows) }
    public func transactions(of customer: CustomerID, after: Cursor?, limit: Int) async throws -> Page<Transaction> { try await store.transactions(of: customer, after: after, limit: limit) }
    public func holdUnmatched(_ items: [(payload: UnmatchedItem.Payload, identifiers: [CustomerIdentifier], reason: String)], at: Date) async throws -> [UnmatchedID] { try await store.holdUnmatched(items, at: at) }
}
