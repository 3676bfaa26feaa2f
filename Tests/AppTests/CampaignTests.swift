import Channels
import Access
import App
import Campaigns
import Customers
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Loyalty
import SQLKit
import SharedModels
import Storage
import TestSupport
import Testing

/// A real SMTP server (aiosmtpd) and an SMS gateway stand-in, run by scripts/message-sinks.py.
final class MessageSinks: @unchecked Sendable {
    let process: ChildProcess
    let directory: URL
    let smtpPort: Int
    let httpPort: Int

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("patron-sinks-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/message-sinks.py")
        // Not Foundation's Process: its run() crashed the suite in CI (see ChildProcess).
        process = try ChildProcess(executable: "/usr/bin/env", arguments: ["python3", script.path, directory.path])
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = process.output.availableData
            if chunk.isEmpty { throw TestFailure("scripts/message-sinks.py did not start (is aiosmtpd installed? pip install aiosmtpd)") }
            line += chunk
        }
        let ports = String(decoding: line, as: UTF8.self).split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
        guard ports.count == 2 else { throw TestFailure("message sinks printed \(String(decoding: line, as: UTF8.self))") }
        (smtpPort, httpPort) = (ports[0], ports[1])
    }

    deinit {
        try? process.input.close()
        process.wait()
        try? FileManager.default.removeItem(at: directory)
    }

    func records(_ name: String) -> [[String: Any]] {
        guard let text = try? String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    var mail: [(to: String, data: String)] { records("mail.jsonl").map { (($0["to"] as? [String])?.first ?? "", $0["data"] as? String ?? "") } }
    var sms: [[String: Any]] { records("sms.jsonl") }

    var channels: [CampaignChannel: any MessageChannel] {
        [
            .email: SMTPMailer(host: "127.0.0.1", port: smtpPort, from: "offers@shop.example"),
            .sms: SMSGateway(url: URL(string: "http://127.0.0.1:\(httpPort)/messages")!, token: "gateway-secret"),
        ]
    }
}

@Suite struct CampaignTests {
    /// 43 customers: 40 who said yes to email and SMS, one who withdrew email consent, one blocked
    /// on every channel, and one whose mailbox does not exist.
    static func audience(_ p: Patron) async throws -> (all: [Int64], withdrawn: Int64, blocked: Int64, bounce: Int64) {
        var ids: [Int64] = []
        for i in 1...43 {
            let email = i == 43 ? "bounce\(i)@example.com" : "c\(i)@example.com"
            let c = try await p.customers.create(
                ProfileDraft(firstName: "C\(i)", lastName: "Test", emails: [email], phones: ["+1555\(String(format: "%07d", 1000 + i))"]))
            for channel in [Channel.email, .sms] {
                _ = try await p.customers.recordConsent(
                    purpose: .marketing, channel: channel, granted: true, source: "web_form", text: "v1", for: c.id, by: "test")
            }
            ids.append(c.id.rawValue)
        }
        _ = try await p.customers.recordConsent(
            purpose: .marketing, channel: .email, granted: false, source: "call", text: nil, for: CustomerID(ids[40]), by: "agent")
        _ = try await p.customers.block(.email, reason: "asked on the phone", for: CustomerID(ids[41]), by: "agent")
        _ = try await p.customers.block(.sms, reason: "asked on the phone", for: CustomerID(ids[41]), by: "agent")
        _ = try await p.customers.block(.call, reason: "asked on the phone", for: CustomerID(ids[41]), by: "agent")
        return (ids, ids[40], ids[41], ids[42])
    }

    static func plan(segment: Int64, start: Date) -> CampaignPlan {
        CampaignPlan(
            name: "Spring sale", objective: "reactivate", budget: 50_000, startsOn: LocalDate(start),
            endsOn: LocalDate(start.addingTimeInterval(30 * 86_400)),
            segment: segment, controlPercent: 25, offer: CampaignOffer(kind: .none),
            waves: [
                Wave(
                    channel: .email, day: 0, subject: "{{first_name}}, the spring sale is on",
                    body: "Hi {{first_name}} & welcome,\n\nEverything is 20% off: https://shop.example.com/sale\n.\nSee you soon."),
                Wave(channel: .sms, day: 3, audience: .nonResponders, body: "{{first_name}}, last days of the sale: https://shop.example.com/sale"),
            ],
            costs: CampaignCosts(perMessage: ["email": 10, "sms": 5]), attributionDays: 30, marginPercent: 40)
    }

