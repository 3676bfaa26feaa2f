import Foundation
import SharedModels

public enum PartnerError: Error, Equatable, Sendable, CustomStringConvertible {
    case notFound(String)
    case invalid(field: String, reason: String)
    case conflict(String)

    public var description: String {
        switch self {
        case .notFound(let code): "No partner \(code)."
        case .invalid(let field, let reason): "\(field): \(reason)"
        case .conflict(let reason): reason
        }
    }
}
