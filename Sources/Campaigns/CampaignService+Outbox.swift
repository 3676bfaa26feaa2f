import Foundation
import SharedModels

/// Outbox reads and deletion of drafts, for the edges and benchmarks (the store stays sealed).
extension CampaignService {
    public func deleteCampaign(_ id: CampaignID) async throws { try await store.deleteCampaign(id) }
    public func claim(_ channel: CampaignChannel, now: Date, limit: Int) async throws -> [OutboundMessage] { try await store.claim(channel, now: now, limit: limit) }
    public func message(_ key: MessageKey) async throws -> OutboundMessage? { try await store.message(key) }
}
