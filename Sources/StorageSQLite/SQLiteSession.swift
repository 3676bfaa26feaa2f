import Logging
import NIOConcurrencyHelpers
import NIOCore
import SQLiteKit
import Storage

/// An SQLite connection (the writer, or a reader) as SQLKit sees it, plus the fast paths:
/// ``BulkInserting`` sends rows as `SQLiteData` directly, and ``RawReading`` hands rows back as
/// plain values, both skipping SQLKit's per-value Codable work.
struct SQLiteSession: SQLSessionForwarding, BulkInserting, RawReading {
    let connection: SQLiteConnection
    let base: any SQLDatabase

    init(connection: SQLiteConnection) {
        self.connection = connection
        self.base = connection.sql()
    }

    func bulkInsert(into table: String, columns: [String], rows: ArraySlice<[SQLValue]>, suffix: String, returning: [String]) async throws
        -> [[SQLValue]]
    {
        guard !rows.isEmpty else { return [] }
        let sql = multiRowInsertSQL(into: table, columns: columns, rows: rows.count, suffix: suffix)
        var binds: [SQLiteData] = []
        binds.reserveCapacity(rows.count * columns.count)
        for row in rows {
            for value in row {
                switch value {
                case .integer(let v): binds.append(.integer(Int(v)))
                case .real(let v): binds.append(.float(v))
                case .text(let v): binds.append(.text(v))
                case .null: binds.append(.null)
                }
            }
        }
        let output = try await connection.query(sql, binds)
        return output.map { row in
            returning.map { name in
                switch row.column(name) {
                case .integer(let v): .integer(Int64(v))
                case .float(let v): .real(v)
                case .text(let v): .text(v)
                default: .null
                }
            }
        }
    }

    func rawRows(sql: String, binds: [SQLValue], columns: [String]) async throws -> [[SQLValue]] {
        try await SQLiteSession.rawRows(connection, sql: sql, binds: binds, columns: columns)
    }

    static func rawRows(_ connection: SQLiteConnection, sql: String, binds: [SQLValue], columns: [String]) async throws -> [[SQLValue]] {
        let data: [SQLiteData] = binds.map {
            switch $0 {
            case .integer(let v): .integer(Int(v))
            case .real(let v): .float(v)
            case .text(let v): .text(v)
            case .null: .null
            }
        }
        let rows = NIOLockedValueBox<[[SQLValue]]>([])
        try await connection.query(sql, data) { row in
            let values: [SQLValue] = columns.map { name in
                switch row.column(name) {
                case .integer(let v): .integer(Int64(v))
                case .float(let v): .real(v)
                case .text(let v): .text(v)
                default: .null
                }
            }
            rows.withLockedValue { $0.append(values) }
        }
        return rows.withLockedValue { $0 }
    }
}
