import Campaigns
import Customers
import Expressions
import Foundation
import SQLKit
import SharedModels

/// Campaigns over SQL: plans as JSON documents, the frozen audience, the outbox
/// (`campaign_messages`, one row per wave and customer, suppressed ones included for the audit),
/// responses, call tasks and leads. Responses and sent messages are also written to the
/// customer's interaction timeline in the same transaction.
public struct SQLCampaignStore: CampaignStore {
    let database: any Database
    let segments: SQLSegmentStore

    public init(database: any Database) {
        self.database = database
        self.segments = SQLSegmentStore(database: database)
    }

    // MARK: Campaigns

    static let columns = "id, owner, status, seed, plan, created_at, launched_at"

    func decode(_ row: any SQLRow, waves: [WaveState]) throws -> Campaign {
        Campaign(
            id: CampaignID(try row.int64("id")), plan: try ColumnJSON.decode(CampaignPlan.self, from: try row.string("plan")),
            owner: try row.string("owner"), status: Campaign.Status(rawValue: try row.string("status")) ?? .draft,
            seed: UInt64(bitPattern: try row.int64("seed")), createdAt: try row.date("created_at"), launchedAt: try row.optionalDate("launched_at"),
            waves: waves)
    }

    public func insertCampaign(_ plan: CampaignPlan, owner: String, seed: UInt64, at: Date) async throws -> Campaign {
        let text = try ColumnJSON.encode(plan)
        let id = try await database.write { db in
            try await db.raw(
                """
                INSERT INTO campaigns (name, owner, status, seed, plan, offer, created_at) VALUES (\(bind: plan.name), \(bind: owner), 'draft',
                \(bind: Int64(bitPattern: seed)), \(bind: text), \(bind: plan.offer.label), \(bind: at.epochSeconds)) RETURNING id
                """
            ).first()!.int64("id")
        }
        return try await campaign(CampaignID(id))!
    }

    public func updatePlan(_ id: CampaignID, _ plan: CampaignPlan) async throws {
        let text = try ColumnJSON.encode(plan)
        try await database.write { db in
            try await db.raw(
                "UPDATE campaigns SET name = \(bind: plan.name), plan = \(bind: text), offer = \(bind: plan.offer.label) WHERE id = \(bind: id.rawValue)"
            ).run()
        }
    }

    public func deleteCampaign(_ id: CampaignID) async throws {
        try await database.write { db in
            for table in ["campaign_messages", "campaign_audience", "campaign_waves", "campaign_responses", "agent_tasks", "leads"] {
                try await db.raw("DELETE FROM \(unsafeRaw: table) WHERE campaign_id = \(bind: id.rawValue)").run()
            }
            try await db.raw("DELETE FROM campaigns WHERE id = \(bind: id.rawValue)").run()
        }
    }

    public func setStatus(_ id: CampaignID, _ status: Campaign.Status, launchedAt: Date?) async throws {
        try await database.write { db in
            try await db.raw(
                "UPDATE campaigns SET status = \(bind: status.rawValue), launched_at = \(bind: launchedAt?.epochSeconds) WHERE id = \(bind: id.rawValue)"
            ).run()
        }
    }

    func waveStates(_ db: any SQLDatabase, _ ids: [Int64]) async throws -> [Int64: [WaveState]] {
        guard !ids.isEmpty else { return [:] }
        var out: [Int64: [WaveState]] = [:]
        let rows = try await db.raw(
            "SELECT campaign_id, number, prepared_at, queued, suppressed FROM campaign_waves WHERE campaign_id IN (\(binds: ids)) ORDER BY number"
        ).all()
        for row in rows {
            out[try row.int64("campaign_id"), default: []].append(
                WaveState(
                    number: Int(try row.int64("number")), preparedAt: try row.date("prepared_at"), queued: Int(try row.int64("queued")),
                    suppressed: try ColumnJSON.decode([String: Int].self, from: try row.string("suppressed"))))
        }
        return out
    }

