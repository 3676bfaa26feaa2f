import Foundation

/// A job as the jobs table holds it: when it is next due, who runs it now, how it last ended.
public struct JobState: Sendable, Equatable {
    public var name: String
    public var schedule: String
    public var nextDue: Date
    /// The server running it now, and until when its lease holds (a killed server's lease runs out
    /// and another takes the job over).
    public var leaseHolder: String?
    public var leaseExpires: Date?
    /// Failed attempts at the current due time.
    public var attempts: Int
    public var lastError: String?
    public var lastRunAt: Date?
    public var lastOutcome: String?
    /// Failed `maximumAttempts` times in a row: not run again until retried.
    public var dead: Bool

    public init(
        name: String, schedule: String, nextDue: Date, leaseHolder: String?, leaseExpires: Date?, attempts: Int, lastError: String?, lastRunAt: Date?,
        lastOutcome: String?, dead: Bool
    ) {
        self.name = name
        self.schedule = schedule
        self.nextDue = nextDue
        self.leaseHolder = leaseHolder
        self.leaseExpires = leaseExpires
        self.attempts = attempts
        self.lastError = lastError
        self.lastRunAt = lastRunAt
        self.lastOutcome = lastOutcome
        self.dead = dead
    }

    /// `dead`, `running`, `failed` (will retry), `due` or `scheduled`, as of `now`.
    public func status(at now: Date) -> String {
        if dead { return "dead" }
        if let expires = leaseExpires, expires > now { return "running" }
        if attempts > 0 { return "failed" }
        return nextDue <= now ? "due" : "scheduled"
    }
}

/// One attempt at one due time of a job.
public struct JobRun: Sendable, Equatable {
    public var id: Int64
    public var job: String
    public var dueAt: Date
    public var attempt: Int
    public var holder: String
    public var startedAt: Date
    public var finishedAt: Date?
    /// `running`, `succeeded`, `failed`, `dead` (failed for the last time), `abandoned` (its
    /// server died; the lease ran out and another took over) or `released` (its server stopped).
    public var outcome: String
    /// What it did, or why it failed.
    public var detail: String?

    public init(
        id: Int64, job: String, dueAt: Date, attempt: Int, holder: String, startedAt: Date, finishedAt: Date?, outcome: String, detail: String?
    ) {
        self.id = id
        self.job = job
        self.dueAt = dueAt
        self.attempt = attempt
        self.holder = holder
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.outcome = outcome
        self.detail = detail
    }
}

/// A due job claimed by one server: only its holder may finish it, while its lease holds.
public struct JobClaim: Sendable, Equatable {
    public var run: Int64
    public var job: String
    public var dueAt: Date
    public var attempt: Int

    public init(run: Int64, job: String, dueAt: Date, attempt: Int) {
        self.run = run
        self.job = job
        self.dueAt = dueAt
        self.attempt = attempt
    }
}

/// The jobs table and its runs. Implemented once in Storage over SQLKit.
public protocol JobStore: Sendable {
    /// Adds the jobs not in the table yet, due at `firstDue`; a job whose schedule changed is due
    /// again at `firstDue`.
    func register(_ jobs: [(name: String, schedule: String, firstDue: Date)]) async throws
    /// Claims the job among `names` that is due longest, exclusively (no other server can claim
    /// it until the lease expires), and records the run. Nil when none is due.
    func claim(names: [String], holder: String, now: Date, lease: TimeInterval) async throws -> JobClaim?
    /// Extends the holder's lease; false when the lease was lost.
    func extend(_ claim: JobClaim, holder: String, until: Date) async throws -> Bool
    func succeed(_ claim: JobClaim, holder: String, nextDue: Date, detail: String?, at: Date) async throws
    /// A failed run: due again at `retryAt`, or dead when that is nil.
    func fail(_ claim: JobClaim, holder: String, error: String, retryAt: Date?, at: Date) async throws
    /// A server stopping: its runs are `released` and their jobs free to claim at once.
    func release(holder: String, at: Date) async throws
    func jobs() async throws -> [JobState]
    /// Newest first.
    func runs(job: String?, limit: Int) async throws -> [JobRun]
    /// Makes a job due now (and alive again, if dead). False for an unknown job.
    func makeDue(_ name: String, at: Date) async throws -> Bool
    /// The job of a run: due now and alive again. Nil for an unknown run.
    func retry(run: Int64, at: Date) async throws -> String?
}
