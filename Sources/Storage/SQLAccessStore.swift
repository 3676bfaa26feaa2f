import Access
import Foundation
import SQLKit
import SharedModels

/// Users, member logins, sessions, API keys and idempotency records, over SQLKit.
public struct SQLAccessStore: AccessStore, IdempotencyStore {
    let database: any Database

    public init(database: any Database) { self.database = database }

    /// Whether an error is the engine refusing a duplicate in a unique column.
    static func isUniqueViolation(_ error: any Error) -> Bool {
        let text = String(reflecting: error)
        return text.contains("UNIQUE constraint failed") || text.contains("23505") || text.contains("duplicate key")
    }

    public func insertUser(email: String, passwordHash: String, role: Role, at: Date) async throws -> User {
        do {
            let id = try await database.write { db in
                // One email signs in one person: a member's login email cannot become a staff login.
                let member = try await db.raw("SELECT 1 AS one FROM member_logins WHERE email = \(bind: email)").first() != nil
                let partner = try await db.raw("SELECT 1 AS one FROM partner_users WHERE email = \(bind: email)").first() != nil
                if member || partner { throw AccessError.emailTaken(email) }
                return try await db.raw(
                    """
                    INSERT INTO users (email, password_hash, role, created_at)
                    VALUES (\(bind: email), \(bind: passwordHash), \(bind: role.rawValue), \(bind: at.epochSeconds)) RETURNING id
                    """
                ).first()!.int64("id")
            }
            return User(id: UserID(id), email: email, role: role, createdAt: Date(epochSeconds: at.epochSeconds))
        } catch  where Self.isUniqueViolation(error) {
            throw AccessError.emailTaken(email)
        }
    }

    public func users() async throws -> [User] {
        try await database.read { db in
            try await db.raw("SELECT id, email, role, created_at, deactivated_at FROM users ORDER BY id").all().map { row in
                User(
                    id: UserID(try row.int64("id")), email: try row.string("email"), role: Role(rawValue: try row.string("role")) ?? .analyst,
                    createdAt: try row.date("created_at"), deactivatedAt: try row.optionalInt64("deactivated_at").map { Date(epochSeconds: $0) })
            }
        }
    }

    public func login(email: String) async throws -> StoredLogin? {
        try await database.read { db in
            if let row = try await db.raw(
                "SELECT id, email, role, password_hash FROM users WHERE email = \(bind: email) AND deactivated_at IS NULL"
            ).first() {
                return StoredLogin(
                    passwordHash: try row.string("password_hash"),
                    principal: .staff(id: UserID(try row.int64("id")), email: email, role: Role(rawValue: try row.string("role")) ?? .analyst))
            }
            if let row = try await db.raw("SELECT customer_id, password_hash FROM member_logins WHERE email = \(bind: email)").first() {
                return StoredLogin(
                    passwordHash: try row.string("password_hash"), principal: .member(customerID: try row.int64("customer_id"), email: email))
            }
            if let row = try await db.raw(
                "SELECT id, partner, role, password_hash FROM partner_users WHERE email = \(bind: email) AND deactivated_at IS NULL"
            ).first() {
                return StoredLogin(
                    passwordHash: try row.string("password_hash"),
                    principal: .partnerUser(
                        id: try row.int64("id"), email: email, partner: try row.string("partner"),
                        role: PartnerRole(rawValue: try row.string("role")) ?? .cashier))
            }
            return nil
        }
    }

    public func insertSession(digest: String, principal: Principal, expiresAt: Date, at: Date) async throws {
        let (userID, customerID, partnerUserID): (Int64?, Int64?, Int64?) =
            switch principal {
            case .staff(let id, _, _): (id.rawValue, nil, nil)
            case .member(let id, _): (nil, id, nil)
            case .partnerUser(let id, _, _, _): (nil, nil, id)
            case .partner: preconditionFailure("partner keys authenticate with the key itself, not sessions")
            }
        try await database.write { db in
            try await db.raw(
                """
                INSERT INTO sessions (digest, user_id, customer_id, partner_user_id, expires_at, created_at)
                VALUES (\(bind: digest), \(bind: userID), \(bind: customerID), \(bind: partnerUserID), \(bind: expiresAt.epochSeconds),
                \(bind: at.epochSeconds))
                """
            ).run()
        }
    }

