import Access
import Analytics
import Campaigns
import Customers
import App
import Demo
import Interchange
import Foundation
import HTTPTypes
import SQLKit
import SharedModels
import Storage
import TestSupport
import Testing

/// The scoring job over a real database on both engines: what it writes onto profiles agrees
/// with the transactions, and the API shows it to the right roles only.
@Suite struct IntelligenceTests {
    @Test(
        "Regression: an objection to profiling takes a customer out of scoring, score-based segments and next-best offers at once, and the export says so",
        arguments: TestEngine.available)
    func profilingObjection(engine: TestEngine) async throws {
        let clock = TestClock()
        try await withAPI(engine, clock: clock) { api, patron, admin in
            _ = try await DemoCompany(customers: 120, seed: 9, until: clock.now).load(into: patron)
            _ = try await patron.intelligence.score()
            // A scored buyer with a next-best offer, in a segment built on scores.
            let scored = try await patron.intelligence.scoredCustomers(segment: nil, valueTier: nil, minimumChurnRisk: nil, offset: 0, limit: 500)
            let ann = try #require(scored.first { $0.frequency > 0 && !$0.recommendations.isEmpty }?.customer ?? scored.first { $0.frequency > 0 }?.customer)
            try await api.call(.post, "/v1/segments/refresh", token: admin)
            let rule = "rfm.r >= 1 and purchases >= 1"
            func count() async throws -> Int {
                try #require(try await api.call(.post, "/v1/segments/count", token: admin, body: ["rule": rule]).json["count"] as? Int)
            }
            func selected() async throws -> Bool {
                try await patron.database.read { db in
                    try await db.raw("SELECT rfm_r FROM segment_facts WHERE customer_id = \(bind: ann)").first()!.decode(column: "rfm_r", as: Double?.self)
                } != nil
            }
            #expect(try await selected(), "before: Ann is in the score-based segment")
            let before = try await count()
            let saved = try await api.call(.post, "/v1/segments", token: admin, body: ["name": "Scored buyers", "rule": rule])
            let segment = try #require(saved.id)
            try await api.call(.post, "/v1/segments/\(segment)/snapshot", token: admin)

            let objection = try await api.call(
                .post, "/v1/customers/\(ann)/consents", token: admin,
                body: ["purpose": "profiling", "channel": "email", "granted": false, "source": "call", "text": "Objects to profiling"])
            #expect(objection.status == 201, "\(objection.text)")
            // At once: no scores, no next-best offer, not selected by score rules, gone from snapshots.
            #expect(try await patron.intelligence.scores(of: ann) == nil)
            let shown = try await api.call(.get, "/v1/customers/\(ann)/scores", token: admin)
            #expect(shown.status == 404 || shown.json["recommendations"] == nil, "\(shown.text)")
            #expect(try await !selected(), "after: no score rule selects Ann")
            #expect(try await count() == before - 1)
            let members = try await patron.database.read { db in
                try await db.raw("SELECT COUNT(*) AS n FROM segment_members WHERE segment_id = \(bind: Int64(segment)) AND customer_id = \(bind: ann)").first()!
                    .decode(column: "n", as: Int64.self)
            }
            #expect(members == 0)
            // The export says so.
            let asked = try await api.call(.post, "/v1/privacy-requests", token: admin, body: ["customerId": ann, "kind": "access", "channel": "email"])
            let request = try #require(asked.id, "\(asked.text)")
            let export = try await api.call(.get, "/v1/privacy-requests/\(request)/export", token: admin)
            let profiling = try #require(export.json["profiling"] as? [String: Any])
            #expect(profiling["objected"] as? Bool == true && (profiling["effect"] as? String ?? "").contains("left out of scoring"))
            // The next nightly run neither scores Ann nor learns from her.
            clock.advance(days: 1)
            let run = try await patron.intelligence.score()
            #expect(run.customers > 100)
            #expect(try await patron.intelligence.scores(of: ann) == nil)
            _ = try await patron.segments.refresh()
            #expect(try await !selected())
            // Agreeing again lets the next run score Ann.
            _ = try await patron.customers.recordConsent(
                purpose: .profiling, channel: .email, granted: true, source: "call", text: nil, for: CustomerID(ann), by: "test")
            _ = try await patron.intelligence.score()
            #expect(try await patron.intelligence.scores(of: ann) != nil)
        }
    }

