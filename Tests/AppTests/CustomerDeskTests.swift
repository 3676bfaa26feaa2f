import Access
import Analytics
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

/// The Customer 360 as an agent uses it on a call (#17): the facts to check who is calling,
/// actions ranked with their reasons, churn drivers in words, and a timeline paged and filtered.
@Suite struct CustomerDeskTests {
    static let until = Date(epochSeconds: 1_767_225_600)

    @Test("the 360 shows address, birth date, cards and membership; next best actions with reasons; drivers in words; a paged, filtered timeline")
    func customer360() async throws {
        try await TestDatabase.withPatron(.sqlite, clock: TestClock(Self.until)) { p in
            _ = try await DemoCompany(customers: 150, seed: 8, until: Self.until).load(into: p)
            _ = try await p.intelligence.score()
            let all = try await p.customers.list(CustomerListQuery(limit: 500)).items
            // The busiest member: the one with the longest history.
            var best: (Customer, Int)? = nil
            for c in all where !(try await p.loyalty.memberships(of: c.id)).isEmpty {
                let n = try await p.customers.timeline(of: c.id, limit: PageSize(100)).count
                if n > (best?.1 ?? 0) { best = (c, n) }
            }
            let (customer, entries) = try #require(best)
            #expect(entries > 25, "the demo's busiest member has more than a page of history")
            let app = Application(router: try buildRouter(patron: p))
            try await app.test(.router) { client in
                let agent = try await WebVisitor.signIn(client, "console", "email=agent%40northwind.example&password=\(DemoCompany.adminPassword)")
                let page = try await agent.get("/console/customers/\(customer.id)").body
                for label in ["Birth date", "Address", "Membership number", "Next best actions", "Customer number"] {
                    #expect(page.contains(label), "\(label) is missing")
                }
                let membership = try #require(try await p.loyalty.memberships(of: customer.id).first)
                #expect(page.contains(membership.number))
                #expect(!page.contains("tenure_days") && !page.contains("recency_days"), "drivers are sentences")
                #expect(page.matches(of: /<li><time>/).count == 25)
                let older = try #require(page.firstMatch(of: /href="(\/console\/customers\/\d+\?before=\d+)#timeline-h"/)).output.1
                let next = try await agent.get(String(older)).body
                #expect(next.matches(of: /<li><time>/).count > 0 && next.contains("Newest"))
                let purchases = try await agent.get("/console/customers/\(customer.id)?show=transaction").body
                let tags = purchases.matches(of: /<span class="tag">([^<]+)<\/span>/).map { String($0.output.1) }
                #expect(!tags.isEmpty && tags.allSatisfy { $0 == "Transaction" }, "\(Set(tags))")
                // Why a purchase did or did not earn each promotion.
                #expect(page.contains("/console/customers/\(customer.id)/points-check"))
                let check = try await agent.get("/console/customers/\(customer.id)/points-check")
                #expect(check.status == .ok && check.body.contains("<th scope=\"col\">Why</th>"))
                #expect(check.body.contains("Applied") || check.body.contains("Did not apply") || check.body.contains("has no promotions"))
            }
        }
    }

    @Test("an agent does the caller's member services from the 360: details, enrolment, a card blocked and replaced, a reward, a consent, do-not-contact", arguments: TestEngine.available)
    func memberServices(engine: TestEngine) async throws {
        try await TestDatabase.withPatron(engine, clock: TestClock(Self.until)) { p in
            _ = try await DemoCompany(customers: 40, seed: 21, until: Self.until).load(into: p)
            let caller = try await p.customers.create(ProfileDraft(firstName: "Nia", lastName: "Long", emails: ["nia@x.com"]))
            let program = try #require(try await p.loyalty.programs().first)
            let app = Application(router: try buildRouter(patron: p))
            try await app.test(.router) { client in
                let agent = try await WebVisitor.signIn(client, "console", "email=agent%40northwind.example&password=\(DemoCompany.adminPassword)")
                let page = "/console/customers/\(caller.id)"
                func act(_ task: String, _ form: String) async throws -> String {
                    let r = try await agent.post("\(page)/service/\(task)", form, tokenPage: page)
                    return r.body
                }
                #expect(try await act("profile", "first_name=Nia&last_name=Long&line1=1+High+St&postal_code=LS1&city=Leeds&country=GB&phone=%2B15550100999")
                    .contains("Details saved."))
                let updated = try await p.customers.customer(caller.id)
                #expect(updated.profile.addresses.first?.city == "Leeds" && updated.profile.phones.first?.value == "+15550100999")
                let bad = try await agent.post("\(page)/service/profile", "birth_date=31-02-1990", tokenPage: page)
                #expect(bad.status == .unprocessableContent && bad.body.contains("Birth date:") && !bad.body.contains("birthDate"))

                #expect(try await act("enrol", "program=\(program.id)").contains("Enrolled in \(program.name)"))
                let member = try #require(try await p.loyalty.memberships(of: caller.id).first)
                #expect(try await act("card", "member=\(member.id)").contains("issued"))
                let card = try #require(try await p.loyalty.cards(of: member.id).first)
                #expect(try await act("block-card", "member=\(member.id)&card=\(card.id)").contains("blocked"))
                let other = try #require(try await p.loyalty.memberships(of: CustomerID(1)).first)
                let foreign = try await act("block-card", "member=\(other.id)&card=\(card.id)")
                #expect(foreign.contains("Choose one of this customer"), "another customer's membership is refused")

                _ = try await p.loyalty.adjust(5_000, for: member.id, memo: "test", by: "test", idempotencyKey: nil)
                let reward = try #require(try await p.loyalty.catalogue(for: member.id).first { $0.unavailable == nil }?.reward)
                #expect(try await act("redeem", "member=\(member.id)&reward=\(reward.id)").contains("voucher code"))

                #expect(try await act("consent", "purpose=marketing&channel=email&granted=yes").contains("Recorded: marketing by email — yes"))
                #expect(try await act("do-not-contact", "channel=sms&reason=asked").contains("Do not contact by sms"))
                let consents = try await p.customers.consents(of: caller.id)
                #expect(consents.blocks.contains { $0.channel == .sms && $0.clearedAt == nil })

                // A purchase that found no one (an unknown card) is linked by its receipt number and earns its points.
                let (held, _) = try await p.intake.submit(
                    TransactionDetails(externalID: "POS/77-1", occurredAt: Self.until, amount: Money(minorUnits: 4_000, currency: "USD"), store: "S01"),
                    identifiers: [CustomerIdentifier(kind: .card, value: "NOSUCHCARD99")])
                guard case .unmatched = held else { Issue.record("the purchase should wait unmatched: \(held)"); return }
                let before = try await p.loyalty.balance(of: member.id).ledger
                let linked = try await act("link-purchase", "receipt=POS%2F77-1")
                #expect(linked.contains("Receipt POS/77-1 is now this customer&#39;s: "))
                #expect(try await p.loyalty.balance(of: member.id).ledger > before, "it earned its points")
                #expect(try await act("link-purchase", "receipt=POS%2F77-1").contains("is waiting to be linked"), "linked once")

                // An analyst reads the 360 but does none of it.
                let analyst = try await WebVisitor.signIn(client, "console", "email=analyst%40northwind.example&password=\(DemoCompany.adminPassword)")
                let refused = try await analyst.send("\(page)/service/do-not-contact", "channel=email")
                #expect(refused.status == .forbidden)
            }
        }
    }
}
