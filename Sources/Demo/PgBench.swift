import Foundation
import SharedModels

/// PostgreSQL's own reference for the accrual benchmark: pgbench's TPC-B-like transaction on the
/// same cluster, with the same number of clients, for the same time, in a scratch database made
/// and dropped around it (Debian's `postgresql-client` ships `pgbench`, `createdb` and `dropdb`).
public enum PgBench {
    public struct Result: Sendable {
        public var tps: Double
        public var clients: Int
        public var seconds: Int
        public var scale: Int
    }

    /// Runs pgbench against the cluster of `url` (a `postgres://user:password@host:port/db` URL);
    /// nil with the reason when it cannot (no pgbench, no right to create a database).
    public static func run(url: String, clients: Int, seconds: Int, scale: Int = 10, log: (String) -> Void) -> (Result?, String?) {
        guard let parts = URLComponents(string: url), parts.scheme?.hasPrefix("postgres") == true, let host = parts.host else {
            return (nil, "not a postgres:// URL")
        }
        guard let pgbench = find("pgbench"), let createdb = find("createdb"), let dropdb = find("dropdb") else {
            return (nil, "pgbench, createdb or dropdb is not installed (Debian: postgresql-client)")
        }
        let database = "patron_pgbench_\(UUID().uuidString.prefix(8).lowercased())"
        var connection = ["-h", host, "-p", String(parts.port ?? 5432)]
        if let user = parts.user { connection += ["-U", user] }
        var environment = ProcessInfo.processInfo.environment
        if let password = parts.password { environment["PGPASSWORD"] = password }
        let sslmode = parts.queryItems?.first { $0.name == "sslmode" }?.value
        if let sslmode { environment["PGSSLMODE"] = sslmode }
        guard execute(createdb, connection + [database], environment).status == 0 else {
            return (nil, "could not create the scratch database \(database) (the URL's user needs CREATEDB)")
        }
        defer { _ = execute(dropdb, connection + ["--if-exists", database], environment) }
        log("pgbench: initialising scale \(scale) in \(database)…")
        guard execute(pgbench, connection + ["-i", "-q", "-s", String(scale), database], environment).status == 0 else {
            return (nil, "pgbench -i failed")
        }
        // pgbench's -T stops on SIGALRM, which a child of this (NIO) process may have blocked:
        // it then never stops. So the run is sized by transactions instead: a short calibration
        // gives the rate, and each client runs enough transactions to last about `seconds`.
        let threads = max(1, min(clients, ProcessInfo.processInfo.activeProcessorCount))
        func transactions(_ perClient: Int) -> Swift.Result<(Double, Double), Failure> {
            let started = Date()
            let run = execute(pgbench, connection + ["-n", "-c", String(clients), "-j", String(threads), "-t", String(perClient), database], environment)
            guard run.status == 0, let tps = parseTPS(run.output) else { return .failure(Failure(output: run.output)) }
            return .success((tps, Date().timeIntervalSince(started)))
        }
        let calibration: Double
        switch transactions(100) {
        case .success(let (tps, _)): calibration = tps
        case .failure(let failure): return (nil, failure.reason)
        }
        let perClient = max(100, Int(calibration * Double(seconds) / Double(clients)))
        log("pgbench: \(clients) clients × \(perClient) transactions (about \(seconds) s)…")
        switch transactions(perClient) {
        case .success(let (tps, took)): return (Result(tps: tps, clients: clients, seconds: Int(took.rounded()), scale: scale), nil)
        case .failure(let failure): return (nil, failure.reason)
        }
    }

    /// Why pgbench did not give a rate, in its own words: its first `FATAL` or `ERROR` line ("FATAL:
    /// sorry, too many clients already" when the cluster's `max_connections` is below the client
    /// count), else its last line that mentions an error, else its last line.
    struct Failure: Error {
        let output: String
        var reason: String {
            let lines = output.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            let line = lines.first { $0.contains("FATAL") || $0.contains("ERROR") } ?? lines.last { $0.contains("error") } ?? lines.last
            return "pgbench failed to run" + (line.map { ": " + String($0.prefix(300)) } ?? "")
        }
    }

    /// `tps = 2345.678901 (without initial connection time)` → 2345.68.
    public static func parseTPS(_ output: String) -> Double? {
        for line in output.split(separator: "\n") where line.hasPrefix("tps = ") {
            if let number = line.dropFirst(6).split(separator: " ").first, let tps = Double(number) { return tps }
        }
        return nil
    }

    static func find(_ tool: String) -> String? {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []).sorted(by: >).map { "/usr/lib/postgresql/\($0)/bin" }
        return (path + versions).map { "\($0)/\(tool)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static func execute(_ tool: String, _ arguments: [String], _ environment: [String: String]) -> (status: Int32, output: String) {
        ChildProcess.run(tool, arguments, environment: environment)
    }
}
