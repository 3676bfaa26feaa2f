import Access
import Campaigns
import Customers
import Foundation
import Hummingbird
import SharedModels

/// The agent desk: the calls campaigns ask agents to make. An agent takes the next due call (or
/// claims one), so two agents never ring the same customer; the call screen shows the script and
/// the customer; the call ends with a disposition, which closes the task, or brings it back at the
/// callback's time, or the next day when nobody answered.
struct AgentDeskPages: Sendable {
    let console: WebConsole
    var s: WebConsole.Services { console.services }
    var pages: ConsolePages { ConsolePages(console: console) }

    static let dispositions: [(AgentTask.Disposition, String)] = [
        (.accepted, "Reached: took the offer"), (.declined, "Reached: not interested"), (.callback, "Reached: call back later"),
        (.noAnswer, "No answer"), (.wrongNumber, "Wrong number"), (.doNotCall, "Asked not to be called again"),
    ]

    static func label(_ d: AgentTask.Disposition) -> String { dispositions.first { $0.0 == d }?.1 ?? Format.label(d.rawValue) }

    func register(on router: Router<WebRequestContext>) {
        router.get("/console/tasks") { request, _ in try await console.signedIn(request, .console) { try await desk($0, request) } }
        router.get("/console/tasks/:id") { request, context in
            try await console.signedIn(request, .console) { v in
                guard let id = Int64(try context.parameters.require("id")) else { return try console.views.notFound(title: "No such call") }
                return try await call(v, id)
            }
        }
        router.post("/console/tasks/next") { request, context in
            try await console.posted(request, context, .console) { v, _ in
                guard v.principal.can(.tasksWork) else { return try pages.forbidden(v) }
                // The first due call nobody holds; if another agent takes it in between, the next one.
                for _ in 0..<5 {
                    let now = s.campaigns.clock.now
                    guard
                        let next = try await s.campaigns.taskPage(
                            AgentTaskQuery(claim: .unclaimed, agent: v.principal.actor, dueBy: now, now: now, limit: 1)
                        ).items.first
                    else { return try await desk(v, nil, flash: "No call is due now.") }
                    if (try? await s.campaigns.claim(task: next.id, by: v.principal.actor)) != nil {
                        return try await call(v, next.id, flash: "This call is yours for the next 30 minutes.")
                    }
                }
                return try await desk(v, nil, error: "Other agents took the due calls first; try again.")
            }
        }
        router.post("/console/tasks/:id/:action") { request, context in
            try await console.posted(request, context, .console) { v, form in
                guard v.principal.can(.tasksWork) else { return try pages.forbidden(v) }
                guard let id = Int64(try context.parameters.require("id")) else { return try console.views.notFound(title: "No such call") }
                do {
                    switch try context.parameters.require("action") {
                    case "claim":
                        _ = try await s.campaigns.claim(task: id, by: v.principal.actor)
                        return try await call(v, id, flash: "This call is yours for the next 30 minutes.")
                    case "release":
                        try await s.campaigns.release(task: id, by: v.principal.actor)
                        return try await desk(v, nil, flash: "Released: another agent can take the call.")
                    case "call":
                        return try await log(v, id, form)
                    default:
                        return try console.views.notFound(title: "Not found")
                    }
                } catch let error as PageNotFound {
                    throw error
                } catch {
                    return try await call(v, id, error: explain(error), kept: form.values)
                }
            }
        }
    }

    /// Logs the call; a do-not-call is also recorded as the customer's phone opt-out first, so
    /// it holds even if the task was closed meanwhile.
    func log(_ v: Visitor, _ id: Int64, _ form: Form) async throws -> Response {
        guard let disposition = form["disposition"].flatMap(AgentTask.Disposition.init(rawValue:)) else {
            return try await call(v, id, error: "Choose how the call ended.", kept: form.values)
        }
        var callbackAt: Date?
        if disposition == .callback {
            guard let text = form.text("callback_at"), let at = Self.parseMinute(text) else {
                return try await call(v, id, error: "Give the day and time to call back.", kept: form.values)
            }
            callbackAt = at
        }
        let task = try await s.campaigns.task(id)
        if disposition == .doNotCall {
            _ = try await s.customers.recordConsent(
                purpose: .marketing, channel: .call, granted: false, source: "call", text: "asked on a campaign call not to be called again",
                for: CustomerID(task.customer), by: v.principal.actor)
        }
        let t = try await s.campaigns.log(AgentCall(disposition: disposition, notes: form.text("notes"), callbackAt: callbackAt), onTask: id, by: v.principal.actor)
        let said: String =
            switch (disposition, t.status) {
            case (.callback, _): "Call back \(t.customerName) on \(Format.time(t.dueAt ?? callbackAt ?? Date()))."
            case (.noAnswer, .open): "No answer (call \(t.attempts) of \(AgentTask.maximumAttempts)); it comes back tomorrow."
            case (.noAnswer, _): "No answer after \(t.attempts) calls: closed as not reached."
            case (.doNotCall, _): "\(t.customerName) will not be called for marketing again."
            default: "Call with \(t.customerName) logged: \(Self.label(disposition).lowercased())."
            }
        return try await desk(v, nil, flash: said)
    }

    /// `2026-01-02T14:30` (a datetime-local field), read as UTC like every time the console shows.
    static func parseMinute(_ text: String) -> Date? {
        let parts = text.split(separator: "T")
        guard parts.count == 2, let day = LocalDate(String(parts[0])) else { return nil }
        let hm = parts[1].split(separator: ":")
        guard hm.count >= 2, let h = Int(hm[0]), let m = Int(hm[1]), (0..<24).contains(h), (0..<60).contains(m) else { return nil }
        return day.startOfDay.addingTimeInterval(TimeInterval(h * 3600 + m * 60))
    }

