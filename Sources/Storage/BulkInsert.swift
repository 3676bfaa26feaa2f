import Foundation
import SQLKit

/// A plain database value for bulk writes: no Codable round trip per value.
public enum SQLValue: Sendable, Equatable {
    case integer(Int64)
    case real(Double)
    case text(String)
    case null

    public init(_ value: String?) { self = value.map { .text($0) } ?? .null }
    public init(_ value: Int64?) { self = value.map { .integer($0) } ?? .null }

    /// A value from a column list built for SQLKit binds (text, whole numbers, reals, or nil).
    public init(any value: any Encodable & Sendable) {
        switch value {
        case let v as String: self = .text(v)
        case let v as Int64: self = .integer(v)
        case let v as Int: self = .integer(Int64(v))
        case let v as Double: self = .real(v)
        case let v as String?: self = v.map { .text($0) } ?? .null
        case let v as Int64?: self = v.map { .integer($0) } ?? .null
        case let v as Double?: self = v.map { .real($0) } ?? .null
        case let v as Int?: self = v.map { .integer(Int64($0)) } ?? .null
        default: preconditionFailure("no SQL value for \(type(of: value))")
        }
    }

    public var integer: Int64? { if case .integer(let value) = self { value } else { nil } }
    public var text: String? { if case .text(let value) = self { value } else { nil } }
}

/// A capability of some connections: inserting many rows with bound values faster than SQLKit's
/// builders, for imports. Storage code asks for it (`db as? any BulkInserting`) and falls back to
/// SQLKit when a connection does not offer it.
public protocol BulkInserting: Sendable {
    /// Runs `INSERT INTO table (columns) VALUES (…), (…) suffix` and returns the rows that the
    /// suffix's `RETURNING` clause produced, each as values in `returning` order.
    func bulkInsert(into table: String, columns: [String], rows: ArraySlice<[SQLValue]>, suffix: String, returning: [String]) async throws
        -> [[SQLValue]]
    /// Streams plain rows into `table` (no conflict clause, nothing read back) the engine's
    /// fastest way: PostgreSQL's `COPY … FROM STDIN`. False when the connection has no such way.
    func copyRows(into table: String, columns: [String], rows: [[SQLValue]]) async throws -> Bool
}

extension BulkInserting {
    public func copyRows(into table: String, columns: [String], rows: [[SQLValue]]) async throws -> Bool { false }
}

/// `INSERT INTO "table" (columns) VALUES (?,…),(?,…) suffix` for `rows` rows, with SQLite's
/// anonymous placeholders: the statement both SQLite drivers send for ``BulkInserting/bulkInsert(into:columns:rows:suffix:returning:)``.
public func multiRowInsertSQL(into table: String, columns: [String], rows: Int, suffix: String) -> String {
    let placeholders = "(" + Array(repeating: "?", count: columns.count).joined(separator: ",") + ")"
    var sql = "INSERT INTO \"\(table)\" (\(columns.joined(separator: ", "))) VALUES "
    sql.reserveCapacity(sql.utf8.count + rows * (placeholders.utf8.count + 1) + suffix.utf8.count + 1)
    for row in 0..<rows {
        if row > 0 { sql += "," }
        sql += placeholders
    }
    return sql + " " + suffix
}

/// From this many rows, a plain insert goes through ``BulkInserting/copyRows(into:columns:rows:)``
/// where the connection offers it: below, one `INSERT` is as quick and simpler.
let copyThreshold = 2_000

extension SQLValue: Encodable {
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .integer(let value): try container.encode(value)
        case .real(let value): try container.encode(value)
        case .text(let value): try container.encode(value)
        case .null: try container.encodeNil()
        }
    }
}

/// Inserts rows in statements of at most `rowsPerStatement`, through the connection's fast path
/// when it has one. `returning` names columns of kinds `integer` or `text` to read back.
func insertRows(
    _ db: any SQLDatabase, into table: String, columns: [String], rows: [[SQLValue]], suffix: String = "",
    returning: [(name: String, isInteger: Bool)] = []
) async throws -> [[SQLValue]] {
    if suffix.isEmpty, returning.isEmpty, rows.count >= copyThreshold, let bulk = db as? any BulkInserting,
        try await bulk.copyRows(into: table, columns: columns, rows: rows)
    {
        return []
    }
    let rowsPerStatement = max(1, 30_000 / max(columns.count, 1))
    let returningClause = returning.isEmpty ? "" : " RETURNING " + returning.map(\.name).joined(separator: ", ")
    var result: [[SQLValue]] = []
    for start in stride(from: 0, to: rows.count, by: rowsPerStatement) {
        let chunk = rows[start..<min(start + rowsPerStatement, rows.count)]
        if let bulk = db as? any BulkInserting {
            result += try await bulk.bulkInsert(
                into: table, columns: columns, rows: chunk, suffix: suffix + returningClause, returning: returning.map(\.name))
            continue
        }
        let sql: SQLQueryString =
            "INSERT INTO \(ident: table) (\(unsafeRaw: columns.joined(separator: ", "))) VALUES \(ValueRows(chunk)) \(unsafeRaw: suffix + returningClause)"
        if returning.isEmpty {
            try await db.raw(sql).run()
        } else {
            for row in try await db.raw(sql).all() {
                result.append(
                    try returning.map { column in
                        column.isInteger
                            ? SQLValue(try row.decode(column: column.name, as: Int64?.self))
                            : SQLValue(try row.decode(column: column.name, as: String?.self))
                    })
            }
        }
    }
    return result
}

/// Empties `table` and fills it again with `load`, with its secondary `indexes` (name, columns)
/// dropped meanwhile and built once afterwards: a million rows go in far faster that way. Runs
/// inside the caller's transaction, so readers see the old rows or the new, never none.
func reload<T: Sendable>(
    _ db: any SQLDatabase, table: String, indexes: [(name: String, columns: String)], _ load: () async throws -> T
) async throws -> T {
    for index in indexes { try await db.raw("DROP INDEX IF EXISTS \(unsafeRaw: index.name)").run() }
    try await db.raw("DELETE FROM \(unsafeRaw: table)").run()
    let result = try await load()
    for index in indexes { try await db.raw("CREATE INDEX \(unsafeRaw: index.name) ON \(unsafeRaw: table) (\(unsafeRaw: index.columns))").run() }
    return result
}
