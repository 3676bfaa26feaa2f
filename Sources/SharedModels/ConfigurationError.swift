/// A flag or setting with a bad value.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    public let flag: String
    public let reason: String

    public init(flag: String, reason: String) {
        self.flag = flag
        self.reason = reason
    }

    public var description: String { "\(flag): \(reason)" }
}
