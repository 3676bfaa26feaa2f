import Foundation
import SharedModels

/// A value while a rule runs. `null` stands for a missing value and behaves as in SQL: a
/// comparison with it is unknown, and a rule selects only when it is definitely true. The same
/// rule therefore selects the same customers in memory and in SQL.
public enum Value: Sendable, Hashable {
    case number(Double)
    case string(String)
    case bool(Bool)
    case date(Date)
    /// Seconds.
    case duration(Double)
    case geo(latitude: Double, longitude: Double)
    case list([Value])
    case null
}

/// What a rule reads while it runs for one customer, member or purchase.
public protocol EvaluationContext {
    /// The current instant; `today` is its UTC midnight.
    var now: Date { get }
    /// A field's value, `.null` when absent.
    func value(of path: [String]) -> Value
    /// The elements of a history (each with a `date`), for aggregates.
    func elements(of collection: String) -> [[String: Value]]
    /// The location of a store by code, `.null` when unknown.
    func store(_ code: String) -> Value
    /// Whether the subject belongs to a named segment.
    func isInSegment(_ name: String) -> Bool
}

extension EvaluationContext {
    public func elements(of collection: String) -> [[String: Value]] { [] }
    public func store(_ code: String) -> Value { .null }
    public func isInSegment(_ name: String) -> Bool { false }
}

/// A simple context over dictionaries, for tests, simulations and single transactions.
public struct DictionaryContext: EvaluationContext, Sendable {
    public var now: Date
    public var fields: [String: Value]
    public var collections: [String: [[String: Value]]]
    public var stores: [String: Value]
    public var segments: Set<String>

    public init(
        now: Date, fields: [String: Value], collections: [String: [[String: Value]]] = [:], stores: [String: Value] = [:], segments: Set<String> = []
    ) {
        self.now = now
        self.fields = fields
        self.collections = collections
        self.stores = stores
        self.segments = segments
    }

    public func value(of path: [String]) -> Value { fields[path.joined(separator: ".")] ?? .null }
    public func elements(of collection: String) -> [[String: Value]] { collections[collection] ?? [] }
    public func store(_ code: String) -> Value { stores[code] ?? .null }
    public func isInSegment(_ name: String) -> Bool { segments.contains(name) }
}

/// Runs a type-checked rule in memory.
public enum Evaluator {
    /// Whether the rule is definitely true for this context (unknown counts as no).
    public static func matches(_ e: RuleExpression, in context: some EvaluationContext) -> Bool {
        evaluate(e, in: context, element: nil) == .bool(true)
    }

    public static func evaluate(_ e: RuleExpression, in context: some EvaluationContext, element: [String: Value]? = nil) -> Value {
        switch e.kind {
        case .number(let v): return .number(v)
        case .string(let v): return .string(v)
        case .bool(let v): return .bool(v)
        case .duration(let v): return .duration(v)
        case .now: return .date(context.now)
        case .today: return .date(Date(timeIntervalSince1970: (context.now.timeIntervalSince1970 / 86_400).rounded(.down) * 86_400))
        case .field(let path):
            if let element, path.count == 1, let value = element[path[0]] { return value }
            return context.value(of: path)
        case .list(let items): return .list(items.map { evaluate($0, in: context, element: element) })
        case .not(let inner):
            guard case .bool(let v) = evaluate(inner, in: context, element: element) else { return .null }
            return .bool(!v)
        case .negate(let inner):
            switch evaluate(inner, in: context, element: element) {
            case .number(let v): return .number(-v)
            case .duration(let v): return .duration(-v)
            default: return .null
            }
        case .binary(let op, let left, let right):
            let l = evaluate(left, in: context, element: element)
            if op == .and, l == .bool(false) { return .bool(false) }
            if op == .or, l == .bool(true) { return .bool(true) }
            return apply(op, l, evaluate(right, in: context, element: element))
        case .membership(let value, let list, let negated):
            let v = evaluate(value, in: context, element: element)
            guard v != .null, case .list(let items) = evaluate(list, in: context, element: element) else { return .null }
            let found = items.contains(v)
            if !found && items.contains(.null) { return .null }
            return .bool(found != negated)
        case .call(let name, let arguments):
            let values = arguments.map { evaluate($0, in: context, element: element) }
            return call(name, values, context)
        case .aggregate(let a):
            return aggregate(a, in: context)
        }
    }

