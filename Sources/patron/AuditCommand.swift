import Access
import App
import Demo
import Interchange
import ArgumentParser
import Customers
import Foundation
import SharedModels

/// `patron audit`: the audit log, newest first (tab-separated: id, time, actor, action, target, outcome, detail).
struct Audit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The audit log, newest first: sign-ins (failed and refused too) and every change through the API and the console.")
    @OptionGroup var db: DatabaseOption
    @Option(help: "Only this actor (a staff email, member:ID, partner:NAME/KEY, or the email tried at a failed sign-in).") var actor: String?
    @Option(help: "Only events whose action or target contains this text, e.g. customers/42 or login.failed.") var contains: String?
    @Option(help: "At most this many.") var limit = 100

    func run() async throws {
        let events = try await db.with { try await $0.access.auditEvents(AuditQuery(actor: actor, contains: contains, limit: limit)) }
        let format = ISO8601DateFormatter()
        for e in events {
            print([String(e.id), format.string(from: e.at), e.actor, e.action, e.target ?? "-", e.outcome, e.detail ?? ""].joined(separator: "\t"))
        }
    }
}

/// `patron privacy …`: privacy requests from the command line.
struct Privacy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Privacy requests: list them, write a customer's data for an access request, carry out an erasure.",
        subcommands: [List.self, Export.self, Erase.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Open requests by deadline, then the rest (id, kind, status, customer, due, outcome).")
        @OptionGroup var db: DatabaseOption

        func run() async throws {
            let (requests, now) = try await db.with { (try await $0.privacy.requests(), $0.settings.clock.now) }
            for r in requests {
                let due = LocalDate(r.dueAt).description + (r.overdue(now: now) ? " OVERDUE" : "")
                print(
                    [String(r.id.rawValue), r.kind.rawValue, r.status.rawValue, "\(r.customer) \(r.customerName)", due, r.outcome ?? ""].joined(
                        separator: "\t"))
            }
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Answer an access request: the customer's data as JSON (completes the request).")
        @OptionGroup var db: DatabaseOption
        @Argument(help: "The request's id.") var request: Int64
        @Option(help: "Write here instead of standard output.") var output: String?
        @Option(help: "Who answers it (recorded on the request and in the audit log).") var by: String = "cli"

        func run() async throws {
            let data = try await db.with { patron in try await reporting { try await patron.privacy.export(PrivacyRequestID(request), by: by) } }
            if let output { try data.write(to: URL(fileURLWithPath: output)) } else { FileHandle.standardOutput.write(data) }
        }
    }

    struct Erase: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Carry out an erasure request (cannot be undone).")
        @OptionGroup var db: DatabaseOption
        @Argument(help: "The request's id.") var request: Int64
        @Option(help: "Who carries it out (recorded on the request and in the audit log).") var by: String = "cli"

        func run() async throws {
            let (r, report) = try await db.with { patron in try await reporting { try await patron.privacy.erase(PrivacyRequestID(request), by: by) }
            }
            print("customer \(r.customer) erased: \(report.description)")
        }
    }
}
