import Access
import Analytics
import App
import Demo
import Interchange
import ArgumentParser
import Campaigns
import Customers
import Foundation
import SharedModels
import Storage
import Hummingbird
import Logging
import Loyalty

/// The `patron` command: a thin shell that parses arguments and calls App.
@main
struct PatronCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "patron",
        abstract: "Customer relationships and loyalty, on SQLite or PostgreSQL.",
        subcommands: [
            Serve.self, Migrate.self, UserCommand.self, Import.self, Export.self, Demo.self, LedgerCommand.self, Analyze.self, Segments.self,
            Campaigns.self, Requests.self, SalesCommand.self, Audit.self, Privacy.self, JobsCommand.self,
            Bench.self,
        ])
}

/// `--database`, shared by every command that touches data.
struct DatabaseOption: ParsableArguments {
    @Option(name: .long, help: "A file ending in .sqlite (created if missing) or a postgres:// URL. Default: $PATRON_DATABASE_URL or patron.sqlite.")
    var database: String?

    func open(readReplica: DatabaseLocation? = nil, _ adjust: (inout Settings) -> Void = { _ in }) async throws -> Patron {
        let location = try DatabaseLocation(database)
        var settings = try Settings.fromEnvironment()
        adjust(&settings)
        return try await Patron.open(location, readReplica: readReplica, settings: settings, logger: quietLogger())
    }

    /// Opens the database, runs `body` and closes the database whether or not `body` throws.
    func with<T>(_ body: (Patron) async throws -> T) async throws -> T {
        try await open().closing(after: body)
    }

    /// As ``with(_:)``, with the settings from the environment adjusted first.
    func with<T>(readReplica: DatabaseLocation? = nil, adjusting adjust: (inout Settings) -> Void, _ body: (Patron) async throws -> T) async throws -> T {
        try await open(readReplica: readReplica, adjust).closing(after: body)
    }
}

func quietLogger() -> Logger {
    var logger = Logger(label: "patron")
    logger.logLevel = ProcessInfo.processInfo.environment["PATRON_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
    return logger
}

/// Runs `body`, turning bad input (a file's line and field, a rule's line and column, a plan's
/// field, a setting) into a one-line error.
func reporting<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let error as ImportError {
        throw fail(error.description)
    } catch let error as AnalyticsError {
        throw fail(error.description)
    } catch let error as SegmentError {
        throw fail(error.description)
    } catch let error as CampaignError {
        throw fail(error.description)
    } catch let error as ConfigurationError {
        throw fail(error.description)
    } catch let error as CustomerError {
        throw fail(error.description)
    }
}

func fail(_ message: String) -> ExitCode {
    FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    return ExitCode.failure
}

extension ServerRole: ExpressibleByArgument {}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the API server and the background jobs.")

    @OptionGroup var db: DatabaseOption
    @Option(help: "TCP port.") var port: Int = 8080
    @Option(help: "Address to listen on.") var host: String = "127.0.0.1"
    @Flag(help: "Load the demo company if the database is empty.") var demo = false
    @Option(help: "web: answer requests only; worker: run the background jobs only; all: both.") var role: ServerRole = .all
    @Option(
        name: .customLong("read-database"),
        help: "A postgres:// URL of a streaming replica of --database: it answers analytics, segment counts, reports and list views. Default: $PATRON_READ_DATABASE_URL.")
    var readDatabase: String?

    func run() async throws {
        guard (1...65535).contains(port) else { throw ValidationError("--port must be 1 to 65535") }
        // Links in messages (tracking, unsubscribe) lead to this server unless PATRON_PUBLIC_URL
        // names the address the public reaches it at.
        let publicURL = ProcessInfo.processInfo.environment["PATRON_PUBLIC_URL"] == nil
            ? "http://\(["0.0.0.0", "::"].contains(host) ? "127.0.0.1" : host):\(port)" : nil
        let replica = try (readDatabase ?? ProcessInfo.processInfo.environment["PATRON_READ_DATABASE_URL"]).map { url in
            guard url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") else {
                throw ValidationError("--read-database must be a postgres:// URL of a streaming replica")
            }
            return DatabaseLocation.postgres(url: url)
        }
        try await db.with(readReplica: replica, adjusting: { settings in if let publicURL { settings.publicURL = publicURL } }) { patron in
            let logger = quietLogger()
            if demo {
                let empty = try await patron.isEmpty()
                if empty {
                    logger.info("loading the demo company (1,000 customers)…")
                    let summary = try await DemoCompany(customers: 1000, seed: 1, until: Date()).load(into: patron)
                    logger.info("demo company loaded: \(summary)")
                }
                // Names only: a password never goes to a log, not even the demo's (the README gives it).
                logger.info("demo staff: \(DemoCompany.adminEmail) at http://\(host):\(port)/console/ (password in the README)")
                logger.info("demo member: \(DemoCompany.memberEmail) at http://\(host):\(port)/portal/ (same password)")
            }
            let limits = try ServerLimits.fromEnvironment()
            if publicURL != nil && !["127.0.0.1", "localhost", "::1"].contains(host) {
                logger.warning("PATRON_PUBLIC_URL is not set: links in campaign messages lead to \(patron.settings.publicURL)")
            }
            let location = try DatabaseLocation(db.database)
            let jobs = role.runsJobs ? [patron.jobRunner(logger: logger)] : []
            if role.servesRequests {
                let app = try buildApplication(patron: patron, host: host, port: port, limits: limits, logger: logger)
                logger.info("Patron on http://\(host):\(port) with \(location)\(replica.map { ", reads from \($0)" } ?? "") (role \(role.rawValue))")
                try await runServer(app, jobs: jobs, limits: limits, logger: logger)
            } else {
                logger.info("Patron worker on \(location)")
                try await runServices(jobs, limits: limits, logger: logger)
            }
        }
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply pending database migrations (serve does this on start too).")
    @OptionGroup var db: DatabaseOption

    func run() async throws {
        try await db.with { _ in print("database is up to date") }
    }
}

struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "user", abstract: "Manage staff users.", subcommands: [Add.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a staff user (e.g. the first admin).")
        @OptionGroup var db: DatabaseOption
        @Option var email: String
        @Option var password: String
        @Option(help: "admin, loyalty_manager, marketer, agent, analyst or sales.") var role: String

        func run() async throws {
            guard let role = Role(rawValue: role) else {
                throw ValidationError("--role: '\(role)' is not one of \(Role.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            try await db.with { patron in
                do {
                    let user = try await patron.access.addUser(email: email, password: password, role: role)
                    print("created \(user.role.rawValue) \(user.email) (id \(user.id))")
                } catch AccessError.invalid(let field, let reason) {
                    throw fail("--\(field): \(reason)")
                } catch AccessError.emailTaken(let email) {
                    throw fail("--email: \(email) already has a user")
                }
            }
        }
    }
}

struct Import: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Import CSV files.", subcommands: [Customers.self, Transactions.self])

    static func report(_ run: (_ onReject: (Rejection) -> Void) async throws -> ImportReport) async throws {
        do {
            let report = try await run { FileHandle.standardError.write(Data("rejected \($0)\n".utf8)) }
            print(report.summary)
            if report.rejected > 0 { throw fail("\(report.rejected) rows were rejected; the other rows were imported") }
        } catch let error as ImportError {
            throw fail(error.description)
        }
    }

    struct Customers: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Import customers (see docs/import.md for the columns).")
        @OptionGroup var db: DatabaseOption
        @Argument(help: "The CSV file.") var file: String

        func run() async throws {
            try await db.with { patron in
                try await Import.report {
                    try await CustomerImporter(customers: patron.customers).run(file: file, progress: Progress(enabled: Progress.onTerminal), onReject: $0)
                }
            }
        }
    }

    struct Transactions: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Import purchases and returns (see docs/import.md for the columns).")
        @OptionGroup var db: DatabaseOption
        @Argument(help: "The CSV file.") var file: String

        func run() async throws {
            try await db.with { patron in
                try await Import.report {
                    try await TransactionImporter(customers: patron.customers, intake: patron.intake).run(file: file, progress: Progress(enabled: Progress.onTerminal), onReject: $0)
                }
            }
        }
    }
}

struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Export CSV files.", subcommands: [Customers.self, Transactions.self])

    static func output(_ path: String?) throws -> FileHandle {
        guard let path else { return FileHandle.standardOutput }
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw ValidationError("--output: cannot write \(path)")
        }
        return handle
    }

    struct Customers: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Export active customers in the import format.")
        @OptionGroup var db: DatabaseOption
        @Option(help: "File to write; standard output if absent.") var output: String?

        func run() async throws {
            let handle = try Export.output(output)
            let count = try await db.with { try await CSVExporter(customers: $0.customers).customers(to: handle) }
            FileHandle.standardError.write(Data("exported \(count) customers\n".utf8))
        }
    }

    struct Transactions: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Export transactions in the import format (one row per line).")
        @OptionGroup var db: DatabaseOption
        @Option(help: "File to write; standard output if absent.") var output: String?

        func run() async throws {
            let handle = try Export.output(output)
            let count = try await db.with { try await CSVExporter(customers: $0.customers).transactions(to: handle) }
            FileHandle.standardError.write(Data("exported \(count) transactions\n".utf8))
        }
    }
}

