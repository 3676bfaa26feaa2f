import App
import Customers
import Foundation
import Loyalty
import SharedModels

#if canImport(Glibc)
    import Glibc
#endif

/// `patron bench servers`: API purchases per second through one `patron serve --role web` and then
/// through several, all on one PostgreSQL database, with a `--role worker` process beside them —
/// the formation of docs/scaling.md. Each web server is a child process of this one, started from
/// the same executable; the bench's own client spreads its keep-alive connections over the servers
/// in turn (as a load balancer would).
///
/// Whether a second server adds throughput can only be seen when the servers, not the database,
/// are what bounds it. On a machine where the servers and the database share a few cores, each web
/// server is given a share of a core through a Linux control group (`--cpu-per-server`), so that
/// the servers saturate first; the run then shows that the database was not the bound — the cores
/// it used, the machine's idle cores, and pgbench's rate on the same cluster.
public struct ServersBenchmark: Sendable {
    public let databaseURL: String
    /// The executable that is started as each server (this process's own).
    public let executable: String
    public let customers: Int
    /// Purchases posted in each formation's measured run.
    public let purchases: Int
    public let connections: Int
    /// The largest formation; the bench measures one server, then this many.
    public let servers: Int
    /// Cores each web server may use; nil leaves them uncapped.
    public let cpuPerServer: Double?
    /// How many times each formation is measured, alternately (one server, then several, again):
    /// a single pair moves by ±15% from run to run on a shared machine, and the database grows as
    /// the runs go on, so neither formation always runs on the smaller one.
    public let rounds: Int

    public init(
        databaseURL: String, executable: String, customers: Int = 2_000, purchases: Int = 8_000, connections: Int = 32, servers: Int = 2,
        cpuPerServer: Double? = 0.25, rounds: Int = 3
    ) {
        self.databaseURL = databaseURL
        self.executable = executable
        self.customers = customers
        self.purchases = purchases
        self.connections = connections
        self.servers = servers
        self.cpuPerServer = cpuPerServer
        self.rounds = rounds
    }

    /// One formation's measured run.
    public struct Formation: Sendable {
        public var servers: Int
        public var seconds: Double
        public var failures: Int
        public var perSecond: Double
        /// Cores each web server used over the run (CPU seconds ÷ wall seconds).
        public var serverCores: [Double]
        /// Of each capped server's scheduling periods, the share in which it used its whole quota.
        public var serverThrottled: [Double]
        public var workerCores: Double
        /// Cores the database's processes used, when they run on this machine.
        public var databaseCores: Double?
        /// Cores of this machine nobody used over the run.
        public var idleCores: Double
    }

    public struct Result: Sendable {
        /// Every run, in the order measured.
        public var formations: [Formation]
        /// True when every web server ran under its CPU cap.
        public var capped: Bool
        public var ledger: LedgerReport
        public var cores: Int
    }

    public func run(patron: Patron, log: @escaping @Sendable (String) -> Void) async throws -> Result {
        try await ImportBenchmark(rows: 0, customers: customers).seed(patron)
        let program = try await AccrualBenchmark.setUpProgram(patron)
        for n in 1...customers { _ = try await patron.loyalty.enroll(CustomerID(Int64(n)), in: program.id) }
        let secret = try await AccrualBenchmark.setUpTill(patron)
        log("\(customers) members of \(program.code); web servers capped at \(cpuPerServer.map { "\($0) cores each" } ?? "nothing")")
        var formations: [Formation] = []
        var capped = cpuPerServer != nil
        for _ in 0..<max(rounds, 1) {
            for count in servers > 1 ? [1, servers] : [1] {
                let (formation, wasCapped) = try await measure(servers: count, secret: secret, log: log)
                formations.append(formation)
                capped = capped && wasCapped
            }
        }
        return Result(
            formations: formations, capped: capped, ledger: try await patron.loyalty.verify(), cores: ProcessInfo.processInfo.activeProcessorCount)
    }

