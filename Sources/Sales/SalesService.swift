import Foundation
import SharedModels

/// Who is changing something, for the ownership rule: only an opportunity's or a lead's owner,
/// or an admin, changes it.
public struct SalesActor: Sendable, Equatable {
    public var email: String
    public var isAdmin: Bool

    public init(_ email: String, isAdmin: Bool = false) {
        self.email = email
        self.isAdmin = isAdmin
    }
}

/// The Sales room: leads handed over by campaigns, opportunities moved through the pipeline to
/// won or lost, the weighted forecast, and key accounts with their managers.
public struct SalesService: Sendable {
    let store: any SalesStore
    public let clock: SharedModels.Clock

    public init(store: any SalesStore, clock: SharedModels.Clock) {
        self.store = store
        self.clock = clock
    }

    // MARK: Opportunities

    public func create(_ draft: OpportunityDraft, by actor: SalesActor) async throws -> Opportunity {
        try await insert(draft, lead: nil, by: actor)
    }

    public func opportunity(_ id: OpportunityID) async throws -> Opportunity {
        guard let o = try await store.opportunity(id) else { throw SalesError.opportunityNotFound(id) }
        return o
    }

    public func history(_ id: OpportunityID) async throws -> [OpportunityEvent] {
        _ = try await opportunity(id)
        return try await store.history(id)
    }

    public func opportunities(_ filter: OpportunityFilter, limit: Int = 100) async throws -> [Opportunity] {
        try await store.opportunities(filter, limit: max(1, min(limit, 1_000)))
    }

    /// Changes an open opportunity. Moving the stage sets the stage's probability unless one is
    /// given; lost needs a reason; won and lost close it for good.
    public func update(_ id: OpportunityID, _ change: OpportunityChange, by actor: SalesActor) async throws -> Opportunity {
        let old = try await opportunity(id)
        try Self.requireOwner(old.owner, actor, what: "Opportunity \(id)")
        guard old.stage.isOpen else { throw SalesError.conflict("Opportunity \(id) is \(old.stage.rawValue); a closed opportunity does not change.") }
        var o = old
        if let name = change.name { o.name = try Self.text(name, field: "name", max: 200) }
        if let amount = change.amount {
            try Self.check(amount)
            guard amount.currency == old.amount.currency else {
                throw SalesError.invalid(field: "currency", reason: "stays \(old.amount.currency); open a new opportunity for another currency")
            }
            o.amount = amount
        }
        if let date = change.expectedClose { o.expectedClose = date }
        if let step = change.nextStep { o.nextStep = try Self.optionalText(step, field: "nextStep") }
        if let owner = change.owner { o.owner = try Self.email(owner, field: "owner") }
        if let stage = change.stage, stage != old.stage {
            o.stage = stage
            o.probability = stage.defaultProbability
        }
        if let p = change.probability {
            guard o.stage.isOpen else { throw SalesError.invalid(field: "probability", reason: "is 100 when won and 0 when lost") }
            o.probability = try Self.probability(p)
        }
        let now = clock.now
        switch o.stage {
        case .lost:
            guard let reason = change.lostReason.flatMap({ try? Self.optionalText($0, field: "lostReason") }) else {
                throw SalesError.invalid(field: "lostReason", reason: "say why it was lost (price, competitor, no budget…)")
            }
            o.lostReason = reason
            o.closedAt = now
        case .won: o.closedAt = now
        default: break
        }
        guard o != old else { return old }
        o.updatedAt = now
        let note = try change.note.flatMap { try Self.optionalText($0, field: "note") }
        guard let updated = try await store.update(o, expected: old.stage, author: actor.email, note: note ?? o.lostReason, at: now) else {
            throw SalesError.conflict("Opportunity \(id) was changed by someone else; read it again.")
        }
        return updated
    }

    // MARK: Leads

    public func lead(_ id: LeadID) async throws -> SalesLead {
        guard let l = try await store.lead(id) else { throw SalesError.leadNotFound(id) }
        return l
    }

