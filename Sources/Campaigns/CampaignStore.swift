import Expressions
import Foundation
import SharedModels

/// The Campaigns room's storage for campaigns, their outbox, responses, call tasks and leads,
/// sized by use case.
public protocol CampaignStore: Sendable {
    func insertCampaign(_ plan: CampaignPlan, owner: String, seed: UInt64, at: Date) async throws -> Campaign
    func updatePlan(_ id: CampaignID, _ plan: CampaignPlan) async throws
    /// Removes a campaign and everything it recorded (a draft thrown away; a benchmark's run).
    func deleteCampaign(_ id: CampaignID) async throws
    func setStatus(_ id: CampaignID, _ status: Campaign.Status, launchedAt: Date?) async throws
    func campaign(_ id: CampaignID) async throws -> Campaign?
    func campaigns() async throws -> [Campaign]

    /// Freezes who the campaign is for: the segment's customers now (the rule's, or a static
    /// segment's frozen list), each marked target or control by `isControl`. Returns the counts.
    func freezeAudience(_ id: CampaignID, segment: SegmentSource, now: Date, isControl: @escaping @Sendable (Int64) -> Bool) async throws
        -> (target: Int, control: Int)

    /// The target customers a wave may reach, with what suppression and personalisation need.
    func waveCandidates(_ id: CampaignID, wave: Wave, rule: RuleExpression?, since: Date, now: Date, caps: [FrequencyCap]) async throws
        -> [Recipient]

    /// One customer as a recipient on a channel (for a preview), or nil when there is none.
    func recipient(_ customer: Int64, channel: CampaignChannel) async throws -> Recipient?

    /// Queues a wave's messages and records its suppressions, in one transaction. Throws
    /// ``CampaignError/conflict(_:)`` if the wave was prepared already.
    func queueWave(
        _ id: CampaignID, number: Int, messages: [OutboundMessage], suppressed: [(customer: Int64, reason: String)], links: [String], at: Date
    )
        async throws -> WaveState

    // MARK: Outbox
    /// Hands out up to `limit` queued messages of a channel that are due, marking them `sending`.
    func claim(_ channel: CampaignChannel, now: Date, limit: Int) async throws -> [OutboundMessage]
    /// Records what became of sent messages, with each one's outbound interaction and response.
    func settle(_ outcomes: [(message: MessageKey, outcome: DeliveryOutcome)], at: Date) async throws
    /// Messages left `sending` by a process that stopped before settling them go back to the
    /// queue. Returns how many.
    func requeueStale(claimedBefore: Date) async throws -> Int
    func message(_ key: MessageKey) async throws -> OutboundMessage?
    /// Messages of a wave in customer order (direct-mail print files, previews).
    func messages(_ id: CampaignID, wave: Int, statuses: [MessageStatus]) async throws -> [OutboundMessage]
    func links(_ id: CampaignID, wave: Int) async throws -> [String]

    // MARK: Responses
    /// Records responses (skipping ones already recorded), each also an interaction on the
    /// customer's timeline when the customer was contacted. Returns how many were new.
    func record(_ responses: [Response]) async throws -> Int
    /// Finds purchases, promotion enrolments and voucher redemptions of the audience (target and
    /// control) within the attribution window and records them as responses. Returns how many were new.
    func attribute(_ campaign: Campaign, until: Date) async throws -> Int
    /// Figures for the P&L and campaign analytics.
    func figures(_ campaign: Campaign) async throws -> CampaignFigures
    /// Withdraws the customer's marketing consent on a channel (an unsubscribe link).
    func unsubscribe(customer: Int64, channel: CampaignChannel, campaign: CampaignID, at: Date) async throws

    // MARK: What-if
    /// How many customers the rule selects and may be reached on each channel (by the consent and
    /// blocks as of the last facts refresh), and their mean scores.
    func reach(_ rule: RuleExpression, channels: [CampaignChannel], now: Date) async throws -> ReachEstimate

