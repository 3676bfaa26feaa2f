import Foundation
import SharedModels

/// The type of a value in the rule language.
public indirect enum ValueType: Sendable, Hashable, CustomStringConvertible {
    case number, string, bool, date, duration, geo
    case list(ValueType)
    /// The empty list `[]`, which fits any list.
    case emptyList

    public var description: String {
        switch self {
        case .number: "number"
        case .string: "text"
        case .bool: "true/false"
        case .date: "date"
        case .duration: "duration"
        case .geo: "location"
        case .list(let element): "list of \(element)"
        case .emptyList: "empty list"
        }
    }
}

/// What a rule may refer to: fields with their types, and histories (collections) with the
/// fields of their elements. Each room publishes its schema (Customers: profile fields; Loyalty:
/// `member.tier`, `purchase.*`; Analytics: `rfm.*`, `clv.*`, `churn.*`).
public struct Schema: Sendable {
    public var fields: [String: ValueType]
    public var collections: [String: [String: ValueType]]
    /// Every history element has a date, used by `within`.
    public static let dateField = "date"

    public init(fields: [String: ValueType], collections: [String: [String: ValueType]] = [:]) {
        self.fields = fields
        self.collections = collections
    }
}

/// The functions a rule may call, with their argument and result types.
public enum Functions {
    static let signatures: [String: (arguments: [ValueType], result: ValueType)] = [
        "distance_km": ([.geo, .geo], .number),
        "store": ([.string], .geo),
        "in_segment": ([.string], .bool),
        "date": ([.string], .date),
        "days": ([.duration], .number),
        "lower": ([.string], .string),
        "abs": ([.number], .number),
    ]
}

/// Checks that a rule makes sense against a schema before it runs: every field exists, every
/// operator gets the types it needs, and the whole rule is a condition (true/false).
public struct TypeChecker {
    public let schema: Schema

    public init(schema: Schema) { self.schema = schema }

    /// Checks a condition; throws ``ExpressionError`` at the first place that does not fit.
    public func checkCondition(_ e: RuleExpression) throws {
        let type = try check(e, element: nil)
        guard type == .bool else { throw ExpressionError("a rule must be a condition (true/false), but this is a \(type)", at: e.position) }
    }

