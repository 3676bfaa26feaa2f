import Foundation
import SQLKit
import SharedModels
@testable import Storage
import Testing

import StorageGRDB
import StorageSQLite

/// The SQLite engine on a real file, through either driver (SQLiteNIO, GRDB.swift): writes
/// grouped into one commit still succeed or fail one by one, readers cannot write, and SQLite's
/// errors reach callers as ``DatabaseFailure``s.
@Suite struct SQLiteDatabaseTests {
    struct Refused: Error, Equatable {}

    enum Driver: String, CaseIterable, Sendable {
        case sqliteNIO, grdb

        func open(_ path: String) async throws -> any SQLiteFile {
            switch self {
            case .sqliteNIO: try await SQLiteDatabase.open(path: path)
            case .grdb: try await GRDBDatabase.open(path: path)
            }
        }
    }

    func withFile<T>(_ driver: Driver, _ body: (any SQLiteFile) async throws -> T) async throws -> T {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("patron-sqlite-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = try await driver.open(dir.appendingPathComponent("t.sqlite").path)
        do {
            let result = try await body(db)
            try await db.close()
            return result
        } catch {
            try? await db.close()
            throw error
        }
    }

    @Test("200 concurrent writes grouped into commits: the ones that fail leave no trace, the others all land", arguments: Driver.allCases)
    func groupCommit(driver: Driver) async throws {
        try await withFile(driver) { db in
            try await db.write { try await $0.raw("CREATE TABLE t (n INTEGER PRIMARY KEY)").run() }
            try await withThrowingTaskGroup(of: Bool.self) { group in
                for n in 0..<200 {
                    group.addTask {
                        do {
                            try await db.write { sql in
                                try await sql.raw("INSERT INTO t (n) VALUES (\(bind: n))").run()
                                if n % 7 == 0 { throw Refused() }  // a domain error after the insert: this one only is undone
                            }
                            return true
                        } catch is Refused { return false }
                    }
                }
                var landed = 0
                for try await ok in group where ok { landed += 1 }
                #expect(landed == 200 - 29)
            }
            let rows = try await db.read { try await $0.raw("SELECT n FROM t ORDER BY n").all().map { try $0.decode(column: "n", as: Int.self) } }
            #expect(rows.count == 171 && rows.allSatisfy { $0 % 7 != 0 })
        }
    }

    @Test("readers are read-only; a constraint failure is the database's error, named", arguments: Driver.allCases)
    func readersAndFailures(driver: Driver) async throws {
        try await withFile(driver) { db in
            try await db.write { try await $0.raw("CREATE TABLE t (n INTEGER PRIMARY KEY)").run() }
            await #expect(throws: (any Error).self) { try await db.read { try await $0.raw("INSERT INTO t (n) VALUES (1)").run() } }
            try await db.write { try await $0.raw("INSERT INTO t (n) VALUES (1)").run() }
            do {
                try await db.write { try await $0.raw("INSERT INTO t (n) VALUES (1)").run() }
                Issue.record("a duplicate key was written")
            } catch let failure as DatabaseFailure {
                #expect("\(failure)".contains("UNIQUE") || "\(failure)".contains("constraint"), "\(failure)")
            }
            let count = try await db.read { try await $0.raw("SELECT COUNT(*) AS c FROM t").first()!.decode(column: "c", as: Int.self) }
            #expect(count == 1)
        }
    }

    /// Regression: GRDB keeps a statement prepared for its next use, and SQLite keeps a failed
    /// statement's error until it is reset — GRDB's binding resets with `try!`, so the next bulk
    /// insert of the same shape after one refused by a constraint crashed the process.
    @Test("a bulk insert refused by a constraint leaves the next one of the same shape to succeed", arguments: Driver.allCases)
    func bulkInsertAfterRefusal(driver: Driver) async throws {
        try await withFile(driver) { db in
            try await db.write { try await $0.raw("CREATE TABLE t (n INTEGER PRIMARY KEY, m INTEGER NOT NULL CHECK (m > 0))").run() }
            @Sendable func rows(_ from: Int64, last: Int64) -> [[SQLValue]] { (from..<from + 50).map { [.integer($0), .integer($0 == from + 49 ? last : 1)] } }
            for _ in 0..<2 {
                await #expect(throws: (any Error).self) {
                    try await db.write { sql in
                        let bulk = try #require(sql as? any BulkInserting)
                        _ = try await bulk.bulkInsert(into: "t", columns: ["n", "m"], rows: rows(0, last: -1)[...], suffix: "", returning: [])
                    }
                }
            }
            try await db.write { sql in
                let bulk = try #require(sql as? any BulkInserting)
                _ = try await bulk.bulkInsert(into: "t", columns: ["n", "m"], rows: rows(100, last: 1)[...], suffix: "", returning: [])
                let back = try await bulk.bulkInsert(into: "t", columns: ["n", "m"], rows: rows(200, last: 1)[...], suffix: " RETURNING n", returning: ["n"])
                #expect(back.count == 50)
            }
            let count = try await db.read { try await $0.raw("SELECT COUNT(*) AS c FROM t").first()!.decode(column: "c", as: Int.self) }
            #expect(count == 100)
        }
    }

