import Foundation
import Support

/// The emails the service desk sends its agents: a request assigned to them by someone else,
/// and one of theirs that broke its SLA. Sent through the SMTP server campaigns use.
enum ServiceMail {
    static func send(
        _ notice: ServiceNotice, publicURL: String, through mail: @Sendable (String, String, String) async -> Bool
    ) async -> Bool {
        let r = notice.request
        guard let to = r.assignee, to.contains("@") else { return false }
        let link = (publicURL.hasSuffix("/") ? String(publicURL.dropLast()) : publicURL) + "/console/service/\(r.id)"
        let due = "First response due \(time(r.respondBy)); resolution due \(time(r.resolveBy))."
        switch notice {
        case .assigned(_, let by):
            return await mail(
                to, "Request #\(r.id) assigned to you: \(r.subject)",
                "\(by) assigned you request #\(r.id) from \(r.customerName) (\(r.kind.rawValue), \(r.priority.rawValue) priority, \(r.queue) queue).\n\(due)\n\nOpen it: \(link)\n")
        case .breached:
            let missed = r.firstResponseAt == nil ? "its first-response target" : "its resolution target"
            return await mail(
                to, "SLA missed: request #\(r.id) \(r.subject)",
                "Request #\(r.id) from \(r.customerName), assigned to you, has passed \(missed).\n\(due)\n\nOpen it: \(link)\n")
        }
    }

    static func time(_ d: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withFullDate, .withTime, .withColonSeparatorInTime, .withSpaceBetweenDateAndTime]
        return f.string(from: d) + " UTC"
    }
}
