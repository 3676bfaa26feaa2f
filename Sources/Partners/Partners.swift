import Foundation
import SharedModels

/// A coalition partner: a merchant whose outlets' purchases earn the program's points (which
/// the partner pays for) and who honours some of the program's rewards (for which it is paid).
public struct Partner: Sendable, Equatable {
    /// The partner's code, as its API keys name it (e.g. `BAKERY`).
    public var code: String
    public var name: String
    /// Store codes of its outlets: purchases there are the partner's.
    public var outlets: [String]
    /// Codes of the rewards it honours (e.g. its own gift vouchers).
    public var rewards: [String]
    public var currency: String
    /// What the partner pays per 1,000 points its purchases earn members, in minor units.
    public var pricePerThousandPoints: Int64
    /// What the company pays the partner per voucher it honours, in minor units.
    public var payoutPerVoucher: Int64
    public var createdAt: Date

    public init(
        code: String, name: String, outlets: [String], rewards: [String], currency: String, pricePerThousandPoints: Int64,
        payoutPerVoucher: Int64, createdAt: Date
    ) {
        self.code = code
        self.name = name
        self.outlets = outlets
        self.rewards = rewards
        self.currency = currency
        self.pricePerThousandPoints = pricePerThousandPoints
        self.payoutPerVoucher = payoutPerVoucher
        self.createdAt = createdAt
    }
}

/// A partner's account for a period: what its outlets sold, the points members earned there
/// (net of returns) and what they cost the partner, the vouchers it honoured and what they earn
/// it, and the balance. Positive `net`: the partner owes the company.
public struct PartnerStatement: Sendable, Equatable, Codable {
    public var partner: String
    /// The period, `from` inclusive, `to` exclusive (dates in UTC).
    public var from: LocalDate
    public var to: LocalDate
    public var purchases: Int
    public var returns: Int
    /// Sales net of returns, in minor units of the partner's currency.
    public var sales: Int64
    /// Reward points earned on its purchases, less those clawed back on returns.
    public var pointsIssued: Int64
    public var pointsCharge: Money
    /// The partner's share of the points its joint promotions awarded (anywhere), and its charge.
    public var cofundedPoints: Int64
    public var cofundingCharge: Money
    public var vouchersHonoured: Int
    public var voucherPayout: Money
    public var net: Money

    public init(
        partner: String, from: LocalDate, to: LocalDate, purchases: Int, returns: Int, sales: Int64, pointsIssued: Int64, pointsCharge: Money,
        cofundedPoints: Int64 = 0, cofundingCharge: Money? = nil, vouchersHonoured: Int, voucherPayout: Money, net: Money
    ) {
        self.cofundedPoints = cofundedPoints
        self.cofundingCharge = cofundingCharge ?? Money(minorUnits: 0, currency: net.currency)
        self.partner = partner
        self.from = from
        self.to = to
        self.purchases = purchases
        self.returns = returns
        self.sales = sales
        self.pointsIssued = pointsIssued
        self.pointsCharge = pointsCharge
        self.vouchersHonoured = vouchersHonoured
        self.voucherPayout = voucherPayout
        self.net = net
    }
}

/// A closed period's statement, frozen, to be paid.
public struct Settlement: Sendable, Equatable {
    public enum Status: String, Sendable, Codable { case open, paid }
    public var id: Int64
    public var statement: PartnerStatement
    public var status: Status
    public var closedBy: String
    public var closedAt: Date
    public var paidBy: String?
    public var paidAt: Date?

    public init(id: Int64, statement: PartnerStatement, status: Status, closedBy: String, closedAt: Date, paidBy: String?, paidAt: Date?) {
        self.id = id
        self.statement = statement
        self.status = status
        self.closedBy = closedBy
        self.closedAt = closedAt
        self.paidBy = paidBy
        self.paidAt = paidAt
    }
}

/// A purchase or return recorded at one of the partner's outlets, with the reward points it moved.
public struct Receipt: Sendable, Equatable {
    public var reference: String
    public var at: Date
    public var amount: Int64
    public var isReturn: Bool
    public var store: String
    /// Reward points members earned on it (negative for a return's claw-back).
    public var points: Int64

    public init(reference: String, at: Date, amount: Int64, isReturn: Bool, store: String, points: Int64) {
        self.reference = reference
        self.at = at
        self.amount = amount
        self.isReturn = isReturn
        self.store = store
        self.points = points
    }
}