    /// Both drivers run a new connection's set-up statements through ``SQLiteSetUp`` (GRDB's
    /// alone did, after `MigrationTests`' servers starting together failed 1 run in 12 with
    /// "database is locked" while switching a new file to WAL; SQLiteNIO's could fail the same way).
    @Test("a set-up statement refused with contention is run again until it passes; any other error, or contention past the bound, stops the open")
    func setUpRetries() async throws {
        struct Locked: Error {}
        let failure: (any Error) -> any Error = { $0 is Locked ? DatabaseFailure.contention("SQLite 5: database is locked") : $0 }
        var tries = 0
        try SQLiteSetUp.retrying(failure) {
            tries += 1
            if tries < 4 { throw Locked() }
        }
        #expect(tries == 4)
        tries = 0
        try await SQLiteSetUp.retrying(failure) {
            tries += 1
            try await Task.sleep(nanoseconds: 1_000)
            if tries < 3 { throw Locked() }
        }
        #expect(tries == 3)
        tries = 0
        #expect(throws: Refused.self) {
            try SQLiteSetUp.retrying(failure) {
                tries += 1
                throw Refused()
            }
        }
        #expect(tries == 1, "an error that is not contention is not tried again")
        #expect(SQLiteSetUp.again(after: DatabaseFailure.contention(""), attempt: SQLiteSetUp.attempts - 1))
        #expect(!SQLiteSetUp.again(after: DatabaseFailure.contention(""), attempt: SQLiteSetUp.attempts), "about ten seconds, then the open fails")
        #expect(!SQLiteSetUp.again(after: DatabaseFailure.full(""), attempt: 1))
    }

    @Test("a file that cannot be opened is refused at open, not at the first request", arguments: Driver.allCases)
    func unopenable(driver: Driver) async throws {
        await #expect(throws: (any Error).self) { _ = try await driver.open("/proc/no-such-dir/patron.sqlite") }
    }

    @Test("the GRDB driver reads values as the SQLiteNIO driver does: whole numbers, reals, text, NULL, booleans, JSON and typed ids")
    func sameValues() async throws {
        struct Tags: Codable, Equatable { var names: [String] }
        var seen: [String] = []
        for driver in Driver.allCases {
            let row = try await withFile(driver) { db in
                try await db.write { try await $0.raw("CREATE TABLE v (i INTEGER, r REAL, t TEXT, n TEXT, b INTEGER, j TEXT)").run() }
                try await db.write {
                    try await $0.raw(
                        "INSERT INTO v VALUES (\(bind: Int64.max), \(bind: 2.5), \(bind: "née ☕"), \(bind: nil as String?), \(bind: true), \(bind: "{\"names\":[\"a\",\"b\"]}"))"
                    ).run()
                }
                return try await db.read { db -> String in
                    let row = try await db.raw("SELECT * FROM v").first()!
                    let tags = try JSONDecoder().decode(Tags.self, from: Data(try row.decode(column: "j", as: String.self).utf8))
                    return [
                        "\(try row.decode(column: "i", as: Int64.self))", "\(try row.decode(column: "r", as: Double.self))",
                        try row.decode(column: "t", as: String.self), "\(try row.decode(column: "n", as: String?.self) as Any)",
                        "\(try row.decode(column: "b", as: Bool.self))", "\(try row.decode(column: "i", as: Int64?.self) as Any)",
                        "\(try row.decodeNil(column: "n"))", tags.names.joined(separator: ","),
                        "\(try row.decode(column: "b", as: ID<Tags>.self).rawValue)",
                    ].joined(separator: "|")
                }
            }
            seen.append(row)
        }
        #expect(seen[0] == seen[1], "SQLiteNIO: \(seen[0]); GRDB: \(seen[1])")
    }
}
