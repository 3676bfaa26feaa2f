import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PostgresKit
import SharedModels
import Storage

/// Patron's database on a PostgreSQL server, through a pool of connections.
///
/// Write transactions run at READ COMMITTED; code that reads and then writes the same rows locks
/// them (`SELECT … FOR UPDATE`) or relies on unique constraints.
public final class PostgresDatabase: Database, CountsStatements, @unchecked Sendable {
    public let engine = Engine.postgres
    /// A transaction-scoped advisory lock, released at commit or rollback.
    public let claimClause = " FOR UPDATE SKIP LOCKED"
    public let exclusiveTransactionLock: String? = "SELECT pg_advisory_xact_lock(7273766110)"
    private let pool: EventLoopGroupConnectionPool<ServerSelectingSource>
    private let logger: Logger
    private let watches = ConnectionWatches()
    private let tally = StatementTally()
    public var statementsSent: Int { tally.value }
    /// Whether connections prepare the statements they send again (``PreparedStatements``);
    /// turned off for good when the server turns out not to keep them (a pooler in transaction
    /// mode that was not named in the URL).
    let preparing: PreparingSwitch

    private init(pool: EventLoopGroupConnectionPool<ServerSelectingSource>, logger: Logger, preparesStatements: Bool) {
        self.pool = pool
        self.logger = logger
        self.preparing = PreparingSwitch(on: preparesStatements, logger: logger)
    }

    /// Whether statements sent again are prepared (`prepared_statements`, until the server turns
    /// out not to keep them).
    public var preparesStatements: Bool { preparing.isOn }

    /// Statements sent as prepared ones (for tests).
    public var preparedStatementsSent: Int { tally.prepared }

    /// Connects to `url` (`postgres://user:password@host:port/database?sslmode=disable`), which may
    /// name several servers and the kind wanted (see ``ServerList``):
    /// `postgres://user@h1:5432,h2:5433/db?target_session_attrs=read-write` follows the primary
    /// through a failover.
    ///
    /// The pool holds up to `PATRON_PG_POOL_SIZE` connections (16 by default), spread over the
    /// event loops; a request waits up to `PATRON_PG_POOL_TIMEOUT` seconds (1–600, 10 by default)
    /// for one before it fails as "database unavailable".
    public static func open(
        url: String, maxConnections: Int? = nil, environment: [String: String] = ProcessInfo.processInfo.environment,
        logger: Logger = Logger(label: "patron.postgres")
    ) async throws -> PostgresDatabase {
        let servers = try ServerList(url: url)
        let source = try ServerSelectingSource(servers: servers)
        let wait = environment["PATRON_PG_POOL_TIMEOUT"].flatMap { Int64($0) }.map { min(max($0, 1), 600) } ?? 10
        let size = maxConnections ?? environment["PATRON_PG_POOL_SIZE"].flatMap { Int($0) }.map { min(max($0, 1), 1_000) } ?? 16
        let loops = MultiThreadedEventLoopGroup.singleton
        let perLoop = max(1, (size + System.coreCount - 1) / System.coreCount)
        let pool = EventLoopGroupConnectionPool(
            source: source, maxConnectionsPerEventLoop: perLoop, requestTimeout: .seconds(wait), on: loops)
        let database = PostgresDatabase(pool: pool, logger: logger, preparesStatements: servers.preparesStatements)
        do {
            _ = try await database.read { db in try await db.raw("SELECT 1 AS one").first() }
        } catch {
            try? await pool.shutdownAsync()
            throw error
        }
        return database
    }

