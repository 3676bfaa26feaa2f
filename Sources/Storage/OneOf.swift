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

/// Rows as a table `v` for an `UPDATE … FROM` to join (`FROM \(rows) WHERE t.id = v.id`),
/// written as each engine joins best. On PostgreSQL `unnest(…) AS v(…)` with one array a column,
/// all the rows in one statement: a `VALUES` list of a thousand rows was hashed against a scan of
/// the whole target table, once for every thousand rows — a batch touching 100,000 of 100,000
/// ledger accounts scanned them a hundred times, 2.7 s a batch, more as the table grew. On SQLite
/// `(SELECT column1 AS …, … FROM (VALUES (?, ?), …)) AS v`, each row found by its rowid, in
/// chunks (each value is a bind). Values are whole numbers or text, never NULL.
struct ListedRows: SQLExpression {
    enum Column {
        case integer(String), text(String)
        var name: String {
            switch self {
            case .integer(let name), .text(let name): name
            }
        }
    }

    let columns: [Column]
    let rows: ArraySlice<[SQLValue]>

    /// The rows for one statement each: all of them where lists are bound as arrays, else chunks of `chunk`.
    static func statements(_ rows: [[SQLValue]], columns: [Column], arrays: Bool, chunk: Int = 1_000) -> [ListedRows] {
        lists(rows, arrays: arrays, of: chunk).map { ListedRows(columns: columns, rows: $0[...]) }
    }

    /// What the statement binds: one array a column on PostgreSQL, one value a cell elsewhere.
    func binds(arrays: Bool) -> Int { arrays ? columns.count : columns.count * rows.count }

    func serialize(to serializer: inout SQLSerializer) {
        if serializer.dialect.name == "postgresql" {
            serializer.write("unnest(")
            for (index, column) in columns.enumerated() {
                if index > 0 { serializer.write(", ") }
                serializer.write("CAST(")
                switch column {
                case .integer:
                    serializer.write(bind: rows.map { row -> Int64 in if case .integer(let v) = row[index] { v } else { 0 } })
                    serializer.write(" AS BIGINT[])")
                case .text:
                    serializer.write(bind: rows.map { row -> String in if case .text(let v) = row[index] { v } else { "" } })
                    serializer.write(" AS TEXT[])")
                }
            }
            serializer.write(") AS v(\(columns.map(\.name).joined(separator: ", ")))")
        } else {
            serializer.write("(SELECT ")
            serializer.write(columns.enumerated().map { "column\($0.offset + 1) AS \($0.element.name)" }.joined(separator: ", "))
            serializer.write(" FROM (VALUES ")
            ValueRows(rows).serialize(to: &serializer)
            serializer.write(")) AS v")
        }
    }
}
