import Access
import Customers
import Foundation
import HTTPTypes
import Hummingbird
import SharedModels
import Support

/// The service desk in the console (queues, a request with its SLA clocks and thread, the
/// agent's actions), a customer's requests on the Customer 360, and "Help" in the member
/// portal, where a member opens and follows only their own requests.
struct ServicePages: Sendable {
    let console: WebConsole
    var views: Views { console.views }
    var support: SupportService { console.services.support }

    /// "due in 3 h 20 min", "breached 2 h ago", "met", "missed".
    static func clock(_ c: ServiceRequest.Clock) -> (text: String, state: String) {
        func span(_ s: TimeInterval) -> String {
            let minutes = Int(s / 60)
            if minutes < 60 { return "\(max(minutes, 1)) min" }
            let hours = minutes / 60
            if hours < 48 { return minutes % 60 == 0 ? "\(hours) h" : "\(hours) h \(minutes % 60) min" }
            return "\(hours / 24) days"
        }
        switch c {
        case .met: return ("met", "met")
        case .missed: return ("missed", "breached")
        case .due(let s): return ("due in \(span(s))", s < 3_600 ? "soon" : "due")
        case .breached(let s): return ("breached \(span(s)) ago", "breached")
        }
    }


    /// A request as a row of a list.
    static func row(_ r: ServiceRequest, now: Date) -> [String: Any] {
        let response = clock(r.responseClock(now: now))
        let resolution = clock(r.resolutionClock(now: now))
        return [
            "id": r.id.rawValue, "customer": r.customer, "name": r.customerName, "kind": r.kind.rawValue, "priority": r.priority.rawValue,
            "queue": r.queue, "subject": r.subject, "status": Format.label(r.status.rawValue), "assignee": r.assignee ?? "—",
            "opened": Format.time(r.openedAt), "response": response.text, "responseState": response.state, "resolution": resolution.text,
            "resolutionState": resolution.state, "breached": r.breached(now: now), "valueTier": r.valueTier,
        ]
    }