    /// Starts `count` web servers and a worker, warms them up, posts `purchases` over them, stops them.
    func measure(servers count: Int, secret: String, log: @escaping @Sendable (String) -> Void) async throws -> (Formation, Bool) {
        var children: [ServerProcess] = []
        defer { for child in children { child.stop() } }
        let run = Self.runs.next()
        var capped = true
        for n in 0..<count {
            let port = try freeLoopbackPort()
            let cap = cpuPerServer.flatMap { CPUCap(name: "patron-bench-web-\(getpid())-\(run)-\(n)", cores: $0) }
            if cpuPerServer != nil && cap == nil {
                log("no writable cpu control group (/sys/fs/cgroup): the web servers run uncapped")
                capped = false
            }
            children.append(
                try ServerProcess(
                    executable: executable, arguments: ["serve", "--role", "web", "--database", databaseURL, "--port", String(port)], port: port,
                    cap: cap))
        }
        children.append(
            try ServerProcess(executable: executable, arguments: ["serve", "--role", "worker", "--database", databaseURL], port: nil, cap: nil))
        for child in children { try await child.waitUntilListening() }
        let ports = children.compactMap(\.port)
        let occurredAt = ISO8601DateFormatter().string(from: Date())
        log("\(count) web server(s) on ports \(ports.map(String.init).joined(separator: ", ")) and a worker; warming up…")
        _ = try await post(ports: ports, secret: secret, total: connections * 20, prefix: "W\(run)-", occurredAt: occurredAt)

        let before = children.map(\.cpuSeconds), databaseBefore = databaseCPUSeconds(), machineBefore = MachineCPU.now()
        let throttlingBefore = children.map { $0.cap?.periods() }
        let started = ContinuousClock.now
        let failures = try await post(ports: ports, secret: secret, total: purchases, prefix: "M\(run)-", occurredAt: occurredAt)
        let seconds = (ContinuousClock.now - started).milliseconds / 1000
        let used = zip(children, before).map { ($0.cpuSeconds - $1) / seconds }
        let throttled = zip(children, throttlingBefore).map { child, before -> Double in
            guard let before, let after = child.cap?.periods(), after.total > before.total else { return 0 }
            return Double(after.throttled - before.throttled) / Double(after.total - before.total)
        }
        let database = databaseBefore.flatMap { before in databaseCPUSeconds().map { ($0 - before) / seconds } }
        let idle = MachineCPU.now().idleCores(since: machineBefore)
        let formation = Formation(
            servers: count, seconds: seconds, failures: failures, perSecond: Double(purchases - failures) / seconds,
            serverCores: Array(used.prefix(count)), serverThrottled: Array(throttled.prefix(count)), workerCores: used[count],
            databaseCores: database,
            idleCores: idle)
        log(
            "\(count) server(s): \(Int(formation.perSecond))/s; servers used \(formation.serverCores.map { String(format: "%.2f", $0) }.joined(separator: ", ")) cores, database \(database.map { String(format: "%.2f", $0) } ?? "?"), idle \(String(format: "%.2f", idle))"
        )
        return (formation, capped)
    }

    /// Numbers each measured run, so that every run's purchases have ids of their own.
    static let runs = Counter()

    /// Posts `total` purchases over `connections` keep-alive connections, connection n to `ports[n % ports.count]`.
    func post(ports: [Int], secret: String, total: Int, prefix: String, occurredAt: String) async throws -> Int {
        let counter = Counter()
        let customers = customers
        return try await withThrowingTaskGroup(of: Int.self) { clients in
            for n in 0..<connections {
                clients.addTask {
                    try await HTTPBenchClient.post(port: ports[n % ports.count], bearer: secret) {
                        let n = counter.next()
                        guard n < total else { return nil }
                        return AccrualBenchmark.purchase(n, customers: customers, occurredAt: occurredAt, prefix: prefix)
                    }
                }
            }
            return try await clients.reduce(0, +)
        }
    }

    /// CPU seconds used so far by every `postgres` process of this machine, when the database is on it.
    func databaseCPUSeconds() -> Double? {
        guard let host = URLComponents(string: databaseURL)?.host, ["127.0.0.1", "localhost", "::1", "[::1]"].contains(host) else { return nil }
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.filter { Int32($0) != nil }.reduce(0.0) { sum, pid in
            let comm = (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
            return comm == "postgres" ? sum + (processCPUSeconds(Int32(pid)!) ?? 0) : sum
        }
    }
}

/// A `patron serve` child process: started, placed in its CPU cap, its output drained (the last
/// lines kept for an error), stopped at the end.
final class ServerProcess: @unchecked Sendable {
    let child: ChildProcess
    let port: Int?
    let cap: CPUCap?
    private let lock = NSLock()
    private var tail: [String] = []
    private var stopped = false

    init(executable: String, arguments: [String], port: Int?, cap: CPUCap?) throws {
        child = try ChildProcess(executable: executable, arguments: arguments, mergingErrors: true)
        self.port = port
        self.cap = cap
        try? child.input.close()
        if let cap, !cap.add(child.pid) {
            child.terminate()
            throw LaunchFailure(reason: "could not put the server in the control group \(cap.path)")
        }
        let output = child.output
        Thread.detachNewThread { [weak self] in
            while true {
                let data = output.availableData
                if data.isEmpty { return }
                let lines = String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
                guard let self else { continue }
                self.lock.withLock { self.tail = Array((self.tail + lines).suffix(30)) }
            }
        }
    }

    struct LaunchFailure: Error, CustomStringConvertible {
        let reason: String
        var description: String { reason }
    }

    var cpuSeconds: Double { processCPUSeconds(child.pid) ?? 0 }

