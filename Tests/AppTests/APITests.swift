import Access
import App
import Demo
import Interchange
import Customers
import Foundation
import HTTPTypes
import SQLKit
import SharedModels
import Storage
import TestSupport
import Testing

@Suite("REST API over the real router")
struct APITests {
    @Test("Health and the OpenAPI document need no token; metrics need an admin's", arguments: TestEngine.available)
    func systemRoutes(engine: TestEngine) async throws {
        try await withAPI(engine) { api, _, admin in
            let health = try await api.call(.get, "/health")
            #expect(health.status == 200)
            #expect(health.json["database"] as? String == engine.rawValue)
            let spec = try await api.call(.get, "/openapi.yaml")
            #expect(spec.status == 200)
            #expect(spec.text.hasPrefix("openapi: 3.1.0"))
            let metrics = try await api.call(.get, "/metrics", token: admin)
            #expect(metrics.status == 200)
            #expect(metrics.text.contains("# TYPE"))
            let missing = try await api.call(.get, "/v1/nothing-here")
            #expect(missing.status == 404)
            #expect(missing.headers[.contentType] == "application/problem+json")
        }
    }

    @Test("Without a valid token customer endpoints answer 401", arguments: TestEngine.available)
    func unauthenticated(engine: TestEngine) async throws {
        try await withAPI(engine) { api, _, _ in
            for (method, uri) in [(HTTPRequest.Method.get, "/v1/customers"), (.get, "/v1/customers/1"), (.post, "/v1/customers")] {
                let reply = try await api.call(method, uri, body: method == .post ? ["lastName": "X"] : nil)
                #expect(reply.status == 401, "\(method) \(uri)")
                #expect(reply.code == "unauthenticated")
            }
            let forged = try await api.call(.get, "/v1/customers", token: "not-a-token")
            #expect(forged.status == 401)
            let wrong = try await api.call(.post, "/v1/sessions", body: ["email": "admin@test.example", "password": "nope-nope"])
            #expect(wrong.status == 401)
            #expect(wrong.code == "invalid_credentials")
        }
    }

    @Test("Staff create, read, search and update customers", arguments: TestEngine.available)
    func customerLifecycle(engine: TestEngine) async throws {
        try await withAPI(engine) { api, _, token in
            let created = try await api.call(
                .post, "/v1/customers", token: token,
                body: ["firstName": "Ann", "lastName": "Lee", "email": "Ann@Example.com", "phone": "206-555-0100", "birthDate": "1990-04-01"])
            #expect(created.status == 201)
            #expect(created.json["email"] as? String == "ann@example.com")
            #expect(created.json["phone"] as? String == "+12065550100")
            let id = try #require(created.id)
            let read = try await api.call(.get, "/v1/customers/\(id)", token: token)
            #expect(read.status == 200)
            #expect(read.json["displayName"] as? String == "Ann Lee")
            for query in ["ann", "ann%40example.com", "%2B12065550100"] {
                let found = try await api.call(.get, "/v1/customers?q=\(query)", token: token)
                #expect((found.json["items"] as? [[String: Any]])?.count == 1, "q=\(query)")
            }
            let updated = try await api.call(.patch, "/v1/customers/\(id)", token: token, body: ["lastName": "Lee-Park", "lifeStage": "family"])
            #expect(updated.status == 200)
            #expect(updated.json["firstName"] as? String == "Ann")
            #expect(updated.json["lastName"] as? String == "Lee-Park")
            let missing = try await api.call(.get, "/v1/customers/999999", token: token)
            #expect(missing.status == 404)
            #expect(missing.code == "customer_not_found")
        }
    }

