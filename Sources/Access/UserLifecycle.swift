import Foundation
import SharedModels

/// Staff users over time: role changes, deactivation, password resets by email and password changes.
extension AccessService {
    /// How long a password reset link works.
    public static let passwordResetLifetime: TimeInterval = 3600

    /// Gives a user another role. The last active administrator keeps theirs.
    public func setRole(of id: UserID, to role: Role) async throws -> User {
        let users = try await store.users()
        guard let user = users.first(where: { $0.id == id }) else { throw AccessError.notFound(kind: "user", id: id.rawValue) }
        if role != .admin && Self.isLastActiveAdmin(user, among: users) {
            throw AccessError.invalid(field: "role", reason: "\(user.email) is the last active administrator; make another user an administrator first")
        }
        _ = try await store.setRole(id, role)
        var changed = user
        changed.role = role
        return changed
    }

    /// Deactivates a user: they cannot sign in, and their open sessions end now. Nobody
    /// deactivates themselves, and the last active administrator stays.
    public func deactivate(_ id: UserID, by principal: Principal) async throws -> User {
        let users = try await store.users()
        guard let user = users.first(where: { $0.id == id }) else { throw AccessError.notFound(kind: "user", id: id.rawValue) }
        if case .staff(let own, _, _) = principal, own == id {
            throw AccessError.invalid(field: "user", reason: "you cannot deactivate yourself; ask another administrator")
        }
        if Self.isLastActiveAdmin(user, among: users) {
            throw AccessError.invalid(field: "user", reason: "\(user.email) is the last active administrator")
        }
        let now = clock.now
        _ = try await store.setDeactivated(id, at: now)
        var changed = user
        changed.deactivatedAt = user.deactivatedAt ?? now
        return changed
    }

    /// Whether `user` is the only active administrator: without them nobody could manage users.
    static func isLastActiveAdmin(_ user: User, among users: [User]) -> Bool {
        user.role == .admin && user.isActive && users.filter { $0.role == .admin && $0.isActive }.count <= 1
    }

    public func reactivate(_ id: UserID) async throws -> User {
        guard var user = try await store.users().first(where: { $0.id == id }) else { throw AccessError.notFound(kind: "user", id: id.rawValue) }
        _ = try await store.setDeactivated(id, at: nil)
        user.deactivatedAt = nil
        return user
    }

    /// Starts a password reset for the login with this email: the secret for the link sent by
    /// email, or nil when no active login has that email (the caller says the same either way, so
    /// the answer does not tell who has a login). Only a digest of the secret is stored.
    public func requestPasswordReset(email: String) async throws -> (secret: String, email: String)? {
        guard let normalised = EmailAddress(email)?.value, try await store.login(email: normalised) != nil else { return nil }
        let secret = Self.randomSecret()
        let now = clock.now
        try await store.insertPasswordReset(
            digest: digest.digest("reset:" + secret), email: normalised, expiresAt: now.addingTimeInterval(Self.passwordResetLifetime), at: now)
        return (secret, normalised)
    }

    /// Sets a new password with the secret of a reset link (once, within its hour). Ends every
    /// session of that login, and clears its failed sign-ins.
    public func resetPassword(secret: String, newPassword: String) async throws -> String {
        try Self.validPassword(newPassword)
        guard let email = try await store.consumePasswordReset(digest: digest.digest("reset:" + secret), now: clock.now) else {
            throw AccessError.invalid(field: "token", reason: "this link has expired or was used already; ask for a new one")
        }
        try await store.setPassword(email: email, passwordHash: hasher.hash(newPassword))
        try await store.clearSignInFailures(key: "account:" + email)
        try await audit(actor: email, action: "password.reset", target: email, outcome: "ok", detail: nil)
        return email
    }

    /// Changes the signed-in person's own password, after checking the current one.
    public func changePassword(of principal: Principal, current: String, new: String) async throws {
        let email: String
        switch principal {
        case .staff(_, let e, _), .member(_, let e), .partnerUser(_, let e, _, _): email = e
        case .partner: throw AccessError.forbidden(.usersManage)
        }
        guard let login = try await store.login(email: email), hasher.verify(current, against: login.passwordHash) else {
            throw AccessError.invalid(field: "current", reason: "the current password is not right")
        }
        try Self.validPassword(new)
        try await store.setPassword(email: email, passwordHash: hasher.hash(new))
        try await audit(actor: principal.actor, action: "password.change", target: email, outcome: "ok", detail: nil)
    }
}
