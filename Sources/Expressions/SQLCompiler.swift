import Foundation
import SharedModels

/// Where a rule's fields and histories live in SQL, for ``SQLCompiler``. Dates and durations are
/// numbers of seconds in SQL (Patron stores instants as epoch seconds), so the same arithmetic
/// and comparisons hold on both engines.
public struct SQLSchema: Sendable {
    public enum Dialect: Sendable { case sqlite, postgres }

    /// A field as SQL: one expression, or two for a location.
    public enum Column: Sendable {
        /// An expression of the field's type: numbers, text, epoch seconds for dates, a boolean
        /// condition (or 0/1 on SQLite) for true/false.
        case expression(String)
        case location(latitude: String, longitude: String)
    }

    /// A history: rows of `table` (aliased `alias`) that belong to the subject when `join`
    /// holds; `date` is their epoch-seconds instant; `fields` map element names to columns.
    public struct Collection: Sendable {
        public var table: String
        public var alias: String
        public var join: String
        public var date: String
        public var fields: [String: Column]

        public init(table: String, alias: String, join: String, date: String, fields: [String: Column]) {
            self.table = table
            self.alias = alias
            self.join = join
            self.date = date
            self.fields = fields
        }
    }

    public var dialect: Dialect
    public var fields: [String: Column]
    public var collections: [String: Collection]

    public init(dialect: Dialect, fields: [String: Column], collections: [String: Collection] = [:]) {
        self.dialect = dialect
        self.fields = fields
        self.collections = collections
    }
}

/// A value bound to a placeholder of the compiled SQL.
public enum SQLParameter: Sendable, Hashable {
    case number(Double)
    case text(String)
}

/// A condition in SQL and the values it binds: each parameter stands where `sql` holds
/// ``CompiledCondition/marker``, so a caller can bind them its own way (SQLKit's `bind`, or
/// ``text(placeholder:)`` for plain placeholders).
public struct CompiledCondition: Sendable {
    public static let marker: Character = "\u{1}"
    public var sql: String
    public var parameters: [SQLParameter]

    /// The SQL split at the parameters: `pieces.count == parameters.count + 1`.
    public var pieces: [Substring] { sql.split(separator: Self.marker, omittingEmptySubsequences: false) }

    /// The SQL with a placeholder for each parameter (`?`, or `$n` from a 1-based index).
    public func text(placeholder: (Int) -> String) -> String {
        var out = ""
        for (i, piece) in pieces.enumerated() {
            if i > 0 { out += placeholder(i) }
            out += piece
        }
        return out
    }
}

/// Compiles a type-checked rule to a SQL condition that selects exactly the subjects the
/// in-memory ``Evaluator`` selects: three-valued logic is SQL's own (a comparison with NULL is
/// unknown, WHERE keeps only true), division by zero is NULL, `x in []` is false, aggregates
/// are correlated subqueries over the histories, `in_segment` inlines the other segment's rule.
/// Store locations and other segments are resolved when compiling.
public struct SQLCompiler {
    public let schema: SQLSchema
    /// The rule language's types of the same fields (to collate text comparisons).
    public let types: Schema
    public let now: Date
    /// The location of a store by code (nil: unknown, compiled as NULL).
    public var store: (String) -> (latitude: Double, longitude: Double)? = { _ in nil }
    /// The rule of a named segment (nil: unknown, compiled as false).
    public var segment: (String) -> RuleExpression? = { _ in nil }

    public init(schema: SQLSchema, types: Schema, now: Date) {
        self.schema = schema
        self.types = types
        self.now = now
    }

    public func compile(_ rule: RuleExpression) throws -> CompiledCondition {
        var state = State()
        let sql = try condition(rule, &state, element: nil, segments: [])
        return CompiledCondition(sql: sql, parameters: state.parameters)
    }

    /// How many `in_segment` references one rule may inline in all, counting each time a
    /// referenced rule is written out: segments referring to each other twice per level would
    /// otherwise grow exponentially (21 levels took 22 s to count).
    public static let maximumInlinedSegments = 64

    struct State {
        var parameters: [SQLParameter] = []
        var inlinedSegments = 0
    }

    /// A compiled sub-expression: one SQL expression, or a pair for a location.
    enum Piece {
        case value(String)
        case location(String, String)

        var sql: String {
            switch self {
            case .value(let s): s
            case .location(let a, let b): "\(a), \(b)"
            }
        }
    }

    func bind(_ p: SQLParameter, _ state: inout State) -> String {
        state.parameters.append(p)
        let marker = String(CompiledCondition.marker)
        // Typed on PostgreSQL, so it knows what the placeholder holds wherever it appears.
        switch (schema.dialect, p) {
        case (.postgres, .number): return "CAST(\(marker) AS DOUBLE PRECISION)"
        case (.postgres, .text): return "CAST(\(marker) AS TEXT)"
        default: return marker
        }
    }

