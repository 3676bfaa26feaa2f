import Analytics
import Foundation
import SQLKit
import SharedModels

/// The Analytics room's storage. It writes only its own tables (`customer_scores`,
/// `scoring_runs`); to score a million customers in seconds it reads the other rooms' tables
/// directly, read-only, with set-wise SQL (see docs/architecture.md, departures).
public struct SQLAnalyticsStore: AnalyticsStore {
    let database: any Database

    public init(database: any Database) { self.database = database }

    public func customerFacts(now: Date, cutoff: Date) async throws -> [CustomerFacts] {
        let nowSeconds = now.epochSeconds
        let today = Int64(nowSeconds / 86_400)
        let cutoffDay = Int64(cutoff.epochSeconds / 86_400)
        let yearAgo = nowSeconds - 365 * 86_400
        let cutoffSeconds = cutoffDay * 86_400
        let database = database
        let aggregate = itemList
        // Five independent reads, each on its own connection, so the two big ones overlap.
        async let people = database.readFromReplica { db in
            try await readRows(
                db, "SELECT id, life_stage, birth_date FROM customers WHERE status = 'active' AND profiling_objected = 0 AND created_at <= \(bind: nowSeconds) ORDER BY id",
                columns: ["id", "life_stage", "birth_date"])
        }
        // Purchase days, as of now and as of the cut-off, in one pass. The first day's value
        // rides along in MIN(day × 10¹² + value): the smallest is the first day's.
        async let days = database.readFromReplica { db in
            try await readRows(
                db,
                """
                SELECT customer_id, CAST(COUNT(*) AS BIGINT) AS days, CAST(MIN(day) AS BIGINT) AS first_day, CAST(MAX(day) AS BIGINT) AS last_day,
                  CAST(SUM(v) AS BIGINT) AS revenue, CAST(MIN(day * 1000000000000 + v) AS BIGINT) AS first_key,
                  CAST(SUM(CASE WHEN day > \(bind: today - 365) THEN 1 ELSE 0 END) AS BIGINT) AS days_365,
                  CAST(SUM(CASE WHEN day > \(bind: today - 365) THEN v ELSE 0 END) AS BIGINT) AS revenue_365,
                  CAST(SUM(CASE WHEN day < \(bind: cutoffDay) THEN 1 ELSE 0 END) AS BIGINT) AS days_c,
                  CAST(MAX(CASE WHEN day < \(bind: cutoffDay) THEN day END) AS BIGINT) AS last_day_c,
                  CAST(SUM(CASE WHEN day < \(bind: cutoffDay) THEN v ELSE 0 END) AS BIGINT) AS revenue_c,
                  CAST(SUM(CASE WHEN day < \(bind: cutoffDay) AND day >= \(bind: cutoffDay - 365) THEN 1 ELSE 0 END) AS BIGINT) AS days_365_c,
                  CAST(SUM(CASE WHEN day < \(bind: cutoffDay) AND day >= \(bind: cutoffDay - 365) THEN v ELSE 0 END) AS BIGINT) AS revenue_365_c
                FROM (
                  SELECT t.customer_id, t.occurred_at / 86400 AS day, CAST(SUM(t.amount_minor) AS BIGINT) AS v
                  FROM transactions t WHERE t.kind = 'purchase' AND t.occurred_at < \(bind: nowSeconds)
                  GROUP BY t.customer_id, t.occurred_at / 86400
                ) d GROUP BY customer_id
                """,
                columns: [
                    "customer_id", "days", "first_day", "last_day", "revenue", "first_key", "days_365", "revenue_365", "days_c", "last_day_c",
                    "revenue_c", "days_365_c", "revenue_365_c",
                ])
        }
        async let contacts = database.readFromReplica { db in
            try await readRows(
                db,
                """
                SELECT customer_id,
                  CAST(SUM(CASE WHEN occurred_at > \(bind: yearAgo) AND occurred_at < \(bind: nowSeconds) THEN 1 ELSE 0 END) AS BIGINT) AS now_365,
                  CAST(SUM(CASE WHEN occurred_at >= \(bind: cutoffSeconds - 365 * 86_400) AND occurred_at < \(bind: cutoffSeconds) THEN 1 ELSE 0 END) AS BIGINT) AS cut_365
                FROM interactions GROUP BY customer_id
                """, columns: ["customer_id", "now_365", "cut_365"])
        }
        async let loyalty = database.readFromReplica { db in
            try await readRows(
                db,
                """
                SELECT m.customer_id, m.tier, a.balance FROM loyalty_members m
                LEFT JOIN ledger_accounts a ON a.member_id = m.id AND a.point_type = 'reward' ORDER BY m.id
                """, columns: ["customer_id", "tier", "balance"])
        }
        async let categories = database.readFromReplica { db in
            try await readRows(
                db,
                """
                SELECT t.customer_id, \(unsafeRaw: aggregate) AS items FROM transactions t JOIN transaction_lines l ON l.transaction_id = t.id
                WHERE t.kind = 'purchase' AND t.occurred_at > \(bind: yearAgo) AND t.occurred_at < \(bind: nowSeconds) GROUP BY t.customer_id
                """, columns: ["customer_id", "items"])
        }

        var index: [Int64: Int] = [:]
        var facts: [CustomerFacts] = []
        for row in try await people {
            guard let id = row[0].int else { continue }
            var f = CustomerFacts(customer: id)
            f.lifeStage = row[1].text
            f.birthYear = row[2].text.flatMap { Int($0.prefix(4)) }
            index[id] = facts.count
            facts.append(f)
        }
        for row in try await days {
            guard let id = row[0].int, let i = index[id] else { continue }
            facts[i].purchaseDays = Int(row[1].int ?? 0)
            facts[i].firstDay = row[2].int.map(Int.init)
            facts[i].lastDay = row[3].int.map(Int.init)
            facts[i].revenue = row[4].int ?? 0
            facts[i].firstDayRevenue = (row[5].int ?? 0) % 1_000_000_000_000
            facts[i].purchaseDays365 = Int(row[6].int ?? 0)
            facts[i].revenue365 = row[7].int ?? 0
            facts[i].purchaseDaysAtCutoff = Int(row[8].int ?? 0)
            facts[i].lastDayAtCutoff = row[9].int.map(Int.init)
            facts[i].revenueAtCutoff = row[10].int ?? 0
            facts[i].purchaseDays365AtCutoff = Int(row[11].int ?? 0)
            facts[i].revenue365AtCutoff = row[12].int ?? 0
        }
        for row in try await contacts {
            guard let id = row[0].int, let i = index[id] else { continue }
            facts[i].contacts365 = Int(row[1].int ?? 0)
            facts[i].contacts365AtCutoff = Int(row[2].int ?? 0)
        }
        for row in try await loyalty {
            guard let id = row[0].int, let i = index[id] else { continue }
            // A customer in several programs: the first membership's tier, the points of all.
            if facts[i].tier == nil { facts[i].tier = row[1].text ?? "member" }
            facts[i].pointsBalance = (facts[i].pointsBalance ?? 0) + (row[2].int ?? 0)
        }
        for row in try await categories {
            guard let id = row[0].int, let i = index[id] else { continue }
            facts[i].categories = (row[1].text ?? "").split(separator: ",").map(String.init)
        }
        return facts
    }

