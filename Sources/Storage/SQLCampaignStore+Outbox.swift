import Campaigns
import Customers
import Expressions
import Foundation
import SQLKit
import SharedModels

// Outbox
extension SQLCampaignStore {

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

    /// One message: its key, and the time its wave was queued — every message of a wave has it
    /// (``queueWave``). On PostgreSQL the messages are partitioned by that time, so with it a
    /// message is read or changed in its month alone; without it, settling a message probed the
    /// key's index in every month kept (#18).
    static func keyCondition(_ k: MessageKey) -> SQLQueryString {
        keyCondition(campaign: k.campaign.rawValue, wave: Int64(k.wave), customer: k.customer)
    }

    static func keyCondition(campaign: Int64, wave: Int64, customer: Int64) -> SQLQueryString {
        """
        campaign_id = \(bind: campaign) AND wave = \(bind: wave) AND customer_id = \(bind: customer)
        AND queued_at = (SELECT prepared_at FROM campaign_waves WHERE campaign_id = \(bind: campaign) AND number = \(bind: wave))
        """
    }

    /// Claims due messages for this process alone: rows another server is claiming are passed
    /// over (PostgreSQL) and each row changes to `sending` only if it is still `pending`, so two
    /// outbox passes at once never send one message twice.
    public func claim(_ channel: CampaignChannel, now: Date, limit: Int) async throws -> [OutboundMessage] {
        try await database.write { [database] db in
            let due = try await db.raw(
                """
                SELECT campaign_id, wave, customer_id FROM campaign_messages WHERE status = 'pending' AND channel = \(bind: channel.rawValue)
                AND next_attempt_at <= \(bind: now.epochSeconds)
                AND campaign_id IN (SELECT id FROM campaigns WHERE status = 'running') ORDER BY next_attempt_at, campaign_id, wave, customer_id LIMIT \(bind: Int64(limit))
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
}
