/// Every way an Access operation can refuse. In each case nothing was written.
public enum AccessError: Error, Sendable, Equatable {
    /// No credentials, or a token or key that is unknown, expired or revoked.
    case unauthenticated
    /// Email and password do not match a user or member login. Deliberately says no more.
    case invalidCredentials
    /// The caller is known but lacks this permission.
    case forbidden(Permission)
    /// The input broke a rule: `field` and what is wrong with it.
    case invalid(field: String, reason: String)
    /// A user or member login with this email exists.
    case emailTaken(String)
    /// The member already has a login.
    case loginExists(customerID: Int64)
    case notFound(kind: String, id: Int64)
    /// Too many failed sign-ins to this account, or from this client, lately; try again after
    /// `retryAfter` seconds.
    case tooManyAttempts(retryAfter: Int)
}

extension AccessError: CustomStringConvertible {
    /// A sentence for people (pages and problem details); the API's `code` names the case for programs.
    public var description: String {
        switch self {
        case .unauthenticated: "Sign in first."
        case .invalidCredentials: "Wrong email or password."
        case .forbidden: "You are not allowed to do this."
        case .invalid(let field, let reason): "\(field): \(reason)"
        case .emailTaken: "That email is already in use by another login."
        case .loginExists: "This customer already has a login."
        case .notFound(let kind, let id): "No \(kind) has id \(id)."
        case .tooManyAttempts(let seconds): "Too many failed sign-ins; try again in \(Self.wait(seconds))."
        }
    }

    /// "40 seconds", "1 minute", "15 minutes".
    static func wait(_ seconds: Int) -> String {
        if seconds < 60 { return seconds == 1 ? "1 second" : "\(seconds) seconds" }
        let minutes = (seconds + 59) / 60
        return minutes == 1 ? "1 minute" : "\(minutes) minutes"
    }
}