    public func campaign(_ id: CampaignID) async throws -> Campaign? {
        try await database.read { db in
            guard let row = try await db.raw("SELECT \(unsafeRaw: Self.columns) FROM campaigns WHERE id = \(bind: id.rawValue)").first() else {
                return nil
            }
            return try decode(row, waves: try await waveStates(db, [id.rawValue])[id.rawValue] ?? [])
        }
    }

    public func campaigns() async throws -> [Campaign] {
        try await database.read { db in
            let rows = try await db.raw("SELECT \(unsafeRaw: Self.columns) FROM campaigns ORDER BY id DESC").all()
            let waves = try await waveStates(db, try rows.map { try $0.int64("id") })
            return try rows.map { try decode($0, waves: waves[try $0.int64("id")] ?? []) }
        }
    }

    // MARK: Audience and waves

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

    // MARK: Outbox

    static let messageSelect: SQLQueryString =
        "SELECT campaign_id, wave, customer_id, channel, status, address, name, subject, body, html, secret, attempts FROM campaign_messages"

    static func message(_ row: any SQLRow) throws -> OutboundMessage {
        OutboundMessage(
            key: MessageKey(
                campaign: CampaignID(try row.int64("campaign_id")), wave: Int(try row.int64("wave")), customer: try row.int64("customer_id")),
            channel: CampaignChannel(rawValue: try row.string("channel")) ?? .email, address: try row.optionalString("address") ?? "",
            name: try row.optionalString("name") ?? "", subject: try row.optionalString("subject"), body: try row.optionalString("body") ?? "",
            isHTML: try row.int64("html") != 0, secret: UInt64(bitPattern: try row.int64("secret")),
            status: MessageStatus(rawValue: try row.string("status")) ?? .pending, attempts: Int(try row.int64("attempts")))
    }

    static func keyCondition(_ k: MessageKey) -> SQLQueryString {
        "campaign_id = \(bind: k.campaign.rawValue) AND wave = \(bind: Int64(k.wave)) AND customer_id = \(bind: k.customer)"
    }

    /// Claims due messages for this process alone: rows another server is claiming are passed
    /// over (PostgreSQL) and each row changes to `sending` only if it is still `pending`, so two
    /// outbox passes at once never send one message twice.
    public func claim(_ channel: CampaignChannel, now: Date, limit: Int) async throws -> [OutboundMessage] {
        try await database.write { [database] db in
            let due = try await db.raw(
                """
                SELECT campaign_id, wave, customer_id FROM campaign_messages WHERE status = 'pending' AND channel = \(bind: channel.rawValue)
                AND next_attempt_at <= \(bind: now.epochSeconds) ORDER BY next_attempt_at, campaign_id, wave, customer_id LIMIT \(bind: Int64(limit))
                """ + SQLQueryString(database.claimClause)
            ).all()
            var claimed: [OutboundMessage] = []
            for row in due {
                let key = MessageKey(
                    campaign: CampaignID(try row.int64("campaign_id")), wave: Int(try row.int64("wave")), customer: try row.int64("customer_id"))
                if let updated = try await db.raw(
                    "UPDATE campaign_messages SET status = 'sending', attempts = attempts + 1, claimed_at = \(bind: now.epochSeconds) WHERE "
                        + Self.keyCondition(key) + " AND status = 'pending' RETURNING "
                        + "campaign_id, wave, customer_id, channel, status, address, name, subject, body, html, secret, attempts"
                ).first() {
                    claimed.append(try Self.message(updated))
                }
            }
            return claimed
        }
    }

    /// The attempt after `attempts` failures waits 1, 2, 4, 8 minutes; the fifth failure is final.
    static let maxAttempts = 5

