import Access
import App
import Campaigns
import Customers
import Demo
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Loyalty
import Sales
import NIOCore
import SharedModels
import Support
import TestSupport
import Testing

/// The console's lists through the real router on the demo company: paged with the count,
/// sorted by any sortable column both ways, filtered, searched by what an agent has in hand, and
/// saved as views per user.
@Suite struct ListViewTests {
    static let until = Date(epochSeconds: 1_767_225_600)

    static func names(_ html: String) -> [String] {
        html.matches(of: /<td><a href="\/console\/customers\/\d+">([^<]+)<\/a><\/td>/).map { String($0.output.1) }
    }

    @Test("/console/customers without a query lists every customer, 50 a page, with the total; sorting and filters page the whole list", arguments: TestEngine.available)
    func customers(engine: TestEngine) async throws {
        try await TestDatabase.withPatron(engine, clock: TestClock(Self.until)) { p in
            _ = try await DemoCompany(customers: 130, seed: 3, until: Self.until).load(into: p)
            let total = try await p.customers.list(CustomerListQuery(limit: 1)).total
            #expect(total >= 130)
            let app = Application(router: try buildRouter(patron: p))
            try await app.test(.router) { client in
                let agent = try await WebVisitor.signIn(client, "console", "email=agent%40northwind.example&password=\(DemoCompany.adminPassword)")
                let first = try await agent.get("/console/customers")
                #expect(first.status == .ok)
                #expect(first.body.contains("Showing 1–50 of \(total) customers"), "\(first.body.prefix(2000))")
                let page1 = Self.names(first.body)
                #expect(page1.count == 50)
                // Every customer appears exactly once across the pages.
                var seen: [String] = page1
                var page = 2
                while seen.count < total {
                    let next = try await agent.get("/console/customers?page=\(page)")
                    let names = Self.names(next.body)
                    #expect(!names.isEmpty, "page \(page) is empty")
                    if names.isEmpty { break }
                    seen += names
                    page += 1
                }
                #expect(seen.count == total)
                // Newest first, then oldest first: opposite orders of the same customers.
                let newest = try await p.customers.list(CustomerListQuery(sort: .since, descending: true, limit: 500)).items
                let oldest = try await p.customers.list(CustomerListQuery(sort: .since, descending: false, limit: 500)).items
                #expect(newest.map(\.id) == oldest.map(\.id).reversed())
                let sorted = try await agent.get("/console/customers?sort=since&dir=desc")
                #expect(sorted.body.contains(#"aria-sort="descending""#))
                #expect(Self.names(sorted.body).first == newest.first?.displayName)
                // A filter narrows the count; a bad filter value or sort column is ignored, never an error.
                let store = try #require(newest.compactMap(\.profile.homeStore).first)
                let inStore = newest.filter { $0.profile.homeStore == store }.count
                let filtered = try await agent.get("/console/customers?home_store=\(store)")
                #expect(filtered.body.contains("of \(inStore) customer"), "\(store): \(inStore)")
                #expect(try await agent.get("/console/customers?sort=drop%20table&dir=sideways&page=-4").status == .ok)
                // A partial phone in any format, a membership number and a card find their customer.
                let withPhone = try #require(newest.first { !$0.profile.phones.isEmpty })
                let phone = withPhone.profile.phones[0].value
                let tail = String(phone.suffix(7))
                let typed = tail.prefix(3) + "-" + tail.suffix(4)
                let byPhone = try await agent.get("/console/customers?q=\(typed)")
                #expect(byPhone.body.contains("/console/customers/\(withPhone.id)\""), "\(typed)")
                var found: Member?
                for c in newest where found == nil { found = try await p.loyalty.memberships(of: c.id).first }
                let member = try #require(found)
                let byNumber = try await agent.get("/console/customers?q=\(member.number)")
                #expect(byNumber.body.contains("/console/customers/\(member.customerID)\""), "\(member.number)")
                // A view is saved per user, and shown on the list again.
                let saved = try await agent.post(
                    "/console/views", "path=%2Fconsole%2Fcustomers&query=sort%3Dsince%26dir%3Ddesc&name=Newest", tokenPage: "/console/customers")
                #expect(saved.status == .seeOther || saved.status == .ok)
                let again = try await agent.get("/console/customers")
                #expect(again.body.contains(#"<a href="/console/customers?sort=since&amp;dir=desc">Newest</a>"#) || again.body.contains(">Newest</a>"))
                let other = try await WebVisitor.signIn(client, "console", "email=agent2%40northwind.example&password=\(DemoCompany.adminPassword)")
                #expect(!(try await other.get("/console/customers").body.contains(">Newest</a>")))
            }
        }
    }

