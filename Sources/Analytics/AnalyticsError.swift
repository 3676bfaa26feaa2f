import Foundation

public enum AnalyticsError: Error, Equatable, CustomStringConvertible {
    case notEnoughData(String)
    case didNotConverge(String)
    case invalid(String)

    public var description: String {
        switch self {
        case .notEnoughData(let why): "not enough data: \(why)"
        case .didNotConverge(let model): "the \(model) fit did not converge"
        case .invalid(let why): why
        }
    }
}
