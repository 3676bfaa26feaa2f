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
    /// First use: the request goes ahead, and its response must be saved or the claim released.
    case claimed
    /// The key was used for this same request; here is its response.
    case replay(IdempotentResponse)
    /// The first request with this key is still running.
    case inProgress
    /// The key was used for a different request (another path or body).
    case mismatch
}

/// Remembers responses by caller and key so a retried request applies once.
public protocol IdempotencyStore: Sendable {
    /// Atomically claims `key` for `caller`, or reports what happened to it before.
    /// - Parameter fingerprint: a digest of method, path and body.
    func claim(caller: String, key: String, fingerprint: String, at: Date) async throws -> IdempotencyClaim
    func save(caller: String, key: String, response: IdempotentResponse) async throws
    /// Forgets a claim whose request failed, so the client may retry with the same key.
    func release(caller: String, key: String) async throws
}
