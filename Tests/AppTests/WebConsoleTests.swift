import Access
import App
import Customers
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
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
                let csrf = try #require(page.firstMatch(of: /name="_csrf" value="([0-9a-f]+)"/)).output.1
                try await client.execute(
                    uri: "/console/customers/\(ann.id)/merge", method: .post,
                    headers: [.cookie: staff, .contentType: "application/x-www-form-urlencoded"],
                    body: ByteBuffer(string: "_csrf=\(csrf)&duplicate=\(twin.id)")
                ) { r in
                    #expect(r.status == .ok)
                    #expect(String(buffer: r.body).contains("merged into this one"))
                }
                #expect(try await p.customers.customer(twin.id).status == .merged)
            }
        }
    }
}
