import Foundation
import SharedModels

public enum PrivacyRequestTag {}
public typealias PrivacyRequestID = ID<PrivacyRequestTag>

/// A data subject's request under privacy law (GDPR articles 15 and 17, CCPA): to receive
/// everything held about them, or to be forgotten. It must be answered within a month.
public struct PrivacyRequest: Sendable, Equatable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// A copy of every record about the customer (as JSON).
        case access
        /// Erase what identifies the customer; keep what the law requires (purchases, points).
        case erasure
    }

    public enum Status: String, Sendable, Codable, CaseIterable { case open, completed, rejected }

    public var id: PrivacyRequestID
    public var customer: Int64
    public var customerName: String
    public var kind: Kind
    public var status: Status
    /// How it reached the company: letter, email, phone, web, store.
    public var channel: String
    public var note: String?
    public var receivedBy: String
    public var receivedAt: Date
    /// The legal deadline: a month after it was received.
    public var dueAt: Date
    public var completedBy: String?
    public var completedAt: Date?
    /// What was done, or why it was refused.
    public var outcome: String?

    public init(
        id: PrivacyRequestID, customer: Int64, customerName: String, kind: Kind, status: Status, channel: String, note: String?, receivedBy: String,
        receivedAt: Date, dueAt: Date, completedBy: String?, completedAt: Date?, outcome: String?
    ) {
        self.id = id
        self.customer = customer
        self.customerName = customerName
        self.kind = kind
        self.status = status
        self.channel = channel
        self.note = note
        self.receivedBy = receivedBy
        self.receivedAt = receivedAt
        self.dueAt = dueAt
        self.completedBy = completedBy
        self.completedAt = completedAt
        self.outcome = outcome
    }

    public func overdue(now: Date) -> Bool { status == .open && now > dueAt }
}

/// What an erasure changed, table by table.
public struct ErasureReport: Sendable, Equatable {
    public var rows: [String: Int]
    public init(rows: [String: Int]) { self.rows = rows }
    public var description: String { rows.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") }
}

/// The privacy room's storage. Erasure and export cross every room's tables for one customer,
/// each in one transaction.
public protocol PrivacyStore: Sendable {
    func insertPrivacyRequest(customer: Int64, kind: PrivacyRequest.Kind, channel: String, note: String?, by: String, at: Date, due: Date)
        async throws -> PrivacyRequest
    func privacyRequest(_ id: PrivacyRequestID) async throws -> PrivacyRequest?
    /// Open ones first (earliest deadline first), then the rest newest first.
    func privacyRequests(limit: Int) async throws -> [PrivacyRequest]
    /// Closes an open request; nil when it is not open (any more).
    func closePrivacyRequest(_ id: PrivacyRequestID, status: PrivacyRequest.Status, by: String, at: Date, outcome: String) async throws
        -> PrivacyRequest?
    /// Every record about the customer, table by table, as a JSON document (no secrets: no
    /// password hashes, session digests or tracking secrets).
    func exportCustomerData(_ customer: Int64, at: Date) async throws -> Data
    /// Removes or blanks everything that identifies the customer — profile, identifiers, free
    /// text in interactions, messages and requests, login and sessions, scores and segment
    /// membership — and marks the record `erased`; purchases and the points ledger stay (the
    /// company must keep its accounts), now tied to no one who can be identified.
    func erase(_ customer: Int64, at: Date) async throws -> ErasureReport
}

/// Registers privacy requests and fulfils them.
public struct PrivacyService: Sendable {
    let store: any PrivacyStore
    public let customers: CustomerService
    public let clock: Clock
    /// Writes an export or erasure to the audit log: who, what (`privacy.export`,
    /// `privacy.erase`), on what, and what changed.
    let audit: @Sendable (_ actor: String, _ action: String, _ target: String, _ detail: String?) async throws -> Void
    /// How long the company has to answer (GDPR: one month).
    public static let deadline: TimeInterval = 30 * 86_400

