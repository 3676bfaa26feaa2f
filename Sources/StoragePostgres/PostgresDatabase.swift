import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresKit
import Storage

/// Patron's database on a PostgreSQL server, through a pool of connections.
///
/// Write transactions run at READ COMMITTED; code that reads and then writes the same rows locks
/// them (`SELECT … FOR UPDATE`) or relies on unique constraints.
public final class PostgresDatabase: Database, @unchecked Sendable {
    public let engine = Engine.postgres
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
        try await withConnection(body)
    }

    public func write<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await withConnection { db in try await inTransaction(db, body) }
    }

    public func close() async throws {
        try await pool.shutdownAsync()
    }
}

extension PostgresDatabase {
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
