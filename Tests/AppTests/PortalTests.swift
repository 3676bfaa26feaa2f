import Access
import App
import Customers
import Demo
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Loyalty
import NIOCore
import SharedModels
import TestSupport
import Testing

/// The member portal finished like a product (#17): automatic offers shown, redeeming asks
/// first, and the member's own data download and account deletion as privacy requests.
@Suite struct PortalTests {
    static let until = Date(epochSeconds: 1_767_225_600)

    @Test("a member sees automatic offers, confirms a redemption, downloads their data and asks to delete the account")
    func member() async throws {
        try await TestDatabase.withPatron(.sqlite, clock: TestClock(Self.until)) { p in
            _ = try await DemoCompany(customers: 40, seed: 31, until: Self.until).load(into: p)
            let program = try #require(try await p.loyalty.programs().first)
            _ = try await p.loyalty.createPromotion(
                PromotionDraft(
                    code: "AUTO", name: "Double points weekend", startsAt: Self.until.addingTimeInterval(-3_600),
                    endsAt: Self.until.addingTimeInterval(86_400), action: .multiplier(percent: 200)), in: program.id)
            let app = Application(router: try buildRouter(patron: p))
            try await app.test(.router) { client in
                let member = try await WebVisitor.signIn(client, "portal", "email=member%40northwind.example&password=\(DemoCompany.adminPassword)")
                let offers = try await member.get("/portal/promotions").body
                #expect(offers.contains("Running now for every member") && offers.contains("Double points weekend"))

                let rewards = try await member.get("/portal/rewards").body
                let confirm = try #require(rewards.firstMatch(of: /href="(\/portal\/rewards\/\d+\/confirm)"/)).output.1
                let page = try await member.get(String(confirm))
                #expect(page.status == .ok && page.body.contains("after it you will have"))
                let id = String(confirm).split(separator: "/")[2]
                let redeemed = try await member.post("/portal/rewards/\(id)", "", tokenPage: String(confirm))
                #expect(redeemed.body.contains("your voucher code is"))

                let download = try await member.post("/portal/my-data", "", tokenPage: "/portal/preferences")
                #expect(download.status == .ok && download.body.contains("\"customers\""))
                let deletion = try await member.post("/portal/delete-account", "confirm=yes", tokenPage: "/portal/preferences")
                #expect(deletion.body.contains("to delete your account"))
                let requests = try await p.privacy.requests()
                #expect(requests.contains { $0.kind == .erasure && $0.channel == "portal" && $0.status == .open })
                #expect(requests.contains { $0.kind == .access && $0.channel == "portal" && $0.status == .completed })
            }
        }
    }

    @Test("a loyalty manager ends a promotion early and withdraws a reward from the console; members see the change at once")
    func loyaltyChanges() async throws {
        try await TestDatabase.withPatron(.sqlite, clock: TestClock(Self.until)) { p in
            _ = try await DemoCompany(customers: 40, seed: 32, until: Self.until).load(into: p)
            let program = try #require(try await p.loyalty.programs().first)
            let promotion = try await p.loyalty.createPromotion(
                PromotionDraft(
                    code: "LIVE", name: "Live one", startsAt: Self.until.addingTimeInterval(-3_600), endsAt: Self.until.addingTimeInterval(86_400),
                    action: .fixed(50)), in: program.id)
            let reward = try #require(try await p.loyalty.rewards(of: program.id).first { $0.active })
            let app = Application(router: try buildRouter(patron: p))
            try await app.test(.router) { client in
                let manager = try await WebVisitor.signIn(client, "console", "email=loyalty%40northwind.example&password=\(DemoCompany.adminPassword)")
                let page = try await manager.get("/console/loyalty").body
                #expect(page.contains("/console/loyalty/promotions/\(promotion.id)/end"))
                let unconfirmed = try await manager.post("/console/loyalty/promotions/\(promotion.id)/end", "", tokenPage: "/console/loyalty")
                #expect(unconfirmed.status == .unprocessableContent)
                let ended = try await manager.post("/console/loyalty/promotions/\(promotion.id)/end", "confirm=yes", tokenPage: "/console/loyalty")
                #expect(ended.body.contains("Live one ended now"))
                #expect(try await p.loyalty.promotion(promotion.id).endsAt <= Self.until)
                let bad = try await manager.post("/console/loyalty/rewards/\(reward.id)", "stock=lots&active=yes", tokenPage: "/console/loyalty")
                #expect(bad.status == .unprocessableContent && bad.body.contains("whole number"))
                let withdrawn = try await manager.post("/console/loyalty/rewards/\(reward.id)", "stock=3", tokenPage: "/console/loyalty")
                #expect(withdrawn.body.contains("withdrawn"))
                let after = try await p.loyalty.reward(reward.id)
                #expect(!after.active && after.stock == 3)
                // An analyst reads the loyalty page but changes nothing.
                let analyst = try await WebVisitor.signIn(client, "console", "email=analyst%40northwind.example&password=\(DemoCompany.adminPassword)")
                #expect(!(try await analyst.get("/console/loyalty").body.contains("/end\"")))
            }
        }
    }

