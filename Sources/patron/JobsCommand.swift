import App
import Demo
import Interchange
import ArgumentParser
import Foundation
import Jobs
import SharedModels

struct JobsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobs", abstract: "The background jobs: their schedules, runs and failures.", subcommands: [List.self, Run.self, Retry.self])

    static func time(_ date: Date?) -> String {
        guard let date else { return "-" }
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: date)
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Each job with its schedule, last run and next due.")
        @OptionGroup var db: DatabaseOption
        @Option(help: "Also list this many recent runs.") var runs = 0

        func run() async throws {
            try await db.with { patron in
                let runner = patron.jobRunner(logger: quietLogger())
                try await runner.register()
                let now = patron.settings.clock.now
                let rows = try await patron.jobBoard.jobs().map { j in
                    [
                        j.name, j.schedule, j.lastRunAt.map { "\(JobsCommand.time($0)) \(j.lastOutcome ?? "")" } ?? "never", JobsCommand.time(j.nextDue),
                        j.status(at: now) + (j.attempts > 0 && !j.dead ? " (\(j.attempts) failed)" : ""), j.lastError.map { String($0.prefix(60)) } ?? "",
                    ]
                }
                printTable(["job", "schedule", "last run", "next due", "status", "last error"], rows)
                if runs > 0 {
                    print("")
                    let recent = try await patron.jobBoard.runs(limit: runs).map { r in
                        [String(r.id), r.job, JobsCommand.time(r.dueAt), String(r.attempt), r.outcome, JobsCommand.time(r.startedAt), r.detail.map { String($0.prefix(60)) } ?? ""]
                    }
                    printTable(["run", "job", "due", "attempt", "outcome", "started", "detail"], recent)
                }
            }
        }
    }

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run a job now, here (it is claimed like any run: not while another server runs it).")
        @OptionGroup var db: DatabaseOption
        @Argument(help: "The job's name (see patron jobs list).") var name: String

        func run() async throws {
            try await db.with { patron in
                let runner = patron.jobRunner(logger: quietLogger())
                guard runner.jobs.contains(where: { $0.name == name }) else {
                    throw fail("no job named \(name); the jobs are \(runner.jobs.map(\.name).joined(separator: ", "))")
                }
                try await runner.register()
                _ = try await patron.jobBoard.runNow(name)
                let ran = await runner.runDue(only: [name])
                guard let (claim, ok) = ran.first else { throw fail("\(name) is running on another server right now") }
                let run = try await patron.jobBoard.runs(job: name, limit: 5).first { $0.id == claim.run }
                print("\(name): \(ok ? "succeeded" : run?.outcome ?? "failed") — \(run?.detail ?? "")")
                if !ok { throw ExitCode.failure }
            }
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make the job of a failed or dead run due again now.")
        @OptionGroup var db: DatabaseOption
        @Argument(help: "The run's id (see patron jobs list --runs 20).") var id: Int64

        func run() async throws {
            try await db.with { patron in
                guard let job = try await patron.jobBoard.retry(run: id)?.name else { throw fail("no job run has id \(id)") }
                print("\(job) is due again; a server runs it within seconds (or: patron jobs run \(job))")
            }
        }
    }
}

/// Prints rows under a header, each column as wide as its widest cell.
func printTable(_ header: [String], _ rows: [[String]]) {
    let all = [header] + rows
    let widths = header.indices.map { i in all.map { $0.indices.contains(i) ? $0[i].count : 0 }.max() ?? 0 }
    for row in all {
        print(row.enumerated().map { i, cell in i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0) }.joined(separator: "  "))
    }
}
