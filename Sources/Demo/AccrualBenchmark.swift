import App
import Interchange
import Access
import Customers
import Foundation
import Hummingbird
import Logging
import Loyalty
import NIOCore
import NIOHTTP1
import NIOPosix
import Partners
import SharedModels
import Storage
import Synchronization

/// `patron bench accrual`: accruals per second through the real engine — a program with a tier
/// ladder and tier multipliers, a bonus rule and 50 running promotions (multipliers, fixed and
/// per-unit awards, budgets, per-member limits, exclusive ones, opt-in ones, a voucher) — first
/// as a batch import of a transactions file, then as single transactions posted to the HTTP API
/// by concurrent keep-alive clients.
public struct AccrualBenchmark {
    public let customers: Int
    public let batchTransactions: Int
    public let httpTransactions: Int
    public let connections: Int

    public init(customers: Int = 10_000, batchTransactions: Int = 200_000, httpTransactions: Int = 20_000, connections: Int = 32) {
        self.customers = customers
        self.batchTransactions = batchTransactions
        self.httpTransactions = httpTransactions
        self.connections = connections
    }

    public struct Result: Sendable {
        public var batchPerSecond: Double
        public var httpPerSecond: Double
        public var batchSeconds: Double
        public var httpSeconds: Double
        public var promotions: Int
        public var members: Int
        public var httpFailures: Int
        public var ledger: LedgerReport
        /// Redemptions over HTTP by the same number of concurrent clients: how many, and their latency.
        public var redemptions = 0
        public var redemptionFailures = 0
        public var redemptionP50: Double = 0
        public var redemptionP99: Double = 0
        /// Statements sent to the database server per request (PostgreSQL: round trips); nil on SQLite.
        public var statementsPerAccrual: Double?
        public var statementsPerRedemption: Double?
    }

    public func run(patron: Patron, directory: String, log: (String) -> Void) async throws -> Result {
        let importer = ImportBenchmark(rows: batchTransactions, customers: customers)
        try await importer.seed(patron)
        let program = try await Self.setUpProgram(patron)
        for n in 1...customers { _ = try await patron.loyalty.enroll(CustomerID(Int64(n)), in: program.id) }
        let promotions = try await patron.loyalty.promotions(of: program.id).count
        log("\(customers) members of \(program.code) with \(promotions) running promotions")

        let batch = try await importer.importFile(patron: patron, directory: directory, log: log)
        log("batch: \(batch.report.summary)")

        let http = try await runHTTP(patron: patron, log: log)
        let redemption = try await runRedemptions(patron: patron, log: log)
        let ledger = try await patron.loyalty.verify()
        var result = Result(
            batchPerSecond: batch.report.rowsPerSecond, httpPerSecond: Double(httpTransactions - http.failures) / http.seconds,
            batchSeconds: batch.report.seconds, httpSeconds: http.seconds, promotions: promotions, members: customers,
            httpFailures: http.failures, ledger: ledger)
        result.redemptions = redemption.count
        result.redemptionFailures = redemption.failures
        result.redemptionP50 = redemption.p50
        result.redemptionP99 = redemption.p99
        result.statementsPerAccrual = http.statements.map { Double($0) / Double(httpTransactions) }
        result.statementsPerRedemption = redemption.statements.map { Double($0) / Double(max(redemption.count, 1)) }
        return result
    }

