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
}
