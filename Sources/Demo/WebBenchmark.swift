import App
import Interchange
import Access
import Customers
import Foundation
import Loyalty
import Partners
import SharedModels
import Support

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `patron bench web`: the median time to serve each console and portal page over loopback
/// HTTP, on a demo company (target: under 100 ms each at 100,000 customers).
public struct WebBenchmark: Sendable {
    public struct Page: Sendable, Encodable {
        public var path: String
        public var milliseconds: Double
        public var bytes: Int
    }

    public struct Result: Sendable, Encodable {
        public var bench = "web"
        public var customers: Int
        public var pages: [Page]
        public var slowestMilliseconds: Double

        enum CodingKeys: String, CodingKey {
            case bench, customers, pages
            case slowestMilliseconds = "slowest_ms"
        }
    }

    public let repeats: Int
    public init(repeats: Int = 9) { self.repeats = repeats }

    public func run(patron: Patron, customers: Int) async throws -> Result {
        let password = DemoCompany.adminPassword
        let staff = try await patron.access.logIn(email: DemoCompany.adminEmail, password: password, client: nil).token
        let member: String
        if let session = try? await patron.access.logIn(email: DemoCompany.memberEmail, password: password, client: nil) {
            member = session.token
        } else {
            var id: Int64 = 1
            while try await patron.loyalty.memberships(of: CustomerID(id)).isEmpty { id += 1 }
            _ = try await patron.access.createMemberLogin(customerID: id, email: DemoCompany.memberEmail, password: password)
            member = try await patron.access.logIn(email: DemoCompany.memberEmail, password: password, client: nil).token
        }
        let (_, partnerKey) = try await patron.access.createAPIKey(name: "bench-web", partner: "BENCH", scopes: [.transactionsWrite])
        // A partner with terms, so its statements (read from the ledger over its outlet) are timed too.
        _ = try await patron.partners.save(
            code: "BENCH", name: "Bench partner", outlets: ["S01"], rewards: ["GIFT10"], currency: "USD", pricePerThousandPoints: 800,
            payoutPerVoucher: 900)
        let someone = try await patron.customers.search("smith", after: nil, limit: PageSize(1)).items.first?.id.rawValue ?? 1
        // A demo company built before the service desk existed has no requests: give it 300 open ones.
        if try await patron.support.requests(RequestFilter(), limit: 1).isEmpty {
            for n in 0..<300 {
                _ = try? await patron.support.open(
                    customer: Int64(n * 97 % customers + 1), kind: n % 3 == 0 ? .complaint : .question, subject: "Bench request \(n)",
                    description: "Opened by the web benchmark.", channel: .call, by: DemoCompany.adminEmail, byCustomer: false)
            }
        }
        let request = try await patron.support.requests(RequestFilter(), limit: 1).first?.id.rawValue ?? 1
        let pages: [(String, String)] = [
            ("/console/", "patron_console=\(staff)"), ("/console/customers?q=smith", "patron_console=\(staff)"),
            ("/console/customers", "patron_console=\(staff)"), ("/console/customers?sort=since&dir=desc&page=40", "patron_console=\(staff)"),
            ("/console/customers?q=555-01", "patron_console=\(staff)"), ("/console/search?q=smith", "patron_console=\(staff)"),
            ("/console/customers/\(someone)/points-check", "patron_console=\(staff)"),
            ("/console/customers/\(someone)", "patron_console=\(staff)"), ("/console/tasks", "patron_console=\(staff)"),
            ("/console/segments", "patron_console=\(staff)"), ("/console/campaigns", "patron_console=\(staff)"),
            ("/console/analytics", "patron_console=\(staff)"), ("/console/service", "patron_console=\(staff)"),
            ("/console/service/\(request)", "patron_console=\(staff)"),
            ("/console/loyalty", "patron_console=\(staff)"), ("/console/partners", "patron_console=\(staff)"),
            ("/console/partners/BENCH", "patron_console=\(staff)"), ("/console/approvals", "patron_console=\(staff)"),
            ("/console/admin", "patron_console=\(staff)"), ("/console/admin/audit", "patron_console=\(staff)"),
            ("/console/admin/privacy", "patron_console=\(staff)"), ("/partners/statements", "patron_partners=\(partnerKey)"),
            ("/partners/promotions", "patron_partners=\(partnerKey)"), ("/portal/", "patron_portal=\(member)"), ("/portal/help", "patron_portal=\(member)"),
            ("/portal/rewards", "patron_portal=\(member)"), ("/portal/preferences", "patron_portal=\(member)"),
            ("/partners/", "patron_partners=\(partnerKey)"), ("/portal/welcome", ""),
            ("/console/loyalty/promotions", "patron_console=\(staff)"), ("/console/loyalty/rewards", "patron_console=\(staff)"),
            ("/console/loyalty/members", "patron_console=\(staff)"), ("/console/loyalty/members?sort=points&dir=desc", "patron_console=\(staff)"),
            ("/console/sales/opportunities", "patron_console=\(staff)"), ("/console/admin/users", "patron_console=\(staff)"),
            ("/console/analytics/customers?rule=rfm.segment%20%3D%3D%20%22at_risk%22", "patron_console=\(staff)"),
            ("/console/analytics?period=90d", "patron_console=\(staff)"), ("/console/import", "patron_console=\(staff)"),
            ("/portal/statement", "patron_portal=\(member)"),
        ]
        let repeats = repeats
        return try await withLoopbackServer(patron: patron) { port in
            let session = URLSession(configuration: .ephemeral)
            var results: [Page] = []
            for (path, cookie) in pages {
                var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
                request.setValue(cookie, forHTTPHeaderField: "Cookie")
                var samples: [Double] = []
                var bytes = 0
                for i in 0...repeats {
                    let start = ContinuousClock.now
                    let (data, response) = try await session.data(for: request)
                    let ms = (ContinuousClock.now - start).milliseconds
                    guard (response as? HTTPURLResponse)?.statusCode == 200 else {
                        throw ConfigurationError(flag: path, reason: "answered \((response as? HTTPURLResponse)?.statusCode ?? 0)")
                    }
                    bytes = data.count
                    if i > 0 { samples.append(ms) }
                }
                samples.sort()
                results.append(Page(path: path, milliseconds: samples[samples.count / 2], bytes: bytes))
            }
            return Result(customers: customers, pages: results, slowestMilliseconds: results.map(\.milliseconds).max() ?? 0)
        }
    }
}