/// The Partners room's storage.
public protocol PartnerStore: Sendable {
    /// Creates or replaces the partner's terms.
    func upsert(_ partner: Partner) async throws
    func partner(_ code: String) async throws -> Partner?
    /// The partners among `codes` (upper case) that have terms.
    func partners(codes: Set<String>) async throws -> [Partner]
    func partners() async throws -> [Partner]
    /// The raw figures of a period (reads purchases, the ledger and vouchers set-wise).
    func figures(_ partner: Partner, from: Date, to: Date) async throws -> (
        purchases: Int, returns: Int, sales: Int64, pointsIssued: Int64, cofundedPoints: Int64, vouchersHonoured: Int
    )
    /// The latest receipts at the partner's outlets, newest first; with `reference`, only that one.
    func receipts(_ partner: Partner, reference: String?, limit: Int) async throws -> [Receipt]
    /// Freezes a statement; throws ``PartnerError/conflict(_:)`` when that period is closed already.
    func insertSettlement(_ statement: PartnerStatement, by: String, at: Date) async throws -> Settlement
    func settlements(partner: String) async throws -> [Settlement]
    /// Marks an open settlement paid; nil when there is no open one with this id.
    func markPaid(_ id: Int64, by: String, at: Date) async throws -> Settlement?
}

/// Partners, their statements and settlements.
public struct PartnerService: Sendable {
    let store: any PartnerStore
    public let clock: Clock

    public init(store: any PartnerStore, clock: Clock) {
        self.store = store
        self.clock = clock
    }