    private func withConnection<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        let connection = try await openConnection()
        defer { pool.releaseConnection(connection, logger: logger) }
        return try await run(body, on: connection)
    }

    /// Runs `body` on `connection`, and gives it up with ``DatabaseFailure/unavailable(_:)`` if the
    /// connection closes under it and the body has not failed on its own shortly after.
    ///
    /// When the server dies mid-statement, PostgresNIO 1.33 sometimes never completes the
    /// statement's future (seen with `COMMIT`, `UPDATE` and `INSERT` after `pg_ctl stop -m immediate`):
    /// without this, the request would hang for good, and so would every purchase grouped behind
    /// it. A transaction given up this way may or may not have committed; the caller is told the
    /// database is unavailable, and a retry under the same idempotency key applies it at most once.
    func run<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T, on connection: PostgresConnection) async throws -> T {
        let watch = watches.watch(connection)
        return try await withCheckedThrowingContinuation { continuation in
            let finish = NIOLockedValueBox<CheckedContinuation<T, any Error>?>(continuation)
            let work = Task {
                let result: Result<T, any Error>
                do { result = .success(try await body(
                            PostgresSession(
                                connection: connection, tally: tally, statements: preparing.isOn ? watch.statements : nil, preparing: preparing))) } catch { result = .failure(error) }
                watch.stop()
                finish.withLockedValue { $0?.resume(with: result); $0 = nil }
            }
            watch.start { failure in
                work.cancel()
                finish.withLockedValue { $0?.resume(throwing: failure); $0 = nil }
            }
        }
    }

    /// A pooled connection that is still open. The pool can hand out a connection whose server
    /// went away since it was last used, and PostgresNIO 1.33 may never answer a query on it:
    /// such a connection goes back (the pool drops closed ones) and another is asked for.
    private func openConnection() async throws -> PostgresConnection {
        for _ in 0..<8 {
            let connection = try await pool.requestConnection(logger: logger).get()
            if !connection.isClosed { return connection }
            pool.releaseConnection(connection, logger: logger)
        }
        throw DatabaseFailure.unavailable("no open connection to the database server")
    }

    public func read<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        do {
            return try await withConnection(body)
        } catch {
            throw Self.failure(error)
        }
    }

    /// How many times a write that met a deadlock or a serialization failure runs again before
    /// the failure is reported as ``DatabaseFailure/contention(_:)``.
    static let maximumRetries = 8

    /// Runs `body` in one transaction. A transaction that PostgreSQL aborted for a deadlock
    /// (40P01) or a serialization failure (40001) rolled back entirely, so it runs again from the
    /// start, up to ``maximumRetries`` times, after a short random pause that grows with each try.
    public func write<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await retryingContention { try await self.withConnection { db in try await Self.transaction(db, body) } }
    }

    /// One statement on a pooled connection, in its own implicit transaction; run again after a
    /// deadlock or serialization failure, like ``write(_:)``.
    public func writeOne<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await retryingContention { try await self.withConnection(body) }
    }

    /// Runs `attempt`; one that met a deadlock or a serialization failure rolled back entirely, so
    /// it runs again, up to ``maximumRetries`` times, after a short random pause that grows with
    /// each try. Other failures are reported as ``failure(_:)`` names them.
    private func retryingContention<T: Sendable>(_ run: () async throws -> T) async throws -> T {
        var attempt = 0
        while true {
            do {
                return try await run()
            } catch {
                let failure = Self.failure(error)
                guard case .contention = failure as? DatabaseFailure, attempt < Self.maximumRetries else { throw failure }
                attempt += 1
                let ceiling = UInt64(2_000_000) << UInt64(min(attempt, 6))
                try await Task.sleep(nanoseconds: UInt64.random(in: ceiling / 4...ceiling))
            }
        }
    }

    public func close() async throws {
        try await pool.shutdownAsync()
    }
}

extension PostgresDatabase {
    /// `BEGIN`, the body, `COMMIT`; on an error, `ROLLBACK` — unless the connection itself failed
    /// (the server went away): then the connection is closed instead, because PostgresNIO 1.33 may
    /// never answer a query sent to a connection that is closing, which would hang the request
    /// (and every request grouped behind it) for good. The server rolls back what the lost
    /// connection left open.
    static func transaction<T: Sendable>(_ db: any SQLDatabase, _ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await db.raw("BEGIN").run()
        do {
            let result = try await body(db)
            try await db.raw("COMMIT").run()
            return result
        } catch {
            if case .unavailable = failure(error) as? DatabaseFailure, let session = db as? PostgresSession {
                try? await session.connection.close().get()
            } else {
                try? await db.raw("ROLLBACK").run()
            }
            throw error
        }
    }