    /// The distinct categories (products without one) of the lines `l` of a group, comma-separated.
    var itemList: String {
        database.capabilities.distinctList("COALESCE(l.category, l.product)")
    }

    public func baskets(since: Date, until: Date, limit: Int) async throws -> [[String]] {
        let aggregate = itemList
        return try await database.readFromReplica { db in
            try await readRows(
                db,
                """
                SELECT l.transaction_id, \(unsafeRaw: aggregate) AS items FROM transaction_lines l JOIN transactions t ON t.id = l.transaction_id
                WHERE t.kind = 'purchase' AND t.occurred_at >= \(bind: since.epochSeconds) AND t.occurred_at < \(bind: until.epochSeconds)
                  AND NOT EXISTS (SELECT 1 FROM customers c WHERE c.id = t.customer_id AND c.profiling_objected = 1)
                GROUP BY l.transaction_id ORDER BY l.transaction_id DESC LIMIT \(bind: Int64(limit))
                """, columns: ["items"]
            ).map { ($0[0].text ?? "").split(separator: ",").map(String.init) }
        }
    }

    public func mainCurrency() async throws -> String? {
        try await database.read { db in
            try await db.raw(
                "SELECT currency, COUNT(*) AS n FROM transactions WHERE kind = 'purchase' GROUP BY currency ORDER BY n DESC, currency LIMIT 1"
            ).first()?.string("currency")
        }
    }

    static let scoreColumns = [
        "customer_id", "scored_at", "rfm_r", "rfm_f", "rfm_m", "rfm_segment", "recency_days", "frequency", "monetary_minor", "p_alive",
        "expected_purchases_12m", "clv_12m_minor", "churn_risk", "churn_drivers", "value_tier", "recommendations", "currency",
    ]