    @Test("Bad input gets 400 or 422 naming the field, and nothing is written", arguments: TestEngine.available)
    func badInput(engine: TestEngine) async throws {
        try await withAPI(engine) { api, patron, token in
            let malformed = try await api.call(.post, "/v1/customers", token: token, raw: "{\"firstName\": ")
            #expect(malformed.status == 400)
            let wrongType = try await api.call(.post, "/v1/customers", token: token, raw: #"{"firstName": 12}"#)
            #expect(wrongType.status == 400)
            #expect(wrongType.code == "malformed_body")
            #expect(wrongType.json["field"] as? String == "firstName")
            let invalid = try await api.call(
                .post, "/v1/customers", token: token, body: ["firstName": "Ann", "email": "not-an-email", "birthDate": "1990-02-30"])
            #expect(invalid.status == 422)
            #expect(invalid.code == "validation_failed")
            let fields = (invalid.json["errors"] as? [[String: Any]])?.compactMap { $0["field"] as? String }
            #expect(Set(fields ?? []) == ["email", "birthDate"])
            let badID = try await api.call(.get, "/v1/customers/abc", token: token)
            #expect(badID.status == 400)
            let badCursor = try await api.call(.get, "/v1/customers?cursor=zzz", token: token)
            #expect(badCursor.code == "invalid_cursor")
            #expect(try await patron.isEmpty())
        }
    }

    @Test("A member reads only their own record; another member's is 404", arguments: TestEngine.available)
    func memberOwnership(engine: TestEngine) async throws {
        try await withAPI(engine) { api, _, admin in
            let ann = try #require(try await api.call(.post, "/v1/customers", token: admin, body: ["firstName": "Ann", "lastName": "Lee"]).id)
            let bob = try #require(try await api.call(.post, "/v1/customers", token: admin, body: ["firstName": "Bob", "lastName": "Ray"]).id)
            let login = try await api.call(
                .post, "/v1/member-logins", token: admin, body: ["customerId": ann, "email": "ann@example.com", "password": "ann-password"])
            #expect(login.status == 201)
            let member = try await api.logIn("ann@example.com", "ann-password")
            #expect(try await api.call(.get, "/v1/me", token: member).json["kind"] as? String == "member")
            #expect(try await api.call(.get, "/v1/customers/\(ann)", token: member).status == 200)
            let other = try await api.call(.get, "/v1/customers/\(bob)", token: member)
            #expect(other.status == 404)
            #expect(try await api.call(.get, "/v1/customers/\(bob)/transactions", token: member).status == 404)
            #expect(try await api.call(.get, "/v1/customers/\(bob)/consents", token: member).status == 404)
            let list = try await api.call(.get, "/v1/customers?q=bob", token: member)
            #expect((list.json["items"] as? [[String: Any]])?.compactMap { ($0["id"] as? NSNumber)?.int64Value } == [ann])
            #expect(try await api.call(.post, "/v1/customers", token: member, body: ["lastName": "X"]).status == 403)
            #expect(try await api.call(.patch, "/v1/customers/\(bob)", token: member, body: ["lastName": "X"]).status == 403)
            #expect(try await api.call(.patch, "/v1/customers/\(ann)", token: member, body: ["language": "fr"]).status == 200)
            let consent = try await api.call(
                .post, "/v1/customers/\(ann)/consents", token: member,
                body: ["purpose": "marketing", "channel": "email", "granted": false, "source": "portal"])
            #expect(consent.status == 201)
        }
    }

    @Test("Roles limit what staff may do", arguments: TestEngine.available)
    func roles(engine: TestEngine) async throws {
        try await withAPI(engine) { api, patron, admin in
            _ = try await patron.access.addUser(email: "analyst@x.com", password: "analyst-pw", role: .analyst)
            let analyst = try await api.logIn("analyst@x.com", "analyst-pw")
            let ann = try #require(try await api.call(.post, "/v1/customers", token: admin, body: ["firstName": "Ann", "lastName": "Lee"]).id)
            #expect(try await api.call(.get, "/v1/customers/\(ann)", token: analyst).status == 200)
            let denied = try await api.call(.post, "/v1/customers", token: analyst, body: ["lastName": "X"])
            #expect(denied.status == 403)
            #expect(denied.code == "forbidden")
            #expect(try await api.call(.get, "/v1/users", token: analyst).status == 403)
            #expect(try await api.call(.post, "/v1/customers/\(ann)/merge", token: analyst, body: ["duplicateId": ann]).status == 403)
            let users = try await api.call(.get, "/v1/users", token: admin)
            #expect(users.array.count == 2)
            let made = try await api.call(
                .post, "/v1/users", token: admin, body: ["email": "agent@x.com", "password": "agent-pw-1", "role": "agent"])
            #expect(made.status == 201)
            #expect(made.json["password"] == nil)
            #expect(
                try await api.call(.post, "/v1/users", token: admin, body: ["email": "agent@x.com", "password": "agent-pw-1", "role": "agent"]).code
                    == "email_taken")
            let logout = try await api.call(.delete, "/v1/sessions/current", token: analyst)
            #expect(logout.status == 204)
            #expect(try await api.call(.get, "/v1/me", token: analyst).status == 401)
        }
    }

