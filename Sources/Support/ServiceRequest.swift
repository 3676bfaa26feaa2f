import Foundation
import SharedModels

public enum ServiceRequestTag {}
public typealias ServiceRequestID = ID<ServiceRequestTag>

/// A customer's question, problem or complaint, in a queue, with response and resolution
/// targets (its SLA) set when it is opened from its priority and the customer's value.
public struct ServiceRequest: Sendable, Equatable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case question, problem, complaint
    }

    public enum Priority: String, Sendable, Codable, CaseIterable, Comparable {
        case urgent, high, normal, low

        var rank: Int { Self.allCases.firstIndex(of: self)! }
        public static func < (l: Priority, r: Priority) -> Bool { l.rank < r.rank }
    }

    public enum Status: String, Sendable, Codable, CaseIterable {
        case open
        case inProgress = "in_progress"
        /// Waiting for the customer to answer: the resolution clock keeps running (a simple,
        /// strict SLA; see docs/service.md).
        case waitingOnCustomer = "waiting_on_customer"
        case resolved
        case closed

        /// Still needs work from the company.
        public var isOpen: Bool { self != .resolved && self != .closed }
    }

    public var id: ServiceRequestID
    public var customer: Int64
    public var customerName: String
    public var kind: Kind
    public var priority: Priority
    public var queue: String
    public var subject: String
    public var status: Status
    /// The agent working on it (their email), if someone took it.
    public var assignee: String?
    /// Where it came in: phone, email, web (the member portal), store, chat, letter.
    public var channel: String
    /// The customer's value tier (A best … D) when it was opened, which set its SLA.
    public var valueTier: String
    public var openedBy: String
    public var openedAt: Date
    public var respondBy: Date
    public var resolveBy: Date
    public var firstResponseAt: Date?
    public var resolvedAt: Date?
    public var resolution: String?
    /// The customer's satisfaction survey answer (CSAT, 1–5) after resolution.
    public var satisfaction: Int?
    public var satisfactionComment: String?

    public init(
        id: ServiceRequestID, customer: Int64, customerName: String, kind: Kind, priority: Priority, queue: String, subject: String,
        status: Status, assignee: String?, channel: String, valueTier: String, openedBy: String, openedAt: Date, respondBy: Date,
        resolveBy: Date, firstResponseAt: Date?, resolvedAt: Date?, resolution: String?, satisfaction: Int?, satisfactionComment: String?
    ) {
        self.id = id
        self.customer = customer
        self.customerName = customerName
        self.kind = kind
        self.priority = priority
        self.queue = queue
        self.subject = subject
        self.status = status
        self.assignee = assignee
        self.channel = channel
        self.valueTier = valueTier
        self.openedBy = openedBy
        self.openedAt = openedAt
        self.respondBy = respondBy
        self.resolveBy = resolveBy
        self.firstResponseAt = firstResponseAt
        self.resolvedAt = resolvedAt
        self.resolution = resolution
        self.satisfaction = satisfaction
        self.satisfactionComment = satisfactionComment
    }

    /// Where one SLA target stands.
    public enum Clock: Sendable, Equatable {
        /// Met: done before the target.
        case met
        /// Done, but after the target.
        case missed
        /// Not done yet; the target is this many seconds away.
        case due(in: TimeInterval)
        /// Not done, and the target passed this many seconds ago.
        case breached(by: TimeInterval)

        public var isBreach: Bool {
            switch self {
            case .missed, .breached: true
            case .met, .due: false
            }
        }

        static func of(target: Date, doneAt: Date?, now: Date) -> Clock {
            if let doneAt { return doneAt <= target ? .met : .missed }
            return now <= target ? .due(in: target.timeIntervalSince(now)) : .breached(by: now.timeIntervalSince(target))
        }
    }

    /// The first-response clock: met by the first reply the customer can see.
    public func responseClock(now: Date) -> Clock { .of(target: respondBy, doneAt: firstResponseAt, now: now) }
    /// The resolution clock: met by resolving it.
    public func resolutionClock(now: Date) -> Clock { .of(target: resolveBy, doneAt: resolvedAt, now: now) }
    /// Whether either target is broken (or, for an open request, already passed).
    public func breached(now: Date) -> Bool { responseClock(now: now).isBreach || resolutionClock(now: now).isBreach }
}

/// One entry in a request's thread.
public struct RequestEvent: Sendable, Equatable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// What the customer wrote (opening it, or later in the portal).
        case customerMessage = "customer_message"
        /// An agent's answer the customer sees.
        case reply
        /// An agent's internal note, never shown to the customer.
        case note
        /// Status, priority, queue or assignee changed (text says what).
        case change
    }

    public var id: Int64
    public var request: ServiceRequestID
    public var at: Date
    public var author: String
    public var kind: Kind
    public var text: String

    public init(id: Int64, request: ServiceRequestID, at: Date, author: String, kind: Kind, text: String) {
        self.id = id
        self.request = request
        self.at = at
        self.author = author
        self.kind = kind
        self.text = text
    }

    /// Whether the customer sees it in the portal: their own messages, replies and changes, never notes.
    public var isPublic: Bool { kind != .note }
}

