import App
import Foundation
import Logging
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
        return try await withEmptyDatabase(engine) { location in
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
            let admin = try await PostgresDatabase.open(url: base, maxConnections: 1, logger: quiet())
            // Many tests create databases at once; PostgreSQL may refuse one while it copies the template for another.
            for attempt in 1...5 {
                do {
                    try await admin.createDatabase(name)
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
