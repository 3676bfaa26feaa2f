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
        if let holder = try await store.task(id)?.holder(at: clock.now), holder != agent {
            throw CampaignError.conflict("\(holder) is calling this customer; only they can log the call.")
        }
        guard let t = try await store.completeTask(id, outcome: o, notes: notes, by: agent, at: clock.now) else {
            throw CampaignError.invalid(field: "task", reason: "no open task \(id)")
        }
        return t
    }

    public func task(_ id: Int64) async throws -> AgentTask {
        guard let t = try await store.task(id) else { throw CampaignError.invalid(field: "task", reason: "there is no call task \(id)") }
        return t
    }

    /// A page of the agent desk.
    public func taskPage(_ query: AgentTaskQuery) async throws -> CountedPage<AgentTask> { try await store.taskPage(query) }

    /// An agent takes a task so no one else calls the same customer; a claim lapses after
    /// ``AgentTask/claimLifetime`` without a call.
    public func claim(task id: Int64, by agent: String) async throws -> AgentTask {
        let now = clock.now
        guard let t = try await store.claimTask(id, by: agent, at: now, staleBefore: now.addingTimeInterval(-AgentTask.claimLifetime)) else {
            throw CampaignError.invalid(field: "task", reason: "there is no open call task \(id)")
        }
        if let holder = t.holder(at: now), holder != agent.lowercased() && holder != agent {
            throw CampaignError.conflict("\(holder) is calling this customer already.")
        }
        return t
    }

    public func release(task id: Int64, by agent: String) async throws { try await store.releaseTask(id, by: agent) }

    /// Records a call with its disposition. A callback needs a time in the future; after
    /// ``AgentTask/maximumAttempts`` unanswered calls the task closes as not reached.
    public func log(_ call: AgentCall, onTask id: Int64, by agent: String) async throws -> AgentTask {
        let now = clock.now
        var call = call
        call.notes = call.notes?.trimmingCharacters(in: .whitespacesAndNewlines)
        if call.notes?.isEmpty ?? false { call.notes = nil }
        if let notes = call.notes, notes.count > 2_000 { throw CampaignError.invalid(field: "notes", reason: "must be at most 2,000 characters") }
        if call.disposition == .callback {
            guard let at = call.callbackAt, at > now, at < now.addingTimeInterval(366 * 86_400) else {
                throw CampaignError.invalid(field: "callbackAt", reason: "give a time in the next year to call back")
            }
        } else {
            call.callbackAt = nil
        }
        let current = try await task(id)
        guard current.status == .open else { throw CampaignError.conflict("This call task is closed already.") }
        if let holder = current.holder(at: now), holder != agent {
            throw CampaignError.conflict("\(holder) is calling this customer; only they can log the call.")
        }
        guard let t = try await store.recordCall(id, call: call, by: agent, at: now, staleBefore: now.addingTimeInterval(-AgentTask.claimLifetime)) else {
            throw CampaignError.conflict("Someone else logged this call first.")
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