    static func apply(_ op: BinaryOperator, _ l: Value, _ r: Value) -> Value {
        switch op {
        case .and:
            if r == .bool(false) { return .bool(false) }
            if case .bool(true) = l, case .bool(true) = r { return .bool(true) }
            return .null
        case .or:
            if r == .bool(true) { return .bool(true) }
            if case .bool(false) = l, case .bool(false) = r { return .bool(false) }
            return .null
        default: break
        }
        if l == .null || r == .null { return .null }
        switch (op, l, r) {
        case (.equal, _, _): return .bool(l == r)
        case (.notEqual, _, _): return .bool(l != r)
        case (.plus, .number(let a), .number(let b)): return .number(a + b)
        case (.minus, .number(let a), .number(let b)): return .number(a - b)
        case (.times, .number(let a), .number(let b)): return .number(a * b)
        case (.divided, .number(let a), .number(let b)): return b == 0 ? .null : .number(a / b)
        case (.plus, .date(let a), .duration(let b)): return .date(a.addingTimeInterval(b))
        case (.minus, .date(let a), .duration(let b)): return .date(a.addingTimeInterval(-b))
        case (.minus, .date(let a), .date(let b)): return .duration(a.timeIntervalSince(b))
        case (.plus, .duration(let a), .duration(let b)): return .duration(a + b)
        case (.minus, .duration(let a), .duration(let b)): return .duration(a - b)
        default: break
        }
        guard let order = compare(l, r) else { return .null }
        switch op {
        case .less: return .bool(order < 0)
        case .lessOrEqual: return .bool(order <= 0)
        case .greater: return .bool(order > 0)
        case .greaterOrEqual: return .bool(order >= 0)
        default: return .null
        }
    }

    static func compare(_ l: Value, _ r: Value) -> Int? {
        switch (l, r) {
        case (.number(let a), .number(let b)), (.duration(let a), .duration(let b)): a < b ? -1 : a > b ? 1 : 0
        case (.date(let a), .date(let b)): a < b ? -1 : a > b ? 1 : 0
        case (.string(let a), .string(let b)): a < b ? -1 : a > b ? 1 : 0
        default: nil
        }
    }

    static func call(_ name: String, _ values: [Value], _ context: some EvaluationContext) -> Value {
        switch (name, values.first) {
        case ("store", .string(let code)?): return context.store(code)
        case ("in_segment", .string(let segment)?): return .bool(context.isInSegment(segment))
        case ("date", .string(let text)?): return LocalDate(text).map { .date($0.startOfDay) } ?? .null
        case ("days", .duration(let seconds)?): return .number(seconds / 86_400)
        case ("lower", .string(let text)?): return .string(text.lowercased())
        case ("abs", .number(let v)?): return .number(abs(v))
        case ("distance_km", .geo(let lat1, let lon1)?):
            guard values.count == 2, case .geo(let lat2, let lon2) = values[1] else { return .null }
            return .number(haversineKilometres(lat1, lon1, lat2, lon2))
        default: return .null
        }
    }

    /// Great-circle distance on a sphere of radius 6,371 km.
    public static func haversineKilometres(_ lat1: Double, _ lon1: Double, _ lat2: Double, _ lon2: Double) -> Double {
        let rad = Double.pi / 180
        let dLat = (lat2 - lat1) * rad, dLon = (lon2 - lon1) * rad
        let a = sin(dLat / 2) * sin(dLat / 2) + cos(lat1 * rad) * cos(lat2 * rad) * sin(dLon / 2) * sin(dLon / 2)
        return 6371 * 2 * atan2(sqrt(a), sqrt(1 - a))
    }

    static func aggregate(_ a: Aggregate, in context: some EvaluationContext) -> Value {
        var cutoff: Date?
        if let within = a.within, case .duration(let seconds) = evaluate(within, in: context) { cutoff = context.now.addingTimeInterval(-seconds) }
        let selected = context.elements(of: a.collection).filter { element in
            if let cutoff {
                guard case .date(let date) = element[Schema.dateField] ?? .null, date >= cutoff, date <= context.now else { return false }
            }
            guard let filter = a.filter else { return true }
            return evaluate(filter, in: context, element: element) == .bool(true)
        }
        switch a.function {
        case .count: return .number(Double(selected.count))
        case .sum, .avg, .min, .max:
            let values = selected.compactMap { $0[a.field ?? ""] }.filter { $0 != .null }
            if a.function == .sum { return .number(values.reduce(0) { if case .number(let v) = $1 { $0 + v } else { $0 } }) }
            guard !values.isEmpty else { return .null }
            if a.function == .avg {
                let numbers = values.compactMap { if case .number(let v) = $0 { v } else { nil } }
                return .number(numbers.reduce(0, +) / Double(numbers.count))
            }
            return values.min { (compare($0, $1) ?? 0) < 0 }.map { a.function == .min ? $0 : values.max { (compare($0, $1) ?? 0) < 0 }! } ?? .null
        }
    }
}