    /// The error callers see for an error from PostgresNIO or the pool: a ``DatabaseFailure`` named
    /// by SQLSTATE class, or the error itself when it is not the database's (a domain error thrown
    /// by the transaction's body).
    static func failure(_ error: any Error) -> any Error {
        if error is DatabaseFailure { return error }
        if let legacy = error as? PostgresError {
            // PostgresNIO's prepared-statement path (PostgresSession) reports server errors so.
            switch legacy {
            case .server(let e): return classify(state: e.fields[.sqlState] ?? "XX000", message: e.fields[.message] ?? "")
            case .connectionClosed: return DatabaseFailure.unavailable("the connection was closed")
            case .protocol(let text): return DatabaseFailure.unavailable(text)
            }
        }
        guard let error = error as? PSQLError else {
            // Errors of the pool itself (no connection could be made in time, the pool is closed).
            let name = String(describing: type(of: error))
            if name.contains("Connection") || name.contains("Pool") || error is ChannelError || error is IOError {
                return DatabaseFailure.unavailable("\(name): \(error)")
            }
            return error
        }
        guard error.code == .server, let state = error.serverInfo?[.sqlState] else {
            return DatabaseFailure.unavailable("\(error.code)")
        }
        return classify(state: state, message: error.serverInfo?[.message] ?? "")
    }

    /// A server error by its SQLSTATE.
    static func classify(state: String, message: String) -> any Error {
        let detail = "SQLSTATE \(state): \(message)"
        switch state {
        case "40001", "40P01": return DatabaseFailure.contention(detail)
        case "53100": return DatabaseFailure.full(detail)
        // 25006: a write reached a server that no longer accepts them (a primary demoted by a failover).
        case _ where state.hasPrefix("08") || state.hasPrefix("57P") || state == "53300" || state == "25006":
            return DatabaseFailure.unavailable(detail)
        default: return DatabaseFailure.failed(code: "SQLSTATE \(state)", message: message)
        }
    }

    /// Creates a database on the same server (for tests and benchmarks): an empty one, or a copy of
    /// `template`. A copy is made file by file (`STRATEGY FILE_COPY`): the default strategy writes
    /// every page of the template to the WAL, megabytes per database, which a streaming replica
    /// must then replay.
    public func createDatabase(_ name: String, template: String? = nil) async throws {
        precondition(
            [name, template].compactMap { $0 }.allSatisfy { $0.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" } },
            "database names are plain identifiers")
        let copy = template.map { " TEMPLATE " + $0 + " STRATEGY FILE_COPY" } ?? ""
        _ = try await read { db in try await db.raw(SQLQueryString("CREATE DATABASE " + name + copy)).run() }
    }

    /// Drops a database on the same server, disconnecting its sessions.
    public func dropDatabase(_ name: String) async throws {
        precondition(name.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" }, "database names are plain identifiers")
        _ = try await read { db in try await db.raw(SQLQueryString("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")).run() }
    }
}

/// Watches pooled connections for closing while an operation runs on them (see
/// ``PostgresDatabase/run(_:on:)``): one close callback per connection, not one per operation.
final class ConnectionWatches: Sendable {
    /// How long an operation may go on after its connection closed before it is given up.
    static let grace: TimeAmount = .seconds(2)

    /// The operation running on one connection, if any, and the statements it prepared.
    final class Watch: Sendable {
        let statements = PreparedStatements()
        private let current = NIOLockedValueBox<(@Sendable (any Error) -> Void)?>(nil)

        func start(_ giveUp: @escaping @Sendable (any Error) -> Void) { current.withLockedValue { $0 = giveUp } }
        func stop() { current.withLockedValue { $0 = nil } }
        func lost() {
            current.withLockedValue { giveUp in
                giveUp?(DatabaseFailure.unavailable("the connection to the database server was lost mid-operation"))
                giveUp = nil
            }
        }
    }

    private let watches = NIOLockedValueBox<[ObjectIdentifier: Watch]>([:])

    func watch(_ connection: PostgresConnection) -> Watch {
        let id = ObjectIdentifier(connection)
        let (watch, isNew) = watches.withLockedValue { watches -> (Watch, Bool) in
            if let watch = watches[id] { return (watch, false) }
            let watch = Watch()
            watches[id] = watch
            return (watch, true)
        }
        if isNew {
            connection.closeFuture.whenComplete { [weak self] _ in
                connection.eventLoop.scheduleTask(in: Self.grace) {
                    watch.lost()
                    _ = self?.watches.withLockedValue { $0.removeValue(forKey: id) }
                }
            }
        }
        return watch
    }
}