    public func settle(_ outcomes: [(message: MessageKey, outcome: DeliveryOutcome)], at: Date) async throws {
        let t = at.epochSeconds
        try await database.write { db in
            var names: [CampaignID: String] = [:]
            for id in Set(outcomes.map(\.message.campaign)) {
                names[id] = try await db.raw("SELECT name FROM campaigns WHERE id = \(bind: id.rawValue)").first()?.string("name")
            }
            for (key, outcome) in outcomes {
                guard let row = try await db.raw(Self.messageSelect + " WHERE " + Self.keyCondition(key)).first() else { continue }
                let m = try Self.message(row)
                let name = names[key.campaign] ?? ""
                let firstSend = m.status == .sending
                func interaction(_ outcome: String) async throws {
                    try await db.raw(
                        """
                        INSERT INTO interactions (customer_id, channel, direction, outcome, agent, subject, notes, occurred_at) VALUES
                        (\(bind: key.customer), \(bind: m.channel.rawValue), 'outbound', \(bind: outcome), 'campaigns', \(bind: m.subject ?? name),
                        \(bind: "campaign \(key.campaign) (\(name)), wave \(key.wave)"), \(bind: t))
                        """
                    ).run()
                }
                switch outcome {
                case .delivered, .accepted:
                    let status = outcome == .delivered ? "delivered" : "sent"
                    if !firstSend && m.status != .sent { continue }
                    try await db.raw(
                        "UPDATE campaign_messages SET status = \(bind: status), sent_at = COALESCE(sent_at, \(bind: t)), claimed_at = NULL WHERE "
                            + Self.keyCondition(key)
                    ).run()
                    if firstSend { try await interaction("campaign:sent") }
                    if outcome == .delivered {
                        try await insertResponse(
                            db, Response(campaign: key.campaign, wave: key.wave, customer: key.customer, kind: .delivered, occurredAt: at))
                    }
                    if firstSend && m.channel == .call {
                        try await db.raw(
                            """
                            INSERT INTO agent_tasks (customer_id, campaign_id, wave, script, status, created_at) VALUES (\(bind: key.customer),
                            \(bind: key.campaign.rawValue), \(bind: Int64(key.wave)), \(bind: m.body), 'open', \(bind: t))
                            """
                        ).run()
                    }
                case .bounced(let reason):
                    if m.status == .bounced { continue }
                    try await db.raw(
                        "UPDATE campaign_messages SET status = 'bounced', reason = \(bind: reason), sent_at = COALESCE(sent_at, \(bind: t)), claimed_at = NULL WHERE "
                            + Self.keyCondition(key)
                    ).run()
                    try await insertResponse(
                        db, Response(campaign: key.campaign, wave: key.wave, customer: key.customer, kind: .bounced, occurredAt: at))
                    try await interaction("campaign:bounced")
                case .retry(let reason):
                    guard firstSend else { continue }
                    let final = m.attempts >= Self.maxAttempts
                    let wait = Int64(60) << Int64(max(0, m.attempts - 1))
                    try await db.raw(
                        """
                        UPDATE campaign_messages SET status = \(bind: final ? "failed" : "pending"), reason = \(bind: reason),
                        next_attempt_at = \(bind: t + wait), claimed_at = NULL
                        """ + " WHERE " + Self.keyCondition(key)
                    ).run()
                }
            }
        }
    }

    public func requeueStale(claimedBefore: Date) async throws -> Int {
        try await database.write { db in
            let rows = try await db.raw(
                "UPDATE campaign_messages SET status = 'pending', claimed_at = NULL WHERE status = 'sending' AND claimed_at < \(bind: claimedBefore.epochSeconds) RETURNING customer_id"
            ).all()
            return rows.count
        }
    }

    public func message(_ key: MessageKey) async throws -> OutboundMessage? {
        try await database.read { db in try await db.raw(Self.messageSelect + " WHERE " + Self.keyCondition(key)).first().map(Self.message) }
    }

    public func messages(_ id: CampaignID, wave: Int, statuses: [MessageStatus]) async throws -> [OutboundMessage] {
        try await database.read { db in
            try await db.raw(
                Self.messageSelect
                    + " WHERE campaign_id = \(bind: id.rawValue) AND wave = \(bind: Int64(wave)) AND status IN (\(binds: statuses.map(\.rawValue))) ORDER BY customer_id"
            ).all().map(Self.message)
        }
    }

