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

    @Test("a URL naming several servers: each keeps the user, database and options; target_session_attrs and connect_timeout are read")
    func serverList() throws {
        let list = try ServerList(url: "postgres://app:s%2Fcret@db1:5432,db2:5433,[::1]:5434/patron?sslmode=disable&target_session_attrs=read-write&connect_timeout=3")
        #expect(list.urls == [
            "postgres://app:s%2Fcret@db1:5432/patron?sslmode=disable", "postgres://app:s%2Fcret@db2:5433/patron?sslmode=disable",
            "postgres://app:s%2Fcret@[::1]:5434/patron?sslmode=disable",
        ])
        #expect(list.target == .readWrite && list.connectTimeout == 3)
        #expect(try ServerList(url: "postgres://postgres@127.0.0.1:5432/x").urls == ["postgres://postgres@127.0.0.1:5432/x"])
        #expect(try ServerList(url: "postgres://postgres@h1,h2/x").target == .any)
        #expect(throws: DatabaseFailure.self) { try ServerList(url: "postgres://u@h1:1,h2:2/x?target_session_attrs=leader") }
        #expect(throws: DatabaseFailure.self) { try ServerList(url: "postgres://u@h1:1,,h2:2/x") }
        #expect(throws: DatabaseFailure.self) { try ServerList(url: "postgres://u@h1/x?connect_timeout=0") }
    }

    @Test("several servers: the first that answers and accepts writes is used; none accepting writes is refused", .enabled(if: url != nil))
    func multiHost() async throws {
        // The real server second, after a port nobody listens on: found by itself.
        let real = try #require(URLComponents(string: Self.url!))
        let twoHosts = "postgres://\(real.user!)@127.0.0.1:9,\(real.host!):\(real.port!)\(real.path)?sslmode=disable&target_session_attrs=read-write"
        let db = try await PostgresDatabase.open(url: twoHosts, maxConnections: 2)
        let writable = try await db.write { try await $0.raw("SELECT current_setting('transaction_read_only') AS ro").first()?.decode(column: "ro", as: String.self) }
        #expect(writable == "off")
        try await db.close()
        // A primary is not a standby: asking only for standbys finds none.
        let standbyOnly = "postgres://\(real.user!)@\(real.host!):\(real.port!)\(real.path)?sslmode=disable&target_session_attrs=standby"
        await #expect(throws: DatabaseFailure.self) { _ = try await PostgresDatabase.open(url: standbyOnly, maxConnections: 1) }
    }

    @Test("COPY carries every text as it is: tabs, newlines, backslashes, \\N, quotes and non-ASCII; nil as NULL", .enabled(if: url != nil))
    func copyEscapes() async throws {
        let db = try await PostgresDatabase.open(url: Self.url!, maxConnections: 1)
        let table = "copytest_\(UInt32.random(in: 0...UInt32.max))"
        let texts = ["a\tb", "line\nbreak\r", #"back\slash"#, #"\N"#, "'quoted' \"double\"", "Zoë 東京 🎉", "", "plain"]
        var built: [[SQLValue]] = []
        for n in 0..<200 {
            let text: SQLValue = n % 9 == 8 ? .null : .text(texts[n % 9])
            built.append([.integer(Int64(n)), text, .real(Double(n) / 3)])
        }
        let rows = built
        do {
            try await db.write { try await $0.raw("CREATE TABLE \(unsafeRaw: table) (n BIGINT PRIMARY KEY, t TEXT, r DOUBLE PRECISION)").run() }
            let copied = try await db.write { sql in try await (sql as! any BulkInserting).copyRows(into: table, columns: ["n", "t", "r"], rows: rows) }
            #expect(copied)
            let back = try await db.read { sql in
                try await sql.raw("SELECT n, t, r FROM \(unsafeRaw: table) ORDER BY n").all().map {
                    [SQLValue.integer(try $0.decode(column: "n", as: Int64.self)), SQLValue(try $0.decode(column: "t", as: String?.self)),
                     SQLValue.real(try $0.decode(column: "r", as: Double.self))]
                }
            }
            #expect(back == rows)
            try await db.write { try await $0.raw("DROP TABLE \(unsafeRaw: table)").run() }
            try await db.close()
        } catch {
            try? await db.close()
            throw error
        }
    }
}
