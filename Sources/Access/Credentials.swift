import Foundation
import SharedModels

/// A staff user of the console and the API.
public struct User: Sendable, Equatable {
    public var id: UserID
    public var email: String
    public var role: Role
    public var createdAt: Date
    /// Set when an administrator deactivated the user: they cannot sign in, and their sessions ended.
    public var deactivatedAt: Date?

    public init(id: UserID, email: String, role: Role, createdAt: Date, deactivatedAt: Date? = nil) {
        self.id = id
        self.email = email
        self.role = role
        self.createdAt = createdAt
        self.deactivatedAt = deactivatedAt
    }

    public var isActive: Bool { deactivatedAt == nil }
}

/// What a partner's person does at the partner's tills and in its portal.
public enum PartnerRole: String, Sendable, Codable, CaseIterable {
    /// Looks members up, records receipts and returns, enrols guests, honours vouchers.
    case cashier
    /// A cashier who also reads the partner's statements and approves joint promotions.
    case manager

    /// What the role may do through the API's scopes.
    public var scopes: [APIScope] { [.customersLookup, .transactionsWrite, .vouchersRedeem, .membersEnroll] }
}

/// A partner's person who signs in to the partner portal with an email and a password.
public struct PartnerUser: Sendable, Equatable {
    public var id: Int64
    public var partner: String
    public var email: String
    public var role: PartnerRole
    public var createdAt: Date
    public var deactivatedAt: Date?

    public init(id: Int64, partner: String, email: String, role: PartnerRole, createdAt: Date, deactivatedAt: Date? = nil) {
        self.id = id
        self.partner = partner
        self.email = email
        self.role = role
        self.createdAt = createdAt
        self.deactivatedAt = deactivatedAt
    }

    public var isActive: Bool { deactivatedAt == nil }
}

/// A partner's API key. Only a hash of the secret is stored; ``prefix`` lets people tell keys apart.
public struct APIKey: Sendable, Equatable {
    public var id: APIKeyID
    public var name: String
    public var partner: String
    public var scopes: [APIScope]
    public var prefix: String
    public var createdAt: Date
    public var revokedAt: Date?

    public init(id: APIKeyID, name: String, partner: String, scopes: [APIScope], prefix: String, createdAt: Date, revokedAt: Date?) {
        self.id = id
        self.name = name
        self.partner = partner
        self.scopes = scopes
        self.prefix = prefix
        self.createdAt = createdAt
        self.revokedAt = revokedAt
    }
}

/// A stored password hash with the identity it unlocks.
public struct StoredLogin: Sendable {
    public var passwordHash: String
    public var principal: Principal

    public init(passwordHash: String, principal: Principal) {
        self.passwordHash = passwordHash
        self.principal = principal
    }
}

/// Hashes and checks passwords (bcrypt in production).
public protocol PasswordHasher: Sendable {
    func hash(_ password: String) -> String
    func verify(_ password: String, against hash: String) -> Bool
}

/// A one-way digest for random secrets (session tokens, API keys), e.g. SHA-256 in hex. Secrets
/// are long and random, so a fast digest is safe, and lookups by digest are indexed.
public protocol SecretDigest: Sendable {
    func digest(_ secret: String) -> String
}

/// Users, logins, sessions and API keys as stored. Implemented once in Storage over SQLKit.
public protocol AccessStore: SavedViewStore, UploadStore {
    /// Throws ``AccessError/emailTaken(_:)`` when a user has the email.
    func insertUser(email: String, passwordHash: String, role: Role, at: Date) async throws -> User
    func users() async throws -> [User]
    /// The staff login or member login for this email, staff first.
    func login(email: String) async throws -> StoredLogin?
    func insertSession(digest: String, principal: Principal, expiresAt: Date, at: Date) async throws
    /// The principal of an unexpired session, or of an unrevoked API key, with this digest; one
    /// statement when the token is what it looks like (`apiKeyFirst`: it has the API key prefix).
    func principal(digest: String, now: Date, apiKeyFirst: Bool) async throws -> Principal?
    func deleteSession(digest: String) async throws
    func insertAPIKey(name: String, partner: String, scopes: [APIScope], prefix: String, digest: String, at: Date) async throws -> APIKey
    func apiKeys() async throws -> [APIKey]
    /// Returns false when no such key exists.
    func revokeAPIKey(_ id: APIKeyID, at: Date) async throws -> Bool
    /// Throws ``AccessError/emailTaken(_:)`` or ``AccessError/loginExists(customerID:)``.
    func insertMemberLogin(customerID: Int64, email: String, passwordHash: String, at: Date) async throws
    /// Adds a partner's cashier or manager; an email that signs in anyone else is refused.
    func insertPartnerUser(partner: String, email: String, passwordHash: String, role: PartnerRole, at: Date) async throws -> PartnerUser
    func partnerUsers(partner: String) async throws -> [PartnerUser]
    /// Deactivates (ending their sessions) or reactivates one of the partner's users; nil when it has none with that id.
    func setPartnerUser(_ id: Int64, partner: String, active: Bool, at: Date) async throws -> PartnerUser?
    /// Whether a staff user or a member login signs in with this (normalised) email.
    func loginExists(email: String) async throws -> Bool

    // MARK: Users' lifecycle
    /// Changes a user's role; false when there is no such user.
    func setRole(_ id: UserID, _ role: Role) async throws -> Bool
    /// Deactivates (ending the user's sessions) or, with nil, reactivates a user; false when there is no such user.
    func setDeactivated(_ id: UserID, at: Date?) async throws -> Bool
    /// Replaces the password of the staff user or member login with this email and ends its sessions.
    func setPassword(email: String, passwordHash: String) async throws
    func insertPasswordReset(digest: String, email: String, expiresAt: Date, at: Date) async throws
    /// Marks the reset used and returns its email, when it exists, is unused and has not expired — once.
    func consumePasswordReset(digest: String, now: Date) async throws -> String?

    // MARK: Audit
    func insertAuditEvent(at: Date, actor: String, action: String, target: String?, outcome: String, detail: String?) async throws
    func auditEvents(_ query: AuditQuery) async throws -> [AuditEvent]
    /// How many events match the query (older than `before`, when it is given).
    func auditCount(_ query: AuditQuery) async throws -> Int

    // MARK: Sign-in throttle (keys are `account:<email>` and `client:<digest of the address>`)
    /// The recent failures under each of these keys that has any.
    func signInFailures(keys: [String]) async throws -> [String: SignInFailures]
    /// Counts one more failure under `key` (starting again at 1 when the last one is older than
    /// `forgetBefore`) and returns the count, atomically.
    func countSignInFailure(key: String, at: Date, forgetBefore: Date) async throws -> Int
    func blockSignIns(key: String, until: Date) async throws
    func clearSignInFailures(key: String) async throws
    /// Whether this client (an address digest) signed in to this email since `since`.
    func isKnownClient(email: String, client: String, since: Date) async throws -> Bool
    func rememberClient(email: String, client: String, at: Date) async throws
}
