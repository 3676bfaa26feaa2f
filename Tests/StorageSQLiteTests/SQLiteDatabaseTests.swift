import Foundation
import SQLKit
import SharedModels
import Storage
import Testing

@testable import StorageSQLite

/// The SQLite engine on a real file: writes grouped into one commit still succeed or fail one by
/// one, readers cannot write, and SQLite's errors reach callers as ``DatabaseFailure``s.
@Suite struct SQLiteDatabaseTests {
    struct Refused: Error, Equatable {}

    func withFile<T>(_ body: (SQLiteDatabase) async throws -> T) async throws -> T {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("patron-sqlite-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = try await SQLiteDatabase.open(path: dir.appendingPathComponent("t.sqlite").path)
        do {
            let result = try await body(db)
            try await db.close()
            return result
        } catch {
            try? await db.close()
            throw error
        }
    }

    @Test("200 concurrent writes grouped into commits: the ones that fail leave no trace, the others all land")
    func groupCommit() async throws {
        try await withFile { db in
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

    @Test("readers are read-only; a constraint failure is the database's error, named")
    func readersAndFailures() async throws {
        try await withFile { db in
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

    @Test("a file that cannot be opened is refused at open, not at the first request")
    func unopenable() async throws {
        await #expect(throws: (any Error).self) { _ = try await SQLiteDatabase.open(path: "/proc/no-such-dir/patron.sqlite") }
    }
}
