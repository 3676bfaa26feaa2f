import Foundation
import SharedModels

/// Who may come in and what they may do: staff users, member logins, sessions and partner API keys.
///
/// Passwords are stored as bcrypt hashes; session tokens and API keys are 256-bit random secrets
/// shown once and stored only as digests.
public struct AccessService: Sendable {
    let store: any AccessStore
    public let hasher: any PasswordHasher
    public let digest: any SecretDigest
    public let clock: Clock
    /// How long a session token works after login.
    public let sessionLifetime: TimeInterval
    public let throttle: LoginThrottle

    public init(
        store: any AccessStore, hasher: any PasswordHasher, digest: any SecretDigest, clock: Clock = .system,
        sessionLifetime: TimeInterval = 12 * 3600, throttle: LoginThrottle = .standard
    ) {
        self.throttle = throttle
        self.store = store
        self.hasher = hasher
        self.digest = digest
        self.clock = clock
        self.sessionLifetime = sessionLifetime
    }

    /// API keys start with this, so they are recognisable in logs and secret scanners.
    public static let apiKeyPrefix = "pk_"

    static func validEmail(_ text: String) throws -> String {
        guard let email = EmailAddress(text) else { throw AccessError.invalid(field: "email", reason: "'\(text)' is not an email address") }
        return email.value
    }

    static func validPassword(_ password: String) throws {
        guard password.count >= 8 else { throw AccessError.invalid(field: "password", reason: "must be at least 8 characters") }
        guard password.utf8.count <= 72 else { throw AccessError.invalid(field: "password", reason: "must be at most 72 bytes") }
    }

    /// Creates a staff user. Throws ``AccessError/invalid(field:reason:)`` or ``AccessError/emailTaken(_:)``.
    public func addUser(email: String, password: String, role: Role) async throws -> User {
        let normalised = try Self.validEmail(email)
        try Self.validPassword(password)
        return try await store.insertUser(email: normalised, passwordHash: hasher.hash(password), role: role, at: clock.now)
    }

    public func users() async throws -> [User] { try await store.users() }

    /// Checks email and password (staff first, then members) and opens a session.
    /// Throws ``AccessError/invalidCredentials`` for an unknown email or a wrong password alike,
    /// and ``AccessError/tooManyAttempts(retryAfter:)`` without checking the password while the
    /// account or the client is held back by ``LoginThrottle``. `client` is the caller's network
    /// address (nil when unknown); only its digest is stored.
    public func logIn(email: String, password: String, client: String?) async throws -> (token: String, expiresAt: Date, principal: Principal) {
        let now = clock.now
        let tried = EmailAddress(email)?.value ?? String(email.trimmingSpaces().lowercased().prefix(200))
        let accountKey = "account:" + tried
        let clientDigest = client.map { digest.digest("client:" + $0) }
        let clientKey = clientDigest.map { "client:" + $0 }
        // A client that signed in to this account before is its owner: neither the account's
        // delay (someone else guessing) nor the address's (someone else spraying behind the same
        // address) holds it.
        let trusted: Bool
        if let clientDigest {
            trusted = try await store.isKnownClient(email: tried, client: clientDigest, since: now.addingTimeInterval(-throttle.trustClientsFor))
        } else {
            trusted = false
        }
        if !trusted {
            let held = try await store.signInFailures(keys: [accountKey] + (clientKey.map { [$0] } ?? []))
            if let blocked = held.values.map(\.blockedUntil).max(), blocked > now {
                throw AccessError.tooManyAttempts(retryAfter: Self.seconds(from: now, to: blocked))
            }
        }
        let login: StoredLogin?
        if let normalised = EmailAddress(email)?.value { login = try await store.login(email: normalised) } else { login = nil }
        guard let login, hasher.verify(password, against: login.passwordHash) else {
            if login == nil { _ = hasher.verify(password, against: Self.decoyHash) }
            try await audit(
                actor: tried, action: "login.failed", target: login?.principal.actor, outcome: "refused",
                detail: login == nil ? "unknown email" : "wrong password")
            try await countFailure(key: accountKey, free: throttle.freeFailures, now: now, actor: tried, what: "this account")
            if let clientKey {
                try await countFailure(key: clientKey, free: throttle.freeFailuresPerClient, now: now, actor: tried, what: "one client address")
            }
            throw AccessError.invalidCredentials
        }
        let token = Self.randomSecret()
        let expiresAt = now.addingTimeInterval(sessionLifetime)
        try await store.insertSession(digest: digest.digest(token), principal: login.principal, expiresAt: expiresAt, at: now)
        try await store.clearSignInFailures(key: accountKey)
        if let clientDigest { try await store.rememberClient(email: tried, client: clientDigest, at: now) }
        try await audit(actor: tried, action: "login", target: login.principal.actor, outcome: "ok", detail: trusted ? "known client" : nil)
        return (token, expiresAt, login.principal)
    }