    @Test("the header's search finds a customer by membership number, partial phone or receipt, and opens the 360 when only one matches")
    func globalSearch() async throws {
        try await TestDatabase.withPatron(.sqlite, clock: TestClock(Self.until)) { p in
            _ = try await DemoCompany(customers: 60, seed: 5, until: Self.until).load(into: p)
            let all = try await p.customers.list(CustomerListQuery(limit: 500)).items
            var found: Member?
            for c in all where found == nil { found = try await p.loyalty.memberships(of: c.id).first }
            let member = try #require(found)
            var receipt: Transaction?
            for c in all where receipt == nil { receipt = try await p.customers.transactions(of: c.id, after: nil, limit: 1).items.first }
            let sale = try #require(receipt)
            let app = Application(router: try buildRouter(patron: p))
            try await app.test(.router) { client in
                let agent = try await WebVisitor.signIn(client, "console", "email=agent%40northwind.example&password=\(DemoCompany.adminPassword)")
                let home = try await agent.get("/console/")
                #expect(home.body.contains(#"action="/console/search""#), "the search is in the header")
                try await client.execute(uri: "/console/search?q=\(member.number.lowercased())", method: .get, headers: [.cookie: agent.cookie]) { r in
                    #expect(r.status == .seeOther && r.headers[.location] == "/console/customers/\(member.customerID)")
                }
                try await client.execute(uri: "/console/search?q=\(sale.details.externalID)", method: .get, headers: [.cookie: agent.cookie]) { r in
                    #expect(r.status == .seeOther && r.headers[.location] == "/console/customers/\(sale.customerID)", "\(r.status)")
                }
                let none = try await agent.get("/console/search?q=zzzzqqq")
                #expect(none.status == .ok && none.body.contains("Nothing matches"))
                let many = try await agent.get("/console/search?q=a")
                #expect(many.status == .ok && many.body.contains("Found by"))
            }
        }
    }

    @Test("the campaign list filters by status and owner, searches names, and sorts either way")
    func campaigns() async throws {
        try await TestDatabase.withPatron(.sqlite, clock: TestClock(Self.until)) { p in
            let segment = try await p.segments.create(SegmentDraft(name: "All", rule: "true"), owner: "mia@x.com")
            for (n, owner) in [("Alpha", "mia@x.com"), ("Bravo", "max@x.com"), ("Charlie", "mia@x.com")] {
                var plan = CampaignTests.plan(segment: segment.id.rawValue, start: Self.until)
                plan.name = n
                let c = try await p.campaigns.create(plan, owner: owner)
                if n == "Bravo" { _ = try await p.campaigns.launch(c.id) }
            }
            _ = try await p.access.addUser(email: "an@x.com", password: "password1", role: .analyst)
            let app = Application(router: try buildRouter(patron: p))
            try await app.test(.router) { client in
                let analyst = try await WebVisitor.signIn(client, "console", "email=an%40x.com&password=password1")
                func names(_ query: String) async throws -> [String] {
                    let body = try await analyst.get("/console/campaigns?\(query)").body
                    return body.matches(of: /<td><a href="\/console\/campaigns\/\d+">([^<]+)<\/a><\/td>/).map { String($0.output.1) }
                }
                #expect(try await names("sort=name&dir=asc") == ["Alpha", "Bravo", "Charlie"])
                #expect(try await names("sort=name&dir=desc") == ["Charlie", "Bravo", "Alpha"])
                #expect(try await names("status=running") == ["Bravo"])
                #expect(try await names("owner=mia%40x.com&sort=name") == ["Alpha", "Charlie"])
                #expect(try await names("q=arl") == ["Charlie"])
                #expect(try await analyst.get("/console/campaigns?status=nonsense").body.contains("No campaigns match."))
            }
        }
    }