    public func links(_ id: CampaignID, wave: Int) async throws -> [String] {
        try await database.read { db in
            guard
                let text = try await db.raw(
                    "SELECT links FROM campaign_waves WHERE campaign_id = \(bind: id.rawValue) AND number = \(bind: Int64(wave))"
                )
                .first()?.string("links")
            else { return [] }
            return try ColumnJSON.decode([String].self, from: text)
        }
    }

    // MARK: Responses

    /// Inserts one response unless recorded already; a target customer's also goes on their timeline.
    @discardableResult
    func insertResponse(_ db: any SQLDatabase, _ r: Response) async throws -> Bool {
        let control =
            try await db.raw(
                "SELECT control FROM campaign_audience WHERE campaign_id = \(bind: r.campaign.rawValue) AND customer_id = \(bind: r.customer)"
            ).first()?.int64("control") ?? 0
        let inserted = try await db.raw(
            """
            INSERT INTO campaign_responses (campaign_id, wave, customer_id, control, kind, reference, amount_minor, occurred_at) VALUES
            (\(bind: r.campaign.rawValue), \(bind: r.wave.map(Int64.init)), \(bind: r.customer), \(bind: control), \(bind: r.kind.rawValue),
            \(bind: r.reference), \(bind: r.amount), \(bind: r.occurredAt.epochSeconds)) ON CONFLICT DO NOTHING RETURNING id
            """
        ).first()
        guard let id = try inserted?.int64("id") else { return false }
        if control == 0 && r.kind != .delivered && r.kind != .bounced { try await timeline(db, responses: [id]) }
        return true
    }

    /// Writes these responses onto their customers' timelines as inbound interactions (callers
    /// pass only target customers' responses other than delivered and bounced).
    func timeline(_ db: any SQLDatabase, responses ids: [Int64]) async throws {
        for part in chunks(ids, of: 10_000) {
            try await db.raw(
                """
                INSERT INTO interactions (customer_id, channel, direction, outcome, agent, subject, notes, occurred_at)
                SELECT r.customer_id, COALESCE((SELECT m.channel FROM campaign_messages m WHERE m.campaign_id = r.campaign_id AND m.wave = r.wave
                  AND m.customer_id = r.customer_id), 'web'), 'inbound', 'campaign:' || r.kind, 'campaigns', c.name,
                  'campaign ' || CAST(r.campaign_id AS TEXT) || ', wave ' || COALESCE(CAST(r.wave AS TEXT), '-') || ', offer ' || c.offer
                  || CASE WHEN r.reference = '' THEN '' ELSE ', ' || r.reference END, r.occurred_at
                FROM campaign_responses r JOIN campaigns c ON c.id = r.campaign_id WHERE r.id IN (\(binds: Array(part)))
                """
            ).run()
        }
    }

    public func record(_ responses: [Response]) async throws -> Int {
        try await database.write { db in
            var n = 0
            for r in responses where try await insertResponse(db, r) { n += 1 }
            return n
        }
    }

