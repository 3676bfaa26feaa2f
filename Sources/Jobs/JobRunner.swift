import Foundation
import Logging
import ServiceLifecycle
import SharedModels

/// A background job: a name, a schedule, and work that is idempotent by construction (running it
/// twice for one due time, or again after a crash half-way, changes nothing more than once).
public struct JobDefinition: Sendable {
    public var name: String
    public var schedule: JobSchedule
    /// When it is first due in a new database (default: at once).
    public var firstDue: @Sendable (Date) async -> Date
    /// Failed attempts at one due time before the job is dead (and an admin must retry it).
    public var maximumAttempts: Int
    /// The work; returns a line saying what it did.
    public var work: @Sendable () async throws -> String?

    public init(
        name: String, schedule: JobSchedule, maximumAttempts: Int = 5, firstDue: @escaping @Sendable (Date) async -> Date = { $0 },
        work: @escaping @Sendable () async throws -> String?
    ) {
        self.name = name
        self.schedule = schedule
        self.maximumAttempts = maximumAttempts
        self.firstDue = firstDue
        self.work = work
    }
}

/// Runs the due jobs of the jobs table, as one `Service` of the application's service group.
///
/// Any number of servers run a `JobRunner` on one database: a due run is claimed exclusively
/// (`FOR UPDATE SKIP LOCKED` on PostgreSQL, the single writer on SQLite) under a lease that the
/// runner extends while the work runs; a killed server's lease runs out and another server takes
/// the job over. A failed run is retried with a growing delay (30 s, 1, 2, 4… min, at most an hour)
/// and is dead after ``JobDefinition/maximumAttempts``. Time comes from the injected clock. On
/// graceful shutdown the runner claims nothing more, lets a running job finish, and releases its
/// lease if cancelled.
public struct JobRunner: Service, CustomStringConvertible {
    public let store: any JobStore
    public let jobs: [JobDefinition]
    public let clock: Clock
    /// Who holds the leases: host, process and a random part.
    public let holder: String
    public var lease: TimeInterval = 120
    /// How often the table is looked at for due jobs.
    public var pollInterval: Duration = .seconds(2)
    public let logger: Logger

    public init(store: any JobStore, jobs: [JobDefinition], clock: Clock, holder: String = JobRunner.defaultHolder(), logger: Logger) {
        self.store = store
        self.jobs = jobs
        self.clock = clock
        self.holder = holder
        self.logger = logger
    }

    public var description: String { "JobRunner(\(jobs.map(\.name).joined(separator: ", ")))" }

    public static func defaultHolder() -> String {
        "\(ProcessInfo.processInfo.hostName):\(ProcessInfo.processInfo.processIdentifier):\(UUID().uuidString.prefix(8))"
    }

    /// Puts every job in the table (each first due as its definition says).
    public func register() async throws {
        let now = clock.now
        var rows: [(name: String, schedule: String, firstDue: Date)] = []
        for job in jobs { rows.append((job.name, job.schedule.description, await job.firstDue(now))) }
        try await store.register(rows)
    }

    /// Claims and runs due jobs, one at a time, until none is due (or `stop` says so). Returns
    /// the claims it ran, with how each ended.
    @discardableResult
    public func runDue(only names: [String]? = nil, stop: @Sendable () -> Bool = { false }) async -> [(JobClaim, Bool)] {
        var ran: [(JobClaim, Bool)] = []
        let wanted = names ?? jobs.map(\.name)
        while !stop(), !Task.isCancelled {
            let claim: JobClaim?
            do {
                claim = try await store.claim(names: wanted, holder: holder, now: clock.now, lease: lease)
            } catch {
                logger.error("job claim failed", metadata: ["error": "\(error)"])
                return ran
            }
            guard let claim, let job = jobs.first(where: { $0.name == claim.job }) else { return ran }
            ran.append((claim, await run(job, claim)))
        }
        return ran
    }

    /// Runs one claimed job, extending its lease while it works.
    func run(_ job: JobDefinition, _ claim: JobClaim) async -> Bool {
        let started = ContinuousClock.now
        let store = store, holder = holder, clock = clock, lease = lease, logger = logger
        let outcome: Result<String?, any Error> = await withTaskGroup(of: Result<String?, any Error>?.self) { group in
            group.addTask {
                do { return .success(try await job.work()) } catch { return .failure(error) }
            }
            group.addTask {
                while !Task.isCancelled {
                    guard (try? await Task.sleep(for: .seconds(max(1, lease / 3)))) != nil else { return nil }
                    if (try? await store.extend(claim, holder: holder, until: clock.now.addingTimeInterval(lease))) == false {
                        logger.warning("job lease lost", metadata: ["job": "\(claim.job)"])
                    }
                }
                return nil
            }
            var result: Result<String?, any Error> = .success(nil)
            for await value in group {
                if let value {
                    result = value
                    group.cancelAll()
                }
            }
            return result
        }
        let now = clock.now
        do {
            switch outcome {
            case .success(let detail):
                try await store.succeed(claim, holder: holder, nextDue: job.schedule.next(after: max(now, claim.dueAt)), detail: detail, at: now)
                logger.info(
                    "job done",
                    metadata: ["job": "\(claim.job)", "ms": "\((ContinuousClock.now - started).components.seconds * 1000)", "detail": "\(detail ?? "")"])
                return true
            case .failure(let error):
                if Task.isCancelled {
                    try await store.release(holder: holder, at: now)
                    return false
                }
                let last = claim.attempt >= job.maximumAttempts
                let delay = min(3600, 30 * pow(2, Double(claim.attempt - 1)))
                try await store.fail(claim, holder: holder, error: String("\(error)".prefix(2_000)), retryAt: last ? nil : now.addingTimeInterval(delay), at: now)
                logger.error("job failed", metadata: ["job": "\(claim.job)", "attempt": "\(claim.attempt)", "dead": "\(last)", "error": "\(error)"])
                return false
            }
        } catch {
            logger.error("job outcome not recorded", metadata: ["job": "\(claim.job)", "error": "\(error)"])
            return false
        }
    }

    /// Registers the jobs, then runs due ones every ``pollInterval`` until graceful shutdown.
    public func run() async throws {
        try await register()
        let stopping = StopFlag()
        await withGracefulShutdownHandler {
            while !stopping.isSet, !Task.isCancelled {
                await runDue(stop: { stopping.isSet })
                try? await Task.sleep(for: pollInterval)
            }
        } onGracefulShutdown: {
            stopping.set()
        }
        try? await store.release(holder: holder, at: clock.now)
    }
}

/// Set once, read from any task.
final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}
