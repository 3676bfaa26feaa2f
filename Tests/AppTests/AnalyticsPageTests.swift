import Access
import Analytics
import Campaigns
import App
import Customers
import Demo
import Foundation
import Logging
import HTTPTypes
import Hummingbird
import Jobs
import HummingbirdTesting
import SharedModels
import TestSupport
import Testing

/// Analytics that lead to action (#17): each figure opens the customers behind it (the same count,
/// names leading to the 360, a CSV), the churn model is explained, and loyalty figures cover a
/// chosen period.
@Suite struct AnalyticsPageTests {
    static let until = Date(epochSeconds: 1_767_225_600)

    static func unescape(_ s: Substring) -> String { s.replacingOccurrences(of: "&amp;", with: "&").replacingOccurrences(of: "&quot;", with: "\"") }

    @Test("a figure opens its customers with the same count and a CSV; the churn model and top CLV are shown; periods filter the loyalty figures")
    func drillDown() async throws {
        // SQLite only: the drill-down's SQL is the segment compiler's, tested on both engines by SegmentTests.
        try await TestDatabase.withPatron(.sqlite, clock: TestClock(Self.until)) { p in
            _ = try await DemoCompany(customers: 150, seed: 9, until: Self.until).load(into: p)
            // As the nightly job does: score, then rebuild what segment rules (and so the drill-downs) read.
            _ = try await p.runNightly()
            let rfm = try await p.intelligence.rfmAnalysis()
            let app = Application(router: try buildRouter(patron: p))
            try await app.test(.router) { client in
                let analyst = try await WebVisitor.signIn(client, "console", "email=analyst%40northwind.example&password=\(DemoCompany.adminPassword)")
                let page = try await analyst.get("/console/analytics").body
                #expect(page.contains("The churn model") && page.contains("Most valuable (12-month lifetime value)"))
                #expect(!page.contains("recency_days") && !page.contains("tenure_days"), "drivers in words")
                // An RFM segment's figure: the list holds as many customers as the figure says.
                let (segment, count) = try #require(rfm.segments.max { $0.value < $1.value })
                let link = try #require(page.firstMatch(of: try Regex("href=\"(/console/analytics/customers\\?rule=[^\"]*)\">[0-9,]+</a></td></tr>")))
                _ = link
                let href = AnalyticsPageHref.rule("rfm.segment == \"\(segment)\"")
                #expect(page.contains(href), "the \(segment) figure links to its customers")
                let list = try await analyst.get(Self.unescape(Substring(href))).body
                #expect(list.contains("\(count) customers") || list.contains("\(count.formatted()) customers"), "\(segment): \(count)")
                #expect(list.contains("/console/customers/"), "names lead to the 360")
                // Every drill-down link on the page answers with a list, never an error.
                let links = Set(page.matches(of: /href="(\/console\/analytics\/customers\?[^"]+)"/).map { Self.unescape($0.output.1) })
                #expect(links.count >= 10)
                for l in links {
                    let r = try await analyst.get(l)
                    #expect(r.status == .ok && !r.body.contains("class=\"error\""), "\(l)")
                }
                // The CSV: the header and one line per customer.
                let csv = try await analyst.get("/console/analytics/customers.csv?rule=rfm.segment%20%3D%3D%20%22\(segment)%22")
                #expect(csv.status == .ok && csv.body.split(separator: "\n").count == count + 1)
                // A rule that does not parse is named, not a crash.
                let bad = try await analyst.get("/console/analytics/customers?rule=rfm.segment%20%3D%3D")
                #expect(bad.status == .unprocessableContent)
                // Periods.
                let month = try await analyst.get("/console/analytics?period=30d").body
                #expect(month.contains("Loyalty: Northwind Rewards — 2 Dec 2025 to 31 Dec 2025"), "\(month.count)")
                let wrong = try await analyst.get("/console/analytics?period=custom&from=2025-12-31&to=2025-01-01")
                #expect(wrong.body.contains("Give a first and a last day"))
                let custom = try await analyst.get("/console/analytics?period=custom&from=2025-01-01&to=2025-06-30").body
                #expect(custom.contains("1 Jan 2025 to 30 Jun 2025"))
                // An agent has no analytics.
                let agent = try await WebVisitor.signIn(client, "console", "email=agent%40northwind.example&password=\(DemoCompany.adminPassword)")
                #expect(try await agent.get(Self.unescape(Substring(href))).status == .forbidden)
            }
        }
    }
}

extension AnalyticsPageTests {
    @Test("Regression: the scoring job's first run left segment rules on scoreless facts for a day; now the facts follow the scores")
    func scoringRefreshesFacts() async throws {
        let clock = TestClock(Self.until)
        try await TestDatabase.withPatron(.sqlite, clock: clock) { p in
            _ = try await DemoCompany(customers: 80, seed: 2, until: Self.until).load(into: p)
            #expect(try await p.segments.factsRefreshedAt() != nil, "the demo built the facts before any scoring")
            let runner = p.jobRunner(logger: Logger(label: "test"))
            try await runner.register()
            _ = try await p.jobStore.makeDue("scoring", at: clock.now)
            #expect(await runner.runDue(only: ["scoring"]).allSatisfy(\.1))
            let rfm = try await p.intelligence.rfmAnalysis()
            let (segment, count) = try #require(rfm.segments.max { $0.value < $1.value })
            #expect(try await p.segments.count(rule: "rfm.segment == \"\(segment)\"").count == count)
        }
    }
}

/// The drill-down address as the page writes it (HTML-escaped).
enum AnalyticsPageHref {
    static func rule(_ rule: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return "/console/analytics/customers?rule=" + (rule.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")
    }
}
