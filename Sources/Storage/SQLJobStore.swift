import Foundation
import Jobs
import SQLKit
import SharedModels

/// The jobs table and its runs (the Jobs room's storage), over SQLKit.
public struct SQLJobStore: JobStore {
    let database: any Database

    public init(database: any Database) { self.database = database }

    public func register(_ jobs: [(name: String, schedule: String, firstDue: Date)]) async throws {
        try await database.write { db in
            for job in jobs {
                try await db.raw(
                    """
                    INSERT INTO jobs (name, schedule, next_due) VALUES (\(bind: job.name), \(bind: job.schedule), \(bind: job.firstDue.epochSeconds))
                    ON CONFLICT (name) DO UPDATE SET schedule = excluded.schedule, next_due = excluded.next_due
                    WHERE jobs.schedule <> excluded.schedule
                    """
                ).run()
            }
        }
    }

    public func claim(names: [String], holder: String, now: Date, lease: TimeInterval) async throws -> JobClaim? {
        guard !names.isEmpty else { return nil }
        let t = now.epochSeconds, until = now.addingTimeInterval(lease).epochSeconds
        let clause = database.claimClause
        return try await database.write { db in
            let list = SQLList(names.map { SQLBind($0) })
            guard
                let row = try await db.raw(
                    """
                    SELECT name, next_due FROM jobs WHERE name IN (\(list)) AND dead = 0 AND next_due <= \(bind: t)
                      AND (lease_expires IS NULL OR lease_expires < \(bind: t)) ORDER BY next_due, name LIMIT 1 \(unsafeRaw: clause)
                    """
                ).first()
            else { return nil }
            let name = try row.string("name"), due = try row.int64("next_due")
            // Conditional: another claimer that got here first leaves nothing to update.
            guard
                let claimed = try await db.raw(
                    """
                    UPDATE jobs SET lease_holder = \(bind: holder), lease_expires = \(bind: until), attempts = attempts + 1
                    WHERE name = \(bind: name) AND next_due = \(bind: due) AND dead = 0 AND (lease_expires IS NULL OR lease_expires < \(bind: t))
                    RETURNING attempts
                    """
                ).first()
            else { return nil }
            let attempt = Int(try claimed.int64("attempts"))
            // A run whose server died holding the lease.
            try await db.raw(
                "UPDATE job_runs SET outcome = 'abandoned', finished_at = \(bind: t) WHERE job = \(bind: name) AND outcome = 'running'"
            ).run()
            let run = try await db.raw(
                """
                INSERT INTO job_runs (job, due_at, attempt, holder, started_at, outcome)
                VALUES (\(bind: name), \(bind: due), \(bind: Int64(attempt)), \(bind: holder), \(bind: t), 'running') RETURNING id
                """
            ).first()!.int64("id")
            return JobClaim(run: run, job: name, dueAt: Date(epochSeconds: due), attempt: attempt)
        }
    }

    public func extend(_ claim: JobClaim, holder: String, until: Date) async throws -> Bool {
        try await database.write { db in
            try await db.raw(
                "UPDATE jobs SET lease_expires = \(bind: until.epochSeconds) WHERE name = \(bind: claim.job) AND lease_holder = \(bind: holder) RETURNING name"
            ).first() != nil
        }
    }

    public func succeed(_ claim: JobClaim, holder: String, nextDue: Date, detail: String?, at: Date) async throws {
        try await database.write { db in
            try await db.raw(
                """
                UPDATE jobs SET next_due = \(bind: nextDue.epochSeconds), lease_holder = NULL, lease_expires = NULL, attempts = 0, last_error = NULL,
                  last_run_at = \(bind: at.epochSeconds), last_outcome = 'succeeded'
                WHERE name = \(bind: claim.job) AND lease_holder = \(bind: holder)
                """
            ).run()
            try await Self.finish(db, claim, outcome: "succeeded", detail: detail, at: at)
        }
    }