    public func leads(owner: String? = nil, statuses: [SalesLead.Status] = [], campaign: Int64? = nil, limit: Int = 100) async throws -> [SalesLead] {
        try await store.leads(owner: owner, statuses: statuses, campaign: campaign, limit: max(1, min(limit, 1_000)))
    }

    /// Passes a customer to sales: an agent who heard of a need on a call, or a rep who met them.
    /// A customer has one active entered lead at a time; passing another is a conflict.
    public func enterLead(customer: Int64, source: LeadSource, note: String?, owner: String?, by actor: SalesActor) async throws -> SalesLead {
        try await requireCustomer(customer)
        let note = try note.flatMap { try Self.optionalText($0, field: "note") }
        let owner = try Self.email(owner ?? actor.email, field: "owner")
        guard
            let lead = try await store.insertLead(customer: customer, source: source, note: note, owner: owner, createdBy: actor.email, at: clock.now)
        else { throw SalesError.conflict("Customer \(customer) already has an open lead; add to that one.") }
        return lead
    }

    /// Works a lead: working, qualified or disqualified (with a reason), or hands it to another rep.
    public func updateLead(_ id: LeadID, status: SalesLead.Status?, owner: String?, reason: String?, by actor: SalesActor) async throws -> SalesLead {
        let old = try await lead(id)
        try Self.requireOwner(old.owner, actor, what: "Lead \(id)")
        var l = old
        if let status, status != old.status {
            guard status != .converted else {
                throw SalesError.invalid(field: "status", reason: "a lead is converted by making an opportunity of it")
            }
            guard old.status.allows(status) else {
                throw SalesError.conflict("Lead \(id) is \(old.status.rawValue) and cannot become \(status.rawValue).")
            }
            l.status = status
        }
        if let owner { l.owner = try Self.email(owner, field: "owner") }
        if let reason { l.reason = try Self.optionalText(reason, field: "reason") }
        if l.status == .disqualified, old.status != .disqualified, l.reason == nil || l.reason == old.reason {
            throw SalesError.invalid(field: "reason", reason: "say why the lead is disqualified")
        }
        guard l != old else { return old }
        l.updatedAt = clock.now
        guard let updated = try await store.update(l, expected: old.status, at: l.updatedAt) else {
            throw SalesError.conflict("Lead \(id) was changed by someone else; read it again.")
        }
        return updated
    }

    /// Makes an opportunity of a lead, for the lead's customer, owned by the lead's owner unless
    /// the draft names another, and marks the lead converted, in one transaction.
    public func convert(_ id: LeadID, into draft: OpportunityDraft, by actor: SalesActor) async throws -> Opportunity {
        let l = try await lead(id)
        try Self.requireOwner(l.owner, actor, what: "Lead \(id)")
        guard l.status.allows(.converted) else { throw SalesError.conflict("Lead \(id) is \(l.status.rawValue) and cannot be converted.") }
        var d = draft
        d.customer = l.customer
        d.owner = d.owner ?? l.owner
        return try await insert(d, lead: l, by: actor)
    }

    private func insert(_ draft: OpportunityDraft, lead: SalesLead?, by actor: SalesActor) async throws -> Opportunity {
        let name = try Self.text(draft.name, field: "name", max: 200)
        try Self.check(draft.amount)
        guard draft.stage.isOpen else { throw SalesError.invalid(field: "stage", reason: "a new opportunity is open (prospecting to negotiation)") }
        let probability = try Self.probability(draft.probability ?? draft.stage.defaultProbability)
        guard draft.customer != nil || draft.account != nil else {
            throw SalesError.invalid(field: "customerId", reason: "name the customer or the account it is sold to")
        }
        if let c = draft.customer { try await requireCustomer(c) }
        if let a = draft.account, try await store.accountName(a) == nil {
            throw SalesError.invalid(field: "accountId", reason: "no account \(a)")
        }
        let now = clock.now
        let new = NewOpportunity(
            name: name, customer: draft.customer, account: draft.account, lead: lead?.id,
            owner: try Self.email(draft.owner ?? actor.email, field: "owner"),
            stage: draft.stage, amount: draft.amount, probability: probability, expectedClose: draft.expectedClose,
            nextStep: try draft.nextStep.flatMap { try Self.optionalText($0, field: "nextStep") }, author: actor.email, at: now)
        guard let o = try await store.insert(new, leadExpected: lead?.status) else {
            throw SalesError.conflict("Lead \(lead!.id) was changed by someone else; read it again.")
        }
        return o
    }

