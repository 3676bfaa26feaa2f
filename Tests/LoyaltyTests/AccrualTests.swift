import App
import Customers
import Foundation
import Loyalty
import SharedModels
import TestSupport
import Testing

@Suite("Accrual on recorded transactions")
struct AccrualTests {
    @Test("A purchase earns by the rules, lifts the tier at once, pays once, and its return takes the points back", arguments: TestEngine.available)
    func purchaseAndReturn(engine: TestEngine) async throws {
        try await LedgerFixture.run(engine, pendingDays: 0) { f in
            try await f.ledger.configure(
                f.program.id,
                rules: EarningRules(
                    pointsPerUnit: 10, categoryPercent: ["wine": 200], tierPercent: ["Silver": 125],
                    bonuses: [
                        try BonusRule(
                            name: "Silver wine", criteria: #"member.tier == "Silver" and "wine" in purchase.categories"#, action: .fixed(100))
                    ]),
                tiers: try! TierPolicy(tiers: [.init(name: "Blue", threshold: 0), .init(name: "Silver", threshold: 1000)]))
            let member = try await f.ledger.member(f.member)
            #expect(member.tier == "Blue")
            let customer = member.customerID
            func record(_ id: String, _ kind: TransactionDetails.Kind = .purchase, original: String? = nil, lines: [(String, Int64)]) async throws
                -> Transaction
            {
                let details = TransactionDetails(
                    externalID: id, kind: kind, occurredAt: f.clock.now, amount: Money(minorUnits: lines.reduce(0) { $0 + $1.1 }, currency: "USD"),
                    originalExternalID: original, lines: lines.map { .init(product: $0.0, category: $0.0, amount: $0.1) })
                let outcome = try await f.patron.customers.submit(
                    details, identifiers: [CustomerIdentifier(kind: .customerID, value: String(customer.rawValue))])
                guard case .recordedTransaction(let transaction, _) = outcome else { throw LoyaltyError.invalid([]) }
                return transaction
            }
            // 60.00 of wine at 10 points a dollar, doubled: 1,200 base points → Silver.
            let first = try await record("T1", lines: [("wine", 6_000)])
            let results = try await f.ledger.accrue(first, original: nil)
            #expect(results.first?.accrual?.total == 1_200)
            #expect(results.first?.newTier == "Silver")
            #expect(try await f.ledger.member(f.member).tier == "Silver")
            #expect(try await f.ledger.balance(of: f.member).available == 1_200)
            #expect(try await f.ledger.balance(of: f.member, .qualifying).available == 1_200)
            // Replaying the same transaction pays nothing more.
            _ = try await f.ledger.accrue(first, original: nil)
            #expect(try await f.ledger.balance(of: f.member).available == 1_200)
            // As Silver: 20.00 of wine = 400 base, +25% tier, +100 bonus.
            let second = try await record("T2", lines: [("wine", 2_000)])
            #expect(try await f.ledger.accrue(second, original: nil).first?.accrual?.parts.map(\.points) == [400, 100, 100])
            #expect(try await f.ledger.balance(of: f.member).available == 1_800)
            // Returning half of the first purchase takes back half of what it earned.
            let refund = try await record("T1-R", .return, original: "T1", lines: [("wine", 3_000)])
            let taken = try await f.ledger.accrue(refund, original: first)
            #expect(taken.first?.clawBack?.taken == 600)
            #expect(try await f.ledger.balance(of: f.member).available == 1_200)
            #expect(try await f.ledger.balance(of: f.member, .qualifying).available == 1_000)
        }
    }
}