    /// Sessions of staff, members and partner users are read with one statement; API keys with
    /// another, asked first when the token has the key prefix — so a request authenticates in one
    /// round trip (it took four: three kinds of session, then the key).
    public func principal(digest: String, now: Date, apiKeyFirst: Bool) async throws -> Principal? {
        try await database.read { db in
            if apiKeyFirst, let key = try await Self.apiKey(db, digest: digest) { return key }
            if let session = try await Self.session(db, digest: digest, now: now) { return session }
            return apiKeyFirst ? nil : try await Self.apiKey(db, digest: digest)
        }
    }

    static func session(_ db: any SQLDatabase, digest: String, now: Date) async throws -> Principal? {
        guard
            let row = try await db.raw(
                """
                SELECT u.id AS user_id, u.email AS user_email, u.role AS user_role, u.deactivated_at AS user_deactivated,
                  m.customer_id AS member_id, m.email AS member_email,
                  p.id AS partner_user_id, p.email AS partner_email, p.partner, p.role AS partner_role, p.deactivated_at AS partner_deactivated
                FROM sessions s LEFT JOIN users u ON u.id = s.user_id LEFT JOIN member_logins m ON m.customer_id = s.customer_id
                LEFT JOIN partner_users p ON p.id = s.partner_user_id
                WHERE s.digest = \(bind: digest) AND s.expires_at > \(bind: now.epochSeconds)
                """
            ).first()
        else { return nil }
        if let id = try row.optionalInt64("user_id"), try row.optionalInt64("user_deactivated") == nil {
            return .staff(id: UserID(id), email: try row.string("user_email"), role: Role(rawValue: try row.string("user_role")) ?? .analyst)
        }
        if let customer = try row.optionalInt64("member_id") {
            return .member(customerID: customer, email: try row.string("member_email"))
        }
        if let id = try row.optionalInt64("partner_user_id"), try row.optionalInt64("partner_deactivated") == nil {
            return .partnerUser(
                id: id, email: try row.string("partner_email"), partner: try row.string("partner"),
                role: PartnerRole(rawValue: try row.string("partner_role")) ?? .cashier)
        }
        return nil
    }

    static func apiKey(_ db: any SQLDatabase, digest: String) async throws -> Principal? {
        guard
            let row = try await db.raw("SELECT id, name, partner, scopes FROM api_keys WHERE digest = \(bind: digest) AND revoked_at IS NULL")
                .first()
        else { return nil }
        return .partner(
            keyID: APIKeyID(try row.int64("id")), name: try row.string("name"), partner: try row.string("partner"),
            scopes: try row.string("scopes").split(separator: " ").compactMap { APIScope(rawValue: String($0)) })
    }

    public func deleteSession(digest: String) async throws {
        try await database.write { db in try await db.raw("DELETE FROM sessions WHERE digest = \(bind: digest)").run() }
    }

    public func insertAPIKey(name: String, partner: String, scopes: [APIScope], prefix: String, digest: String, at: Date) async throws -> APIKey {
        let id = try await database.write { db in
            try await db.raw(
                """
                INSERT INTO api_keys (name, partner, scopes, prefix, digest, created_at)
                VALUES (\(bind: name), \(bind: partner), \(bind: scopes.map(\.rawValue).joined(separator: " ")), \(bind: prefix), \(bind: digest), \(bind: at.epochSeconds))
                RETURNING id
                """
            ).first()!.int64("id")
        }
        return APIKey(
            id: APIKeyID(id), name: name, partner: partner, scopes: scopes, prefix: prefix,
            createdAt: Date(epochSeconds: at.epochSeconds), revokedAt: nil)
    }

    public func apiKeys() async throws -> [APIKey] {
        try await database.read { db in
            try await db.raw("SELECT * FROM api_keys ORDER BY id").all().map { row in
                APIKey(
                    id: APIKeyID(try row.int64("id")), name: try row.string("name"), partner: try row.string("partner"),
                    scopes: try row.string("scopes").split(separator: " ").compactMap { APIScope(rawValue: String($0)) },
                    prefix: try row.string("prefix"),
                    createdAt: try row.date("created_at"), revokedAt: try row.optionalDate("revoked_at"))
            }
        }
    }

    public func revokeAPIKey(_ id: APIKeyID, at: Date) async throws -> Bool {
        try await database.write { db in
            try await db.raw(
                "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, \(bind: at.epochSeconds)) WHERE id = \(bind: id.rawValue) RETURNING id"
            ).first() != nil
        }
    }