    /// Counts a failure under `key` and, past the free ones, holds the key back; the failure that
    /// starts a delay is audited once as `login.locked`.
    private func countFailure(key: String, free: Int, now: Date, actor: String, what: String) async throws {
        let failures = try await store.countSignInFailure(key: key, at: now, forgetBefore: now.addingTimeInterval(-throttle.forgetAfter))
        let delay = throttle.delay(afterFailures: failures, free: free)
        guard delay > 0 else { return }
        try await store.blockSignIns(key: key, until: now.addingTimeInterval(delay))
        if failures == free {
            try await audit(actor: actor, action: "login.locked", target: nil, outcome: "refused", detail: "\(failures) failed sign-ins from \(what)")
        }
    }

    private static func seconds(from now: Date, to later: Date) -> Int {
        max(1, Int(later.timeIntervalSince(now).rounded(.up)))
    }

    /// Appends to the audit log.
    /// - Parameter at: when it happened, for a row written later than that (now by default).
    public func audit(actor: String, action: String, target: String?, outcome: String, detail: String?, at: Date? = nil) async throws {
        try await store.insertAuditEvent(
            at: at ?? clock.now, actor: String(actor.prefix(300)), action: String(action.prefix(300)), target: target.map { String($0.prefix(300)) },
            outcome: outcome, detail: detail.map { String($0.prefix(2_000)) })
    }

    /// How long a row the database cannot take is tried again before it is given up.
    public static let auditRetry: TimeInterval = 3_600

    /// Writes the audit row of a change that was made, stamped now, without making the change's
    /// answer depend on it: the change stands whatever happens to its row (an error here once
    /// answered a change that was made "nothing was written", and a client that retried made it
    /// twice). A row the database cannot take now is tried again in the background for
    /// ``auditRetry``; `failed` hears why it was not written at once, `lost` that it was given up.
    public func auditChange(
        actor: String, action: String, outcome: String, failed: @escaping @Sendable (any Error) -> Void, lost: @escaping @Sendable () -> Void
    ) async {
        let at = clock.now, service = self
        let write: @Sendable () async throws -> Void = {
            try await service.audit(actor: actor, action: action, target: nil, outcome: outcome, detail: nil, at: at)
        }
        do {
            try await write()
        } catch {
            failed(error)
            BackgroundRetry.untilWritten(by: Date().addingTimeInterval(Self.auditRetry), givingUp: lost, write)
        }
    }

    /// The audit log, newest first.
    public func auditEvents(_ query: AuditQuery) async throws -> [AuditEvent] {
        var q = query
        q.limit = max(1, min(q.limit, 1_000))
        return try await store.auditEvents(q)
    }

    /// How many events the query matches in all, for the page's count.
    public func auditCount(_ query: AuditQuery) async throws -> Int { try await store.auditCount(query) }

    /// A bcrypt hash of nothing in particular, checked for unknown emails so that they take as long as wrong passwords.
    static let decoyHash = "$2b$12$C6UzMDM.H6dfI/f/IKcEeO5pGXHJHKb4t3bU9uHcNMzD0lWH7Ah3u"

