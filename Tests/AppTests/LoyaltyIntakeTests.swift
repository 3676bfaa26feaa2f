import Access
import App
import Demo
import Interchange
import Customers
import Foundation
import HTTPTypes
import Loyalty
import SharedModels
import TestSupport
import Testing

@Suite("Transactions earn points on every path")
struct LoyaltyIntakeTests {
    static func program(_ patron: Patron) async throws -> Program {
        let program = try await patron.loyalty.createProgram(
            code: "NW", name: "Northwind Rewards", valuePerThousandPoints: Money(minorUnits: 1000, currency: "USD"), expiryMonths: 24)
        try await patron.loyalty.configure(
            program.id,
            rules: EarningRules(pointsPerUnit: 1, bonuses: [try BonusRule(name: "Web", criteria: #"purchase.channel == "web""#, action: .fixed(25))]),
            tiers: try! TierPolicy(tiers: [.init(name: "Blue", threshold: 0), .init(name: "Gold", threshold: 100)]))
        return program
    }

    @Test(
        "POST /v1/transactions answers with the points and their breakdown; a replay pays nothing more; a return takes them back",
        arguments: TestEngine.available)
    func api(engine: TestEngine) async throws {
        try await withAPI(engine) { api, patron, admin in
            let program = try await Self.program(patron)
            let ann = try #require(try await api.call(.post, "/v1/customers", token: admin, body: ["firstName": "Ann", "lastName": "Lee"]).id)
            let member = try await patron.loyalty.enroll(CustomerID(ann), in: program.id)
            let purchase: [String: Any] = [
                "transactionId": "W-1", "customerId": ann, "occurredAt": "2026-01-02T10:00:00Z", "amount": 12_050, "channel": "web",
            ]
            let receipt = try await api.call(.post, "/v1/transactions", token: admin, body: purchase)
            #expect(receipt.status == 201)
            let points = try #require((receipt.json["points"] as? [[String: Any]])?.first)
            #expect((points["points"] as? NSNumber)?.int64Value == 145)
            #expect((points["breakdown"] as? [[String: Any]])?.compactMap { $0["source"] as? String } == ["base", "bonus Web"])
            #expect(points["newTier"] as? String == "Gold")
            let replay = try await api.call(.post, "/v1/transactions", token: admin, body: purchase)
            #expect(replay.json["status"] as? String == "duplicate")
            #expect(try await patron.loyalty.balance(of: member.id).ledger == 145)
            let refund = try await api.call(
                .post, "/v1/transactions", token: admin,
                body: [
                    "transactionId": "W-1-R", "kind": "return", "originalTransactionId": "W-1", "customerId": ann,
                    "occurredAt": "2026-01-03T10:00:00Z", "amount": 12_050,
                ])
            let back = try #require((refund.json["points"] as? [[String: Any]])?.first)
            #expect((back["points"] as? NSNumber)?.int64Value == -145)
            #expect(try await patron.loyalty.balance(of: member.id).ledger == 0)
            #expect(try await patron.loyalty.verify().isHealthy)
        }
    }

    @Test("An imported transaction earns exactly like one sent to the API", arguments: TestEngine.available)
    func importEarns(engine: TestEngine) async throws {
        try await TestDatabase.withPatron(engine) { patron in
            let program = try await Self.program(patron)
            let ann = try await patron.customers.create(ProfileDraft(firstName: "Ann", lastName: "Lee"))
            let bob = try await patron.customers.create(ProfileDraft(firstName: "Bob", lastName: "Ray"))
            let member = try await patron.loyalty.enroll(ann.id, in: program.id)
            let path = TestFiles.path("earn")
            try "transaction_id,customer_id,date,amount,channel\nI-1,\(ann.id),2026-01-02,120.50,web\nI-2,\(bob.id),2026-01-02,50,store\n"
                .write(toFile: path, atomically: true, encoding: .utf8)
            let report = try await TransactionImporter(customers: patron.customers, intake: patron.intake).run(file: path) { Issue.record("rejected \($0)") }
            #expect(report.created == 2)
            #expect(try await patron.loyalty.balance(of: member.id).ledger == 145)
            _ = try await TransactionImporter(customers: patron.customers, intake: patron.intake).run(file: path) { _ in }
            #expect(try await patron.loyalty.balance(of: member.id).ledger == 145)
        }
    }
}

@Suite("Loyalty over HTTP")
struct LoyaltyAPITests {
    @Test(
        "Programs, enrolment, balance, statement, redemption and adjustment, each authorised by role and ownership", arguments: TestEngine.available)
    func lifecycle(engine: TestEngine) async throws {
        try await withAPI(engine) { api, patron, admin in
            let bad = try await api.call(
                .post, "/v1/programs", token: admin,
                body: [
                    "code": "NW", "name": "Northwind", "valuePerThousandPoints": ["amount": 1000, "currency": "USD"],
                    "earningRules": ["pointsPerUnit": 1, "bonuses": [["name": "x", "criteria": "purchase.colour == \"red\"", "fixedPoints": 5]]],
                ])
            #expect(bad.status == 422)
            #expect(bad.code == "invalid_rule")
            #expect(
                (bad.json["detail"] as? String)?.hasPrefix("earningRules.bonuses[0].criteria: line 1, column 1: unknown field 'purchase.colour'")
                    == true)
            let program = try await api.call(
                .post, "/v1/programs", token: admin,
                body: [
                    "code": "NW", "name": "Northwind", "valuePerThousandPoints": ["amount": 1000, "currency": "USD"], "expiryMonths": 24,
                    "earningRules": ["pointsPerUnit": 2], "tiers": [["name": "Blue", "threshold": 0], ["name": "Gold", "threshold": 500]],
                ])
            #expect(program.status == 201)
            let programID = try #require(program.id)
            #expect((program.json["tiers"] as? [[String: Any]])?.count == 2)
            // Regression: tiers given highest first crashed the server (a precondition in TierPolicy); they are sorted now.
            let reversed = try await api.call(
                .post, "/v1/programs", token: admin,
                body: [
                    "code": "NW2", "name": "Northwind 2", "valuePerThousandPoints": ["amount": 1000, "currency": "USD"],
                    "tiers": [["name": "Gold", "threshold": 500], ["name": "Blue", "threshold": 0]],
                ])
            #expect(reversed.status == 201)
            #expect((reversed.json["tiers"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == ["Blue", "Gold"])
            let ann = try #require(try await api.call(.post, "/v1/customers", token: admin, body: ["firstName": "Ann", "lastName": "Lee"]).id)
            let bob = try #require(try await api.call(.post, "/v1/customers", token: admin, body: ["firstName": "Bob", "lastName": "Ray"]).id)
            let annMember = try #require(try await api.call(.post, "/v1/programs/\(programID)/members", token: admin, body: ["customerId": ann]).id)
            let bobMember = try #require(try await api.call(.post, "/v1/programs/\(programID)/members", token: admin, body: ["customerId": bob]).id)
            #expect(
                try await api.call(.post, "/v1/programs/\(programID)/members", token: admin, body: ["customerId": ann]).code == "already_enrolled")
            _ = try await api.call(
                .post, "/v1/transactions", token: admin,
                body: ["transactionId": "P-1", "customerId": ann, "occurredAt": "2026-01-01T00:00:00Z", "amount": 30_000])
            let balance = try await api.call(.get, "/v1/members/\(annMember)/balance", token: admin)
            #expect((balance.json["available"] as? NSNumber)?.int64Value == 600)
            #expect(try await api.call(.get, "/v1/customers/\(ann)/memberships", token: admin).array.first?["tier"] as? String == "Gold")

            _ = try await api.call(
                .post, "/v1/member-logins", token: admin, body: ["customerId": ann, "email": "ann@x.com", "password": "password1"])
            let member = try await api.logIn("ann@x.com", "password1")
            #expect(try await api.call(.get, "/v1/members/\(annMember)/balance", token: member).status == 200)
            #expect(try await api.call(.get, "/v1/members/\(bobMember)/balance", token: member).status == 404)
            #expect(try await api.call(.get, "/v1/customers/\(bob)/memberships", token: member).status == 404)
            let redeemed = try await api.call(
                .post, "/v1/members/\(annMember)/redemptions", token: member, body: ["points": 250, "reference": "mug"])
            #expect(redeemed.status == 201)
            #expect((redeemed.json["points"] as? NSNumber)?.int64Value == -250)
            #expect(try await api.call(.post, "/v1/members/\(bobMember)/redemptions", token: member, body: ["points": 1]).status == 404)
            let tooMuch = try await api.call(.post, "/v1/members/\(annMember)/redemptions", token: member, body: ["points": 10_000])
            #expect(tooMuch.code == "insufficient_points")
            #expect(
                try await api.call(.post, "/v1/members/\(annMember)/adjustments", token: member, body: ["points": 100, "reason": "me"]).status == 403)

            _ = try await patron.access.addUser(email: "agent@x.com", password: "password1", role: .agent)
            _ = try await patron.access.addUser(email: "analyst@x.com", password: "password1", role: .analyst)
            let agent = try await api.logIn("agent@x.com", "password1")
            let analyst = try await api.logIn("analyst@x.com", "password1")
            let goodwill = try await api.call(
                .post, "/v1/members/\(annMember)/adjustments", token: agent, body: ["points": 50, "reason": "late delivery"])
            #expect(goodwill.status == 201)
            #expect(
                try await api.call(.post, "/v1/members/\(annMember)/adjustments", token: analyst, body: ["points": 50, "reason": "x"]).status == 403)
            #expect(
                try await api.call(
                    .post, "/v1/programs", token: agent,
                    body: ["code": "X1", "name": "X", "valuePerThousandPoints": ["amount": 1, "currency": "USD"]]
                ).status == 403)
            let statement = try await api.call(
                .get, "/v1/members/\(annMember)/statement?from=2025-01-01T00:00:00Z&to=2030-01-01T00:00:00Z", token: analyst)
            #expect(statement.status == 200)
            #expect((statement.json["movements"] as? [[String: Any]])?.compactMap { ($0["points"] as? NSNumber)?.int64Value } == [600, -250, 50])
            #expect((statement.json["closing"] as? NSNumber)?.int64Value == 400)
            #expect(try await patron.loyalty.verify().isHealthy)
        }
    }
}