    public func insertMemberLogin(customerID: Int64, email: String, passwordHash: String, at: Date) async throws {
        try await database.write { db in
            if try await db.raw("SELECT 1 AS one FROM member_logins WHERE customer_id = \(bind: customerID)").first() != nil {
                throw AccessError.loginExists(customerID: customerID)
            }
            let taken = try await db.raw("SELECT 1 AS one FROM member_logins WHERE email = \(bind: email)").first() != nil
            let staff = try await db.raw("SELECT 1 AS one FROM users WHERE email = \(bind: email)").first() != nil
            let partner = try await db.raw("SELECT 1 AS one FROM partner_users WHERE email = \(bind: email)").first() != nil
            if taken || staff || partner { throw AccessError.emailTaken(email) }
            try await db.raw(
                """
                INSERT INTO member_logins (customer_id, email, password_hash, created_at)
                VALUES (\(bind: customerID), \(bind: email), \(bind: passwordHash), \(bind: at.epochSeconds))
                """
            ).run()
        }
    }

    // MARK: Partner users

    public func insertPartnerUser(partner: String, email: String, passwordHash: String, role: PartnerRole, at: Date) async throws -> PartnerUser {
        do {
            let id = try await database.write { db in
                // One email signs in one person, on one site.
                let staff = try await db.raw("SELECT 1 AS one FROM users WHERE email = \(bind: email)").first() != nil
                let member = try await db.raw("SELECT 1 AS one FROM member_logins WHERE email = \(bind: email)").first() != nil
                if staff || member { throw AccessError.emailTaken(email) }
                return try await db.raw(
                    """
                    INSERT INTO partner_users (partner, email, password_hash, role, created_at)
                    VALUES (\(bind: partner), \(bind: email), \(bind: passwordHash), \(bind: role.rawValue), \(bind: at.epochSeconds)) RETURNING id
                    """
                ).first()!.int64("id")
            }
            return PartnerUser(id: id, partner: partner, email: email, role: role, createdAt: Date(epochSeconds: at.epochSeconds))
        } catch where Self.isUniqueViolation(error) {
            throw AccessError.emailTaken(email)
        }
    }

    static func partnerUser(_ row: any SQLRow) throws -> PartnerUser {
        PartnerUser(
            id: try row.int64("id"), partner: try row.string("partner"), email: try row.string("email"),
            role: PartnerRole(rawValue: try row.string("role")) ?? .cashier, createdAt: try row.date("created_at"),
            deactivatedAt: try row.optionalDate("deactivated_at"))
    }

    public func partnerUsers(partner: String) async throws -> [PartnerUser] {
        try await database.read { db in
            try await db.raw("SELECT * FROM partner_users WHERE partner = \(bind: partner) ORDER BY email").all().map(Self.partnerUser)
        }
    }

    public func setPartnerUser(_ id: Int64, partner: String, active: Bool, at: Date) async throws -> PartnerUser? {
        try await database.write { db in
            let stamp: Int64? = active ? nil : at.epochSeconds
            guard
                let row = try await db.raw(
                    """
                    UPDATE partner_users SET deactivated_at = \(bind: stamp) WHERE id = \(bind: id) AND partner = \(bind: partner) RETURNING *
                    """
                ).first()
            else { return nil }
            if !active { try await db.raw("DELETE FROM sessions WHERE partner_user_id = \(bind: id)").run() }
            return try Self.partnerUser(row)
        }
    }

    // MARK: Audit

    public func insertAuditEvent(at: Date, actor: String, action: String, target: String?, outcome: String, detail: String?) async throws {
        try await database.writeOne { db in
            try await db.raw(
                """
                INSERT INTO audit_events (at, actor, action, target, outcome, detail)
                VALUES (\(bind: at.epochSeconds), \(bind: actor), \(bind: action), \(bind: target), \(bind: outcome), \(bind: detail))
                """
            ).run()
        }
    }

    public func auditEvents(_ q: AuditQuery) async throws -> [AuditEvent] {
        let statement: SQLQueryString =
            "SELECT * FROM audit_events WHERE " + Self.conditions(q) + " ORDER BY id DESC LIMIT \(literal: q.limit)"
        return try await database.readFromReplica { db in
            try await db.raw(statement).all().map { row in
                AuditEvent(
                    id: try row.int64("id"), at: try row.date("at"), actor: try row.string("actor"), action: try row.string("action"),
                    target: try row.optionalString("target"), outcome: try row.string("outcome"), detail: try row.optionalString("detail"))
            }
        }
    }