    /// Letters, digits, `-` and `_` only: partner, outlet and reward codes.
    static func isCode(_ text: String) -> Bool { text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") } }

    static func codes(_ list: [String], field: String) throws -> [String] {
        let codes = list.map { $0.trimmingCharacters(in: .whitespaces).uppercased() }.filter { !$0.isEmpty }
        for c in codes where c.count > 40 || !isCode(c) {
            throw PartnerError.invalid(field: field, reason: "'\(c)' is not a code (letters, digits, - or _)")
        }
        return Array(Set(codes)).sorted()
    }

    /// Records or changes a partner's terms.
    public func save(
        code: String, name: String, outlets: [String], rewards: [String], currency: String, pricePerThousandPoints: Int64, payoutPerVoucher: Int64
    ) async throws -> Partner {
        let code = code.trimmingCharacters(in: .whitespaces).uppercased()
        guard (2...40).contains(code.count), Self.isCode(code) else {
            throw PartnerError.invalid(field: "code", reason: "must be 2 to 40 letters, digits, - or _")
        }
        let name = name.trimmingCharacters(in: .whitespaces)
        guard (1...200).contains(name.count) else { throw PartnerError.invalid(field: "name", reason: "must be 1 to 200 characters") }
        let currency = currency.trimmingCharacters(in: .whitespaces).uppercased()
        guard currency.count == 3, currency.allSatisfy({ $0.isASCII && $0.isLetter }) else {
            throw PartnerError.invalid(field: "currency", reason: "must be an ISO 4217 code such as USD")
        }
        for (field, value) in [("pricePerThousandPoints", pricePerThousandPoints), ("payoutPerVoucher", payoutPerVoucher)] {
            guard value >= 0 else { throw PartnerError.invalid(field: field, reason: "must not be negative") }
            guard value <= Money.maximumMinorUnits else {
                throw PartnerError.invalid(field: field, reason: "must be at most \(Money.maximumMinorUnits) minor units")
            }
        }
        let outlets = try Self.codes(outlets, field: "outlets")
        guard !outlets.isEmpty else { throw PartnerError.invalid(field: "outlets", reason: "give at least one outlet (store code)") }
        let existing = try await store.partner(code)
        for other in try await store.partners() where other.code != code {
            if let shared = other.outlets.first(where: outlets.contains) {
                throw PartnerError.invalid(field: "outlets", reason: "\(shared) is \(other.code)'s outlet")
            }
        }
        let partner = Partner(
            code: code, name: name, outlets: outlets, rewards: try Self.codes(rewards, field: "rewards"), currency: currency,
            pricePerThousandPoints: pricePerThousandPoints, payoutPerVoucher: payoutPerVoucher, createdAt: existing?.createdAt ?? clock.now)
        try await store.upsert(partner)
        return partner
    }

    public func partner(_ code: String) async throws -> Partner {
        guard let p = try await store.partner(code.uppercased()) else { throw PartnerError.notFound(code) }
        return p
    }

    public func partners() async throws -> [Partner] { try await store.partners() }

    /// The terms of each partner among `codes` that has them, by the code as given: one read for
    /// a group of purchases by several partners' keys.
    public func terms(of codes: Set<String>) async throws -> [String: Partner] {
        guard !codes.isEmpty else { return [:] }
        let found = Dictionary(try await store.partners(codes: Set(codes.map { $0.uppercased() })).map { ($0.code, $0) }) { first, _ in first }
        return codes.reduce(into: [:]) { terms, code in terms[code] = found[code.uppercased()] }
    }

    /// The statement of `[from, to)`.
    public func statement(_ code: String, from: LocalDate, to: LocalDate) async throws -> PartnerStatement {
        guard from < to else { throw PartnerError.invalid(field: "to", reason: "must be after from") }
        return try await statement(of: try await partner(code), from: from, to: to)
    }

    func statement(of p: Partner, from: LocalDate, to: LocalDate) async throws -> PartnerStatement {
        let f = try await store.figures(p, from: from.startOfDay, to: to.startOfDay)
        // Computed in 128 bits so no figure can trap; a result beyond Int64 is refused, not wrapped.
        func exact(_ value: Int128) throws -> Int64 {
            guard let v = Int64(exactly: value) else {
                throw PartnerError.conflict("The statement of \(p.code) from \(from) to \(to) is too large to express in minor units.")
            }
            return v
        }
        // Points are charged at the partner's price, rounded half away from zero to the minor unit.
        func price(_ points: Int64) throws -> Int64 {
            let product = Int128(points) * Int128(p.pricePerThousandPoints)
            return try exact((product + (product >= 0 ? 500 : -500)) / 1_000)
        }
        let charge = try price(f.pointsIssued)
        let cofunding = try price(f.cofundedPoints)
        let payout = try exact(Int128(f.vouchersHonoured) * Int128(p.payoutPerVoucher))
        let net = try exact(Int128(charge) + Int128(cofunding) - Int128(payout))
        return PartnerStatement(
            partner: p.code, from: from, to: to, purchases: f.purchases, returns: f.returns, sales: f.sales, pointsIssued: f.pointsIssued,
            pointsCharge: Money(minorUnits: charge, currency: p.currency), cofundedPoints: f.cofundedPoints,
            cofundingCharge: Money(minorUnits: cofunding, currency: p.currency), vouchersHonoured: f.vouchersHonoured,
            voucherPayout: Money(minorUnits: payout, currency: p.currency), net: Money(minorUnits: net, currency: p.currency))
    }

    /// Monthly statements, the current month first, going back `months`.
    public func monthly(_ code: String, months: Int = 6) async throws -> [PartnerStatement] {
        let p = try await partner(code)
        let thisMonth = LocalDate(clock.now).firstOfMonth()
        var result: [PartnerStatement] = []
        for back in 0..<max(1, months) {
            let start = thisMonth.firstOfMonth(addingMonths: -back)
            result.append(try await statement(of: p, from: start, to: start.firstOfMonth(addingMonths: 1)))
        }
        return result
    }

    /// Closes a finished month: its statement is frozen as a settlement to be paid.
    public func settle(_ code: String, month: LocalDate, by actor: String) async throws -> Settlement {
        let start = month.firstOfMonth()
        let end = month.firstOfMonth(addingMonths: 1)
        guard end.startOfDay <= clock.now else { throw PartnerError.invalid(field: "month", reason: "a month can be settled once it has ended") }
        return try await store.insertSettlement(try await statement(code, from: start, to: end), by: actor, at: clock.now)
    }

    /// The partner's latest receipts (or the one with this receipt number, with or without the
    /// `PARTNER:` prefix the portal gives them).
    public func receipts(_ code: String, reference: String? = nil, limit: Int = 25) async throws -> [Receipt] {
        let p = try await partner(code)
        guard let reference = reference?.trimmingCharacters(in: .whitespaces), !reference.isEmpty else {
            return try await store.receipts(p, reference: nil, limit: limit)
        }
        let exact = try await store.receipts(p, reference: reference, limit: 1)
        return exact.isEmpty ? try await store.receipts(p, reference: "\(p.code):\(reference)", limit: 1) : exact
    }

    public func settlements(_ code: String) async throws -> [Settlement] { try await store.settlements(partner: try await partner(code).code) }

    public func markPaid(_ id: Int64, by actor: String) async throws -> Settlement {
        guard let s = try await store.markPaid(id, by: actor, at: clock.now) else { throw PartnerError.conflict("No open settlement \(id).") }
        return s
    }
}
