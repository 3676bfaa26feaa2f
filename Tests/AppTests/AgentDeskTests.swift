import Access
import App
import Campaigns
import Customers
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SharedModels
import Support
import TestSupport
import Testing

/// The agent desk a call centre works: one agent per call (claims that lapse), dispositions that
/// close a call, bring it back at a callback's time, or the next day after no answer, and a
/// do-not-call recorded as the customer's opt-out.
@Suite struct AgentDeskTests {
    @Test("agents take calls one each; a claim keeps others off until it lapses; dispositions close, defer or opt out", arguments: TestEngine.available)
    func desk(engine: TestEngine) async throws {
        let clock = TestClock()
        try await TestDatabase.withPatron(engine, clock: clock) { p in
            _ = try await CampaignTests.audience(p)
            let segment = try await p.segments.create(SegmentDraft(name: "Everyone", rule: "has_phone"), owner: "mia@test.example")
            var plan = CampaignTests.plan(segment: segment.id.rawValue, start: clock.now)
            plan.controlPercent = 0
            plan.waves = [Wave(channel: .call, day: 0, body: "Call {{first_name}} about the spring sale.")]
            _ = try await p.campaigns.launch(try await p.campaigns.create(plan, owner: "mia@test.example").id)
            _ = try await p.campaigns.dispatch(through: [:])
            let total = try await p.campaigns.tasks(limit: 1_000).count
            #expect(total == 42)
            for (email, role) in [("ada@x.com", Role.agent), ("bob@x.com", .agent)] {
                _ = try await p.access.addUser(email: email, password: "password1", role: role)
            }

            // Eight agents grab the same call at once: exactly one holds it.
            let contested = try await p.campaigns.tasks(limit: 1).first!.id
            let campaigns = p.campaigns
            let winners = try await withThrowingTaskGroup(of: Bool.self) { group in
                for i in 0..<8 { group.addTask { (try? await campaigns.claim(task: contested, by: "agent\(i)@x.com")) != nil } }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(winners == 1, "one agent per call")
            clock.advance(by: AgentTask.claimLifetime + 1)

            let app = Application(router: try buildRouter(patron: p))
            try await app.test(.router) { client in
                let ada = try await WebVisitor.signIn(client, "console", "email=ada%40x.com&password=password1")
                let bob = try await WebVisitor.signIn(client, "console", "email=bob%40x.com&password=password1")
                #expect(try await ada.get("/console/tasks").body.contains("Showing 1–42 of 42 calls"))
                let taken = try await ada.post("/console/tasks/next", "", tokenPage: "/console/tasks")
                #expect(taken.body.contains("This call is yours"), "\(taken.body.prefix(300))")
                let id = try #require(taken.body.firstMatch(of: /action="\/console\/tasks\/(\d+)\/call"/)).output.1
                let page = "/console/tasks/\(id)"
                #expect(taken.body.contains("Call C") && taken.body.contains("about the spring sale"), "the script")
                // Bob is kept off it: he cannot take it nor log it.
                let stolen = try await bob.post(page + "/claim", "", tokenPage: page)
                #expect(stolen.status == .unprocessableContent && stolen.body.contains("ada@x.com is calling this customer"))
                let logged = try await bob.post(page + "/call", "disposition=accepted", tokenPage: page)
                #expect(logged.status == .unprocessableContent)
                #expect(try await bob.post("/console/tasks/next", "", tokenPage: "/console/tasks").body.contains("This call is yours"), "Bob gets another call")
                // No answer: the call comes back tomorrow, off today's list.
                let none = try await ada.post(page + "/call", "disposition=no_answer&notes=rang+out", tokenPage: page)
                #expect(none.body.contains("No answer (call 1 of 3); it comes back tomorrow."), "\(none.body.prefix(300))")
                #expect(try await ada.get("/console/tasks").body.contains("of 41 calls"))
                #expect(try await ada.get("/console/tasks?later=yes").body.contains("of 42 calls"))
                let task = try await p.campaigns.task(Int64(id)!)
                #expect(task.status == .open && task.attempts == 1 && task.dueAt == clock.now.addingTimeInterval(86_400))
                // A callback needs a time ahead; with one, it is due then.
                _ = try await ada.post(page + "/claim", "", tokenPage: page)
                let missing = try await ada.post(page + "/call", "disposition=callback", tokenPage: page)
                #expect(missing.status == .unprocessableContent && missing.body.contains("Give the day and time to call back"))
                let past = try await ada.post(page + "/call", "disposition=callback&callback_at=2000-01-01T10%3A00", tokenPage: page)
                #expect(past.status == .unprocessableContent && past.body.contains("Callback at: give a time in the next year"))
                let later = clock.now.addingTimeInterval(3 * 86_400)
                let when = "\(LocalDate(later))T15%3A30"
                let callback = try await ada.post(page + "/call", "disposition=callback&callback_at=\(when)", tokenPage: page)
                #expect(callback.body.contains("Call back"), "\(callback.body.prefix(300))")
                #expect(try await p.campaigns.task(Int64(id)!).dueAt == LocalDate(later).startOfDay.addingTimeInterval(15.5 * 3600))
                // Asked not to be called: closed, and the customer's phone marketing consent is withdrawn.
                _ = try await ada.post(page + "/claim", "", tokenPage: page)
                let stop = try await ada.post(page + "/call", "disposition=do_not_call", tokenPage: page)
                #expect(stop.body.contains("will not be called for marketing again"))
                let closed = try await p.campaigns.task(Int64(id)!)
                #expect(closed.status == .done && closed.disposition == .doNotCall && closed.attempts == 3)
                #expect(try await p.customers.consents(of: CustomerID(closed.customer)).allows(.marketing, on: .call) == false)
                let timeline = try await p.customers.interactions(of: CustomerID(closed.customer), after: nil, limit: PageSize(10)).items
                let calls = timeline.filter { $0.details.channel == .call && $0.details.agent == "ada@x.com" }.compactMap(\.details.outcome)
                #expect(calls.sorted() == ["callback", "do_not_call", "no_answer"], "every call is on the timeline: \(timeline.map(\.details))")
                #expect(try await ada.get("/console/tasks?status=done").body.contains("Asked not to be called again"))
            }
        }
    }
}
