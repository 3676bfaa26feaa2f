import Foundation
import SharedModels

public enum SalesError: Error, Equatable, Sendable {
    case opportunityNotFound(OpportunityID)
    case leadNotFound(LeadID)
    case invalid(field: String, reason: String)
    /// Only the owner (or an admin) may change it.
    case notOwner(what: String, owner: String)
    /// The opportunity or lead is in a state that does not allow this.
    case conflict(String)
}

extension SalesError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .opportunityNotFound(let id): "No opportunity \(id)."
        case .leadNotFound(let id): "No lead \(id)."
        case .invalid(let field, let reason): "\(field): \(reason)"
        case .notOwner(let what, let owner): "\(what) belongs to \(owner); only its owner or an admin may change it."
        case .conflict(let reason): reason
        }
    }
}
