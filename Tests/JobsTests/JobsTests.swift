import App
import Foundation
import Jobs
import Logging
import SharedModels
import Storage
import TestSupport
import Testing

@Suite("Job schedules")
struct JobScheduleTests {
    let t = Date(timeIntervalSince1970: 1_767_225_600 + 3_723)  // 2026-01-01T01:02:03Z

    @Test("due times are aligned, so that servers agree on each one")
    func aligned() {
        #expect(JobSchedule.every(seconds: 60).next(after: t) == Date(timeIntervalSince1970: 1_767_225_600 + 3_780))
        #expect(JobSchedule.every(seconds: 3600).next(after: t) == Date(timeIntervalSince1970: 1_767_225_600 + 7_200))
        #expect(JobSchedule.daily(second: 7_200).next(after: t) == Date(timeIntervalSince1970: 1_767_225_600 + 7_200))
        #expect(JobSchedule.daily(second: 3_600).next(after: t) == Date(timeIntervalSince1970: 1_767_225_600 + 86_400 + 3_600))
        // Monthly: 1 Feb 03:00, and from the last day of a month to the next month's day.
        #expect(JobSchedule.monthly(day: 1, second: 10_800).next(after: t) == Date(timeIntervalSince1970: 1_767_225_600 + 10_800))
        #expect(JobSchedule.monthly(day: 1, second: 10_800).next(after: t.addingTimeInterval(7_200)) == Date(timeIntervalSince1970: 1_769_904_000 + 10_800))
        #expect(JobSchedule.monthly(day: 1, second: 10_800).next(after: Date(timeIntervalSince1970: 1_767_225_600)) == Date(timeIntervalSince1970: 1_767_225_600 + 10_800))
        #expect(JobSchedule.every(seconds: 60).description == "every minute" && JobSchedule.daily(second: 7_200).description == "daily at 02:00 UTC")
    }
}

/// Counts the runs of its work; fails while `failing` is set.
final class Work: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    var failing = false
    var runs: Int { lock.withLock { count } }
    func run() throws -> String? {
        lock.withLock { count += 1 }
        if lock.withLock({ failing }) { throw CocoaError(.featureUnsupported) }
        return "done"
    }
}

@Suite("The jobs table on every engine")
struct JobRunnerTests {
    func runner(_ patron: Patron, _ clock: TestClock, holder: String, jobs: [JobDefinition]) -> JobRunner {
        var r = JobRunner(store: patron.jobStore, jobs: jobs, clock: clock.clock, holder: holder, logger: Logger(label: "test"))
        r.lease = 60
        return r
    }

    @Test("Two servers on one database run each due job once: one run per due time", arguments: TestEngine.available)
    func twoServers(engine: TestEngine) async throws {
        let clock = TestClock()
        try await TestDatabase.withPatron(engine, clock: clock) { patron in
            let works = (0..<4).map { _ in Work() }
            let jobs = works.enumerated().map { i, work in JobDefinition(name: "job\(i)", schedule: .every(seconds: 60)) { try work.run() } }
            let a = runner(patron, clock, holder: "server-a", jobs: jobs), b = runner(patron, clock, holder: "server-b", jobs: jobs)
            try await a.register()
            try await b.register()
            for _ in 0..<5 {
                async let ranA = a.runDue()
                async let ranB = b.runDue()
                _ = await (ranA, ranB)
                clock.advance(by: 60)
            }
            #expect(works.map(\.runs) == [5, 5, 5, 5], "each job ran once per due time: \(works.map(\.runs))")
            let runs = try await patron.jobStore.runs(job: nil, limit: 100)
            #expect(runs.count == 20 && runs.allSatisfy { $0.outcome == "succeeded" })
            #expect(Set(runs.map { "\($0.job) \($0.dueAt)" }).count == 20, "one run per job and due time")
        }
    }

    @Test("A killed server's job is taken over when its lease runs out; failures retry later and die after the last attempt", arguments: TestEngine.available)
    func leasesAndFailures(engine: TestEngine) async throws {
        let clock = TestClock()
        try await TestDatabase.withPatron(engine, clock: clock) { patron in
            let work = Work()
            let job = JobDefinition(name: "flaky", schedule: .every(seconds: 3600), maximumAttempts: 3) { try work.run() }
            let a = runner(patron, clock, holder: "server-a", jobs: [job]), b = runner(patron, clock, holder: "server-b", jobs: [job])
            try await a.register()
            // Server A claims the run, then dies (it never finishes).
            let claimed = try #require(try await patron.jobStore.claim(names: ["flaky"], holder: "server-a", now: clock.now, lease: 60))
            #expect(await b.runDue().isEmpty, "the lease holds")
            clock.advance(by: 61)
            let taken = await b.runDue()
            #expect(taken.count == 1 && taken[0].0.attempt == 2 && taken[0].1)
            let runs = try await patron.jobStore.runs(job: "flaky", limit: 10)
            #expect(runs.first { $0.id == claimed.run }?.outcome == "abandoned")
            #expect(work.runs == 1)

            // Failing: retried after 30 s, then 60 s, then dead.
            clock.advance(by: 3600)
            work.failing = true
            #expect(await b.runDue().map(\.1) == [false])
            #expect(await b.runDue().isEmpty, "not before the retry delay")
            clock.advance(by: 31)
            #expect(await b.runDue().map(\.1) == [false])
            clock.advance(by: 61)
            #expect(await b.runDue().map(\.1) == [false])
            let dead = try #require(try await patron.jobStore.jobs().first)
            #expect(dead.dead && dead.status(at: clock.now) == "dead" && dead.lastError != nil)
            clock.advance(by: 86_400)
            #expect(await b.runDue().isEmpty, "a dead job waits for an admin")
            let last = try #require(try await patron.jobStore.runs(job: "flaky", limit: 1).first)
            #expect(last.outcome == "dead")
            work.failing = false
            #expect(try await patron.jobStore.retry(run: last.id, at: clock.now) == "flaky")
            #expect(await b.runDue().map(\.1) == [true])
            #expect(try await patron.jobStore.jobs().first?.status(at: clock.now) == "scheduled")
        }
    }

    @Test("Patron's own jobs are registered with their schedules, and each runs on an empty database", arguments: TestEngine.available)
    func patronJobs(engine: TestEngine) async throws {
        let clock = TestClock()
        try await TestDatabase.withPatron(engine, clock: clock) { patron in
            let runner = patron.jobRunner(logger: Logger(label: "test"))
            try await runner.register()
            let jobs = try await patron.jobStore.jobs()
            #expect(Set(jobs.map(\.name)) == ["expiry", "sla-alerts", "campaigns", "scoring", "segments", "tier-review", "settlements", "partitions"])
            for name in jobs.map(\.name) { _ = try await patron.jobStore.makeDue(name, at: clock.now) }
            let ran = await runner.runDue()
            let said = try await patron.jobStore.runs(job: nil, limit: 10).map { "\($0.job): \($0.outcome) \($0.detail ?? "")" }
            #expect(ran.count == 8 && ran.allSatisfy(\.1), "\(said)")
        }
    }
}
