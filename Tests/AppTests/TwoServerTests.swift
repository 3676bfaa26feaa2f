import Access
import App
import Customers
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Loyalty
import NIOCore
import SharedModels
import TestSupport
import Testing

/// Two `patron serve --role web` on one database, behind any load balancer: a client's next
/// request may reach the other server. What one server knows, the other must: sessions, the
/// sign-in throttle, idempotency keys (and job leases: JobsTests, the outbox: CampaignTests).
@Suite struct TwoServerTests {
    @Test("a session, a sign-in lockout and an Idempotency-Key made on one server hold on the other", arguments: TestEngine.available)
    func sharedState(engine: TestEngine) async throws {
        let clock = TestClock()
        try await TestDatabase.withEmptyDatabase(engine) { location in
            let settings = Settings(bcryptCost: 4, clock: clock.clock)
            let a = try await Patron.open(location, settings: settings)
            let b = try await Patron.open(location, settings: settings)
            do {
                _ = try await a.access.addUser(email: "admin@two.example", password: "admin-password", role: .admin)
                let program = try await a.loyalty.createProgram(
                    code: "TWO", name: "Two", valuePerThousandPoints: Money(minorUnits: 1000, currency: "USD"), expiryMonths: nil)
                let customer = try await a.customers.create(ProfileDraft(firstName: "Ada", lastName: "Two"))
                let member = try await a.loyalty.enroll(customer.id, in: program.id)
                _ = try await a.loyalty.adjust(500, for: member.id, memo: "opening", by: "test", idempotencyKey: nil)
                let appA = Application(router: try buildRouter(patron: a)), appB = Application(router: try buildRouter(patron: b))
                try await appA.test(.router) { clientA in
                    try await appB.test(.router) { clientB in
                        let apiA = APIClient(client: clientA), apiB = APIClient(client: clientB)
                        // A session made on A works on B, and signing out on B ends it on A.
                        let token = try await apiA.logIn("admin@two.example", "admin-password")
                        #expect(try await apiB.call(.get, "/v1/me", token: token).status == 200)

                        // An Idempotency-Key used on A is replayed by B: one redemption.
                        let key: HTTPFields = [HTTPField.Name("Idempotency-Key")!: "till-9-receipt-1"]
                        let first = try await apiA.call(
                            .post, "/v1/members/\(member.id.rawValue)/redemptions", token: token, body: ["points": 50, "reference": "r1"], headers: key)
                        let again = try await apiB.call(
                            .post, "/v1/members/\(member.id.rawValue)/redemptions", token: token, body: ["points": 50, "reference": "r1"], headers: key)
                        #expect(first.status == 201 && again.status == 201)
                        #expect(again.headers[HTTPField.Name("Idempotent-Replayed")!] == "true")
                        #expect(try await b.loyalty.balance(of: member.id).available == 450)

                        // The same key sent to both at once: applied once.
                        let both: HTTPFields = [HTTPField.Name("Idempotency-Key")!: "till-9-receipt-2"]
                        async let x = apiA.call(
                            .post, "/v1/members/\(member.id.rawValue)/redemptions", token: token, body: ["points": 25, "reference": "r2"], headers: both)
                        async let y = apiB.call(
                            .post, "/v1/members/\(member.id.rawValue)/redemptions", token: token, body: ["points": 25, "reference": "r2"], headers: both)
                        let statuses = [try await x.status, try await y.status]
                        #expect(statuses.contains(201) && statuses.allSatisfy { [201, 409].contains($0) }, "\(statuses)")
                        #expect(try await a.loyalty.balance(of: member.id).available == 425)

                        // Failed sign-ins counted on A lock the account on B too.
                        for _ in 0..<6 {
                            _ = try await apiA.call(.post, "/v1/sessions", body: ["email": "admin@two.example", "password": "wrong-password"])
                        }
                        let locked = try await apiB.call(.post, "/v1/sessions", body: ["email": "admin@two.example", "password": "wrong-password"])
                        #expect(locked.status == 429, "\(locked.status) \(locked.text)")

                        #expect(try await apiB.call(.delete, "/v1/sessions/current", token: token).status == 204)
                        #expect(try await apiA.call(.get, "/v1/me", token: token).status == 401)
                    }
                }
                try await b.close()
                try await a.close()
            } catch {
                try? await b.close()
                try? await a.close()
                throw error
            }
        }
    }
}