    /// Waits until the server accepts connections (a worker: until it has run a few seconds).
    func waitUntilListening() async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if child.hasExited {
                throw LaunchFailure(reason: "the server stopped: \(lock.withLock { tail.joined(separator: "\n") })")
            }
            guard let port else {
                try await Task.sleep(for: .seconds(1))
                return
            }
            if loopbackAccepts(port: port) { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw LaunchFailure(reason: "the server did not listen on port \(port.map(String.init) ?? "-") within 60 s")
    }

    /// SIGTERM, then SIGKILL after ten seconds; the control group is removed once it is empty.
    func stop() {
        guard
            lock.withLock({ () -> Bool in
                defer { stopped = true }
                return !stopped
            })
        else { return }
        child.terminate()
        cap?.remove()
    }
}

/// A Linux control group capping the CPU of the processes in it: cgroup v1's `cpu` controller
/// (`cpu.cfs_quota_us` over a 10 ms period) or v2's `cpu.max`. The short period keeps a capped
/// server from being stopped for long while it holds the database's locks. nil where no such
/// group can be made (no controller, or no right to write it).
final class CPUCap: Sendable {
    let path: String
    let version: Int

    init?(name: String, cores: Double) {
        let period = 10_000
        let quota = max(1_000, Int(cores * Double(period)))
        let manager = FileManager.default
        if manager.fileExists(atPath: "/sys/fs/cgroup/cpu/cpu.cfs_quota_us") {
            path = "/sys/fs/cgroup/cpu/\(name)"
            version = 1
        } else if let controllers = try? String(contentsOfFile: "/sys/fs/cgroup/cgroup.subtree_control", encoding: .utf8),
            controllers.split(separator: " ").contains(where: { $0.trimmingCharacters(in: .whitespacesAndNewlines) == "cpu" })
        {
            path = "/sys/fs/cgroup/\(name)"
            version = 2
        } else {
            return nil
        }
        guard (try? manager.createDirectory(atPath: path, withIntermediateDirectories: false)) != nil else { return nil }
        let written =
            version == 1
            ? Self.write("\(period)", to: path + "/cpu.cfs_period_us") && Self.write("\(quota)", to: path + "/cpu.cfs_quota_us")
            : Self.write("\(quota) \(period)", to: path + "/cpu.max")
        guard written else {
            rmdir(path)
            return nil
        }
    }

    func add(_ pid: pid_t) -> Bool { Self.write("\(pid)", to: path + "/cgroup.procs") }

    /// Scheduling periods so far, and those in which the group used its whole quota.
    func periods() -> (total: Int, throttled: Int)? {
        guard let stat = try? String(contentsOfFile: path + "/cpu.stat", encoding: .utf8) else { return nil }
        var values: [String: Int] = [:]
        for line in stat.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2, let value = Int(parts[1]) { values[String(parts[0])] = value }
        }
        guard let total = values["nr_periods"], let throttled = values["nr_throttled"] else { return nil }
        return (total, throttled)
    }

    /// Removes the group; its processes must have ended (retried for a few seconds while they exit).
    func remove() {
        for _ in 0..<50 {
            if rmdir(path) == 0 || errno == ENOENT { return }
            usleep(100_000)
        }
    }

    private static func write(_ text: String, to file: String) -> Bool {
        let fd = open(file, O_WRONLY)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return text.withCString { Glibc.write(fd, $0, strlen($0)) } == text.utf8.count
    }
}

/// The machine's CPU counters (`/proc/stat`'s first line), to tell the idle cores over a run.
struct MachineCPU {
    var idle: Double
    var total: Double

    static func now() -> MachineCPU {
        let line = (try? String(contentsOfFile: "/proc/stat", encoding: .utf8))?.split(separator: "\n").first ?? ""
        let ticks = line.split(separator: " ").dropFirst().compactMap { Double($0) }
        guard ticks.count >= 5 else { return MachineCPU(idle: 0, total: 0) }
        return MachineCPU(idle: ticks[3] + ticks[4], total: ticks.prefix(8).reduce(0, +))
    }

    func idleCores(since before: MachineCPU) -> Double {
        guard total > before.total else { return 0 }
        return (idle - before.idle) / (total - before.total) * Double(ProcessInfo.processInfo.activeProcessorCount)
    }
}

/// User and system CPU seconds of a process so far (`/proc/<pid>/stat`), nil once it is gone.
func processCPUSeconds(_ pid: pid_t) -> Double? {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return nil }
    // After the command's closing parenthesis: state, ppid, …; utime and stime are the 12th and 13th.
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

/// A loopback TCP port nobody listens on now (the kernel's choice for port 0).
func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw ServerProcess.LaunchFailure(reason: "socket: \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    guard bound else { throw ServerProcess.LaunchFailure(reason: "bind: \(String(cString: strerror(errno)))") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Whether something accepts TCP connections on the loopback `port`.
func loopbackAccepts(port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = UInt16(port).bigEndian
    return withUnsafePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
    }
}
