import Foundation
import Logging
import NIOCore
import NIOPosix
import SQLiteKit
import Storage
import Synchronization

/// Patron's database in one SQLite file.
///
/// WAL journal, `synchronous=FULL` (a committed transfer survives power loss), foreign keys on.
/// One writer connection behind a FIFO lock runs every write transaction as `BEGIN IMMEDIATE`;
/// reads go to a small pool of reader connections, which WAL lets run beside the writer.
public final class SQLiteDatabase: Database, @unchecked Sendable {
    public let engine = Engine.sqlite
    public let path: String
    private let writer: SQLiteConnection
    private let readers: [SQLiteConnection]
    private let writeLock = AsyncMutex()
    private let nextReader = Atomic<UInt>(0)

    private init(path: String, writer: SQLiteConnection, readers: [SQLiteConnection]) {
        self.path = path
        self.writer = writer
        self.readers = readers
    }

    /// Opens (creating if missing) the database file at `path`.
    public static func open(path: String, readers: Int = 2, logger: Logger = Logger(label: "patron.sqlite")) async throws -> SQLiteDatabase {
        var quiet = logger
        quiet.logLevel = max(logger.logLevel, .notice)
        let writer = try await SQLiteConnection.open(storage: .file(path: path), logger: quiet).get()
        for pragma in [
            "PRAGMA page_size=8192", "PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA foreign_keys=ON", "PRAGMA busy_timeout=10000",
            // 256 MiB of page cache, so a large import batch does not spill pages to disk before commit.
            "PRAGMA cache_size=-262144", "PRAGMA temp_store=MEMORY",
        ] {
            _ = try await writer.query(pragma).get()
        }
        var readerConnections: [SQLiteConnection] = []
        for _ in 0..<max(readers, 1) {
            let reader = try await SQLiteConnection.open(storage: .file(path: path), logger: quiet).get()
            _ = try await reader.query("PRAGMA busy_timeout=10000").get()
            _ = try await reader.query("PRAGMA query_only=ON").get()
            readerConnections.append(reader)
        }
        return SQLiteDatabase(path: path, writer: writer, readers: readerConnections)
    }

    public func read<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        let index = Int(nextReader.wrappingAdd(1, ordering: .relaxed).newValue % UInt(readers.count))
        return try await body(readers[index].sql())
    }

    public func write<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        let db = SQLiteWriter(connection: writer)
        return try await writeLock.withLock { try await inTransaction(db, begin: "BEGIN IMMEDIATE", body) }
    }

    public func close() async throws {
        for reader in readers { try await reader.close().get() }
        try await writer.close().get()
    }
}
