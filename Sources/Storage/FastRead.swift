import Foundation
import SQLKit

/// A capability of some connections: reading many rows as plain values, without SQLKit's
/// Codable decoding of every field (about ten times faster on SQLite, which matters when the
/// scoring job reads a million customers). Storage code calls ``readRows(_:_:columns:)``, which
/// falls back to SQLKit when a connection does not offer it.
public protocol RawReading: Sendable {
    /// Runs `sql` (with the connection's own placeholders) and returns each row's `columns`.
    func rawRows(sql: String, binds: [SQLValue], columns: [String]) async throws -> [[SQLValue]]
}

/// Rows of `query` as plain values in `columns` order.
func readRows(_ db: any SQLDatabase, _ query: SQLQueryString, columns: [String]) async throws -> [[SQLValue]] {
    if let raw = db as? any RawReading {
        var serializer = SQLSerializer(database: db)
        query.serialize(to: &serializer)
        let binds = try serializer.binds.map { bind -> SQLValue in
            switch bind {
            case let v as Int64: .integer(v)
            case let v as Int: .integer(Int64(v))
            case let v as Double: .real(v)
            case let v as String: .text(v)
            default: throw FastReadError.unsupportedBind(String(describing: type(of: bind)))
            }
        }
        return try await raw.rawRows(sql: serializer.sql, binds: binds, columns: columns)
    }
    return try await db.raw(query).all().map { row in
        try columns.map { column in
            if try row.decodeNil(column: column) { return .null }
            if let v = try? row.decode(column: column, as: Int64.self) { return .integer(v) }
            if let v = try? row.decode(column: column, as: Double.self) { return .real(v) }
            return .text(try row.decode(column: column, as: String.self))
        }
    }
}

enum FastReadError: Error {
    case unsupportedBind(String)
}

extension SQLValue {
    /// Whole numbers; reals are truncated (SQLite may hand back a SUM as either).
    var int: Int64? {
        switch self {
        case .integer(let v): v
        case .real(let v): Int64(v)
        case .text(let v): Int64(v)
        case .null: nil
        }
    }
}
