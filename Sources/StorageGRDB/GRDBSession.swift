import Foundation
import GRDB
import Logging
import NIOCore
import NIOPosix
import SQLKit
import SQLiteKit
import Storage

/// One SQLite connection on its own serial queue, with the statements it prepared.
final class GRDBConnection: Sendable {
    let queue: DatabaseQueue
    let logger: Logger
    let statements = StatementCache()

    init(queue: DatabaseQueue, logger: Logger) {
        self.queue = queue
        self.logger = logger
    }

    /// Runs `body` on the connection's queue with `sql`'s prepared statement (kept for next time,
    /// see ``StatementCache``). A statement whose run failed is not kept: SQLite holds its error
    /// until it is reset, and GRDB's binding resets it with `try!` — the next insert of the same
    /// shape after one refused by a constraint crashed the process.
    func withStatement<T: Sendable>(_ sql: String, evenIfLong: Bool = false, _ body: @escaping @Sendable (Statement) throws -> T) async throws -> T {
        let statements = self.statements
        return try await queue.writeWithoutTransaction { db in
            let statement = try statements.statement(sql, in: db, evenIfLong: evenIfLong)
            do {
                return try body(statement)
            } catch {
                statements.forget(sql)
                throw error
            }
        }
    }

    /// The rows of `sql` with `arguments`, each read by `row` on the connection's queue (a
    /// cursor's rows are reused as it steps).
    func rows<T: Sendable>(_ sql: String, _ arguments: [DatabaseValue], _ row: @escaping @Sendable (Row) -> T) async throws -> [T] {
        try await withStatement(sql) { statement in
            let cursor = try Row.fetchCursor(statement, arguments: StatementArguments(arguments))
            var output: [T] = []
            while let next = try cursor.next() { output.append(row(next)) }
            return output
        }
    }
}

/// Prepared statements by SQL text, for one connection, touched only on its queue. Texts that
/// vary with their data (an `IN` list, a multi-row insert) would fill it: past ``capacity``
/// texts it starts again.
final class StatementCache: @unchecked Sendable {
    static let capacity = 256
    /// Longer texts are prepared each time (an `IN` list of thousands): they rarely repeat.
    /// Multi-row inserts are kept however long: a batch's statements repeat one text.
    static let longest = 8_000
    private var cached: [String: Statement] = [:]

    /// Finalizes every statement (a connection with statements alive cannot close).
    func clear() { cached.removeAll() }

    /// Drops one statement: the next use prepares it afresh.
    func forget(_ sql: String) { cached[sql] = nil }

    func statement(_ sql: String, in db: GRDB.Database, evenIfLong: Bool = false) throws -> Statement {
        guard evenIfLong || sql.utf8.count <= Self.longest else { return try db.makeStatement(sql: sql) }
        if let statement = cached[sql] { return statement }
        if cached.count >= Self.capacity { cached.removeAll(keepingCapacity: true) }
        let statement = try db.makeStatement(sql: sql)
        cached[sql] = statement
        return statement
    }
}

/// A GRDB connection as SQLKit sees it (SQLite's dialect, so every store writes the same SQL as
/// on SQLiteNIO), plus the fast paths of ``BulkInserting`` and ``RawReading``.
struct GRDBSession: SQLDatabase, BulkInserting, RawReading {
    let connection: GRDBConnection

    var logger: Logger { connection.logger }
    var eventLoop: any EventLoop { MultiThreadedEventLoopGroup.singleton.any() }
    var version: (any SQLDatabaseReportedVersion)? { nil }
    var dialect: any SQLDialect { GRDBDialect() }
    var queryLogLevel: Logger.Level? { nil }

    func execute(sql query: any SQLKit.SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) -> EventLoopFuture<Void> {
        let promise = eventLoop.makePromise(of: Void.self)
        promise.completeWithTask { try await self.execute(sql: query, onRow) }
        return promise.futureResult
    }

    func execute(sql query: any SQLKit.SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) async throws {
        var serializer = SQLSerializer(database: self)
        query.serialize(to: &serializer)
        let arguments = try serializer.binds.map(BindValue.databaseValue)
        for row in try await connection.rows(serializer.sql, arguments, GRDBRow.init) { onRow(row) }
    }

    func withSession<R>(_ closure: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        try await closure(self)
    }

