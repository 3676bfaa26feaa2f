import Foundation
import SharedModels

extension CustomerService {
    /// How a partner's till finds a member: by an exact card number, email or phone, never by
    /// name, customer number or another system's reference, and at most a few. The one place
    /// this rule is written (the API's `GET /v1/customers?q=` for partner keys and the partner
    /// portal ask it). Empty text finds no one.
    public func lookUpForPartner(_ text: String) async throws -> [Customer] {
        guard !text.trimmingSpaces().isEmpty else { return [] }
        var search = CustomerSearch(text, defaultCountryCode: defaultCountryCode)
        search.words = []
        search.identifiers.removeAll { $0.kind == .customerID || $0.kind == .external }
        guard !search.identifiers.isEmpty else { return [] }
        return try await store.customers(matching: search, after: nil, limit: 5).items
    }
}
