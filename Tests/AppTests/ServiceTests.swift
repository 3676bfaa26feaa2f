import Access
import App
import Customers
import Foundation
import HTTPTypes
import SharedModels
import Storage
import Support
import TestSupport
import Testing

/// The service desk: SLA targets by priority and customer value, the thread, who may do what,
/// and the clocks an agent reads.
@Suite struct ServiceTests {
    @Test(
        "an agent opens a complaint; the member follows it, writes back, and rates it; the clocks and timeline tell the story",
        arguments: TestEngine.available)
    func journey(engine: TestEngine) async throws {
        let clock = TestClock()
        try await withAPI(engine, clock: clock) { api, patron, admin in
            _ = try await patron.access.addUser(email: "ada@x.com", password: "password1", role: .agent)
            _ = try await patron.access.addUser(email: "mia@x.com", password: "password1", role: .marketer)
            let ann = try #require(
                try await api.call(.post, "/v1/customers", token: admin, body: ["firstName": "Ann", "lastName": "Lee", "emails": ["ann@x.com"]]).id)
            let bob = try #require(
                try await api.call(.post, "/v1/customers", token: admin, body: ["firstName": "Bob", "lastName": "Ray", "emails": ["bob@x.com"]]).id)
            _ = try await patron.access.createMemberLogin(customerID: ann, email: "ann@x.com", password: "password1")
            _ = try await patron.access.createMemberLogin(customerID: bob, email: "bob@x.com", password: "password1")
            let ada = try await api.logIn("ada@x.com", "password1")
            let mia = try await api.logIn("mia@x.com", "password1")
            let annToken = try await api.logIn("ann@x.com", "password1")
            let bobToken = try await api.logIn("bob@x.com", "password1")

