import Expressions
import Foundation
import SharedModels

// Sending
extension CampaignService {

    /// What one pass over the outbox did.
    public struct DispatchReport: Sendable, Equatable {
        public var sent = 0
        public var retried = 0
        public var bounced = 0
        public init() {}
    }

    /// Sends what is due in the outbox through the given channels, a batch at a time; messages
    /// a crashed sender left half-sent are queued again first (see docs/campaigns.md on why
    /// none is lost or sent twice).
    public func dispatch(through channels: [CampaignChannel: any MessageChannel], batch: Int = 100, maxBatches: Int = .max) async throws
        -> DispatchReport
    {
        var report = DispatchReport()
        _ = try await store.requeueStale(claimedBefore: clock.now.addingTimeInterval(-600))
        for channel in CampaignChannel.allCases {
            let sender = channels[channel]
            if sender == nil && channel != .call { continue }
            for _ in 0..<maxBatches {
                let messages = try await store.claim(channel, now: clock.now, limit: batch)
                if messages.isEmpty { break }
                let outcomes = await sender?.send(messages) ?? Array(repeating: .accepted, count: messages.count)
                for o in outcomes {
                    switch o {
                    case .delivered, .accepted: report.sent += 1
                    case .bounced: report.bounced += 1
                    case .retry: report.retried += 1
                    }
                }
                try await store.settle(Array(zip(messages.map(\.key), outcomes)), at: clock.now)
            }
        }
        return report
    }
}