    @Test("Partner keys submit transactions within their scope only", arguments: TestEngine.available)
    func partnerKeys(engine: TestEngine) async throws {
        try await withAPI(engine) { api, patron, admin in
            let ann = try #require(
                try await api.call(.post, "/v1/customers", token: admin, body: ["firstName": "Ann", "lastName": "Lee", "email": "ann@example.com"]).id
            )
            #expect(
                try await api.call(.post, "/v1/api-keys", token: admin, body: ["name": "pos", "partner": "NOBODY", "scopes": ["transactions:write"]])
                    .code == "partner_not_found", "a key for a partner without terms is refused")
            _ = try await api.call(
                .put, "/v1/partners/ACME", token: admin,
                body: ["name": "Acme Fuel", "outlets": ["ACME-1"], "currency": "USD", "pricePerThousandPoints": 500, "payoutPerVoucher": 0])
            let created = try await api.call(
                .post, "/v1/api-keys", token: admin, body: ["name": "pos", "partner": "ACME", "scopes": ["transactions:write"]])
            #expect(created.status == 201)
            let key = try #require(created.json["key"] as? String)
            let keyID = try #require(((created.json["apiKey"] as? [String: Any])?["id"] as? NSNumber)?.int64Value)
            #expect(try await api.call(.get, "/v1/api-keys", token: admin).text.contains(key) == false)
            let purchase: [String: Any] = [
                "transactionId": "ACME-1", "identifiers": [["kind": "email", "value": "ANN@example.com"]], "occurredAt": "2026-01-02T10:00:00Z",
                "amount": 4500, "currency": "USD", "store": "ACME-1", "lines": [["product": "Fuel", "quantity": 1, "amount": 4500]],
            ]
            let receipt = try await api.call(.post, "/v1/transactions", token: key, body: purchase)
            #expect(receipt.status == 201)
            #expect(receipt.json["status"] as? String == "matched")
            #expect(receipt.json["matchedBy"] as? String == "email")
            #expect(((receipt.json["transaction"] as? [String: Any])?["customerId"] as? NSNumber)?.int64Value == ann)
            let replay = try await api.call(.post, "/v1/transactions", token: key, body: purchase)
            #expect(replay.json["status"] as? String == "duplicate")
            #expect(try await api.call(.get, "/v1/customers/\(ann)", token: key).status == 403)
            #expect(
                try await api.call(.post, "/v1/interactions", token: key, body: ["customerId": ann, "channel": "call", "direction": "inbound"]).status
                    == 403)
            var elsewhere = purchase
            elsewhere["transactionId"] = "ACME-2"
            elsewhere["store"] = "OTHER-1"
            #expect(try await api.call(.post, "/v1/transactions", token: key, body: elsewhere).code == "not_partner_outlet")
            // A partner's terms are read with its purchases' group now; a key whose partner has lost
            // its terms is refused as before, with nothing recorded.
            try await patron.database.write { db in try await db.raw("DELETE FROM partners WHERE code = 'ACME'").run() }
            elsewhere["store"] = "ACME-1"
            let orphan = try await api.call(.post, "/v1/transactions", token: key, body: elsewhere)
            #expect(orphan.status == 403 && orphan.code == "partner_not_found")
            #expect(try await patron.customers.transaction(externalID: "ACME-2") == nil)
            #expect(try await api.call(.delete, "/v1/api-keys/\(keyID)", token: admin).status == 204)
            #expect(try await api.call(.post, "/v1/transactions", token: key, body: purchase).status == 401)
        }
    }

    @Test("Idempotency-Key replays the first response and applies once", arguments: TestEngine.available)
    func idempotencyKey(engine: TestEngine) async throws {
        try await withAPI(engine) { api, patron, admin in
            let headers: HTTPFields = [HTTPField.Name("Idempotency-Key")!: "create-ann-1"]
            let first = try await api.call(.post, "/v1/customers", token: admin, body: ["firstName": "Ann", "lastName": "Lee"], headers: headers)
            let second = try await api.call(.post, "/v1/customers", token: admin, body: ["firstName": "Ann", "lastName": "Lee"], headers: headers)
            #expect(first.status == 201)
            #expect(second.status == 201)
            #expect(second.id == first.id)
            #expect(second.headers[HTTPField.Name("Idempotent-Replayed")!] == "true")
            let reused = try await api.call(.post, "/v1/customers", token: admin, body: ["firstName": "Bob", "lastName": "Ray"], headers: headers)
            #expect(reused.status == 422)
            #expect(reused.code == "idempotency_key_reused")
            #expect(try await patron.customers.search(nil, after: nil, limit: .init(10)).items.count == 1)
            // A failed request is not remembered: fixing it and retrying with the same key works.
            let retryHeaders: HTTPFields = [HTTPField.Name("Idempotency-Key")!: "create-cy"]
            #expect(
                try await api.call(.post, "/v1/customers", token: admin, body: ["firstName": "Cy", "email": "bad"], headers: retryHeaders).status
                    == 422)
            #expect(
                try await api.call(.post, "/v1/customers", token: admin, body: ["firstName": "Cy", "email": "bad"], headers: retryHeaders).status
                    == 422)
        }
    }

    @Test("Activity is matched, held when not matched, and linked by hand", arguments: TestEngine.available)
    func activity(engine: TestEngine) async throws {
        try await withAPI(engine) { api, _, admin in
            let ann = try #require(try await api.call(.post, "/v1/customers", token: admin, body: ["firstName": "Ann", "lastName": "Lee"]).id)
            let card = try await api.call(.post, "/v1/customers/\(ann)/identifiers", token: admin, body: ["kind": "card", "value": "NW 0001"])
            #expect(card.json["cards"] as? [String] == ["NW0001"])
            let call = try await api.call(
                .post, "/v1/interactions", token: admin,
                body: [
                    "identifiers": [["kind": "card", "value": "nw0001"]], "channel": "call", "direction": "inbound", "subject": "Where is my order?",
                ])
            #expect(call.status == 201)
            let stray = try await api.call(
                .post, "/v1/transactions", token: admin,
                body: [
                    "transactionId": "W-1", "identifiers": [["kind": "email", "value": "who@example.com"]], "occurredAt": "2026-01-03T09:00:00Z",
                    "amount": 1999,
                ])
            #expect(stray.status == 202)
            let unmatchedID = try #require((stray.json["unmatchedId"] as? NSNumber)?.int64Value)
            let waiting = try await api.call(.get, "/v1/unmatched", token: admin)
            #expect((waiting.json["items"] as? [[String: Any]])?.first?["summary"] as? String == "purchase W-1 of 19.99 USD")
            let linked = try await api.call(.post, "/v1/unmatched/\(unmatchedID)/link", token: admin, body: ["customerId": ann])
            #expect(linked.status == 200)
            #expect(linked.json["status"] as? String == "matched")
            let timeline = try await api.call(.get, "/v1/customers/\(ann)/timeline", token: admin)
            #expect(Set(timeline.array.compactMap { $0["kind"] as? String }) == ["interaction", "transaction"])
            let again = try await api.call(.post, "/v1/unmatched/\(unmatchedID)/link", token: admin, body: ["customerId": ann])
            #expect(again.code == "already_linked")
            let unbalanced = try await api.call(
                .post, "/v1/transactions", token: admin,
                body: [
                    "transactionId": "W-2", "customerId": ann, "occurredAt": "2026-01-03T09:00:00Z", "amount": 1000,
                    "lines": [["product": "A", "quantity": 1, "amount": 10]],
                ])
            #expect(unbalanced.status == 422)
            #expect(unbalanced.json["field"] as? String == "lines")
        }
    }

    @Test("Consents, do-not-contact, households, accounts, quality and merge over HTTP", arguments: TestEngine.available)
    func customer360(engine: TestEngine) async throws {
        try await withAPI(engine) { api, _, admin in
            let ann = try #require(
                try await api.call(.post, "/v1/customers", token: admin, body: ["firstName": "Ann", "lastName": "Lee", "email": "ann@example.com"]).id
            )
            let dup = try #require(
                try await api.call(.post, "/v1/customers", token: admin, body: ["firstName": "Anne", "lastName": "Lee", "email": "ann@example.com"])
                    .id)
            let consent = try await api.call(
                .post, "/v1/customers/\(ann)/consents", token: admin,
                body: ["purpose": "marketing", "channel": "sms", "granted": true, "source": "store"])
            #expect(((consent.json["current"] as? [[String: Any]])?.first?["recordedBy"] as? String) == "admin@test.example")
            let blocked = try await api.call(
                .post, "/v1/customers/\(ann)/do-not-contact", token: admin, body: ["channel": "sms", "reason": "complaint"])
            #expect((blocked.json["doNotContact"] as? [[String: Any]])?.count == 1)
            let unblocked = try await api.call(.delete, "/v1/customers/\(ann)/do-not-contact/sms", token: admin)
            #expect(((unblocked.json["doNotContact"] as? [[String: Any]])?.first?["clearedBy"] as? String) == "admin@test.example")

            let household = try await api.call(.post, "/v1/households", token: admin, body: ["name": "Lees", "memberIds": [ann]])
            #expect(household.status == 201)
            let account = try await api.call(.post, "/v1/accounts", token: admin, body: ["name": "Summit Guides", "accountClass": "A"])
            #expect(account.status == 422)
            #expect(account.json["field"] as? String == "keyAccountManager")
            let made = try await api.call(
                .post, "/v1/accounts", token: admin, body: ["name": "Summit Guides", "accountClass": "B", "paymentTermsDays": 45])
            let accountID = try #require(made.id)
            let contact = try await api.call(.post, "/v1/accounts/\(accountID)/contacts", token: admin, body: ["customerId": ann, "role": "buyer"])
            #expect((contact.json["contacts"] as? [[String: Any]])?.first?["role"] as? String == "buyer")

            let quality = try await api.call(.get, "/v1/customers/\(ann)/quality", token: admin)
            #expect(quality.json["completeness"] as? Int == 35)
            #expect((quality.json["duplicates"] as? [[String: Any]])?.first?["reason"] as? String == "same_email")
            let duplicates = try await api.call(.get, "/v1/duplicates", token: admin)
            #expect(duplicates.array.count == 1)
            let merged = try await api.call(.post, "/v1/customers/\(ann)/merge", token: admin, body: ["duplicateId": dup])
            #expect(merged.status == 200)
            let trace = try await api.call(.get, "/v1/customers/\(dup)", token: admin)
            #expect(trace.json["status"] as? String == "merged")
            #expect((trace.json["mergedInto"] as? NSNumber)?.int64Value == ann)
            #expect(try await api.call(.get, "/v1/duplicates", token: admin).array.isEmpty)
            #expect(try await api.call(.patch, "/v1/customers/\(dup)", token: admin, body: ["lastName": "X"]).code == "customer_merged")
        }
    }
}