struct LedgerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger", abstract: "The points ledger.", subcommands: [Verify.self, Expire.self, ReviewTiers.self])

    struct Expire: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Expire every lot whose date has come (the expiry job; `serve` also runs it every hour). Safe to run any time.")
        @OptionGroup var db: DatabaseOption

        func run() async throws {
            let transfers = try await db.with { try await $0.loyalty.expire() }
            print("expired \(transfers.reduce(0) { $0 + $1.points }) points in \(transfers.count) lots")
        }
    }

    struct ReviewTiers: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "review-tiers",
            abstract:
                "The periodic tier review: members move to the tier their period's qualifying points earn (down at most one with a soft landing).")
        @OptionGroup var db: DatabaseOption
        @Option(help: "The program's code; every program when absent.") var program: String?

        func run() async throws {
            try await db.with { patron in
                let programs = try await patron.loyalty.programs().filter { program == nil || $0.code == program }
                guard !programs.isEmpty else { throw ValidationError("--program: no program has the code \(program ?? "")") }
                for p in programs {
                    let review = try await patron.loyalty.reviewTiers(of: p.id)
                    if let next = review.notBefore {
                        print("\(p.code): reviewed recently; the next review may run from \(next)")
                        continue
                    }
                    print("\(p.code): reviewed \(review.reviewed) members, \(review.upgraded) up, \(review.downgraded) down")
                }
            }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check every invariant of the points ledger; exit 1 naming each one that is broken.")
        @OptionGroup var db: DatabaseOption

        func run() async throws {
            let report = try await db.with { try await $0.loyalty.verify() }
            print("checked \(report.transfers) transfers, \(report.accounts) accounts, \(report.lots) lots")
            print("postings total: \(report.postingsTotal) (must be 0); points held by members: \(report.memberPoints)")
            guard report.isHealthy else {
                for violation in report.violations { FileHandle.standardError.write(Data("broken: \(violation)\n".utf8)) }
                throw ExitCode.failure
            }
            print("ledger is consistent")
        }
    }
}

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Load the demo company into an empty database.")
    @OptionGroup var db: DatabaseOption
    @Option(help: "How many people.") var customers: Int = 1000
    @Option(help: "Random seed; the same seed gives the same company.") var seed: UInt64 = 1

    func run() async throws {
        guard (1...5_000_000).contains(customers) else { throw ValidationError("--customers must be 1 to 5000000") }
        try await db.with { patron in
            guard try await patron.isEmpty() else {
                throw fail("--database: the database already has customers; the demo loads only into an empty one")
            }
            let summary = try await DemoCompany(customers: customers, seed: seed, until: Date()).load(into: patron) {
                FileHandle.standardError.write(Data("\($0)\n".utf8))
            }
            print("loaded \(summary)")
            print("log in as \(DemoCompany.adminEmail) / \(DemoCompany.adminPassword)")
        }
    }
}

struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure Patron's speed (build with -c release).",
        subcommands: [
            ImportBench.self, AccrualBench.self, AnalyticsBench.self, SegmentsBench.self, CampaignsBench.self, WebBench.self, VolumeBench.self, ServersBench.self,
        ])

    struct AccrualBench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "accrual",
            abstract: "Accruals per second with tiers and 50 promotions: a batch import, then single transactions over HTTP.")
        @Option(help: "A fresh .sqlite file or postgres:// URL of an empty database; a temporary SQLite file if absent.") var database: String?
        @Option(help: "Members the transactions belong to.") var customers: Int = 10_000
        @Option(help: "Transactions in the imported batch.") var batch: Int = 200_000
        @Option(help: "Transactions posted over HTTP.") var http: Int = 20_000
        @Option(help: "Concurrent HTTP connections.") var connections: Int = 32
        @Flag(help: "Print the result as JSON on the last line.") var json = false

        func run() async throws {
            guard customers > 0, batch > 0, http > 0, connections > 0 else { throw ValidationError("every count must be positive") }
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("patron-bench-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let location = try DatabaseLocation(database ?? directory + "/bench.sqlite")
            let bench = AccrualBenchmark(customers: customers, batchTransactions: batch, httpTransactions: http, connections: connections)
            let result = try await DatabaseOption(database: location.urlOrPath).with { patron in
                try await bench.run(patron: patron, directory: directory) { FileHandle.standardError.write(Data("\($0)\n".utf8)) }
            }
            print("batch: \(batch) transactions in \(String(format: "%.2f", result.batchSeconds)) s = \(Int(result.batchPerSecond))/s on \(location)")
            print(
                "http:  \(http) transactions in \(String(format: "%.2f", result.httpSeconds)) s = \(Int(result.httpPerSecond))/s over \(connections) connections (\(result.httpFailures) failed)"
            )
            print(
                "redemption: \(result.redemptions) over \(connections) connections: p50 \(String(format: "%.1f", result.redemptionP50)) ms, p99 \(String(format: "%.1f", result.redemptionP99)) ms (\(result.redemptionFailures) failed)"
            )
            if let accrual = result.statementsPerAccrual, let redemption = result.statementsPerRedemption {
                print("round trips: \(String(format: "%.1f", accrual)) statements per accrual, \(String(format: "%.1f", redemption)) per redemption")
            }
            print(
                "ledger: \(result.ledger.isHealthy ? "consistent" : "BROKEN: \(result.ledger.violations.prefix(3))"), \(result.ledger.transfers) transfers, \(result.ledger.memberPoints) member points"
            )
            // On PostgreSQL, the engine's own reference beside it: pgbench, same cluster, same clients, same time.
            var pgbenchTPS: Double? = nil
            if location.engineName == "postgres" {
                let (reference, reason) = PgBench.run(
                    url: location.urlOrPath, clients: connections, seconds: max(10, Int(result.httpSeconds.rounded()))
                ) { FileHandle.standardError.write(Data("\($0)\n".utf8)) }
                if let reference {
                    pgbenchTPS = reference.tps
                    print(
                        "pgbench: \(Int(reference.tps)) TPS (TPC-B-like, scale \(reference.scale), \(reference.clients) clients, \(reference.seconds) s); Patron's HTTP accruals are \(String(format: "%.0f", result.httpPerSecond / reference.tps * 100))% of it"
                    )
                } else {
                    print("pgbench: not run: \(reason ?? "unknown")")
                }
            }
            if json {
                print(
                    #"{"bench":"accrual","batch_per_s":\#(Int(result.batchPerSecond)),"http_per_s":\#(Int(result.httpPerSecond)),"pgbench_tps":\#(pgbenchTPS.map { String(Int($0)) } ?? "null"),"redemption_p50_ms":\#(String(format: "%.1f", result.redemptionP50)),"redemption_p99_ms":\#(String(format: "%.1f", result.redemptionP99)),"statements_per_accrual":\#(result.statementsPerAccrual.map { String(format: "%.1f", $0) } ?? "null"),"statements_per_redemption":\#(result.statementsPerRedemption.map { String(format: "%.1f", $0) } ?? "null"),"batch":\#(batch),"http":\#(http),"http_failures":\#(result.httpFailures),"redemption_failures":\#(result.redemptionFailures),"connections":\#(connections),"members":\#(result.members),"promotions":\#(result.promotions),"engine":"\#(location.engineName)","ledger_consistent":\#(result.ledger.isHealthy)}"#
                )
            }
            if !result.ledger.isHealthy || result.httpFailures > 0 || result.redemptionFailures > 0 { throw ExitCode(1) }
        }
    }

    struct ImportBench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "import", abstract: "Rows per second importing transactions from CSV.")
        @Option(help: "A fresh .sqlite file or postgres:// URL of an empty database; a temporary SQLite file if absent.") var database: String?
        @Option(help: "Rows in the generated CSV.") var rows: Int = 1_000_000
        @Option(help: "Customers the rows refer to.") var customers: Int = 10_000
        @Flag(help: "Give transactions product lines (one row per line, a quarter with two lines).") var withLines = false
        @Flag(help: "Print the result as JSON on the last line.") var json = false

        func run() async throws {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("patron-bench-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let location = try DatabaseLocation(database ?? directory + "/bench.sqlite")
            let result = try await DatabaseOption(database: location.urlOrPath).with { patron in
                try await ImportBenchmark(rows: rows, customers: customers, withLines: withLines).run(patron: patron, directory: directory) {
                    FileHandle.standardError.write(Data("\($0)\n".utf8))
                }
            }
            print("import: \(result.report.summary)")
            print("rows/s: \(Int(result.report.rowsPerSecond)) on \(location)")
            if json {
                print(
                    #"{"bench":"import","rows":\#(result.report.rows),"seconds":\#(String(format: "%.3f", result.report.seconds)),"rows_per_s":\#(Int(result.report.rowsPerSecond)),"engine":"\#(location.engineName)","lines":\#(withLines)}"#
                )
            }
        }
    }
}

