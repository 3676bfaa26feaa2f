import Access
import App
import Demo
import Interchange
import Campaigns
import Customers
import Foundation
import HTTPTypes
import SharedModels
import TestSupport
import Testing

/// Campaigns over the REST API: who may do what, field errors, and the results a marketer reads.
@Suite struct CampaignAPITests {
    static func plan(segment: Int64, name: String = "Welcome back") -> [String: Any] {
        [
            "name": name, "startsOn": "2026-01-01", "endsOn": "2026-01-31", "segmentId": segment, "controlPercent": 20,
            "offer": ["kind": "none"],
            "waves": [
                ["channel": "email", "day": 0, "subject": "Hello {{first_name}}", "body": "Hi {{first_name}}: https://shop.example.com"],
                ["channel": "call", "day": 5, "audience": "non_responders", "rule": "has_phone", "body": "Call {{first_name}}"],
            ],
            "costs": ["perMessage": ["email": 5, "call": 300], "fixed": 1_000], "attributionDays": 14,
        ]
    }

    @Test("marketers plan and launch their own campaigns; analysts read results; agents work the call list", arguments: TestEngine.available)
    func roles(engine: TestEngine) async throws {
        try await withAPI(engine) { api, patron, admin in
            for (email, role) in [("mia@x.com", Role.marketer), ("max@x.com", .marketer), ("ann@x.com", .analyst), ("ada@x.com", .agent)] {
                _ = try await patron.access.addUser(email: email, password: "password1", role: role)
            }
            for i in 1...10 {
                let id = try #require(
                    try await api.call(
                        .post, "/v1/customers", token: admin,
                        body: ["firstName": "P\(i)", "lastName": "Lee", "emails": ["p\(i)@x.com"], "phones": ["+1555010\(1000 + i)"]]
                    ).id)
                _ = try await patron.customers.recordConsent(
                    purpose: .marketing, channel: .email, granted: true, source: "web_form", text: nil, for: CustomerID(id), by: "test")
            }
            let mia = try await api.logIn("mia@x.com", "password1")
            let max = try await api.logIn("max@x.com", "password1")
            let ann = try await api.logIn("ann@x.com", "password1")
            let ada = try await api.logIn("ada@x.com", "password1")
            let segment = try #require(try await api.call(.post, "/v1/segments", token: mia, body: ["name": "All", "rule": "has_email"]).id)

            // Field errors name the field; an agent may not plan campaigns.
            var bad = Self.plan(segment: segment)
            bad["controlPercent"] = 90
            let refused = try await api.call(.post, "/v1/campaigns", token: mia, body: bad)
            #expect(refused.status == 422 && refused.code == "validation_failed" && refused.text.contains("control_percent"))
            bad = Self.plan(segment: segment)
            bad["startsOn"] = "01/01/2026"
            #expect(try await api.call(.post, "/v1/campaigns", token: mia, body: bad).text.contains("startsOn"))
            #expect(try await api.call(.post, "/v1/campaigns", token: ada, body: Self.plan(segment: segment)).status == 403)

            let created = try await api.call(.post, "/v1/campaigns", token: mia, body: Self.plan(segment: segment))
            #expect(created.status == 201)
            let id = try #require(created.id)
            #expect(created.json["status"] as? String == "draft")
            #expect((created.json["plan"] as? [String: Any])?["currency"] as? String == "USD")

            // Preview for one customer, what-if before launch.
            let preview = try await api.call(.get, "/v1/campaigns/\(id)/waves/1/preview?customerId=1", token: ann)
            #expect(preview.status == 200 && preview.json["subject"] as? String == "Hello P1")
            let whatIf = try await api.call(.post, "/v1/campaigns/what-if", token: ann, body: ["rule": "has_email", "channels": ["email", "call"]])
            #expect(whatIf.status == 200 && whatIf.json["customers"] as? Int == 10)
            #expect(
                try await api.call(.post, "/v1/campaigns/what-if", token: ann, body: ["rule": "has_email and", "channels": ["email"]]).code
                    == "invalid_rule")

