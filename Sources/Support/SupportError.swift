import Foundation
import SharedModels

public enum SupportError: Error, Equatable, Sendable {
    case notFound(ServiceRequestID)
    case invalid(field: String, reason: String)
    /// The request is in a state that does not allow this (e.g. rating an open request).
    case conflict(String)
}

extension SupportError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .notFound(let id): "No service request \(id)."
        case .invalid(let field, let reason): "\(field): \(reason)"
        case .conflict(let reason): reason
        }
    }
}
