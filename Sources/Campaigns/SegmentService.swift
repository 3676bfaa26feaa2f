import Expressions
import Foundation
import SharedModels

/// The Campaigns room's storage for segments, sized by use case. Counting, previewing and
/// listing members run the rule as SQL over every active customer.
public protocol SegmentStore: Sendable {
    /// The values text fields hold in the data now, by rule field (`member.tier`, `home_store`,
    /// `language`), for ``Vocabulary``.
    func heldValues() async throws -> [String: [String]]
    func insertSegment(_ draft: SegmentDraft, owner: String, at: Date) async throws -> Segment
    func updateSegment(_ id: SegmentID, _ draft: SegmentDraft, at: Date) async throws -> Segment
    func deleteSegment(_ id: SegmentID) async throws
    func segment(_ id: SegmentID) async throws -> Segment?
    func segment(named name: String) async throws -> Segment?
    func segments() async throws -> [Segment]
    /// Customers the rule selects now.
    func count(_ rule: RuleExpression, now: Date) async throws -> Int
    /// The first customers the rule selects, by id.
    func preview(_ rule: RuleExpression, now: Date, limit: Int) async throws -> [SegmentMember]
    /// Every customer the rule selects, in id order, page by page.
    func members(_ rule: RuleExpression, now: Date, after: Int64, limit: Int) async throws -> [SegmentMember]
    /// Freezes a static segment's members: the rule's customers now replace the old list.
    func snapshot(_ id: SegmentID, rule: RuleExpression, now: Date) async throws -> Segment
    /// The frozen members of a static segment, page by page.
    func snapshotMembers(_ id: SegmentID, after: Int64, limit: Int) async throws -> [SegmentMember]
    /// Customers in both rules, and in each.
    func overlap(_ a: RuleExpression, _ b: RuleExpression, now: Date) async throws -> (both: Int, first: Int, second: Int)
    /// Rebuilds the per-customer facts rules read (profile, consent, loyalty, behaviour, scores).
    func refreshFacts(now: Date) async throws -> Int
    /// When the facts were last rebuilt (nil: never).
    func factsRefreshedAt() async throws -> Date?
    /// Stores (and partner outlets) with their locations, for `store("S12")` in rules.
    func upsertStores(_ stores: [StoreLocation]) async throws
    func stores() async throws -> [StoreLocation]
}

public struct StoreLocation: Sendable, Equatable {
    public var code: String
    public var name: String
    public var latitude: Double?
    public var longitude: Double?

    public init(code: String, name: String, latitude: Double?, longitude: Double?) {
        self.code = code
        self.name = name
        self.latitude = latitude
        self.longitude = longitude
    }
}

/// One customer of a segment, with what a marketer checks in a preview or an export.
public struct SegmentMember: Sendable, Equatable {
    public var customer: Int64
    public var name: String
    public var email: String?
    public var tier: String?
    public var clv: Double?

    public init(customer: Int64, name: String, email: String?, tier: String?, clv: Double?) {
        self.customer = customer
        self.name = name
        self.email = email
        self.tier = tier
        self.clv = clv
    }
}

/// Segments: create and change them with their rule checked, count live while editing,
/// preview, compare, snapshot and export.
public struct SegmentService: Sendable {
    let store: any SegmentStore
    public let clock: Clock
    /// The data's values of text fields, read at most once a minute (the live count asks per keystroke).
    let vocabulary = HeldValues()

    public init(store: any SegmentStore, clock: Clock) {
        self.store = store
        self.clock = clock
    }

    func validated(_ draft: SegmentDraft) throws -> SegmentDraft {
        var d = draft
        d.name = d.name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !d.name.isEmpty, d.name.count <= 100 else { throw SegmentError.invalid(field: "name", reason: "must be 1 to 100 characters") }
        guard d.rule.count <= 10_000 else { throw SegmentError.invalid(field: "rule", reason: "must be at most 10,000 characters") }
        return d
    }

    public func create(_ draft: SegmentDraft, owner: String) async throws -> Segment {
        let d = try validated(draft)
        _ = try await checkedRule(d.rule, of: d.name)
        var segment = try await store.insertSegment(d, owner: owner, at: clock.now)
        if segment.kind == .static { segment = try await snapshot(segment.id) }
        return segment
    }

    public func update(_ id: SegmentID, _ draft: SegmentDraft) async throws -> Segment {
        let d = try validated(draft)
        _ = try await checkedRule(d.rule, of: d.name)
        return try await store.updateSegment(id, d, at: clock.now)
    }

    public func delete(_ id: SegmentID) async throws {
        guard try await store.segment(id) != nil else { throw SegmentError.notFound(id) }
        try await store.deleteSegment(id)
    }

