import Campaigns
import Customers
import Expressions
import Foundation
import SQLKit
import SharedModels

// Agent desk and leads
extension SQLCampaignStore {

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
