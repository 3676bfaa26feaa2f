import Foundation
import SQLKit
import SharedModels
import Storage
import Testing

@testable import StoragePostgres

/// The PostgreSQL engine against a real server (`PATRON_TEST_POSTGRES_URL`; skipped without one):
/// concurrent transactions that fail leave no trace, and an unreachable server is refused at open.
@Suite struct PostgresDatabaseTests {
    struct Refused: Error, Equatable {}
    static let url = ProcessInfo.processInfo.environment["PATRON_TEST_POSTGRES_URL"]

    @Test("64 concurrent transactions on a pool of 8: the failing ones roll back, the others all commit", .enabled(if: url != nil))
    func concurrentTransactions() async throws {
        let db = try await PostgresDatabase.open(url: Self.url!, maxConnections: 8)
        let table = "pgtest_\(UInt32.random(in: 0...UInt32.max))"
        do {
            try await db.write { try await $0.raw("CREATE TABLE \(unsafeRaw: table) (n INTEGER PRIMARY KEY)").run() }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for n in 0..<64 {
                    group.addTask {
                        try? await db.write { sql in
                            try await sql.raw("INSERT INTO \(unsafeRaw: table) (n) VALUES (\(bind: n))").run()
                            if n % 4 == 0 { throw Refused() }
                        }
                    }
                }
                try await group.waitForAll()
            }
            let rows = try await db.read { try await $0.raw("SELECT n FROM \(unsafeRaw: table)").all().map { try $0.decode(column: "n", as: Int.self) } }
            #expect(rows.count == 48 && rows.allSatisfy { $0 % 4 != 0 })
            try await db.write { try await $0.raw("DROP TABLE \(unsafeRaw: table)").run() }
            try await db.close()
        } catch {
            try? await db.close()
            throw error
        }
    }

    @Test("a server nobody answers on is refused at open")
    func unreachable() async throws {
        await #expect(throws: (any Error).self) {
            _ = try await PostgresDatabase.open(url: "postgres://postgres@127.0.0.1:9/none?sslmode=disable&connect_timeout=2")
        }
    }
}