    // MARK: Reports

    /// Open pipeline by stage and expected close month, and what closed in the last `days` days.
    public func pipeline(owner: String? = nil, days: Int = 90) async throws -> Pipeline {
        guard (1...3_660).contains(days) else { throw SalesError.invalid(field: "days", reason: "is 1 to 3,660") }
        let now = clock.now
        let since = now.addingTimeInterval(-Double(days) * 86_400)
        return Pipeline(rows: try await store.pipeline(owner: owner, closedSince: since), today: LocalDate(now), since: since, days: days)
    }

    /// A-class accounts with their manager, contacts, 12 months' revenue and their opportunities.
    public func keyAccounts(manager: String? = nil) async throws -> [KeyAccount] {
        let now = clock.now
        let yearAgo = now.addingTimeInterval(-365 * 86_400)
        let rows = try await store.keyAccounts(manager: manager, revenueSince: yearAgo)
        guard !rows.isEmpty else { return [] }
        // Every key account's opportunities in one read, up to 1,000 each.
        let opportunities = Dictionary(
            grouping: try await store.opportunities(OpportunityFilter(accounts: rows.map(\.account)), limit: 1_000 * rows.count), by: \.account)
        return rows.map { KeyAccount(row: $0, opportunities: opportunities[$0.account] ?? [], wonSince: yearAgo) }
    }

    // MARK: Checks

    /// The customer exists and was not merged away.
    private func requireCustomer(_ id: Int64) async throws {
        guard let found = try await store.customerName(id) else { throw SalesError.invalid(field: "customerId", reason: "no customer \(id)") }
        if found.merged { throw SalesError.invalid(field: "customerId", reason: "customer \(id) was merged into another") }
    }

    static func requireOwner(_ owner: String, _ actor: SalesActor, what: String) throws {
        guard actor.isAdmin || owner.lowercased() == actor.email.lowercased() else { throw SalesError.notOwner(what: what, owner: owner) }
    }

    static func check(_ amount: Money) throws {
        guard Money.isCurrencyCode(amount.currency) else { throw SalesError.invalid(field: "currency", reason: "is a three-letter code such as EUR") }
        guard amount.minorUnits >= 0 else { throw SalesError.invalid(field: "amount", reason: "is 0 or more") }
        guard amount.minorUnits <= 1_000_000_000_000_00 else { throw SalesError.invalid(field: "amount", reason: "is at most 1,000,000,000,000") }
    }

    static func probability(_ p: Int) throws -> Int {
        guard (0...100).contains(p) else { throw SalesError.invalid(field: "probability", reason: "is a percentage, 0 to 100") }
        return p
    }

    static func text(_ s: String, field: String, max: Int) throws -> String {
        let t = s.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !t.isEmpty else { throw SalesError.invalid(field: field, reason: "is required") }
        guard t.count <= max else { throw SalesError.invalid(field: field, reason: "is at most \(max) characters") }
        return t
    }

    static func optionalText(_ s: String, field: String) throws -> String? {
        let t = s.trimmingCharacters(in: .whitespacesAndNewlines)
        guard t.count <= 2_000 else { throw SalesError.invalid(field: field, reason: "is at most 2,000 characters") }
        return t.isEmpty ? nil : t
    }

    static func email(_ s: String, field: String) throws -> String {
        let t = s.trimmingCharacters(in: .whitespaces).lowercased()
        let parts = t.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), t.count <= 254 else {
            throw SalesError.invalid(field: field, reason: "is a staff user's email")
        }
        return t
    }
}
