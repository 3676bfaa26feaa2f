import Access
import Foundation
import HTTPTypes
import Jobs
import SharedModels

extension APIHandler {
    static func schema(_ j: JobState, now: Date) -> Components.Schemas.Job {
        .init(
            name: j.name, schedule: j.schedule, status: .init(rawValue: j.status(at: now)) ?? .scheduled, nextDue: j.nextDue, attempts: j.attempts,
            lastRunAt: j.lastRunAt, lastOutcome: j.lastOutcome, lastError: j.lastError, leaseHolder: j.leaseHolder, leaseExpires: j.leaseExpires)
    }

    static func schema(_ r: JobRun) -> Components.Schemas.JobRun {
        .init(
            id: r.id, job: r.job, dueAt: r.dueAt, attempt: r.attempt, holder: r.holder, startedAt: r.startedAt, finishedAt: r.finishedAt,
            outcome: .init(rawValue: r.outcome) ?? .running, detail: r.detail)
    }

    func listJobs(_ input: Operations.ListJobs.Input) async throws -> Operations.ListJobs.Output {
        _ = try Caller.require(.jobsManage)
        let now = jobs.clock.now
        let runs = input.query.runs ?? 50
        return .ok(
            .init(
                body: .json(
                    .init(
                        jobs: try await jobs.jobs().map { Self.schema($0, now: now) },
                        runs: runs == 0 ? [] : try await jobs.runs(job: nil, limit: runs).map(Self.schema)))))
    }

    func runJob(_ input: Operations.RunJob.Input) async throws -> Operations.RunJob.Output {
        _ = try Caller.require(.jobsManage)
        let now = jobs.clock.now
        guard let job = try await jobs.runNow(input.path.name) else {
            throw Problem(status: .notFound, code: "job_not_found", detail: "There is no job \(input.path.name).")
        }
        return .accepted(.init(body: .json(Self.schema(job, now: now))))
    }

    func retryJobRun(_ input: Operations.RetryJobRun.Input) async throws -> Operations.RetryJobRun.Output {
        _ = try Caller.require(.jobsManage)
        let now = jobs.clock.now
        guard let job = try await jobs.retry(run: input.path.id) else {
            throw Problem(status: .notFound, code: "job_run_not_found", detail: "No job run has id \(input.path.id).")
        }
        return .accepted(.init(body: .json(Self.schema(job, now: now))))
    }
}