    public func segment(_ id: SegmentID) async throws -> Segment {
        guard let s = try await store.segment(id) else { throw SegmentError.notFound(id) }
        return s
    }

    public func segments() async throws -> [Segment] { try await store.segments() }

    /// The values each text field can hold: Patron's own (RFM segments, value tiers, life stages)
    /// and the data's (tiers, home stores), for value pickers and the rule check.
    public func knownValues() async throws -> [String: [String]] {
        var values = SegmentFields.vocabulary
        for (field, held) in try await vocabulary.values(store) { values[field] = held }
        return values
    }

    /// Rebuilds what rules read; the scoring job does it nightly. Returns the customers.
    @discardableResult
    public func refresh() async throws -> Int { try await store.refreshFacts(now: clock.now) }

    /// The facts rules read, built once if they never were.
    func ensureFacts() async throws {
        if try await store.factsRefreshedAt() == nil { try await refresh() }
    }

    /// How many customers a rule selects now (the live count while editing), and how long it took.
    public func count(rule text: String) async throws -> (count: Int, milliseconds: Double) {
        let rule = try await checkedRule(text, of: nil)
        try await ensureFacts()
        let start = ContinuousClock.now
        let n = try await store.count(rule, now: clock.now)
        return (n, (ContinuousClock.now - start).milliseconds)
    }

    public func preview(rule text: String, limit: Int = 20) async throws -> [SegmentMember] {
        let rule = try await checkedRule(text, of: nil)
        try await ensureFacts()
        return try await store.preview(rule, now: clock.now, limit: max(1, min(limit, 500)))
    }

    /// The customers a rule selects now, in id order, a page at a time (the analytics drill-down).
    public func members(rule text: String, after: Int64 = 0, limit: Int = 50) async throws -> [SegmentMember] {
        let rule = try await checkedRule(text, of: nil)
        try await ensureFacts()
        return try await store.members(rule, now: clock.now, after: after, limit: max(1, min(limit, 5_000)))
    }

    /// The customers a rule selects as CSV (the header first), a page at a time; returns how many.
    @discardableResult
    public func exportCSV(rule text: String, _ write: (String) async throws -> Void) async throws -> Int {
        _ = try await checkedRule(text, of: nil)
        try await write(SegmentMember.csvHeader)
        var after: Int64 = 0
        var count = 0
        while true {
            let page = try await members(rule: text, after: after, limit: 5_000)
            guard let last = page.last else { return count }
            try await write(page.map(\.csvLine).joined())
            count += page.count
            after = last.customer
        }
    }

    /// A segment's members now: the frozen list of a static segment, the rule's customers otherwise.
    public func members(of id: SegmentID, after: Int64 = 0, limit: Int = 1_000) async throws -> [SegmentMember] {
        let s = try await segment(id)
        if s.kind == .static { return try await store.snapshotMembers(id, after: after, limit: limit) }
        try await ensureFacts()
        return try await store.members(try SegmentFields.check(s.rule), now: clock.now, after: after, limit: limit)
    }

    /// A segment's members as CSV (the header first), handed to `write` a page at a time;
    /// returns how many members were written.
    @discardableResult
    public func exportCSV(_ id: SegmentID, _ write: (String) async throws -> Void) async throws -> Int {
        _ = try await segment(id)
        try await write(SegmentMember.csvHeader)
        var after: Int64 = 0
        var count = 0
        while true {
            let page = try await members(of: id, after: after, limit: 5_000)
            guard let last = page.last else { return count }
            try await write(page.map(\.csvLine).joined())
            count += page.count
            after = last.customer
        }
    }

    /// How many customers a segment holds now.
    public func size(of id: SegmentID) async throws -> Int {
        let s = try await segment(id)
        if s.kind == .static { return s.snapshotCount ?? 0 }
        try await ensureFacts()
        return try await store.count(try SegmentFields.check(s.rule), now: clock.now)
    }

    public func snapshot(_ id: SegmentID) async throws -> Segment {
        let s = try await segment(id)
        guard s.kind == .static else { throw SegmentError.invalid(field: "kind", reason: "only a static segment is snapshotted") }
        try await ensureFacts()
        return try await store.snapshot(id, rule: try SegmentFields.check(s.rule), now: clock.now)
    }

    public func overlap(_ a: SegmentID, _ b: SegmentID) async throws -> (both: Int, first: Int, second: Int) {
        let first = try await segment(a)
        let second = try await segment(b)
        try await ensureFacts()
        return try await store.overlap(try SegmentFields.check(first.rule), try SegmentFields.check(second.rule), now: clock.now)
    }

