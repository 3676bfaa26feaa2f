import Access
import App
import Customers
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Loyalty
import NIOCore
import Partners
import SharedModels
import TestSupport
import Testing

/// Coalition partners: what their outlets' purchases cost them in points, what honouring
/// vouchers earns them, and the months settled.
@Suite struct PartnerTests {
    @Test("a partner's terms are checked field by field; an outlet belongs to one partner")
    func terms() async throws {
        try await TestDatabase.withPatron(.sqlite) { p in
            func save(_ code: String, outlets: [String], currency: String = "USD", price: Int64 = 800) async throws -> Partner {
                try await p.partners.save(
                    code: code, name: "Café", outlets: outlets, rewards: [], currency: currency, pricePerThousandPoints: price, payoutPerVoucher: 0)
            }
            await #expect(throws: PartnerError.invalid(field: "code", reason: "must be 2 to 40 letters, digits, - or _")) {
                try await save("C", outlets: ["A"])
            }
            await #expect(throws: PartnerError.invalid(field: "outlets", reason: "give at least one outlet (store code)")) {
                try await save("CAFE", outlets: [" "])
            }
            await #expect(throws: PartnerError.invalid(field: "currency", reason: "must be an ISO 4217 code such as USD")) {
                try await save("CAFE", outlets: ["C1"], currency: "dollars")
            }
            let saved = try await save("cafe", outlets: ["c1", "C2"])
            #expect(saved.outlets == ["C1", "C2"])
            await #expect(throws: PartnerError.invalid(field: "outlets", reason: "C2 is CAFE's outlet")) { try await save("BAKERY", outlets: ["C2"]) }
            // Changing terms keeps the partner.
            let changed = try await save("CAFE", outlets: ["C1"], price: 900)
            #expect(changed.pricePerThousandPoints == 900)
            let all = try await p.partners.partners()
            #expect(all.count == 1)
        }
    }

    @Test(
        "the statement charges the points earned at the partner's outlets, net of returns, and pays for its vouchers; a month is settled once",
        arguments: TestEngine.available)
    func statement(engine: TestEngine) async throws {
        let clock = TestClock()
        try await withAPI(engine, clock: clock) { api, patron, admin in
            let program = try await LoyaltyIntakeTests.program(patron)  // 1 point per dollar; +25 on the web
            let gift = try await patron.loyalty.addReward(
                to: program.id, code: "GIFT10", name: "$10 gift card", kind: .partnerVoucher, pointsPrice: 100)
            _ = try await patron.partners.save(
                code: "CAFE", name: "Northwind Café", outlets: ["CAFE", "CAFE-2"], rewards: ["GIFT10"], currency: "USD", pricePerThousandPoints: 800,
                payoutPerVoucher: 900)
            let ann = try #require(try await api.call(.post, "/v1/customers", token: admin, body: ["firstName": "Ann", "lastName": "Lee"]).id)
            let member = try await patron.loyalty.enroll(CustomerID(ann), in: program.id)
            func buy(_ id: String, _ minor: Int, store: String, day: Int, kind: String = "purchase", original: String? = nil) async throws {
                var body: [String: Any] = [
                    "transactionId": id, "customerId": ann, "occurredAt": String(format: "2026-01-%02dT10:00:00Z", day), "amount": minor,
                    "store": store,
                    "kind": kind,
                ]
                if let original { body["originalTransactionId"] = original }
                #expect(try await api.call(.post, "/v1/transactions", token: admin, body: body).status == 201)
            }
            try await buy("C-1", 120_00, store: "CAFE", day: 5)  // 120 points
            try await buy("C-2", 30_00, store: "CAFE-2", day: 6)  // 30 points
            try await buy("S-1", 500_00, store: "S01", day: 7)  // another store: not the café's
            try await buy("C-1-R", 120_00, store: "CAFE", day: 8, kind: "return", original: "C-1")  // 120 points back
            try await buy("C-3", 250_00, store: "CAFE", day: 9)  // 250 points
            clock.advance(days: 20)
            let cafe = Party.partner(code: "CAFE", outlets: ["CAFE", "CAFE-2"], rewards: ["GIFT10"])
            for _ in 0..<3 {
                let voucher = try await patron.loyalty.redeem(reward: gift.id, for: member.id, idempotencyKey: nil)
                _ = try await patron.loyalty.use(voucher: voucher.id, by: cafe)
            }
            // Regression (#17): a voucher of the café's reward honoured elsewhere (at the company's
            // own till) is not the café's to be paid for.
            let elsewhere = try await patron.loyalty.redeem(reward: gift.id, for: member.id, idempotencyKey: nil)
            _ = try await patron.loyalty.use(voucher: elsewhere.id)
            let s = try await patron.partners.statement("cafe", from: LocalDate("2026-01-01")!, to: LocalDate("2026-02-01")!)
            #expect(s.purchases == 3 && s.returns == 1)
            #expect(s.sales == (120_00 + 30_00 + 250_00) - 120_00)
            #expect(s.pointsIssued == 120 + 30 - 120 + 250)
            #expect(s.pointsCharge == Money(minorUnits: 224, currency: "USD"))  // 280 points at 8.00 per 1,000
            #expect(s.vouchersHonoured == 3 && s.voucherPayout == Money(minorUnits: 2_700, currency: "USD"))
            #expect(s.net == Money(minorUnits: 224 - 2_700, currency: "USD"))
            // The month cannot be settled before it ends; once ended, once.
            await #expect(throws: PartnerError.self) { try await patron.partners.settle("CAFE", month: LocalDate("2026-01-01")!, by: "x") }
            clock.advance(days: 15)
            let settled = try await patron.partners.settle("CAFE", month: LocalDate("2026-01-15")!, by: "lm@x.com")
            #expect(settled.statement == s && settled.status == .open)
            await #expect(throws: PartnerError.self) { try await patron.partners.settle("CAFE", month: LocalDate("2026-01-01")!, by: "x") }
            #expect(try await patron.partners.markPaid(settled.id, by: "lm@x.com").status == .paid)
            await #expect(throws: PartnerError.self) { try await patron.partners.markPaid(settled.id, by: "lm@x.com") }
        }
    }

    @Test(
        "the partner portal shows a partner its own statements; purchases go to its outlets only; the console's partner pages are the loyalty manager's",
        arguments: TestEngine.available)
    func portal(engine: TestEngine) async throws {
        try await TestDatabase.withPatron(engine) { p in
            _ = try await p.partners.save(
                code: "CAFE", name: "Northwind Café", outlets: ["CAFE"], rewards: [], currency: "USD", pricePerThousandPoints: 800,
                payoutPerVoucher: 0)
            _ = try await p.partners.save(
                code: "BAKERY", name: "Bakery", outlets: ["BAKERY"], rewards: [], currency: "USD", pricePerThousandPoints: 700, payoutPerVoucher: 0)
            _ = try await p.customers.create(ProfileDraft(firstName: "Ann", lastName: "Lee", emails: ["ann@x.com"]))
            let (_, cafeKey) = try await p.access.createAPIKey(name: "till", partner: "CAFE", scopes: [.transactionsWrite])
            _ = try await p.access.addUser(email: "lm@x.com", password: "password1", role: .loyaltyManager)
            _ = try await p.access.addUser(email: "ada@x.com", password: "password1", role: .agent)
            let app = Application(router: try buildRouter(patron: p))
            try await app.test(.router) { client in
                func get(_ uri: String, _ visitor: WebVisitor) async throws -> (HTTPResponse.Status, String) { try await visitor.get(uri) }
                let cafe = try await WebVisitor.signIn(client, "partners", "key=\(cafeKey)")
                let statements = try await get("/partners/statements", cafe)
                #expect(statements.0 == .ok && statements.1.contains("Monthly statements") && statements.1.contains("2026-01"))
                let wrong = try await cafe.post(
                    "/partners/transactions", "transaction_id=R1&member=ann%40x.com&amount=10&store=BAKERY", tokenPage: "/partners/")
                #expect(wrong.body.contains("Store BAKERY is not one of your outlets"))
                let lm = try await WebVisitor.signIn(client, "console", "email=lm%40x.com&password=password1")
                let ada = try await WebVisitor.signIn(client, "console", "email=ada%40x.com&password=password1")
                #expect(try await get("/console/partners", ada).0 == .forbidden)
                let list = try await get("/console/partners", lm).1
                #expect(list.contains("Northwind Café") && list.contains("Bakery"))
                // The list counts, searches names, codes and outlets, and sorts either way.
                #expect(list.contains("Showing 1–2 of 2 partners"))
                #expect(try await get("/console/partners?q=bake", lm).1.contains("of 1 partner"))
                let byPrice = try await get("/console/partners?sort=price&dir=desc", lm).1
                let cafeAt = try #require(byPrice.range(of: "Northwind Café")), bakeryAt = try #require(byPrice.range(of: "Bakery (BAKERY)"))
                #expect(cafeAt.lowerBound < bakeryAt.lowerBound, "8.00 before 7.00 per 1,000 points")
                let account = try await get("/console/partners/CAFE", lm)
                #expect(account.0 == .ok && account.1.contains("Settle the month"))
                #expect(try await get("/console/partners/NOPE", lm).0 == .notFound)
            }
        }
    }

    @Test("over the API: loyalty managers set terms and settle; a partner's key reads only its own account", arguments: TestEngine.available)
    func api(engine: TestEngine) async throws {
        let clock = TestClock()
        try await withAPI(engine, clock: clock) { api, patron, _ in
            _ = try await patron.access.addUser(email: "lm@x.com", password: "password1", role: .loyaltyManager)
            _ = try await patron.access.addUser(email: "ada@x.com", password: "password1", role: .agent)
            let lm = try await api.logIn("lm@x.com", "password1")
            let ada = try await api.logIn("ada@x.com", "password1")
            let terms: [String: Any] = ["name": "Café", "outlets": ["CAFE"], "currency": "USD", "pricePerThousandPoints": 800]
            #expect(try await api.call(.put, "/v1/partners/CAFE", token: ada, body: terms).status == 403)
            #expect(try await api.call(.put, "/v1/partners/CAFE", token: lm, body: terms).json["outlets"] as? [String] == ["CAFE"])
            var bakery = terms
            bakery["outlets"] = ["CAFE"]
            let clash = try await api.call(.put, "/v1/partners/BAKERY", token: lm, body: bakery)
            #expect(clash.status == 422 && clash.text.contains("outlets"))
            let (_, cafeKey) = try await patron.access.createAPIKey(name: "till", partner: "CAFE", scopes: [.transactionsWrite])
            let (_, otherKey) = try await patron.access.createAPIKey(name: "till", partner: "BAKERY", scopes: [.transactionsWrite])
            let own = try await api.call(.get, "/v1/partners/CAFE/statement?from=2026-01-01&to=2026-02-01", token: cafeKey)
            #expect(own.status == 200 && own.json["net"] as? Int == 0 && own.json["currency"] as? String == "USD")
            #expect(try await api.call(.get, "/v1/partners/CAFE/statement?from=2026-01-01&to=2026-02-01", token: otherKey).status == 404)
            #expect(try await api.call(.get, "/v1/partners/CAFE/settlements", token: otherKey).status == 404)
            #expect(try await api.call(.get, "/v1/partners/CAFE/statement?from=2026-02-01&to=2026-01-01", token: lm).status == 422)
            #expect(try await api.call(.post, "/v1/partners/CAFE/settlements", token: lm, body: ["month": "2026-01"]).status == 422)
            clock.advance(days: 40)
            let lm2 = try await api.logIn("lm@x.com", "password1")
            let settled = try await api.call(.post, "/v1/partners/CAFE/settlements", token: lm2, body: ["month": "2026-01"])
            #expect(settled.status == 201 && settled.json["status"] as? String == "open")
            #expect(try await api.call(.post, "/v1/partners/CAFE/settlements", token: lm2, body: ["month": "2026-01"]).code == "partner_conflict")
            let id = try #require(settled.id)
            #expect(try await api.call(.post, "/v1/settlements/\(id)/paid", token: lm2).json["status"] as? String == "paid")
            #expect(try await api.call(.get, "/v1/partners/CAFE/settlements", token: cafeKey).array.count == 1)
            #expect(try await api.call(.get, "/v1/partners/NOPE/statement?from=2026-01-01&to=2026-02-01", token: lm2).code == "partner_not_found")
        }
    }

    @Test("a joint promotion runs only once its partner approves it, and the partner is billed its share", arguments: TestEngine.available)
    func jointPromotion(engine: TestEngine) async throws {
        let clock = TestClock()
        try await withAPI(engine, clock: clock) { api, patron, admin in
            let program = try await LoyaltyIntakeTests.program(patron)
            _ = try await patron.partners.save(
                code: "CAFE", name: "Café", outlets: ["CAFE"], rewards: [], currency: "USD", pricePerThousandPoints: 1_000, payoutPerVoucher: 0)
            await #expect(throws: LoyaltyError.self) {
                try await patron.loyalty.createPromotion(
                    PromotionDraft(
                        code: "NOSHARE", name: "x", startsAt: clock.now, endsAt: clock.now.addingTimeInterval(86_400), action: .fixed(1),
                        partner: "CAFE"),
                    in: program.id)
            }
            let joint = try await patron.loyalty.createPromotion(
                PromotionDraft(
                    code: "CAFE-BONUS", name: "Café bonus", startsAt: clock.now, endsAt: clock.now.addingTimeInterval(30 * 86_400),
                    action: .fixed(100),
                    partner: "cafe", partnerShare: 40),
                in: program.id)
            #expect(joint.approval == .pending && joint.partner == "CAFE")
            #expect(try await patron.loyalty.pendingPromotions().map(\.code) == ["CAFE-BONUS"])
            let ann = try #require(try await api.call(.post, "/v1/customers", token: admin, body: ["firstName": "Ann"]).id)
            _ = try await patron.loyalty.enroll(CustomerID(ann), in: program.id)
            func buy(_ id: String, store: String = "CAFE") async throws -> Int64? {
                let r = try await api.call(
                    .post, "/v1/transactions", token: admin,
                    body: ["transactionId": id, "customerId": ann, "occurredAt": "2026-01-02T10:00:00Z", "amount": 10_00, "store": store])
                return ((r.json["points"] as? [[String: Any]])?.first?["points"] as? NSNumber)?.int64Value
            }
            #expect(try await buy("P-1") == 10)  // pending: not running
            await #expect(throws: LoyaltyError.self) {
                try await patron.loyalty.decide(promotion: joint.id, partner: "BAKERY", approve: true, by: "x")
            }
            let approved = try await patron.loyalty.decide(promotion: joint.id, partner: "CAFE", approve: true, by: "partner:CAFE/till")
            #expect(approved.approval == .approved && approved.decidedBy == "partner:CAFE/till")
            await #expect(throws: LoyaltyError.self) {
                try await patron.loyalty.decide(promotion: joint.id, partner: "CAFE", approve: false, by: "x")
            }
            #expect(try await buy("P-2") == 110)  // approved: it runs on the next purchase
            #expect(try await buy("P-3", store: "S01") == 110)  // at one of the program's own stores too
            #expect(try await patron.loyalty.pendingPromotions().isEmpty)
            let s = try await patron.partners.statement("CAFE", from: LocalDate("2026-01-01")!, to: LocalDate("2026-02-01")!)
            // At its outlet the café pays for all 120 points earned; elsewhere for 40% of the promotion's 100.
            #expect(s.pointsIssued == 120)
            #expect(s.cofundedPoints == 40 && s.cofundingCharge == Money(minorUnits: 40, currency: "USD"))
            #expect(s.net == Money(minorUnits: 120 + 40, currency: "USD"))
        }
    }

    @Test("over the API: a joint promotion waits in the approvals queue until the partner's own key decides", arguments: TestEngine.available)
    func jointPromotionAPI(engine: TestEngine) async throws {
        try await withAPI(engine) { api, patron, admin in
            let program = try await LoyaltyIntakeTests.program(patron)
            _ = try await patron.partners.save(
                code: "CAFE", name: "Café", outlets: ["CAFE"], rewards: [], currency: "USD", pricePerThousandPoints: 1_000, payoutPerVoucher: 0)
            let draft: [String: Any] = [
                "code": "JOINT", "name": "Joint", "startsAt": "2026-01-01T00:00:00Z", "endsAt": "2026-02-01T00:00:00Z",
                "action": ["kind": "fixed", "points": 50], "partner": "CAFE", "partnerShare": 50,
            ]
            var unknown = draft
            unknown["partner"] = "NOPE"
            #expect(try await api.call(.post, "/v1/programs/\(program.id)/promotions", token: admin, body: unknown).code == "partner_not_found")
            let created = try await api.call(.post, "/v1/programs/\(program.id)/promotions", token: admin, body: draft)
            #expect(created.status == 201 && created.json["approval"] as? String == "pending")
            let id = try #require(created.id)
            let (_, cafe) = try await patron.access.createAPIKey(name: "till", partner: "CAFE", scopes: [.transactionsWrite])
            let (_, other) = try await patron.access.createAPIKey(name: "till", partner: "BAKERY", scopes: [.transactionsWrite])
            #expect(try await api.call(.get, "/v1/promotions/pending", token: admin).array.count == 1)
            #expect(try await api.call(.get, "/v1/promotions/pending", token: other).array.isEmpty)
            #expect(try await api.call(.get, "/v1/promotions/pending", token: cafe).array.count == 1)
            #expect(try await api.call(.post, "/v1/promotions/\(id)/decision", token: admin, body: ["approve": true]).status == 403)
            #expect(try await api.call(.post, "/v1/promotions/\(id)/decision", token: other, body: ["approve": true]).status == 404)
            let decided = try await api.call(.post, "/v1/promotions/\(id)/decision", token: cafe, body: ["approve": false])
            #expect(decided.json["approval"] as? String == "declined")
            #expect(try await api.call(.post, "/v1/promotions/\(id)/decision", token: cafe, body: ["approve": true]).status == 422)
            #expect(try await api.call(.get, "/v1/promotions/pending", token: admin).array.isEmpty)
        }
    }

    @Test("in the partner portal a partner enrols a customer it finds, submits a purchase and looks up its receipts", arguments: TestEngine.available)
    func receiptsAndEnrolment(engine: TestEngine) async throws {
        try await TestDatabase.withPatron(engine) { p in
            _ = try await LoyaltyIntakeTests.program(p)
            _ = try await p.partners.save(
                code: "CAFE", name: "Café", outlets: ["CAFE"], rewards: [], currency: "USD", pricePerThousandPoints: 800, payoutPerVoucher: 0)
            let ann = try await p.customers.create(ProfileDraft(firstName: "Ann", lastName: "Lee", emails: ["ann@x.com"]))
            let (_, key) = try await p.access.createAPIKey(
                name: "till", partner: "CAFE", scopes: [.transactionsWrite, .customersLookup, .membersEnroll])
            let app = Application(router: try buildRouter(patron: p))
            try await app.test(.router) { client in
                let partner = try await WebVisitor.signIn(client, "partners", "key=\(key)")
                func get(_ uri: String) async throws -> String { try await partner.get(uri).body }
                func send(_ uri: String, _ form: String) async throws -> String { try await partner.post(uri, form, tokenPage: "/partners/").body }
                let found = try await get("/partners/?member=ann%40x.com")
                #expect(found.contains("not a member yet") && found.contains("Enrol Ann Lee"))
                #expect(try await send("/partners/members", "customer=\(ann.id)").contains("Enrolled in Northwind Rewards"))
                #expect(try await p.loyalty.memberships(of: ann.id).count == 1)
                #expect(try await send("/partners/transactions", "transaction_id=R-77&member=ann%40x.com&amount=42.50").contains("earned 42 points"))
                let receipts = try await get("/partners/receipts")
                #expect(receipts.contains("R-77") && receipts.contains("42.50") && receipts.contains(">42<"))
                #expect(try await get("/partners/receipts?receipt=R-77").contains("R-77"))
                #expect(try await get("/partners/receipts?receipt=R-78").contains("No receipt R-78"))
            }
        }
    }
}
