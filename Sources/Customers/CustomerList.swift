import Foundation
import SharedModels

/// One page of the customer list as staff browse it: filtered, sorted, with the total count.
public struct CustomerListQuery: Sendable, Equatable {
    public enum Sort: String, Sendable, CaseIterable {
        case name, since, completeness
        case homeStore = "home_store"
    }

    /// Data quality bands of ``Customer`` completeness (0–100).
    public enum Quality: String, Sendable, CaseIterable {
        case complete, partial, poor

        /// The completeness scores of the band, inclusive.
        public var range: ClosedRange<Int> {
            switch self {
            case .complete: 80...100
            case .partial: 50...79
            case .poor: 0...49
            }
        }
    }

    /// Free text, read as ``CustomerSearch`` reads it (name words, email, phone, card, id), plus
    /// the ends of phone numbers: `555-0120` finds `+1 555 010 0120`.
    public var text: String?
    public var homeStore: String?
    public var lifeStage: String?
    public var quality: Quality?
    public var sort: Sort
    public var descending: Bool
    public var offset: Int
    public var limit: Int

    public init(
        text: String? = nil, homeStore: String? = nil, lifeStage: String? = nil, quality: Quality? = nil, sort: Sort = .name,
        descending: Bool = false, offset: Int = 0, limit: Int = 50
    ) {
        self.text = text
        self.homeStore = homeStore
        self.lifeStage = lifeStage
        self.quality = quality
        self.sort = sort
        self.descending = descending
        self.offset = max(0, offset)
        self.limit = min(max(1, limit), 500)
    }
}

/// The values the customer list's filters offer, read from the data.
public struct CustomerFacets: Sendable, Equatable {
    public var homeStores: [String]
    public var lifeStages: [String]

    public init(homeStores: [String], lifeStages: [String]) {
        self.homeStores = homeStores
        self.lifeStages = lifeStages
    }
}

extension CustomerSearch {
    /// The digits of a partial phone number typed with any separators (`555-0120`, `(555) 0120`),
    /// when the text is one: at least 4 digits and nothing but digits, spaces, `+-().`.
    public static func phoneDigits(_ text: String) -> String? {
        let trimmed = text.trimmingSpaces()
        guard trimmed.allSatisfy({ ($0.isASCII && $0.isNumber) || " -().+".contains($0) }) else { return nil }
        let digits = trimmed.filter(\.isNumber)
        return (4...15).contains(digits.count) ? digits : nil
    }
}

extension CustomerService {
    /// A page of active customers for the console's list.
    /// - Throws: ``CustomerError/invalid(_:)`` for a search over 200 characters or 10 words.
    public func list(_ query: CustomerListQuery) async throws -> CountedPage<Customer> {
        try await store.list(query, search: try searchFor(query.text), phoneDigits: query.text.flatMap(CustomerSearch.phoneDigits))
    }

    /// The home stores and life stages customers have, for the list's filters.
    public func facets() async throws -> CustomerFacets { try await store.facets() }
}
