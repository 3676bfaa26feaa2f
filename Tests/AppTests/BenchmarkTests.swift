import App
import Demo
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
        }
    }
}
