import Foundation
import SharedModels

/// Stored segments, the facts' last refresh and the stores, for the edges (the store stays sealed).
extension SegmentService {
    public func segment(named name: String) async throws -> Segment? { try await store.segment(named: name) }
    public func factsRefreshedAt() async throws -> Date? { try await store.factsRefreshedAt() }
    public func upsertStores(_ stores: [StoreLocation]) async throws { try await store.upsertStores(stores) }
    public func stores() async throws -> [StoreLocation] { try await store.stores() }
}