    func register(on router: Router<WebRequestContext>) {
        // MARK: Console
        router.get("/console/service") { request, _ in
            try await console.signedIn(request, .console) { v in
                let list = ListRequest(request, columns: Self.columns, defaultSort: "due", filters: ["queue", "view"])
                return try await desk(v, queue: list.filters["queue"], view: list.filters["view"] ?? "open", list: list)
            }
        }
        router.get("/console/service/:id") { request, context in
            try await console.signedIn(request, .console) { v in
                guard let id = Int64(try context.parameters.require("id")) else { return try views.notFound(title: "No such request") }
                return try await detail(v, ServiceRequestID(id))
            }
        }
        func action(_ path: String, _ act: @escaping @Sendable (Visitor, ServiceRequestID, Form) async throws -> String) {
            router.post(RouterPath(stringLiteral: "/console/service/:id/\(path)")) { request, context in
                try await console.posted(request, context, .console) { v, form in
                    guard v.principal.can(.requestsWork) else { return try ConsolePages(console: console).forbidden(v) }
                    guard let raw = Int64(try context.parameters.require("id")) else { return try views.notFound(title: "No such request") }
                    let id = ServiceRequestID(raw)
                    do {
                        return try await detail(v, id, flash: try await act(v, id, form))
                    } catch let error as SupportError {
                        return try await detail(v, id, error: explain(error))
                    }
                }
            }
        }
        action("reply") { v, id, form in
            let note = form["internal"] == "yes"
            _ = try await support.reply(id, text: form["text"] ?? "", internal: note, by: v.principal.actor)
            return note ? "Note added." : "Reply sent."
        }
        action("assign") { v, id, form in
            let to = form.text("assignee") ?? (form["me"] == "yes" ? v.principal.actor : nil)
            _ = try await support.assign(id, to: to, by: v.principal.actor)
            return to.map { "Assigned to \($0)." } ?? "Returned to the queue."
        }
        action("update") { v, id, form in
            _ = try await support.update(
                id, priority: form["priority"].flatMap(ServiceRequest.Priority.init(rawValue:)), queue: form.text("queue"),
                status: form["status"].flatMap(ServiceRequest.Status.init(rawValue:)), by: v.principal.actor)
            return "Saved."
        }
        action("resolve") { v, id, form in
            _ = try await support.resolve(id, resolution: form["resolution"] ?? "", by: v.principal.actor)
            return "Resolved; the customer can see the resolution and rate it."
        }
        action("close") { v, id, _ in
            _ = try await support.close(id, by: v.principal.actor)
            return "Closed."
        }
        router.post("/console/customers/:id/requests") { request, context in
            try await console.posted(request, context, .console) { v, form in
                let pages = ConsolePages(console: console)
                guard v.principal.can(.requestsWork), let customer = Int64(try context.parameters.require("id")) else {
                    return try pages.forbidden(v)
                }
                do {
                    let r = try await support.open(
                        customer: customer, kind: form["kind"].flatMap(ServiceRequest.Kind.init(rawValue:)) ?? .question,
                        priority: form["priority"].flatMap(ServiceRequest.Priority.init(rawValue:)), queue: form.text("queue"),
                        subject: form["subject"] ?? "", description: form["description"] ?? "",
                        channel: form["channel"].flatMap(Customers.Channel.init(rawValue:)) ?? .call, by: v.principal.actor, byCustomer: false)
                    return Response.redirect(to: "/console/service/\(r.id.rawValue)")
                } catch {
                    // A field at fault, or a customer merged into another: said on the customer's page.
                    return try await pages.customer(v, customer, error: explain(error))
                }
            }
        }

        // MARK: Portal
        router.get("/portal/help") { request, _ in
            try await console.signedIn(request, .portal) { v in try await help(v) }
        }
        router.post("/portal/help") { request, context in
            try await console.posted(request, context, .portal) { v, form in
                guard case .member(let own, _) = v.principal else { return try views.notFound(title: "Not found") }
                do {
                    let r = try await support.open(
                        customer: own, kind: form["kind"].flatMap(ServiceRequest.Kind.init(rawValue:)) ?? .question, subject: form["subject"] ?? "",
                        description: form["description"] ?? "", channel: .web, by: v.principal.actor, byCustomer: true)
                    return Response.redirect(to: "/portal/help/\(r.id.rawValue)")
                } catch {
                    return try await help(v, error: explain(error))
                }
            }
        }
        router.get("/portal/help/:id") { request, context in
            try await console.signedIn(request, .portal) { v in
                guard let id = Int64(try context.parameters.require("id")) else { return try views.notFound(title: "No such request") }
                return try await memberRequest(v, ServiceRequestID(id))
            }
        }
        router.post("/portal/help/:id/messages") { request, context in
            try await console.posted(request, context, .portal) { v, form in
                guard case .member(let own, _) = v.principal, let raw = Int64(try context.parameters.require("id")) else {
                    return try views.notFound(title: "No such request")
                }
                let id = ServiceRequestID(raw)
                do {
                    _ = try await support.customerMessage(id, customer: own, text: form["text"] ?? "", author: v.principal.actor)
                    return try await memberRequest(v, id, flash: "Message sent.")
                } catch SupportError.notFound {
                    return try views.notFound(title: "No such request")
                } catch let error as SupportError {
                    return try await memberRequest(v, id, error: explain(error))
                }
            }
        }
        router.post("/portal/help/:id/rating") { request, context in
            try await console.posted(request, context, .portal) { v, form in
                guard case .member(let own, _) = v.principal, let raw = Int64(try context.parameters.require("id")) else {
                    return try views.notFound(title: "No such request")
                }
                let id = ServiceRequestID(raw)
                do {
                    _ = try await support.rate(
                        id, customer: own, score: Int(form["score"] ?? "") ?? 0, comment: form["comment"], author: v.principal.actor)
                    return try await memberRequest(v, id, flash: "Thank you for your answer.")
                } catch SupportError.notFound {
                    return try views.notFound(title: "No such request")
                } catch let error as SupportError {
                    return try await memberRequest(v, id, error: explain(error))
                }
            }
        }
    }

    // MARK: Console pages

