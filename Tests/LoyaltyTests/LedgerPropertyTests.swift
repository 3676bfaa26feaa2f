import App
import Foundation
import Loyalty
import PropertyBased
import SharedModels
import TestSupport
import Testing

@Suite("Ledger invariants under random histories")
struct LedgerPropertyTests {
    /// Runs a random sequence of earn / redeem / return / expire / adjust / replay / transfer to
    /// another member / tier review and checks every ledger invariant after each step.
    static func check(_ engine: TestEngine, cases: Int) async {
        await propertyCheck(count: cases, input: Gen.int(in: 0...1_000_000).array(of: 1...30), Gen.bool) { steps, pendingWindow in
            try await LedgerFixture.run(engine, expiryMonths: 2, pendingDays: pendingWindow ? 7 : 0) { f in
                let policy = try! TierPolicy(tiers: [
                    .init(name: "Blue", threshold: 0), .init(name: "Silver", threshold: 300), .init(name: "Gold", threshold: 900),
                ])
                try await f.ledger.configure(f.program.id, rules: nil, tiers: policy)
                try await f.ledger.setMemberOptions(of: f.program.id, transferLimitPerYear: 1_000, referralPoints: nil)
                let friend = try await f.newMember("Friend")
                var earned: [(reference: String, points: Int64)] = []
                for (index, step) in steps.enumerated() {
                    let value = Int64(step / 7)
                    let before = try await f.balance()
                    switch step % 9 {
                    case 0, 1:
                        let points = 1 + value % 500
                        _ = try await f.ledger.earn(
                            points, to: f.member, reference: "T\(index)", idempotencyKey: "earn-\(index)", pending: step % 2 == 0)
                        _ = try await f.ledger.earn(points, .qualifying, to: f.member, reference: "T\(index)", idempotencyKey: "q-\(index)")
                        earned.append(("T\(index)", points))
                    case 2:
                        let points = 1 + value % 400
                        do {
                            _ = try await f.ledger.redeem(points, from: f.member, reference: "R\(index)", idempotencyKey: "redeem-\(index)")
                            #expect(points <= before.available)
                        } catch LoyaltyError.insufficientPoints(let available, let requested) {
                            #expect(available == before.available && requested == points && points > available)
                        }
                    case 3 where !earned.isEmpty:
                        let purchase = earned[Int(value) % earned.count]
                        let returned = 1 + value % 100
                        let result = try await f.ledger.clawBack(
                            purchase: purchase.reference, returned: returned, of: 100, from: f.member, idempotencyKey: "return-\(index)")
                        #expect(result.taken + result.debt <= purchase.points)
                    case 4:
                        f.clock.advance(by: TimeInterval(value % 45) * 86_400)
                        _ = try await f.ledger.expire()
                        let swept = try await f.balance()
                        #expect(swept.nextExpiry.map { $0.on > f.clock.now } ?? true, "nothing spendable is past its expiry")
                        #expect(expiredButUnprocessed(swept) == 0, "after the expiry job, every point is available or pending")
                    case 5:
                        let points = (value % 2 == 0 ? 1 : -1) * (1 + value % 50)
                        do {
                            _ = try await f.ledger.adjust(points, for: f.member, memo: "test", by: "prop", idempotencyKey: "adj-\(index)")
                        } catch LoyaltyError.insufficientPoints {
                            #expect(-points > before.available)
                        }
                    case 7:
                        let points = 1 + value % 300
                        let friendBefore = try await f.ledger.balance(of: friend.id)
                        do {
                            _ = try await f.ledger.transfer(points, from: f.member, to: friend.id, idempotencyKey: "gift-\(index)")
                            #expect(points <= before.available)
                            #expect(try await f.ledger.balance(of: friend.id).available == friendBefore.available + points)
                        } catch LoyaltyError.insufficientPoints {
                            #expect(points > before.available)
                        } catch LoyaltyError.limitExceeded {
                            // Over the yearly limit: nothing moved.
                            #expect(try await f.balance().ledger == before.ledger)
                        }
                    case 8:
                        let tier = try await f.ledger.member(f.member).tier ?? "Blue"
                        let review = try await f.ledger.reviewTiers(of: f.program.id)
                        let after = try await f.ledger.member(f.member).tier ?? "Blue"
                        let rank = { (name: String) in policy.tiers.firstIndex { $0.name == name } ?? 0 }
                        if review.notBefore == nil {
                            // Down at most one tier; up only to the tier the period's points earn (earnings here bypass the
                            // purchase path that upgrades at once).
                            #expect(rank(after) >= rank(tier) - 1, "\(tier) → \(after)")
                            if rank(after) > rank(tier) {
                                let points = try await f.ledger.tierProgress(of: f.member)?.qualifyingPoints ?? 0
                                #expect(after == policy.tier(for: points).name)
                            }
                        } else {
                            #expect(after == tier, "a review inside the period changes nothing")
                        }
                    default:
                        // Replaying an earlier earning changes nothing.
                        if let last = earned.last {
                            let key = "earn-\(last.reference.dropFirst())"
                            _ = try await f.ledger.earn(last.points, to: f.member, reference: last.reference, idempotencyKey: key)
                            #expect(try await f.balance().ledger == before.ledger)
                        }
                    }
                    let after = try await f.balance()
                    #expect(after.available >= 0 && after.pending >= 0 && after.ledger >= 0)
                    #expect(expiredButUnprocessed(after) >= 0)
                    let report = try await f.ledger.verify()
                    #expect(report.violations == [], "after step \(index) (\(step % 9))")
                }
            }
        }
    }

    /// Lots past their date but not yet swept by the expiry job are in the ledger balance, not in available or pending.
    static func expiredButUnprocessed(_ balance: Balance) -> Int64 { balance.ledger - balance.available - balance.pending }

    @Test("Invariants hold after every step of random histories on SQLite")
    func sqlite() async { await Self.check(.sqlite, cases: 60) }

    @Test("Invariants hold after every step of random histories on PostgreSQL", .enabled(if: TestEngine.available.contains(.postgres)))
    func postgres() async { await Self.check(.postgres, cases: 12) }
}
