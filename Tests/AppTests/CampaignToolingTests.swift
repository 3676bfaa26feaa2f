import Access
import App
import Campaigns
import Channels
import Customers
import Demo
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SharedModels
import Support
import TestSupport
import Testing

/// The marketer's tools around a message: only merge tags that exist, a preview as any
/// recipient would get it (HTML in a sandboxed frame), and a test send through the real SMTP
/// server that records nothing against the campaign.
@Suite struct CampaignToolingTests {
    @Test("a plan with an unknown merge tag is refused by name; the preview renders for any customer; a test send arrives and records nothing", arguments: TestEngine.available)
    func tooling(engine: TestEngine) async throws {
        let sinks = try MessageSinks()
        let clock = TestClock()
        try await TestDatabase.withPatron(
            engine, clock: clock, settings: { $0.channels = ChannelSettings(smtpURL: "smtp://127.0.0.1:\(sinks.smtpPort)") }
        ) { p in
            let people = try await CampaignTests.audience(p)
            let segment = try await p.segments.create(SegmentDraft(name: "Everyone", rule: "has_email"), owner: "mia@x.com")
            var plan = CampaignTests.plan(segment: segment.id.rawValue, start: clock.now)
            plan.waves = [Wave(channel: .email, day: 0, subject: "{{first_name}}, your voucher", body: "Hi {{first_name}}, use {{voucher}} today.")]
            await #expect(throws: CampaignError.invalid(field: "waves[0].body", reason: "{{voucher}} is not a merge tag; use " + MergeTags.all.map { "{{\($0.tag)}}" }.joined(separator: ", "))) {
                _ = try await p.campaigns.create(plan, owner: "mia@x.com")
            }
            plan.waves = [
                Wave(
                    channel: .email, day: 0, subject: "{{first_name}}, something for you",
                    body: "<p>Hi {{first_name}}, you have {{points}} points.</p><p><a href=\"https://shop.example.com/sale\">Shop</a></p>")
            ]
            let draft = try await p.campaigns.create(plan, owner: "mia@x.com")
            _ = try await p.access.addUser(email: "mia@x.com", password: "password1", role: .marketer)
            let someone = try await p.customers.customer(CustomerID(people.all[5]))
            let app = Application(router: try buildRouter(patron: p))
            try await app.test(.router) { client in
                let mia = try await WebVisitor.signIn(client, "console", "email=mia%40x.com&password=password1")
                let planner = try await mia.get("/console/campaigns")
                #expect(planner.body.contains(#"data-tag="first_name""#) && planner.body.contains("{{offer_code}}"), "the merge-tag picker")
                let email = try #require(someone.profile.emails.first?.value)
                let page = "/console/campaigns/\(draft.id.rawValue)"
                let preview = try await mia.get(page + "?customer=\(email.replacingOccurrences(of: "@", with: "%40"))&wave=1")
                #expect(preview.body.contains("for \(someone.displayName)"), "\(preview.body.count)")
                #expect(preview.body.contains("<iframe class=\"message-preview\"") && preview.body.contains("sandbox srcdoc=\"&lt;p&gt;Hi \(someone.profile.firstName ?? "")"))
                let nobody = try await mia.get(page + "?customer=zzzz-nobody")
                #expect(nobody.body.contains("No customer matches"))
                let sent = try await mia.post(page + "/test", "to=mia%40x.com&wave=1&customer=\(someone.id.rawValue)", tokenPage: page)
                #expect(sent.body.contains("Test of wave 1 sent to mia@x.com, as \(someone.displayName) would get it."), "\(sent.body.prefix(300))")
                let mail = try #require(sinks.mail.first { $0.to == "mia@x.com" })
                #expect(mail.data.contains("[Test] \(someone.profile.firstName ?? ""), something for you") && mail.data.contains("text/html"))
                #expect(try await p.campaigns.breakdown(draft.id).1.waves.allSatisfy { $0.queued == 0 }, "a test is not a campaign message")
                let bad = try await mia.post(page + "/test", "to=not-an-address&wave=1", tokenPage: page)
                #expect(bad.status == .unprocessableContent && bad.body.contains("Give the email address"))
                // The draft's plan changes until launch; a bad tag is named and nothing changes.
                #expect(try await mia.get(page).body.contains("Change the plan (until launch)"))
                let refused = try await mia.post(
                    page + "/plan", "name=Spring+sale&budget=2500.00&control=20&w1_day=0&w1_subject=Hi&w1_body=Use+%7B%7Bcoupon%7D%7D", tokenPage: page)
                #expect(refused.status == .unprocessableContent && refused.body.contains("{{coupon}} is not a merge tag"))
                #expect(try await p.campaigns.campaign(draft.id).plan.waves[0].body.contains("{{points}}"), "nothing changed")
                let saved = try await mia.post(
                    page + "/plan", "name=Spring+sale+2&budget=2500.00&control=20&w1_day=0&w1_subject=%7B%7Bfirst_name%7D%7D%2C+hello&w1_body=Hello+%7B%7Bfirst_name%7D%7D",
                    tokenPage: page)
                #expect(saved.body.contains("Plan saved"), "\(saved.body.prefix(300))")
                let changed = try await p.campaigns.campaign(draft.id).plan
                #expect(changed.name == "Spring sale 2" && changed.budget == 250_000 && changed.controlPercent == 20 && changed.waves[0].body == "Hello {{first_name}}")
            }
        }
    }

    @Test("the demo company ships a finished campaign whose results page reads as one set of figures")
    func demoCampaign() async throws {
        let until = Date(epochSeconds: 1_767_225_600)
        try await TestDatabase.withPatron(.sqlite, clock: TestClock(until)) { p in
            let summary = try await DemoCompany(customers: 200, seed: 4, until: until).load(into: p)
            #expect(summary.campaigns == 1)
            let c = try #require(try await p.campaigns.campaigns().first { $0.plan.name == "Autumn thank-you mailing" })
            #expect(c.status == .completed && c.launchedAt == until.addingTimeInterval(-45 * 86_400))
            let (pnl, breakdown) = try await p.campaigns.breakdown(c.id)
            let wave = try #require(breakdown.waves.first)
            #expect(wave.queued > 0 && wave.delivered == wave.queued, "every letter was printed")
            #expect(pnl.target.customers > 0 && pnl.control.customers > 0 && pnl.target.responders > 0, "purchases were attributed")
            #expect(breakdown.waves.map(\.purchasers).reduce(0, +) + breakdown.unreachedPurchasers == pnl.target.responders, "one set of figures")
            let app = Application(router: try buildRouter(patron: p))
            try await app.test(.router) { client in
                let marketer = try await WebVisitor.signIn(client, "console", "email=marketer%40northwind.example&password=\(DemoCompany.adminPassword)")
                let page = try await marketer.get("/console/campaigns/\(c.id.rawValue)").body
                #expect(page.contains("Profit and loss") && page.contains("Completed"))
            }
        }
    }
}
