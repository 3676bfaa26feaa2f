import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import PostgresKit
import SharedModels
import Storage
import Synchronization

/// A PostgreSQL connection as SQLKit sees it, plus the bulk-insert fast path: rows go to
/// PostgresNIO as binary binds directly, skipping SQLKit's per-value Codable encoding.
struct PostgresSession: SQLSessionForwarding, BulkInserting, RawReading {
    let connection: PostgresConnection
    let base: any SQLDatabase
    let tally: StatementTally
    /// The connection's prepared statements; nil when statements go unprepared
    /// (`prepared_statements=off`).
    let statements: PreparedStatements?
    let preparing: PreparingSwitch

    init(connection: PostgresConnection, tally: StatementTally, statements: PreparedStatements?, preparing: PreparingSwitch) {
        self.connection = connection
        self.base = connection.sql()
        self.tally = tally
        self.statements = statements
        self.preparing = preparing
    }

    /// Rows are handed to `onRow` on the connection's event loop as they arrive, with demand for
    /// more signalled at once (PostgresNIO's callback consumer), never through its back-pressured
    /// async sequence: when the server dies mid-result (a crash, an immediate shutdown, a failover)
    /// PostgresNIO 1.33 traps on a stream that is waiting for demand, and would take the whole
    /// process down with it. The callback path also saves a task hop per batch of rows.
    ///
    /// A statement this connection sent before is prepared and reused (``PreparedStatements``).
    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) async throws {
        guard statements != nil else {
            tally.add()
            return try await base.execute(sql: query, onRow).get()
        }
        var serializer = SQLSerializer(database: base)
        query.serialize(to: &serializer)
        guard let binds = Self.postgresData(serializer.binds) else {
            tally.add()
            return try await base.execute(sql: query, onRow).get()
        }
        try await send(serializer.sql, binds) { row, prepared in onRow(prepared ? PreparedRow(row) : row.sql()) }
    }

    /// Sends `sql` (serialized already) with `binds`, prepared when this connection sent the text
    /// before (``PreparedStatements``); `onRow` learns whether a row came from a prepared statement
    /// (whose cells are binary but described as text).
    private func send(_ sql: String, _ binds: [PostgresData], _ onRow: @escaping @Sendable (PostgresRow, Bool) -> Void) async throws {
        tally.add()
        guard let statements else { return try await unprepared(sql, binds) { onRow($0, false) } }
        // A text too long to be prepared is not typed for nothing (a group's write is 30–60 kB).
        guard sql.utf8.count <= PreparedStatements.longestText else { return try await unprepared(sql, binds) { onRow($0, false) } }
        let typed = Self.typed(sql, binds)
        let statement: PreparedQuery?
        do {
            statement = try await statements.statement(typed, on: connection)
        } catch {
            throw PostgresDatabase.failure(error)
        }
        guard let prepared = statement else { return try await unprepared(sql, binds) { onRow($0, false) } }
        tally.addPrepared()
        do {
            // The callback consumer, for the reason given above.
            try await prepared.execute(binds) { row in onRow(row, true) }.get()
        } catch {
            // PostgresNIO's prepared-statement path reports the server's errors in its older form.
            let failure = PostgresDatabase.failure(error)
            guard case .failed(let code, _) = failure as? DatabaseFailure else { throw failure }
            switch code {
            case "SQLSTATE 26000", "SQLSTATE 42P05":
                // The server lost a statement this connection prepared (26000), or already had one
                // by that name (42P05): a pooler in transaction mode hands each transaction another
                // server connection. Prepared statements stay off from now on; this statement
                // fails as unavailable, so its caller tries again (under its idempotency key).
                statements.forget(typed)
                preparing.turnOff()
                throw DatabaseFailure.unavailable("prepared statements are not kept by the server (a pooler in transaction mode?): turned off")
            case "SQLSTATE 0A000":
                // The statement's plan no longer fits a changed table: prepared again next time.
                statements.forget(typed)
                throw failure
            default: throw failure
            }
        }
    }

    /// `sql`, serialized already, sent unnamed (parsed with this execution) with `binds` typed as
    /// PostgresKit types them — without serializing the query a second time.
    private func unprepared(_ sql: String, _ binds: [PostgresData], _ onRow: @escaping @Sendable (PostgresRow) -> Void) async throws {
        var bindings = PostgresBindings(capacity: binds.count)
        for value in binds { bindings.append(value) }
        // The callback consumer, for the reason given at ``execute(sql:_:)``.
        _ = try await connection.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger, onRow).get()
    }

    /// Rows as plain values (``readRows(_:_:columns:)``), read from the cells by their types
    /// rather than through SQLKit's decoding, which tries a text column as a number twice, each
    /// failure a thrown error (a group of API purchases reads about sixty such rows).
    func rawRows(sql: String, binds: [SQLValue], columns: [String]) async throws -> [[SQLValue]] {
        let data = binds.map(PostgresData.init)
        let output = NIOLockedValueBox<(rows: [[SQLValue]], error: (any Error)?)>(([], nil))
        try await send(sql, data) { row, prepared in
            output.withLockedValue { output in
                guard output.error == nil else { return }
                do { output.rows.append(try Self.values(of: row, columns, binary: prepared)) } catch { output.error = error }
            }
        }
        return try output.withLockedValue { output in
            if let error = output.error { throw error }
            return output.rows
        }
    }

    /// `columns` of `row` as plain values: whole numbers, reals (numerics too) and text by their
    /// column types; a column of another type as the first of whole number, real or text it reads
    /// as, as SQLKit's decoding read it before (`PreparedStatementTests` holds the two together).
    static func values(of row: PostgresRow, _ columns: [String], binary: Bool) throws -> [SQLValue] {
        // A prepared statement's cells are the binary they are (``PreparedRow``).
        let all = binary ? PreparedRow(row).cells : Array(row)
        let cells = try columns.map { name in
            // The last of a name, as PostgresKit finds one.
            guard let found = all.last(where: { $0.columnName == name }) else { throw PreparedRowError.noColumn(name) }
            return found
        }
        return try cells.map { cell in
            guard cell.bytes != nil else { return .null }
            switch cell.dataType {
            case .int2, .int4, .int8: return .integer(try cell.decode(Int64.self))
            case .float4, .float8: return .real(try cell.decode(Double.self))
            case .numeric: return .real(Double(truncating: try cell.decode(Decimal.self) as NSDecimalNumber))
            case .text, .varchar, .bpchar, .name: return .text(try cell.decode(String.self))
            default:
                if let v = try? cell.decode(Int64.self) { return .integer(v) }
                if let v = try? cell.decode(Double.self) { return .real(v) }
                return .text(try cell.decode(String.self))
            }
        }
    }

    /// `COPY table (columns) FROM STDIN` in text format, in buffers of about 256 KiB.
    func copyRows(into table: String, columns: [String], rows: [[SQLValue]]) async throws -> Bool {
        tally.add()
        try await connection.copyFrom(table: table, columns: columns, format: .text(.init()), logger: logger) { writer in
            var buffer = ByteBuffer()
            buffer.reserveCapacity(300_000)
            for row in rows {
                for (index, value) in row.enumerated() {
                    if index > 0 { buffer.writeInteger(UInt8(ascii: "\t")) }
                    switch value {
                    case .null: buffer.writeStaticString("\\N")
                    case .integer(let v): buffer.writeString(String(v))
                    case .real(let v): buffer.writeString(v.isFinite ? "\(v)" : (v.isNaN ? "NaN" : (v > 0 ? "Infinity" : "-Infinity")))
                    case .text(let v): Self.writeCopyText(v, to: &buffer)
                    }
                }
                buffer.writeInteger(UInt8(ascii: "\n"))
                if buffer.readableBytes >= 256 * 1024 {
                    try await writer.write(buffer)
                    buffer.clear()
                }
            }
            if buffer.readableBytes > 0 { try await writer.write(buffer) }
        }
        return true
    }

    /// Text with COPY's escapes: backslash, tab, newline and carriage return.
    static func writeCopyText(_ text: String, to buffer: inout ByteBuffer) {
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\\"): buffer.writeStaticString("\\\\")
            case UInt8(ascii: "\t"): buffer.writeStaticString("\\t")
            case UInt8(ascii: "\n"): buffer.writeStaticString("\\n")
            case UInt8(ascii: "\r"): buffer.writeStaticString("\\r")
            default: buffer.writeInteger(byte)
            }
        }
    }

    func bulkInsert(into table: String, columns: [String], rows: ArraySlice<[SQLValue]>, suffix: String, returning: [String]) async throws
        -> [[SQLValue]]
    {
        guard !rows.isEmpty else { return [] }
        tally.add()
        var sql = "INSERT INTO \"\(table)\" (\(columns.joined(separator: ", "))) VALUES "
        sql.reserveCapacity(sql.utf8.count + rows.count * columns.count * 8 + suffix.utf8.count + 1)
        var binds = PostgresBindings(capacity: rows.count * columns.count)
        var number = 0
        for (index, row) in rows.enumerated() {
            sql += index == 0 ? "(" : ",("
            for (column, value) in row.enumerated() {
                number += 1
                sql += column == 0 ? "$\(number)" : ",$\(number)"
                binds.append(PostgresData(value))
            }
            sql += ")"
        }
        sql += " " + suffix
        // The callback consumer, for the reason given at ``execute(sql:_:)``.
        let output = NIOLockedValueBox<[[SQLValue]]>([])
        _ = try await connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger) { row in
            guard !returning.isEmpty else { return }
            let values = try Self.values(of: row, returning, binary: false)
            output.withLockedValue { $0.append(values) }
        }.get()
        return output.withLockedValue { $0 }
    }
}

/// Statements sent on a database's connections (``CountsStatements``).
final class StatementTally: Sendable {
    private let count = Atomic<Int>(0)
    private let preparedCount = Atomic<Int>(0)
    func add() { count.add(1, ordering: .relaxed) }
    func addPrepared() { preparedCount.add(1, ordering: .relaxed) }
    var value: Int { count.load(ordering: .relaxed) }
    /// Of them, sent as prepared statements.
    var prepared: Int { preparedCount.load(ordering: .relaxed) }
}
