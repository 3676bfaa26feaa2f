import App
import Foundation
import Logging
import SQLKit
import SharedModels
import Storage
import StoragePostgres
import StorageSQLite

/// The engines storage tests run on: SQLite always, PostgreSQL when `PATRON_TEST_POSTGRES_URL` is set.
public enum TestEngine: String, Sendable, CaseIterable, CustomStringConvertible {
    case sqlite
    case postgres

    public var description: String { rawValue }

    /// SQLite, plus PostgreSQL when a test server is configured.
    public static var available: [TestEngine] {
        ProcessInfo.processInfo.environment["PATRON_TEST_POSTGRES_URL"] == nil ? [.sqlite] : [.sqlite, .postgres]
    }
}

/// A clock the test moves by hand.
public final class TestClock: @unchecked Sendable {
    private let lock = NSLock()
    private var current: Date

    public init(_ start: Date = Date(timeIntervalSince1970: 1_767_225_600)) { current = start }  // 2026-01-01T00:00:00Z

    public var now: Date { lock.withLock { current } }
    public func advance(by seconds: TimeInterval) { lock.withLock { current = current.addingTimeInterval(seconds) } }
    public func advance(days: Int) { advance(by: TimeInterval(days) * 86_400) }
    public var clock: Clock { Clock { [self] in now } }
}

/// A fresh, migrated database for one test: a new SQLite file in a temporary directory, or a new
/// PostgreSQL database created on the test server and dropped afterwards.
public enum TestDatabase {
    /// A database could not be set up; with PostgreSQL's own description, which it hides otherwise.
    enum TestDatabaseError: Error { case setUp(String) }

    static func quiet() -> Logger {
        var logger = Logger(label: "patron.test")
        logger.logLevel = .warning
        return logger
    }

    /// Opens a migrated ``Patron`` on `engine`, runs `body`, then closes and removes the database.
    public static func withPatron<T>(
        _ engine: TestEngine, clock: TestClock = TestClock(), settings adjust: (inout Settings) -> Void = { _ in },
        _ body: (Patron) async throws -> T
    ) async throws -> T {
        var settings = Settings(bcryptCost: 4, clock: clock.clock)
        adjust(&settings)
        return try await withDatabase(engine, migrated: true) { location in
            let patron: Patron
            do {
                patron = try await Patron.open(location, settings: settings, logger: quiet())
            } catch {
                throw TestDatabaseError.setUp(String(reflecting: error))
            }
            return try await patron.closing(after: body)
        }
    }

    /// Makes an empty database on `engine` (a new SQLite file in a temporary directory, or a new
    /// PostgreSQL database on the test server), runs `body` with where it is, then removes it.
    public static func withEmptyDatabase<T>(_ engine: TestEngine, _ body: (DatabaseLocation) async throws -> T) async throws -> T {
        try await withDatabase(engine, migrated: false, body)
    }

    /// `withEmptyDatabase`, or on PostgreSQL, when `migrated`, a copy of a database migrated once
    /// for this test process (``MigratedTemplate``).
    static func withDatabase<T>(_ engine: TestEngine, migrated: Bool, _ body: (DatabaseLocation) async throws -> T) async throws -> T {
        switch engine {
        case .sqlite:
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("patron-test-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            return try await body(.sqlite(path: directory.appendingPathComponent("test.sqlite").path))
        case .postgres:
            // scripts/with-postgres.sh sets PATRON_PG_POOL_TIMEOUT=60 (never setenv here: it
            // races every thread reading the environment).
            let base = ProcessInfo.processInfo.environment["PATRON_TEST_POSTGRES_URL"]!
            let name = "patron_t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
            let template = migrated ? try await MigratedTemplate.shared.name(base: base) : nil
            let admin = try await PostgresDatabase.open(url: base, maxConnections: 1, logger: quiet())
            // Many tests create databases at once; PostgreSQL may refuse one while it copies the template for another.
            for attempt in 1...5 {
                do {
                    try await admin.createDatabase(name, template: template)
                    break
                } catch  where attempt < 5 {
                    try await Task.sleep(for: .milliseconds(100 * attempt))
                } catch {
                    throw TestDatabaseError.setUp(String(reflecting: error))
                }
            }
            do {
                let result = try await body(.postgres(url: replacingDatabase(in: base, with: name)))
                try await admin.dropDatabase(name)
                try await admin.close()
                return result
            } catch {
                try? await admin.dropDatabase(name)
                try? await admin.close()
                throw error
            }
        }
    }

    /// `postgres://u@h:p/old?x` → `postgres://u@h:p/new?x`.
    public static func replacingDatabase(in url: String, with name: String) -> String {
        guard var components = URLComponents(string: url) else { return url }
        components.path = "/" + name
        return components.string ?? url
    }
}

/// The database each PostgreSQL test's migrated database is copied from: made and migrated once per
/// test process, then closed to connections (a template being read by anyone cannot be copied).
///
/// Migrating a new database for every test wrote 3.3 MB of WAL and the empty database 4.3 MB more;
/// the suite wrote 2.5 GB, and the streaming replica of the read-replica tests fell behind by
/// hundreds of megabytes, more than it replayed in a minute on a loaded machine (CI failed so).
/// A copy file by file writes a few hundred bytes of WAL.
actor MigratedTemplate {
    static let shared = MigratedTemplate()
    private var made: Task<String, any Error>?

    func name(base: String) async throws -> String {
        if let made { return try await made.value }
        let task = Task { try await Self.make(base: base) }
        made = task
        return try await task.value
    }

    /// Named with the hour it was made, so a later process drops templates more than a day old
    /// (a test server that outlives its runs, not scripts/with-postgres.sh's, keeps no pile of them).
    private static func make(base: String) async throws -> String {
        let admin = try await PostgresDatabase.open(url: base, maxConnections: 1, logger: TestDatabase.quiet())
        do {
            let hour = Int(Date().timeIntervalSince1970 / 3600)
            let stale = try await admin.read { db in
                try await db.raw("SELECT datname FROM pg_database WHERE starts_with(datname, 'patron_template_')").all()
                    .map { try $0.decode(column: "datname", as: String.self) }
            }
            for old in stale {
                if let made = old.split(separator: "_").dropFirst(2).first.flatMap({ Int($0) }), made < hour - 24 {
                    try? await admin.dropDatabase(old)
                }
            }
            let name = "patron_template_\(hour)_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased()
            try await admin.createDatabase(name)
            let database = try await PostgresDatabase.open(
                url: TestDatabase.replacingDatabase(in: base, with: name), maxConnections: 1, logger: TestDatabase.quiet())
            do {
                try await Migrations.run(on: database)
                try await database.close()
            } catch {
                try? await database.close()
                throw error
            }
            _ = try await admin.read { db in try await db.raw(SQLQueryString("ALTER DATABASE " + name + " ALLOW_CONNECTIONS false")).run() }
            try await admin.close()
            return name
        } catch {
            try? await admin.close()
            throw TestDatabase.TestDatabaseError.setUp(String(reflecting: error))
        }
    }
}