    public func attribute(_ c: Campaign, until: Date) async throws -> Int {
        guard let launched = c.launchedAt else { return 0 }
        let (from, to) = (launched.epochSeconds, until.epochSeconds)
        let id = c.id.rawValue
        let lastWave = { @Sendable (alias: String, time: String) -> String in
            """
            (SELECT MAX(m.wave) FROM campaign_messages m WHERE m.campaign_id = a.campaign_id AND m.customer_id = \(alias).customer_id
             AND m.status IN ('sent', 'delivered') AND m.sent_at <= \(time))
            """
        }
        return try await database.write { db in
            /// Inserts the responses `select` finds (skipping those recorded before) and returns
            /// how many were new; the target's go onto the timeline.
            func insert(_ select: SQLQueryString) async throws -> Int {
                let rows = try await db.raw(
                    "INSERT INTO campaign_responses (campaign_id, wave, customer_id, control, kind, reference, amount_minor, occurred_at) " + select
                        + " ON CONFLICT DO NOTHING RETURNING id, control"
                ).all()
                try await timeline(db, responses: try rows.filter { try $0.int64("control") == 0 }.map { try $0.int64("id") })
                return rows.count
            }
            var new = try await insert(
                """
                SELECT a.campaign_id, \(unsafeRaw: lastWave("a", "t.occurred_at")), a.customer_id, a.control, 'purchased', 'tx:' || CAST(t.id AS TEXT),
                  t.amount_minor, t.occurred_at
                FROM campaign_audience a JOIN transactions t ON t.customer_id = a.customer_id AND t.kind = 'purchase'
                WHERE a.campaign_id = \(bind: id) AND t.occurred_at >= \(bind: from) AND t.occurred_at <= \(bind: to)
                  AND t.currency = \(bind: c.plan.currency)
                """)
            if c.plan.offer.kind == .promotion, let code = c.plan.offer.code {
                new += try await insert(
                    """
                    SELECT a.campaign_id, \(unsafeRaw: lastWave("a", "e.enrolled_at")), a.customer_id, a.control, 'enrolled',
                      'promotion:' || CAST(e.promotion_id AS TEXT), 0, e.enrolled_at
                    FROM campaign_audience a JOIN loyalty_members lm ON lm.customer_id = a.customer_id
                    JOIN promotion_enrolments e ON e.member_id = lm.id JOIN loyalty_promotions pr ON pr.id = e.promotion_id AND pr.code = \(bind: code)
                    WHERE a.campaign_id = \(bind: id) AND e.enrolled_at >= \(bind: from) AND e.enrolled_at <= \(bind: to)
                    """)
            }
            if c.plan.offer.kind == .voucher, let code = c.plan.offer.code {
                new += try await insert(
                    """
                    SELECT a.campaign_id, \(unsafeRaw: lastWave("a", "v.closed_at")), a.customer_id, a.control, 'redeemed', 'voucher:' || v.code, 0, v.closed_at
                    FROM campaign_audience a JOIN loyalty_members lm ON lm.customer_id = a.customer_id
                    JOIN loyalty_vouchers v ON v.member_id = lm.id JOIN loyalty_rewards rw ON rw.id = v.reward_id AND rw.code = \(bind: code)
                    WHERE a.campaign_id = \(bind: id) AND v.status = 'used' AND v.closed_at >= \(bind: from) AND v.closed_at <= \(bind: to)
                    """)
            }
            return new
        }
    }