extension DatabaseOption {
    init(database: String) {
        self.init()
        self.database = database
    }
}

extension DatabaseLocation {
    var urlOrPath: String {
        switch self {
        case .sqlite(let path): path
        case .postgres(let url): url
        }
    }

    var engineName: String {
        switch self {
        case .sqlite: "sqlite"
        case .postgres: "postgres"
        }
    }
}

extension Bench {
    struct VolumeBench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "volume",
            abstract:
                "Builds an airline-size PostgreSQL database (purchases, transfers, postings, interactions, campaign messages) and checks every hot query's plan with EXPLAIN ANALYZE.")
        @Option(help: "A postgres:// URL of an empty database.") var database: String
        @Option(help: "Purchases to make (each with an accrual transfer and two postings).") var transactions: Int = 10_000_000
        @Option(help: "Months of history they spread over.") var months: Int = 36
        @Flag(help: "Only check the plans of a database built before.") var explainOnly = false
        @Flag(help: "Print the result as JSON on the last line.") var json = false

        func run() async throws {
            let location = try DatabaseLocation(database)
            guard location.engineName == "postgres" else { throw ValidationError("the volume check needs a postgres:// URL") }
            let (built, plans) = try await DatabaseOption(database: location.urlOrPath).with { patron in
                let now = patron.settings.clock.now
                let built =
                    explainOnly
                    ? nil
                    : try await VolumeCheck.build(patron.database, transactions: transactions, months: months, now: now) {
                        FileHandle.standardError.write(Data("\($0)\n".utf8))
                    }
                return (built, try await VolumeCheck.explain(patron.database, now: now))
            }
            if let built {
                print(
                    "built: \(built.transactions) transactions, \(built.transfers) transfers, \(built.postings) postings, \(built.interactions) interactions, \(built.messages) messages, \(built.responses) responses for \(built.customers) members in \(String(format: "%.0f", built.seconds)) s"
                )
            }
            for plan in plans {
                print(
                    "\(plan.ok ? "ok  " : "FAIL") \(String(format: "%8.2f", plan.milliseconds)) ms  \(String(format: "%3d", plan.partitionsRead)) partitions read  \(plan.name) [\(plan.indexes.joined(separator: ", "))]\(plan.ok ? "" : ": " + plan.problems.joined(separator: "; "))"
                )
            }
            if json {
                let encoder = JSONEncoder()
                encoder.keyEncodingStrategy = .convertToSnakeCase
                let queries = String(decoding: try encoder.encode(plans), as: UTF8.self)
                print(
                    #"{"bench":"volume","transactions":\#(built?.transactions ?? 0),"build_s":\#(String(format: "%.1f", built?.seconds ?? 0)),"all_ok":\#(plans.allSatisfy(\.ok)),"queries":\#(queries)}"#
                )
            }
            if !plans.allSatisfy(\.ok) { throw ExitCode(1) }
        }
    }
}

