import App
import Channels
import Customers
import Foundation
import Hummingbird
import HummingbirdTesting
import Access
import SharedModels
import Support
import TestSupport
import Testing

/// Agents are told by email (#17): a request someone else assigned to them, and — once — an
/// open request of theirs that broke its SLA (the `sla-alerts` job), through a real SMTP server.
@Suite struct NotificationTests {
    @Test("an assignment and an SLA breach reach the assignee by email, the breach once", arguments: TestEngine.available)
    func notices(engine: TestEngine) async throws {
        let sinks = try MessageSinks()
        let clock = TestClock()
        try await TestDatabase.withPatron(
            engine, clock: clock,
            settings: {
                $0.channels = ChannelSettings(smtpURL: "smtp://127.0.0.1:\(sinks.smtpPort)")
                $0.publicURL = "https://crm.example.com"
            }
        ) { p in
            let c = try await p.customers.create(ProfileDraft(firstName: "Ivy", lastName: "Chan"))
            let r = try await p.support.open(
                customer: c.id.rawValue, kind: .complaint, subject: "Card declined", description: "At the till", channel: .call, by: "lead@x.com",
                byCustomer: false)
            _ = try await p.support.assign(r.id, to: "ada@x.com", by: "lead@x.com")
            let assigned = try #require(sinks.mail.first { $0.to == "ada@x.com" })
            #expect(assigned.data.contains("Request #\(r.id) assigned to you") && assigned.data.contains("https://crm.example.com/console/service/\(r.id)"))
            // Taking one's own request tells nobody.
            _ = try await p.support.assign(r.id, to: "bo@x.com", by: "bo@x.com")
            #expect(!sinks.mail.contains { $0.to == "bo@x.com" })

            #expect(try await p.support.alertBreaches() == 0, "nothing is late yet")
            clock.advance(by: 30 * 86_400)
            #expect(try await p.support.alertBreaches() == 1)
            let late = try #require(sinks.mail.first { $0.to == "bo@x.com" })
            #expect(late.data.contains("SLA missed: request #\(r.id)"))
            #expect(try await p.support.alertBreaches() == 0, "told once")
        }
    }

    @Test("the console's navigation shows an agent the requests assigned to them, and how many are late")
    func badge() async throws {
        let clock = TestClock()
        try await TestDatabase.withPatron(.sqlite, clock: clock) { p in
            _ = try await p.access.addUser(email: "ada@x.com", password: "password1", role: .agent)
            let c = try await p.customers.create(ProfileDraft(firstName: "Ivy", lastName: "Chan"))
            let app = Application(router: try buildRouter(patron: p))
            try await app.test(.router) { client in
                let ada = try await WebVisitor.signIn(client, "console", "email=ada%40x.com&password=password1")
                #expect(!(try await ada.get("/console/").body.contains("class=\"badge")), "nothing assigned, no badge")
                let r = try await p.support.open(
                    customer: c.id.rawValue, kind: .complaint, subject: "Card declined", description: "At the till", channel: .call, by: "lead@x.com",
                    byCustomer: false)
                _ = try await p.support.assign(r.id, to: "ada@x.com", by: "lead@x.com")
                #expect(try await ada.get("/console/").body.contains(">1 yours</a>"))
                clock.advance(by: 30 * 86_400)
                let again = try await WebVisitor.signIn(client, "console", "email=ada%40x.com&password=password1")
                let late = try await again.get("/console/customers").body
                #expect(late.contains(">1 yours, 1 late</a>") && late.contains("href=\"/console/service?view=mine\" class=\"badge late\""))
            }
        }
    }
}
