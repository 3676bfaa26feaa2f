import Logging
import NIOCore
import SQLiteKit
import Storage

/// The writer connection as SQLKit sees it, plus ``BulkInserting``: rows go to SQLite as
/// `SQLiteData` directly, skipping SQLKit's per-value encoding.
struct SQLiteWriter: SQLDatabase, BulkInserting {
    let connection: SQLiteConnection
    let base: any SQLDatabase

    init(connection: SQLiteConnection) {
        self.connection = connection
        self.base = connection.sql()
    }

    var logger: Logger { base.logger }
    var eventLoop: any EventLoop { base.eventLoop }
    var version: (any SQLDatabaseReportedVersion)? { base.version }
    var dialect: any SQLDialect { base.dialect }
    var queryLogLevel: Logger.Level? { base.queryLogLevel }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) -> EventLoopFuture<Void> {
        base.execute(sql: query, onRow)
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) async throws {
        try await base.execute(sql: query, onRow)
    }

    func withSession<R>(_ closure: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        try await closure(self)
    }

    func bulkInsert(into table: String, columns: [String], rows: ArraySlice<[SQLValue]>, suffix: String, returning: [String]) async throws
        -> [[SQLValue]]
    {
        guard !rows.isEmpty else { return [] }
        let placeholders = "(" + Array(repeating: "?", count: columns.count).joined(separator: ",") + ")"
        var sql = "INSERT INTO \"\(table)\" (\(columns.joined(separator: ", "))) VALUES "
        sql.reserveCapacity(sql.utf8.count + rows.count * (placeholders.utf8.count + 1) + suffix.utf8.count + 1)
        var binds: [SQLiteData] = []
        binds.reserveCapacity(rows.count * columns.count)
        var first = true
        for row in rows {
            if !first { sql += "," }
            first = false
            sql += placeholders
            for value in row {
                switch value {
                case .integer(let v): binds.append(.integer(Int(v)))
                case .real(let v): binds.append(.float(v))
                case .text(let v): binds.append(.text(v))
                case .null: binds.append(.null)
                }
            }
        }
        sql += " " + suffix
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
}
