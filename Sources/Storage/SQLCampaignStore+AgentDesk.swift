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
          t.notes, t.created_at, t.completed_at, t.completed_by, t.claimed_by, t.claimed_at, t.attempts, t.due_at, t.disposition
        FROM agent_tasks t JOIN customers p ON p.id = t.customer_id
        """

    static func task(_ row: any SQLRow) throws -> AgentTask {
        var t = AgentTask(
            id: try row.int64("id"), customer: try row.int64("customer_id"), customerName: try row.string("name"),
            phone: try row.optionalString("phone"),
            campaign: CampaignID(try row.int64("campaign_id")), wave: Int(try row.int64("wave")), script: try row.string("script"),
            status: AgentTask.Status(rawValue: try row.string("status")) ?? .open, outcome: try row.optionalString("outcome"),
            notes: try row.optionalString("notes"), createdAt: try row.date("created_at"), completedAt: try row.optionalDate("completed_at"),
            completedBy: try row.optionalString("completed_by"))
        t.claimedBy = try row.optionalString("claimed_by")
        t.claimedAt = try row.optionalDate("claimed_at")
        t.attempts = Int(try row.int64("attempts"))
        t.dueAt = try row.optionalDate("due_at")
        t.disposition = try row.optionalString("disposition").flatMap(AgentTask.Disposition.init(rawValue:))
        return t
    }

    public func task(_ id: Int64) async throws -> AgentTask? {
        try await database.read { db in try await db.raw(Self.taskSelect + " WHERE t.id = \(bind: id)").first().map(Self.task) }
    }

    public func taskPage(_ q: AgentTaskQuery) async throws -> CountedPage<AgentTask> {
        var conditions: [SQLQueryString] = ["t.status = \(bind: q.status.rawValue)"]
        let stale = q.now.addingTimeInterval(-AgentTask.claimLifetime).epochSeconds
        switch q.claim {
        case .any: break
        case .mine: conditions.append("t.claimed_by = \(bind: q.agent) AND t.claimed_at > \(bind: stale)")
        case .unclaimed: conditions.append("(t.claimed_by IS NULL OR t.claimed_at <= \(bind: stale))")
        }
        if let campaign = q.campaign { conditions.append("t.campaign_id = \(bind: campaign.rawValue)") }
        if let due = q.dueBy { conditions.append("(t.due_at IS NULL OR t.due_at <= \(bind: due.epochSeconds))") }
        let filter = conditions.joined(separator: " AND ")
        // Due first: a callback at its time, the rest oldest first.
        let order: SQLQueryString =
            q.status == .open ? " ORDER BY COALESCE(t.due_at, t.created_at), t.id" : " ORDER BY t.completed_at DESC, t.id DESC"
        return try await database.read { db in
            let total = try await db.raw("SELECT COUNT(*) AS n FROM agent_tasks t WHERE " + filter).first()?.int64("n") ?? 0
            let rows = try await db.raw(Self.taskSelect + " WHERE " + filter + order + " LIMIT \(literal: q.limit) OFFSET \(literal: q.offset)").all()
            return CountedPage(items: try rows.map(Self.task), total: Int(total))
        }
    }

    public func claimTask(_ id: Int64, by agent: String, at: Date, staleBefore: Date) async throws -> AgentTask? {
        try await database.write { db in
            try await db.raw(
                """
                UPDATE agent_tasks SET claimed_by = \(bind: agent), claimed_at = \(bind: at.epochSeconds) WHERE id = \(bind: id) AND status = 'open'
                AND (claimed_by IS NULL OR claimed_by = \(bind: agent) OR claimed_at <= \(bind: staleBefore.epochSeconds))
                """
            ).run()
            return try await db.raw(Self.taskSelect + " WHERE t.id = \(bind: id) AND t.status = 'open'").first().map(Self.task)
        }
    }

    public func releaseTask(_ id: Int64, by agent: String) async throws {
        try await database.write { db in
            try await db.raw("UPDATE agent_tasks SET claimed_by = NULL, claimed_at = NULL WHERE id = \(bind: id) AND claimed_by = \(bind: agent)").run()
        }
    }

    public func recordCall(_ id: Int64, call: AgentCall, by: String, at: Date, staleBefore: Date) async throws -> AgentTask? {
        let done = try await database.write { db -> Bool in
            guard
                let current = try await db.raw(
                    """
                    SELECT customer_id, campaign_id, wave, attempts FROM agent_tasks WHERE id = \(bind: id) AND status = 'open'
                    AND (claimed_by IS NULL OR claimed_by = \(bind: by) OR claimed_at <= \(bind: staleBefore.epochSeconds))\(unsafeRaw: database.capabilities.rowLock)
                    """
                ).first()
            else { return false }
            let (customer, campaign, wave) = (try current.int64("customer_id"), try current.int64("campaign_id"), try current.int64("wave"))
            let attempts = Int(try current.int64("attempts")) + 1
            let d = call.disposition
            // Final unless it is a callback, or an unanswered call with attempts left.
            let final = !(d == .callback || (d == .noAnswer && attempts < AgentTask.maximumAttempts))
            // A call the customer did not pick up is due again in a day; a callback at its time.
            let due: Date? = d == .callback ? call.callbackAt : d == .noAnswer && !final ? at.addingTimeInterval(86_400) : nil
            try await db.raw(
                """
                UPDATE agent_tasks SET status = \(bind: final ? "done" : "open"), outcome = \(bind: d.rawValue), disposition = \(bind: d.rawValue),
                notes = \(bind: call.notes), attempts = \(bind: Int64(attempts)), due_at = \(bind: due?.epochSeconds),
                completed_at = \(bind: final ? at.epochSeconds : nil), completed_by = \(bind: final ? by : nil),
                claimed_by = NULL, claimed_at = NULL WHERE id = \(bind: id)
                """
            ).run()
            try await db.raw(
                """
                INSERT INTO interactions (customer_id, channel, direction, outcome, agent, subject, notes, occurred_at)
                SELECT \(bind: customer), 'call', 'outbound', \(bind: d.rawValue), \(bind: by), name, \(bind: call.notes), \(bind: at.epochSeconds)
                FROM campaigns WHERE id = \(bind: campaign)
                """
            ).run()
            if d.reached {
                try await db.raw(
                    "UPDATE campaign_messages SET status = 'delivered' WHERE " + Self.keyCondition(campaign: campaign, wave: wave, customer: customer)
                ).run()
                try await insertResponse(
                    db, Response(campaign: CampaignID(campaign), wave: Int(wave), customer: customer, kind: .delivered, reference: "call", occurredAt: at))
            }
            return true
        }
        guard done else { return nil }
        return try await task(id)
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
                "UPDATE campaign_messages SET status = 'delivered' WHERE " + Self.keyCondition(campaign: campaign, wave: wave, customer: customer)
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