/// Response and resolution targets by priority and customer value.
///
/// The base targets are per priority; a complaint must be answered twice as fast; the customer's
/// value tier (from the scoring job: A the customers making the first half of value, D the
/// tail) shortens both targets for the customers who matter most.
public struct SLAPolicy: Sendable, Equatable {
    public struct Target: Sendable, Equatable {
        public var response: TimeInterval
        public var resolution: TimeInterval
        public init(response: TimeInterval, resolution: TimeInterval) {
            self.response = response
            self.resolution = resolution
        }
    }

    public var base: [ServiceRequest.Priority: Target]
    /// Multiplier of both targets by value tier (`A`…`D`; anything else, e.g. unscored, is 1).
    public var valueFactor: [String: Double]
    /// Multiplier of the response target for complaints.
    public var complaintResponseFactor: Double
    /// When targets count only working hours; nil: round the clock.
    public var hours: BusinessHours?
    /// Priorities whose targets run round the clock even with working hours set.
    public var roundTheClock: Set<ServiceRequest.Priority>

    public init(
        base: [ServiceRequest.Priority: Target], valueFactor: [String: Double], complaintResponseFactor: Double, hours: BusinessHours? = nil,
        roundTheClock: Set<ServiceRequest.Priority> = [.urgent]
    ) {
        self.base = base
        self.valueFactor = valueFactor
        self.complaintResponseFactor = complaintResponseFactor
        self.hours = hours
        self.roundTheClock = roundTheClock
    }

    /// The standard targets counted in these working hours (urgent stays round the clock).
    public static func standard(hours: BusinessHours?) -> SLAPolicy {
        var p = standard
        p.hours = hours
        return p
    }

    private static let hour: TimeInterval = 3_600

    /// Urgent 1 h / 8 h, high 4 h / 24 h, normal 8 h / 3 days, low 24 h / 5 days; tier A customers
    /// get half of that, B three quarters; complaints are answered in half the time.
    public static let standard = SLAPolicy(
        base: [
            .urgent: .init(response: 1 * hour, resolution: 8 * hour), .high: .init(response: 4 * hour, resolution: 24 * hour),
            .normal: .init(response: 8 * hour, resolution: 72 * hour), .low: .init(response: 24 * hour, resolution: 120 * hour),
        ],
        valueFactor: ["A": 0.5, "B": 0.75, "C": 1, "D": 1], complaintResponseFactor: 0.5)

    /// The targets for a request opened at `at`.
    public func targets(priority: ServiceRequest.Priority, kind: ServiceRequest.Kind, valueTier: String, at: Date) -> (
        respondBy: Date, resolveBy: Date
    ) {
        let target = base[priority] ?? Self.standard.base[priority]!
        let factor = valueFactor[valueTier] ?? 1
        let response = (target.response * factor * (kind == .complaint ? complaintResponseFactor : 1)).rounded()
        let resolution = (target.resolution * factor).rounded()
        if let hours, !roundTheClock.contains(priority) {
            return (hours.adding(response, to: at), hours.adding(resolution, to: at))
        }
        return (at.addingTimeInterval(response), at.addingTimeInterval(resolution))
    }
}

/// Open requests of one queue and how many broke or are about to break their SLA.
public struct QueueSummary: Sendable, Equatable {
    public var queue: String
    public var open: Int
    public var unassigned: Int
    public var breached: Int
    /// Open and due within the next hour (response or resolution).
    public var dueSoon: Int

    public init(queue: String, open: Int, unassigned: Int, breached: Int, dueSoon: Int) {
        self.queue = queue
        self.open = open
        self.unassigned = unassigned
        self.breached = breached
        self.dueSoon = dueSoon
    }
}

/// The service desk at a glance: queues, and how the last 30 days' resolved requests did.
public struct DeskSummary: Sendable, Equatable {
    public var queues: [QueueSummary]
    public var resolvedLast30Days: Int
    /// Share of those resolved within their resolution target (nil when none).
    public var resolvedWithinSLA: Double?
    /// Mean satisfaction (1–5) of the surveys answered in the last 30 days, and how many.
    public var satisfaction: Double?
    public var surveys: Int

    public init(queues: [QueueSummary], resolvedLast30Days: Int, resolvedWithinSLA: Double?, satisfaction: Double?, surveys: Int) {
        self.queues = queues
        self.resolvedLast30Days = resolvedLast30Days
        self.resolvedWithinSLA = resolvedWithinSLA
        self.satisfaction = satisfaction
        self.surveys = surveys
    }

    public var open: Int { queues.reduce(0) { $0 + $1.open } }
    public var breached: Int { queues.reduce(0) { $0 + $1.breached } }
}