    public func auditCount(_ q: AuditQuery) async throws -> Int {
        let statement: SQLQueryString = "SELECT COUNT(*) AS n FROM audit_events WHERE " + Self.conditions(q)
        return try await database.readFromReplica { db in Int(try await db.raw(statement).first()?.int64("n") ?? 0) }
    }

    static func conditions(_ q: AuditQuery) -> SQLQueryString {
        var conditions: [SQLQueryString] = ["id < \(bind: q.before ?? Int64.max)"]
        if let actor = q.actor { conditions.append("actor = \(bind: actor)") }
        if let text = q.contains, !text.isEmpty {
            let pattern =
                "%"
                + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
                .replacingOccurrences(of: "_", with: "\\_") + "%"
            conditions.append("(action LIKE \(bind: pattern) ESCAPE '\\' OR target LIKE \(bind: pattern) ESCAPE '\\')")
        }
        return conditions.joined(separator: " AND ")
    }

    // MARK: Sign-in throttle

    public func signInFailures(keys: [String]) async throws -> [String: SignInFailures] {
        guard !keys.isEmpty else { return [:] }
        return try await database.read { db in
            let list = SQLList(keys.map { SQLBind($0) })
            var found: [String: SignInFailures] = [:]
            for row in try await db.raw("SELECT key, failures, last_failure, blocked_until FROM sign_in_failures WHERE key IN (\(list))").all() {
                found[try row.string("key")] = SignInFailures(
                    failures: Int(try row.int64("failures")), lastFailure: Date(epochSeconds: try row.int64("last_failure")),
                    blockedUntil: Date(epochSeconds: try row.int64("blocked_until")))
            }
            return found
        }
    }

    public func countSignInFailure(key: String, at: Date, forgetBefore: Date) async throws -> Int {
        try await database.write { db in
            Int(
                try await db.raw(
                    """
                    INSERT INTO sign_in_failures (key, failures, last_failure, blocked_until) VALUES (\(bind: key), 1, \(bind: at.epochSeconds), 0)
                    ON CONFLICT (key) DO UPDATE SET
                      failures = CASE WHEN sign_in_failures.last_failure < \(bind: forgetBefore.epochSeconds) THEN 1 ELSE sign_in_failures.failures + 1 END,
                      last_failure = \(bind: at.epochSeconds)
                    RETURNING failures
                    """
                ).first()!.int64("failures"))
        }
    }

    public func blockSignIns(key: String, until: Date) async throws {
        // Whole seconds, rounded up, so that a block never ends before the delay did.
        let seconds = Int64(until.timeIntervalSince1970.rounded(.up))
        try await database.write { db in
            try await db.raw("UPDATE sign_in_failures SET blocked_until = \(bind: seconds) WHERE key = \(bind: key)").run()
        }
    }

    public func clearSignInFailures(key: String) async throws {
        try await database.write { db in try await db.raw("DELETE FROM sign_in_failures WHERE key = \(bind: key)").run() }
    }

    public func isKnownClient(email: String, client: String, since: Date) async throws -> Bool {
        try await database.read { db in
            try await db.raw(
                "SELECT 1 AS one FROM sign_in_clients WHERE email = \(bind: email) AND client = \(bind: client) AND last_seen >= \(bind: since.epochSeconds)"
            ).first() != nil
        }
    }

    public func rememberClient(email: String, client: String, at: Date) async throws {
        try await database.write { db in
            try await db.raw(
                """
                INSERT INTO sign_in_clients (email, client, last_seen) VALUES (\(bind: email), \(bind: client), \(bind: at.epochSeconds))
                ON CONFLICT (email, client) DO UPDATE SET last_seen = \(bind: at.epochSeconds)
                """
            ).run()
        }
    }

    // MARK: Users' lifecycle

    public func setRole(_ id: UserID, _ role: Role) async throws -> Bool {
        try await database.write { db in
            try await db.raw("UPDATE users SET role = \(bind: role.rawValue) WHERE id = \(bind: id.rawValue) RETURNING id").first() != nil
        }
    }

    public func setDeactivated(_ id: UserID, at: Date?) async throws -> Bool {
        try await database.write { db in
            let found: Bool
            if let at {
                found = try await db.raw(
                    "UPDATE users SET deactivated_at = COALESCE(deactivated_at, \(bind: at.epochSeconds)) WHERE id = \(bind: id.rawValue) RETURNING id"
                ).first() != nil
                try await db.raw("DELETE FROM sessions WHERE user_id = \(bind: id.rawValue)").run()
            } else {
                found = try await db.raw("UPDATE users SET deactivated_at = NULL WHERE id = \(bind: id.rawValue) RETURNING id").first() != nil
            }
            return found
        }
    }