    @Test("Scores written back agree with a brute-force reading of the transactions", arguments: TestEngine.available)
    func scoring(engine: TestEngine) async throws {
        let clock = TestClock()
        try await withAPI(engine, clock: clock) { api, patron, admin in
            _ = try await DemoCompany(customers: 300, seed: 5, until: clock.now).load(into: patron)
            let run = try await patron.intelligence.score()
            #expect(run.customers > 300)
            #expect(run.buyers > 250)
            let bgnbd = try #require(run.bgnbd)
            #expect(bgnbd.r > 0 && bgnbd.alpha > 0 && bgnbd.a > 0 && bgnbd.b > 0)
            #expect(run.gammaGamma != nil)
            // The demo's customers buy till they leave: recency and frequency predict who stopped.
            #expect(try #require(run.churnAUC) > 0.75)
            #expect(run.rules > 0)

            // Brute force: purchase days and revenue per customer from the raw rows.
            let now = clock.now.epochSeconds
            let rows = try await patron.database.read { db in
                try await db.raw("SELECT customer_id, occurred_at, amount_minor FROM transactions WHERE kind = 'purchase'").all().map {
                    (
                        try $0.decode(column: "customer_id", as: Int64.self), try $0.decode(column: "occurred_at", as: Int64.self),
                        try $0.decode(column: "amount_minor", as: Int64.self)
                    )
                }
            }
            var days: [Int64: Set<Int64>] = [:]
            var revenue: [Int64: Int64] = [:]
            for (customer, at, amount) in rows where at < now {
                days[customer, default: []].insert(at / 86_400)
                revenue[customer, default: 0] += amount
            }
            var checked = 0
            for customer in Array(days.keys).sorted().prefix(60) {
                let s = try #require(try await patron.intelligence.scores(of: customer))
                #expect(s.frequency == days[customer]!.count)
                #expect(s.monetary == revenue[customer]!)
                #expect(s.recencyDays == Int(now / 86_400 - days[customer]!.max()!))
                #expect(s.rfm.segment != .prospects)
                #expect(s.probabilityAlive.map { (0...1).contains($0) } == true)
                #expect(s.clv12m.map { $0 >= 0 } == true)
                #expect(s.churnRisk.map { (0...1).contains($0) } == true)
                checked += 1
            }
            #expect(checked == 60)
            // Drivers survive the trip through the database.
            let explained = try await patron.intelligence.scoredCustomers(
                segment: nil, valueTier: nil, minimumChurnRisk: 0.3, offset: 0, limit: 5)
            #expect(explained.contains { !$0.churnDrivers.isEmpty })

            // Value tiers: A customers are worth more than D customers on average.
            let a = try await patron.intelligence.scoredCustomers(segment: nil, valueTier: "A", minimumChurnRisk: nil, offset: 0, limit: 1000)
            let d = try await patron.intelligence.scoredCustomers(segment: nil, valueTier: "D", minimumChurnRisk: nil, offset: 0, limit: 1000)
            func mean(_ s: [CustomerScores]) -> Double { Double(s.reduce(0) { $0 + ($1.clv12m ?? 0) + $1.monetary }) / Double(max(1, s.count)) }
            #expect(!a.isEmpty && !d.isEmpty)
            #expect(mean(a) > 3 * mean(d))
            // Filtering by churn risk: the most value at risk first (risk × 12-month CLV, or the
            // customer's spend when there is no CLV), so valuable customers lead, not sure losses of little worth.
            let risky = try await patron.intelligence.scoredCustomers(segment: nil, valueTier: nil, minimumChurnRisk: 0.5, offset: 0, limit: 50)
            func atRisk(_ s: CustomerScores) -> Double { s.churnRisk! * Double(s.clv12m ?? s.monetary) }
            #expect(!risky.isEmpty && risky.allSatisfy { $0.churnRisk! >= 0.5 })
            #expect(zip(risky, risky.dropFirst()).allSatisfy { atRisk($0) >= atRisk($1) - 1e-6 * max(1, atRisk($0)) })

            // Recommendations are categories the customer has not bought in the last year.
            let categories = try await patron.database.read { db in
                try await db.raw(
                    """
                    SELECT DISTINCT t.customer_id, l.category FROM transactions t JOIN transaction_lines l ON l.transaction_id = t.id
                    WHERE t.kind = 'purchase' AND t.occurred_at > \(bind: now - 365 * 86_400) AND t.occurred_at < \(bind: now)
                    """
                ).all().map { (try $0.decode(column: "customer_id", as: Int64.self), try $0.decode(column: "category", as: String?.self) ?? "") }
            }
            var bought: [Int64: Set<String>] = [:]
            for (c, category) in categories { bought[c, default: []].insert(category) }
            var recommended = 0
            for customer in bought.keys.sorted().prefix(80) {
                let s = try #require(try await patron.intelligence.scores(of: customer))
                #expect(Set(s.recommendations).isDisjoint(with: bought[customer]!))
                recommended += s.recommendations.count
            }
            #expect(recommended > 0)

            // The API: an analyst reads scores and analyses; a member never sees their own churn risk.
            _ = try await patron.access.addUser(email: "analyst@x.com", password: "password1", role: .analyst)
            let analyst = try await api.logIn("analyst@x.com", "password1")
            let scores = try await api.call(.get, "/v1/customers/\(a[0].customer)/scores", token: analyst)
            #expect(scores.status == 200)
            #expect(scores.json["valueTier"] as? String == "A")
            let rfm = try await api.call(.get, "/v1/analytics/rfm", token: analyst)
            #expect(rfm.status == 200)
            #expect((rfm.json["customers"] as? Int) == run.customers)
            let pareto = try #require(rfm.json["pareto"] as? [String: Any])
            #expect((pareto["top20RevenueShare"] as? Double ?? 0) > 0.5)
            let basket = try await api.call(.get, "/v1/analytics/basket-rules?minSupport=0.02&minConfidence=0.3", token: analyst)
            #expect(basket.status == 200)
            let rules = try #require(basket.json["rules"] as? [[String: Any]])
            #expect(rules.contains { ($0["antecedent"] as? [String]) == ["camping"] && ($0["consequent"] as? [String]) == ["nutrition"] })
            let loyalty = try await api.call(.get, "/v1/analytics/loyalty", token: analyst)
            #expect(loyalty.status == 200)
            let program = try #require((loyalty.json["programs"] as? [[String: Any]])?.first)
            let tiers = try #require(program["tiers"] as? [[String: Any]])
            #expect(tiers.reduce(0) { $0 + ($1["count"] as? Int ?? 0) } == program["members"] as? Int)
            let outstanding = try #require(program["pointsOutstanding"] as? Int)
            #expect(((program["liability"] as? [String: Any])?["amount"] as? Int) == outstanding * 1_000 / 1_000)
            // Points earned by outlet, against the ledger read directly: each accrual joined to its
            // purchase by the external id (on PostgreSQL the report goes through transaction_keys).
            let code = program["code"] as? String ?? ""
            let byOutlet = try await patron.database.read { db in
                try await db.raw(
                    """
                    SELECT COALESCE(x.store, 'unknown') AS k, CAST(SUM(t.points) AS BIGINT) AS n FROM ledger_transfers t
                    JOIN ledger_accounts d ON d.id = t.to_account JOIN loyalty_programs pr ON pr.id = t.program_id
                    LEFT JOIN transactions x ON x.external_id = t.reference
                    WHERE t.reason = 'accrual' AND d.member_id IS NOT NULL AND d.point_type = 'reward' AND pr.code = \(bind: code)
                      AND t.occurred_at < \(bind: now)
                    GROUP BY COALESCE(x.store, 'unknown')
                    """
                ).all().reduce(into: [String: Int]()) { $0[try $1.decode(column: "k", as: String.self)] = Int(try $1.decode(column: "n", as: Int64.self)) }
            }
            let reported = try #require(program["earnedByOutlet"] as? [[String: Any]])
            #expect(byOutlet.count > 1)
            #expect(Dictionary(uniqueKeysWithValues: reported.map { ($0["key"] as? String ?? "", $0["count"] as? Int ?? 0) }) == byOutlet)
            #expect(try await api.call(.post, "/v1/analytics/scoring-runs", token: analyst).status == 201)
            #expect(try await api.call(.get, "/v1/analytics/customers?segment=nonsense", token: analyst).json["field"] as? String == "segment")

            // The demo gives one rich member a portal login already; any other gets one here.
            let customer = a[0].customer
            let login = try await api.call(
                .post, "/v1/member-logins", token: admin, body: ["customerId": customer, "email": "own@x.com", "password": "password1"])
            let member =
                login.status == 201
                ? try await api.logIn("own@x.com", "password1") : try await api.logIn(DemoCompany.memberEmail, DemoCompany.adminPassword)
            #expect(try await api.call(.get, "/v1/customers/\(customer)/scores", token: member).status == 403)
            let marketer = try await api.logIn("marketer@northwind.example", DemoCompany.adminPassword)
            #expect(try await api.call(.get, "/v1/analytics/loyalty", token: marketer).status == 200)
            #expect(try await api.call(.post, "/v1/analytics/scoring-runs", token: marketer).status == 403)
            let agent = try await api.logIn("agent@northwind.example", DemoCompany.adminPassword)
            #expect(try await api.call(.get, "/v1/customers/\(customer)/scores", token: agent).status == 200)
            #expect(try await api.call(.get, "/v1/analytics/rfm", token: agent).status == 403)
        }
    }

    @Test("Scoring an empty database writes nothing and fits nothing", arguments: TestEngine.available)
    func empty(engine: TestEngine) async throws {
        try await TestDatabase.withPatron(engine) { patron in
            let run = try await patron.intelligence.score()
            #expect(run.customers == 0 && run.bgnbd == nil && run.churnAUC == nil && run.rules == 0)
            #expect(try await patron.intelligence.latestRun()?.customers == 0)
        }
    }
}
