import Foundation

/// Where Patron reads the current time. Injected everywhere so expiry, reviews and windows are
/// tested by moving time, never by sleeping.
public struct Clock: Sendable {
    private let read: @Sendable () -> Date

    public init(_ read: @escaping @Sendable () -> Date) { self.read = read }

    /// The current instant (UTC).
    public var now: Date { read() }

    /// The machine's clock.
    public static let system = Clock { Date() }
}

extension Date {
    /// Whole seconds since 1970-01-01T00:00:00Z, as stored in the database.
    public var epochSeconds: Int64 { Int64(timeIntervalSince1970.rounded(.down)) }

    public init(epochSeconds: Int64) { self.init(timeIntervalSince1970: TimeInterval(epochSeconds)) }
}
