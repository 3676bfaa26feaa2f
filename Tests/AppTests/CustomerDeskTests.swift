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
}