    // MARK: Agent desk and sales
    func tasks(status: AgentTask.Status?, limit: Int) async throws -> [AgentTask]
    func task(_ id: Int64) async throws -> AgentTask?
    /// A page of the desk: open tasks due first (callbacks at their time), with the count.
    func taskPage(_ query: AgentTaskQuery) async throws -> CountedPage<AgentTask>
    /// Claims an open task for `agent` unless another agent's claim is younger than `staleBefore`;
    /// returns the task as it stands (claimed by whoever holds it).
    func claimTask(_ id: Int64, by agent: String, at: Date, staleBefore: Date) async throws -> AgentTask?
    func releaseTask(_ id: Int64, by agent: String) async throws
    /// Records one call on the customer's timeline, in one transaction with the task: a final call
    /// closes it; otherwise it stays open, due again at `dueAt`. Only an open task that is
    /// unclaimed, claimed by `by`, or claimed before `staleBefore` takes the call; nil otherwise.
    func recordCall(_ id: Int64, call: AgentCall, by: String, at: Date, staleBefore: Date) async throws -> AgentTask?
    func completeTask(_ id: Int64, outcome: String, notes: String?, by: String, at: Date) async throws -> AgentTask?
    /// Makes leads of target customers who responded with one of `kinds` and have no lead from this campaign yet.
    func createLeads(_ id: CampaignID, kinds: [Response.Kind], owner: String, at: Date) async throws -> Int
    func leads(campaign: CampaignID?, limit: Int) async throws -> [Lead]
}

/// Where a campaign's audience comes from.
public enum SegmentSource: Sendable {
    case rule(RuleExpression)
    case snapshot(SegmentID)
}

/// A target customer a wave may reach, with consent and contact history read now.
public struct Recipient: Sendable {
    public var customer: Int64
    public var firstName: String?
    public var lastName: String?
    public var email: String?
    public var phone: String?
    /// Postal address lines for direct mail (empty when none is on file).
    public var address: [String]
    public var tier: String?
    public var points: Int64?
    public var recommendations: [String]
    /// The newest marketing consent on the wave's channel: true, false, or nil (never asked).
    public var consent: Bool?
    /// A do-not-contact block on the channel is in force.
    public var blocked: Bool
    /// Messages on the channel to this customer within each cap's window, by window in days.
    public var recentMessages: [Int: Int]

    public init(
        customer: Int64, firstName: String?, lastName: String?, email: String?, phone: String?, address: [String], tier: String?, points: Int64?,
        recommendations: [String], consent: Bool?, blocked: Bool, recentMessages: [Int: Int]
    ) {
        self.customer = customer
        self.firstName = firstName
        self.lastName = lastName
        self.email = email
        self.phone = phone
        self.address = address
        self.tier = tier
        self.points = points
        self.recommendations = recommendations
        self.consent = consent
        self.blocked = blocked
        self.recentMessages = recentMessages
    }
}

public enum MessageStatus: String, Sendable, Codable, CaseIterable {
    case pending, sending, sent, delivered, bounced, failed
}

/// Names one message: a campaign's wave to a customer (a customer gets at most one per wave).
public struct MessageKey: Sendable, Hashable, CustomStringConvertible {
    public var campaign: CampaignID
    public var wave: Int
    public var customer: Int64

    public init(campaign: CampaignID, wave: Int, customer: Int64) {
        self.campaign = campaign
        self.wave = wave
        self.customer = customer
    }

    public var description: String { "\(campaign)-\(wave)-\(customer)" }
}

/// A message in the outbox.
public struct OutboundMessage: Sendable, Equatable {
    public var key: MessageKey
    public var channel: CampaignChannel
    /// Email address, phone number, or the postal address lines joined by newlines.
    public var address: String
    public var name: String
    public var subject: String?
    public var body: String
    public var isHTML: Bool
    /// Random; with the key it makes the token in tracked links, so links cannot be guessed.
    public var secret: UInt64
    public var status: MessageStatus
    public var attempts: Int

