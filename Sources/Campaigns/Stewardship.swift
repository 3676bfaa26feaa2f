import Foundation

/// Who is acting on a segment or campaign: marketers own what they create; admins may change
/// anyone's. The one place this rule is written (the API and the console ask it).
public struct Steward: Sendable, Equatable {
    public var actor: String
    public var isAdmin: Bool

    public init(_ actor: String, isAdmin: Bool) {
        self.actor = actor
        self.isAdmin = isAdmin
    }

    public func mayChange(owner: String) -> Bool { isAdmin || owner == actor }
}

extension CampaignService {
    /// The campaign, when `steward` may change, launch or cancel it; throws
    /// ``CampaignError/notOwner(_:owner:)`` otherwise.
    public func campaign(_ id: CampaignID, changeableBy steward: Steward) async throws -> Campaign {
        let c = try await campaign(id)
        guard steward.mayChange(owner: c.owner) else { throw CampaignError.notOwner(id, owner: c.owner) }
        return c
    }
}

extension SegmentService {
    /// The segment, when `steward` may change or delete it; throws
    /// ``SegmentError/notOwner(_:owner:)`` otherwise.
    public func segment(_ id: SegmentID, changeableBy steward: Steward) async throws -> Segment {
        let s = try await segment(id)
        guard steward.mayChange(owner: s.owner) else { throw SegmentError.notOwner(id, owner: s.owner) }
        return s
    }
}
