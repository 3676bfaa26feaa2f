import Access
import Foundation
import HTTPTypes
import NIOConcurrencyHelpers
import OpenAPIRuntime
import SharedModels
import Testing

@testable import HTTPAPI

/// A request that failed because the database went away must not hold its Idempotency-Key for the
/// whole lease: found by the failover drill (scripts/ha-failover.sh), where every client's retry
/// got 409 "in progress" for up to 30 s after the new primary took writes — the failed request's
/// claim could not be released while the database was down, and nothing tried again.
@Suite struct IdempotencyRecoveryTests {
    /// An in-memory store whose writes fail while `down` is set, as during a failover.
    final class FlakyStore: IdempotencyStore, Sendable {
        let down = NIOLockedValueBox(false)
        /// The next claim is written, but its answer is lost (the server died after COMMIT).
        let loseNextAnswer = NIOLockedValueBox(false)
        let claims = NIOLockedValueBox<[String: (token: String, response: IdempotentResponse?)]>([:])

        func check() throws { if down.withLockedValue({ $0 }) { throw DatabaseFailure.unavailable("failing over") } }

        func claim(caller: String, key: String, fingerprint: String, token: String, at: Date) async throws -> IdempotencyClaim {
            try check()
            let claim: IdempotencyClaim = claims.withLockedValue { claims in
                if let held = claims[caller + key] { return held.response.map { .replay($0) } ?? .inProgress }
                claims[caller + key] = (token, nil)
                return .claimed(token: token)
            }
            if loseNextAnswer.withLockedValue({ lose in defer { lose = false }; return lose }) {
                down.withLockedValue { $0 = true }
                throw DatabaseFailure.unavailable("the connection to the database server was lost mid-operation")
            }
            return claim
        }
        func save(caller: String, key: String, token: String, response: IdempotentResponse) async throws {
            try check()
            claims.withLockedValue { if $0[caller + key]?.token == token { $0[caller + key]?.response = response } }
        }
        func release(caller: String, key: String, token: String) async throws {
            try check()
            claims.withLockedValue { if $0[caller + key]?.token == token { $0[caller + key] = nil } }
        }
        func saved(caller: String, key: String) async throws -> IdempotentResponse? { nil }
    }

    typealias Next = @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?)

    /// A staff member's POST to `path` with an Idempotency-Key, through the middleware on `store`;
    /// `next` is the operation behind it.
    static func client(_ store: FlakyStore, path: String, key: String, body: String, operation: String) -> @Sendable (@escaping Next) async throws -> (HTTPResponse, HTTPBody?) {
        let middleware = IdempotencyMiddleware(store: store, clock: .system)
        var request = HTTPRequest(method: .post, scheme: "http", authority: "x", path: path)
        request.headerFields[IdempotencyMiddleware.keyHeader] = key
        let post = request
        let principal = Principal.staff(id: UserID(1), email: "agent@x.example", role: .agent)
        return { next in
            try await Caller.$principal.withValue(principal) {
                try await middleware.intercept(post, body: HTTPBody(body), metadata: .init(), operationID: operation, next: next)
            }
        }
    }

    /// The database comes back (the new primary) 0.3 s later; the client retries while told the
    /// key is in progress. Returns the answer and how long the retries took.
    static func retryAfterOutage(_ store: FlakyStore, _ call: @Sendable (@escaping Next) async throws -> (HTTPResponse, HTTPBody?)) async throws
        -> (HTTPResponse?, TimeInterval)
    {
        try await Task.sleep(nanoseconds: 300_000_000)
        store.down.withLockedValue { $0 = false }
        let started = Date()
        var answer: HTTPResponse?
        while answer == nil, Date().timeIntervalSince(started) < 5 {
            do {
                answer = try await call { _, _, _ in (HTTPResponse(status: .created), HTTPBody("{}")) }.0
            } catch let problem as Problem where problem.code == "idempotency_in_progress" {
                try await Task.sleep(nanoseconds: 100_000_000)
            }
        }
        return (answer, Date().timeIntervalSince(started))
    }

    @Test("a claim the database could not release when its request failed is released once the database is back, long before the lease ends")
    func releasedAfterOutage() async throws {
        let store = FlakyStore()
        let call = Self.client(store, path: "/v1/members/1/redemptions", key: "till-7-receipt-42", body: "{\"points\":10}", operation: "redeemPoints")
        // The first try: the database goes away mid-request, so the claim cannot be released then.
        await #expect(throws: DatabaseFailure.self) {
            _ = try await call { _, _, _ in
                store.down.withLockedValue { $0 = true }
                throw DatabaseFailure.unavailable("the connection to the database server was lost mid-operation")
            }
        }
        #expect(store.claims.withLockedValue { $0.count } == 1)
        // The retry goes through within a couple of seconds, not after the 30-second lease (the
        // bound is loose: the whole suite shares two cores, and 3.6 s was seen under it).
        let (answer, took) = try await Self.retryAfterOutage(store, call)
        #expect(answer?.status == .created)
        #expect(took < 10)
    }

    @Test("Regression: a claim written just before the database died, whose answer never came back, is released once the database is back")
    func inDoubtClaimReleased() async throws {
        let store = FlakyStore()
        let call = Self.client(store, path: "/v1/transactions", key: "till-3-receipt-9", body: "{\"amount\":100}", operation: "recordTransaction")
        // The claim reaches the database and commits; the answer is lost with the server.
        store.loseNextAnswer.withLockedValue { $0 = true }
        await #expect(throws: DatabaseFailure.self) {
            _ = try await call { _, _, _ in Issue.record("the operation ran without a claim"); return (HTTPResponse(status: .created), nil) }
        }
        #expect(store.claims.withLockedValue { $0.count } == 1, "the claim was written")
        let (answer, took) = try await Self.retryAfterOutage(store, call)
        #expect(answer?.status == .created, "the retry is not held off by a claim nobody holds")
        #expect(took < 10)
    }
}