@Suite("Partners and waiting activity")
struct PartnerLookupTests {
    @Test("A lookup key finds a member by card or email only, and sees only the name and cards", arguments: TestEngine.available)
    func lookup(engine: TestEngine) async throws {
        try await withAPI(engine) { api, _, admin in
            let ann = try #require(
                try await api.call(
                    .post, "/v1/customers", token: admin,
                    body: ["firstName": "Ann", "lastName": "Lee", "email": "ann@example.com", "phone": "2065550100"]
                ).id)
            _ = try await api.call(.post, "/v1/customers/\(ann)/identifiers", token: admin, body: ["kind": "card", "value": "NW77"])
            _ = try await api.call(
                .put, "/v1/partners/HOTEL", token: admin,
                body: ["name": "Hotel", "outlets": ["HOTEL-1"], "currency": "USD", "pricePerThousandPoints": 500, "payoutPerVoucher": 0])
            let key = try #require(
                try await api.call(.post, "/v1/api-keys", token: admin, body: ["name": "desk", "partner": "Hotel", "scopes": ["customers:lookup"]])
                    .json["key"]
                    as? String)
            let byCard = try await api.call(.get, "/v1/customers?q=NW77", token: key)
            let found = try #require((byCard.json["items"] as? [[String: Any]])?.first)
            #expect(found["displayName"] as? String == "Ann Lee")
            #expect(found["email"] == nil)
            #expect((found["emails"] as? [String])?.isEmpty == true)
            #expect((found["cards"] as? [String]) == ["NW77"])
            #expect(((try await api.call(.get, "/v1/customers?q=ann", token: key)).json["items"] as? [[String: Any]])?.isEmpty == true)
            #expect(try await api.call(.get, "/v1/customers", token: key).code == "lookup_needs_identifier")
            #expect(try await api.call(.get, "/v1/customers/\(ann)", token: key).status == 403)
        }
    }

    @Test("Importing the customer a transaction was waiting for links it", arguments: TestEngine.available)
    func importLinksWaiting(engine: TestEngine) async throws {
        try await withAPI(engine) { api, patron, admin in
            let stray = try await api.call(
                .post, "/v1/transactions", token: admin,
                body: [
                    "transactionId": "W-7", "identifiers": [["kind": "email", "value": "late@example.com"]], "occurredAt": "2026-01-03T09:00:00Z",
                    "amount": 500,
                ])
            #expect(stray.status == 202)
            let path = TestFiles.path("late")
            try "first_name,last_name,email\nLate,Comer,late@example.com\n".write(toFile: path, atomically: true, encoding: .utf8)
            let report = try await CustomerImporter(customers: patron.customers).run(file: path) { Issue.record("rejected \($0)") }
            #expect(report.linked == 1)
            let waiting = try await api.call(.get, "/v1/unmatched", token: admin)
            #expect((waiting.json["items"] as? [[String: Any]])?.isEmpty == true)
            #expect(try await api.call(.post, "/v1/unmatched/rematch", token: admin).json["linked"] as? Int == 0)
        }
    }
}