    /// The program: Blue, Silver, Gold, Platinum with multipliers, a wine bonus, 50 promotions.
    static func setUpProgram(_ patron: Patron) async throws -> Program {
        let loyalty = patron.loyalty
        let program = try await loyalty.createProgram(
            code: "BENCH", name: "Benchmark Rewards", valuePerThousandPoints: Money(minorUnits: 500, currency: "USD"), expiryMonths: 24,
            pendingDays: 14)
        try await loyalty.configure(
            program.id,
            rules: EarningRules(
                pointsPerUnit: 1, categoryPercent: ["camping": 150], tierPercent: ["Silver": 125, "Gold": 150, "Platinum": 200],
                bonuses: [try BonusRule(name: "Big basket", criteria: "purchase.amount >= 150", action: .fixed(25))], maxPerTransaction: 5_000),
            tiers: try TierPolicy(tiers: [
                .init(name: "Blue", threshold: 0), .init(name: "Silver", threshold: 1_000), .init(name: "Gold", threshold: 3_000),
                .init(name: "Platinum", threshold: 8_000),
            ]))
        _ = try await loyalty.addReward(to: program.id, code: "TOTE", name: "Tote bag", kind: .product, pointsPrice: 400, stock: 1_000)
        let start = Date(epochSeconds: 1_704_067_200)  // 2024-01-01
        let end = Date(epochSeconds: 1_830_297_600)  // 2028-01-01
        let stores = (1...12).map { "S\($0)" }
        for n in 0..<50 {
            let action: Promotion.Action =
                switch n % 5 {
                case 0: .multiplier(percent: 200)
                case 1: .fixed(50)
                case 2: .pointsPerUnit(2)
                case 3: .multiplier(percent: 150)
                default: n == 49 ? .voucher(rewardCode: "TOTE") : .fixed(10)
                }
            // Like a real program's: each promotion aims at a store, a basket size, a tier or a month, so all
            // fifty are evaluated on every purchase but a purchase qualifies for one or two.
            let criteria: String =
                switch n % 4 {
                case 0: #"purchase.store == "\#(stores[n % 12])""#
                case 1: "purchase.amount >= \(150 + n)"
                case 2: #"member.tier in ["Gold", "Platinum"] and purchase.store == "\#(stores[(n + 5) % 12])""#
                default:
                    #"purchase.date >= date("202\#(4 + n % 2)-\#(String(format: "%02d", n % 12 + 1))-01") and purchase.date < date("202\#(4 + n % 2)-\#(String(format: "%02d", n % 12 + 1))-28")"#
                }
            _ = try await loyalty.createPromotion(
                PromotionDraft(
                    code: "P\(n)", name: "Promotion \(n)", startsAt: start, endsAt: end, requiresEnrolment: n % 10 == 7, criteria: criteria,
                    action: action, perMemberLimit: n % 3 == 0 ? 5 : nil, budgetPoints: n % 4 == 1 ? 200_000 : nil, priority: n % 7,
                    stacking: n % 9 == 0 ? .exclusive : .cumulative), in: program.id)
        }
        return program
    }

    /// Starts the API on a free loopback port and posts `httpTransactions` purchases over `connections` keep-alive connections.
    /// Redemptions of 10 points each by `connections` concurrent staff clients, over as many
    /// members as there are clients × 4 (so several clients contend for one member's lots at
    /// once), after each got spendable points; the latency of every request is kept.
    func runRedemptions(patron: Patron, log: (String) -> Void) async throws -> (count: Int, failures: Int, p50: Double, p99: Double, statements: Int?) {
        let members = min(customers, max(connections * 4, 1))
        let perClient = 50
        let total = connections * perClient
        for n in 1...members {
            guard let member = try await patron.loyalty.memberships(of: CustomerID(Int64(n))).first else { continue }
            _ = try await patron.loyalty.adjust(10_000, for: member.id, memo: "bench", by: "bench", idempotencyKey: nil)
        }
        var ids: [Int64] = []
        for n in 1...members { if let m = try await patron.loyalty.memberships(of: CustomerID(Int64(n))).first { ids.append(m.id.rawValue) } }
        let memberIDs = ids
        _ = try? await patron.access.addUser(email: "bench-redeemer@bench.example", password: "bench-password", role: .admin)
        let bearer = try await patron.access.logIn(email: "bench-redeemer@bench.example", password: "bench-password", client: nil).token
        let latencies = LatencySink()
        let connections = connections
        return try await withLoopbackServer(patron: patron) { port in
            log("redemptions: \(total) over \(connections) connections on \(memberIDs.count) members…")
            let statementsBefore = (patron.database as? any CountsStatements)?.statementsSent
            let counter = Counter()
            let failures = try await withThrowingTaskGroup(of: Int.self) { clients in
                for _ in 0..<connections {
                    clients.addTask {
                        try await HTTPBenchClient.post(port: port, bearer: bearer, latencies: latencies) {
                            let n = counter.next()
                            guard n < total else { return nil }
                            return ("/v1/members/\(memberIDs[n % memberIDs.count])/redemptions", #"{"points":10,"reference":"bench-\#(n)"}"#)
                        }
                    }
                }
                return try await clients.reduce(0, +)
            }
            let statements = statementsBefore.flatMap { before in (patron.database as? any CountsStatements).map { $0.statementsSent - before } }
            return (total, failures, latencies.percentile(50), latencies.percentile(99), statements)
        }
    }

    func runHTTP(patron: Patron, log: (String) -> Void) async throws -> (seconds: Double, failures: Int, statements: Int?) {
        let secret = try await Self.setUpTill(patron)
        let total = httpTransactions, customers = customers, connections = connections
        return try await withLoopbackServer(patron: patron) { port in
            log("HTTP: \(total) purchases over \(connections) connections to 127.0.0.1:\(port)…")
            let statementsBefore = (patron.database as? any CountsStatements)?.statementsSent
            let counter = Counter()
            let occurredAt = ISO8601DateFormatter().string(from: Date())
            let started = Date()
            let failures = try await withThrowingTaskGroup(of: Int.self) { clients in
                for _ in 0..<connections {
                    clients.addTask {
                        try await HTTPBenchClient.post(port: port, bearer: secret) {
                            let n = counter.next()
                            guard n < total else { return nil }
                            return Self.purchase(n, customers: customers, occurredAt: occurredAt)
                        }
                    }
                }
                return try await clients.reduce(0, +)
            }
            let statements = statementsBefore.flatMap { before in (patron.database as? any CountsStatements).map { $0.statementsSent - before } }
            return (Date().timeIntervalSince(started), failures, statements)
        }
    }
}

extension AccrualBenchmark {
    /// The bench's partner, which owns the twelve stores (a till records only at its partner's
    /// outlets), and an API key of its till: the key's secret.
    static func setUpTill(_ patron: Patron) async throws -> String {
        _ = try await patron.partners.save(
            code: "BENCH", name: "Bench", outlets: (1...12).map { "S\($0)" }, rewards: [], currency: "USD", pricePerThousandPoints: 800,
            payoutPerVoucher: 0)
        return try await patron.access.createAPIKey(name: "bench", partner: "BENCH", scopes: [.transactionsWrite]).secret
    }