    var trueSQL: String { "(1 = 1)" }
    var falseSQL: String { "(1 = 0)" }

    func condition(_ e: RuleExpression, _ s: inout State, element: String?, segments: Set<String>) throws -> String {
        try value(e, &s, element: element, segments: segments).sql
    }

    /// `element` names the history whose element a `where` is testing, if any.
    func value(_ e: RuleExpression, _ s: inout State, element: String?, segments: Set<String>) throws -> Piece {
        func sub(_ e: RuleExpression) throws -> String { try value(e, &s, element: element, segments: segments).sql }
        switch e.kind {
        case .number(let v): return .value(bind(.number(v), &s))
        case .string(let v): return .value(bind(.text(v), &s))
        case .bool(let v): return .value(v ? trueSQL : falseSQL)
        case .duration(let v): return .value(bind(.number(v), &s))
        case .now: return .value(bind(.number(now.timeIntervalSince1970), &s))
        case .today: return .value(bind(.number((now.timeIntervalSince1970 / 86_400).rounded(.down) * 86_400), &s))
        case .field(let path):
            let name = path.joined(separator: ".")
            if let element, path.count == 1, let column = schema.collections[element]?.fields[name] { return piece(column) }
            guard let column = schema.fields[name] else { throw ExpressionError("no SQL column for the field '\(name)'", at: e.position) }
            return piece(column)
        case .list(let items):
            return .value(try items.map(sub).joined(separator: ", "))
        case .not(let inner): return .value("(NOT \(try sub(inner)))")
        case .negate(let inner): return .value("(-\(try sub(inner)))")
        case .binary(.and, _, _):
            // A chain of conditions joined by `and` may run in any order (three-valued AND is
            // commutative): the cheap ones go first, so SQLite stops early and subqueries run
            // only for rows that are still in.
            let conjuncts = Self.conjuncts(e).enumerated().sorted { (Self.cost($0.element), $0.offset) < (Self.cost($1.element), $1.offset) }
            return .value("(" + (try conjuncts.map { try sub($0.element) }).joined(separator: " AND ") + ")")
        case .binary(let op, let left, let right):
            let l = try sub(left)
            let r = try sub(right)
            switch op {
            case .and: return .value("(\(l) AND \(r))")
            case .or: return .value("(\(l) OR \(r))")
            case .plus, .minus, .times: return .value("(\(l) \(op.rawValue) \(r))")
            case .divided: return .value("(CAST(\(l) AS DOUBLE PRECISION) / NULLIF(\(r), 0))")
            case .equal: return .value("(\(l) = \(r))")
            case .notEqual: return .value("(\(l) <> \(r))")
            case .less, .lessOrEqual, .greater, .greaterOrEqual:
                // Text orders by code point on both engines, as Swift compares.
                let collate = schema.dialect == .postgres && isText(left, element) ? " COLLATE \"C\"" : ""
                return .value("(\(l)\(collate) \(op.rawValue) \(r)\(collate))")
            }
        case .membership(let item, let list, let negated):
            let v = try sub(item)
            guard case .list(let items) = list.kind, !items.isEmpty else {
                // Nothing is in an empty list; a missing value stays unknown.
                return .value("(CASE WHEN \(v) IS NULL THEN NULL ELSE \(negated ? trueSQL : falseSQL) END)")
            }
            return .value("(\(v) \(negated ? "NOT IN" : "IN") (\(try sub(list))))")
        case .call(let name, let arguments):
            switch name {
            case "store":
                guard case .string(let code) = arguments[0].kind else {
                    throw ExpressionError("store() needs a store code written as text", at: e.position)
                }
                guard let location = store(code) else { return .location("NULL", "NULL") }
                return .location(bind(.number(location.latitude), &s), bind(.number(location.longitude), &s))
            case "distance_km":
                let a = try value(arguments[0], &s, element: element, segments: segments)
                let b = try value(arguments[1], &s, element: element, segments: segments)
                return .value("patron_distance_km(\(a.sql), \(b.sql))")
            case "in_segment":
                guard case .string(let other) = arguments[0].kind else {
                    throw ExpressionError("in_segment() needs a segment name written as text", at: e.position)
                }
                guard !segments.contains(other) else {
                    throw ExpressionError("segment '\(other)' refers to itself through in_segment", at: e.position)
                }
                guard let rule = segment(other) else { return .value(falseSQL) }
                s.inlinedSegments += 1
                guard s.inlinedSegments <= Self.maximumInlinedSegments else {
                    throw ExpressionError(
                        "in_segment references expand to more than \(Self.maximumInlinedSegments) segments; refer to fewer segments, or to each once",
                        at: e.position)
                }
                let inner = try condition(rule, &s, element: nil, segments: segments.union([other]))
                return .value("(CASE WHEN \(inner) THEN \(trueSQL) ELSE \(falseSQL) END)")
            case "date":
                guard case .string(let text) = arguments[0].kind, let date = LocalDate(text) else { return .value("NULL") }
                return .value(bind(.number(date.startOfDay.timeIntervalSince1970), &s))
            case "days": return .value("(CAST(\(try sub(arguments[0])) AS DOUBLE PRECISION) / 86400)")
            case "lower": return .value("LOWER(\(try sub(arguments[0])))")
            case "abs": return .value("ABS(\(try sub(arguments[0])))")
            default: throw ExpressionError("no SQL for the function '\(name)'", at: e.position)
            }
        case .aggregate(let a):
            guard let collection = schema.collections[a.collection] else {
                throw ExpressionError("no SQL table for the history '\(a.collection)'", at: e.position)
            }
            var conditions = [collection.join]
            if let within = a.within {
                // Parameters are bound in the order they appear in the text.
                let instant = bind(.number(now.timeIntervalSince1970), &s)
                let seconds = try sub(within)
                conditions.append("\(collection.date) >= \(instant) - \(seconds)")
                conditions.append("\(collection.date) <= \(bind(.number(now.timeIntervalSince1970), &s))")
            }
            if let filter = a.filter { conditions.append(try condition(filter, &s, element: a.collection, segments: segments)) }
            let from = "FROM \(collection.table) \(collection.alias) WHERE " + conditions.joined(separator: " AND ")
            switch a.function {
            case .count: return .value("(SELECT COUNT(*) \(from))")
            case .sum, .avg, .min, .max:
                guard let field = a.field, case .expression(let column)? = collection.fields[field] else {
                    throw ExpressionError("no SQL column for \(a.collection).\(a.field ?? "")", at: e.position)
                }
                if a.function == .sum { return .value("(SELECT COALESCE(SUM(\(column)), 0) \(from))") }
                let function = a.function.rawValue.uppercased()
                let argument = a.function == .avg ? "CAST(\(column) AS DOUBLE PRECISION)" : column
                return .value("(SELECT \(function)(\(argument)) \(from))")
            }
        }
    }