    public func fail(_ claim: JobClaim, holder: String, error: String, retryAt: Date?, at: Date) async throws {
        try await database.write { db in
            try await db.raw(
                """
                UPDATE jobs SET next_due = \(bind: (retryAt ?? claim.dueAt).epochSeconds), lease_holder = NULL, lease_expires = NULL,
                  last_error = \(bind: error), last_run_at = \(bind: at.epochSeconds), last_outcome = \(bind: retryAt == nil ? "dead" : "failed"),
                  dead = \(bind: Int64(retryAt == nil ? 1 : 0))
                WHERE name = \(bind: claim.job) AND lease_holder = \(bind: holder)
                """
            ).run()
            try await Self.finish(db, claim, outcome: retryAt == nil ? "dead" : "failed", detail: error, at: at)
        }
    }

    static func finish(_ db: any SQLDatabase, _ claim: JobClaim, outcome: String, detail: String?, at: Date) async throws {
        try await db.raw(
            """
            UPDATE job_runs SET outcome = \(bind: outcome), finished_at = \(bind: at.epochSeconds), detail = \(bind: detail.map { String($0.prefix(2_000)) })
            WHERE id = \(bind: claim.run) AND outcome = 'running'
            """
        ).run()
    }

    public func release(holder: String, at: Date) async throws {
        try await database.write { db in
            try await db.raw(
                "UPDATE job_runs SET outcome = 'released', finished_at = \(bind: at.epochSeconds) WHERE holder = \(bind: holder) AND outcome = 'running'"
            ).run()
            // The attempt that was cut short does not count against the job.
            try await db.raw(
                "UPDATE jobs SET lease_holder = NULL, lease_expires = NULL, attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END WHERE lease_holder = \(bind: holder)"
            ).run()
        }
    }

    public func jobs() async throws -> [JobState] {
        try await database.read { db in
            try await db.raw("SELECT * FROM jobs ORDER BY name").all().map { row in
                JobState(
                    name: try row.string("name"), schedule: try row.string("schedule"), nextDue: try row.date("next_due"),
                    leaseHolder: try row.optionalString("lease_holder"), leaseExpires: try row.optionalDate("lease_expires"),
                    attempts: Int(try row.int64("attempts")), lastError: try row.optionalString("last_error"), lastRunAt: try row.optionalDate("last_run_at"),
                    lastOutcome: try row.optionalString("last_outcome"), dead: try row.int64("dead") == 1)
            }
        }
    }

    public func runs(job: String?, limit: Int) async throws -> [JobRun] {
        let limit = max(1, min(limit, 1_000))
        return try await database.read { db in
            let filter: SQLQueryString = job.map { "WHERE job = \(bind: $0)" } ?? ""
            return try await db.raw("SELECT * FROM job_runs \(filter) ORDER BY id DESC LIMIT \(literal: limit)").all().map { row in
                JobRun(
                    id: try row.int64("id"), job: try row.string("job"), dueAt: try row.date("due_at"), attempt: Int(try row.int64("attempt")),
                    holder: try row.string("holder"), startedAt: try row.date("started_at"), finishedAt: try row.optionalDate("finished_at"),
                    outcome: try row.string("outcome"), detail: try row.optionalString("detail"))
            }
        }
    }

    public func makeDue(_ name: String, at: Date) async throws -> Bool {
        try await database.write { db in
            try await db.raw(
                "UPDATE jobs SET next_due = \(bind: at.epochSeconds), dead = 0, attempts = 0 WHERE name = \(bind: name) RETURNING name"
            ).first() != nil
        }
    }

    public func retry(run: Int64, at: Date) async throws -> String? {
        guard let job = try await database.read({ db in try await db.raw("SELECT job FROM job_runs WHERE id = \(bind: run)").first()?.string("job") })
        else { return nil }
        _ = try await makeDue(job, at: at)
        return job
    }
}
