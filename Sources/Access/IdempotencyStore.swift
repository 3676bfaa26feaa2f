import Foundation

/// The first response to a request sent with an `Idempotency-Key`, replayed for repeats.
public struct IdempotentResponse: Sendable, Equatable {
    public var status: Int
    public var contentType: String
    public var body: Data

    public init(status: Int, contentType: String, body: Data) {
        self.status = status
        self.contentType = contentType
        self.body = body
    }
}

/// What the store knows about a key when a request arrives.
public enum IdempotencyClaim: Sendable, Equatable {
    /// The request goes ahead under this claim token, and its response must be saved or the claim
    /// released with it. Either the key's first use, or a claim whose lease ran out with no
    /// outcome (its process died, or could not save): the operations behind the API are themselves
    /// idempotent by the key, so running again applies at most once.
    case claimed(token: String)
    /// The key was used for this same request; here is its response.
    case replay(IdempotentResponse)
    /// The first request with this key is still running, and its lease has not run out.
    case inProgress
    /// The key was used for a different request (another path or body).
    case mismatch
}

/// Remembers responses by caller and key so a retried request applies once.
///
/// A claim is a lease: a request that never saves nor releases its claim (its process was
/// killed, the database went away, the disk filled) blocks its key for at most ``leaseSeconds``,
/// after which the next request with the key claims it again.
public protocol IdempotencyStore: Sendable {
    /// Atomically claims `key` for `caller` under `token`, or reports what happened to it before.
    /// Concurrent claims of one key get one ``IdempotencyClaim/claimed(token:)``; the others see
    /// ``IdempotencyClaim/inProgress``.
    ///
    /// The caller makes the token (``newClaimToken()``) before asking, so that a claim whose answer
    /// was lost (the database server died after it committed) can still be released by it: without
    /// the token nobody could, and the key stayed blocked for the whole lease.
    /// - Parameter fingerprint: a digest of method, path and body.
    func claim(caller: String, key: String, fingerprint: String, token: String, at: Date) async throws -> IdempotencyClaim
    /// Keeps the response of the request that holds `token`; does nothing once another request took the claim over.
    func save(caller: String, key: String, token: String, response: IdempotentResponse) async throws
    /// Forgets a claim whose request failed, so the client may retry with the same key at once.
    func release(caller: String, key: String, token: String) async throws
    /// The saved response of a finished request, if any (for showing a form's result after its redirect).
    func saved(caller: String, key: String) async throws -> IdempotentResponse?
}

/// A fresh claim token, unique to one request.
public func newClaimToken() -> String { UUID().uuidString }

/// How long an unfinished claim blocks its key: a retry after this gets the claim.
public let idempotencyLeaseSeconds: TimeInterval = 30
