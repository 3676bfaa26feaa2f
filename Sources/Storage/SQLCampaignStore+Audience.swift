import Campaigns
import Customers
import Expressions
import Foundation
import SQLKit
import SharedModels

// Audience and waves
extension SQLCampaignStore {

    public func freezeAudience(_ id: CampaignID, segment: SegmentSource, now: Date, isControl: @escaping @Sendable (Int64) -> Bool) async throws
        -> (target: Int, control: Int)
    {
        let query: SQLQueryString
        switch segment {
        case .rule(let rule):
            query = "SELECT c.customer_id FROM segment_facts c WHERE " + (try await segments.condition(rule, now: now)) + " ORDER BY c.customer_id"
        case .snapshot(let s):
            query = """
                SELECT m.customer_id FROM segment_members m JOIN customers p ON p.id = m.customer_id
                WHERE m.segment_id = \(bind: s.rawValue) AND p.status = 'active' ORDER BY m.customer_id
                """
        }
        return try await database.write { db in
            if try await db.raw("SELECT 1 AS x FROM campaign_audience WHERE campaign_id = \(bind: id.rawValue) LIMIT 1").first() != nil {
                throw CampaignError.conflict("campaign \(id) has its audience already")
            }
            let ids = try await readRows(db, query, columns: ["customer_id"]).compactMap { $0[0].int }
            var control = 0
            let rows = ids.map { customer -> [SQLValue] in
                let held = isControl(customer)
                if held { control += 1 }
                return [.integer(id.rawValue), .integer(customer), .integer(held ? 1 : 0)]
            }
            _ = try await insertRows(db, into: "campaign_audience", columns: ["campaign_id", "customer_id", "control"], rows: rows)
            return (ids.count - control, control)
        }
    }

    /// Latest marketing consent per customer on a channel, and the customers blocked on it.
    func consents(_ db: any SQLDatabase, _ channel: CampaignChannel, customer: Int64? = nil) async throws -> (
        granted: [Int64: Bool], blocked: Set<Int64>
    ) {
        let only: SQLQueryString = customer.map { " AND customer_id = \(bind: $0)" } ?? ""
        let latest = try await readRows(
            db,
            "SELECT e.customer_id, e.granted FROM consent_events e JOIN (SELECT MAX(id) AS id FROM consent_events WHERE purpose = 'marketing' AND channel = \(bind: channel.rawValue)"
                + only + " GROUP BY customer_id) l ON l.id = e.id", columns: ["customer_id", "granted"])
        var granted: [Int64: Bool] = [:]
        granted.reserveCapacity(latest.count)
        for row in latest { if let c = row[0].int { granted[c] = (row[1].int ?? 0) != 0 } }
        let blocks = try await readRows(
            db, "SELECT DISTINCT customer_id FROM contact_blocks WHERE channel = \(bind: channel.rawValue) AND cleared_at IS NULL" + only,
            columns: ["customer_id"])
        return (granted, Set(blocks.compactMap { $0[0].int }))
    }

    static let recipientColumns = ["customer_id", "first_name", "last_name", "email", "phone", "profile", "tier", "points", "recommendations"]

    /// The select list and joins of a recipient row (`a.customer_id` names the customer).
    static func recipientSelect(profile: Bool) -> String {
        """
        SELECT a.customer_id, p.first_name, p.last_name, p.email, p.phone, \(profile ? "p.profile" : "NULL AS profile"), m.tier, acc.balance AS points,
          s.recommendations
        """
    }

    static let recipientJoins = """
         JOIN customers p ON p.id = a.customer_id
         LEFT JOIN loyalty_members m ON m.id = (SELECT MIN(m2.id) FROM loyalty_members m2 WHERE m2.customer_id = a.customer_id)
         LEFT JOIN ledger_accounts acc ON acc.member_id = m.id AND acc.point_type = 'reward'
         LEFT JOIN customer_scores s ON s.customer_id = a.customer_id
        """

    func recipients(_ rows: [[SQLValue]], granted: [Int64: Bool], blocked: Set<Int64>, recent: [Int64: [Int: Int]]) throws -> [Recipient] {
        try rows.map { r in
            let customer = r[0].int ?? 0
            var address: [String] = []
            if let profile = r[5].text {
                if let a = try ColumnJSON.decode(Profile.self, from: profile).addresses.first {
                    address = [a.line1, a.line2, [a.postalCode, a.city].compactMap { $0 }.joined(separator: " "), a.region, a.country]
                        .compactMap { $0 }.filter { !$0.isEmpty }
                }
            }
            return Recipient(
                customer: customer, firstName: r[1].text, lastName: r[2].text, email: r[3].text, phone: r[4].text, address: address,
                tier: r[6].text, points: r[7].int, recommendations: Self.stringList(r[8].text), consent: granted[customer],
                blocked: blocked.contains(customer), recentMessages: recent[customer] ?? [:])
        }
    }

    /// A JSON array of strings as written by the scoring job, read without a JSON decoder (a
    /// million of these are read for a large wave).
    static func stringList(_ text: String?) -> [String] {
        guard let text, text.count > 2 else { return [] }
        if text.contains("\\") { return (try? ColumnJSON.decode([String].self, from: text)) ?? [] }
        let inner = text.dropFirst(2).dropLast(2)
        return inner.components(separatedBy: "\",\"")
    }