    /// The type of `e`; `element` is the element schema inside an aggregate's `where`.
    public func check(_ e: RuleExpression, element: [String: ValueType]? = nil) throws -> ValueType {
        switch e.kind {
        case .number: return .number
        case .string: return .string
        case .bool: return .bool
        case .duration: return .duration
        case .today, .now: return .date
        case .field(let path):
            let name = path.joined(separator: ".")
            if let element, path.count == 1, let type = element[name] { return type }
            if let type = schema.fields[name] { return type }
            let known = (element.map { Array($0.keys) } ?? []) + Array(schema.fields.keys)
            let hint = known.filter { $0.hasPrefix(String(name.prefix(3))) }.sorted().prefix(5)
            throw ExpressionError("unknown field '\(name)'" + (hint.isEmpty ? "" : "; did you mean \(hint.joined(separator: ", "))?"), at: e.position)
        case .list(let items):
            guard let first = items.first else { return .emptyList }
            let type = try check(first, element: element)
            for item in items.dropFirst() {
                let other = try check(item, element: element)
                guard other == type else {
                    throw ExpressionError("a list holds one type: this is a \(other), the first item is a \(type)", at: item.position)
                }
            }
            return .list(type)
        case .not(let inner):
            try expect(inner, .bool, element, "not needs a condition")
            return .bool
        case .negate(let inner):
            let type = try check(inner, element: element)
            guard type == .number || type == .duration else { throw ExpressionError("only numbers and durations can be negated", at: e.position) }
            return type
        case .binary(let op, let left, let right):
            let l = try check(left, element: element), r = try check(right, element: element)
            switch op {
            case .and, .or:
                guard l == .bool else {
                    throw ExpressionError("\(op.rawValue) needs conditions on both sides; the left is a \(l)", at: left.position)
                }
                guard r == .bool else {
                    throw ExpressionError("\(op.rawValue) needs conditions on both sides; the right is a \(r)", at: right.position)
                }
                return .bool
            case .equal, .notEqual:
                guard l == r else { throw ExpressionError("cannot compare a \(l) with a \(r)", at: e.position) }
                return .bool
            case .less, .lessOrEqual, .greater, .greaterOrEqual:
                guard l == r, [.number, .date, .duration, .string].contains(l) else {
                    throw ExpressionError("\(op.rawValue) compares two numbers, dates, durations or texts, not a \(l) and a \(r)", at: e.position)
                }
                return .bool
            case .plus, .minus:
                switch (l, r) {
                case (.number, .number): return .number
                case (.date, .duration): return .date
                case (.duration, .duration): return .duration
                case (.date, .date) where op == .minus: return .duration
                default:
                    throw ExpressionError("cannot \(op == .plus ? "add" : "subtract") a \(r) \(op == .plus ? "to" : "from") a \(l)", at: e.position)
                }
            case .times, .divided:
                guard l == .number, r == .number else {
                    throw ExpressionError("\(op.rawValue) works on numbers, not a \(l) and a \(r)", at: e.position)
                }
                return .number
            }
        case .membership(let value, let list, _):
            let v = try check(value, element: element), l = try check(list, element: element)
            guard l == .emptyList || l == .list(v) else { throw ExpressionError("'in' needs a list of \(v), found a \(l)", at: list.position) }
            return .bool
        case .call(let name, let arguments):
            guard let signature = Functions.signatures[name] else {
                throw ExpressionError(
                    "unknown function '\(name)'; known: \(Functions.signatures.keys.sorted().joined(separator: ", "))", at: e.position)
            }
            guard arguments.count == signature.arguments.count else {
                throw ExpressionError("\(name) takes \(signature.arguments.count) argument(s), found \(arguments.count)", at: e.position)
            }
            for (argument, type) in zip(arguments, signature.arguments) { try expect(argument, type, element, "\(name) needs a \(type) here") }
            if name == "date", case .string(let text) = arguments[0].kind, LocalDate(text) == nil {
                throw ExpressionError("date(\"\(text)\") is not a date written YYYY-MM-DD", at: arguments[0].position)
            }
            return signature.result
        case .aggregate(let a):
            guard element == nil else { throw ExpressionError("aggregates cannot be nested", at: e.position) }
            guard let fields = schema.collections[a.collection] else {
                throw ExpressionError(
                    "unknown history '\(a.collection)'; known: \(schema.collections.keys.sorted().joined(separator: ", "))", at: e.position)
            }
            if let filter = a.filter { try expect(filter, .bool, fields, "where needs a condition") }
            if let within = a.within { try expect(within, .duration, nil, "within needs a duration such as 90d") }
            switch a.function {
            case .count:
                guard a.field == nil else { throw ExpressionError("count counts elements; drop .\(a.field!)", at: e.position) }
                return .number
            case .sum, .avg, .min, .max:
                guard let name = a.field else {
                    throw ExpressionError("\(a.function.rawValue) needs a field, e.g. \(a.collection).amount", at: e.position)
                }
                guard let type = fields[name] else { throw ExpressionError("\(a.collection) have no field '\(name)'", at: e.position) }
                guard type == .number || (type == .date && (a.function == .min || a.function == .max)) else {
                    throw ExpressionError("\(a.function.rawValue) needs a number field; \(name) is a \(type)", at: e.position)
                }
                return type
            }
        }
    }

    func expect(_ e: RuleExpression, _ type: ValueType, _ element: [String: ValueType]?, _ message: String) throws {
        let actual = try check(e, element: element)
        guard actual == type else { throw ExpressionError("\(message); found a \(actual)", at: e.position) }
    }
}
