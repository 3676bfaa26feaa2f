import Foundation
import SharedModels

/// Why the company wants to use a customer's data or contact them.
public enum Purpose: String, Sendable, Codable, CaseIterable { case marketing, profiling, service }

/// A customer's yes or no to a purpose on a channel, with when, how, by whom and which text.
/// Consents are never edited: a change is a new record, and the newest per purpose and channel
/// is the one in force.
public struct Consent: Sendable, Equatable, Codable {
    public var purpose: Purpose
    public var channel: Channel
    public var granted: Bool
    /// How it was given: `web_form`, `call`, `paper`, `import`…
    public var source: String
    /// The wording (or its version) the customer agreed to.
    public var text: String?
    public var recordedBy: String
    public var recordedAt: Date

    public init(purpose: Purpose, channel: Channel, granted: Bool, source: String, text: String?, recordedBy: String, recordedAt: Date) {
        self.purpose = purpose
        self.channel = channel
        self.granted = granted
        self.source = source
        self.text = text
        self.recordedBy = recordedBy
        self.recordedAt = recordedAt
    }
}

/// A channel the company must not use for this customer, and why.
public struct ContactBlock: Sendable, Equatable {
    public var channel: Channel
    public var reason: String
    public var setBy: String
    public var setAt: Date
    public var clearedBy: String?
    public var clearedAt: Date?

    public init(channel: Channel, reason: String, setBy: String, setAt: Date, clearedBy: String? = nil, clearedAt: Date? = nil) {
        self.channel = channel
        self.reason = reason
        self.setBy = setBy
        self.setAt = setAt
        self.clearedBy = clearedBy
        self.clearedAt = clearedAt
    }
}

/// Consents in force, their whole history (newest first) and every do-not-contact block ever set.
public struct ConsentState: Sendable, Equatable {
    public var history: [Consent]
    public var blocks: [ContactBlock]

    public init(history: [Consent], blocks: [ContactBlock]) {
        self.history = history
        self.blocks = blocks
    }

    /// The newest record per purpose and channel.
    public var current: [Consent] {
        var seen = Set<String>()
        return history.filter { seen.insert("\($0.purpose.rawValue)/\($0.channel.rawValue)").inserted }
    }

    /// Whether the company may contact the customer for `purpose` on `channel` now: an explicit
    /// yes in force and no active block.
    public func allows(_ purpose: Purpose, on channel: Channel) -> Bool {
        guard !blocks.contains(where: { $0.channel == channel && $0.clearedAt == nil }) else { return false }
        return current.first { $0.purpose == purpose && $0.channel == channel }?.granted ?? false
    }
}