@Suite("Every endpoint authorises")
struct AuthorisationMatrixTests {
    /// Every operation of the API with a body that would pass validation.
    nonisolated(unsafe) static let routes: [(HTTPRequest.Method, String, [String: Any]?)] = [
        (.get, "/v1/me", nil), (.delete, "/v1/sessions/current", nil), (.get, "/v1/users", nil),
        (.post, "/v1/users", ["email": "u@x.com", "password": "password1", "role": "agent"]), (.get, "/v1/api-keys", nil),
        (.post, "/v1/api-keys", ["name": "k", "partner": "p", "scopes": ["transactions:write"]]), (.delete, "/v1/api-keys/1", nil),
        (.post, "/v1/member-logins", ["customerId": 1, "email": "m@x.com", "password": "password1"]), (.get, "/v1/customers", nil),
        (.post, "/v1/customers", ["lastName": "X"]), (.get, "/v1/customers/1", nil), (.patch, "/v1/customers/1", ["lastName": "Y"]),
        (.post, "/v1/customers/1/identifiers", ["kind": "card", "value": "C1"]), (.get, "/v1/customers/1/timeline", nil),
        (.get, "/v1/customers/1/interactions", nil), (.get, "/v1/customers/1/transactions", nil), (.get, "/v1/customers/1/consents", nil),
        (.post, "/v1/customers/1/consents", ["purpose": "marketing", "channel": "email", "granted": true, "source": "web"]),
        (.post, "/v1/customers/1/do-not-contact", ["channel": "sms", "reason": "r"]), (.delete, "/v1/customers/1/do-not-contact/sms", nil),
        (.get, "/v1/customers/1/quality", nil), (.post, "/v1/customers/1/merge", ["duplicateId": 2]), (.get, "/v1/duplicates", nil),
        (.post, "/v1/households", ["name": "H"]), (.get, "/v1/households/1", nil), (.post, "/v1/households/1/members", ["customerId": 1]),
        (.post, "/v1/accounts", ["name": "A"]), (.get, "/v1/accounts/1", nil), (.post, "/v1/accounts/1/contacts", ["customerId": 1]),
        (.post, "/v1/interactions", ["customerId": 1, "channel": "call", "direction": "inbound"]),
        (.post, "/v1/transactions", ["transactionId": "T", "customerId": 1, "occurredAt": "2026-01-01T00:00:00Z", "amount": 1]),
        (.get, "/v1/unmatched", nil), (.post, "/v1/unmatched/rematch", nil), (.post, "/v1/unmatched/1/link", ["customerId": 1]),
        (.post, "/v1/programs", ["code": "NW", "name": "N", "valuePerThousandPoints": ["amount": 1, "currency": "USD"]]),
        (.post, "/v1/programs/1/members", ["customerId": 1]), (.get, "/v1/customers/1/memberships", nil), (.get, "/v1/members/1/balance", nil),
        (.get, "/v1/members/1/statement?from=2025-01-01T00:00:00Z&to=2026-01-01T00:00:00Z", nil), (.post, "/v1/members/1/redemptions", ["points": 1]),
        (.post, "/v1/members/1/adjustments", ["points": 1, "reason": "r"]),
        (.post, "/v1/programs/1/join", nil), (.put, "/v1/programs/1/options", ["transferLimitPerYear": 100]),
        (
            .post, "/v1/programs/1/promotions",
            [
                "code": "X1", "name": "X", "startsAt": "2026-01-01T00:00:00Z", "endsAt": "2026-02-01T00:00:00Z",
                "action": ["kind": "fixed", "points": 5],
            ]
        ),
        (.get, "/v1/programs/1/promotions", nil),
        (
            .post, "/v1/programs/1/simulations",
            [
                "months": 3,
                "promotion": [
                    "code": "X1", "name": "X", "startsAt": "2026-01-01T00:00:00Z", "endsAt": "2026-02-01T00:00:00Z",
                    "action": ["kind": "fixed", "points": 5],
                ],
            ]
        ),
        (.post, "/v1/programs/1/tier-review", nil),
        (.post, "/v1/programs/1/rewards", ["code": "R1", "name": "R", "kind": "product", "pointsPrice": 10]),
        (.get, "/v1/programs/1/rewards", nil), (.get, "/v1/promotions/1", nil), (.post, "/v1/promotions/1/end", nil),
        (.post, "/v1/promotions/1/enrolments", ["memberId": 1]), (.patch, "/v1/rewards/1", ["active": false]), (.get, "/v1/members/1/catalogue", nil),
        (.post, "/v1/members/1/vouchers", ["rewardId": 1]), (.get, "/v1/members/1/vouchers", nil), (.post, "/v1/vouchers/1/cancel", nil),
        (.post, "/v1/vouchers/1/use", nil), (.post, "/v1/members/1/transfers", ["toMemberId": 2, "points": 1]),
        (.post, "/v1/members/1/pool", ["intoMemberId": 2]), (.post, "/v1/members/1/referrals", ["friendCustomerId": 2]),
        (.get, "/v1/members/1/referrals", nil), (.get, "/v1/members/1/tier", nil), (.post, "/v1/members/1/cards", [:]),
        (.get, "/v1/members/1/cards", nil), (.post, "/v1/cards/1/block", ["reason": "lost"]), (.post, "/v1/cards/1/replace", ["reason": "worn"]),
        (.get, "/v1/customers/1/scores", nil), (.post, "/v1/analytics/scoring-runs", nil), (.get, "/v1/analytics/scoring-runs/latest", nil),
        (.get, "/v1/analytics/customers", nil), (.get, "/v1/analytics/rfm", nil), (.get, "/v1/analytics/basket-rules", nil),
        (.get, "/v1/analytics/loyalty", nil), (.get, "/v1/segments", nil), (.post, "/v1/segments", ["name": "s", "rule": "member"]),
        (.post, "/v1/segments/count", ["rule": "member"]), (.post, "/v1/segments/preview", ["rule": "member"]),
        (.get, "/v1/segments/overlap?first=1&second=1", nil), (.post, "/v1/segments/refresh", nil), (.get, "/v1/segments/1", nil),
        (.put, "/v1/segments/1", ["name": "s", "rule": "member"]), (.delete, "/v1/segments/1", nil), (.get, "/v1/segments/1/members", nil),
        (.get, "/v1/segments/1/export", nil), (.post, "/v1/segments/1/snapshot", nil), (.get, "/v1/stores", nil),
        (.put, "/v1/stores/S1", ["name": "Shop", "latitude": 47.6, "longitude": -122.3]),
        (.get, "/v1/campaigns", nil), (.post, "/v1/campaigns", CampaignAPITests.plan(segment: 1)), (.get, "/v1/campaigns/compare?ids=1", nil),
        (.post, "/v1/campaigns/what-if", ["rule": "true", "channels": ["email"]]), (.post, "/v1/campaigns/run", nil), (.get, "/v1/campaigns/1", nil),
        (.put, "/v1/campaigns/1", CampaignAPITests.plan(segment: 1)), (.delete, "/v1/campaigns/1", nil), (.post, "/v1/campaigns/1/launch", nil),
        (.post, "/v1/campaigns/1/cancel", nil), (.post, "/v1/campaigns/1/waves/1/prepare", nil),
        (.get, "/v1/campaigns/1/waves/1/preview?customerId=1", nil),
        (.get, "/v1/campaigns/1/results", nil), (.post, "/v1/campaigns/1/leads", nil), (.get, "/v1/leads", nil),
        (.post, "/v1/campaign-events", ["token": "1-1-1-1", "event": "delivered"]), (.get, "/v1/agent-tasks", nil),
        (.post, "/v1/agent-tasks/1/complete", ["outcome": "done"]), (.get, "/v1/analytics/campaigns", nil),
    ]