    public func figures(_ c: Campaign) async throws -> CampaignFigures {
        try await database.read { db in
            let i = c.id.rawValue
            var target = CampaignFigures.Group()
            var control = CampaignFigures.Group()
            var tiers: [String: (target: CampaignFigures.Group, control: CampaignFigures.Group)] = [:]
            let groups = try await readRows(
                db,
                """
                SELECT a.control, COALESCE(s.value_tier, 'unscored') AS tier, COUNT(*) AS customers,
                  SUM(CASE WHEN r.revenue IS NULL THEN 0 ELSE 1 END) AS responders, SUM(COALESCE(r.revenue, 0)) AS revenue,
                  SUM(CAST(COALESCE(r.revenue, 0) AS DOUBLE PRECISION) * COALESCE(r.revenue, 0)) AS squares
                FROM campaign_audience a LEFT JOIN customer_scores s ON s.customer_id = a.customer_id
                LEFT JOIN (SELECT customer_id, SUM(amount_minor) AS revenue FROM campaign_responses WHERE campaign_id = \(bind: i)
                  AND kind = 'purchased' GROUP BY customer_id) r ON r.customer_id = a.customer_id
                WHERE a.campaign_id = \(bind: i) GROUP BY a.control, COALESCE(s.value_tier, 'unscored')
                """, columns: ["control", "tier", "customers", "responders", "revenue", "squares"])
            for row in groups {
                let g = CampaignFigures.Group(
                    customers: Int(row[2].int ?? 0), responders: Int(row[3].int ?? 0), revenue: row[4].int ?? 0, revenueSquares: row[5].double ?? 0)
                let tier = row[1].text ?? "unscored"
                var pair = tiers[tier] ?? (.init(), .init())
                if (row[0].int ?? 0) != 0 {
                    control.add(g)
                    pair.control = g
                } else {
                    target.add(g)
                    pair.target = g
                }
                tiers[tier] = pair
            }
            var waves: [Int: [String: Int]] = [:]
            var sent: [CampaignChannel: Int] = [:]
            for row in try await readRows(
                db,
                "SELECT wave, channel, status, COUNT(*) AS n FROM campaign_messages WHERE campaign_id = \(bind: i) GROUP BY wave, channel, status",
                columns: ["wave", "channel", "status", "n"])
            {
                let (wave, status, n) = (Int(row[0].int ?? 0), row[2].text ?? "", Int(row[3].int ?? 0))
                waves[wave, default: [:]][status, default: 0] += n
                if ["sent", "delivered", "bounced"].contains(status), let ch = row[1].text.flatMap(CampaignChannel.init(rawValue:)) {
                    sent[ch, default: 0] += n
                }
            }
            for row in try await readRows(
                db,
                """
                SELECT wave, kind, COUNT(DISTINCT customer_id) AS n FROM campaign_responses WHERE campaign_id = \(bind: i) AND control = 0
                AND wave IS NOT NULL AND kind NOT IN ('delivered', 'bounced') GROUP BY wave, kind
                """, columns: ["wave", "kind", "n"])
            {
                waves[Int(row[0].int ?? 0), default: [:]][row[1].text ?? "", default: 0] = Int(row[2].int ?? 0)
            }
            let redemptions =
                try await db.raw(
                    "SELECT COUNT(*) AS n FROM campaign_responses WHERE campaign_id = \(bind: i) AND control = 0 AND kind IN ('enrolled', 'redeemed')"
                ).first()!.int64("n")
            var points: Int64 = 0
            if c.plan.offer.kind == .promotion, let code = c.plan.offer.code, let launched = c.launchedAt {
                let end = launched.epochSeconds + Int64(c.plan.attributionDays) * 86_400
                points =
                    try await db.raw(
                        """
                        SELECT CAST(COALESCE(SUM(pa.points), 0) AS BIGINT) AS n FROM campaign_audience a JOIN loyalty_members lm ON lm.customer_id = a.customer_id
                        JOIN promotion_applications pa ON pa.member_id = lm.id JOIN loyalty_promotions pr ON pr.id = pa.promotion_id AND pr.code = \(bind: code)
                        WHERE a.campaign_id = \(bind: i) AND a.control = 0 AND pa.applied_at >= \(bind: launched.epochSeconds) AND pa.applied_at <= \(bind: end)
                        """
                    ).first()!.int64("n")
            }
            return CampaignFigures(
                target: target, control: control, waves: waves, sentByChannel: sent, redemptions: Int(redemptions), points: points, byValueTier: tiers
            )
        }
    }

    public func unsubscribe(customer: Int64, channel: CampaignChannel, campaign: CampaignID, at: Date) async throws {
        try await database.write { db in
            try await db.raw(
                """
                INSERT INTO consent_events (customer_id, purpose, channel, granted, source, text, recorded_by, recorded_at) VALUES
                (\(bind: customer), 'marketing', \(bind: channel.rawValue), 0, 'unsubscribe_link', \(bind: "campaign \(campaign)"),
                \(bind: "campaign:\(campaign)"), \(bind: at.epochSeconds))
                """
            ).run()
        }
    }

    // MARK: What-if

