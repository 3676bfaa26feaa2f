import Foundation
import SharedModels

/// What an administrator sees of the background jobs and may do with them: each job's state and
/// the recent runs; make a job due now; retry the job of a failed or dead run.
public struct JobBoard: Sendable {
    let store: any JobStore
    public let clock: Clock

    public init(store: any JobStore, clock: Clock) {
        self.store = store
        self.clock = clock
    }

    public func jobs() async throws -> [JobState] { try await store.jobs() }

    /// Newest first, at most 1,000.
    public func runs(job: String? = nil, limit: Int) async throws -> [JobRun] { try await store.runs(job: job, limit: limit) }

    /// The job, due now (alive again if it was dead); nil for an unknown job.
    public func runNow(_ name: String) async throws -> JobState? {
        guard try await store.makeDue(name, at: clock.now) else { return nil }
        return try await store.jobs().first { $0.name == name }
    }

    /// The job of this run, due again now; nil for an unknown run.
    public func retry(run: Int64) async throws -> JobState? {
        guard let name = try await store.retry(run: run, at: clock.now) else { return nil }
        return try await store.jobs().first { $0.name == name }
    }
}
