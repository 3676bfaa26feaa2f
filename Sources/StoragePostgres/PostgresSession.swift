import Logging
import NIOCore
import PostgresKit
import Storage

/// A PostgreSQL connection as SQLKit sees it, plus the bulk-insert fast path: rows go to
/// PostgresNIO as binary binds directly, skipping SQLKit's per-value Codable encoding.
struct PostgresSession: SQLSessionForwarding, BulkInserting {
    let connection: PostgresConnection
    let base: any SQLDatabase

    init(connection: PostgresConnection) {
        self.connection = connection
        self.base = connection.sql()
    }

    func bulkInsert(into table: String, columns: [String], rows: ArraySlice<[SQLValue]>, suffix: String, returning: [String]) async throws
        -> [[SQLValue]]
    {
        guard !rows.isEmpty else { return [] }
        var sql = "INSERT INTO \"\(table)\" (\(columns.joined(separator: ", "))) VALUES "
        sql.reserveCapacity(sql.utf8.count + rows.count * columns.count * 8 + suffix.utf8.count + 1)
        var binds = PostgresBindings(capacity: rows.count * columns.count)
        var number = 0
        for (index, row) in rows.enumerated() {
            sql += index == 0 ? "(" : ",("
            for (column, value) in row.enumerated() {
                number += 1
                sql += column == 0 ? "$\(number)" : ",$\(number)"
                switch value {
                case .integer(let v): binds.append(v)
                case .real(let v): binds.append(v)
                case .text(let v): binds.append(v)
                case .null: binds.appendNull()
                }
            }
            sql += ")"
        }
        sql += " " + suffix
        let result = try await connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger)
        var output: [[SQLValue]] = []
        for try await row in result {
            guard !returning.isEmpty else { continue }
            let cells = row.makeRandomAccess()
            output.append(
                try returning.map { name in
                    let cell = cells[name]
                    guard cell.bytes != nil else { return .null }
                    switch cell.dataType {
                    case .int2, .int4, .int8: return .integer(try cell.decode(Int64.self))
                    case .float4, .float8: return .real(try cell.decode(Double.self))
                    default: return .text(try cell.decode(String.self))
                    }
                })
        }
        return output
    }
}
