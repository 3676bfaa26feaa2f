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

/// How sign-in guessing is slowed down without letting anyone lock an owner out (OWASP's
/// authentication guidance): progressive delays per account and per client address, and a way in
/// for the owner.
///
/// - An account may fail `freeFailures` times; each further failure makes it wait
///   `firstDelay`, doubling up to `maximumDelay`, before the next try is even checked.
/// - A client address may fail `freeFailuresPerClient` times across all accounts (password
///   spraying) before the same progressive delay applies to everything it tries.
/// - A client that signed in to the account before (within `trustClientsFor`) is not held by the
///   account's delay, only by its own; its success clears the account's failures. So an attacker
///   who keeps failing from elsewhere slows himself down, never the owner.
/// - Failures older than `forgetAfter` are forgotten.
/// - A try refused because of a delay is answered with the seconds to wait and is neither checked
///   nor audited; only the failure that starts a delay writes a `login.locked` event.
public struct LoginThrottle: Sendable, Equatable {
    public var freeFailures: Int
    public var freeFailuresPerClient: Int
    public var firstDelay: TimeInterval
    public var maximumDelay: TimeInterval
    public var forgetAfter: TimeInterval
    public var trustClientsFor: TimeInterval

    public init(
        freeFailures: Int = 5, freeFailuresPerClient: Int = 20, firstDelay: TimeInterval = 30, maximumDelay: TimeInterval = 15 * 60,
        forgetAfter: TimeInterval = 24 * 3600, trustClientsFor: TimeInterval = 90 * 24 * 3600
    ) {
        self.freeFailures = freeFailures
        self.freeFailuresPerClient = freeFailuresPerClient
        self.firstDelay = firstDelay
        self.maximumDelay = maximumDelay
        self.forgetAfter = forgetAfter
        self.trustClientsFor = trustClientsFor
    }

    /// Five free failures per account, twenty per client address; 30 s doubling to 15 minutes.
    public static let standard = LoginThrottle()

    /// How long to wait after the `failures`-th failure in a row when `free` are allowed.
    public func delay(afterFailures failures: Int, free: Int) -> TimeInterval {
        guard failures >= free else { return 0 }
        let doublings = min(failures - free, 30)
        return min(maximumDelay, firstDelay * Double(1 << doublings))
    }
}

/// Recent failed sign-ins under one key (an account's email or a client's address digest).
public struct SignInFailures: Sendable, Equatable {
    public var failures: Int
    public var lastFailure: Date
    /// No try under this key is checked before this instant.
    public var blockedUntil: Date

    public init(failures: Int, lastFailure: Date, blockedUntil: Date) {
        self.failures = failures
        self.lastFailure = lastFailure
        self.blockedUntil = blockedUntil
    }
}