    @Test("Regression (#17): the service desk pages its requests with the count instead of stopping silently at 200", arguments: TestEngine.available)
    func serviceDesk(engine: TestEngine) async throws {
        try await TestDatabase.withPatron(engine, clock: TestClock(Self.until)) { p in
            let c = try await p.customers.create(ProfileDraft(firstName: "Al", lastName: "Busy"))
            for n in 0..<60 {
                _ = try await p.support.open(
                    customer: c.id.rawValue, kind: .question, subject: "Question \(n)", description: "?", channel: .call, by: "a@x.com", byCustomer: false)
            }
            _ = try await p.access.addUser(email: "ag@x.com", password: "password1", role: .agent)
            let app = Application(router: try buildRouter(patron: p))
            try await app.test(.router) { client in
                let agent = try await WebVisitor.signIn(client, "console", "email=ag%40x.com&password=password1")
                let first = try await agent.get("/console/service").body
                #expect(first.contains("Showing 1–50 of 60 requests"))
                #expect(first.matches(of: /<tr><td><a href="\/console\/service\/\d+">/).count == 50)
                let second = try await agent.get("/console/service?view=open&page=2").body
                #expect(second.contains("Showing 51–60 of 60 requests") && second.contains("rel=\"prev\""))
                #expect(second.matches(of: /<tr><td><a href="\/console\/service\/\d+">/).count == 10)
                // Sortable by priority and by when opened, both ways; the heading says how (aria-sort).
                let urgent = try #require(try await p.support.requests(RequestFilter.open, limit: 100).last)
                _ = try await p.support.update(urgent.id, priority: .urgent, by: "ag@x.com")
                let byPriority = try await agent.get("/console/service?sort=priority&dir=asc").body
                #expect(byPriority.firstMatch(of: /<tr><td><a href="\/console\/service\/(\d+)">/)?.output.1 == Substring(String(urgent.id.rawValue)))
                #expect(byPriority.contains(#"aria-sort="ascending"><a href="/console/service?dir=desc&amp;sort=priority"#) || byPriority.contains(#"aria-sort="ascending""#))
                let newest = try await agent.get("/console/service?sort=opened&dir=desc").body
                let ids = newest.matches(of: /<tr><td><a href="\/console\/service\/(\d+)">/).map { Int(String($0.output.1))! }
                #expect(ids == ids.sorted(by: >) && ids.count == 50)
                #expect(newest.contains("Save this view as"))
            }
        }
    }

