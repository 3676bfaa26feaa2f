import Foundation
import SharedModels

public enum CampaignTag {}
public typealias CampaignID = ID<CampaignTag>

/// A channel a campaign reaches customers through. Email and SMS need the customer's explicit
/// marketing consent on that channel (opt-in); direct mail and calls are allowed unless the
/// customer said no or is blocked on that channel (opt-out), as is usual for postal mail and
/// service-led calls.
public enum CampaignChannel: String, Sendable, Codable, CaseIterable {
    case email, sms
    case directMail = "direct_mail"
    case call

    /// Whether consent must be an explicit yes (email, SMS) rather than the absence of a no.
    public var needsOptIn: Bool { self == .email || self == .sms }
}

/// What a campaign offers.
public struct CampaignOffer: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// No offer: information or a reminder.
        case none
        /// A loyalty promotion (by code): responders enrol in it; the points it awards are the campaign's liability.
        case promotion
        /// A reward (by code) whose vouchers the recipients redeem.
        case voucher
        /// Each recipient's recommended products, from the scoring job.
        case recommendation
    }

    public var kind: Kind
    /// The promotion's or reward's code.
    public var code: String?

    public init(kind: Kind, code: String? = nil) {
        self.kind = kind
        self.code = code
    }

    /// `promotion SPRING`, `voucher COFFEE`, `recommendation`, `none`.
    public var label: String { [kind.rawValue, code].compactMap { $0 }.joined(separator: " ") }
}

/// At most `messages` messages on a channel to one customer within `days` (counting every campaign).
public struct FrequencyCap: Sendable, Codable, Equatable {
    public var channel: CampaignChannel
    public var messages: Int
    public var days: Int

    public init(channel: CampaignChannel, messages: Int, days: Int) {
        self.channel = channel
        self.messages = messages
        self.days = days
    }

    /// What a campaign uses unless its plan says otherwise.
    public static let defaults: [FrequencyCap] = [
        .init(channel: .email, messages: 3, days: 7), .init(channel: .sms, messages: 2, days: 7),
        .init(channel: .directMail, messages: 2, days: 30), .init(channel: .call, messages: 1, days: 30),
    ]
}

/// One send of a campaign: a channel on a day of the campaign, to whom, saying what.
public struct Wave: Sendable, Codable, Equatable {
    public enum Audience: String, Sendable, Codable, CaseIterable {
        /// Everyone in the target group the wave's rule admits.
        case all
        /// Only those who have not responded (clicked, enrolled, redeemed or bought) since the campaign started.
        case nonResponders = "non_responders"
    }

    public var channel: CampaignChannel
    /// 0 on the launch day, 3 three days later.
    public var day: Int
    public var audience: Audience
    /// A rule-language condition over the segment fields that recipients of this wave must also meet.
    public var rule: String?
    /// Email subject (Mustache); other channels ignore it.
    public var subject: String?
    /// The message (Mustache): plain text, or HTML when it starts with `<`. Links in it are tracked.
    public var body: String

    public init(channel: CampaignChannel, day: Int, audience: Audience = .all, rule: String? = nil, subject: String? = nil, body: String) {
        self.channel = channel
        self.day = day
        self.audience = audience
        self.rule = rule
        self.subject = subject
        self.body = body
    }
}

/// What each thing a campaign does costs, in minor units of the campaign's currency.
public struct CampaignCosts: Sendable, Codable, Equatable {
    /// Per message sent, by channel (`email`, `sms`, `direct_mail`, `call`).
    public var perMessage: [String: Int64]
    /// Per voucher redeemed or promotion enrolment.
    public var perRedemption: Int64
    /// What one point is worth, in minor units per 100 points (so 1 cent a point is 100).
    public var pointValuePer100: Int64
    /// Fixed cost (creative, set-up).
    public var fixed: Int64

    public init(perMessage: [String: Int64] = [:], perRedemption: Int64 = 0, pointValuePer100: Int64 = 100, fixed: Int64 = 0) {
        self.perMessage = perMessage
        self.perRedemption = perRedemption
        self.pointValuePer100 = pointValuePer100
        self.fixed = fixed
    }

    public func message(_ channel: CampaignChannel) -> Int64 { perMessage[channel.rawValue] ?? 0 }
}