    @Test("Without a token every /v1 endpoint but login answers 401")
    func unauthenticated() async throws {
        try await withAPI(.sqlite) { api, _, _ in
            for (method, uri, body) in Self.routes {
                let reply = try await api.call(method, uri, body: body)
                #expect(reply.status == 401, "\(method) \(uri) → \(reply.status)")
            }
        }
    }

    @Test("A member reaches only their own records: everything else is 403 or 404, and nothing is written")
    func member() async throws {
        try await withAPI(.sqlite) { api, patron, admin in
            let other = try #require(try await api.call(.post, "/v1/customers", token: admin, body: ["firstName": "Other", "lastName": "Person"]).id)
            let own = try #require(try await api.call(.post, "/v1/customers", token: admin, body: ["firstName": "Own", "lastName": "Member"]).id)
            _ = try await api.call(
                .post, "/v1/member-logins", token: admin, body: ["customerId": own, "email": "own@x.com", "password": "password1"])
            let token = try await api.logIn("own@x.com", "password1")
            // A member may join a program and list its rewards; with no program 1 those answer 404 too.
            let allowed: Set<String> = ["GET /v1/me", "DELETE /v1/sessions/current", "GET /v1/customers"]
            for (method, uri, body) in Self.routes where !allowed.contains("\(method) \(uri)") {
                let reply = try await api.call(method, uri.replacingOccurrences(of: "/1", with: "/\(other)"), token: token, body: body)
                #expect([403, 404].contains(reply.status), "\(method) \(uri) → \(reply.status)")
            }
            #expect(try await patron.customers.search(nil, after: nil, limit: .init(10)).items.count == 2)
        }
    }

