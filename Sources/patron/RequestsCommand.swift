import App
import Demo
import Interchange
import ArgumentParser
import Foundation
import SharedModels
import Support

/// `patron requests …`: the service desk from the command line — what is open, what broke its
/// SLA (for an alerting cron job), and the queues.
struct Requests: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Service requests: list open or breached ones, and the desk's queues with their SLA figures.",
        subcommands: [List.self, Desk.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Open requests, most urgent first (tab-separated: id, queue, priority, status, SLA, customer, subject).")
        @OptionGroup var db: DatabaseOption
        @Option(help: "Only this queue.") var queue: String?
        @Flag(help: "Only open requests past a response or resolution target; exits 2 when there are any.") var breached = false
        @Option(help: "At most this many.") var limit = 100

        func run() async throws {
            let (requests, now) = try await db.with { patron in
                var filter = RequestFilter.open
                filter.queue = queue
                filter.breachedOnly = breached
                return (try await patron.support.requests(filter, limit: limit), patron.settings.clock.now)
            }
            for r in requests {
                let sla: String
                switch r.resolutionClock(now: now) {
                case .breached(let s): sla = "resolution breached \(Int(s / 60)) min ago"
                case .due(let s) where r.responseClock(now: now).isBreach: sla = "response breached; resolution due in \(Int(s / 60)) min"
                case .due(let s): sla = "resolution due in \(Int(s / 60)) min"
                default: sla = "-"
                }
                print("\(r.id)\t\(r.queue)\t\(r.priority.rawValue)\t\(r.status.rawValue)\t\(sla)\t\(r.customer) \(r.customerName)\t\(r.subject)")
            }
            if breached && !requests.isEmpty { throw ExitCode(2) }
        }
    }

    struct Desk: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Queues with open, unassigned, breached and due-within-the-hour counts.")
        @OptionGroup var db: DatabaseOption
        @Flag(help: "Print one JSON object.") var json = false

        func run() async throws {
            let d = try await db.with { try await $0.support.summary() }
            if json {
                let object: [String: Any] = [
                    "queues": d.queues.map {
                        ["queue": $0.queue, "open": $0.open, "unassigned": $0.unassigned, "breached": $0.breached, "due_soon": $0.dueSoon]
                    },
                    "open": d.open, "breached": d.breached, "resolved_last_30_days": d.resolvedLast30Days,
                    "resolved_within_sla": d.resolvedWithinSLA as Any, "satisfaction": d.satisfaction as Any, "surveys": d.surveys,
                ]
                print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
                return
            }
            print("queue\topen\tunassigned\tbreached\tdue within the hour")
            for q in d.queues { print("\(q.queue)\t\(q.open)\t\(q.unassigned)\t\(q.breached)\t\(q.dueSoon)") }
            let within = d.resolvedWithinSLA.map { String(format: "%.1f%%", $0 * 100) } ?? "-"
            let csat = d.satisfaction.map { String(format: "%.2f of 5 from %d surveys", $0, d.surveys) } ?? "no surveys"
            print("resolved in the last 30 days: \(d.resolvedLast30Days), within SLA: \(within); satisfaction: \(csat)")
        }
    }
}
