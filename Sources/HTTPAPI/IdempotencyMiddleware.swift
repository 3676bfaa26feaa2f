import Access
import Crypto
import Foundation
import HTTPTypes
import Logging
import OpenAPIRuntime
import SharedModels

/// Makes every `POST` sent with an `Idempotency-Key` apply once per caller and key: a repeat with
/// the same method, path and body gets the first response replayed (with `Idempotent-Replayed: true`);
/// a repeat with a different request is refused with 422; a repeat while the first still runs gets 409.
/// Failed requests (errors) are not remembered, so the client may retry them with the same key.
/// A claim that never gets an outcome (a crash, an outage) expires after ``idempotencyLeaseSeconds``.
struct IdempotencyMiddleware: ServerMiddleware {
    let store: any IdempotencyStore
    let clock: Clock

    static let logger = Logger(label: "patron.idempotency")

    /// Operations whose response carries a secret shown once (a session token, an API key). Their
    /// responses are never stored: a repeat learns that the first request succeeded, not the secret.
    static let secretBearing: Set<String> = ["createSession", "createApiKey"]

    /// What is kept for replay: the response itself, or for ``secretBearing`` operations a 409 that
    /// says the secret was shown once.
    static func remembered(_ response: HTTPResponse, body: Data, of operationID: String) -> IdempotentResponse {
        guard secretBearing.contains(operationID) else {
            return IdempotentResponse(status: response.status.code, contentType: response.headerFields[.contentType] ?? "application/json", body: body)
        }
        let problem = Problem(
            status: .conflict, code: "idempotency_secret_shown_once",
            detail: "The first request with this Idempotency-Key succeeded; its secret was shown only in that response.")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return IdempotentResponse(status: 409, contentType: "application/problem+json", body: (try? encoder.encode(problem)) ?? Data())
    }

    /// Records a claim's outcome (`record` saves or releases it). When the database cannot take it
    /// now (it went away mid-request, or is failing over), the request is answered anyway and the
    /// record is tried again in the background, with growing pauses, until it is taken or the
    /// claim's lease has run out: a client retrying after an outage is not held off for the whole
    /// lease by a claim its first try could not let go of. The operation's outcome stands either
    /// way (it is idempotent by the key: a retry after the lease gets the same outcome).
    func settle(_ operationID: String, _ record: @escaping @Sendable () async throws -> Void) async {
        do {
            try await record()
        } catch {
            Self.logger.warning(
                "idempotency record not saved; trying again in the background",
                metadata: ["operation": "\(operationID)", "error": "\(Problem.logDescription(of: error))"])
            BackgroundRetry.untilWritten(by: Date().addingTimeInterval(idempotencyLeaseSeconds), record)
        }
    }

    static let replayedHeader = HTTPField.Name("Idempotent-Replayed")!
    static let keyHeader = HTTPField.Name("Idempotency-Key")!

    /// JSON bodies are compared by content, not by key order or spacing; other bodies byte for byte.
    static func canonical(_ body: Data) -> Data {
        guard let object = try? JSONSerialization.jsonObject(with: body, options: [.fragmentsAllowed]),
            let normal = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .fragmentsAllowed])
        else { return body }
        return normal
    }

    func intercept(
        _ request: HTTPRequest, body: HTTPBody?, metadata: ServerRequestMetadata, operationID: String,
        next: @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        guard request.method == .post, let key = request.headerFields[Self.keyHeader], let caller = Caller.principal?.key else {
            return try await next(request, body, metadata)
        }
        guard (1...255).contains(key.count) else {
            throw Problem(
                status: .badRequest, code: "invalid_idempotency_key", detail: "Idempotency-Key must be 1 to 255 characters.", field: "Idempotency-Key"
            )
        }
        var bytes = Data()
        if let body { bytes = try await Data(collecting: body, upTo: 10 * 1024 * 1024) }
        var hasher = SHA256()
        hasher.update(data: Data("\(request.method.rawValue) \(request.path ?? "")\n".utf8))
        hasher.update(data: Self.canonical(bytes))
        let fingerprint = hasher.finalize().map { String(format: "%02x", $0) }.joined()
        let token = newClaimToken()
        let claim: IdempotencyClaim
        do {
            claim = try await store.claim(caller: caller, key: key, fingerprint: fingerprint, token: token, at: clock.now)
        } catch {
            // The claim may have committed with its answer lost: release it under its token once
            // the database takes writes again, or the client's retry would wait out the lease.
            await settle(operationID) { try await store.release(caller: caller, key: key, token: token) }
            throw error
        }
        switch claim {
        case .replay(let saved):
            var response = HTTPResponse(status: .init(code: saved.status))
            response.headerFields[.contentType] = saved.contentType
            response.headerFields[Self.replayedHeader] = "true"
            return (response, HTTPBody(saved.body))
        case .inProgress:
            throw Problem(status: .conflict, code: "idempotency_in_progress", detail: "A request with this Idempotency-Key is still running.")
        case .mismatch:
            throw Problem(
                status: .unprocessableContent, code: "idempotency_key_reused",
                detail: "This Idempotency-Key was used for a different request.", field: "Idempotency-Key")
        case .claimed:
            let (response, responseBody): (HTTPResponse, HTTPBody?)
            do {
                (response, responseBody) = try await next(request, HTTPBody(bytes), metadata)
            } catch {
                // Nothing to remember: the client may retry with the same key at once.
                await settle(operationID) { try await store.release(caller: caller, key: key, token: token) }
                throw error
            }
            var data = Data()
            if let responseBody { data = try await Data(collecting: responseBody, upTo: 50 * 1024 * 1024) }
            if response.status.kind == .successful {
                let saved = Self.remembered(response, body: data, of: operationID)
                await settle(operationID) { try await store.save(caller: caller, key: key, token: token, response: saved) }
            } else {
                await settle(operationID) { try await store.release(caller: caller, key: key, token: token) }
            }
            return (response, HTTPBody(data))
        }
    }
}
