import Customers
import Foundation
import SharedModels

/// A request about to be opened, with its SLA targets already set.
public struct NewRequest: Sendable {
    public var customer: Int64
    public var customerName: String
    public var kind: ServiceRequest.Kind
    public var priority: ServiceRequest.Priority
    public var queue: String
    public var subject: String
    public var description: String
    public var channel: Customers.Channel
    public var valueTier: String
    public var openedBy: String
    /// Whether the customer wrote it (the portal) rather than an agent on their behalf.
    public var byCustomer: Bool
    public var openedAt: Date
    public var respondBy: Date
    public var resolveBy: Date

    public init(
        customer: Int64, customerName: String, kind: ServiceRequest.Kind, priority: ServiceRequest.Priority, queue: String, subject: String,
        description: String, channel: Customers.Channel, valueTier: String, openedBy: String, byCustomer: Bool, openedAt: Date, respondBy: Date,
        resolveBy: Date
    ) {
        self.customer = customer
        self.customerName = customerName
        self.kind = kind
        self.priority = priority
        self.queue = queue
        self.subject = subject
        self.description = description
        self.channel = channel
        self.valueTier = valueTier
        self.openedBy = openedBy
        self.byCustomer = byCustomer
        self.openedAt = openedAt
        self.respondBy = respondBy
        self.resolveBy = resolveBy
    }
}

/// Which requests a list shows.
public struct RequestFilter: Sendable, Equatable {
    public var queue: String?
    /// Only these statuses (empty: any).
    public var statuses: [ServiceRequest.Status]
    public var customer: Int64?
    public var assignee: String?
    /// Only open requests past a target.
    public var breachedOnly: Bool
    /// The order a list asks for; nil: open requests by urgency, others newest first.
    public var sort: Sort? = nil
    public var descending = false

    /// How a list of requests can be ordered.
    public enum Sort: String, Sendable, CaseIterable {
        /// By the resolution target.
        case due
        /// By when they were opened.
        case opened
        /// Urgent first (ascending: urgent, high, normal, low).
        case priority
    }

    public init(
        queue: String? = nil, statuses: [ServiceRequest.Status] = [], customer: Int64? = nil, assignee: String? = nil, breachedOnly: Bool = false
    ) {
        self.queue = queue
        self.statuses = statuses
        self.customer = customer
        self.assignee = assignee
        self.breachedOnly = breachedOnly
    }

    /// Everything still needing work.
    public static let open = RequestFilter(statuses: ServiceRequest.Status.allCases.filter(\.isOpen))
}

/// What an update changes on a request (nil: unchanged). The store writes the new values and
/// the thread entry in one transaction, only if the request is still as `expected`.
public struct RequestChange: Sendable, Equatable {
    public var status: ServiceRequest.Status?
    public var priority: ServiceRequest.Priority?
    public var queue: String?
    /// `.some(nil)` unassigns.
    public var assignee: String??
    public var respondBy: Date?
    public var resolveBy: Date?
    public var firstResponseAt: Date?
    public var resolvedAt: Date??
    public var resolution: String?
    public var satisfaction: (score: Int, comment: String?)?

    public init() {}

    public static func == (a: RequestChange, b: RequestChange) -> Bool {
        a.status == b.status && a.priority == b.priority && a.queue == b.queue && a.assignee == b.assignee && a.respondBy == b.respondBy
            && a.resolveBy == b.resolveBy && a.firstResponseAt == b.firstResponseAt && a.resolvedAt == b.resolvedAt
            && a.resolution == b.resolution && a.satisfaction?.score == b.satisfaction?.score && a.satisfaction?.comment == b.satisfaction?.comment
    }
}

/// The Support room's storage, sized by use case.
public protocol SupportStore: Sendable {
    /// Opens a request: the request, its first thread entry (the description) and an
    /// interaction on the customer's timeline, in one transaction.
    func open(_ request: NewRequest) async throws -> ServiceRequest
    func request(_ id: ServiceRequestID) async throws -> ServiceRequest?
    /// The thread, oldest first.
    func events(_ id: ServiceRequestID) async throws -> [RequestEvent]
    /// Requests by the filter, the most urgent (earliest resolution target) first among open
    /// ones, newest first otherwise.
    func requests(_ filter: RequestFilter, now: Date, limit: Int) async throws -> [ServiceRequest]
    /// Open, assigned requests past a target whose assignee has not been told yet, oldest breach first.
    func breachesToNotify(now: Date, limit: Int) async throws -> [ServiceRequest]
    func markBreachNotified(_ id: ServiceRequestID, at: Date) async throws
    /// A page of the requests a filter selects (in the same order), with how many it selects in all.
    func requests(_ filter: RequestFilter, now: Date, offset: Int, limit: Int) async throws -> CountedPage<ServiceRequest>
    /// Applies `change` and appends a thread entry, in one transaction, if the request's status
    /// is still `expected` (someone else may have changed it since it was read). Writes an
    /// interaction on the timeline when the request is resolved. Returns nil when it was not.
    func update(
        _ id: ServiceRequestID, expected: ServiceRequest.Status, change: RequestChange,
        event: (author: String, kind: RequestEvent.Kind, text: String)?, at: Date
    )
        async throws -> ServiceRequest?
    /// Queues with their open, unassigned, breached and due-soon counts, and the last 30 days' figures.
    func summary(now: Date) async throws -> DeskSummary
}
