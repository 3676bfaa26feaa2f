import Expressions
import Foundation
import SharedModels

// Agent desk and leads
extension CampaignService {

    public func tasks(status: AgentTask.Status? = .open, limit: Int = 100) async throws -> [AgentTask] {
        try await store.tasks(status: status, limit: max(1, min(limit, 1_000)))
    }

    /// The agent made the call: records its outcome on the customer's timeline.
    public func completeTask(_ id: Int64, outcome: String, notes: String?, by agent: String) async throws -> AgentTask {
        let o = outcome.trimmingCharacters(in: .whitespaces)
        guard !o.isEmpty, o.count <= 100 else { throw CampaignError.invalid(field: "outcome", reason: "must be 1 to 100 characters") }
        guard let t = try await store.completeTask(id, outcome: o, notes: notes, by: agent, at: clock.now) else {
            throw CampaignError.invalid(field: "task", reason: "no open task \(id)")
        }
        return t
    }

    /// Responders become sales leads with the campaign as their source.
    public func createLeads(_ id: CampaignID, kinds: [Response.Kind] = [.purchased, .redeemed, .enrolled, .clicked], owner: String) async throws
        -> Int
    {
        try await attribute(try await campaign(id))
        return try await store.createLeads(id, kinds: kinds, owner: owner, at: clock.now)
    }

    public func leads(campaign: CampaignID? = nil, limit: Int = 100) async throws -> [Lead] {
        try await store.leads(campaign: campaign, limit: max(1, min(limit, 1_000)))
    }
}
