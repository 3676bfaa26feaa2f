import Foundation
import SharedModels

/// Which opportunities a list shows.
public struct OpportunityFilter: Sendable, Equatable {
    public var owner: String?
    /// Only these stages (empty: any).
    public var stages: [Opportunity.Stage]
    public var customer: Int64?
    /// Only these accounts' (empty: any).
    public var accounts: [Int64]

    public init(owner: String? = nil, stages: [Opportunity.Stage] = [], customer: Int64? = nil, accounts: [Int64] = []) {
        self.owner = owner
        self.stages = stages
        self.customer = customer
        self.accounts = accounts
    }
}

/// A new opportunity, checked and with its probability set, as the store writes it.
public struct NewOpportunity: Sendable, Equatable {
    public var name: String
    public var customer: Int64?
    public var account: Int64?
    public var lead: LeadID?
    public var owner: String
    public var stage: Opportunity.Stage
    public var amount: Money
    public var probability: Int
    public var expectedClose: LocalDate
    public var nextStep: String?
    public var author: String
    public var at: Date

    public init(
        name: String, customer: Int64?, account: Int64?, lead: LeadID?, owner: String, stage: Opportunity.Stage, amount: Money, probability: Int,
        expectedClose: LocalDate, nextStep: String?, author: String, at: Date
    ) {
        self.name = name
        self.customer = customer
        self.account = account
        self.lead = lead
        self.owner = owner
        self.stage = stage
        self.amount = amount
        self.probability = probability
        self.expectedClose = expectedClose
        self.nextStep = nextStep
        self.author = author
        self.at = at
    }
}

/// An open opportunity or one closed in a window, reduced to what the pipeline report needs.
public struct PipelineRow: Sendable, Equatable {
    public var owner: String
    public var stage: Opportunity.Stage
    public var amount: Money
    public var probability: Int
    public var expectedClose: LocalDate
    public var createdAt: Date
    public var closedAt: Date?

    public init(
        owner: String, stage: Opportunity.Stage, amount: Money, probability: Int, expectedClose: LocalDate, createdAt: Date, closedAt: Date?
    ) {
        self.owner = owner
        self.stage = stage
        self.amount = amount
        self.probability = probability
        self.expectedClose = expectedClose
        self.createdAt = createdAt
        self.closedAt = closedAt
    }
}

/// An A-class account's figures as the store reads them.
public struct KeyAccountRow: Sendable, Equatable {
    public var account: Int64
    public var name: String
    public var manager: String?
    public var contacts: Int
    /// Contacts' purchases less returns over the last 12 months, per currency.
    public var revenue: [Money]
    public var lastInteraction: Date?

    public init(account: Int64, name: String, manager: String?, contacts: Int, revenue: [Money], lastInteraction: Date?) {
        self.account = account
        self.name = name
        self.manager = manager
        self.contacts = contacts
        self.revenue = revenue
        self.lastInteraction = lastInteraction
    }
}

/// The Sales room's storage, sized by use case.
public protocol SalesStore: Sendable {
    /// Writes the opportunity and its first history line; when it comes from a lead, marks the
    /// lead converted in the same transaction, only if the lead is still `leadExpected`.
    /// Returns nil when the lead had changed.
    func insert(_ o: NewOpportunity, leadExpected: SalesLead.Status?) async throws -> Opportunity?
    func opportunity(_ id: OpportunityID) async throws -> Opportunity?
    /// Open ones by expected close date first, then closed ones newest first.
    func opportunities(_ filter: OpportunityFilter, limit: Int) async throws -> [Opportunity]
    func history(_ id: OpportunityID) async throws -> [OpportunityEvent]
    /// Writes the new state and a history line, only if the opportunity's stage is still
    /// `expected`. When it becomes won and has a customer, writes an interaction on their
    /// timeline in the same transaction. Returns nil when it had changed.
    func update(_ o: Opportunity, expected: Opportunity.Stage, author: String, note: String?, at: Date) async throws -> Opportunity?
    /// Open opportunities, and those closed since `closedSince`, optionally one owner's.
    func pipeline(owner: String?, closedSince: Date) async throws -> [PipelineRow]
    /// Writes a lead someone entered, and a note on the customer's timeline, in one transaction.
    /// Returns nil when the customer already has an active (new, working, qualified) entered lead.
    func insertLead(customer: Int64, source: LeadSource, note: String?, owner: String, createdBy: String, at: Date) async throws -> SalesLead?
    func lead(_ id: LeadID) async throws -> SalesLead?
    /// Leads, newest first.
    func leads(owner: String?, statuses: [SalesLead.Status], campaign: Int64?, limit: Int) async throws -> [SalesLead]
    /// Sets status, owner and reason, only if the lead's status is still `expected`.
    func update(_ lead: SalesLead, expected: SalesLead.Status, at: Date) async throws -> SalesLead?
    /// A-class accounts (optionally one manager's) with contacts, 12-month revenue since
    /// `revenueSince` and the last interaction with any contact.
    func keyAccounts(manager: String?, revenueSince: Date) async throws -> [KeyAccountRow]
    /// The account's name, or nil when there is no such account.
    func accountName(_ id: Int64) async throws -> String?
    /// The customer's display name and whether they were merged away, or nil when there is no such customer.
    func customerName(_ id: Int64) async throws -> (name: String, merged: Bool)?
}