    public init(
        store: any PrivacyStore, customers: CustomerService, clock: Clock,
        audit: @escaping @Sendable (_ actor: String, _ action: String, _ target: String, _ detail: String?) async throws -> Void
    ) {
        self.store = store
        self.customers = customers
        self.clock = clock
        self.audit = audit
    }

    public func register(customer id: Int64, kind: PrivacyRequest.Kind, channel: String, note: String?, by actor: String) async throws
        -> PrivacyRequest
    {
        let channel = channel.trimmingCharacters(in: .whitespaces)
        guard (1...40).contains(channel.count) else { throw CustomerError.invalid([FieldError("channel", "must be 1 to 40 characters")]) }
        if let note, note.count > 2_000 { throw CustomerError.invalid([FieldError("note", "must be at most 2000 characters")]) }
        let customer = try await customers.customer(CustomerID(id))
        if let survivor = customer.mergedInto { throw CustomerError.merged(customer.id, into: survivor) }
        let now = clock.now
        return try await store.insertPrivacyRequest(
            customer: id, kind: kind, channel: channel, note: note.flatMap { $0.isEmpty ? nil : $0 }, by: actor, at: now,
            due: now.addingTimeInterval(Self.deadline))
    }

    public func request(_ id: PrivacyRequestID) async throws -> PrivacyRequest {
        guard let r = try await store.privacyRequest(id) else { throw CustomerError.notFound(kind: "privacy request", id: id.rawValue) }
        return r
    }

    public func requests(limit: Int = 200) async throws -> [PrivacyRequest] { try await store.privacyRequests(limit: max(1, min(limit, 1_000))) }

    /// The customer's data for an access request. The first export completes the request; it
    /// can be downloaded again afterwards (a completed request stays answerable).
    public func export(_ id: PrivacyRequestID, by actor: String) async throws -> Data {
        let r = try await request(id)
        guard r.kind == .access else { throw CustomerError.invalid([FieldError("kind", "only an access request is answered with an export")]) }
        guard r.status != .rejected else { throw CustomerError.invalid([FieldError("status", "the request was rejected")]) }
        let data = try await store.exportCustomerData(r.customer, at: clock.now)
        try await audit(actor, "privacy.export", "customer \(r.customer)", "privacy request \(id)")
        if r.status == .open {
            _ = try await store.closePrivacyRequest(id, status: .completed, by: actor, at: clock.now, outcome: "export of \(data.count) bytes")
        }
        return data
    }

    /// Carries out an erasure request.
    public func erase(_ id: PrivacyRequestID, by actor: String) async throws -> (PrivacyRequest, ErasureReport) {
        let r = try await request(id)
        guard r.kind == .erasure else { throw CustomerError.invalid([FieldError("kind", "only an erasure request erases")]) }
        guard r.status == .open else { throw CustomerError.invalid([FieldError("status", "the request is \(r.status.rawValue) already")]) }
        let report = try await store.erase(r.customer, at: clock.now)
        try await audit(actor, "privacy.erase", "customer \(r.customer)", report.description)
        guard
            let done = try await store.closePrivacyRequest(id, status: .completed, by: actor, at: clock.now, outcome: "erased: \(report.description)")
        else { throw CustomerError.invalid([FieldError("status", "the request was closed meanwhile")]) }
        return (done, report)
    }

    /// Refuses a request (e.g. the requester could not prove who they are), with the reason.
    public func reject(_ id: PrivacyRequestID, reason: String, by actor: String) async throws -> PrivacyRequest {
        let reason = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...2_000).contains(reason.count) else {
            throw CustomerError.invalid([FieldError("reason", "give the reason (at most 2000 characters)")])
        }
        guard let done = try await store.closePrivacyRequest(id, status: .rejected, by: actor, at: clock.now, outcome: reason) else {
            throw CustomerError.invalid([FieldError("status", "only an open request can be rejected")])
        }
        return done
    }
}
