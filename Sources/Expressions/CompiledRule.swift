import Foundation

/// A rule prepared once for evaluation many times over the same fields, as the loyalty engine
/// evaluates every running promotion on every purchase.
///
/// Field names are resolved to positions in a value array when the rule is compiled, calls on
/// constants (`date("2025-03-01")`, `lower("WINE")`) are worked out once, and the tree becomes
/// nested closures. The answers are ``Evaluator``'s over a ``DictionaryContext`` holding the same
/// fields and no histories, stores or segments: an aggregate sees no elements, `store(…)` is
/// unknown and `in_segment(…)` false. A property test holds the two to the same answers.
public struct CompiledRule: Sendable {
    typealias Run = @Sendable (_ fields: [Value], _ now: Date) -> Value

    /// The field names, in the order ``matches(_:now:)`` takes their values.
    public let fields: [String]
    private let run: Run

    public init(_ rule: RuleExpression, fields: [String]) {
        self.fields = fields
        let positions = Dictionary(fields.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        self.run = Self.compile(rule, positions)
    }

    /// The rule's value for these field values (in ``fields`` order; `.null` for a missing one) at `now`.
    public func evaluate(_ values: [Value], now: Date) -> Value { run(values, now) }

    /// Whether the rule is definitely true (unknown counts as no).
    public func matches(_ values: [Value], now: Date) -> Bool { run(values, now) == .bool(true) }

    /// A constant folded at compile time, or nil when the expression depends on fields or time.
    private static func constant(_ e: RuleExpression, _ positions: [String: Int]) -> Value? {
        switch e.kind {
        case .number(let v): return .number(v)
        case .string(let v): return .string(v)
        case .bool(let v): return .bool(v)
        case .duration(let v): return .duration(v)
        case .list(let items):
            var values: [Value] = []
            for item in items {
                guard let value = constant(item, positions) else { return nil }
                values.append(value)
            }
            return .list(values)
        case .call(let name, let arguments) where ["date", "days", "lower", "abs", "distance_km"].contains(name):
            var values: [Value] = []
            for argument in arguments {
                guard let value = constant(argument, positions) else { return nil }
                values.append(value)
            }
            return Evaluator.call(name, values, NoContext.shared)
        case .field(let path) where positions[path.joined(separator: ".")] == nil: return .null
        default: return nil
        }
    }

    private static func compile(_ e: RuleExpression, _ positions: [String: Int]) -> Run {
        if let value = constant(e, positions) { return { _, _ in value } }
        switch e.kind {
        case .number, .string, .bool, .duration: preconditionFailure("constants are folded above")
        case .now: return { _, now in .date(now) }
        case .today:
            return { _, now in .date(Date(timeIntervalSince1970: (now.timeIntervalSince1970 / 86_400).rounded(.down) * 86_400)) }
        case .field(let path):
            let index = positions[path.joined(separator: ".")]!
            return { fields, _ in index < fields.count ? fields[index] : .null }
        case .list(let items):
            let runs = items.map { compile($0, positions) }
            return { fields, now in .list(runs.map { $0(fields, now) }) }
        case .not(let inner):
            let run = compile(inner, positions)
            return { fields, now in
                guard case .bool(let v) = run(fields, now) else { return .null }
                return .bool(!v)
            }
        case .negate(let inner):
            let run = compile(inner, positions)
            return { fields, now in
                switch run(fields, now) {
                case .number(let v): .number(-v)
                case .duration(let v): .duration(-v)
                default: .null
                }
            }
        case .binary(let op, let left, let right):
            let l = compile(left, positions), r = compile(right, positions)
            switch op {
            case .and:
                return { fields, now in
                    let a = l(fields, now)
                    if a == .bool(false) { return .bool(false) }
                    return Evaluator.apply(.and, a, r(fields, now))
                }
            case .or:
                return { fields, now in
                    let a = l(fields, now)
                    if a == .bool(true) { return .bool(true) }
                    return Evaluator.apply(.or, a, r(fields, now))
                }
            default:
                if let value = constant(right, positions) { return { fields, now in Evaluator.apply(op, l(fields, now), value) } }
                return { fields, now in Evaluator.apply(op, l(fields, now), r(fields, now)) }
            }
        case .membership(let value, let list, let negated):
            let v = compile(value, positions)
            if case .list(let items)? = constant(list, positions) {
                let hasNull = items.contains(.null)
                return { fields, now in
                    let x = v(fields, now)
                    guard x != .null else { return .null }
                    let found = items.contains(x)
                    if !found && hasNull { return .null }
                    return .bool(found != negated)
                }
            }
            let l = compile(list, positions)
            return { fields, now in
                let x = v(fields, now)
                guard x != .null, case .list(let items) = l(fields, now) else { return .null }
                let found = items.contains(x)
                if !found && items.contains(.null) { return .null }
                return .bool(found != negated)
            }
        case .call(let name, let arguments):
            let runs = arguments.map { compile($0, positions) }
            return { fields, now in Evaluator.call(name, runs.map { $0(fields, now) }, NoContext(now: now)) }
        case .aggregate(let a):
            // No histories: nothing to count or sum, no smallest, largest or average.
            let value: Value = a.function == .count || a.function == .sum ? .number(0) : .null
            return { _, _ in value }
        }
    }
}

/// The context of a compiled rule's calls: no stores, no segments.
private struct NoContext: EvaluationContext {
    static let shared = NoContext(now: Date(timeIntervalSince1970: 0))
    var now: Date
    func value(of path: [String]) -> Value { .null }
}