/// Everything a marketer plans before launch.
public struct CampaignPlan: Sendable, Codable, Equatable {
    public var name: String
    public var objective: String?
    /// Minor units of `currency`.
    public var budget: Int64?
    public var currency: String
    public var startsOn: LocalDate
    public var endsOn: LocalDate
    /// The target segment, by id.
    public var segment: Int64
    /// Percent of the segment held out as a control group (0–50), chosen at random but reproducibly.
    public var controlPercent: Double
    public var offer: CampaignOffer
    public var waves: [Wave]
    public var frequencyCaps: [FrequencyCap]
    public var costs: CampaignCosts
    /// Days after launch in which a purchase counts as a response.
    public var attributionDays: Int
    /// Gross margin on revenue, percent, for profit and ROI.
    public var marginPercent: Double

    public init(
        name: String, objective: String? = nil, budget: Int64? = nil, currency: String = "USD", startsOn: LocalDate, endsOn: LocalDate,
        segment: Int64, controlPercent: Double = 10, offer: CampaignOffer = .init(kind: .none), waves: [Wave],
        frequencyCaps: [FrequencyCap] = FrequencyCap.defaults, costs: CampaignCosts = .init(), attributionDays: Int = 30,
        marginPercent: Double = 100
    ) {
        self.name = name
        self.objective = objective
        self.budget = budget
        self.currency = currency
        self.startsOn = startsOn
        self.endsOn = endsOn
        self.segment = segment
        self.controlPercent = controlPercent
        self.offer = offer
        self.waves = waves
        self.frequencyCaps = frequencyCaps
        self.costs = costs
        self.attributionDays = attributionDays
        self.marginPercent = marginPercent
    }
}

/// A campaign: its plan, owner and where it stands.
public struct Campaign: Sendable, Equatable {
    public enum Status: String, Sendable, Codable, CaseIterable {
        /// Being planned; can still change.
        case draft
        /// Launched: the audience and control group are frozen and waves go out on their days.
        case running
        /// Held by its owner: no wave is prepared and no message goes out until it is resumed.
        case paused
        /// Every wave sent and the attribution window over.
        case completed
        case cancelled
    }

    public var id: CampaignID
    public var plan: CampaignPlan
    public var owner: String
    public var status: Status
    /// Seeds the control-group draw: the same campaign always splits the same way.
    public var seed: UInt64
    public var createdAt: Date
    public var launchedAt: Date?
    public var waves: [WaveState]

    public init(
        id: CampaignID, plan: CampaignPlan, owner: String, status: Status, seed: UInt64, createdAt: Date, launchedAt: Date?, waves: [WaveState]
    ) {
        self.id = id
        self.plan = plan
        self.owner = owner
        self.status = status
        self.seed = seed
        self.createdAt = createdAt
        self.launchedAt = launchedAt
        self.waves = waves
    }

    /// When wave `number` (1-based) is due.
    public func due(_ number: Int) -> Date? {
        guard let launchedAt, number >= 1, number <= plan.waves.count else { return nil }
        return launchedAt.addingTimeInterval(Double(plan.waves[number - 1].day) * 86_400)
    }
}

/// What became of a wave once prepared.
public struct WaveState: Sendable, Equatable {
    public var number: Int
    public var preparedAt: Date
    /// Messages queued in the outbox.
    public var queued: Int
    /// Eligible target customers left out, by reason (`consent`, `blocked`, `no_address`, `frequency_cap`).
    public var suppressed: [String: Int]

    public init(number: Int, preparedAt: Date, queued: Int, suppressed: [String: Int]) {
        self.number = number
        self.preparedAt = preparedAt
        self.queued = queued
        self.suppressed = suppressed
    }
}

/// The control-group draw: a customer is held out when a hash of the campaign's seed and the
/// customer's id falls below the control share. Reproducible (same seed, same split) and
/// independent of the order customers are read in.
public enum ControlGroup {
    public static func isControl(customer: Int64, seed: UInt64, percent: Double) -> Bool {
        guard percent > 0 else { return false }
        var g = SeededGenerator(seed: seed ^ (UInt64(bitPattern: customer) &* 0x9E37_79B9_7F4A_7C15))
        return Double(g.next() >> 11) / Double(1 << 53) < percent / 100
    }
}
