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

/// Privacy requests: a customer's data handed over, or the customer forgotten — with the
/// company's accounts kept.
@Suite struct PrivacyTests {
    @Test("an access request is answered with every record about the customer and nothing secret", arguments: TestEngine.available)
    func access(engine: TestEngine) async throws {
        try await withAPI(engine) { api, patron, admin in
            _ = try await patron.access.addUser(email: "ada@x.com", password: "password1", role: .agent)
            let ada = try await api.logIn("ada@x.com", "password1")
            let ann = try #require(
                try await api.call(.post, "/v1/customers", token: admin, body: ["firstName": "Ann", "lastName": "Lee", "emails": ["ann@x.com"]]).id)
            _ = try await patron.access.createMemberLogin(customerID: ann, email: "ann@x.com", password: "password1")
            try await api.call(
                .post, "/v1/interactions", token: admin,
                body: ["customerId": ann, "channel": "call", "direction": "inbound", "subject": "Asked what you keep about her"])
            #expect(
                try await api.call(.post, "/v1/privacy-requests", token: ada, body: ["customerId": ann, "kind": "access", "channel": "email"]).status
                    == 403)
            let bad = try await api.call(
                .post, "/v1/privacy-requests", token: admin, body: ["customerId": 999, "kind": "access", "channel": "email"])
            #expect(bad.status == 404)
            let r = try await api.call(.post, "/v1/privacy-requests", token: admin, body: ["customerId": ann, "kind": "access", "channel": "letter"])
            #expect(r.status == 201 && r.json["status"] as? String == "open" && r.json["overdue"] as? Bool == false)
            let id = try #require(r.id)
            let export = try await api.call(.get, "/v1/privacy-requests/\(id)/export", token: admin)
            #expect(export.status == 200)
            let tables = try #require(export.json["tables"] as? [String: Any])
            let customers = try #require(tables["customers"] as? [[String: Any]])
            #expect(customers.first?["first_name"] as? String == "Ann")
            #expect((customers.first?["profile"] as? [String: Any]) != nil && export.text.contains("ann@x.com"))
            #expect((tables["interactions"] as? [[String: Any]])?.first?["subject"] as? String == "Asked what you keep about her")
            #expect((tables["member_logins"] as? [[String: Any]])?.first?["email"] as? String == "ann@x.com")
            #expect(!export.text.contains("password_hash") && !export.text.contains("$2"))
            let listed = try await api.call(.get, "/v1/privacy-requests", token: admin).array
            #expect(listed.first?["status"] as? String == "completed")
            #expect(try await api.call(.post, "/v1/privacy-requests/\(id)/erase", token: admin).status == 422)
        }
    }

    @Test("an erasure forgets who the customer is, everywhere, and keeps purchases; it is audited", arguments: TestEngine.available)
    func erasure(engine: TestEngine) async throws {
        try await withAPI(engine) { api, patron, admin in
            let ann = try #require(
                try await api.call(
                    .post, "/v1/customers", token: admin,
                    body: ["firstName": "Ann", "lastName": "Lee", "emails": ["ann@x.com"], "phones": ["+12065550100"], "birthDate": "1980-02-03"]
                ).id)
            let twin = try #require(
                try await api.call(.post, "/v1/customers", token: admin, body: ["firstName": "Ann", "lastName": "Lee", "emails": ["ann.lee@x.com"]])
                    .id)
            try await api.call(.post, "/v1/customers/\(ann)/merge", token: admin, body: ["duplicateId": twin])
            _ = try await patron.access.createMemberLogin(customerID: ann, email: "ann@x.com", password: "password1")
            let member = try await api.logIn("ann@x.com", "password1")
            try await api.call(
                .post, "/v1/transactions", token: admin,
                body: [
                    "transactionId": "T-1", "identifiers": [["kind": "email", "value": "ann@x.com"]], "occurredAt": "2026-01-02T10:00:00Z",
                    "amount": 4500, "currency": "USD",
                ])
            try await api.call(
                .post, "/v1/interactions", token: admin,
                body: ["customerId": ann, "channel": "call", "direction": "inbound", "notes": "Lives at 1 Main St"])
            let request = try await api.call(
                .post, "/v1/service-requests", token: member,
                body: ["kind": "question", "subject": "My address", "description": "I moved to 2 Elm St"])
            #expect(request.status == 201)

            let r = try await api.call(
                .post, "/v1/privacy-requests", token: admin, body: ["customerId": ann, "kind": "erasure", "channel": "email", "note": "ID checked"])
            let id = try #require(r.id)
            let done = try await api.call(.post, "/v1/privacy-requests/\(id)/erase", token: admin)
            #expect(done.status == 200 && done.json["status"] as? String == "completed")
            #expect((done.json["outcome"] as? String)?.contains("interactions") == true, "\(done.json["outcome"] ?? "")")

            let after = try await api.call(.get, "/v1/customers/\(ann)", token: admin)
            #expect(after.json["status"] as? String == "erased" && after.json["displayName"] as? String == "")
            #expect((after.json["emails"] as? [Any])?.isEmpty == true && after.json["birthDate"] == nil)
            let merged = try await api.call(.get, "/v1/customers/\(twin)", token: admin)
            #expect((merged.json["emails"] as? [Any])?.isEmpty == true)
            #expect(try await api.call(.get, "/v1/customers?q=ann%40x.com", token: admin).json["items"] as? [Any] != nil)
            #expect((try await api.call(.get, "/v1/customers?q=ann%40x.com", token: admin).json["items"] as? [Any])?.isEmpty == true)
            #expect((try await api.call(.get, "/v1/customers?q=lee", token: admin).json["items"] as? [Any])?.isEmpty == true)
            // The member can no longer sign in; their session is gone.
            #expect(try await api.call(.post, "/v1/sessions", body: ["email": "ann@x.com", "password": "password1"]).status == 401)
            #expect(try await api.call(.get, "/v1/me", token: member).status == 401)
            // Purchases stay, with their amounts; the free text is gone.
            let purchases = try await api.call(.get, "/v1/customers/\(ann)/transactions", token: admin).json["items"] as? [[String: Any]]
            #expect(purchases?.count == 1)
            let calls = try await api.call(.get, "/v1/customers/\(ann)/interactions", token: admin).text
            #expect(!calls.contains("Main St"))
            let thread = try await api.call(.get, "/v1/service-requests/\(try #require(request.id))", token: admin).text
            #expect(!thread.contains("Elm St") && !thread.contains("My address"))
            // Nothing about her is left in an export either.
            let check = try #require(
                try await api.call(.post, "/v1/privacy-requests", token: admin, body: ["customerId": ann, "kind": "access", "channel": "audit"]).id)
            let export = try await api.call(.get, "/v1/privacy-requests/\(check)/export", token: admin).text
            for secret in ["ann@x.com", "Lee", "2065550100", "1980-02-03", "Main St", "Elm St"] { #expect(!export.contains(secret), "\(secret)") }
            #expect(try await api.call(.post, "/v1/privacy-requests/\(id)/erase", token: admin).status == 422)
            let audit = try await patron.access.auditEvents(AuditQuery(contains: "customer \(ann)"))
            #expect(audit.contains { $0.action == "privacy.erase" })
        }
    }

    @Test("a request can be rejected with a reason, once; overdue ones are flagged", arguments: TestEngine.available)
    func reject(engine: TestEngine) async throws {
        let clock = TestClock()
        try await withAPI(engine, clock: clock) { api, _, first in
            var admin = first
            let ann = try #require(try await api.call(.post, "/v1/customers", token: admin, body: ["firstName": "Ann"]).id)
            let id = try #require(
                try await api.call(.post, "/v1/privacy-requests", token: admin, body: ["customerId": ann, "kind": "erasure", "channel": "phone"]).id)
            clock.advance(days: 31)
            admin = try await api.logIn("admin@test.example", "admin-password")
            #expect(try await api.call(.get, "/v1/privacy-requests", token: admin).array.first?["overdue"] as? Bool == true)
            #expect(try await api.call(.post, "/v1/privacy-requests/\(id)/reject", token: admin, body: ["reason": " "]).status == 422)
            let rejected = try await api.call(.post, "/v1/privacy-requests/\(id)/reject", token: admin, body: ["reason": "Could not verify identity"])
            #expect(rejected.json["status"] as? String == "rejected" && rejected.json["outcome"] as? String == "Could not verify identity")
            #expect(try await api.call(.post, "/v1/privacy-requests/\(id)/reject", token: admin, body: ["reason": "again"]).status == 422)
            #expect(try await api.call(.post, "/v1/privacy-requests/\(id)/erase", token: admin).status == 422)
        }
    }
}