    public init(
        key: MessageKey, channel: CampaignChannel, address: String, name: String, subject: String?, body: String, isHTML: Bool, secret: UInt64,
        status: MessageStatus = .pending, attempts: Int = 0
    ) {
        self.key = key
        self.channel = channel
        self.address = address
        self.name = name
        self.subject = subject
        self.body = body
        self.isHTML = isHTML
        self.secret = secret
        self.status = status
        self.attempts = attempts
    }

    /// The token tracked links carry: `campaign-wave-customer-secret`.
    public var token: String { "\(key)-\(String(secret, radix: 16))" }

    /// What the customer did with this message, as a response to its campaign and wave.
    public func response(_ kind: Response.Kind, reference: String = "", at: Date) -> Response {
        Response(campaign: key.campaign, wave: key.wave, customer: key.customer, kind: kind, reference: reference, occurredAt: at)
    }

    /// The key a token names, when its secret matches.
    public static func key(fromToken token: String) -> (MessageKey, UInt64)? {
        let parts = token.split(separator: "-")
        guard parts.count == 4, let c = Int64(parts[0]), let w = Int(parts[1]), let customer = Int64(parts[2]),
            let secret = UInt64(parts[3], radix: 16)
        else { return nil }
        return (MessageKey(campaign: CampaignID(c), wave: w, customer: customer), secret)
    }
}

/// What a channel did with a message.
public enum DeliveryOutcome: Sendable, Equatable {
    /// Handed over and known to have arrived (an SMTP server accepted it; a print file was written).
    case delivered
    /// Handed over; arrival is reported later (an SMS gateway's receipt) or not at all (a call task).
    case accepted
    /// Refused for good (an unknown mailbox, an invalid number).
    case bounced(String)
    /// Failed for now (a connection refused, a 4xx reply): tried again later.
    case retry(String)
}

/// Something a customer did in answer to a campaign.
public struct Response: Sendable, Equatable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case delivered, bounced, opened, clicked, unsubscribed, enrolled, redeemed, purchased
    }

    public var campaign: CampaignID
    /// The wave that reached the customer (nil for a control-group purchase).
    public var wave: Int?
    public var customer: Int64
    public var kind: Kind
    /// Makes a response unique: the transaction of a purchase, the link clicked…
    public var reference: String
    public var amount: Int64
    public var occurredAt: Date

    public init(campaign: CampaignID, wave: Int?, customer: Int64, kind: Kind, reference: String = "", amount: Int64 = 0, occurredAt: Date) {
        self.campaign = campaign
        self.wave = wave
        self.customer = customer
        self.kind = kind
        self.reference = reference
        self.amount = amount
        self.occurredAt = occurredAt
    }
}

/// A call the agent desk should make, from a campaign's call list.
public struct AgentTask: Sendable, Equatable {
    public enum Status: String, Sendable, Codable, CaseIterable { case open, done }

    /// How a call ended, as a call centre records it.
    public enum Disposition: String, Sendable, Codable, CaseIterable {
        /// Reached; the customer took the offer.
        case accepted
        /// Reached; not interested.
        case declined
        /// Reached; asked to be called again at a time.
        case callback
        case noAnswer = "no_answer"
        case wrongNumber = "wrong_number"
        /// Reached; asked never to be called for marketing again (recorded as a phone opt-out).
        case doNotCall = "do_not_call"

        /// Whether someone answered: the message reached them.
        public var reached: Bool { ![.noAnswer, .wrongNumber].contains(self) }
    }

    /// A task stays open after this many unanswered calls, then closes as not reached.
    public static let maximumAttempts = 3
    /// A claim an agent has not acted on for this long lapses, so no task is stranded.
    public static let claimLifetime: TimeInterval = 30 * 60

    /// Who is working it and since when; nil when nobody is.
    public var claimedBy: String? = nil
    public var claimedAt: Date? = nil
    /// Calls made so far.
    public var attempts: Int = 0
    /// When it should be called (a callback's time); nil for as soon as possible.
    public var dueAt: Date? = nil
    public var disposition: Disposition? = nil

