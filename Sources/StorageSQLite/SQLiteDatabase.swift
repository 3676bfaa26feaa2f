import Expressions
import Foundation
import Logging
import NIOCore
import NIOPosix
import SQLiteKit
import SharedModels
import Storage

/// Patron's database in one SQLite file.
///
/// WAL journal, `synchronous=FULL` (a committed transfer survives power loss), foreign keys on.
/// One writer connection runs every write, with group commit: the writes waiting when the
/// writer comes free run one after another in one `BEGIN IMMEDIATE` transaction, each inside
/// its own savepoint (a write that throws is rolled back alone), and one `COMMIT` — one fsync —
/// makes them all durable before any of them returns. Concurrent API requests thus share the
/// cost of the disk flush instead of queueing behind one flush each. Reads go to a small pool
/// of reader connections, which WAL lets run beside the writer.
public final class SQLiteDatabase: SQLiteFile, @unchecked Sendable {
    public let engine = Engine.sqlite
    public let claimClause = ""
    public let exclusiveTransactionLock: String? = nil
    public let path: String
    private let writer: SQLiteConnection
    /// The writer's own thread: its statements never wait behind readers' in NIO's shared pool.
    private let writerThread: NIOThreadPool
    private let readers: [SQLiteConnection]
    public let access: SQLiteAccess

    private init(path: String, writer: SQLiteConnection, writerThread: NIOThreadPool, readers: [SQLiteConnection]) {
        self.path = path
        self.writer = writer
        self.writerThread = writerThread
        self.readers = readers
        self.access = SQLiteAccess(
            writer: SQLiteSession(connection: writer), readers: readers.map { SQLiteSession(connection: $0) }, failure: Self.failure)
    }

    /// Opens (creating if missing) the database file at `path`.
    public static func open(path: String, readers: Int = 4, logger: Logger = Logger(label: "patron.sqlite")) async throws -> SQLiteDatabase {
        var quiet = logger
        quiet.logLevel = max(logger.logLevel, .notice)
        let writerThread = NIOThreadPool(numberOfThreads: 1)
        writerThread.start()
        let writer = try await SQLiteConnection.open(
            storage: .file(path: path), threadPool: writerThread, logger: quiet, on: MultiThreadedEventLoopGroup.singleton.any())
        try await installFunctions(on: writer)
        for pragma in [
            // The busy timeout first: another process opening the same file may hold its lock for a moment.
            "PRAGMA busy_timeout=10000", "PRAGMA page_size=8192", "PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA foreign_keys=ON",
            // 256 MiB of page cache, so a large import batch does not spill pages to disk before commit.
            "PRAGMA cache_size=-262144", "PRAGMA temp_store=MEMORY",
        ] {
            try await SQLiteSetUp.retrying(Self.failure) { _ = try await writer.query(pragma).get() }
        }
        var readerConnections: [SQLiteConnection] = []
        for _ in 0..<max(readers, 1) {
            let reader = try await SQLiteConnection.open(storage: .file(path: path), logger: quiet).get()
            _ = try await reader.query("PRAGMA busy_timeout=10000").get()
            _ = try await reader.query("PRAGMA query_only=ON").get()
            // 256 MiB of page cache each, so scans over a million customers (segment counts, the
            // scoring job) stay in memory between queries instead of copying pages in again.
            _ = try await reader.query("PRAGMA cache_size=-262144").get()
            try await installFunctions(on: reader)
            readerConnections.append(reader)
        }
        return SQLiteDatabase(path: path, writer: writer, writerThread: writerThread, readers: readerConnections)
    }

    /// Functions the rule language's SQL calls that SQLite lacks: `patron_distance_km`, the same
    /// great-circle distance as the in-memory evaluator (NULL when any argument is).
    static func installFunctions(on connection: SQLiteConnection) async throws {
        let distance = SQLiteCustomFunction("patron_distance_km", argumentCount: 4, pure: true) { args in
            let numbers = args.map { value -> Double? in
                switch value {
                case .float(let v): v
                case .integer(let v): Double(v)
                default: nil
                }
            }
            guard numbers.count == 4, let a = numbers[0], let b = numbers[1], let c = numbers[2], let d = numbers[3] else { return nil }
            return Evaluator.haversineKilometres(a, b, c, d)
        }
        try await connection.install(customFunction: distance)
    }

    /// The error callers see for an error from SQLite: a ``DatabaseFailure`` named by SQLite's
    /// result code, or the error itself when it is not the database's (a domain error thrown by
    /// the transaction's body).
    static func failure(_ error: any Error) -> any Error {
        guard let error = error as? SQLiteError else { return error }
        let detail = "SQLite \(error.reason): \(error.message)"
        switch error.reason {
        case .full: return DatabaseFailure.full(detail)
        case .busy, .locked: return DatabaseFailure.contention(detail)
        // An I/O error on write or fsync (a full disk often shows as one), or a file that cannot be opened.
        case .ioError, .cantOpen, .readOnly, .permission: return DatabaseFailure.unavailable(detail)
        default: return DatabaseFailure.failed(code: "SQLite \(error.reason)", message: error.message)
        }
    }

    public func close() async throws {
        for reader in readers { try await reader.close().get() }
        try await writer.close().get()
        try await writerThread.shutdownGracefully()
    }
}
