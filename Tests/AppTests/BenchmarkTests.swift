import App
@testable import Demo
import Foundation
import Loyalty
import SQLKit
import SharedModels
import Storage
import TestSupport
import Testing

/// The benchmarks measure what a user would do: a benchmark whose requests are refused measures nothing.
@Suite struct BenchmarkTests {
    @Test("Regression: bench accrual's purchases over HTTP are all accepted (its till records only at its partner's outlets)")
    func accrualOverHTTP() async throws {
        try await TestDatabase.withPatron(.sqlite) { patron in
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bench-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let result = try await AccrualBenchmark(customers: 50, batchTransactions: 200, httpTransactions: 40, connections: 4)
                .run(patron: patron, directory: directory) { _ in }
            #expect(result.httpFailures == 0)
            #expect(result.ledger.violations.isEmpty)
            // Redemptions by the same clients are all accepted and timed (#18's redemption latency).
            #expect(result.redemptions == 4 * 50 && result.redemptionFailures == 0)
            #expect(result.redemptionP99 >= result.redemptionP50 && result.redemptionP50 > 0)
        }
    }

    /// #18's many servers: `patron bench servers` starts `patron serve --role web` twice (and a
    /// worker) on one PostgreSQL database and spreads its clients' purchases over them.
    @Test("two web servers and a worker on one PostgreSQL take purchases spread over both: every one accepted and recorded once, the ledger consistent",
        .enabled(if: TestEngine.available.contains(.postgres)))
    func twoServers() async throws {
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("patron").path
        try #require(FileManager.default.isExecutableFile(atPath: executable), "swift build --build-tests builds the patron executable beside the tests")
        try await TestDatabase.withEmptyDatabase(.postgres) { location in
            guard case .postgres(let url) = location else { return }
            let patron = try await Patron.open(location, settings: Settings(bcryptCost: 4))
            try await patron.closing { patron in
                let bench = ServersBenchmark(databaseURL: url, executable: executable, customers: 30, purchases: 120, connections: 4, servers: 2, cpuPerServer: nil, rounds: 1)
                let result = try await bench.run(patron: patron) { _ in }
                #expect(result.formations.map(\.servers) == [1, 2])
                #expect(result.formations.allSatisfy { $0.failures == 0 && $0.perSecond > 0 })
                #expect(result.formations[1].serverCores.count == 2 && result.formations[1].serverCores.allSatisfy { $0 > 0 }, "both servers answered")
                #expect(result.ledger.violations.isEmpty)
                // Warm-ups (4 connections × 20) and measured runs (120) of both formations, each recorded once.
                let recorded = try await patron.database.read { db in
                    try await db.raw("SELECT count(*) AS n, count(DISTINCT external_id) AS d FROM transactions").first()!
                }
                #expect(try recorded.decode(column: "n", as: Int64.self) == 2 * (80 + 120))
                #expect(try recorded.decode(column: "d", as: Int64.self) == 2 * (80 + 120))
            }
        }
    }

    /// The cap that lets one machine show what a second server adds (`bench servers --cpu-per-server`).
    /// The machine is shared with the other tests, so what a spinner gets uncapped varies: the cap
    /// is checked as a ceiling, beside an uncapped spinner running at the same time.
    @Test("a process in a CPU cap of a tenth of a core uses no more than that, beside one uncapped", .enabled(if: CPUCap(name: "patron-test-probe-\(getpid())", cores: 1).map { $0.remove(); return true } ?? false))
    func cpuCap() async throws {
        let cap = try #require(CPUCap(name: "patron-test-cap-\(getpid())-\(UUID().uuidString.prefix(8))", cores: 0.1))
        defer { cap.remove() }
        let capped = try ChildProcess(executable: "/bin/sh", arguments: ["-c", "while :; do :; done"])
        let free = try ChildProcess(executable: "/bin/sh", arguments: ["-c", "while :; do :; done"])
        #expect(cap.add(capped.pid))
        let started = ContinuousClock.now
        let before = (processCPUSeconds(capped.pid) ?? 0, processCPUSeconds(free.pid) ?? 0)
        try await Task.sleep(for: .seconds(2))
        let used = ((processCPUSeconds(capped.pid) ?? 0) - before.0, (processCPUSeconds(free.pid) ?? 0) - before.1)
        // The sleep may last far longer than asked on a loaded machine (CI ran it for 7 s): the
        // ceiling is of the time that passed.
        let seconds = (ContinuousClock.now - started).milliseconds / 1000
        #expect(capped.terminate(grace: .seconds(2)) == 128 + SIGTERM)
        #expect(free.terminate(grace: .seconds(2)) == 128 + SIGTERM)
        #expect(used.0 > 0 && used.0 <= 0.1 * seconds + 0.15, "\(used.0) CPU seconds in \(seconds) s under a cap of 0.1 cores")
        #expect(used.1 > used.0 || used.1 < 0.1 * seconds + 0.15, "uncapped \(used.1) s against capped \(used.0) s in \(seconds) s")
    }

    @Test("pgbench's summary line is read as TPS")
    func pgbenchOutput() {
        let output = """
            number of transactions actually processed: 24870
            latency average = 12.865 ms
            initial connection time = 27.135 ms
            tps = 2487.325066 (without initial connection time)
            """
        #expect(PgBench.parseTPS(output) == 2487.325066)
        #expect(PgBench.parseTPS("no tps here") == nil)
    }

    /// `bench accrual --connections 256` on a cluster of 100 connections printed only "pgbench
    /// failed to run"; the reason is pgbench's own (too many clients for `max_connections`).
    @Test("Regression: when pgbench cannot run, its own reason is reported")
    func pgbenchFailure() {
        let output = """
            pgbench (15.18 (Debian 15.18-0+deb12u1))
            pgbench: error: connection to server at "127.0.0.1", port 55500 failed: FATAL:  sorry, too many clients already
            pgbench: error: could not create connection for client 177
            """
        #expect(
            PgBench.Failure(output: output).reason
                == #"pgbench failed to run: pgbench: error: connection to server at "127.0.0.1", port 55500 failed: FATAL:  sorry, too many clients already"#)
        #expect(PgBench.Failure(output: "pgbench: error: unexpected\n").reason == "pgbench failed to run: pgbench: error: unexpected")
        #expect(PgBench.Failure(output: "").reason == "pgbench failed to run")
    }
}