@Suite("Promotions, rewards and members' own operations over the API")
struct CatalogueAPITests {
    @Test(
        "A manager runs a promotion and a catalogue; a member joins, earns, redeems, cancels, gives points and refers a friend",
        arguments: TestEngine.available)
    func walkthrough(engine: TestEngine) async throws {
        try await withAPI(engine) { api, patron, admin in
            let program = try #require(
                try await api.call(
                    .post, "/v1/programs", token: admin,
                    body: [
                        "code": "NW", "name": "Northwind", "valuePerThousandPoints": ["amount": 1000, "currency": "USD"], "expiryMonths": 24,
                        "earningRules": ["pointsPerUnit": 1], "tiers": [["name": "Blue", "threshold": 0], ["name": "Gold", "threshold": 1000]],
                        "tierPeriod": "calendar_year", "transferLimitPerYear": 100, "referralPoints": 50,
                    ]
                ).id)
            let reward = try await api.call(
                .post, "/v1/programs/\(program)/rewards", token: admin,
                body: ["code": "coffee", "name": "A coffee", "kind": "product", "pointsPrice": 150, "stock": 5])
            #expect(reward.status == 201 && reward.json["code"] as? String == "COFFEE")
            let rewardID = try #require(reward.id)
            let badRule = try await api.call(
                .post, "/v1/programs/\(program)/promotions", token: admin,
                body: [
                    "code": "WINE", "name": "Wine", "startsAt": "2025-01-01T00:00:00Z", "endsAt": "2027-01-01T00:00:00Z",
                    "criteria": "purchase.category ==", "action": ["kind": "multiplier", "percent": 300],
                ])
            #expect(badRule.status == 422)
            #expect((badRule.json["errors"] as? [[String: Any]])?.first?["field"] as? String == "criteria")
            let promotion = try await api.call(
                .post, "/v1/programs/\(program)/promotions", token: admin,
                body: [
                    "code": "DOUBLE", "name": "Double points", "startsAt": "2025-01-01T00:00:00Z", "endsAt": "2027-01-01T00:00:00Z",
                    "action": ["kind": "multiplier", "percent": 200], "budgetPoints": 10_000,
                ])
            #expect(promotion.status == 201)
            let promotionID = try #require(promotion.id)

            // A member signs up on their own and buys.
            let ann = try #require(try await api.call(.post, "/v1/customers", token: admin, body: ["firstName": "Ann", "lastName": "Lee"]).id)
            let bob = try #require(try await api.call(.post, "/v1/customers", token: admin, body: ["firstName": "Bob", "lastName": "Ray"]).id)
            _ = try await api.call(
                .post, "/v1/member-logins", token: admin, body: ["customerId": ann, "email": "ann@x.com", "password": "password1"])
            let token = try await api.logIn("ann@x.com", "password1")
            let joined = try await api.call(.post, "/v1/programs/\(program)/join", token: token)
            #expect(joined.status == 201)
            let annMember = try #require(joined.id)
            #expect(try await api.call(.post, "/v1/programs/\(program)/join", token: admin).status == 403)
            // A partner signs up its guests with a key scoped to enrolment; a key without the scope cannot.
            _ = try await api.call(
                .put, "/v1/partners/HOTEL", token: admin,
                body: ["name": "Hotel", "outlets": ["HOTEL-1"], "currency": "USD", "pricePerThousandPoints": 500, "payoutPerVoucher": 0])
            let partnerKey = try #require(
                try await api.call(
                    .post, "/v1/api-keys", token: admin, body: ["name": "front-desk", "partner": "Hotel", "scopes": ["members:enroll"]]
                )
                .json["key"] as? String)
            let posKey = try #require(
                try await api.call(.post, "/v1/api-keys", token: admin, body: ["name": "till", "partner": "Hotel", "scopes": ["transactions:write"]])
                    .json["key"] as? String)
            #expect(try await api.call(.post, "/v1/programs/\(program)/members", token: posKey, body: ["customerId": bob]).status == 403)
            let bobMember = try #require(
                try await api.call(.post, "/v1/programs/\(program)/members", token: partnerKey, body: ["customerId": bob]).id)
            let receipt = try await api.call(
                .post, "/v1/transactions", token: admin,
                body: ["transactionId": "P-1", "customerId": ann, "occurredAt": "2026-01-01T00:00:00Z", "amount": 30_000])
            let points = try #require((receipt.json["points"] as? [[String: Any]])?.first)
            #expect((points["points"] as? NSNumber)?.int64Value == 600)
            #expect(((points["breakdown"] as? [[String: Any]])?.map { $0["source"] as? String }) == ["base", "promotion DOUBLE"])
            let results = try await api.call(.get, "/v1/promotions/\(promotionID)", token: admin)
            #expect(((results.json["results"] as? [String: Any])?["points"] as? NSNumber)?.int64Value == 300)

            // The catalogue, a redemption, its cancellation.
            let catalogue = try await api.call(.get, "/v1/members/\(annMember)/catalogue", token: token)
            #expect(catalogue.array.first?["available"] as? Bool == true)
            let voucher = try await api.call(.post, "/v1/members/\(annMember)/vouchers", token: token, body: ["rewardId": rewardID])
            #expect(voucher.status == 201 && voucher.json["status"] as? String == "issued")
            let voucherID = try #require(voucher.id)
            #expect(try await api.call(.post, "/v1/vouchers/\(voucherID)/use", token: token).status == 403, "a member cannot honour a voucher")
            let cancelled = try await api.call(.post, "/v1/vouchers/\(voucherID)/cancel", token: token)
            #expect(cancelled.json["status"] as? String == "cancelled")
            #expect(try await api.call(.post, "/v1/vouchers/\(voucherID)/cancel", token: token).code == "voucher_closed")
            #expect((try await api.call(.get, "/v1/members/\(annMember)/balance", token: token).json["available"] as? NSNumber)?.int64Value == 600)

            // Giving points: within the limit, and only their own.
            let gift = try await api.call(.post, "/v1/members/\(annMember)/transfers", token: token, body: ["toMemberId": bobMember, "points": 80])
            #expect(gift.status == 201)
            let tooMuch = try await api.call(
                .post, "/v1/members/\(annMember)/transfers", token: token, body: ["toMemberId": bobMember, "points": 30])
            #expect(tooMuch.code == "limit_exceeded")
            #expect(
                try await api.call(.post, "/v1/members/\(bobMember)/transfers", token: token, body: ["toMemberId": annMember, "points": 1]).status
                    == 404)

            // Refer a friend; the tier endpoint shows progress to Gold by year end.
            let carol = try #require(try await api.call(.post, "/v1/customers", token: admin, body: ["firstName": "Cy", "lastName": "Fox"]).id)
            #expect(try await api.call(.post, "/v1/members/\(annMember)/referrals", token: token, body: ["friendCustomerId": carol]).status == 201)
            let tier = try await api.call(.get, "/v1/members/\(annMember)/tier", token: token)
            #expect(tier.json["nextTier"] as? String == "Gold")
            #expect((tier.json["missingPoints"] as? NSNumber)?.int64Value == 700)
            #expect(tier.json["by"] as? String == "2027-01-01T00:00:00Z")
            let statement = try await api.call(
                .get, "/v1/members/\(annMember)/statement?from=2025-01-01T00:00:00Z&to=2027-01-01T00:00:00Z", token: token)
            #expect((statement.json["tier"] as? [String: Any])?["nextTier"] as? String == "Gold")

            // A simulation reads and writes nothing.
            let before = try await patron.loyalty.verify().transfers
            let simulation = try await api.call(
                .post, "/v1/programs/\(program)/simulations", token: admin,
                body: [
                    "months": 12,
                    "promotion": [
                        "code": "BIG", "name": "Big baskets", "startsAt": "2026-01-01T00:00:00Z", "endsAt": "2026-02-01T00:00:00Z",
                        "criteria": "purchase.amount >= 100", "action": ["kind": "fixed", "points": 40],
                    ],
                ])
            #expect(simulation.json["matched"] as? Int == 1)
            #expect((simulation.json["cost"] as? [String: Any])?["amount"] as? Int == 40)
            #expect(try await patron.loyalty.verify().transfers == before)
            #expect(try await api.call(.post, "/v1/promotions/\(promotionID)/end", token: admin).status == 200)

            // Cards: staff issue them; the member blocks a lost one.
            #expect(try await api.call(.post, "/v1/members/\(annMember)/cards", token: token, body: [:]).status == 403)
            let card = try await api.call(
                .post, "/v1/members/\(annMember)/cards", token: admin, body: ["fee": ["amount": 1500, "currency": "USD"], "validityYears": 1])
            #expect(card.status == 201 && card.json["kind"] as? String == "paid")
            let cardID = try #require(card.id)
            let blocked = try await api.call(.post, "/v1/cards/\(cardID)/block", token: token, body: ["reason": "lost"])
            #expect(blocked.json["status"] as? String == "blocked")
            #expect(try await api.call(.get, "/v1/members/\(annMember)/cards", token: token).array.count == 1)
        }
    }
}