            // Only the owner (or an admin) launches; an analyst reads; a second launch conflicts.
            #expect(try await api.call(.post, "/v1/campaigns/\(id)/launch", token: max).status == 403)
            #expect(try await api.call(.post, "/v1/campaigns/\(id)/launch", token: ann).status == 403)
            let launched = try await api.call(.post, "/v1/campaigns/\(id)/launch", token: mia)
            #expect(launched.status == 200 && launched.json["status"] as? String == "running")
            let waves = try #require(launched.json["waves"] as? [[String: Any]])
            #expect(waves.count == 1)
            #expect(try await api.call(.post, "/v1/campaigns/\(id)/launch", token: mia).code == "campaign_conflict")
            #expect(try await api.call(.put, "/v1/campaigns/\(id)", token: mia, body: Self.plan(segment: segment)).status == 409)

            // The call wave, prepared early, lands on the agent desk.
            let wave2 = try await api.call(.post, "/v1/campaigns/\(id)/waves/2/prepare", token: mia)
            #expect(wave2.status == 200)
            #expect(try await api.call(.post, "/v1/campaigns/run", token: mia).status == 200)
            #expect(try await api.call(.get, "/v1/agent-tasks", token: mia).status == 403)
            let tasks = try await api.call(.get, "/v1/agent-tasks?status=open", token: ada)
            #expect(tasks.array.count == wave2.json["queued"] as? Int)
            if let task = tasks.array.first, let taskID = (task["id"] as? NSNumber)?.int64Value {
                let done = try await api.call(.post, "/v1/agent-tasks/\(taskID)/complete", token: ada, body: ["outcome": "booked a visit"])
                #expect(done.status == 200 && done.json["completedBy"] as? String == "ada@x.com")
            }

            let results = try await api.call(.get, "/v1/campaigns/\(id)/results", token: ann)
            #expect(results.status == 200)
            let pnl = try #require(results.json["pnl"] as? [String: Any])
            let target = try #require(pnl["target"] as? [String: Any])
            let control = try #require(pnl["control"] as? [String: Any])
            #expect((target["customers"] as? Int ?? 0) + (control["customers"] as? Int ?? 0) == 10)
            #expect((results.json["waves"] as? [[String: Any]])?.count == 2)
            #expect(try await api.call(.get, "/v1/campaigns/compare?ids=\(id),x", token: ann).status == 422)
            #expect(try await api.call(.get, "/v1/campaigns/compare?ids=\(id)", token: ann).array.count == 1)
            let analytics = try await api.call(.get, "/v1/analytics/campaigns", token: ann)
            #expect(analytics.status == 200 && (analytics.json["campaigns"] as? [[String: Any]])?.count == 1)
            #expect((analytics.json["channels"] as? [[String: Any]])?.map { $0["key"] as? String } == ["call", "email"])

            // Receipts need the campaign_events:write permission; an unknown token is 404.
            #expect(try await api.call(.post, "/v1/campaign-events", token: mia, body: ["token": "1-1-1-1", "event": "delivered"]).status == 403)
            #expect(try await api.call(.post, "/v1/campaign-events", token: admin, body: ["token": "1-1-1-1", "event": "delivered"]).status == 404)
            #expect(try await api.call(.get, "/v1/campaigns/999", token: ann).code == "campaign_not_found")
        }
    }
}

@Suite struct CampaignPlanFileTests {
    @Test("a plan file's errors name the file and the field")
    func errors() throws {
        func error(_ json: String) -> String {
            do {
                _ = try CampaignPlanFile.decode(Data(json.utf8), file: "plan.json", defaultCurrency: "EUR")
                return ""
            } catch { return "\(error)" }
        }
        #expect(
            error(#"{"name":"x","startsOn":"2026-01-01","endsOn":"2026-02-01","segmentId":1,"waves":[{"channel":"fax","day":0,"body":"b"}]}"#)
                .hasPrefix("plan.json: waves[0].channel:"))
        #expect(error(#"{"name":"x","startsOn":"2026-01-01","endsOn":"2026-02-01","waves":[]}"#) == "plan.json: segmentId: is missing")
        #expect(
            error(#"{"name":"x","startsOn":"1 Jan","endsOn":"2026-02-01","segmentId":1,"waves":[]}"#)
                == "plan.json: startsOn: must be a date YYYY-MM-DD")
        let plan = try CampaignPlanFile.decode(
            Data(#"{"name":"x","startsOn":"2026-01-01","endsOn":"2026-02-01","segmentId":1,"waves":[{"channel":"sms","day":2,"body":"b"}]}"#.utf8),
            file: "plan.json", defaultCurrency: "EUR")
        #expect(plan.currency == "EUR" && plan.controlPercent == 10 && plan.waves[0].day == 2 && plan.frequencyCaps == FrequencyCap.defaults)
    }
}
