import Foundation

/// Where a piece of an expression starts in its source: 1-based line and column.
public struct SourcePosition: Sendable, Hashable, CustomStringConvertible {
    public var line: Int
    public var column: Int

    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    public var description: String { "line \(line), column \(column)" }
}

/// A parsed rule: the typed tree that is evaluated in memory (per transaction) and compiled to
/// SQL (per segment). Positions are kept for error messages and ignored by equality.
public struct RuleExpression: Sendable, CustomStringConvertible {
    public indirect enum Kind: Sendable, Equatable {
        case number(Double)
        case string(String)
        case bool(Bool)
        /// A length of time, in seconds, written `90d`, `2w` or `12h`.
        case duration(Double)
        case today
        case now
        /// A dotted field: `member.tier`, `clv.next_12m`, or inside an aggregate's `where`, an element's field.
        case field([String])
        case list([RuleExpression])
        case not(RuleExpression)
        case negate(RuleExpression)
        case binary(BinaryOperator, RuleExpression, RuleExpression)
        /// `x in [..]`; `negated` for `x not in [..]`.
        case membership(RuleExpression, RuleExpression, negated: Bool)
        case call(String, [RuleExpression])
        case aggregate(Aggregate)
    }

    public var kind: Kind
    public var position: SourcePosition

    public init(_ kind: Kind, at position: SourcePosition = SourcePosition(line: 1, column: 1)) {
        self.kind = kind
        self.position = position
    }

    /// The expression written back in the rule language; parsing it gives an equal expression.
    public var description: String { Printer.print(self) }
}

extension RuleExpression: Equatable {
    public static func == (lhs: RuleExpression, rhs: RuleExpression) -> Bool { lhs.kind == rhs.kind }
}

public enum BinaryOperator: String, Sendable, CaseIterable {
    case or, and
    case equal = "==", notEqual = "!=", less = "<", lessOrEqual = "<=", greater = ">", greaterOrEqual = ">="
    case plus = "+", minus = "-", times = "*", divided = "/"

    /// Binding strength: higher binds tighter.
    var precedence: Int {
        switch self {
        case .or: 1
        case .and: 2
        case .equal, .notEqual, .less, .lessOrEqual, .greater, .greaterOrEqual: 4
        case .plus, .minus: 5
        case .times, .divided: 6
        }
    }
}

/// `count(purchases where category == "wine" within 365d)`, `sum(purchases.amount within 90d)`.
public struct Aggregate: Sendable, Equatable {
    public enum Function: String, Sendable, CaseIterable { case count, sum, avg, min, max }

    public var function: Function
    /// The history to aggregate: `purchases`, `interactions`.
    public var collection: String
    /// The element field summed or compared; nil for `count`.
    public var field: String?
    /// Which elements count; fields inside refer to the element.
    public var filter: RuleExpression?
    /// Only elements no older than this duration.
    public var within: RuleExpression?

    public init(function: Function, collection: String, field: String?, filter: RuleExpression?, within: RuleExpression?) {
        self.function = function
        self.collection = collection
        self.field = field
        self.filter = filter
        self.within = within
    }
}

/// Writes an expression back as text, parenthesising only where precedence needs it.
enum Printer {
    static func print(_ e: RuleExpression, parentPrecedence: Int = 0) -> String {
        switch e.kind {
        case .number(let value):
            return value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
        case .string(let value):
            return "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        case .bool(let value): return value ? "true" : "false"
        case .duration(let seconds):
            if seconds.truncatingRemainder(dividingBy: 86_400) == 0 { return "\(Int64(seconds / 86_400))d" }
            return "\(Int64(seconds / 3600))h"
        case .today: return "today"
        case .now: return "now"
        case .field(let path): return path.joined(separator: ".")
        case .list(let items): return "[" + items.map { print($0) }.joined(separator: ", ") + "]"
        case .not(let inner):
            let text = "not " + print(inner, parentPrecedence: 3)
            return parentPrecedence > 3 ? "(\(text))" : text
        case .negate(let inner): return "-" + print(inner, parentPrecedence: 7)
        case .binary(let op, let left, let right):
            let p = op.precedence
            let text = print(left, parentPrecedence: p) + " \(op.rawValue) " + print(right, parentPrecedence: p + 1)
            return parentPrecedence > p ? "(\(text))" : text
        case .membership(let value, let list, let negated):
            let text = print(value, parentPrecedence: 5) + (negated ? " not in " : " in ") + print(list, parentPrecedence: 5)
            return parentPrecedence > 4 ? "(\(text))" : text
        case .call(let name, let arguments): return name + "(" + arguments.map { print($0) }.joined(separator: ", ") + ")"
        case .aggregate(let a):
            var text = a.function.rawValue + "(" + a.collection + (a.field.map { "." + $0 } ?? "")
            if let filter = a.filter { text += " where " + print(filter) }
            if let within = a.within { text += " within " + print(within, parentPrecedence: 5) }
            return text + ")"
        }
    }
}