    /// The principal behind a bearer token or API key; throws ``AccessError/unauthenticated``.
    public func authenticate(bearer token: String) async throws -> Principal {
        guard !token.isEmpty, token.count <= 256, let principal = try await store.principal(
                digest: digest.digest(token), now: clock.now, apiKeyFirst: token.hasPrefix(Self.apiKeyPrefix))
        else {
            throw AccessError.unauthenticated
        }
        return principal
    }

    public func logOut(bearer token: String) async throws {
        try await store.deleteSession(digest: digest.digest(token))
    }

    /// Issues a key; the secret is returned once and only its digest is kept.
    public func createAPIKey(name: String, partner: String, scopes: [APIScope]) async throws -> (key: APIKey, secret: String) {
        let name = name.trimmingSpaces(), partner = partner.trimmingSpaces()
        guard (1...100).contains(name.count) else { throw AccessError.invalid(field: "name", reason: "must be 1 to 100 characters") }
        guard (1...100).contains(partner.count) else { throw AccessError.invalid(field: "partner", reason: "must be 1 to 100 characters") }
        guard !scopes.isEmpty else { throw AccessError.invalid(field: "scopes", reason: "give at least one scope") }
        let secret = Self.apiKeyPrefix + Self.randomSecret()
        let key = try await store.insertAPIKey(
            name: name, partner: partner, scopes: Array(Set(scopes)).sorted { $0.rawValue < $1.rawValue },
            prefix: String(secret.prefix(10)), digest: digest.digest(secret), at: clock.now)
        return (key, secret)
    }

    public func apiKeys() async throws -> [APIKey] { try await store.apiKeys() }

    public func revokeAPIKey(_ id: APIKeyID) async throws {
        guard try await store.revokeAPIKey(id, at: clock.now) else { throw AccessError.notFound(kind: "API key", id: id.rawValue) }
    }

    /// Gives a member a portal login. The caller checks that the customer exists.
    /// Whether the email may still become a member's login (no staff user or member signs in with
    /// it). Throws ``AccessError/invalid(field:reason:)`` for an email that does not read.
    public func loginEmailIsFree(_ email: String) async throws -> Bool {
        try await !store.loginExists(email: Self.validEmail(email))
    }

    public func createMemberLogin(customerID: Int64, email: String, password: String) async throws -> String {
        let normalised = try Self.validEmail(email)
        try Self.validPassword(password)
        try await store.insertMemberLogin(customerID: customerID, email: normalised, passwordHash: hasher.hash(password), at: clock.now)
        return normalised
    }

    /// Adds a cashier or manager of a partner (its code, upper-case), who signs in to the partner portal.
    public func addPartnerUser(partner: String, email: String, password: String, role: PartnerRole) async throws -> PartnerUser {
        let normalised = try Self.validEmail(email)
        try Self.validPassword(password)
        let code = partner.trimmingSpaces().uppercased()
        guard !code.isEmpty, code.count <= 40 else { throw AccessError.invalid(field: "partner", reason: "name the partner by its code") }
        return try await store.insertPartnerUser(partner: code, email: normalised, passwordHash: hasher.hash(password), role: role, at: clock.now)
    }

    public func partnerUsers(partner: String) async throws -> [PartnerUser] { try await store.partnerUsers(partner: partner.uppercased()) }

    /// Deactivates (signing them out) or reactivates one of a partner's users.
    public func setPartnerUser(_ id: Int64, partner: String, active: Bool) async throws -> PartnerUser {
        guard let user = try await store.setPartnerUser(id, partner: partner.uppercased(), active: active, at: clock.now) else {
            throw AccessError.invalid(field: "user", reason: "the partner has no such user")
        }
        return user
    }

    /// 32 random bytes from the system's secure generator, base64url without padding (43 characters).
    public static func randomSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