    @Test("An analyst reads but changes nothing")
    func analyst() async throws {
        try await withAPI(.sqlite) { api, patron, admin in
            _ = try await api.call(.post, "/v1/customers", token: admin, body: ["firstName": "Ann", "lastName": "Lee"])
            _ = try await patron.access.addUser(email: "analyst@x.com", password: "password1", role: .analyst)
            let token = try await api.logIn("analyst@x.com", "password1")
            // Analysts may run the scoring job; every other write is refused.
            let reads = ["/v1/sessions/current", "/v1/analytics/scoring-runs", "/v1/segments/count", "/v1/segments/preview", "/v1/campaigns/what-if"]
            for (method, uri, body) in Self.routes where method != .get && !reads.contains(uri) {
                let reply = try await api.call(method, uri, token: token, body: body)
                #expect(reply.status == 403, "\(method) \(uri) → \(reply.status)")
            }
            for (method, uri, _) in Self.routes where method == .get && !["/v1/users", "/v1/api-keys", "/v1/agent-tasks"].contains(uri) {
                let reply = try await api.call(method, uri, token: token)
                #expect(reply.status == 200 || reply.code?.hasSuffix("_not_found") == true, "\(method) \(uri) → \(reply.status) \(reply.code ?? "")")
            }
        }
    }
}
