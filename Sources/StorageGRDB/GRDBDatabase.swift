import Expressions
import Foundation
import GRDB
import Logging
import SQLKit
import SharedModels
import Storage

/// Patron's database in one SQLite file, driven by GRDB.swift instead of SQLiteNIO
/// (`PATRON_SQLITE_DRIVER=grdb`; #18's spike, measured in docs/benchmarks.md).
///
/// The same file format, pragmas and group commit as ``SQLiteDatabase`` — WAL, `synchronous=FULL`,
/// foreign keys, one writer connection whose waiting writes share one `BEGIN IMMEDIATE … COMMIT`
/// (Storage's group commit), and reader connections beside it. What differs is the driver: each
/// connection keeps its prepared statements (up to ``StatementCache/capacity`` texts) and runs
/// them on its own serial queue, where SQLiteNIO prepares every statement again and hands each
/// value through `Codable`.
public final class GRDBDatabase: SQLiteFile, Sendable {
    public let engine = Engine.sqlite
    public let claimClause = ""
    public let exclusiveTransactionLock: String? = nil
    public let path: String
    private let writer: GRDBConnection
    private let readers: [GRDBConnection]
    public let access: SQLiteAccess

    private init(path: String, writer: GRDBConnection, readers: [GRDBConnection]) {
        self.path = path
        self.writer = writer
        self.readers = readers
        self.access = SQLiteAccess(
            writer: GRDBSession(connection: writer), readers: readers.map { GRDBSession(connection: $0) }, failure: Self.failure)
    }

    /// Opens (creating if missing) the database file at `path`.
    public static func open(path: String, readers: Int = 4, logger: Logger = Logger(label: "patron.sqlite")) async throws -> GRDBDatabase {
        do {
            var configuration = Configuration()
            configuration.busyMode = .timeout(10)
            configuration.allowsUnsafeTransactions = true  // group commit's transaction spans several accesses
            configuration.foreignKeysEnabled = true
            configuration.label = "patron.writer"
            configuration.prepareDatabase { db in
                for pragma in [
                    "PRAGMA page_size=8192", "PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL",
                    "PRAGMA cache_size=-262144", "PRAGMA temp_store=MEMORY",
                ] {
                    try SQLiteSetUp.retrying(Self.failure) { _ = try Row.fetchAll(db, sql: pragma) }
                }
                db.add(function: distance)
            }
            let writer = GRDBConnection(queue: try DatabaseQueue(path: path, configuration: configuration), logger: logger)
            var readerConnections: [GRDBConnection] = []
            for index in 0..<max(readers, 1) {
                var reading = Configuration()
                reading.busyMode = .timeout(10)
                reading.readonly = true
                reading.allowsUnsafeTransactions = true
                reading.label = "patron.reader.\(index)"
                reading.prepareDatabase { db in
                    try db.execute(sql: "PRAGMA cache_size=-262144")
                    db.add(function: distance)
                }
                readerConnections.append(GRDBConnection(queue: try DatabaseQueue(path: path, configuration: reading), logger: logger))
            }
            return GRDBDatabase(path: path, writer: writer, readers: readerConnections)
        } catch {
            throw Self.failure(error)
        }
    }

    /// `patron_distance_km`, as on the other driver (``SQLiteDatabase``).
    static let distance = DatabaseFunction("patron_distance_km", argumentCount: 4, pure: true) { values in
        let numbers = values.map { value -> Double? in
            switch value.storage {
            case .double(let v): v
            case .int64(let v): Double(v)
            default: nil
            }
        }
        guard numbers.count == 4, let a = numbers[0], let b = numbers[1], let c = numbers[2], let d = numbers[3] else { return nil }
        return Evaluator.haversineKilometres(a, b, c, d)
    }

    /// The error callers see for an error from SQLite, named as ``SQLiteDatabase`` names them.
    static func failure(_ error: any Error) -> any Error {
        guard let error = error as? DatabaseError else { return error }
        let message = error.message ?? "\(error)"
        let detail = "SQLite \(error.resultCode): \(message)"
        switch error.resultCode {
        case .SQLITE_FULL: return DatabaseFailure.full(detail)
        case .SQLITE_BUSY, .SQLITE_LOCKED: return DatabaseFailure.contention(detail)
        case .SQLITE_IOERR, .SQLITE_CANTOPEN, .SQLITE_READONLY, .SQLITE_PERM: return DatabaseFailure.unavailable(detail)
        default: return DatabaseFailure.failed(code: "SQLite \(error.resultCode)", message: message)
        }
    }

    public func close() async throws {
        for connection in readers + [writer] {
            let statements = connection.statements
            try await connection.queue.writeWithoutTransaction { _ in statements.clear() }
            try connection.queue.close()
        }
    }
}
