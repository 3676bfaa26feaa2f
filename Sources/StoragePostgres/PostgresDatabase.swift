import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresKit
import SharedModels
import Storage

/// Patron's database on a PostgreSQL server, through a pool of connections.
///
/// Write transactions run at READ COMMITTED; code that reads and then writes the same rows locks
/// them (`SELECT … FOR UPDATE`) or relies on unique constraints.
public final class PostgresDatabase: Database, @unchecked Sendable {
    public let engine = Engine.postgres
    /// A transaction-scoped advisory lock, released at commit or rollback.
    public let claimClause = " FOR UPDATE SKIP LOCKED"
    public let exclusiveTransactionLock: String? = "SELECT pg_advisory_xact_lock(7273766110)"
    private let pool: EventLoopGroupConnectionPool<PostgresConnectionSource>
    private let logger: Logger

    private init(pool: EventLoopGroupConnectionPool<PostgresConnectionSource>, logger: Logger) {
        self.pool = pool
        self.logger = logger
    }

    /// Connects to `url` (`postgres://user:password@host:port/database?sslmode=disable`).
    public static func open(url: String, maxConnections: Int = 8, logger: Logger = Logger(label: "patron.postgres")) async throws -> PostgresDatabase
    {
        let configuration = try SQLPostgresConfiguration(url: url)
        let pool = EventLoopGroupConnectionPool(
            source: PostgresConnectionSource(sqlConfiguration: configuration), maxConnectionsPerEventLoop: maxConnections,
            on: MultiThreadedEventLoopGroup.singleton)
        let database = PostgresDatabase(pool: pool, logger: logger)
        do {
            _ = try await database.read { db in try await db.raw("SELECT 1 AS one").first() }
        } catch {
            try? await pool.shutdownAsync()
            throw error
        }
        return database
    }

    private func withConnection<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        let connection = try await pool.requestConnection(logger: logger).get()
        defer { pool.releaseConnection(connection, logger: logger) }
        return try await body(PostgresSession(connection: connection))
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
        var attempt = 0
        while true {
            do {
                return try await withConnection { db in try await inTransaction(db, body) }
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
    /// The error callers see for an error from PostgresNIO or the pool: a ``DatabaseFailure`` named
    /// by SQLSTATE class, or the error itself when it is not the database's (a domain error thrown
    /// by the transaction's body).
    static func failure(_ error: any Error) -> any Error {
        if error is DatabaseFailure { return error }
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
        let message = error.serverInfo?[.message] ?? ""
        let detail = "SQLSTATE \(state): \(message)"
        switch state {
        case "40001", "40P01": return DatabaseFailure.contention(detail)
        case "53100": return DatabaseFailure.full(detail)
        case _ where state.hasPrefix("08") || state.hasPrefix("57P") || state == "53300": return DatabaseFailure.unavailable(detail)
        default: return DatabaseFailure.failed(code: "SQLSTATE \(state)", message: message)
        }
    }

    /// Creates an empty database on the same server (for tests and benchmarks).
    public func createDatabase(_ name: String) async throws {
        precondition(name.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" }, "database names are plain identifiers")
        _ = try await read { db in try await db.raw(SQLQueryString("CREATE DATABASE " + name)).run() }
    }

    /// Drops a database on the same server, disconnecting its sessions.
    public func dropDatabase(_ name: String) async throws {
        precondition(name.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" }, "database names are plain identifiers")
        _ = try await read { db in try await db.raw(SQLQueryString("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")).run() }
    }
}
