import Access
import App
import Customers
import Demo
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Loyalty
import SharedModels
import Support
import TestSupport
import Testing

/// The promotions and rewards a loyalty manager keeps after creating them: listed with their
/// status, paged, sorted and filtered; their terms changed, paused, resumed, ended and archived
/// from their own page, each change applying from the next purchase and written to the audit log.
@Suite struct CatalogueTests {
    static let until = Date(epochSeconds: 1_767_225_600)

    static func points(_ receipt: TransactionIntake.Receipt, from code: String) -> Int64 {
        receipt.1.flatMap { $0.accrual?.parts ?? [] }.filter { $0.source == "promotion \(code)" }.reduce(0) { $0 + $1.points }
    }

    @Test("a promotion's page changes its terms, pauses and resumes it; a paused one gives nothing; ended ones archive", arguments: TestEngine.available)
    func promotionLifecycle(engine: TestEngine) async throws {
        let clock = TestClock(Self.until)
        try await TestDatabase.withPatron(engine, clock: clock) { p in
            _ = try await DemoCompany(customers: 40, seed: 5, until: Self.until).load(into: p)
            let program = try #require(try await p.loyalty.programs().first)
            let promotion = try await p.loyalty.createPromotion(
                PromotionDraft(
                    code: "ZZ-TEST", name: "Store nine bonus", startsAt: Self.until.addingTimeInterval(-86_400),
                    endsAt: Self.until.addingTimeInterval(30 * 86_400), criteria: #"purchase.store == "ZZ9""#, action: .fixed(70)),
                in: program.id)
            var someone: Member?
            for c in try await p.customers.list(CustomerListQuery(limit: 40)).items where someone == nil {
                someone = try await p.loyalty.memberships(of: c.id).first
            }
            let member = try #require(someone)
            @Sendable func buy(_ n: Int, store: String = "ZZ9") async throws -> TransactionIntake.Receipt {
                try await p.intake.submit(
                    TransactionDetails(
                        externalID: "ZZ-\(n)", occurredAt: clock.now, amount: Money(minorUnits: 2_000, currency: "USD"), store: store),
                    identifiers: [CustomerIdentifier(kind: .customerID, value: String(member.customerID.rawValue))])
            }
            #expect(Self.points(try await buy(1), from: "ZZ-TEST") == 70)

            let app = Application(router: try buildRouter(patron: p))
            try await app.test(.router) { client in
                let manager = try await WebVisitor.signIn(client, "console", "email=loyalty%40northwind.example&password=\(DemoCompany.adminPassword)")
                let page = "/console/loyalty/promotions/\(promotion.id.rawValue)"
                let shown = try await manager.get(page)
                #expect(shown.status == .ok)
                #expect(shown.body.contains(#"<dd id="promotion-status">Live</dd>"#))
                #expect(shown.body.contains("Purchases it applied to</dt><dd>1</dd>"))

                // New terms: another store, more points, a later end. The first day of a live promotion stays.
                let moved = try await manager.post(
                    page + "/terms", "name=Store+eight+bonus&starts=2025-12-01&ends=2026-02-28&criteria=purchase.store+%3D%3D+%22ZZ8%22&action=fixed&amount=90",
                    tokenPage: page)
                #expect(moved.status == .unprocessableContent, "a started promotion's first day cannot move")
                #expect(moved.body.contains("its start date cannot move") && moved.body.contains("Store eight bonus"), "the form keeps what was typed")
                let saved = try await manager.post(
                    page + "/terms", "name=Store+eight+bonus&starts=2025-12-31&ends=2026-02-28&criteria=purchase.store+%3D%3D+%22ZZ8%22&action=fixed&amount=90",
                    tokenPage: page)
                #expect(saved.status == .ok, "\(saved.body.prefix(300))")
                #expect(saved.body.contains("the new terms apply from the next purchase"))
                #expect(saved.body.contains("28 Feb 2026"), "the last day is shown as the day typed")
                #expect(Self.points(try await buy(2, store: "ZZ9"), from: "ZZ-TEST") == 0, "the old condition no longer applies")
                #expect(Self.points(try await buy(3, store: "ZZ8"), from: "ZZ-TEST") == 90, "the new terms apply from the next purchase")
                let bad = try await manager.post(page + "/terms", "name=X&starts=2025-12-31&ends=2026-02-28&criteria=purchase.store+%3D%3D&action=fixed&amount=90", tokenPage: page)
                #expect(bad.status == .unprocessableContent && bad.body.contains("Criteria: line 1"))

                // Paused: nothing; the points check says why; resumed: it gives again.
                let paused = try await manager.post(page + "/state", "change=pause", tokenPage: page)
                #expect(paused.body.contains(#"<dd id="promotion-status">Paused</dd>"#))
                #expect(Self.points(try await buy(4, store: "ZZ8"), from: "ZZ-TEST") == 0, "a paused promotion gives nothing")
                let why = try await manager.get("/console/customers/\(member.customerID.rawValue)/points-check?purchase=ZZ-4")
                #expect(why.body.contains("It is paused since"), "\(why.body.count)")
                let resumed = try await manager.post(page + "/state", "change=resume", tokenPage: page)
                #expect(resumed.body.contains(#"<dd id="promotion-status">Live</dd>"#))
                #expect(Self.points(try await buy(5, store: "ZZ8"), from: "ZZ-TEST") == 90)

                // Archive only once ended; then it leaves the default list and shows under its status.
                let early = try await manager.post(page + "/state", "change=archive", tokenPage: page)
                #expect(early.status == .unprocessableContent && early.body.contains("end it first"))
                let ended = try await manager.post(page + "/state", "change=end&confirm=yes", tokenPage: page)
                #expect(ended.body.contains(#"<dd id="promotion-status">Ended</dd>"#))
                let noEdit = try await manager.post(page + "/terms", "name=Again&starts=2025-12-31&ends=2026-03-28&action=fixed&amount=5", tokenPage: page)
                #expect(noEdit.status == .unprocessableContent && noEdit.body.contains("keeps the terms it ran with"))
                #expect(try await manager.get("/console/loyalty/promotions").body.contains(page))
                let archived = try await manager.post(page + "/state", "change=archive", tokenPage: page)
                #expect(archived.body.contains(#"<dd id="promotion-status">Archived</dd>"#))
                #expect(!(try await manager.get("/console/loyalty/promotions").body.contains(page + "\"")), "archived ones leave the working list")
                #expect(try await manager.get("/console/loyalty/promotions?status=archived").body.contains(page + "\""))

                // Every change is in the audit log; an agent may read but not change.
                let audit = try await p.access.auditEvents(AuditQuery(limit: 100)).map(\.action)
                for path in ["/terms", "/state"] {
                    #expect(audit.contains { $0.contains("/console/loyalty/promotions/\(promotion.id.rawValue)\(path)") }, "\(path) audited")
                }
                let agent = try await WebVisitor.signIn(client, "console", "email=agent%40northwind.example&password=\(DemoCompany.adminPassword)")
                #expect(try await agent.get(page).status == .ok)
                let refused = try await agent.post(page + "/state", "change=resume", tokenPage: page)
                #expect(refused.status == .forbidden)
            }
        }
    }

    @Test("the promotions and rewards lists page, sort and filter; a reward's page changes its name, price, description and picture")
    func lists() async throws {
        try await TestDatabase.withPatron(.sqlite, clock: TestClock(Self.until)) { p in
            _ = try await DemoCompany(customers: 40, seed: 5, until: Self.until).load(into: p)
            let program = try #require(try await p.loyalty.programs().first)
            for i in 0..<60 {
                _ = try await p.loyalty.createPromotion(
                    PromotionDraft(
                        code: "BULK-\(i)", name: "Bulk \(String(format: "%02d", i))", startsAt: Self.until.addingTimeInterval(Double(i) * 86_400),
                        endsAt: Self.until.addingTimeInterval(Double(i + 10) * 86_400), action: .fixed(5)),
                    in: program.id)
            }
            let all = try await p.loyalty.promotions(of: program.id)
            let app = Application(router: try buildRouter(patron: p))
            try await app.test(.router) { client in
                let manager = try await WebVisitor.signIn(client, "console", "email=loyalty%40northwind.example&password=\(DemoCompany.adminPassword)")
                let first = try await manager.get("/console/loyalty/promotions")
                #expect(first.body.contains("Showing 1–50 of \(all.count) promotions"), "\(all.count)")
                let second = try await manager.get("/console/loyalty/promotions?page=2")
                #expect(second.body.contains("Showing 51–\(all.count) of \(all.count) promotions"))
                let byName = try await manager.get("/console/loyalty/promotions?sort=name&dir=desc&q=bulk")
                #expect(byName.body.contains("of 60 promotions"))
                let names = byName.body.matches(of: />(Bulk \d\d)</).map { String($0.output.1) }
                #expect(names.first == "Bulk 59" && names == names.sorted(by: >))
                let scheduled = all.filter { $0.status(at: Self.until) == .scheduled }.count
                #expect(try await manager.get("/console/loyalty/promotions?status=scheduled").body.contains("of \(scheduled) promotion"))

                // Rewards: the list by status; a reward's own page edits it, and a hostile picture address is refused.
                let rewards = try await p.loyalty.rewards(of: program.id)
                let reward = try #require(rewards.first)
                _ = try await p.loyalty.restock(reward.id, stock: 0, active: true)
                let out = try await manager.get("/console/loyalty/rewards?status=out_of_stock")
                #expect(out.body.contains("of 1 reward") && out.body.contains("Out of stock"))
                let page = "/console/loyalty/rewards/\(reward.id.rawValue)"
                let hostile = try await manager.post(
                    page, "whole=yes&name=Coffee&price=300&image=javascript%3Aalert(1)&stock=5&active=yes", tokenPage: page)
                #expect(hostile.status == .unprocessableContent && hostile.body.contains("must be an https:// address"))
                #expect(!hostile.body.contains("imageURL") && !hostile.body.contains("invalid("), "a sentence, not a field name")
                let saved = try await manager.post(
                    page, "whole=yes&name=Large+coffee&price=350&description=Any+size%2C+any+blend.&image=%2Fstatic%2Freward-coffee.svg&stock=5&active=yes",
                    tokenPage: page)
                #expect(saved.status == .ok, "\(saved.body.prefix(400))")
                let changed = try await p.loyalty.reward(reward.id)
                #expect(changed.name == "Large coffee" && changed.pointsPrice == 350 && changed.stock == 5)
                #expect(changed.description == "Any size, any blend." && changed.imageURL == "/static/reward-coffee.svg")
                #expect(saved.body.contains(#"<img src="/static/reward-coffee.svg" alt="Large coffee""#))
            }
        }
    }

    @Test("members see each reward's picture and description, and cancel a voucher they have not used to get the points back", arguments: TestEngine.available)
    func memberVouchers(engine: TestEngine) async throws {
        try await TestDatabase.withPatron(engine, clock: TestClock(Self.until)) { p in
            _ = try await DemoCompany(customers: 40, seed: 5, until: Self.until).load(into: p)
            let login = try await p.access.logIn(email: DemoCompany.memberEmail, password: DemoCompany.adminPassword, client: nil)
            guard case .member(let own, _) = login.principal else { Issue.record("the demo member signs in as a member"); return }
            let customer = try await p.customers.customer(CustomerID(own))
            let member = try #require(try await p.loyalty.memberships(of: customer.id).first)
            let coffee = try #require(try await p.loyalty.rewards(of: member.programID).first { $0.code == "COFFEE" })
            _ = try await p.loyalty.adjust(500, for: member.id, memo: "goodwill", by: "test", idempotencyKey: nil)
            let before = try await p.loyalty.balance(of: member.id).available
            let voucher = try await p.loyalty.redeem(reward: coffee.id, for: member.id, idempotencyKey: nil)
            #expect(try await p.loyalty.balance(of: member.id).available == before - coffee.pointsPrice)
            let app = Application(router: try buildRouter(patron: p))
            try await app.test(.router) { client in
                let visitor = try await WebVisitor.signIn(client, "portal", "email=member%40northwind.example&password=\(DemoCompany.adminPassword)")
                let page = try await visitor.get("/portal/rewards")
                #expect(page.body.contains(#"src="/static/reward-coffee.svg""#) && page.body.contains("Any size, any blend"))
                #expect(try await visitor.get("/static/reward-coffee.svg").status == .ok)
                let unconfirmed = try await visitor.post("/portal/vouchers/\(voucher.id.rawValue)/cancel", "", tokenPage: "/portal/rewards")
                #expect(unconfirmed.status == .unprocessableContent)
                let cancelled = try await visitor.post("/portal/vouchers/\(voucher.id.rawValue)/cancel", "confirm=yes", tokenPage: "/portal/rewards")
                #expect(cancelled.body.contains("Voucher \(voucher.code) cancelled: 150 points are back"), "\(cancelled.body.prefix(500))")
                #expect(try await p.loyalty.balance(of: member.id).available == before)
                // Someone else's voucher is refused and left alone.
                let other = try #require(try await p.customers.list(CustomerListQuery(limit: 40)).items.first { $0.id != customer.id })
                let theirs = try #require(try await p.loyalty.memberships(of: other.id).first)
                _ = try await p.loyalty.adjust(500, for: theirs.id, memo: "goodwill", by: "test", idempotencyKey: nil)
                let foreign = try await p.loyalty.redeem(reward: coffee.id, for: theirs.id, idempotencyKey: nil)
                let refused = try await visitor.post("/portal/vouchers/\(foreign.id.rawValue)/cancel", "confirm=yes", tokenPage: "/portal/rewards")
                #expect(refused.status == .unprocessableContent && refused.body.contains("not one of yours"))
                #expect(try await p.loyalty.voucher(foreign.id).status == .issued)
            }
        }
    }

    @Test("the members list pages in the database with the count, filters by tier, finds a number by its start and sorts by points", arguments: TestEngine.available)
    func members(engine: TestEngine) async throws {
        try await TestDatabase.withPatron(engine, clock: TestClock(Self.until)) { p in
            _ = try await DemoCompany(customers: engine == .sqlite ? 160 : 110, seed: 5, until: Self.until).load(into: p)
            let all = try await p.loyalty.memberList(MemberListQuery(limit: 500))
            #expect(all.total > 50 && all.items.count == all.total, "more than a page of members")
            let app = Application(router: try buildRouter(patron: p))
            try await app.test(.router) { client in
                let manager = try await WebVisitor.signIn(client, "console", "email=loyalty%40northwind.example&password=\(DemoCompany.adminPassword)")
                let first = try await manager.get("/console/loyalty/members")
                #expect(first.body.contains("Showing 1–50 of \(all.total) members"))
                let numbers = first.body.matches(of: /">(NW\d+)<\/a>/).map { String($0.output.1) }
                #expect(numbers.count == 50 && numbers == numbers.sorted())
                let last = try await manager.get("/console/loyalty/members?page=\((all.total + 49) / 50)")
                #expect(last.body.contains("of \(all.total) members") && last.body.contains("rel=\"prev\""))
                let tier = try #require(all.items.compactMap(\.member.tier).first)
                let inTier = all.items.filter { $0.member.tier == tier }.count
                #expect(try await manager.get("/console/loyalty/members?tier=\(tier)").body.contains("of \(inTier) member"))
                let richest = try #require(all.items.max { ($0.points, -$0.member.id.rawValue) < ($1.points, -$1.member.id.rawValue) })
                let byPoints = try await manager.get("/console/loyalty/members?sort=points&dir=desc")
                #expect(byPoints.body.matches(of: /">(NW\d+)<\/a>/).first.map { String($0.output.1) } == richest.member.number)
                let prefix = String(richest.member.number.dropLast(1))
                let found = try await manager.get("/console/loyalty/members?q=\(prefix.lowercased())")
                #expect(found.body.contains(richest.member.number))
                #expect(try await manager.get("/console/loyalty/members?q=%25%27%3B--").status == .ok, "a hostile search finds nothing, quietly")
            }
        }
    }
}