extension Bench {
    struct ServersBench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "servers",
            abstract:
                "API purchases per second through one `patron serve --role web` and through several on one PostgreSQL database, each server's CPU capped so that the servers, not the database, are the bound.")
        @Option(help: "A postgres:// URL of an empty database.") var database: String
        @Option(help: "Web servers in the larger formation (the bench measures one, then this many).") var servers: Int = 2
        @Option(help: "Members the purchases belong to.") var customers: Int = 2_000
        @Option(help: "Purchases posted in each run.") var http: Int = 6_000
        @Option(help: "Concurrent HTTP connections, spread over the servers in turn (enough to keep each of several servers busy).") var connections: Int = 64
        @Option(help: "Cores each web server may use (a Linux control group); 0 leaves them uncapped.") var cpuPerServer: Double = 0.25
        @Option(help: "Runs of each formation, alternately; the medians are compared.") var rounds: Int = 3
        @Flag(help: "Print the result as JSON on the last line.") var json = false

        func run() async throws {
            let location = try DatabaseLocation(database)
            guard location.engineName == "postgres" else { throw ValidationError("several servers share a postgres:// database") }
            guard (2...16).contains(servers) else { throw ValidationError("--servers must be 2 to 16") }
            guard customers > 0, http > 0, connections >= servers else { throw ValidationError("counts must be positive, and --connections at least --servers") }
            guard cpuPerServer >= 0, cpuPerServer <= 64 else { throw ValidationError("--cpu-per-server must be 0 to 64 cores") }
            guard (1...20).contains(rounds) else { throw ValidationError("--rounds must be 1 to 20") }
            let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
            let bench = ServersBenchmark(
                databaseURL: location.urlOrPath, executable: executable, customers: customers, purchases: http, connections: connections, servers: servers,
                cpuPerServer: cpuPerServer > 0 ? cpuPerServer : nil, rounds: rounds)
            let result = try await DatabaseOption(database: location.urlOrPath).with { patron in
                try await bench.run(patron: patron) { FileHandle.standardError.write(Data("\($0)\n".utf8)) }
            }
            func cores(_ values: [Double]) -> String { values.map { String(format: "%.2f", $0) }.joined(separator: ", ") }
            for formation in result.formations {
                print(
                    "\(formation.servers) web server(s): \(http) purchases in \(String(format: "%.2f", formation.seconds)) s = \(Int(formation.perSecond))/s (\(formation.failures) failed); servers used \(cores(formation.serverCores)) cores\(result.capped ? " (capped at \(cpuPerServer), at their cap in \(formation.serverThrottled.map { String(format: "%.0f%%", $0 * 100) }.joined(separator: ", ")) of periods)" : ""), the worker \(String(format: "%.2f", formation.workerCores)), the database \(formation.databaseCores.map { String(format: "%.2f", $0) } ?? "unknown (not on this machine)"), idle \(String(format: "%.2f", formation.idleCores)) of \(result.cores)"
                )
            }
            // The median run of each formation (by purchases per second).
            func median(_ count: Int) -> ServersBenchmark.Formation {
                let runs = result.formations.filter { $0.servers == count }.sorted { $0.perSecond < $1.perSecond }
                return runs[runs.count / 2]
            }
            let one = median(1), many = median(servers)
            let scaling = many.perSecond / max(one.perSecond, 1)
            func rates(_ count: Int) -> [Int] { result.formations.filter { $0.servers == count }.map { Int($0.perSecond) } }
            print(
                "\(many.servers) servers give \(String(format: "%.2f", scaling))× one server's purchases per second (medians of \(rounds): \(Int(one.perSecond))/s and \(Int(many.perSecond))/s; runs \(rates(1)) and \(rates(servers)))"
            )
            if !result.capped { print("the servers were not capped: where they share the cores with the database, this does not show what a server adds") }
            let pgbench = PgBench.run(url: location.urlOrPath, clients: connections, seconds: 10) { FileHandle.standardError.write(Data("\($0)\n".utf8)) }
            if let reference = pgbench.0 {
                print("pgbench on the same cluster: \(Int(reference.tps)) TPS with \(connections) clients (the database's capacity beside the \(Int(many.perSecond)) purchases/s)")
            }
            print(
                "ledger: \(result.ledger.isHealthy ? "consistent" : "BROKEN: \(result.ledger.violations.prefix(3))"), \(result.ledger.transfers) transfers, \(result.ledger.memberPoints) member points"
            )
            if json {
                print(
                    #"{"bench":"servers","servers":\#(many.servers),"one_server_per_s":\#(Int(one.perSecond)),"servers_per_s":\#(Int(many.perSecond)),"scaling":\#(String(format: "%.2f", scaling)),"cpu_per_server":\#(cpuPerServer),"capped":\#(result.capped),"server_cores":[[\#(cores(one.serverCores))],[\#(cores(many.serverCores))]],"database_cores":[\#(one.databaseCores.map { String(format: "%.2f", $0) } ?? "null"),\#(many.databaseCores.map { String(format: "%.2f", $0) } ?? "null")],"idle_cores":[\#(String(format: "%.2f", one.idleCores)),\#(String(format: "%.2f", many.idleCores))],"pgbench_tps":\#(pgbench.0.map { String(Int($0.tps)) } ?? "null"),"one_server_runs":\#(rates(1)),"servers_runs":\#(rates(servers)),"failures":\#(result.formations.reduce(0) { $0 + $1.failures }),"ledger_consistent":\#(result.ledger.isHealthy)}"#
                )
            }
            if !result.ledger.isHealthy || result.formations.contains(where: { $0.failures > 0 }) { throw ExitCode(1) }
        }
    }
}
