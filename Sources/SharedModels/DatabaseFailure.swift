import Foundation

/// A failure of the database itself rather than of a business rule, as the storage engines
/// report it. Whatever the case, the transaction that met it was rolled back: nothing was written.
///
/// The edges map it to a response people and programs can act on (503 with `Retry-After` while
/// the database is away or its disk is full), and its description names the engine's own code
/// and message (an SQLSTATE on PostgreSQL, a result code on SQLite) so that logs can be diagnosed.
public enum DatabaseFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// The database cannot be reached, is shutting down or restarting. Try again shortly.
    case unavailable(String)
    /// The database's disk (or quota) is full. Nothing was written; try again once space is freed.
    case full(String)
    /// Concurrent transactions kept conflicting (deadlock or serialization failure) after the
    /// bounded retries. Try again.
    case contention(String)
    /// Any other error the engine reported: its code and message, for the logs.
    case failed(code: String, message: String)

    public var description: String {
        switch self {
        case .unavailable(let detail): "database unavailable: \(detail)"
        case .full(let detail): "database disk full: \(detail)"
        case .contention(let detail): "database contention after retries: \(detail)"
        case .failed(let code, let message): "database error \(code): \(message)"
        }
    }

    /// Whether trying the same request again later may succeed (everything but ``failed(code:message:)``).
    public var isTransient: Bool {
        if case .failed = self { false } else { true }
    }
}
