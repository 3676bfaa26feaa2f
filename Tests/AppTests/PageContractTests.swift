import Access
import App
import Demo
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SharedModels
import TestSupport
import Testing

/// What every page promises, checked on every page of the three sites for every role on the demo
/// company: a page for people, never a Swift value, raw JSON or a server error; unknown
/// addresses answer the site's own 404 page with its navigation; a refused form answers 422.
@Suite struct PageContractTests {
    /// What a person must never read: Swift values and enum cases, optionals, raw JSON problems.
    static let leaks = [
        #"[A-Z][A-Za-z]+(?:Error|Failure)\.[a-z]"#, #"FieldError\("#, #"emailTaken\("#, #"\binvalid\("#, #"Optional\("#, #"\bnil\b"#,
        #""type":"about:blank""#, #"\{"code":"#, #"application/problem\+json"#,
    ]

    static func leak(in body: String) -> String? {
        for pattern in leaks {
            if let m = try? Regex(pattern).firstMatch(in: body) { return String(body[m.range]) }
        }
        return nil
    }

    @Test("every page of every site, for every role: a page for people with no Swift value, JSON or 5xx", arguments: TestEngine.available)
    func everyPage(engine: TestEngine) async throws {
        try await TestDatabase.withPatron(engine, clock: TestClock(Date(epochSeconds: 1_767_225_600))) { p in
            _ = try await DemoCompany(customers: 60, seed: 2, until: Date(epochSeconds: 1_767_225_600)).load(into: p)
            let partnerKey = try await p.access.createAPIKey(name: "till", partner: "CAFE", scopes: APIScope.allCases).secret
            let router = try buildRouter(patron: p)
            let pages = router.routes.filter { $0.method == .get }.map(\.path.description).filter {
                ($0.hasPrefix("/console") || $0.hasPrefix("/portal") || $0.hasPrefix("/partners")) && !$0.contains("/done/")
                    && !$0.hasSuffix("/logout") && !$0.contains("export")
            }
            #expect(pages.count > 30, "\(pages)")
            let app = Application(router: router)
            try await app.test(.router) { client in
                let password = DemoCompany.adminPassword
                var visitors: [(String, String, WebVisitor)] = []
                for (email, _) in [
                    (DemoCompany.adminEmail, "admin"), ("agent@northwind.example", "agent"), ("marketer@northwind.example", "marketer"),
                    ("analyst@northwind.example", "analyst"), ("loyalty@northwind.example", "loyalty"), ("sales@northwind.example", "sales"),
                ] {
                    visitors.append((email, "console", try await WebVisitor.signIn(client, "console", "email=\(email.replacingOccurrences(of: "@", with: "%40"))&password=\(password)")))
                }
                visitors.append(("member", "portal", try await WebVisitor.signIn(client, "portal", "email=member%40northwind.example&password=\(password)")))
                visitors.append(("partner", "partners", try await WebVisitor.signIn(client, "partners", "key=\(partnerKey)")))
                var checked = 0
                for (who, site, visitor) in visitors {
                    for template in pages where template.hasPrefix("/\(site)") {
                        let uri = template.replacingOccurrences(of: ":id", with: "1").replacingOccurrences(of: ":code", with: "CAFE")
                            .replacingOccurrences(of: ":name", with: "expiry").replacingOccurrences(of: ":file", with: "console.css")
                        let (status, body) = try await visitor.get(uri)
                        checked += 1
                        #expect(status.code < 500, "\(who) \(uri): \(status)")
                        if status.code == 200 || status.code >= 400 {
                            #expect(body.contains("<html") || body.contains("<!doctype") || body.contains("<!DOCTYPE"), "\(who) \(uri) is not a page: \(body.prefix(200))")
                        }
                        if let leak = Self.leak(in: body) { Issue.record("\(who) \(uri) shows \(leak)") }
                    }
                    // An unknown address is the site's own 404 page, with its navigation.
                    let (status, body) = try await visitor.get("/\(site)/no-such-page")
                    #expect(status == .notFound && body.contains("<nav") && body.contains("no page at this address"), "\(who): \(status) \(body.prefix(300))")
                    #expect(Self.leak(in: body) == nil)
                }
                #expect(checked > 120)
                // Strangers get the site's 404 page too, never problem+json.
                try await client.execute(uri: "/console/no-such-page", method: .get) { r in
                    #expect(r.status == .notFound && r.headers[.contentType]?.hasPrefix("text/html") == true)
                }
                try await client.execute(uri: "/portal/customers/x/y", method: .get) { r in
                    #expect(r.status == .notFound && r.headers[.contentType]?.hasPrefix("text/html") == true)
                }
            }
        }
    }

    @Test("Regression (#17): refused forms answer 422 with a sentence; adding a user whose email is taken names no Swift case")
    func refusedForms() async throws {
        try await TestDatabase.withPatron(.sqlite) { p in
            _ = try await p.access.addUser(email: "root@x.com", password: "password1", role: .admin)
            let app = Application(router: try buildRouter(patron: p))
            try await app.test(.router) { client in
                let admin = try await WebVisitor.signIn(client, "console", "email=root%40x.com&password=password1")
                let taken = try await admin.post("/console/admin/users", "email=root%40x.com&password=password1&role=agent", tokenPage: "/console/admin")
                #expect(taken.status == .unprocessableContent, "\(taken.status)")
                #expect(taken.body.contains("already in use") && Self.leak(in: taken.body) == nil)
                // Regression (#17): new users defaulted to the admin role; no role is chosen until someone chooses it.
                let form = try await admin.get("/console/admin").body
                #expect(form.contains(#"<select id="u-role" name="role" required><option value="" selected disabled>Choose a role</option>"#))
                let noRole = try await admin.post("/console/admin/users", "email=new%40x.com&password=password1", tokenPage: "/console/admin")
                #expect(noRole.status == .unprocessableContent && noRole.body.contains("Choose a role"))
                #expect(try await p.access.users().contains { $0.email == "new@x.com" } == false)
            }
        }
    }
}
