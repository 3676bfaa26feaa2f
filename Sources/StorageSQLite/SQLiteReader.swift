import Logging
import NIOConcurrencyHelpers
import NIOCore
import SQLiteKit
import Storage

/// A reader connection as SQLKit sees it, plus ``RawReading``: rows come back as plain values
/// straight from `SQLiteData`, skipping SQLKit's Codable decoding.
struct SQLiteReader: SQLDatabase, RawReading {
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

    func rawRows(sql: String, binds: [SQLValue], columns: [String]) async throws -> [[SQLValue]] {
        try await SQLiteReader.rawRows(connection, sql: sql, binds: binds, columns: columns)
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
