import Foundation
import SharedModels

public typealias OpportunityID = ID<Opportunity>
public typealias LeadID = ID<SalesLead>

/// A deal being worked: something a customer or a B2B account may buy, its value, how likely it
/// is to close and when. Opportunities move through stages; won and lost are final.
public struct Opportunity: Sendable, Equatable {
    public enum Stage: String, Sendable, CaseIterable, Codable {
        case prospecting, qualification, proposal, negotiation, won, lost

        public var isOpen: Bool { self != .won && self != .lost }

        /// The probability a stage implies unless the owner sets one: 10, 20, 50, 75, 100, 0 %.
        public var defaultProbability: Int {
            switch self {
            case .prospecting: 10
            case .qualification: 20
            case .proposal: 50
            case .negotiation: 75
            case .won: 100
            case .lost: 0
            }
        }

        public static let open: [Stage] = allCases.filter(\.isOpen)
    }

    public var id: OpportunityID
    public var name: String
    /// The person it is sold to (a consumer, or the contact at an account), if any.
    public var customer: Int64?
    public var customerName: String?
    /// The B2B account it is sold to, if any. At least one of customer and account is set.
    public var account: Int64?
    public var accountName: String?
    /// The lead it was converted from, if any.
    public var lead: LeadID?
    /// Email of the staff user working it.
    public var owner: String
    public var stage: Stage
    public var amount: Money
    /// 0–100.
    public var probability: Int
    public var expectedClose: LocalDate
    public var nextStep: String?
    public var lostReason: String?
    public var createdAt: Date
    public var updatedAt: Date
    public var closedAt: Date?

    public init(
        id: OpportunityID, name: String, customer: Int64?, customerName: String?, account: Int64?, accountName: String?, lead: LeadID?,
        owner: String, stage: Stage, amount: Money, probability: Int, expectedClose: LocalDate, nextStep: String?, lostReason: String?,
        createdAt: Date, updatedAt: Date, closedAt: Date?
    ) {
        self.id = id
        self.name = name
        self.customer = customer
        self.customerName = customerName
        self.account = account
        self.accountName = accountName
        self.lead = lead
        self.owner = owner
        self.stage = stage
        self.amount = amount
        self.probability = probability
        self.expectedClose = expectedClose
        self.nextStep = nextStep
        self.lostReason = lostReason
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.closedAt = closedAt
    }

    /// The amount times the probability, in minor units, rounded half away from zero.
    public var weighted: Money { Money(minorUnits: Self.weigh(amount.minorUnits, probability), currency: amount.currency) }

    public static func weigh(_ minorUnits: Int64, _ probability: Int) -> Int64 {
        let (q, r) = (minorUnits * Int64(probability)).quotientAndRemainder(dividingBy: 100)
        return q + (r >= 50 ? 1 : 0)
    }
}

/// A new opportunity as a rep enters it.
public struct OpportunityDraft: Sendable, Equatable {
    public var name: String
    public var customer: Int64?
    public var account: Int64?
    public var amount: Money
    public var expectedClose: LocalDate
    public var stage: Opportunity.Stage
    /// nil: the stage's default.
    public var probability: Int?
    public var nextStep: String?
    /// nil: whoever enters it.
    public var owner: String?

    public init(
        name: String, customer: Int64? = nil, account: Int64? = nil, amount: Money, expectedClose: LocalDate, stage: Opportunity.Stage = .prospecting,
        probability: Int? = nil, nextStep: String? = nil, owner: String? = nil
    ) {
        self.name = name
        self.customer = customer
        self.account = account
        self.amount = amount
        self.expectedClose = expectedClose
        self.stage = stage
        self.probability = probability
        self.nextStep = nextStep
        self.owner = owner
    }
}

/// What an update changes (nil: unchanged).
public struct OpportunityChange: Sendable, Equatable {
    public var name: String?
    public var stage: Opportunity.Stage?
    public var amount: Money?
    public var probability: Int?
    public var expectedClose: LocalDate?
    public var nextStep: String?
    public var owner: String?
    /// Required when the stage becomes lost.
    public var lostReason: String?
    /// A line for the history (why the change).
    public var note: String?

    public init(
        name: String? = nil, stage: Opportunity.Stage? = nil, amount: Money? = nil, probability: Int? = nil, expectedClose: LocalDate? = nil,
        nextStep: String? = nil, owner: String? = nil, lostReason: String? = nil, note: String? = nil
    ) {
        self.name = name
        self.stage = stage
        self.amount = amount
        self.probability = probability
        self.expectedClose = expectedClose
        self.nextStep = nextStep
        self.owner = owner
        self.lostReason = lostReason
        self.note = note
    }
}

/// One line of an opportunity's history: what it looked like after a change, who made it and why.
public struct OpportunityEvent: Sendable, Equatable {
    public var at: Date
    public var author: String
    public var stage: Opportunity.Stage
    public var amount: Money
    public var probability: Int
    public var owner: String
    public var note: String?

    public init(at: Date, author: String, stage: Opportunity.Stage, amount: Money, probability: Int, owner: String, note: String?) {
        self.at = at
        self.author = author
        self.stage = stage
        self.amount = amount
        self.probability = probability
        self.owner = owner
        self.note = note
    }
}

/// Someone who may buy, handed to sales: a campaign responder (Campaigns creates those), or a
/// customer an agent or a rep spotted on a call, in a store or on the web. Sales works them: a
/// lead is new, being worked, qualified or disqualified, and ends converted into an opportunity.
public struct SalesLead: Sendable, Equatable {
    public enum Status: String, Sendable, CaseIterable, Codable {
        case new, working, qualified, disqualified, converted

        /// Where a lead may go from here; converted and disqualified are final.
        public func allows(_ next: Status) -> Bool {
            switch self {
            case .new, .working, .qualified: next != self && next != .new
            case .disqualified, .converted: false
            }
        }
    }

    public var id: LeadID
    public var customer: Int64
    public var customerName: String
    /// The campaign it came from; nil for a lead someone entered.
    public var campaign: Int64?
    /// The strongest campaign response (purchased, redeemed, enrolled, clicked…), or where an
    /// entered lead was spotted (call, store, web, referral, event).
    public var source: String
    /// What the customer is after, as whoever passed the lead wrote it.
    public var note: String?
    /// Who passed it on (staff email), for an entered lead.
    public var createdBy: String?
    public var status: Status
    public var owner: String
    /// Why it was disqualified, or a note on the last change.
    public var reason: String?
    public var opportunity: OpportunityID?
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: LeadID, customer: Int64, customerName: String, campaign: Int64?, source: String, note: String? = nil, createdBy: String? = nil,
        status: Status, owner: String, reason: String?, opportunity: OpportunityID?, createdAt: Date, updatedAt: Date
    ) {
        self.id = id
        self.customer = customer
        self.customerName = customerName
        self.campaign = campaign
        self.source = source
        self.note = note
        self.createdBy = createdBy
        self.status = status
        self.owner = owner
        self.reason = reason
        self.opportunity = opportunity
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// Where a lead someone enters was spotted.
public enum LeadSource: String, Sendable, CaseIterable {
    case call, store, web, referral, event, email
}

