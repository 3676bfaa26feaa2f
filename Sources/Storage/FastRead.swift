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
        // A bind of another type (a Bool, which PostgreSQL keeps apart from numbers) takes SQLKit's way.
        if let binds = SQLValue.binds(serializer.binds) {
            return try await raw.rawRows(sql: serializer.sql, binds: binds, columns: columns)
        }
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

extension SQLValue {
    /// Binds as plain values — whole numbers, reals, text, `SQLValue`s and optionals of them (nil
    /// is NULL) — or nil if one is of another type.
    static func binds(_ binds: [any Encodable]) -> [SQLValue]? {
        var values: [SQLValue] = []
        values.reserveCapacity(binds.count)
        for bind in binds {
            guard let value = plain(bind) else { return nil }
            values.append(value)
        }
        return values
    }

    /// A bind as a plain value when it is a whole number, a real, text, an `SQLValue` or an
    /// optional of one (nil is NULL); nil for another type. The value's type is compared once and
    /// the value read as it (20 ns a bind), where a cast per candidate type cost 200 ns and
    /// `Mirror` 500 ns for an optional — and a group's write binds thousands.
    public static func plain<T: Encodable>(_ value: T) -> SQLValue? {
        func read<U>(_: U.Type) -> U { unsafeBitCast(value, to: U.self) }
        switch ObjectIdentifier(T.self) {
        case ObjectIdentifier(SQLValue.self): return read(SQLValue.self)
        case ObjectIdentifier(Int64.self): return .integer(read(Int64.self))
        case ObjectIdentifier(String.self): return .text(read(String.self))
        case ObjectIdentifier(Int.self): return .integer(Int64(read(Int.self)))
        case ObjectIdentifier(Double.self): return .real(read(Double.self))
        case ObjectIdentifier(SQLValue?.self): return read(SQLValue?.self) ?? .null
        case ObjectIdentifier(Int64?.self): return read(Int64?.self).map { .integer($0) } ?? .null
        case ObjectIdentifier(String?.self): return read(String?.self).map { .text($0) } ?? .null
        case ObjectIdentifier(Int?.self): return read(Int?.self).map { .integer(Int64($0)) } ?? .null
        case ObjectIdentifier(Double?.self): return read(Double?.self).map { .real($0) } ?? .null
        default: return nil
        }
    }
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