    /// Built by `replaceScores` after each run (not by the migration, so they are defined once).
    static let scoreIndexes: [(name: String, columns: String)] = [
        ("customer_scores_segment", "rfm_segment"), ("customer_scores_value", "value_tier, clv_12m_minor"), ("customer_scores_churn", "churn_risk"),
    ]

    public func replaceScores(_ scores: [CustomerScores], run: ScoringRun) async throws {
        func real(_ v: Double?) -> SQLValue { v.flatMap { $0.isFinite ? SQLValue.real($0) : nil } ?? .null }
        let rows: [[SQLValue]] = scores.map { s in
            [
                .integer(s.customer), .integer(s.scoredAt.epochSeconds), .integer(Int64(s.rfm.recency)), .integer(Int64(s.rfm.frequency)),
                .integer(Int64(s.rfm.monetary)), .text(s.rfm.segment.rawValue), SQLValue(s.recencyDays.map(Int64.init)), .integer(Int64(s.frequency)),
                .integer(s.monetary), real(s.probabilityAlive), real(s.expectedPurchases12m), SQLValue(s.clv12m), real(s.churnRisk),
                .text(Self.json(s.churnDrivers)), .text(s.valueTier.rawValue), .text(Self.json(s.recommendations)), .text(s.currency),
            ]
        }
        let summary = try ColumnJSON.encode(run)
        try await database.write { db in
            try await reload(db, table: "customer_scores", indexes: Self.scoreIndexes) {
                _ = try await insertRows(db, into: "customer_scores", columns: Self.scoreColumns, rows: rows)
            }
            try await ProfilingObjection.withdrawScores(db)
            try await db.raw("INSERT INTO scoring_runs (ran_at, summary) VALUES (\(bind: run.ranAt.epochSeconds), \(bind: summary))").run()
        }
    }

    /// JSON for the two list columns, written by hand: JSONEncoder costs more than everything
    /// else in writing a million rows.
    static func json(_ drivers: [Driver]) -> String {
        "["
            + drivers.map { #"{"contribution":\#($0.contribution.isFinite ? $0.contribution : 0),"feature":\#(quoted($0.feature))}"# }.joined(
                separator: ",") + "]"
    }

    static func json(_ items: [String]) -> String { "[" + items.map(quoted).joined(separator: ",") + "]" }

    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    static func decodeScores(_ row: any SQLRow) throws -> CustomerScores {
        let r = Int(try row.int64("rfm_r"))
        let f = Int(try row.int64("rfm_f"))
        return CustomerScores(
            customer: try row.int64("customer_id"), scoredAt: try row.date("scored_at"),
            rfm: RFMScore(
                recency: r, frequency: f, monetary: Int(try row.int64("rfm_m")),
                segment: RFMSegment(rawValue: try row.string("rfm_segment")) ?? RFMSegment(recency: r, frequency: f)),
            recencyDays: try row.optionalInt64("recency_days").map(Int.init), frequency: Int(try row.int64("frequency")),
            monetary: try row.int64("monetary_minor"), probabilityAlive: try row.decode(column: "p_alive", as: Double?.self),
            expectedPurchases12m: try row.decode(column: "expected_purchases_12m", as: Double?.self), clv12m: try row.optionalInt64("clv_12m_minor"),
            churnRisk: try row.decode(column: "churn_risk", as: Double?.self),
            churnDrivers: try ColumnJSON.decode([Driver].self, from: try row.string("churn_drivers")),
            valueTier: ValueTier(rawValue: try row.string("value_tier")) ?? .d,
            recommendations: try ColumnJSON.decode([String].self, from: try row.string("recommendations")), currency: try row.string("currency"))
    }

    public func scores(of customer: Int64) async throws -> CustomerScores? {
        try await database.read { db in
            try await db.raw("SELECT * FROM customer_scores WHERE customer_id = \(bind: customer)").first().map(Self.decodeScores)
        }
    }

    public func latestRun() async throws -> ScoringRun? {
        try await database.read { db in
            guard let row = try await db.raw("SELECT summary FROM scoring_runs ORDER BY id DESC LIMIT 1").first() else { return nil }
            return try ColumnJSON.decode(ScoringRun.self, from: try row.string("summary"))
        }
    }