    public func reach(_ rule: RuleExpression, channels: [CampaignChannel], now: Date) async throws -> ReachEstimate {
        let condition = try await segments.condition(rule, now: now)
        return try await database.read { db in
            let row =
                try await readRows(
                    db,
                    """
                    SELECT COUNT(*) AS n, SUM(CASE WHEN c.consent_email <> 0 AND c.has_email <> 0 THEN 1 ELSE 0 END) AS email,
                      SUM(CASE WHEN c.consent_sms <> 0 AND c.has_phone <> 0 THEN 1 ELSE 0 END) AS sms,
                      SUM(CASE WHEN c.has_phone <> 0 THEN 1 ELSE 0 END) AS phone, AVG(c.p_alive) AS p_alive, SUM(c.revenue) AS revenue,
                      SUM(c.purchases) AS purchases, AVG(c.clv) AS clv
                    FROM segment_facts c WHERE
                    """ + condition, columns: ["n", "email", "sms", "phone", "p_alive", "revenue", "purchases", "clv"]
                ).first ?? []
            func int(_ i: Int) -> Int { row.indices.contains(i) ? Int(row[i].int ?? 0) : 0 }
            func dbl(_ i: Int) -> Double? { row.indices.contains(i) ? row[i].double : nil }
            var reachable: [CampaignChannel: Int] = [:]
            for ch in channels {
                reachable[ch] =
                    switch ch {
                    case .email: int(1)
                    case .sms: int(2)
                    case .call: int(3)
                    case .directMail: int(0)
                    }
            }
            let purchases = dbl(6) ?? 0
            return ReachEstimate(
                customers: int(0), reachable: reachable, meanPAlive: dbl(4), averageOrderValue: purchases > 0 ? (dbl(5) ?? 0) / purchases : nil,
                meanCLV: dbl(7))
        }
    }

    // MARK: Agent desk and leads

    public func tasks(status: AgentTask.Status?, limit: Int) async throws -> [AgentTask] {
        try await database.read { db in
            let filter: SQLQueryString = status.map { " WHERE t.status = \(bind: $0.rawValue)" } ?? ""
            return try await db.raw(Self.taskSelect + filter + " ORDER BY t.id LIMIT \(bind: Int64(limit))").all().map(Self.task)
        }
    }

    static let taskSelect: SQLQueryString = """
        SELECT t.id, t.customer_id, \(unsafeRaw: SQLSegmentStore.memberName), p.phone, t.campaign_id, t.wave, t.script, t.status, t.outcome,
          t.notes, t.created_at, t.completed_at, t.completed_by
        FROM agent_tasks t JOIN customers p ON p.id = t.customer_id
        """

    static func task(_ row: any SQLRow) throws -> AgentTask {
        AgentTask(
            id: try row.int64("id"), customer: try row.int64("customer_id"), customerName: try row.string("name"),
            phone: try row.optionalString("phone"),
            campaign: CampaignID(try row.int64("campaign_id")), wave: Int(try row.int64("wave")), script: try row.string("script"),
            status: AgentTask.Status(rawValue: try row.string("status")) ?? .open, outcome: try row.optionalString("outcome"),
            notes: try row.optionalString("notes"), createdAt: try row.date("created_at"), completedAt: try row.optionalDate("completed_at"),
            completedBy: try row.optionalString("completed_by"))
    }