    func desk(_ v: Visitor, _ request: Request?, flash: String? = nil, error: String? = nil) async throws -> Response {
        guard v.principal.can(.tasksWork) else { return try pages.forbidden(v) }
        let query = request?.uri.queryParameters
        let show = query?["show"].map(String.init).flatMap(AgentTaskQuery.Claim.init(rawValue:)) ?? .any
        let later = query?["later"] == "yes"
        let done = query?["status"] == "done"
        let page = min(max(Int(query?["page"].map(String.init) ?? "") ?? 1, 1), 100_000)
        let now = s.campaigns.clock.now
        let me = v.principal.actor
        let result = try await s.campaigns.taskPage(
            AgentTaskQuery(
                status: done ? .done : .open, claim: show, agent: me, dueBy: later || done ? nil : now, now: now, offset: (page - 1) * ListRequest.pageSize,
                limit: ListRequest.pageSize))
        let campaigns = Dictionary(try await s.campaigns.campaigns().map { ($0.id, $0.plan.name) }, uniquingKeysWith: { a, _ in a })
        let pages = max(1, (result.total + ListRequest.pageSize - 1) / ListRequest.pageSize)
        func href(_ changes: [String: String?]) -> String {
            var values: [String: String] = ["show": show.rawValue]
            if later { values["later"] = "yes" }
            if done { values["status"] = "done" }
            for (k, v) in changes { values[k] = v }
            return "/console/tasks?" + values.sorted { $0.key < $1.key }.map { "\($0.key)=\(ListRequest.encode($0.value))" }.joined(separator: "&")
        }
        let first = result.total == 0 ? 0 : (page - 1) * ListRequest.pageSize + 1
        return try console.views.page(
            .console, visitor: v, title: "Agent desk", template: "tasks",
            [
                "flash": flash as Any, "error": error as Any, "done": done,
                "summary": result.total == 0
                    ? (done ? "No calls logged yet." : "No calls are due.")
                    : "Showing \(Format.number(first))–\(Format.number(first + result.items.count - 1)) of \(Format.number(result.total)) calls",
                "tabs": [
                    ("Due now", href(["show": "any", "later": nil, "status": nil]), !later && !done && show == .any),
                    ("Mine", href(["show": "mine", "later": nil, "status": nil]), show == .mine && !done),
                    ("Nobody's", href(["show": "unclaimed", "later": nil, "status": nil]), show == .unclaimed && !done),
                    ("Including later callbacks", href(["show": "any", "later": "yes", "status": nil]), later && !done),
                    ("Logged", href(["show": "any", "later": nil, "status": "done"]), done),
                ].map { ["label": $0.0, "href": $0.1, "current": $0.2] },
                "tasks": result.items.map { t -> [String: Any] in
                    let holder = t.holder(at: now)
                    return [
                        "id": t.id, "customer": t.customer, "name": t.customerName, "phone": t.phone.map(Format.phone) ?? "—",
                        "campaign": campaigns[t.campaign] ?? "Campaign \(t.campaign.rawValue)", "attempts": t.attempts,
                        "due": t.dueAt.map(Format.time) ?? "Now", "holder": holder as Any, "mine": holder == me,
                        "outcome": t.disposition.map(Self.label) ?? t.outcome ?? "", "completed": t.completedAt.map(Format.time) ?? "",
                        "by": t.completedBy ?? "",
                    ]
                },
                "pageLabel": "Page \(Format.number(page)) of \(Format.number(pages))",
                "previous": (page > 1 ? href(["page": String(page - 1)]) : nil) as Any,
                "next": (page < pages ? href(["page": String(page + 1)]) : nil) as Any,
            ])
    }

    func call(_ v: Visitor, _ id: Int64, flash: String? = nil, error: String? = nil, kept: [String: String] = [:]) async throws -> Response {
        guard v.principal.can(.tasksWork) else { return try pages.forbidden(v) }
        guard let t = try? await s.campaigns.task(id) else { return try console.views.notFound(title: "No such call") }
        let now = s.campaigns.clock.now
        let holder = t.holder(at: now)
        let mine = holder == v.principal.actor
        let campaign = try? await s.campaigns.campaign(t.campaign)
        let customer = try? await s.customers.customer(CustomerID(t.customer))
        let chosen = kept["disposition"] ?? ""
        return try console.views.page(
            .console, visitor: v, title: "Call \(t.customerName)", template: "call",
            [
                "flash": flash as Any, "error": error as Any, "id": t.id, "customer": t.customer, "name": t.customerName,
                "phone": t.phone.map(Format.phone) ?? "No phone on file", "script": t.script, "campaign": campaign?.plan.name ?? "",
                "campaignId": t.campaign.rawValue, "attempts": t.attempts, "maxAttempts": AgentTask.maximumAttempts,
                "due": t.dueAt.map(Format.time) ?? "Now", "open": t.status == .open, "holder": holder as Any, "mine": mine,
                "free": holder == nil && t.status == .open, "lastNotes": t.notes ?? "",
                "outcome": t.disposition.map(Self.label) ?? t.outcome ?? "",
                "email": customer?.profile.emails.first?.value ?? "—",
                "dispositions": Self.dispositions.map { ["value": $0.0.rawValue, "label": $0.1, "selected": $0.0.rawValue == chosen] },
                "notes": kept["notes"] ?? "", "callbackAt": kept["callback_at"] ?? "",
            ])
    }
}