    /// The request list's columns; the number (when opened), priority and resolution (due) sort.
    static let columns = [
        ListColumn(key: "opened", label: "#"), ListColumn(key: "subject", label: "Subject", sortable: false),
        ListColumn(key: "customer", label: "Customer", sortable: false), ListColumn(key: "kind", label: "Kind", sortable: false),
        ListColumn(key: "priority", label: "Priority"), ListColumn(key: "queue", label: "Queue", sortable: false),
        ListColumn(key: "status", label: "Status", sortable: false), ListColumn(key: "assignee", label: "Assignee", sortable: false),
        ListColumn(key: "response", label: "First response", sortable: false), ListColumn(key: "due", label: "Resolution"),
    ]

    func desk(_ v: Visitor, queue: String?, view: String, list: ListRequest? = nil) async throws -> Response {
        let list = list ?? ListRequest(page: 1, sort: "due", descending: false, q: nil, filters: ["view": view].merging(queue.map { ["queue": $0] } ?? [:]) { $1 })
        let page = list.page
        guard v.principal.can(.requestsRead) else { return try ConsolePages(console: console).forbidden(v) }
        let summary = try await support.summary()
        var filter = RequestFilter.open
        filter.queue = queue
        switch view {
        case "mine": filter.assignee = v.principal.actor
        case "breached": filter.breachedOnly = true
        case "resolved": filter.statuses = [.resolved, .closed]
        default: break
        }
        // A sort the visitor chose; by default, open requests by urgency and resolved ones newest first.
        if list.sort != "due" || list.descending || view != "resolved" {
            filter.sort = RequestFilter.Sort(rawValue: list.sort)
            filter.descending = list.descending
        }
        let now = support.clock.now
        let size = ListRequest.pageSize
        let counted = try await support.requests(filter, offset: (page - 1) * size, limit: size)
        let requests = counted.items
        let base = queue.map { "queue=\(ListRequest.encode($0))&" } ?? ""
        let first = counted.total == 0 ? 0 : (page - 1) * size + 1
        let pages = max(1, (counted.total + size - 1) / size)
        let views: [[String: Any]] = [("open", "Open"), ("mine", "Assigned to me"), ("breached", "SLA breached"), ("resolved", "Resolved")].map {
            ["href": "/console/service?\(base)view=\($0.0)", "label": $0.1, "current": $0.0 == view]
        }
        // The headings (sortable, keyboard links with aria-sort) and saved views, as every list has them.
        let listing = ListView.render(
            path: "/console/service", request: list, columns: Self.columns, rows: [], total: counted.total, noun: ("request", "requests"),
            savedViews: try await console.savedViews(v, path: "/console/service"), csrf: v.formToken())
        return try self.views.page(
            .console, visitor: v, title: "Service desk", template: "service",
            [
                "queues": summary.queues.map {
                    [
                        "queue": $0.queue, "open": $0.open, "unassigned": $0.unassigned, "breached": $0.breached, "anyBreached": $0.breached > 0,
                        "dueSoon": $0.dueSoon,
                        "current": $0.queue == queue, "href": "/console/service?queue=\($0.queue)&view=\(view)",
                    ]
                },
                "queue": queue as Any, "views": views, "requests": requests.map { Self.row($0, now: now) }, "open": summary.open,
                "summary": counted.total == 0
                    ? "No requests here." : "Showing \(Format.number(first))–\(Format.number(first + requests.count - 1)) of \(Format.number(counted.total)) requests",
                "previous": (page > 1 ? "/console/service?" + list.query(["page": String(page - 1)]) : nil) as Any,
                "next": (page < pages ? "/console/service?" + list.query(["page": String(page + 1)]) : nil) as Any,
                "headings": listing["headings"] as Any, "saving": listing["saving"] as Any, "savedViews": listing["views"] as Any,
                "breached": summary.breached, "resolved30": summary.resolvedLast30Days,
                "withinSLA": summary.resolvedWithinSLA.map(Format.pct) ?? "—",
                "csat": summary.satisfaction.map { String(format: "%.1f / 5", $0) } ?? "—", "surveys": summary.surveys,
            ])
    }