    @Test("the users list filters by role and state and searches emails; each user's page changes the role; the audit log shows its count and pages", arguments: TestEngine.available)
    func usersAndAudit(engine: TestEngine) async throws {
        try await TestDatabase.withPatron(engine, clock: TestClock(Self.until)) { p in
            _ = try await DemoCompany(customers: 20, seed: 3, until: Self.until).load(into: p)
            for i in 0..<55 { _ = try await p.access.addUser(email: "temp\(i)@x.com", password: "password1", role: .agent) }
            let users = try await p.access.users()
            let app = Application(router: try buildRouter(patron: p))
            try await app.test(.router) { client in
                let admin = try await WebVisitor.signIn(client, "console", "email=admin%40northwind.example&password=\(DemoCompany.adminPassword)")
                let all = try await admin.get("/console/admin/users")
                #expect(all.body.contains("Showing 1–50 of \(users.count) users"), "\(users.count)")
                let agents = users.filter { $0.role == .agent }.count
                #expect(try await admin.get("/console/admin/users?role=agent").body.contains("of \(agents) users"))
                let found = try await admin.get("/console/admin/users?q=temp4")
                #expect(found.body.contains("of 11 users"), "temp4 and temp40–49")
                let ada = try #require(users.first { $0.email == "temp7@x.com" })
                let page = "/console/admin/users/\(ada.id.rawValue)"
                let changed = try await admin.post(page + "/role", "role=analyst", tokenPage: page)
                #expect(changed.body.contains(#"<dd id="user-role">Analyst</dd>"#) && changed.body.contains("temp7@x.com is now analyst"))
                let off = try await admin.post(page + "/deactivate", "", tokenPage: page)
                #expect(off.body.contains("Deactivated"))
                #expect(try await admin.get("/console/admin/users?state=deactivated").body.contains("of 1 user"))
                // The audit log: the count, and the second page's place in it.
                let events = try await p.access.auditCount(AuditQuery())
                let log = try await admin.get("/console/admin/audit")
                #expect(events > 0 && events < 1_000)
                #expect(log.body.contains("Showing 1–\(min(events, 100)) of \(events) events"), "\(events)")
                let mine = try await admin.get("/console/admin/audit?actor=admin%40northwind.example")
                let own = try await p.access.auditCount(AuditQuery(actor: "admin@northwind.example"))
                #expect(mine.body.contains("of \(own) events"), "\(own)")
                #expect(try await agentRefused(client))
            }
        }
    }

    func agentRefused(_ client: any TestClientProtocol) async throws -> Bool {
        let agent = try await WebVisitor.signIn(client, "console", "email=agent%40northwind.example&password=\(DemoCompany.adminPassword)")
        return try await agent.get("/console/admin/users").status == .forbidden
    }

    @Test("the opportunities and leads lists count, filter by stage, status and owner, and sort by amount")
    func salesLists() async throws {
        try await TestDatabase.withPatron(.sqlite, clock: TestClock(Self.until)) { p in
            _ = try await DemoCompany(customers: 200, seed: 3, until: Self.until).load(into: p)
            let all = try await p.sales.opportunities(OpportunityFilter(), limit: 1_000)
            #expect(all.count > 3, "the demo has a pipeline")
            let leads = try await p.sales.leads(limit: 1_000)
            let app = Application(router: try buildRouter(patron: p))
            try await app.test(.router) { client in
                let rep = try await WebVisitor.signIn(client, "console", "email=sales%40northwind.example&password=\(DemoCompany.adminPassword)")
                let page = try await rep.get("/console/sales/opportunities")
                #expect(page.body.contains("of \(all.count) opportunit"), "\(all.count)")
                let stage = try #require(all.first?.stage)
                let inStage = all.filter { $0.stage == stage }.count
                #expect(try await rep.get("/console/sales/opportunities?stage=\(stage.rawValue)").body.contains("of \(inStage) opportunit"))
                let owner = try #require(all.first?.owner)
                let owned = all.filter { $0.owner == owner }.count
                #expect(try await rep.get("/console/sales/opportunities?owner=\(owner.replacingOccurrences(of: "@", with: "%40"))").body.contains("of \(owned) opportunit"))
                let biggest = try #require(all.filter { $0.amount.currency == all[0].amount.currency }.max { $0.amount.minorUnits < $1.amount.minorUnits })
                let sorted = try await rep.get("/console/sales/opportunities?sort=amount&dir=desc").body
                let firstLink = try #require(sorted.firstMatch(of: /href="\/console\/sales\/opportunities\/(\d+)"/)).output.1
                #expect(all.first { String($0.id.rawValue) == firstLink }?.amount.minorUnits ?? 0 >= biggest.amount.minorUnits || Set(all.map(\.amount.currency)).count > 1)
                let leadPage = try await rep.get("/console/sales/leads")
                #expect(leadPage.body.contains(leads.isEmpty ? "No leads match." : "of \(leads.count) lead"), "\(leads.count)")
            }
        }
    }
}
