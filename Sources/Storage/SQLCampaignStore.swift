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
