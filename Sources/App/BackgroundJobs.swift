import Analytics
import Campaigns
import Foundation
import Jobs
import Logging
import Loyalty
import Partners
import SharedModels
import Storage
import Support

/// What `patron serve` runs: the web server, the job runner, or both.
public enum ServerRole: String, CaseIterable, Sendable {
    case web, worker, all
    public var servesRequests: Bool { self != .worker }
    public var runsJobs: Bool { self != .web }
}

extension Patron {
    /// The jobs table and its runs.
    public var jobStore: any JobStore { SQLJobStore(database: database) }

    /// The jobs as administrators see and steer them.
    public var jobBoard: JobBoard { JobBoard(store: jobStore, clock: settings.clock) }

    /// Every background job of Patron. Each is idempotent: run twice for one due time, or again
    /// after dying half-way, it changes nothing more than once.
    public func jobDefinitions() -> [JobDefinition] {
        let patron = self
        return [
            // Points whose lots reached their expiry date.
            JobDefinition(name: "expiry", schedule: .every(seconds: 3600)) {
                let expired = try await patron.loyalty.expire()
                return "\(expired.count) lots expired"
            },
            // Assignees told, once, that an open request of theirs broke its SLA (by email).
            JobDefinition(name: "sla-alerts", schedule: .every(seconds: 300)) {
                let told = try await patron.support.alertBreaches()
                return "\(told) assignees told of a missed SLA"
            },
            // Due campaign waves prepared, the outbox sent, responses attributed.
            JobDefinition(name: "campaigns", schedule: .every(seconds: 60)) {
                let r = try await patron.runCampaigns()
                return "\(r.sent) sent, \(r.bounced) bounced, \(r.retried) to retry"
            },
            // RFM, lifetime value, churn risk and basket rules written onto profiles; at once in a
            // database with data and no run in the last day.
            JobDefinition(
                name: "scoring", schedule: .daily(second: 2 * 3600),
                firstDue: { now in
                    let recent = (try? await patron.intelligence.latestRun()).flatMap { $0 }.map { $0.ranAt > now.addingTimeInterval(-86_400) } ?? false
                    let empty = (try? await patron.isEmpty()) ?? true
                    return !recent && !empty ? now : JobSchedule.daily(second: 2 * 3600).next(after: now)
                }
            ) {
                // Scores reach what segment rules read at once, not at the next facts refresh: a first run
                // (at once, on a database with data) left rules and drill-downs on scoreless facts for a day.
                let run = try await patron.runNightly()
                return "\(run.customers) customers scored; segment facts refreshed"
            },
            // The facts segments select on, after the night's scores.
            JobDefinition(name: "segments", schedule: .daily(second: 2 * 3600 + 1800), firstDue: { JobSchedule.daily(second: 2 * 3600 + 1800).next(after: $0) }) {
                "\(try await patron.segments.refresh()) customers' facts refreshed"
            },
            // Each program's tier review, once per its period (the program says when one is due;
            // a review asked for early does nothing).
            JobDefinition(name: "tier-review", schedule: .daily(second: 4 * 3600), firstDue: { JobSchedule.daily(second: 4 * 3600).next(after: $0) }) {
                var lines: [String] = []
                for program in try await patron.loyalty.programs() {
                    let review = try await patron.loyalty.reviewTiers(of: program.id)
                    if review.reviewed > 0 { lines.append("\(program.code): \(review.reviewed) reviewed, \(review.upgraded) up, \(review.downgraded) down") }
                }
                return lines.isEmpty ? "no review due" : lines.joined(separator: "; ")
            },
            // Last month's statement of every partner, settled on the 1st (a month settled already,
            // by hand or by an earlier run, is left as it is).
            JobDefinition(name: "settlements", schedule: .monthly(day: 1, second: 3 * 3600), firstDue: { JobSchedule.monthly(day: 1, second: 3 * 3600).next(after: $0) }) {
                let month = LocalDate(patron.settings.clock.now).firstOfMonth(addingMonths: -1)
                var settled = 0
                for partner in try await patron.partners.partners() {
                    do {
                        _ = try await patron.partners.settle(partner.code, month: month, by: "job:settlements")
                        settled += 1
                    } catch PartnerError.conflict {}
                }
                return "\(settled) partners settled for \(month.description.prefix(7))"
            },
            // The coming months' partitions of the largest tables made (PostgreSQL), and message and
            // response logs past their retention removed.
            JobDefinition(name: "partitions", schedule: .daily(second: 1 * 3600)) {
                let r = try await MonthlyPartitions.maintain(patron.database, now: patron.settings.clock.now, retention: patron.settings.retention)
                return "\(r.made) partitions made, \(r.dropped) dropped, \(r.deleted) rows past retention deleted"
            },
        ]
    }

    /// The job runner of this process.
    public func jobRunner(logger: Logger) -> JobRunner {
        JobRunner(store: jobStore, jobs: jobDefinitions(), clock: settings.clock, logger: logger)
    }
}