    @Test(
        "segment → two waves → real SMTP and SMS gateway → clicks and purchases → P&L against control; consent honoured",
        arguments: TestEngine.available)
    func endToEnd(engine: TestEngine) async throws {
        let sinks = try MessageSinks()
        let clock = TestClock()
        try await TestDatabase.withPatron(engine, clock: clock) { p in
            let people = try await Self.audience(p)
            let segment = try await p.segments.create(SegmentDraft(name: "Reachable", rule: "has_email"), owner: "mia@test.example")
            let draft = try await p.campaigns.create(Self.plan(segment: segment.id.rawValue, start: clock.now), owner: "mia@test.example")
            #expect(draft.status == .draft)

            // A preview renders one recipient's message with their fields and tracked links.
            let preview = try await p.campaigns.preview(draft.id, wave: 1, customer: people.all[4])
            #expect(preview.subject == "C5, the spring sale is on")
            #expect(preview.body.hasPrefix("Hi C5 & welcome"))
            #expect(preview.body.contains("/t/c/") && preview.body.contains("Unsubscribe: http://127.0.0.1:8080/t/u/"))

            let launched = try await p.campaigns.launch(draft.id)
            #expect(launched.status == .running)
            let audience = try await p.database.read { db in
                try await db.raw("SELECT customer_id, control FROM campaign_audience WHERE campaign_id = \(bind: draft.id.rawValue)").all().map {
                    (try $0.decode(column: "customer_id", as: Int64.self), try $0.decode(column: "control", as: Int64.self) != 0)
                }
            }
            #expect(audience.count == 43)
            let control = Set(audience.filter(\.1).map(\.0))
            let target = Set(audience.filter { !$0.1 }.map(\.0))
            #expect(control.count >= 1 && control.count <= 25, "a 25% holdout of 43 (mean 10.75; outside 1...25 once in 200,000 draws)")
            // The split is reproducible: the same seed gives the same control group.
            #expect(control == Set(people.all.filter { ControlGroup.isControl(customer: $0, seed: launched.seed, percent: 25) }))

            let wave1 = try #require(launched.waves.first)
            let shouldGetMail = target.subtracting([people.withdrawn, people.blocked])
            #expect(wave1.queued == shouldGetMail.count)
            #expect((wave1.suppressed["consent"] ?? 0) == (target.contains(people.withdrawn) ? 1 : 0))
            #expect((wave1.suppressed["blocked"] ?? 0) == (target.contains(people.blocked) ? 1 : 0))

            // A sender dies holding three messages: they are neither lost nor sent twice.
            let held = try await p.campaigns.claim(.email, now: clock.now, limit: 3)
            #expect(held.count == 3)
            var report = try await p.campaigns.dispatch(through: sinks.channels, batch: 10)
            #expect(report.sent + report.bounced == shouldGetMail.count - 3)
            clock.advance(by: 11 * 60)
            report = try await p.campaigns.dispatch(through: sinks.channels, batch: 10)
            #expect(report.sent + report.bounced == 3)

            let mail = sinks.mail
            let addressOf = { (id: Int64) in id == people.bounce ? "bounce43@example.com" : "c\(people.all.firstIndex(of: id)! + 1)@example.com" }
            let expected = shouldGetMail.subtracting([people.bounce]).map(addressOf)
            #expect(mail.map(\.to).sorted() == expected.sorted(), "each reachable target customer gets exactly one email")
            #expect(!mail.contains { $0.to == "c41@example.com" }, "the customer who withdrew consent receives nothing")
            #expect(!mail.contains { $0.to == "c42@example.com" }, "a do-not-contact block is honoured")
            #expect(Set(mail.map(\.to)).isDisjoint(with: control.map(addressOf)), "the control group receives nothing")
            let sample = try #require(mail.first)
            #expect(sample.data.contains("Message-ID: <\(draft.id)-1-"))
            #expect(sample.data.contains("List-Unsubscribe: <http://127.0.0.1:8080/t/u/"))
            #expect(sample.data.contains("\n.\r\nSee you soon") || sample.data.contains("\n.\nSee you soon"), "a lone dot line survives dot-stuffing")
            if target.contains(people.bounce) {
                let bounced = try await p.campaigns.message(MessageKey(campaign: draft.id, wave: 1, customer: people.bounce))
                #expect(bounced?.status == .bounced)
            }

            // Six recipients click through the tracked link (through the real router) and buy.
            let router = try buildRouter(patron: p)
            let app = Application(router: router)
            let clickers = Array(mail.filter { $0.to != "bounce43@example.com" }.prefix(6))
            let unsubscriber = mail.dropFirst(6).first
            try await app.test(.router) { client in
                for m in clickers {
                    let link = try #require(m.data.firstMatch(of: /http:\/\/127\.0\.0\.1:8080(\/t\/c\/[0-9a-f-]+\/0)/)).output.1
                    try await client.execute(uri: String(link), method: .get) { response in
                        #expect(response.status == .found)
                        #expect(response.headers[.location] == "https://shop.example.com/sale")
                    }
                }
                try await client.execute(uri: "/t/c/1-1-1-abc/0", method: .get) { #expect($0.status == .notFound) }
                if let u = unsubscriber {
                    let link = try #require(u.data.firstMatch(of: /http:\/\/127\.0\.0\.1:8080(\/t\/u\/[0-9a-f-]+)/)).output.1
                    try await client.execute(uri: String(link), method: .get) { #expect($0.status == .ok) }
                    try await client.execute(uri: String(link), method: .post) { #expect($0.status == .ok) }
                }
            }
            clock.advance(by: 3_600)
            var buyers: [Int64] = []
            for (i, m) in clickers.enumerated() {
                let id = people.all[Int(m.to.dropFirst().prefix { $0.isNumber })! - 1]
                buyers.append(id)
                _ = try await p.customers.submit(
                    TransactionDetails(externalID: "T\(i)", occurredAt: clock.now, amount: Money(minorUnits: 10_000, currency: "USD")),
                    identifiers: [CustomerIdentifier(kind: .customerID, value: String(id))])
            }
            if let c = control.sorted().first {
                _ = try await p.customers.submit(
                    TransactionDetails(externalID: "C1", occurredAt: clock.now, amount: Money(minorUnits: 10_000, currency: "USD")),
                    identifiers: [CustomerIdentifier(kind: .customerID, value: String(c))])
            }
            if let u = unsubscriber {
                let id = people.all[Int(u.to.dropFirst().prefix { $0.isNumber })! - 1]
                #expect(try await p.customers.consents(of: CustomerID(id)).allows(.marketing, on: .email) == false)
            }

            // Day 3: the job prepares the SMS reminder for non-responders and sends it.
            clock.advance(days: 3)
            _ = try await p.campaigns.run(through: sinks.channels)
            let running = try await p.campaigns.campaign(draft.id)
            let wave2 = try #require(running.waves.last)
            #expect(wave2.number == 2)
            let sms = sinks.sms
            let smsTarget = target.subtracting([people.blocked]).subtracting(buyers)
            #expect(sms.count == smsTarget.count, "every non-responder in the target who may get SMS")
            #expect(wave2.queued == smsTarget.count)
            #expect(sms.allSatisfy { ($0["authorization"] as? String) == "Bearer gateway-secret" && ($0["idempotency_key"] as? String) != nil })
            #expect(sms.allSatisfy { ($0["text"] as? String)?.contains("Opt out: http://127.0.0.1:8080/t/u/") == true })

            // The P&L: responders and revenue against control, cost of every message sent.
            let pnl = try await p.campaigns.pnl(draft.id)
            #expect(pnl.target.responders == 6)
            #expect(pnl.target.revenue == 600)
            #expect(pnl.control.responders == (control.isEmpty ? 0 : 1))
            // Incremental revenue is the target's revenue per head less the control's, over the
            // target: exact, whichever way the random holdout fell (a small control group with one
            // buyer can make it negative, and that is the right answer).
            let controlPerHead = control.isEmpty ? 0 : 100 / Double(control.count)
            #expect(abs(pnl.incrementalRevenue.value - (600 - controlPerHead * Double(target.count))) < 1e-9)
            #expect(pnl.incrementalRevenue.low < pnl.incrementalRevenue.value && pnl.incrementalRevenue.value < pnl.incrementalRevenue.high)
            let emails = shouldGetMail.count
            #expect(pnl.messages[.email] == emails)
            #expect(abs(pnl.cost - (Double(emails) * 0.10 + Double(smsTarget.count) * 0.05)) < 1e-9)
            #expect(pnl.roi != nil)
            let (_, breakdown) = try await p.campaigns.breakdown(draft.id)
            #expect(breakdown.waves[0].clicked == 6 && breakdown.waves[0].purchasers == 6)

            // Each response is on the customer's timeline, linked to the campaign and wave.
            let timeline = try await p.customers.interactions(of: CustomerID(buyers[0]), after: nil, limit: PageSize(50)).items
            let outcomes = Set(timeline.compactMap(\.details.outcome))
            #expect(outcomes.isSuperset(of: ["campaign:sent", "campaign:clicked", "campaign:purchased"]))
            #expect(timeline.contains { $0.details.notes?.contains("campaign \(draft.id), wave 1") == true })

            // Responders become sales leads, once.
            #expect(try await p.campaigns.createLeads(draft.id, owner: "sam@test.example") == 6)
            #expect(try await p.campaigns.createLeads(draft.id, owner: "sam@test.example") == 0)
            #expect(try await p.campaigns.leads(campaign: draft.id).allSatisfy { $0.source == "purchased" })

            // A what-if before the window closes falls back on Patron's default rates; once the
            // campaign completes, its own rates are the history.
            #expect(try await p.campaigns.whatIf(WhatIf.Input(rule: "has_email", channels: [.email])).rates[.email]?.campaigns == 0)
            clock.advance(days: 30)
            _ = try await p.campaigns.run(through: sinks.channels)
            #expect(try await p.campaigns.campaign(draft.id).status == .completed)
            // A what-if for a similar campaign now uses this one's response rates.
            let whatIf = try await p.campaigns.whatIf(WhatIf.Input(rule: "has_email", channels: [.email], controlPercent: 10))
            #expect(whatIf.customers == 43)
            #expect(whatIf.rates[.email]?.campaigns == 1)
        }
    }

    @Test(
        "promotion and voucher offers: enrolments, redemptions and the points awarded count, against cost; print files; a channel that is down is retried",
        arguments: TestEngine.available)
    func offers(engine: TestEngine) async throws {
        let sinks = try MessageSinks()
        let clock = TestClock()
        let printDirectory = sinks.directory.appendingPathComponent("print")
        try await TestDatabase.withPatron(engine, clock: clock) { p in
            let people = try await Self.audience(p)
            let program = try await LoyaltyIntakeTests.program(p)
            var members: [Int64: MemberID] = [:]
            for id in people.all { members[id] = try await p.loyalty.enroll(CustomerID(id), in: program.id).id }
            let promotion = try await p.loyalty.createPromotion(
                PromotionDraft(
                    code: "SPRING", name: "Spring bonus", startsAt: clock.now, endsAt: clock.now.addingTimeInterval(30 * 86_400),
                    requiresEnrolment: true,
                    action: .fixed(100)), in: program.id)
            let reward = try await p.loyalty.addReward(to: program.id, code: "COFFEE", name: "A coffee", kind: .product, pointsPrice: 10)
            let segment = try await p.segments.create(SegmentDraft(name: "Members", rule: "member"), owner: "mia@test.example")
            var plan = Self.plan(segment: segment.id.rawValue, start: clock.now)
            plan.controlPercent = 0
            plan.offer = CampaignOffer(kind: .promotion, code: "SPRING")
            plan.waves = [
                Wave(
                    channel: .email, day: 0, subject: "Spring, {{first_name}}", body: "Join with code {{offer_code}}: https://shop.example.com/spring"
                ),
                Wave(channel: .directMail, day: 0, body: "Dear {{name}}, join with code {{offer_code}}."),
            ]
            plan.costs = CampaignCosts(perMessage: ["email": 10, "direct_mail": 90], perRedemption: 50, pointValuePer100: 100)
            let c = try await p.campaigns.launch(try await p.campaigns.create(plan, owner: "mia@test.example").id)
            #expect(c.waves.map(\.number) == [1, 2])
            #expect(c.waves[1].suppressed["no_address"] == 43, "no one has a postal address yet")

            // The mail server is down: every email is retried later, none is lost.
            var down = sinks.channels
            down[.email] = SMTPMailer(host: "127.0.0.1", port: 1, from: "offers@shop.example")
            var report = try await p.campaigns.dispatch(through: down)
            #expect(report.retried == c.waves[0].queued && report.sent == 0)
            report = try await p.campaigns.dispatch(through: sinks.channels)
            #expect(report.sent == 0, "not before the retry is due")
            clock.advance(by: 61)
            report = try await p.campaigns.dispatch(through: sinks.channels)
            #expect(report.sent + report.bounced == c.waves[0].queued)
            #expect(sinks.mail.count == c.waves[0].queued - 1, "everyone but the unknown mailbox, once")

            // Three members join the promotion and buy: enrolments and the points it awarded count.
            let joiners = Array(people.all.prefix(3))
            for (i, id) in joiners.enumerated() {
                try await p.loyalty.enroll(members[id]!, inPromotion: promotion.id)
                _ = try await p.intake.submit(
                    TransactionDetails(externalID: "S\(i)", occurredAt: clock.now, amount: Money(minorUnits: 5_000, currency: "USD")),
                    identifiers: [CustomerIdentifier(kind: .customerID, value: String(id))])
            }
            let pnl = try await p.campaigns.pnl(c.id)
            #expect(pnl.pointsIssued == 300)
            #expect(abs(pnl.costPoints - 3.0) < 1e-9, "300 points at a cent each")
            #expect(abs(pnl.costRedemptions - 1.5) < 1e-9, "three enrolments at 50 cents")
            #expect(pnl.target.responders == 3 && pnl.target.revenue == 150)
            let timeline = try await p.customers.interactions(of: CustomerID(joiners[0]), after: nil, limit: PageSize(50)).items
            #expect(timeline.contains { $0.details.outcome == "campaign:enrolled" && $0.details.notes?.contains("offer promotion SPRING") == true })

            // Direct mail goes to print files once customers have addresses.
            for id in people.all.prefix(5) {
                _ = try await p.customers.update(
                    CustomerID(id),
                    with: ProfileDraft(addresses: [.init(line1: "\(id) Main St", postalCode: "12345", city: "Springfield", country: "US")]))
            }
            var mail = plan
            mail.offer = CampaignOffer(kind: .voucher, code: "COFFEE")
            mail.waves = [Wave(channel: .directMail, day: 0, body: "Dear {{name}}, a coffee on us.")]
            let printed = try await p.campaigns.launch(try await p.campaigns.create(mail, owner: "mia@test.example").id)
            #expect(printed.waves[0].queued == 5)
            _ = try await p.campaigns.dispatch(through: [.directMail: PrintFiles(directory: printDirectory)])
            let files = try FileManager.default.contentsOfDirectory(atPath: printDirectory.path)
            #expect(files == ["campaign-\(printed.id)-wave-1-from-\(people.all[0]).csv"])
            let csv = try String(contentsOf: printDirectory.appendingPathComponent(files[0]), encoding: .utf8)
            #expect(
                csv.hasPrefix(
                    "customer_id,name,address,message\n\(people.all[0]),C1 Test,\"\(people.all[0]) Main St\n12345 Springfield\nUS\",\"Dear C1 Test, a coffee on us.\"\n"
                ))
            // A voucher of the campaign's reward used within the window is a redemption.
            let voucher = try await p.loyalty.redeem(reward: reward.id, for: members[people.all[1]]!, idempotencyKey: nil)
            _ = try await p.loyalty.use(voucher: voucher.id)
            #expect(try await p.campaigns.pnl(printed.id).costRedemptions == 0.5)
        }
    }

    @Test(
        "Regression (#17): one set of figures — buyers no message reached, the waves' buyers and the P&L's responders agree, and the page says email is not configured",
        arguments: TestEngine.available)
    func figuresAgree(engine: TestEngine) async throws {
        let sinks = try MessageSinks()
        let clock = TestClock()
        try await TestDatabase.withPatron(engine, clock: clock) { p in
            let people = try await Self.audience(p)
            let segment = try await p.segments.create(SegmentDraft(name: "Everyone", rule: "true"), owner: "mia@test.example")
            var plan = Self.plan(segment: segment.id.rawValue, start: clock.now)
            plan.waves = [plan.waves[0]]
            let c = try await p.campaigns.launch(try await p.campaigns.create(plan, owner: "mia@test.example").id)
            let control = Set(people.all.filter { ControlGroup.isControl(customer: $0, seed: c.seed, percent: plan.controlPercent) })
            let target = people.all.filter { !control.contains($0) && $0 != people.withdrawn && $0 != people.blocked && $0 != people.bounce }
            func buy(_ id: Int64, _ n: Int) async throws {
                _ = try await p.intake.submit(
                    TransactionDetails(externalID: "F\(n)", occurredAt: clock.now, amount: Money(minorUnits: 2_000, currency: "USD")),
                    identifiers: [CustomerIdentifier(kind: .customerID, value: String(id))])
            }
            // No email channel: the messages wait; two target customers buy anyway.
            try await buy(target[0], 1)
            try await buy(target[1], 2)
            var (pnl, breakdown) = try await p.campaigns.breakdown(c.id)
            #expect(pnl.target.responders == 2)
            #expect(breakdown.waves[0].purchasers == 0 && breakdown.unreachedPurchasers == 2)
            #expect(breakdown.waves[0].waiting == breakdown.waves[0].queued)
            let app = Application(router: try buildRouter(patron: p))
            _ = try await p.access.addUser(email: "mia@test.example", password: "password1", role: .marketer)
            try await app.test(.router) { client in
                let mia = try await WebVisitor.signIn(client, "console", "email=mia%40test.example&password=password1")
                let page = try await mia.get("/console/campaigns/\(c.id)").body
                #expect(page.contains("Not configured"), "the page says why email waits")
                #expect(page.contains("Bought without any message reaching them"))
            }
            // Delivered now; a third target customer buys after the email reached them.
            clock.advance(by: 60)
            _ = try await p.campaigns.dispatch(through: sinks.channels)
            clock.advance(by: 3_600)
            try await buy(target[2], 3)
            (pnl, breakdown) = try await p.campaigns.breakdown(c.id)
            #expect(pnl.target.responders == 3)
            #expect(breakdown.waves.reduce(0) { $0 + $1.purchasers } + breakdown.unreachedPurchasers == pnl.target.responders)
            #expect(breakdown.waves[0].purchasers == 1, "the buyer the email reached counts at its wave")
        }
    }

    @Test(
        "Regression (#17): a paused campaign sends nothing until resumed; a stopped one never sends what waits; launching asks first and warns of an empty audience",
        arguments: TestEngine.available)
    func pauseResumeStop(engine: TestEngine) async throws {
        let sinks = try MessageSinks()
        let clock = TestClock()
        try await TestDatabase.withPatron(engine, clock: clock) { p in
            _ = try await Self.audience(p)
            let segment = try await p.segments.create(SegmentDraft(name: "Everyone", rule: "true"), owner: "mia@test.example")
            var plan = Self.plan(segment: segment.id.rawValue, start: clock.now)
            plan.waves = [plan.waves[0]]
            let c = try await p.campaigns.launch(try await p.campaigns.create(plan, owner: "mia@test.example").id)
            let queued = c.waves[0].queued
            #expect(queued > 0)
            #expect(try await p.campaigns.pause(c.id).status == .paused)
            var report = try await p.campaigns.dispatch(through: sinks.channels)
            #expect(report.sent == 0 && sinks.mail.isEmpty, "paused: nothing goes out")
            #expect(try await p.campaigns.resume(c.id).status == .running)
            report = try await p.campaigns.dispatch(through: sinks.channels)
            #expect(report.sent + report.bounced == queued)
            await #expect(throws: CampaignError.self) { try await p.campaigns.resume(c.id) }

            // Stopped with messages waiting: they are never sent.
            let second = try await p.campaigns.launch(try await p.campaigns.create(plan, owner: "mia@test.example").id)
            #expect(try await p.campaigns.cancel(second.id).status == .cancelled)
            let before = sinks.mail.count
            report = try await p.campaigns.dispatch(through: sinks.channels)
            #expect(report.sent == 0 && sinks.mail.count == before)

            // The console asks before launching, and says when a segment is empty.
            let empty = try await p.segments.create(SegmentDraft(name: "Nobody", rule: "false"), owner: "mia@test.example")
            let draft = try await p.campaigns.create(Self.plan(segment: empty.id.rawValue, start: clock.now), owner: "mia@test.example")
            _ = try await p.access.addUser(email: "mia@test.example", password: "password1", role: .marketer)
            let app = Application(router: try buildRouter(patron: p))
            try await app.test(.router) { client in
                let mia = try await WebVisitor.signIn(client, "console", "email=mia%40test.example&password=password1")
                let page = try await mia.get("/console/campaigns/\(draft.id)/confirm/launch")
                #expect(page.status == .ok && page.body.contains("No one is in this campaign"))
                let unconfirmed = try await mia.post("/console/campaigns/\(draft.id)/launch", "", tokenPage: "/console/campaigns/\(draft.id)/confirm/launch")
                #expect(unconfirmed.status == .unprocessableContent && unconfirmed.body.contains("Tick the box"))
                #expect(try await p.campaigns.campaign(draft.id).status == .draft)
                let confirmed = try await mia.post(
                    "/console/campaigns/\(draft.id)/launch", "confirm=yes", tokenPage: "/console/campaigns/\(draft.id)/confirm/launch")
                #expect(confirmed.status == .ok && confirmed.body.contains("Launched"))
                let paused = try await mia.post("/console/campaigns/\(c.id)/pause", "confirm=yes", tokenPage: "/console/campaigns/\(c.id)/confirm/pause")
                #expect(paused.body.contains("Paused"))
                #expect(try await p.campaigns.campaign(c.id).status == .paused)
            }
        }
    }

    @Test("Regression: two outbox passes at once (two servers) send each message exactly once", arguments: TestEngine.available)
    func overlappingOutboxPasses(engine: TestEngine) async throws {
        let sinks = try MessageSinks()
        let clock = TestClock()
        try await TestDatabase.withPatron(engine, clock: clock) { p in
            _ = try await Self.audience(p)
            let segment = try await p.segments.create(SegmentDraft(name: "Reachable", rule: "has_email"), owner: "mia@test.example")
            var plan = Self.plan(segment: segment.id.rawValue, start: clock.now)
            plan.controlPercent = 0
            plan.waves = [plan.waves[0]]
            let launched = try await p.campaigns.launch(try await p.campaigns.create(plan, owner: "mia@test.example").id)
            let queued = try #require(launched.waves.first).queued
            let campaigns = p.campaigns, channels = sinks.channels
            let reports = try await withThrowingTaskGroup(of: CampaignService.DispatchReport.self) { group in
                for _ in 0..<3 { group.addTask { try await campaigns.dispatch(through: channels, batch: 2) } }
                return try await group.reduce(into: [CampaignService.DispatchReport]()) { $0.append($1) }
            }
            #expect(reports.map { $0.sent + $0.bounced }.reduce(0, +) == queued)
            let addresses = sinks.mail.map(\.to)
            #expect(addresses.count == Set(addresses).count, "no recipient got the same message twice")
            #expect(addresses.count == queued - 1, "every reachable recipient got it once (one mailbox bounces)")
        }
    }

    @Test("call waves become agent-desk tasks; completing one logs the call", arguments: TestEngine.available)
    func callList(engine: TestEngine) async throws {
        let clock = TestClock()
        try await TestDatabase.withPatron(engine, clock: clock) { p in
            let people = try await Self.audience(p)
            let segment = try await p.segments.create(SegmentDraft(name: "Everyone", rule: "has_phone"), owner: "mia@test.example")
            var plan = Self.plan(segment: segment.id.rawValue, start: clock.now)
            plan.controlPercent = 0
            plan.waves = [Wave(channel: .call, day: 0, body: "Call {{first_name}} about the spring sale.")]
            let c = try await p.campaigns.launch(try await p.campaigns.create(plan, owner: "mia@test.example").id)
            // Calls are opt-out: everyone but the blocked customer.
            #expect(c.waves[0].queued == 42)
            _ = try await p.campaigns.dispatch(through: [:])
            let tasks = try await p.campaigns.tasks()
            #expect(tasks.count == 42)
            #expect(!tasks.contains { $0.customer == people.blocked })
            let first = try #require(tasks.first)
            #expect(first.script == "Call C1 about the spring sale.")
            let done = try await p.campaigns.completeTask(first.id, outcome: "interested", notes: "call back Friday", by: "ada@test.example")
            #expect(done.status == .done)
            await #expect(throws: CampaignError.self) { try await p.campaigns.completeTask(first.id, outcome: "again", notes: nil, by: "x") }
            let timeline = try await p.customers.interactions(of: CustomerID(first.customer), after: nil, limit: PageSize(10)).items
            #expect(timeline.contains { $0.details.channel == .call && $0.details.outcome == "interested" && $0.details.agent == "ada@test.example" })
        }
    }

    @Test("plans are checked field by field; a launched plan cannot change", arguments: TestEngine.available)
    func validation(engine: TestEngine) async throws {
        let clock = TestClock()
        try await TestDatabase.withPatron(engine, clock: clock) { p in
            let segment = try await p.segments.create(SegmentDraft(name: "All", rule: "true"), owner: "mia@test.example")
            let good = Self.plan(segment: segment.id.rawValue, start: clock.now)
            func field(_ change: (inout CampaignPlan) -> Void) async -> String? {
                var plan = good
                change(&plan)
                do {
                    _ = try await p.campaigns.create(plan, owner: "mia@test.example")
                    return nil
                } catch CampaignError.invalid(let field, _) { return field } catch { return "\(error)" }
            }
            #expect(await field { $0.controlPercent = 80 } == "control_percent")
            #expect(await field { $0.segment = 999 } == "segment")
            #expect(await field { $0.waves[1].day = 99 } == "waves[1].day")
            #expect(await field { $0.waves[0].audience = .nonResponders } == "waves[0].audience")
            #expect(await field { $0.waves[0].subject = nil } == "waves[0].subject")
            #expect(await field { $0.waves[1].rule = "clv.next_12m >" } == "waves[1].rule")
            #expect(await field { $0.waves[0].body = "{{#open}} unclosed" } == "waves[0].body")
            #expect(await field { $0.costs.perMessage["fax"] = 1 } == "costs.per_message")
            #expect(await field { $0.currency = "usd" } == "currency")
            let c = try await p.campaigns.create(good, owner: "mia@test.example")
            _ = try await p.campaigns.launch(c.id)
            await #expect(throws: CampaignError.conflict("campaign \(c.id) is running; only a draft's plan can change")) {
                try await p.campaigns.update(c.id, good)
            }
            await #expect(throws: CampaignError.self) { try await p.campaigns.launch(c.id) }
        }
    }

}
