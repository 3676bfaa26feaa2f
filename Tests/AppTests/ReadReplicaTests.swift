import Access
import App
import Campaigns
import Customers
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import SQLKit
import SharedModels
import Storage
import StoragePostgres
import TestSupport
import Testing

/// `--read-database`: a real streaming replica of the test server (`PATRON_TEST_POSTGRES_REPLICA_URL`,
/// started by scripts/with-postgres.sh) answers segment counts and list views; writes and the
/// page after a form stay on the primary. The replica is shown to answer by pausing its replay:
/// what the primary has and the replica does not yet is missing from what it serves.
@Suite struct ReadReplicaTests {
    static let replicaBase = ProcessInfo.processInfo.environment["PATRON_TEST_POSTGRES_REPLICA_URL"]

    /// Polls until `done` holds, for up to `seconds`.
    static func eventually(_ seconds: Double = 20, _ done: () async throws -> Bool) async throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if (try? await done()) == true { return true }
            try await Task.sleep(nanoseconds: 100_000_000)
        }
        return false
    }

    /// Until the replica has replayed everything the primary has written so far (a minute: under the
    /// whole suite's load on two cores the replica can lag by seconds). When it has not, the
    /// replica's own account of its stream is recorded, so a failure says why.
    static func caughtUp(primary: any Database, replica: any Database) async throws -> Bool {
        let lsn = try await primary.read { try await $0.raw("SELECT pg_current_wal_lsn()::text AS l").first()!.decode(column: "l", as: String.self) }
        let done = try await eventually(60) {
            try await replica.read {
                try await $0.raw("SELECT pg_last_wal_replay_lsn() >= \(bind: lsn)::pg_lsn AS ok").first()!.decode(column: "ok", as: Bool.self)
            }
        }
        if !done {
            let state = try? await replica.read {
                try await $0.raw("""
                    SELECT COALESCE((SELECT status FROM pg_stat_wal_receiver), 'no WAL receiver') AS status,
                           COALESCE(pg_last_wal_replay_lsn()::text, '') AS replayed,
                           pg_is_wal_replay_paused() AS paused
                    """).first().map { row in
                    "receiver \((try? row.decode(column: "status", as: String.self)) ?? "?"), replayed \((try? row.decode(column: "replayed", as: String.self)) ?? "?"), paused \((try? row.decode(column: "paused", as: Bool.self)) ?? false)"
                }
            }
            Issue.record("the replica did not reach the primary's \(lsn): \((state ?? nil) ?? "the replica did not answer")")
        }
        return done
    }

    static func person(_ n: Int) -> ProfileDraft { ProfileDraft(firstName: "Replica\(n)", lastName: "Reader", emails: ["r\(n)@replica.example"]) }

    @Test("a segment count and the console's customer list come from the replica; the page after a form, and writes, from the primary",
        .enabled(if: replicaBase != nil && TestEngine.available.contains(.postgres)))
    func servedByReplica() async throws {
        try await TestDatabase.withEmptyDatabase(.postgres) { location in
            guard case .postgres(let url) = location, let name = URLComponents(string: url)?.path.dropFirst() else { return }
            let replicaURL = TestDatabase.replacingDatabase(in: Self.replicaBase!, with: String(name))
            // The new database reaches the replica by streaming replication.
            #expect(try await Self.eventually { (try? await PostgresDatabase.open(url: replicaURL, maxConnections: 1).close()) != nil })
            let probe = try await PostgresDatabase.open(url: replicaURL, maxConnections: 2)
            let p = try await Patron.open(location, readReplica: .postgres(url: replicaURL), settings: Settings(bcryptCost: 4))
            do {
                #expect(p.hasReadReplica)
                _ = try await p.access.addUser(email: "agent@replica.example", password: "agent-password", role: .agent)
                for n in 1...3 { _ = try await p.customers.create(Self.person(n)) }
                _ = try await p.segments.refresh()
                #expect(try await Self.caughtUp(primary: p.database, replica: probe))
                #expect(try await p.segments.count(rule: "completeness >= 0").count == 3)

                // The replica stops replaying; two more customers arrive on the primary.
                try await probe.read { try await $0.raw("SELECT pg_wal_replay_pause()").run() }
                for n in 4...5 { _ = try await p.customers.create(Self.person(n)) }
                _ = try await p.segments.refresh()
                #expect(try await p.segments.count(rule: "completeness >= 0").count == 3, "the count is the replica's")
                let fresh = try await ReplicaReads.$primaryOnly.withValue(true) { try await p.segments.count(rule: "completeness >= 0").count }
                #expect(fresh == 5, "a read that must see its own writes goes to the primary")

                // The console: the list is the replica's, but a browser that just posted a form reads the primary.
                let app = Application(router: try buildRouter(patron: p))
                try await app.test(.router) { client in
                    let agent = try await WebVisitor.signIn(client, "console", "email=agent%40replica.example&password=agent-password")
                    let list = try await agent.get("/console/customers")
                    #expect(list.body.contains("Replica3") && !list.body.contains("Replica5"), "the list is the replica's")
                    // A form that succeeds sets the cookie that keeps this browser's reads on the primary for a while.
                    let page = try await agent.get("/console/customers")
                    let csrf = try #require(page.body.firstMatch(of: /name="_csrf" value="([0-9a-f.]+)"/)?.output.1)
                    let posted = try await client.execute(
                        uri: "/console/views", method: .post,
                        headers: [.cookie: agent.cookie, .contentType: "application/x-www-form-urlencoded"],
                        body: ByteBuffer(string: "_csrf=\(csrf)&path=%2Fconsole%2Fcustomers&query=sort%3Dsince&name=Newest")
                    ) { $0.headers[values: .setCookie].first { $0.hasPrefix("patron_wrote=") } }
                    let wrote = try #require(posted, "a successful form post marks the browser")
                    let after = try await client.execute(
                        uri: "/console/customers", method: .get, headers: [.cookie: agent.cookie + "; " + wrote.split(separator: ";")[0]]
                    ) { String(buffer: $0.body) }
                    #expect(after.contains("Replica5"), "the page after a form is the primary's")
                }

                // Replay resumes: the replica catches up and answers the new count.
                try await probe.read { try await $0.raw("SELECT pg_wal_replay_resume()").run() }
                #expect(try await Self.caughtUp(primary: p.database, replica: probe))
                #expect(try await p.segments.count(rule: "completeness >= 0").count == 5)
                try await probe.close()
                try await p.close()
            } catch {
                try? await probe.read { try await $0.raw("SELECT pg_wal_replay_resume()").run() }
                try? await probe.close()
                try? await p.close()
                throw error
            }
        }
    }

    @Test("a replica that does not answer: its reads go to the primary", .enabled(if: TestEngine.available.contains(.postgres)))
    func replicaDown() async throws {
        try await TestDatabase.withPatron(.postgres) { p in
            _ = try await p.customers.create(Self.person(1))
            _ = try await p.segments.refresh()
            let dead = try await PostgresDatabase.open(url: ProcessInfo.processInfo.environment["PATRON_TEST_POSTGRES_URL"]!, maxConnections: 1)
            try await dead.close()
            let replicated = ReplicatedDatabase(primary: p.database, replica: dead, logger: .init(label: "test"))
            let n = try await replicated.readFromReplica { try await $0.raw("SELECT COUNT(*) AS n FROM segment_facts").first()!.decode(column: "n", as: Int.self) }
            #expect(n == 1)
        }
    }
}
