import Foundation
import SharedModels

/// One thing someone did that an administrator may need to account for later: a sign-in (or a
/// failed one), a change through the API or a console form, a privacy request fulfilled.
/// Append-only; never edited.
public struct AuditEvent: Sendable, Equatable {
    public var id: Int64
    public var at: Date
    /// Who: a staff email, `member:42`, `partner:ACME/till-1`, or the email tried at a failed sign-in.
    public var actor: String
    /// What: `login`, `login.failed`, `login.refused`, `POST /v1/customers/42/merge`, `privacy.erase`…
    public var action: String
    /// On what, when it is not in the action (the account signed in to, the customer erased).
    public var target: String?
    /// How it ended: an HTTP status (`201`, `422`…), `ok` or `refused`.
    public var outcome: String
    public var detail: String?

    public init(id: Int64, at: Date, actor: String, action: String, target: String?, outcome: String, detail: String?) {
        self.id = id
        self.at = at
        self.actor = actor
        self.action = action
        self.target = target
        self.outcome = outcome
        self.detail = detail
    }
}

/// Which audit events to list, newest first.
public struct AuditQuery: Sendable, Equatable {
    public var actor: String?
    /// Events whose action or target contains this text (e.g. `customers/42`).
    public var contains: String?
    /// Only events older than this id (the next page).
    public var before: Int64?
    public var limit: Int

    public init(actor: String? = nil, contains: String? = nil, before: Int64? = nil, limit: Int = 100) {
        self.actor = actor
        self.contains = contains
        self.before = before
        self.limit = limit
    }
}

/// Failed sign-ins to one email within `window` before the account refuses more attempts for
/// the rest of the window (so a password cannot be guessed by trying).
public struct LoginThrottle: Sendable, Equatable {
    public var attempts: Int
    public var window: TimeInterval

    public init(attempts: Int, window: TimeInterval) {
        self.attempts = attempts
        self.window = window
    }

    /// Five failures in fifteen minutes.
    public static let standard = LoginThrottle(attempts: 5, window: 15 * 60)
}