    /// The conditions of an `and` chain, left to right.
    static func conjuncts(_ e: RuleExpression) -> [RuleExpression] {
        if case .binary(.and, let l, let r) = e.kind { return conjuncts(l) + conjuncts(r) }
        return [e]
    }

    /// How costly a condition is to test per row: plain comparisons and lists first, then
    /// functions and other segments, then anything that reads a history.
    static func cost(_ e: RuleExpression) -> Int {
        switch e.kind {
        case .aggregate: return 3
        case .call(let name, let arguments): return max(name == "in_segment" ? 2 : 1, arguments.map(cost).max() ?? 0)
        case .not(let inner), .negate(let inner): return cost(inner)
        case .binary(_, let l, let r), .membership(let l, let r, _): return max(cost(l), cost(r))
        case .list(let items): return items.map(cost).max() ?? 0
        default: return 0
        }
    }

    func piece(_ column: SQLSchema.Column) -> Piece {
        switch column {
        case .expression(let sql): .value(sql)
        case .location(let latitude, let longitude): .location(latitude, longitude)
        }
    }

    /// Whether an expression is text (for collation).
    func isText(_ e: RuleExpression, _ element: String?) -> Bool {
        (try? TypeChecker(schema: types).check(e, element: element.flatMap { types.collections[$0] })) == .string
    }
}

extension SQLCompiler {
    /// Great-circle distance in SQL for PostgreSQL (SQLite gets a registered function of the same
    /// name computing ``Evaluator/haversineKilometres(_:_:_:_:)``), operation for operation as in Swift.
    public static let postgresDistanceFunction = """
        CREATE OR REPLACE FUNCTION patron_distance_km(lat1 DOUBLE PRECISION, lon1 DOUBLE PRECISION, lat2 DOUBLE PRECISION, lon2 DOUBLE PRECISION)
        RETURNS DOUBLE PRECISION LANGUAGE SQL IMMUTABLE STRICT AS $$
          SELECT 6371 * 2 * atan2(sqrt(a), sqrt(1 - a)) FROM (
            SELECT sin((lat2 - lat1) * (pi() / 180) / 2) * sin((lat2 - lat1) * (pi() / 180) / 2)
              + cos(lat1 * (pi() / 180)) * cos(lat2 * (pi() / 180)) * sin((lon2 - lon1) * (pi() / 180) / 2) * sin((lon2 - lon1) * (pi() / 180) / 2) AS a
          ) AS h
        $$
        """
}