    /// The body of the `n`th purchase posted to `/v1/transactions`: a random member of 1…`customers`
    /// at the member's store, a random amount.
    static func purchase(_ n: Int, customers: Int, occurredAt: String, prefix: String = "H") -> String {
        let customer = Int.random(in: 1...customers)
        let cents = Int.random(in: 199...19_999)
        return
            #"{"transactionId":"\#(prefix)\#(n)","customerId":\#(customer),"occurredAt":"\#(occurredAt)","amount":\#(cents),"currency":"USD","store":"S\#(customer % 12 + 1)","channel":"store"}"#
    }
}

/// Runs Patron's server on a free loopback port while `body` runs with that port, then stops it.
func withLoopbackServer<T: Sendable>(patron: Patron, _ body: (Int) async throws -> T) async throws -> T {
    let (ports, portSink) = AsyncStream.makeStream(of: Int.self)
    var logger = Logger(label: "patron.bench")
    // The server is stopped by cancellation when the body is done, which it reports as an error.
    logger.logLevel = .critical
    let app = try buildApplication(patron: patron, port: 0, logger: logger) { port in portSink.yield(port) }
    return try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask {
            try await app.run()
            return nil
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw CocoaError(.featureUnsupported) }
        let result = try await body(port)
        group.cancelAll()
        return result
    }!
}

/// Request times collected from concurrent clients, in milliseconds.
final class LatencySink: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [Double] = []

    func add(_ ms: Double) { lock.withLock { values.append(ms) } }

    /// The p-th percentile (0–100) by nearest rank; 0 when nothing was timed.
    func percentile(_ p: Double) -> Double {
        let sorted = lock.withLock { values.sorted() }
        guard !sorted.isEmpty else { return 0 }
        let rank = Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1
        return sorted[min(max(rank, 0), sorted.count - 1)]
    }
}

/// A thread-safe ticket dispenser.
final class Counter: Sendable {
    private let value = Atomic<Int>(0)
    func next() -> Int { value.add(1, ordering: .relaxed).oldValue }
}

/// A minimal HTTP/1.1 keep-alive client for the benchmark: one request at a time on one connection.
enum HTTPBenchClient {
    /// Posts each body `next` gives to `/v1/transactions` until it gives nil; returns how many were not 201.
    static func post(port: Int, bearer: String, next: @Sendable () -> String?) async throws -> Int {
        try await post(port: port, bearer: bearer, latencies: nil) { next().map { ("/v1/transactions", $0) } }
    }

    /// Posts each (path, body) `next` gives until it gives nil, timing each request when asked;
    /// returns how many were not 201.
    static func post(port: Int, bearer: String, latencies: LatencySink?, next: @Sendable () -> (String, String)?) async throws -> Int {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            var responses = inbound.makeAsyncIterator()
            var failures = 0
            while let (uri, body) = next() {
                let sent = ContinuousClock.now
                var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: uri)
                head.headers.add(name: "Host", value: "127.0.0.1")
                head.headers.add(name: "Authorization", value: "Bearer \(bearer)")
                head.headers.add(name: "Content-Type", value: "application/json")
                head.headers.add(name: "Content-Length", value: String(body.utf8.count))
                try await outbound.write(.head(head))
                try await outbound.write(.body(.byteBuffer(ByteBuffer(string: body))))
                try await outbound.write(.end(nil))
                var status = 0
                while let part = try await responses.next() {
                    switch part {
                    case .head(let response): status = Int(response.status.code)
                    case .body: continue
                    case .end: break
                    }
                    if case .end = part { break }
                }
                if status != 201 { failures += 1 }
                latencies?.add((ContinuousClock.now - sent).milliseconds)
            }
            return failures
        }
    }
}