    @Test("a member sees a tier progress bar and a statement whose running balance ends at the closing balance", arguments: TestEngine.available)
    func progressAndStatement(engine: TestEngine) async throws {
        try await TestDatabase.withPatron(engine, clock: TestClock(Self.until)) { p in
            _ = try await DemoCompany(customers: 60, seed: 4, until: Self.until).load(into: p)
            let login = try await p.access.logIn(email: DemoCompany.memberEmail, password: DemoCompany.adminPassword, client: nil)
            guard case .member(let own, _) = login.principal else { Issue.record("a member login"); return }
            let member = try #require(try await p.loyalty.memberships(of: CustomerID(own)).first)
            let progress = try #require(try await p.loyalty.tierProgress(of: member.id))
            let app = Application(router: try buildRouter(patron: p))
            try await app.test(.router) { client in
                let visitor = try await WebVisitor.signIn(client, "portal", "email=member%40northwind.example&password=\(DemoCompany.adminPassword)")
                let home = try await visitor.get("/portal/").body
                if let next = progress.nextTier {
                    #expect(home.contains("<progress id=\"tier-bar-\(member.number)\""), "a bar for the next tier")
                    #expect(home.contains("qualifying points for \(next)"))
                } else {
                    #expect(!home.contains("<progress"), "no bar at the top tier")
                }
                #expect(home.contains(">Balance</th>"))
                let year = LocalDate(Self.until.addingTimeInterval(-1)).year
                let statement = try await visitor.get("/portal/statement?year=\(year)").body
                func figure(_ id: String) -> Int64? {
                    statement.firstMatch(of: try! Regex("id=\"\(id)\">(?:<strong>)?([0-9,\\-]+)")).flatMap { Int64(String($0.output[1].substring ?? "").replacingOccurrences(of: ",", with: "")) }
                }
                let opening = try #require(figure("opening")), closing = try #require(figure("closing"))
                let lines = statement.matches(of: /<td class="num">([+\-]?[0-9,]+)<\/td><td class="num">([0-9,\-]+)<\/td><\/tr>/)
                #expect(!lines.isEmpty, "the demo member has points in \(year)")
                var running = opening
                for line in lines {
                    running += Int64(String(line.output.1).replacingOccurrences(of: ",", with: "").replacingOccurrences(of: "+", with: ""))!
                    #expect(Int64(String(line.output.2).replacingOccurrences(of: ",", with: "")) == running)
                }
                #expect(running == closing, "each line's balance follows from the one before, and the last is the closing balance")
                #expect(try await visitor.get("/portal/statement?year=1900").status == .ok, "a year out of range shows the nearest")
            }
        }
    }
}