    public func waveCandidates(_ id: CampaignID, wave: Wave, rule: RuleExpression?, since: Date, now: Date, caps: [FrequencyCap]) async throws
        -> [Recipient]
    {
        var query: SQLQueryString =
            "\(unsafeRaw: Self.recipientSelect(profile: wave.channel == .directMail)) FROM campaign_audience a\(unsafeRaw: Self.recipientJoins)"
        if rule != nil {
            query = query + " JOIN segment_facts c ON c.customer_id = a.customer_id"
        }
        query = query + " WHERE a.campaign_id = \(bind: id.rawValue) AND a.control = 0 AND p.status = 'active'"
        if let rule { query = query + " AND " + (try await segments.condition(rule, now: now)) }
        if wave.audience == .nonResponders {
            query =
                query
                    + """
                     AND NOT EXISTS (SELECT 1 FROM campaign_responses r WHERE r.campaign_id = a.campaign_id AND r.customer_id = a.customer_id
                     AND r.kind IN ('clicked', 'enrolled', 'redeemed', 'purchased') AND r.occurred_at >= \(bind: since.epochSeconds))
                    """
        }
        query = query + " ORDER BY a.customer_id"
        let q = query
        return try await database.read { db in
            let rows = try await readRows(db, q, columns: Self.recipientColumns)
            let (granted, blocked) = try await consents(db, wave.channel)
            var recent: [Int64: [Int: Int]] = [:]
            let windows = Set(caps.map(\.days)).sorted()
            if let longest = windows.last {
                let counts = windows.map { "SUM(CASE WHEN queued_at >= \(now.epochSeconds - Int64($0) * 86_400) THEN 1 ELSE 0 END) AS w\($0)" }
                let rows = try await readRows(
                    db,
                    """
                    SELECT customer_id, \(unsafeRaw: counts.joined(separator: ", ")) FROM campaign_messages WHERE channel = \(bind: wave.channel.rawValue)
                    AND status IN ('pending', 'sending', 'sent', 'delivered') AND queued_at >= \(bind: now.epochSeconds - Int64(longest) * 86_400)
                    GROUP BY customer_id
                    """, columns: ["customer_id"] + windows.map { "w\($0)" })
                for row in rows {
                    guard let c = row[0].int else { continue }
                    var byWindow: [Int: Int] = [:]
                    for (i, days) in windows.enumerated() { byWindow[days] = Int(row[i + 1].int ?? 0) }
                    recent[c] = byWindow
                }
            }
            return try recipients(rows, granted: granted, blocked: blocked, recent: recent)
        }
    }

    public func recipient(_ customer: Int64, channel: CampaignChannel) async throws -> Recipient? {
        try await database.read { db in
            let rows = try await readRows(
                db,
                "\(unsafeRaw: Self.recipientSelect(profile: true)) FROM (SELECT \(bind: customer) AS customer_id) a\(unsafeRaw: Self.recipientJoins)",
                columns: Self.recipientColumns)
            let (granted, blocked) = try await consents(db, channel, customer: customer)
            return try recipients(rows, granted: granted, blocked: blocked, recent: [:]).first
        }
    }

    static let messageColumns = [
        "campaign_id", "wave", "customer_id", "channel", "status", "reason", "address", "name", "subject", "body", "html", "secret", "attempts",
        "next_attempt_at", "queued_at",
    ]

    public func queueWave(
        _ id: CampaignID, number: Int, messages: [OutboundMessage], suppressed: [(customer: Int64, reason: String)], links: [String], at: Date
    ) async throws -> WaveState {
        var reasons: [String: Int] = [:]
        for s in suppressed { reasons[s.reason, default: 0] += 1 }
        let state = WaveState(number: number, preparedAt: at, queued: messages.count, suppressed: reasons)
        let reasonsText = try ColumnJSON.encode(reasons)
        let linksText = try ColumnJSON.encode(links)
        let t = at.epochSeconds
        try await database.write { db in
            if try await db.raw("SELECT 1 AS x FROM campaign_waves WHERE campaign_id = \(bind: id.rawValue) AND number = \(bind: number)").first()
                != nil
            {
                throw CampaignError.conflict("wave \(number) of campaign \(id) is prepared already")
            }
            try await db.raw(
                """
                INSERT INTO campaign_waves (campaign_id, number, prepared_at, queued, suppressed, links) VALUES (\(bind: id.rawValue), \(bind: number),
                \(bind: t), \(bind: Int64(messages.count)), \(bind: reasonsText), \(bind: linksText))
                """
            ).run()
            let batch = 20_000
            for start in stride(from: 0, to: messages.count, by: batch) {
                let rows = messages[start..<min(start + batch, messages.count)].map { m -> [SQLValue] in
                    [
                        .integer(id.rawValue), .integer(Int64(number)), .integer(m.key.customer), .text(m.channel.rawValue), .text("pending"), .null,
                        .text(m.address), .text(m.name), SQLValue(m.subject), .text(m.body), .integer(m.isHTML ? 1 : 0),
                        .integer(Int64(bitPattern: m.secret)), .integer(0), .integer(t), .integer(t),
                    ]
                }
                _ = try await insertRows(db, into: "campaign_messages", columns: Self.messageColumns, rows: rows)
            }
            let channel = messages.first?.channel.rawValue ?? ""
            for part in chunks(suppressed, of: 20_000) {
                let rows = part.map { s -> [SQLValue] in
                    [
                        .integer(id.rawValue), .integer(Int64(number)), .integer(s.customer), .text(channel), .text("suppressed"), .text(s.reason),
                        .null,
                        .null, .null, .null, .integer(0), .integer(0), .integer(0), .integer(t), .integer(t),
                    ]
                }
                _ = try await insertRows(db, into: "campaign_messages", columns: Self.messageColumns, rows: rows)
            }
        }
        return state
    }
}
