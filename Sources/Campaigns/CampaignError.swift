import Foundation
import SharedModels

public enum CampaignError: Error, Equatable, CustomStringConvertible {
    case notFound(CampaignID)
    case invalid(field: String, reason: String)
    /// The campaign is not in a state that allows this (e.g. changing a launched plan).
    case conflict(String)
    /// Only the owner (or an admin) changes, launches or cancels a campaign.
    case notOwner(CampaignID, owner: String)

    public var description: String {
        switch self {
        case .notOwner(let id, let owner): "Campaign \(id) belongs to \(owner); only its owner or an admin may change it."
        case .notFound(let id): "no campaign \(id)"
        case .invalid(let field, let reason): "\(field): \(reason)"
        case .conflict(let reason): reason
        }
    }
}