    /// Saves a store (an outlet) with its position, for distance rules.
    /// - Throws: ``SegmentError/invalid(field:reason:)`` for a code or name that is empty or over
    ///   64 / 200 characters, or a position off the globe (latitude −90 … 90, longitude −180 … 180),
    ///   or one coordinate without the other. Nothing was written.
    public func save(store: StoreLocation) async throws {
        guard (1...64).contains(store.code.count) else { throw SegmentError.invalid(field: "code", reason: "must be 1 to 64 characters") }
        guard (1...200).contains(store.name.count) else { throw SegmentError.invalid(field: "name", reason: "must be 1 to 200 characters") }
        guard (store.latitude == nil) == (store.longitude == nil) else {
            throw SegmentError.invalid(field: "latitude", reason: "give both latitude and longitude, or neither")
        }
        if let latitude = store.latitude, !(latitude.isFinite && (-90...90).contains(latitude)) {
            throw SegmentError.invalid(field: "latitude", reason: "must be between -90 and 90")
        }
        if let longitude = store.longitude, !(longitude.isFinite && (-180...180).contains(longitude)) {
            throw SegmentError.invalid(field: "longitude", reason: "must be between -180 and 180")
        }
        try await self.store.upsertStores([store])
    }

    /// How many segments one rule may reach through `in_segment`, directly or not.
    static let maximumReferencedSegments = 16

    /// The rule parsed and type-checked; `in_segment("x")` must name an existing segment, and no
    /// segment (`name`, when the rule is one's) may reach itself.
    func checkedRule(_ text: String, of name: String?) async throws -> RuleExpression {
        let rule = try SegmentFields.check(text)
        let values = try await knownValues()
        do {
            try Vocabulary.check(rule, values: values)
        } catch let error as ExpressionError {
            throw SegmentError.invalidRule(message: error.message, line: error.position.line, column: error.position.column)
        }
        var seen: Set<String> = name.map { [$0] } ?? []
        var referencesOf: [String: [String]] = [:]
        var pending = Self.references(in: rule)
        while let next = pending.popLast() {
            if seen.contains(next) {
                if next == name { throw SegmentError.invalid(field: "rule", reason: "segment '\(next)' would contain itself through in_segment") }
                continue
            }
            seen.insert(next)
            guard seen.count <= Self.maximumReferencedSegments else {
                throw SegmentError.invalid(
                    field: "rule", reason: "a segment may reach at most \(Self.maximumReferencedSegments) other segments through in_segment")
            }
            guard let other = try await store.segment(named: next) else {
                throw SegmentError.invalid(field: "rule", reason: "in_segment(\"\(next)\"): no segment has that name")
            }
            referencesOf[next] = Self.references(in: try SegmentFields.check(other.rule))
            pending += referencesOf[next] ?? []
        }
        // Each reference is written out in full where it is used: refused here, before saving,
        // when that would exceed what the SQL compiler accepts.
        var expansion: [String: Int] = [:]
        func expanded(_ name: String) -> Int {
            if let known = expansion[name] { return known }
            let total = (referencesOf[name] ?? []).reduce(0) { min($0 + 1 + expanded($1), Int.max / 4) }
            expansion[name] = total
            return total
        }
        let total = Self.references(in: rule).reduce(0) { min($0 + 1 + expanded($1), Int.max / 4) }
        guard total <= SQLCompiler.maximumInlinedSegments else {
            throw SegmentError.invalid(
                field: "rule",
                reason: "in_segment references expand to \(total) segments, more than \(SQLCompiler.maximumInlinedSegments); refer to each segment once")
        }
        return rule
    }

    static func references(in e: RuleExpression) -> [String] {
        switch e.kind {
        case .call("in_segment", let arguments):
            if case .string(let name) = arguments.first?.kind { return [name] }
            return []
        case .call(_, let arguments), .list(let arguments): return arguments.flatMap(references)
        case .not(let inner), .negate(let inner): return references(in: inner)
        case .binary(_, let l, let r), .membership(let l, let r, _): return references(in: l) + references(in: r)
        case .aggregate(let a): return (a.filter.map(references) ?? []) + (a.within.map(references) ?? [])
        default: return []
        }
    }
}

extension SegmentMember {
    /// The columns of a segment export.
    public static let csvHeader = "customer_id,name,email,tier,clv_next_12m\n"

    /// This member as a line of a segment export.
    public var csvLine: String {
        CSVText.line([String(customer), name, email ?? "", tier ?? "", clv.map { String(format: "%.2f", $0) } ?? ""])
    }
}

/// The values text fields hold in the data, kept for a minute.
actor HeldValues {
    private var values: [String: [String]] = [:]
    private var readAt = ContinuousClock.now - .seconds(3600)

    func values(_ store: any SegmentStore) async throws -> [String: [String]] {
        if ContinuousClock.now - readAt > .seconds(60) {
            values = try await store.heldValues()
            readAt = ContinuousClock.now
        }
        return values
    }
}