    /// The agent holding it at `now`, if their claim has not lapsed.
    public func holder(at now: Date) -> String? {
        guard let claimedBy, let claimedAt, now.timeIntervalSince(claimedAt) < Self.claimLifetime else { return nil }
        return claimedBy
    }
    public var id: Int64
    public var customer: Int64
    public var customerName: String
    public var phone: String?
    public var campaign: CampaignID
    public var wave: Int
    /// What to say: the wave's rendered message.
    public var script: String
    public var status: Status
    public var outcome: String?
    public var notes: String?
    public var createdAt: Date
    public var completedAt: Date?
    public var completedBy: String?

    public init(
        id: Int64, customer: Int64, customerName: String, phone: String?, campaign: CampaignID, wave: Int, script: String, status: Status,
        outcome: String?, notes: String?, createdAt: Date, completedAt: Date?, completedBy: String?
    ) {
        self.id = id
        self.customer = customer
        self.customerName = customerName
        self.phone = phone
        self.campaign = campaign
        self.wave = wave
        self.script = script
        self.status = status
        self.outcome = outcome
        self.notes = notes
        self.createdAt = createdAt
        self.completedAt = completedAt
        self.completedBy = completedBy
    }
}

/// One call an agent made on a task.
public struct AgentCall: Sendable, Equatable {
    public var disposition: AgentTask.Disposition
    public var notes: String?
    /// For a callback: when to call again.
    public var callbackAt: Date?

    public init(disposition: AgentTask.Disposition, notes: String?, callbackAt: Date? = nil) {
        self.disposition = disposition
        self.notes = notes
        self.callbackAt = callbackAt
    }
}

/// Which tasks a page of the agent desk shows.
public struct AgentTaskQuery: Sendable, Equatable {
    public enum Claim: String, Sendable, CaseIterable {
        case any, mine, unclaimed
    }

    public var status: AgentTask.Status
    public var claim: Claim
    /// The agent asking (for `mine` and `unclaimed`).
    public var agent: String
    public var campaign: CampaignID?
    /// Tasks due after this instant (callbacks for later) are left out; nil shows them all.
    public var dueBy: Date?
    public var now: Date
    public var offset: Int
    public var limit: Int

    public init(
        status: AgentTask.Status = .open, claim: Claim = .any, agent: String, campaign: CampaignID? = nil, dueBy: Date? = nil, now: Date,
        offset: Int = 0, limit: Int = 50
    ) {
        self.status = status
        self.claim = claim
        self.agent = agent
        self.campaign = campaign
        self.dueBy = dueBy
        self.now = now
        self.offset = max(0, min(offset, 10_000_000))
        self.limit = max(1, min(limit, 500))
    }
}

/// A responder handed to sales, with the campaign it came from.
public struct Lead: Sendable, Equatable {
    public var id: Int64
    public var customer: Int64
    public var customerName: String
    public var campaign: CampaignID
    /// The strongest response: purchased, redeemed, enrolled, clicked…
    public var source: String
    public var status: String
    public var owner: String
    public var createdAt: Date

    public init(
        id: Int64, customer: Int64, customerName: String, campaign: CampaignID, source: String, status: String, owner: String, createdAt: Date
    ) {
        self.id = id
        self.customer = customer
        self.customerName = customerName
        self.campaign = campaign
        self.source = source
        self.status = status
        self.owner = owner
        self.createdAt = createdAt
    }
}

/// Customers a rule reaches per channel, with the scores a what-if uses.
public struct ReachEstimate: Sendable, Equatable {
    public var customers: Int
    public var reachable: [CampaignChannel: Int]
    public var meanPAlive: Double?
    /// Mean revenue per purchase over the customers' history (major units), and purchases a year.
    public var averageOrderValue: Double?
    public var meanCLV: Double?

    public init(customers: Int, reachable: [CampaignChannel: Int], meanPAlive: Double?, averageOrderValue: Double?, meanCLV: Double?) {
        self.customers = customers
        self.reachable = reachable
        self.meanPAlive = meanPAlive
        self.averageOrderValue = averageOrderValue
        self.meanCLV = meanCLV
    }
}