    /// Many rows in one multi-row `INSERT` (as ``SQLiteSession`` sends them): the statements of
    /// a batch share their text, and so their prepared statement, but for the last.
    func bulkInsert(into table: String, columns: [String], rows: ArraySlice<[SQLValue]>, suffix: String, returning: [String]) async throws
        -> [[SQLValue]]
    {
        guard !rows.isEmpty else { return [] }
        let sql = multiRowInsertSQL(into: table, columns: columns, rows: rows.count, suffix: suffix)
        var values: [DatabaseValue] = []
        values.reserveCapacity(rows.count * columns.count)
        for row in rows { for value in row { values.append(value.databaseValue) } }
        let arguments = values
        return try await connection.withStatement(sql, evenIfLong: true) { statement in
            statement.setUncheckedArguments(StatementArguments(arguments))
            guard !returning.isEmpty else {
                try statement.execute()
                return []
            }
            var output: [[SQLValue]] = []
            let cursor = try Row.fetchCursor(statement)
            while let inserted = try cursor.next() { output.append(returning.map { SQLValue(inserted[$0] as DatabaseValue) }) }
            return output
        }
    }

    func rawRows(sql: String, binds: [SQLValue], columns: [String]) async throws -> [[SQLValue]] {
        try await connection.rows(sql, binds.map(\.databaseValue)) { row in columns.map { SQLValue(row[$0] as DatabaseValue) } }
    }
}

extension SQLValue {
    var databaseValue: DatabaseValue {
        switch self {
        case .integer(let v): v.databaseValue
        case .real(let v): v.databaseValue
        case .text(let v): v.databaseValue
        case .null: .null
        }
    }

    init(_ value: DatabaseValue) {
        switch value.storage {
        case .int64(let v): self = .integer(v)
        case .double(let v): self = .real(v)
        case .string(let v): self = .text(v)
        case .blob(let v): self = .text(String(decoding: v, as: UTF8.self))
        case .null: self = .null
        }
    }
}

/// SQLite's dialect with anonymous placeholders (`?`): SQLiteKit numbers them (`?1`, `?2`), and
/// SQLite looks a numbered parameter's name up by scanning the list of names, which GRDB does for
/// every parameter of a statement it prepares — quadratic in a statement's binds, 22% of a batch
/// accrual's time with 5,000-value `IN` lists. SQLKit binds in order, each value once, so plain
/// `?` means the same.
struct GRDBDialect: SQLDialect {
    let sqlite = SQLiteDialect()
    var name: String { sqlite.name }
    var identifierQuote: any SQLKit.SQLExpression { sqlite.identifierQuote }
    var literalStringQuote: any SQLKit.SQLExpression { sqlite.literalStringQuote }
    func bindPlaceholder(at position: Int) -> any SQLKit.SQLExpression { SQLRaw("?") }
    func literalBoolean(_ value: Bool) -> any SQLKit.SQLExpression { sqlite.literalBoolean(value) }
    var literalDefault: any SQLKit.SQLExpression { sqlite.literalDefault }
    var supportsIfExists: Bool { sqlite.supportsIfExists }
    var supportsDropBehavior: Bool { sqlite.supportsDropBehavior }
    var supportsAutoIncrement: Bool { sqlite.supportsAutoIncrement }
    var autoIncrementClause: any SQLKit.SQLExpression { sqlite.autoIncrementClause }
    var enumSyntax: SQLEnumSyntax { sqlite.enumSyntax }
    var triggerSyntax: SQLTriggerSyntax { sqlite.triggerSyntax }
    var alterTableSyntax: SQLAlterTableSyntax { sqlite.alterTableSyntax }
    var upsertSyntax: SQLUpsertSyntax { sqlite.upsertSyntax }
    var supportsReturning: Bool { sqlite.supportsReturning }
    var unionFeatures: SQLUnionFeatures { sqlite.unionFeatures }
    func customDataType(for dataType: SQLDataType) -> (any SQLKit.SQLExpression)? { sqlite.customDataType(for: dataType) }
    func nestedSubpathExpression(in column: any SQLKit.SQLExpression, for path: [String]) -> (any SQLKit.SQLExpression)? {
        sqlite.nestedSubpathExpression(in: column, for: path)
    }
}
