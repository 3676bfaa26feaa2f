import Expressions
import Foundation
import SharedModels

public enum SegmentError: Error, Equatable, CustomStringConvertible {
    /// The rule does not parse or type-check; `line` and `column` point at the problem.
    case invalidRule(message: String, line: Int, column: Int)
    case notFound(SegmentID)
    case nameTaken(String)
    case invalid(field: String, reason: String)
    /// Only the owner (or an admin) changes or deletes a segment.
    case notOwner(SegmentID, owner: String)

    public var description: String {
        switch self {
        case .notOwner(let id, let owner): "Segment \(id) belongs to \(owner); only its owner or an admin may change it."
        case .invalidRule(let message, let line, let column): "line \(line), column \(column): \(message)"
        case .notFound(let id): "no segment \(id)"
        case .nameTaken(let name): "a segment named '\(name)' exists already"
        case .invalid(let field, let reason): "\(field): \(reason)"
        }
    }
}