    public func setPassword(email: String, passwordHash: String) async throws {
        try await database.write { db in
            if let row = try await db.raw(
                "UPDATE users SET password_hash = \(bind: passwordHash) WHERE email = \(bind: email) RETURNING id"
            ).first() {
                try await db.raw("DELETE FROM sessions WHERE user_id = \(bind: try row.int64("id"))").run()
            }
            if let row = try await db.raw(
                "UPDATE member_logins SET password_hash = \(bind: passwordHash) WHERE email = \(bind: email) RETURNING customer_id"
            ).first() {
                try await db.raw("DELETE FROM sessions WHERE customer_id = \(bind: try row.int64("customer_id"))").run()
            }
            if let row = try await db.raw(
                "UPDATE partner_users SET password_hash = \(bind: passwordHash) WHERE email = \(bind: email) RETURNING id"
            ).first() {
                try await db.raw("DELETE FROM sessions WHERE partner_user_id = \(bind: try row.int64("id"))").run()
            }
        }
    }

    public func insertPasswordReset(digest: String, email: String, expiresAt: Date, at: Date) async throws {
        try await database.write { db in
            // A new link replaces the older ones of that login.
            try await db.raw("DELETE FROM password_resets WHERE email = \(bind: email) OR expires_at < \(bind: at.epochSeconds)").run()
            try await db.raw(
                """
                INSERT INTO password_resets (digest, email, expires_at, created_at)
                VALUES (\(bind: digest), \(bind: email), \(bind: expiresAt.epochSeconds), \(bind: at.epochSeconds))
                """
            ).run()
        }
    }

    public func consumePasswordReset(digest: String, now: Date) async throws -> String? {
        try await database.write { db in
            try await db.raw(
                """
                UPDATE password_resets SET used_at = \(bind: now.epochSeconds)
                WHERE digest = \(bind: digest) AND used_at IS NULL AND expires_at > \(bind: now.epochSeconds) RETURNING email
                """
            ).first().map { try $0.string("email") }
        }
    }

    // MARK: Saved views

    public func savedViews(owner: String, path: String) async throws -> [SavedView] {
        try await database.read { db in
            try await db.raw("SELECT name, query FROM saved_views WHERE owner = \(bind: owner) AND path = \(bind: path) ORDER BY name").all().map {
                SavedView(name: try $0.string("name"), query: try $0.string("query"))
            }
        }
    }

    public func saveView(owner: String, path: String, view: SavedView, at: Date) async throws -> Int {
        try await database.write { db in
            try await db.raw(
                """
                INSERT INTO saved_views (owner, path, name, query, saved_at)
                VALUES (\(bind: owner), \(bind: path), \(bind: view.name), \(bind: view.query), \(bind: at.epochSeconds))
                ON CONFLICT (owner, path, name) DO UPDATE SET query = \(bind: view.query), saved_at = \(bind: at.epochSeconds)
                """
            ).run()
            return Int(try await db.raw("SELECT COUNT(*) AS n FROM saved_views WHERE owner = \(bind: owner) AND path = \(bind: path)").first()?.int64("n") ?? 0)
        }
    }

    public func deleteView(owner: String, path: String, name: String) async throws {
        try await database.write { db in
            try await db.raw("DELETE FROM saved_views WHERE owner = \(bind: owner) AND path = \(bind: path) AND name = \(bind: name)").run()
        }
    }

    // MARK: Idempotency

    public func loginExists(email: String) async throws -> Bool {
        try await database.read { db in
            try await db.raw(
                "SELECT 1 AS one FROM users WHERE email = \(bind: email) UNION ALL SELECT 1 AS one FROM member_logins WHERE email = \(bind: email)"
            ).first() != nil
        }
    }