@Suite("Erased people stay erased")
struct TombstoneTests {
    @Test(
        "Regression: after an erasure, an import naming the customer id or a former email or phone rejects the row and restores nothing; sign-up and profile changes refuse them",
        arguments: TestEngine.available)
    func erasedStayErased(engine: TestEngine) async throws {
        try await withAPI(engine) { api, patron, admin in
            let ann = try #require(
                try await api.call(
                    .post, "/v1/customers", token: admin, body: ["firstName": "Ann", "lastName": "Lee", "emails": ["ann@x.com"], "phones": ["+12065550100"]]
                ).id)
            let r = try await api.call(.post, "/v1/privacy-requests", token: admin, body: ["customerId": ann, "kind": "erasure", "channel": "email"])
            #expect(try await api.call(.post, "/v1/privacy-requests/\(try #require(r.id))/erase", token: admin).status == 200)

            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("patron-tombstone-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = directory.appendingPathComponent("customers.csv").path
            try """
            customer_id,first_name,last_name,email,phone
            \(ann),Ann,Lee,ann@x.com,+12065550100
            ,Ann,Again,ANN@x.com,
            ,Anna,Lee,,206 555 0100
            ,Bo,Ray,bo@x.com,
            """.write(toFile: path, atomically: true, encoding: .utf8)
            var rejections: [Rejection] = []
            let report = try await CustomerImporter(customers: patron.customers).run(file: path) { rejections.append($0) }
            #expect(report.rejected == 3 && report.created == 1)
            #expect(rejections.map(\.line) == [2, 3, 4])
            #expect(rejections.map(\.column) == ["customer_id", "email", "phone"])
            let erased = try await api.call(.get, "/v1/customers/\(ann)", token: admin)
            #expect(erased.json["status"] as? String == "erased" && erased.json["displayName"] as? String == "", "nothing restored")
            // Nobody else can take the identifiers back into Patron by hand either.
            let again = try await api.call(.post, "/v1/customers", token: admin, body: ["firstName": "A", "lastName": "L", "emails": ["ann@x.com"]])
            #expect(again.code == "customer_erased" && again.json["field"] as? String == "email")
            let patched = try await api.call(.patch, "/v1/customers/\(ann)", token: admin, body: ["firstName": "Ann"])
            #expect(patched.code == "customer_erased")
            let tombstones = try await patron.database.read { db in
                try await db.raw("SELECT digest FROM erasure_tombstones").all().map { try $0.decode(column: "digest", as: String.self) }
            }
            #expect(tombstones.count >= 3 && !tombstones.contains { $0.contains("ann") }, "only keyed hashes are kept")
        }
    }
}
