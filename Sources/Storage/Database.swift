import Foundation
import SQLKit

/// The SQL engine behind a ``Database``. Code asks for a capability where it can, and switches
/// on the engine only for DDL spellings that SQL does not share.
public enum Engine: String, Sendable {
    case sqlite
    case postgres
}

/// A connection to Patron's database, on either engine.
///
/// `read` runs queries that see committed data; `write` runs its body in one database
/// transaction that commits when the body returns and rolls back when it throws, so no caller
/// can leave half-written data.
public protocol Database: Sendable {
    var engine: Engine { get }
    func read<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T
    func write<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T
    /// A write of one statement, which the engine applies atomically on its own: on PostgreSQL it
    /// is sent without `BEGIN` and `COMMIT`, a third of the round trips. Elsewhere, ``write(_:)``.
    func writeOne<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T
    /// A read that may be answered by a read replica, a moment behind the primary: analytics,
    /// segment counts, reports and list views. Where there is no replica, or the caller must see
    /// its own writes (``ReplicaReads/primaryOnly``), it is ``read(_:)``.
    func readFromReplica<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T
    /// A statement that, run first in a write transaction, makes every other transaction that runs
    /// it wait until this one commits, across processes and servers; nil where write transactions
    /// are serialised anyway (SQLite's single writer under `BEGIN IMMEDIATE`). Schema changes take it.
    var exclusiveTransactionLock: String? { get }
    /// What ends a `SELECT` that claims rows for this transaction alone, passing over rows another
    /// transaction holds (`FOR UPDATE SKIP LOCKED`); empty where the single writer already excludes
    /// every other claimer. Claims still re-check the row's state in their `UPDATE`.
    var claimClause: String { get }
    /// Closes every connection; the database must not be used afterwards.
    func close() async throws
}

extension Database {
    public func writeOne<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await write(body)
    }

    public func readFromReplica<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await read(body)
    }

    /// Runs a trivial query; throws when the database does not answer.
    public func ping() async throws {
        _ = try await read { db in try await db.raw("SELECT 1 AS one").first() }
    }

    /// What the SQL written for this engine needs to know about it.
    public var capabilities: SQLCapabilities { engine.capabilities }

    /// The DDL for an auto-numbered 64-bit primary key column named `id`.
    public var idColumn: String { capabilities.idColumn }
}

/// A database that counts the statements it sends to its server: on PostgreSQL each is a round
/// trip, the figure the benchmarks report per request.
public protocol CountsStatements: Sendable {
    /// Statements sent since the database was opened.
    var statementsSent: Int { get }
}