    public func claim(caller: String, key: String, fingerprint: String, token: String, at: Date) async throws -> IdempotencyClaim {
        try await database.write { db in
            // The insert waits for a concurrent claim of the same key to commit, then inserts nothing.
            if try await db.raw(
                """
                INSERT INTO idempotency_keys (caller, key, fingerprint, created_at, claim_token)
                VALUES (\(bind: caller), \(bind: key), \(bind: fingerprint), \(bind: at.epochSeconds), \(bind: token))
                ON CONFLICT (caller, key) DO NOTHING RETURNING key
                """
            ).first() != nil {
                return .claimed(token: token)
            }
            guard
                let row = try await db.raw(
                    "SELECT fingerprint, status, content_type, body, created_at FROM idempotency_keys WHERE caller = \(bind: caller) AND key = \(bind: key)"
                ).first()
            else { return .inProgress }
            guard try row.string("fingerprint") == fingerprint else { return .mismatch }
            if let status = try row.optionalInt64("status") {
                return .replay(
                    IdempotentResponse(
                        status: Int(status), contentType: try row.optionalString("content_type") ?? "application/json",
                        body: Data((try row.optionalString("body") ?? "").utf8)))
            }
            let claimedAt = try row.int64("created_at")
            guard at.epochSeconds - claimedAt >= Int64(idempotencyLeaseSeconds) else { return .inProgress }
            // The lease ran out with no outcome: take the claim over, unless another retry just did.
            let taken = try await db.raw(
                """
                UPDATE idempotency_keys SET created_at = \(bind: at.epochSeconds), claim_token = \(bind: token)
                WHERE caller = \(bind: caller) AND key = \(bind: key) AND status IS NULL AND created_at = \(bind: claimedAt) RETURNING key
                """
            ).first()
            return taken == nil ? .inProgress : .claimed(token: token)
        }
    }

    public func save(caller: String, key: String, token: String, response: IdempotentResponse) async throws {
        try await database.writeOne { db in
            try await db.raw(
                """
                UPDATE idempotency_keys SET status = \(bind: Int64(response.status)), content_type = \(bind: response.contentType),
                body = \(bind: String(decoding: response.body, as: UTF8.self))
                WHERE caller = \(bind: caller) AND key = \(bind: key) AND claim_token = \(bind: token) AND status IS NULL
                """
            ).run()
        }
    }

    public func release(caller: String, key: String, token: String) async throws {
        try await database.writeOne { db in
            try await db.raw(
                "DELETE FROM idempotency_keys WHERE caller = \(bind: caller) AND key = \(bind: key) AND claim_token = \(bind: token) AND status IS NULL"
            ).run()
        }
    }

    public func saved(caller: String, key: String) async throws -> IdempotentResponse? {
        try await database.read { db in
            guard
                let row = try await db.raw(
                    "SELECT status, content_type, body FROM idempotency_keys WHERE caller = \(bind: caller) AND key = \(bind: key) AND status IS NOT NULL"
                ).first()
            else { return nil }
            return IdempotentResponse(
                status: Int(try row.int64("status")), contentType: try row.optionalString("content_type") ?? "text/html",
                body: Data((try row.optionalString("body") ?? "").utf8))
        }
    }

    // MARK: Uploads

    public func insertUpload(owner: String, name: String, content: String, at: Date) async throws -> Int64 {
        try await database.write { db in
            try await db.raw(
                """
                INSERT INTO uploads (owner, name, content, created_at, state) VALUES (\(bind: owner), \(bind: name), \(bind: content),
                \(bind: at.epochSeconds), 'uploaded') RETURNING id
                """
            ).first()!.int64("id")
        }
    }

    public func upload(_ id: Int64, owner: String) async throws -> Upload? {
        try await database.read { db in
            try await db.raw("SELECT * FROM uploads WHERE id = \(bind: id) AND owner = \(bind: owner)").first().map { row in
                Upload(
                    id: try row.int64("id"), owner: try row.string("owner"), name: try row.string("name"), content: try row.string("content"),
                    createdAt: try row.date("created_at"), state: try row.string("state"), detail: try row.optionalString("detail"))
            }
        }
    }

    public func setUpload(_ id: Int64, owner: String, state: String, detail: String?, from: String?) async throws -> Bool {
        try await database.write { db in
            let condition: SQLQueryString = from.map { " AND state = \(bind: $0)" } ?? ""
            return try await db.raw(
                "UPDATE uploads SET state = \(bind: state), detail = \(bind: detail) WHERE id = \(bind: id) AND owner = \(bind: owner)" + condition
                    + " RETURNING id"
            ).first() != nil
        }
    }

    public func deleteUploads(before: Date) async throws -> Int {
        try await database.write { db in
            try await db.raw("DELETE FROM uploads WHERE created_at < \(bind: before.epochSeconds) RETURNING id").all().count
        }
    }
}