    public func completeTask(_ id: Int64, outcome: String, notes: String?, by: String, at: Date) async throws -> AgentTask? {
        let done = try await database.write { db -> Bool in
            guard
                let row = try await db.raw(
                    """
                    UPDATE agent_tasks SET status = 'done', outcome = \(bind: outcome), notes = \(bind: notes), completed_at = \(bind: at.epochSeconds),
                    completed_by = \(bind: by) WHERE id = \(bind: id) AND status = 'open' RETURNING customer_id, campaign_id, wave
                    """
                ).first()
            else { return false }
            let (customer, campaign, wave) = (try row.int64("customer_id"), try row.int64("campaign_id"), try row.int64("wave"))
            try await db.raw(
                """
                INSERT INTO interactions (customer_id, channel, direction, outcome, agent, subject, notes, occurred_at)
                SELECT \(bind: customer), 'call', 'outbound', \(bind: outcome), \(bind: by), name, \(bind: notes), \(bind: at.epochSeconds)
                FROM campaigns WHERE id = \(bind: campaign)
                """
            ).run()
            try await db.raw(
                "UPDATE campaign_messages SET status = 'delivered' WHERE campaign_id = \(bind: campaign) AND wave = \(bind: wave) AND customer_id = \(bind: customer)"
            ).run()
            try await insertResponse(
                db, Response(campaign: CampaignID(campaign), wave: Int(wave), customer: customer, kind: .delivered, reference: "call", occurredAt: at)
            )
            return true
        }
        guard done else { return nil }
        return try await database.read { db in
            try await db.raw(Self.taskSelect + " WHERE t.id = \(bind: id)").first().map(Self.task)
        }
    }

    public func createLeads(_ id: CampaignID, kinds: [Response.Kind], owner: String, at: Date) async throws -> Int {
        guard !kinds.isEmpty else { return 0 }
        let strength = [Response.Kind.purchased, .redeemed, .enrolled, .clicked, .opened]
        return try await database.write { db in
            var best: [Int64: Response.Kind] = [:]
            for row in try await readRows(
                db,
                """
                SELECT DISTINCT customer_id, kind FROM campaign_responses WHERE campaign_id = \(bind: id.rawValue) AND control = 0
                AND kind IN (\(binds: kinds.map(\.rawValue))) ORDER BY customer_id
                """, columns: ["customer_id", "kind"])
            {
                guard let c = row[0].int, let k = row[1].text.flatMap(Response.Kind.init(rawValue:)) else { continue }
                if let old = best[c], (strength.firstIndex(of: old) ?? 99) <= (strength.firstIndex(of: k) ?? 99) { continue }
                best[c] = k
            }
            let rows = best.keys.sorted().map { c -> [SQLValue] in
                [.integer(c), .integer(id.rawValue), .text(best[c]!.rawValue), .text("new"), .text(owner), .integer(at.epochSeconds)]
            }
            let inserted = try await insertRows(
                db, into: "leads", columns: ["customer_id", "campaign_id", "source", "status", "owner", "created_at"], rows: rows,
                suffix: "ON CONFLICT DO NOTHING", returning: [("id", true)])
            return inserted.count
        }
    }

    public func leads(campaign: CampaignID?, limit: Int) async throws -> [Lead] {
        try await database.read { db in
            let filter: SQLQueryString = campaign.map { " WHERE l.campaign_id = \(bind: $0.rawValue)" } ?? " WHERE l.campaign_id IS NOT NULL"
            return try await db.raw(
                "SELECT l.id, l.customer_id, \(unsafeRaw: SQLSegmentStore.memberName), l.campaign_id, l.source, l.status, l.owner, l.created_at FROM leads l JOIN customers p ON p.id = l.customer_id"
                    + filter + " ORDER BY l.id LIMIT \(bind: Int64(limit))"
            ).all().map {
                Lead(
                    id: try $0.int64("id"), customer: try $0.int64("customer_id"), customerName: try $0.string("name"),
                    campaign: CampaignID(try $0.int64("campaign_id")), source: try $0.string("source"), status: try $0.string("status"),
                    owner: try $0.string("owner"), createdAt: try $0.date("created_at"))
            }
        }
    }
}

extension CampaignFigures.Group {
    mutating func add(_ g: Self) {
        customers += g.customers
        responders += g.responders
        revenue += g.revenue
        revenueSquares += g.revenueSquares
    }
}

extension SQLValue {
    var double: Double? {
        switch self {
        case .integer(let v): Double(v)
        case .real(let v): v
        case .text(let v): Double(v)
        case .null: nil
        }
    }
}
