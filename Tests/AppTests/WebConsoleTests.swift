import Access
import App
import Customers
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Loyalty
import NIOCore
import SharedModels
import TestSupport
import Testing

/// The web sites through the real router: redirects to each site's login, sessions per site,
/// CSRF, escaping. (The journeys themselves run in a real browser: Tests/Browser.)
@Suite struct WebConsoleTests {
    static func cookie(_ response: TestResponse) -> String? {
        response.headers[values: .setCookie].first.flatMap { $0.split(separator: ";").first.map(String.init) }
    }

    @Test(
        "each site sends strangers to its own login; / leads to the portal's public page; sessions do not cross sites",
        arguments: TestEngine.available)
    func sites(engine: TestEngine) async throws {
        try await TestDatabase.withPatron(engine) { p in
            _ = try await p.access.addUser(email: "ada@x.com", password: "password1", role: .agent)
            let evil = try await p.customers.create(ProfileDraft(firstName: "<script>alert(1)</script>", lastName: "Evil"))
            let ann = try await p.customers.create(ProfileDraft(firstName: "Ann", lastName: "Lee", emails: ["ann@x.com"]))
            _ = try await p.access.createMemberLogin(customerID: ann.id.rawValue, email: "ann@x.com", password: "password1")
            let app = Application(router: try buildRouter(patron: p))
            try await app.test(.router) { client in
                try await client.execute(uri: "/", method: .get) { #expect($0.headers[.location] == "/portal/welcome") }
                for site in ["console", "portal", "partners"] {
                    try await client.execute(uri: "/\(site)/", method: .get) { r in
                        #expect(r.status == .seeOther && r.headers[.location] == "/\(site)/login")
                    }
                }
                try await client.execute(uri: "/portal/welcome", method: .get) { r in
                    #expect(r.status == .ok && String(buffer: r.body).contains("Join now"))
                }
                func logIn(_ site: String, _ email: String) async throws -> String? {
                    try await client.execute(
                        uri: "/\(site)/login", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                        body: ByteBuffer(string: "email=\(email)&password=password1")
                    ) { r in
                        guard r.status == .seeOther else { return nil }
                        let header = r.headers[values: .setCookie].first ?? ""
                        #expect(header.contains("HttpOnly") && header.contains("SameSite=Strict") && header.contains("Path=/\(site)"))
                        return Self.cookie(r)
                    }
                }
                // A member's password does not open the console, and a staff user's not the portal.
                #expect(try await logIn("console", "ann%40x.com") == nil)
                #expect(try await logIn("portal", "ada%40x.com") == nil)
                let staff = try #require(try await logIn("console", "ada%40x.com"))
                let member = try #require(try await logIn("portal", "ann%40x.com"))
                #expect(staff.hasPrefix("patron_console=") && member.hasPrefix("patron_portal="))
                // The member's session is not the console's.
                try await client.execute(
                    uri: "/console/customers/\(evil.id)", method: .get,
                    headers: [.cookie: "patron_console=" + member.dropFirst("patron_portal=".count)]
                ) { #expect($0.status == .seeOther) }
                // Escaped output, and the cookie's flags.
                try await client.execute(uri: "/console/customers/\(evil.id)", method: .get, headers: [.cookie: staff]) { r in
                    let html = String(buffer: r.body)
                    #expect(r.status == .ok)
                    #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; Evil") && !html.contains("<script>alert"))
                    #expect(r.headers[.contentSecurityPolicy]?.contains("default-src 'self'") == true)
                }
                // A form without its CSRF token changes nothing.
                try await client.execute(
                    uri: "/console/customers/\(evil.id)/interactions", method: .post,
                    headers: [.cookie: staff, .contentType: "application/x-www-form-urlencoded"],
                    body: ByteBuffer(string: "channel=call&direction=inbound&subject=forged")
                ) { #expect($0.status == .forbidden) }
                #expect(try await p.customers.interactions(of: evil.id, after: nil, limit: PageSize(10)).items.isEmpty)

                // With the page's token, an agent merges a duplicate (same email) into the customer.
                let twin = try await p.customers.create(ProfileDraft(firstName: "Ann", lastName: "Lee", emails: ["ann@x.com"]))
                let page = try await client.execute(uri: "/console/customers/\(ann.id)", method: .get, headers: [.cookie: staff]) {
                    String(buffer: $0.body)
                }
                #expect(page.contains("Merge Ann Lee into this customer"))
                let csrf = try #require(page.firstMatch(of: /name="_csrf" value="([0-9a-f.]+)"/)).output.1
                let result = try await client.execute(
                    uri: "/console/customers/\(ann.id)/merge", method: .post,
                    headers: [.cookie: staff, .contentType: "application/x-www-form-urlencoded"],
                    body: ByteBuffer(string: "_csrf=\(csrf)&duplicate=\(twin.id)")
                ) { r in
                    #expect(r.status == .seeOther)
                    return r.headers[.location] ?? ""
                }
                try await client.execute(uri: result, method: .get, headers: [.cookie: staff]) { r in
                    #expect(r.status == .ok)
                    #expect(String(buffer: r.body).contains("merged into this one"))
                }
                #expect(try await p.customers.customer(twin.id).status == .merged)
            }
        }
    }

    @Test(
        "an agent opens a complaint from the Customer 360 and answers it; the member follows it in the portal; another member cannot see it",
        arguments: TestEngine.available)
    func serviceDesk(engine: TestEngine) async throws {
        try await TestDatabase.withPatron(engine) { p in
            _ = try await p.access.addUser(email: "ada@x.com", password: "password1", role: .agent)
            _ = try await p.access.addUser(email: "mia@x.com", password: "password1", role: .marketer)
            let ann = try await p.customers.create(ProfileDraft(firstName: "Ann", lastName: "Lee", emails: ["ann@x.com"]))
            let bob = try await p.customers.create(ProfileDraft(firstName: "Bob", lastName: "Ray", emails: ["bob@x.com"]))
            _ = try await p.access.createMemberLogin(customerID: ann.id.rawValue, email: "ann@x.com", password: "password1")
            _ = try await p.access.createMemberLogin(customerID: bob.id.rawValue, email: "bob@x.com", password: "password1")
            let app = Application(router: try buildRouter(patron: p))
            try await app.test(.router) { client in
                func logIn(_ site: String, _ email: String) async throws -> WebVisitor {
                    try await WebVisitor.signIn(client, site, "email=\(email)&password=password1")
                }
                func get(_ uri: String, _ visitor: WebVisitor) async throws -> (HTTPResponse.Status, String) { try await visitor.get(uri) }
                func post(_ uri: String, _ visitor: WebVisitor, _ form: String) async throws -> (HTTPResponse.Status, String, String?) {
                    try await visitor.post(uri, form, tokenPage: uri.hasPrefix("/portal") ? "/portal/help" : "/console/")
                }
                let ada = try await logIn("console", "ada%40x.com")
                let mia = try await logIn("console", "mia%40x.com")
                let annCookie = try await logIn("portal", "ann%40x.com")
                let bobCookie = try await logIn("portal", "bob%40x.com")

                // The 360 offers the form; opening leads to the request with its SLA clock.
                #expect(try await get("/console/customers/\(ann.id)", ada).1.contains("Open request"))
                #expect(!(try await get("/console/customers/\(ann.id)", mia).1.contains("Service requests")))
                #expect(try await get("/console/service", mia).0 == .forbidden)
                let opened = try await post(
                    "/console/customers/\(ann.id)/requests", ada,
                    "kind=complaint&priority=&channel=call&subject=Card+declined&description=At+the+till")
                let location = try #require(opened.2)
                #expect(opened.0 == .seeOther && location.hasPrefix("/console/service/"))
                let id = location.split(separator: "/").last.map(String.init) ?? ""
                let detail = try await get(location, ada).1
                #expect(detail.contains("Card declined") && detail.contains("due in 2 h") && detail.contains("complaints"))
                #expect(try await get("/console/service", ada).1.contains("Card declined"))

                _ = try await post("/console/service/\(id)/reply", ada, "text=Internal+check&internal=yes")
                let replied = try await post("/console/service/\(id)/reply", ada, "text=We+refunded+the+fee")
                #expect(replied.1.contains("Reply sent.") && replied.1.contains("met"))

                // The member sees the reply, not the note; Bob gets 404 for it.
                let annView = try await get("/portal/help/\(id)", annCookie)
                #expect(annView.0 == .ok && annView.1.contains("We refunded the fee") && !annView.1.contains("Internal check"))
                #expect(try await get("/portal/help/\(id)", bobCookie).0 == .notFound)
                #expect(try await post("/portal/help/\(id)/messages", bobCookie, "text=mine%3F").0 == .notFound)
                #expect(!(try await get("/portal/help", bobCookie).1.contains("Card declined")))

                // Resolved, the member rates it; the member opens a new one from the portal.
                _ = try await post("/console/service/\(id)/resolve", ada, "resolution=Fee+refunded")
                let rated = try await post("/portal/help/\(id)/rating", annCookie, "score=5&comment=Quick")
                #expect(rated.1.contains("Thank you") && rated.1.contains("5/5"))
                let asked = try await post("/portal/help", annCookie, "kind=question&subject=Lost+card&description=Please+replace")
                #expect(asked.0 == .seeOther)
                let empty = try await post("/portal/help", annCookie, "kind=question&subject=&description=x")
                #expect(empty.1.contains("Subject: must not be empty."))
                // Regression: a customer merged into another answered 500; now the 360 says where they went.
                let twin = try await p.customers.create(ProfileDraft(firstName: "Ann", lastName: "Lee", emails: ["ann@x.com"]))
                _ = try await p.customers.merge(twin.id, into: ann.id, by: "test")
                let merged = try await post("/console/customers/\(twin.id)/requests", ada, "kind=question&subject=Hi&description=There")
                #expect(merged.0 == .unprocessableContent && merged.1.contains("merged into customer \(ann.id)"))
                let dashboard = try await get("/console/", ada).1
                #expect(dashboard.contains("Open service requests"))
            }
        }
    }

    @Test(
        "Regression: a form that changes points answers 303; reloading its result or sending the same form again changes nothing",
        arguments: TestEngine.available)
    func formsApplyOnce(engine: TestEngine) async throws {
        try await TestDatabase.withPatron(engine) { p in
            let program = try await LoyaltyIntakeTests.program(p)
            _ = try await p.access.addUser(email: "lm@x.com", password: "password1", role: .loyaltyManager)
            let ann = try await p.customers.create(ProfileDraft(firstName: "Ann", lastName: "Lee", emails: ["ann@x.com"]))
            let member = try await p.loyalty.enroll(ann.id, in: program.id)
            let app = Application(router: try buildRouter(patron: p))
            try await app.test(.router) { client in
                let lm = try await WebVisitor.signIn(client, "console", "email=lm%40x.com&password=password1")
                let page = try await lm.get("/console/customers/\(ann.id)").body
                let token = try #require(page.firstMatch(of: /name="_csrf" value="([0-9a-f.]+)"/)).output.1
                let form = "_csrf=\(token)&member=\(member.id)&points=100&reason=goodwill"
                let uri = "/console/customers/\(ann.id)/adjustments"
                let first = try await client.execute(
                    uri: uri, method: .post, headers: [.cookie: lm.cookie, .contentType: "application/x-www-form-urlencoded"],
                    body: ByteBuffer(string: form)
                ) { ($0.status, $0.headers[.location] ?? "") }
                #expect(first.0 == .seeOther)
                #expect(first.1.hasPrefix("/console/done/"))
                // Reloading the result page shows the result again and adds nothing.
                for _ in 0..<2 {
                    let shown = try await lm.get(first.1)
                    #expect(shown.status == .ok && shown.body.contains("Added 100 points"))
                }
                // The same rendering sent again (the back button, a double click) is redirected to the same result.
                let again = try await lm.send(uri, form)
                #expect(again.location == first.1)
                #expect(try await p.loyalty.balance(of: member.id).available == 100)
                // Another visitor cannot read this one's result.
                _ = try await p.access.addUser(email: "ada@x.com", password: "password1", role: .agent)
                let ada = try await WebVisitor.signIn(client, "console", "email=ada%40x.com&password=password1")
                #expect(!(try await ada.get(first.1).body.contains("Added 100 points")))
            }
        }
    }

    @Test(
        "a loyalty manager changes earning rules and tiers in the console; a bad line is named and changes nothing", arguments: TestEngine.available)
    func programSettings(engine: TestEngine) async throws {
        try await TestDatabase.withPatron(engine) { p in
            let program = try await LoyaltyIntakeTests.program(p)
            _ = try await p.access.addUser(email: "lm@x.com", password: "password1", role: .loyaltyManager)
            let app = Application(router: try buildRouter(patron: p))
            try await app.test(.router) { client in
                let lm = try await WebVisitor.signIn(client, "console", "email=lm%40x.com&password=password1")
                let page = try await lm.get("/console/loyalty").body
                #expect(page.contains("Change earning rules and tiers") && page.contains("Blue 0"))
                func save(_ fields: String) async throws -> String {
                    try await lm.post("/console/loyalty/programs/\(program.id)/settings", fields, tokenPage: "/console/loyalty").body
                }
                let bad = try await save("points_per_unit=2&tiers=Blue+0%0AGold+lots&period_months=12")
                #expect(bad.contains("tiers, line 2"))
                #expect(try await p.loyalty.program(program.id).earningRules?.pointsPerUnit == 1)
                let ok = try await save(
                    "points_per_unit=2&tier_percent=Gold+150&category_percent=wine+200&max_per_month=5000"
                        + "&tiers=Gold+800+lounge%2C+fast_lane%0ABlue+0&period_months=6&period=calendar_year")
                #expect(ok.contains("earning rules and tiers saved"))
                let saved = try await p.loyalty.program(program.id)
                #expect(saved.earningRules?.pointsPerUnit == 2 && saved.earningRules?.tierPercent == ["Gold": 150])
                #expect(saved.earningRules?.categoryPercent == ["wine": 200] && saved.earningRules?.maxPerMonth == 5_000)
                #expect(saved.earningRules?.bonuses.map(\.name) == ["Web"])  // kept: the form does not show bonus rules
                #expect(
                    saved.tierPolicy?.tiers.map(\.name) == ["Blue", "Gold"] && saved.tierPolicy?.tiers.last?.benefits == ["lounge", "fast_lane"])
                #expect(saved.tierPolicy?.period == .calendarYear && saved.tierPolicy?.softLanding == false)
                // A new program from the console: code, value, expiry, return window and base rate.
                #expect(
                    try await lm.post("/console/loyalty/programs", "code=club&name=Club&value=abc&points_per_unit=1", tokenPage: "/console/loyalty")
                        .body
                        .contains("value of 1,000 points"))
                let created = try await lm.post(
                    "/console/loyalty/programs", "code=club&name=Club&value=5.00&expiry=24&style=rolling&pending=14&points_per_unit=2",
                    tokenPage: "/console/loyalty")
                #expect(created.body.contains("Program CLUB created"))
                let club = try #require(try await p.loyalty.programs().first { $0.code == "CLUB" })
                #expect(
                    club.valuePerThousandPoints == Money(minorUnits: 500, currency: "USD") && club.expiryMonths == 24 && club.expiryStyle == .rolling)
                #expect(club.earningRules?.pointsPerUnit == 2 && club.tierPolicy?.tiers.map(\.name) == ["Member"])
                #expect(
                    try await lm.post("/console/loyalty/programs", "code=CLUB&name=Again&value=5&points_per_unit=1", tokenPage: "/console/loyalty")
                        .body
                        .contains("class=\"error\""))
            }
        }
    }

    @Test("a member corrects their own details in the portal; a bad phone number is named and changes nothing", arguments: TestEngine.available)
    func memberProfile(engine: TestEngine) async throws {
        try await TestDatabase.withPatron(engine) { p in
            let ann = try await p.customers.create(ProfileDraft(firstName: "Ann", lastName: "Lee", emails: ["ann@x.com"]))
            _ = try await p.access.createMemberLogin(customerID: ann.id.rawValue, email: "ann@x.com", password: "password1")
            let app = Application(router: try buildRouter(patron: p))
            try await app.test(.router) { client in
                let member = try await WebVisitor.signIn(client, "portal", "email=ann%40x.com&password=password1")
                let page = try await member.get("/portal/preferences").body
                #expect(page.contains("Your details") && page.contains("value=\"Ann\""))
                func save(_ fields: String) async throws -> String {
                    try await member.post("/portal/profile", fields, tokenPage: "/portal/preferences").body
                }
                let refused = try await save("first_name=Anna&phone=not-a-phone")
                #expect(refused.contains("class=\"error\""), "\(refused.firstMatch(of: /<p class="[a-z]+" role="[a-z]+">[^<]*/)?.output ?? "")")
                #expect(try await p.customers.customer(ann.id).profile.firstName == "Ann")
                #expect(try await save("first_name=Anna&last_name=Lee&phone=%2B1+206+555+0100&language=fr-CA").contains("Your profile is saved"))
                let me = try await p.customers.customer(ann.id).profile
                #expect(me.firstName == "Anna" && me.phones.first?.value == "+12065550100" && me.language == "fr-CA")
                #expect(me.emails.first?.value == "ann@x.com")
            }
        }
    }
}
