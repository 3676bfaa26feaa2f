import App
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
            tiers: TierPolicy(tiers: [.init(name: "Blue", threshold: 0), .init(name: "Gold", threshold: 100)]))
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
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("earn-\(UUID().uuidString).csv").path
            try "transaction_id,customer_id,date,amount,channel\nI-1,\(ann.id),2026-01-02,120.50,web\nI-2,\(bob.id),2026-01-02,50,store\n"
                .write(toFile: path, atomically: true, encoding: .utf8)
            let report = try await TransactionImporter(patron: patron).run(file: path) { Issue.record("rejected \($0)") }
            #expect(report.created == 2)
            #expect(try await patron.loyalty.balance(of: member.id).ledger == 145)
            _ = try await TransactionImporter(patron: patron).run(file: path) { _ in }
            #expect(try await patron.loyalty.balance(of: member.id).ledger == 145)
        }
    }
}