    public func scoredCustomers(segment: String?, valueTier: String?, minimumChurnRisk: Double?, offset: Int, limit: Int) async throws
        -> [CustomerScores]
    {
        try await database.readFromReplica { db in
            var conditions: [SQLQueryString] = ["1 = 1"]
            if let segment { conditions.append("rfm_segment = \(bind: segment)") }
            if let valueTier { conditions.append("value_tier = \(bind: valueTier)") }
            if let minimumChurnRisk { conditions.append("churn_risk >= \(bind: minimumChurnRisk)") }
            let order: SQLQueryString =
                // At risk: the value that would be lost first (risk × 12-month CLV), not the cheapest customers sure to go.
                minimumChurnRisk != nil
                ? "churn_risk * COALESCE(clv_12m_minor, monetary_minor, 0) DESC, churn_risk DESC, customer_id"
                : "clv_12m_minor DESC NULLS LAST, monetary_minor DESC, customer_id"
            return try await db.raw(
                "SELECT * FROM customer_scores WHERE " + conditions.joined(separator: " AND ")
                    + " ORDER BY \(order) LIMIT \(bind: Int64(limit)) OFFSET \(bind: Int64(offset))"
            ).all().map(Self.decodeScores)
        }
    }

    public func clvDistribution(bounds: [Int64]) async throws -> [Int] {
        var cases = "CASE WHEN clv_12m_minor IS NULL THEN \(bounds.count + 1)"
        for (i, b) in bounds.enumerated() { cases += " WHEN clv_12m_minor < \(b) THEN \(i)" }
        cases += " ELSE \(bounds.count) END"
        let bucket = cases
        return try await database.readFromReplica { db in
            var counts = [Int](repeating: 0, count: bounds.count + 2)
            for row in try await db.raw("SELECT \(unsafeRaw: bucket) AS bucket, COUNT(*) AS n FROM customer_scores GROUP BY 1").all() {
                counts[Int(try row.int64("bucket"))] = Int(try row.int64("n"))
            }
            return counts
        }
    }

    public func sales(between bounds: [Int64]) async throws -> [(amount: Int64, purchases: Int)] {
        guard bounds.count >= 2 else { return [] }
        var columns: [String] = []
        for (i, (a, b)) in zip(bounds, bounds.dropFirst()).enumerated() {
            let within = "occurred_at >= \(a) AND occurred_at < \(b)"
            columns.append(
                "CAST(COALESCE(SUM(CASE WHEN \(within) THEN (CASE WHEN kind = 'return' THEN -ABS(amount_minor) ELSE amount_minor END) END), 0) AS BIGINT) AS a\(i)"
            )
            columns.append("CAST(COALESCE(SUM(CASE WHEN \(within) AND kind = 'purchase' THEN 1 END), 0) AS BIGINT) AS n\(i)")
        }
        let sql =
            "SELECT \(columns.joined(separator: ", ")) FROM transactions WHERE occurred_at >= \(bounds.first!) AND occurred_at < \(bounds.last!)"
        return try await database.readFromReplica { db in
            let row = try await db.raw(SQLQueryString(sql)).first()!
            return try (0..<(bounds.count - 1)).map { (try row.int64("a\($0)"), Int(try row.int64("n\($0)"))) }
        }
    }

    public func rfmAnalysis() async throws -> RFMAnalysis {
        try await database.readFromReplica { db in
            var cells: [RFMAnalysis.Cell] = []
            for row in try await db.raw(
                """
                SELECT rfm_r, rfm_f, CAST(COUNT(*) AS BIGINT) AS n, CAST(SUM(monetary_minor) AS BIGINT) AS revenue FROM customer_scores
                WHERE rfm_r > 0 GROUP BY rfm_r, rfm_f ORDER BY rfm_r DESC, rfm_f DESC
                """
            ).all() {
                cells.append(
                    .init(
                        recency: Int(try row.int64("rfm_r")), frequency: Int(try row.int64("rfm_f")), customers: Int(try row.int64("n")),
                        revenue: try row.int64("revenue")))
            }
            var segments: [String: Int] = [:]
            for row in try await db.raw("SELECT rfm_segment, CAST(COUNT(*) AS BIGINT) AS n FROM customer_scores GROUP BY rfm_segment").all() {
                segments[try row.string("rfm_segment")] = Int(try row.int64("n"))
            }
            let revenues = try await db.raw("SELECT monetary_minor FROM customer_scores").all().map { try $0.int64("monetary_minor") }
            return RFMAnalysis(cells: cells, segments: segments, revenues: revenues)
        }
    }
}
