import SQLKit

/// `IN (…)` over a list of values, written as PostgreSQL and SQLite each read it best: on
/// PostgreSQL `= ANY($n)` with the list bound as one array, so a statement's text is the same
/// whatever the list's length and is prepared once per connection (a group of API purchases
/// reads with lists of every length, and planning each new text cost as much as running it);
/// elsewhere `IN (?, ?, …)`, one bind a value (SQLite plans a statement in microseconds).
/// An empty list matches nothing on both.
struct OneOf<Element: Encodable & Sendable>: SQLExpression {
    let values: [Element]

    func serialize(to serializer: inout SQLSerializer) {
        if serializer.dialect.name == "postgresql" {
            serializer.write("= ANY(")
            serializer.write(bind: values)
        } else {
            serializer.write("IN (")
            SQLList(values.map { SQLBind($0) }).serialize(to: &serializer)
        }
        serializer.write(")")
    }
}

extension SQLQueryString {
    /// `column \(oneOf: values)`: `IN (…)` on SQLite, `= ANY($n)` with one array bind on PostgreSQL (``OneOf``).
    mutating func appendInterpolation(oneOf values: [Int64]) {
        appendInterpolation(OneOf(values: values))
    }

    /// `column \(oneOf: values)`: `IN (…)` on SQLite, `= ANY($n)` with one array bind on PostgreSQL (``OneOf``).
    mutating func appendInterpolation(oneOf values: [String]) {
        appendInterpolation(OneOf(values: values))
    }
}