    func detail(_ v: Visitor, _ id: ServiceRequestID, flash: String? = nil, error: String? = nil) async throws -> Response {
        guard v.principal.can(.requestsRead) else { return try ConsolePages(console: console).forbidden(v) }
        let r: ServiceRequest
        do { r = try await support.request(id) } catch SupportError.notFound { return try views.notFound(title: "No such request") }
        let events = try await support.thread(id, forCustomer: false)
        var values = Self.row(r, now: support.clock.now)
        values["title"] = "#\(r.id.rawValue) \(r.subject)"
        values["channel"] = r.channel
        values["openedBy"] = r.openedBy
        values["respondBy"] = Format.time(r.respondBy)
        values["resolveBy"] = Format.time(r.resolveBy)
        values["resolutionText"] = r.resolution as Any
        values["satisfaction"] = r.satisfaction.map { "\($0)/5" + (r.satisfactionComment.map { ": \($0)" } ?? "") } as Any
        values["isOpen"] = r.status.isOpen
        values["isResolved"] = r.status == .resolved
        values["canWork"] = v.principal.can(.requestsWork)
        values["assignedToMe"] = r.assignee == v.principal.actor
        values["priorities"] = ServiceRequest.Priority.allCases.map { ["value": $0.rawValue, "selected": $0 == r.priority] }
        values["statuses"] = ServiceRequest.Status.allCases.filter(\.isOpen).map {
            ["value": $0.rawValue, "label": Format.label($0.rawValue), "selected": $0 == r.status]
        }
        values["queues"] = Array(Set(SupportService.standardQueues + [r.queue])).sorted().map { ["value": $0, "selected": $0 == r.queue] }
        values["events"] = events.map {
            ["when": Format.time($0.at), "author": $0.author, "kind": Format.label($0.kind.rawValue), "text": $0.text, "internal": !$0.isPublic]
        }
        values["flash"] = flash as Any
        values["error"] = error as Any
        return try views.page(.console, visitor: v, title: "Request #\(r.id.rawValue)", template: "request", values)
    }

    /// The customer's requests for the Customer 360 (empty when the visitor may not read requests).
    func customerRequests(_ v: Visitor, customer: Int64) async throws -> [[String: Any]] {
        guard v.principal.can(.requestsRead) else { return [] }
        let now = support.clock.now
        return try await support.requests(RequestFilter(customer: customer), limit: 20).map { Self.row($0, now: now) }
    }

    // MARK: Portal pages

    func help(_ v: Visitor, error: String? = nil) async throws -> Response {
        guard case .member(let own, _) = v.principal else { return try views.notFound(title: "Not found") }
        let now = support.clock.now
        let mine = try await support.requests(RequestFilter(customer: own), limit: 100)
        return try views.page(
            .portal, visitor: v, title: "Help", template: "help",
            ["requests": mine.map { Self.row($0, now: now) }, "error": error as Any])
    }

    func memberRequest(_ v: Visitor, _ id: ServiceRequestID, flash: String? = nil, error: String? = nil) async throws -> Response {
        guard case .member(let own, _) = v.principal else { return try views.notFound(title: "Not found") }
        let r: ServiceRequest
        do { r = try await support.request(id, of: own) } catch SupportError.notFound { return try views.notFound(title: "No such request") }
        let events = try await support.thread(id, forCustomer: true)
        return try views.page(
            .portal, visitor: v, title: "Request #\(r.id.rawValue)", template: "help-request",
            [
                "id": r.id.rawValue, "subject": r.subject, "status": Format.label(r.status.rawValue), "opened": Format.time(r.openedAt),
                "resolution": r.resolution as Any, "closed": r.status == .closed,
                "canRate": !r.status.isOpen && r.satisfaction == nil, "rated": r.satisfaction.map { "\($0)/5" } as Any,
                "events": events.map {
                    [
                        "when": Format.time($0.at), "who": $0.kind == .customerMessage ? "You" : ($0.kind == .change ? "Update" : "Our team"),
                        "text": $0.text,
                    ]
                },
                "flash": flash as Any, "error": error as Any,
            ])
    }
}
