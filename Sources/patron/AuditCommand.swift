import Access
import App
import ArgumentParser
import Foundation

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