            // Field errors and roles.
            let empty = try await api.call(
                .post, "/v1/service-requests", token: ada, body: ["customerId": ann, "kind": "complaint", "subject": " ", "description": "x"])
            #expect(empty.status == 422 && empty.text.contains("subject"))
            let noCustomer = try await api.call(
                .post, "/v1/service-requests", token: ada, body: ["kind": "question", "subject": "s", "description": "d"])
            #expect(noCustomer.status == 422 && noCustomer.text.contains("customerId"))
            let unknown = try await api.call(
                .post, "/v1/service-requests", token: ada, body: ["customerId": 999_999, "kind": "question", "subject": "s", "description": "d"])
            #expect(unknown.status == 404)
            let badQueue = try await api.call(
                .post, "/v1/service-requests", token: ada,
                body: ["customerId": ann, "kind": "question", "subject": "s", "description": "d", "queue": "Not OK!"])
            #expect(badQueue.status == 422 && badQueue.text.contains("queue"))
            #expect(
                try await api.call(
                    .post, "/v1/service-requests", token: mia, body: ["customerId": ann, "kind": "question", "subject": "s", "description": "d"]
                ).status == 403)
            #expect(try await api.call(.get, "/v1/service-desk", token: mia).status == 403)

            // An agent opens a complaint on a call: high priority, complaints queue, response due in 2 h (4 h halved).
            let opened = try await api.call(
                .post, "/v1/service-requests", token: ada,
                body: [
                    "customerId": ann, "kind": "complaint", "subject": "Points missing", "description": "Purchase of 12 May earned nothing",
                    "channel": "call",
                ])
            #expect(opened.status == 201)
            let id = try #require(opened.id)
            #expect(opened.json["priority"] as? String == "high" && opened.json["queue"] as? String == "complaints")
            #expect(opened.json["valueTier"] as? String == "unscored")
            #expect((opened.json["responseSla"] as? [String: Any])?["state"] as? String == "due")
            #expect((opened.json["responseSla"] as? [String: Any])?["seconds"] as? Int == 7_200)

            // An internal note does not meet the response target, and the member never sees it.
            try await api.call(.post, "/v1/service-requests/\(id)/messages", token: ada, body: ["text": "Checking the till logs", "internal": true])
            clock.advance(by: 3 * 3_600)
            let desk = try await api.call(.get, "/v1/service-desk", token: ada)
            let complaints = (desk.json["queues"] as? [[String: Any]])?.first { $0["queue"] as? String == "complaints" }
            #expect(complaints?["open"] as? Int == 1 && complaints?["breached"] as? Int == 1)
            #expect(desk.json["breached"] as? Int == 1)
            let breached = try await api.call(.get, "/v1/service-requests?breached=true", token: ada)
            #expect(breached.array.map { $0["id"] as? Int64 ?? ($0["id"] as? NSNumber)?.int64Value } == [id])

            // The agent answers (late: the response target is missed) and takes it.
            let replied = try await api.call(.post, "/v1/service-requests/\(id)/messages", token: ada, body: ["text": "We are on it"])
            #expect((replied.json["responseSla"] as? [String: Any])?["state"] as? String == "missed")
            #expect(replied.json["status"] as? String == "in_progress")
            let taken = try await api.call(.patch, "/v1/service-requests/\(id)", token: ada, body: ["assignee": "ada@x.com", "priority": "urgent"])
            #expect(taken.json["assignee"] as? String == "ada@x.com" && taken.json["priority"] as? String == "urgent")
            // Urgent from the opening: resolution due 8 h after it was opened, so 5 h from now.
            #expect((taken.json["resolutionSla"] as? [String: Any])?["seconds"] as? Int == 5 * 3_600)

            // The member sees their request and the reply, not the note; Bob sees nothing of it.
            let mine = try await api.call(.get, "/v1/service-requests/\(id)", token: annToken)
            #expect(mine.status == 200)
            let texts = (mine.json["events"] as? [[String: Any]])?.compactMap { $0["text"] as? String } ?? []
            #expect(texts.contains("We are on it") && !texts.contains("Checking the till logs"))
            #expect(try await api.call(.get, "/v1/service-requests/\(id)", token: bobToken).status == 404)
            #expect(try await api.call(.post, "/v1/service-requests/\(id)/messages", token: bobToken, body: ["text": "hi"]).status == 404)
            #expect(try await api.call(.get, "/v1/service-requests", token: bobToken).array.isEmpty)
            #expect(try await api.call(.get, "/v1/service-requests", token: annToken).array.count == 1)
            // A member cannot change, resolve or read the desk.
            #expect(try await api.call(.post, "/v1/service-requests/\(id)/resolve", token: annToken, body: ["resolution": "done"]).status == 403)
            #expect(try await api.call(.get, "/v1/service-desk", token: annToken).status == 403)
            // Rating before resolution is refused.
            #expect(try await api.call(.post, "/v1/service-requests/\(id)/rating", token: annToken, body: ["score": 5]).status == 409)

            // Resolved within the (urgent) target; it is on the timeline.
            clock.advance(by: 3_600)
            let resolved = try await api.call(.post, "/v1/service-requests/\(id)/resolve", token: ada, body: ["resolution": "Credited 120 points"])
            #expect(resolved.json["status"] as? String == "resolved")
            #expect((resolved.json["resolutionSla"] as? [String: Any])?["state"] as? String == "met")
            let timeline = try await patron.customers.interactions(of: CustomerID(ann), after: nil, limit: PageSize(10)).items
            #expect(timeline.contains { $0.details.outcome == "request opened" && $0.details.subject?.contains("Points missing") == true })
            #expect(timeline.contains { $0.details.outcome == "request resolved" && $0.details.notes == "Credited 120 points" })

            // The member writes again: it reopens; resolved again, they rate it once.
            let reopened = try await api.call(.post, "/v1/service-requests/\(id)/messages", token: annToken, body: ["text": "Only 100 arrived"])
            #expect(reopened.json["status"] as? String == "open" && reopened.json["resolvedAt"] == nil)
            try await api.call(.post, "/v1/service-requests/\(id)/resolve", token: ada, body: ["resolution": "Credited the missing 20"])
            #expect(try await api.call(.post, "/v1/service-requests/\(id)/rating", token: annToken, body: ["score": 6]).status == 422)
            let rated = try await api.call(
                .post, "/v1/service-requests/\(id)/rating", token: annToken, body: ["score": 4, "comment": "Took a while"])
            #expect(rated.json["satisfaction"] as? Int == 4)
            #expect(try await api.call(.post, "/v1/service-requests/\(id)/rating", token: annToken, body: ["score": 5]).status == 409)
            #expect(try await api.call(.post, "/v1/service-requests/\(id)/rating", token: ada, body: ["score": 5]).status == 403)
            let closed = try await api.call(.post, "/v1/service-requests/\(id)/close", token: ada)
            #expect(closed.json["status"] as? String == "closed")
            #expect(try await api.call(.post, "/v1/service-requests/\(id)/messages", token: annToken, body: ["text": "again"]).status == 409)

            // The member opens one themselves from the portal: web channel, general queue, their own.
            let own = try await api.call(
                .post, "/v1/service-requests", token: annToken,
                body: ["customerId": bob, "kind": "question", "subject": "Card lost", "description": "Please send a new card", "priority": "urgent"])
            #expect(own.status == 201 && (own.json["customerId"] as? NSNumber)?.int64Value == ann)
            #expect(
                own.json["channel"] as? String == "web" && own.json["priority"] as? String == "normal" && own.json["queue"] as? String == "general")

            let summary = try await api.call(.get, "/v1/service-desk", token: admin)
            #expect(summary.json["resolvedLast30Days"] as? Int == 1 && summary.json["surveys"] as? Int == 1)
            #expect(summary.json["satisfaction"] as? Double == 4 && summary.json["open"] as? Int == 1)
            #expect(try await api.call(.get, "/v1/service-requests/424242", token: ada).code == "service_request_not_found")
        }
    }

    @Test("a valuable customer's request gets the shorter SLA of their value tier", arguments: TestEngine.available)
    func valueTier(engine: TestEngine) async throws {
        try await TestDatabase.withPatron(engine) { patron in
            let c = try await patron.customers.create(ProfileDraft(firstName: "Val", lastName: "Best", emails: ["v@x.com"]))
            let support = SupportService(store: SQLSupportStore(database: patron.database), customers: patron.customers, clock: patron.settings.clock) { _ in "A" }
            let r = try await support.open(
                customer: c.id.rawValue, kind: .question, subject: "Upgrade", description: "Can I upgrade?", channel: .email, by: "ada@x.com",
                byCustomer: false)
            #expect(r.valueTier == "A")
            #expect(r.respondBy.timeIntervalSince(r.openedAt) == 4 * 3_600 && r.resolveBy.timeIntervalSince(r.openedAt) == 36 * 3_600)
            let stored = try await patron.support.request(r.id)
            #expect(stored == r)
        }
    }
}
