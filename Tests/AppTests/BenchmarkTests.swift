import App
@testable import Demo
import Foundation
import Loyalty
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
