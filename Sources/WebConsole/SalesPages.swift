import Access
import Foundation
import Hummingbird
import Sales
import SharedModels

/// Sales in the console: the pipeline and forecast, the rep's leads (work, disqualify, convert),
/// opportunities (open, move through stages, win or lose) and the key accounts.
struct SalesPages: Sendable {
    let console: WebConsole
    var views: Views { console.views }
    var sales: SalesService { console.services.sales }
    var pages: ConsolePages { ConsolePages(console: console) }

    static func actor(_ v: Visitor) -> SalesActor { SalesActor(v.principal.actor, isAdmin: v.principal.isAdmin) }

    static func monies(_ m: [Money]) -> String { m.isEmpty ? "—" : m.map(Format.money).joined(separator: ", ") }

    /// "campaign 7 (clicked)", "call, passed on by ada@…".
    static func origin(_ l: SalesLead) -> String {
        if let c = l.campaign { return "campaign \(c) (\(l.source))" }
        return l.source + (l.createdBy.map { ", passed on by \($0)" } ?? "")
    }

    static func row(_ o: Opportunity, today: LocalDate) -> [String: Any] {
        [
            "id": o.id.rawValue, "name": o.name, "customer": o.customer as Any, "customerName": o.customerName as Any, "account": o.account as Any,
            "accountName": o.accountName as Any, "owner": o.owner, "stage": o.stage.rawValue, "stageLabel": Format.label(o.stage.rawValue),
            "amount": Format.money(o.amount), "weighted": Format.money(o.weighted), "probability": o.probability,
            "expectedClose": o.expectedClose.description, "overdue": o.stage.isOpen && o.expectedClose < today, "nextStep": o.nextStep ?? "—",
        ]
    }

    func register(on router: Router<WebRequestContext>) {
        router.get("/console/sales") { request, _ in
            try await console.signedIn(request, .console) { v in
                try await overview(v, view: request.uri.queryParameters["view"].map(String.init) ?? "mine")
            }
        }
        router.get("/console/sales/opportunities") { request, _ in
            try await console.signedIn(request, .console) { try await opportunityList($0, request) }
        }
        router.get("/console/sales/leads") { request, _ in
            try await console.signedIn(request, .console) { try await leadList($0, request) }
        }
        router.post("/console/sales/opportunities") { request, context in
            try await console.posted(request, context, .console) { v, form in
                guard v.principal.can(.salesManage) else { return try pages.forbidden(v) }
                do {
                    let o = try await sales.create(try Self.draft(form), by: Self.actor(v))
                    return Response.redirect(to: "/console/sales/opportunities/\(o.id.rawValue)")
                } catch {
                    return try await overview(v, view: "mine", error: explain(error))
                }
            }
        }
        router.get("/console/sales/opportunities/:id") { request, context in
            try await console.signedIn(request, .console) { v in
                guard let id = Int64(try context.parameters.require("id")) else { return try views.notFound(title: "No such opportunity") }
                return try await detail(v, OpportunityID(id))
            }
        }
        router.post("/console/sales/opportunities/:id") { request, context in
            try await console.posted(request, context, .console) { v, form in
                guard v.principal.can(.salesManage) else { return try pages.forbidden(v) }
                guard let raw = Int64(try context.parameters.require("id")) else { return try views.notFound(title: "No such opportunity") }
                let id = OpportunityID(raw)
                do {
                    let current = try await sales.opportunity(id)
                    var change = OpportunityChange(
                        stage: form["stage"].flatMap(Opportunity.Stage.init(rawValue:)), nextStep: form["next_step"], owner: form.text("owner"),
                        lostReason: form["lost_reason"], note: form["note"])
                    if let p = form.text("probability") {
                        guard let n = Int(p) else { throw SalesError.invalid(field: "probability", reason: "is a whole number, 0 to 100") }
                        if n != current.probability || change.stage == nil { change.probability = n }
                    }
                    if let a = form.text("amount") {
                        change.amount = Money(
                            minorUnits: try Self.minorUnits(a, currency: current.amount.currency), currency: current.amount.currency)
                    }
                    if let d = form.text("expected_close") {
                        guard let date = LocalDate(d) else { throw SalesError.invalid(field: "expectedClose", reason: "is a date, YYYY-MM-DD") }
                        change.expectedClose = date
                    }
                    let o = try await sales.update(id, change, by: Self.actor(v))
                    return try await detail(v, id, flash: o.stage.isOpen ? "Saved." : "Closed as \(Format.label(o.stage.rawValue).lowercased()).")
                } catch SalesError.opportunityNotFound {
                    return try views.notFound(title: "No such opportunity")
                } catch {
                    return try await detail(v, id, error: explain(error))
                }
            }
        }
        // "Pass to sales" on the Customer 360.
        router.post("/console/customers/:id/leads") { request, context in
            try await console.posted(request, context, .console) { v, form in
                guard v.principal.can(.leadsCreate), let customer = Int64(try context.parameters.require("id")) else { return try pages.forbidden(v) }
                do {
                    let owner = form.text("owner")
                    guard owner != nil || v.principal.can(.salesManage) else {
                        throw SalesError.invalid(field: "owner", reason: "name the rep who will work it")
                    }
                    let l = try await sales.enterLead(
                        customer: customer, source: form["source"].flatMap(LeadSource.init(rawValue:)) ?? .call, note: form["note"], owner: owner,
                        by: Self.actor(v))
                    return try await pages.customer(v, customer, flash: "Passed to \(l.owner) as lead \(l.id).")
                } catch {
                    return try await pages.customer(v, customer, error: explain(error))
                }
            }
        }
        router.post("/console/sales/leads/:id") { request, context in
            try await console.posted(request, context, .console) { v, form in
                guard v.principal.can(.salesManage) else { return try pages.forbidden(v) }
                guard let raw = Int64(try context.parameters.require("id")) else { return try views.notFound(title: "No such lead") }
                do {
                    if form["convert"] == "yes" {
                        let lead = try await sales.lead(LeadID(raw))
                        var draft = try Self.draft(form)
                        if draft.name.isEmpty { draft.name = "\(lead.customerName) — \(Self.origin(lead))" }
                        let o = try await sales.convert(LeadID(raw), into: draft, by: Self.actor(v))
                        return Response.redirect(to: "/console/sales/opportunities/\(o.id.rawValue)")
                    }
                    let l = try await sales.updateLead(
                        LeadID(raw), status: form["status"].flatMap(SalesLead.Status.init(rawValue:)), owner: form.text("owner"),
                        reason: form["reason"], by: Self.actor(v))
                    return try await overview(v, view: "mine", flash: "Lead \(l.id) is \(Format.label(l.status.rawValue).lowercased()).")
                } catch {
                    return try await overview(v, view: "mine", error: explain(error))
                }
            }
        }
    }

    /// `1,250.50` in the currency's major unit → minor units, exactly (``Money/parseMinorUnits(_:currency:)``
    /// after the thousands separators); not negative.
    static func minorUnits(_ text: String, currency: String) throws -> Int64 {
        let t = text.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: ",", with: "")
        guard let minor = Money.parseMinorUnits(Substring(t), currency: currency), minor >= 0 else {
            throw SalesError.invalid(field: "amount", reason: "is an amount such as 1250.00")
        }
        return minor
    }

    static func draft(_ form: Form) throws -> OpportunityDraft {
        let currency = (form.text("currency") ?? "").uppercased()
        guard Money.isCurrencyCode(currency) else { throw SalesError.invalid(field: "currency", reason: "is a three-letter code such as EUR") }
        guard let close = form.text("expected_close").flatMap(LocalDate.init) else {
            throw SalesError.invalid(field: "expectedClose", reason: "is a date, YYYY-MM-DD")
        }
        return OpportunityDraft(
            name: form["name"] ?? "", customer: form.text("customer").flatMap { Int64($0) }, account: form.text("account").flatMap { Int64($0) },
            amount: Money(minorUnits: try minorUnits(form.text("amount") ?? "", currency: currency), currency: currency), expectedClose: close,
            stage: form["stage"].flatMap(Opportunity.Stage.init(rawValue:)) ?? .prospecting, nextStep: form["next_step"])
    }

    func overview(_ v: Visitor, view: String, flash: String? = nil, error: String? = nil) async throws -> Response {
        guard v.principal.can(.salesRead) else { return try pages.forbidden(v) }
        let me = v.principal.actor
        let today = LocalDate(sales.clock.now)
        let pipeline = try await sales.pipeline(owner: view == "mine" ? me : nil)
        let filter: OpportunityFilter =
            switch view {
            case "all": OpportunityFilter(stages: Opportunity.Stage.open)
            case "closed": OpportunityFilter(stages: [.won, .lost])
            default: OpportunityFilter(owner: me, stages: Opportunity.Stage.open)
            }
        let opportunities = try await sales.opportunities(filter, limit: 200)
        let leads = try await sales.leads(owner: view == "mine" ? me : nil, statuses: [.new, .working, .qualified], limit: 200)
        let accounts = try await sales.keyAccounts(manager: view == "mine" ? me : nil)
        let tabs: [[String: Any]] = [("mine", "Mine"), ("all", "Everyone's open"), ("closed", "Won and lost")].map {
            ["href": "/console/sales?view=\($0.0)", "label": $0.1, "current": $0.0 == view]
        }
        let sections: [[String: Any]] = pipeline.sections.map { s in
            [
                "currency": s.currency, "open": Format.money(minorUnits: s.open.amount, currency: s.currency), "openCount": s.open.count,
                "weighted": Format.money(minorUnits: s.open.weighted, currency: s.currency), "won": Format.money(minorUnits: s.won.amount, currency: s.currency), "wonCount": s.won.count,
                "lostCount": s.lost.count, "winRate": s.winRate.map(Format.pct) ?? "—",
                "overdue": s.overdue.count, "anyOverdue": s.overdue.count > 0,
                "stages": s.stages.map {
                    [
                        "stage": Format.label($0.stage.rawValue), "count": $0.figure.count, "amount": Format.money(minorUnits: $0.figure.amount, currency: s.currency),
                        "weighted": Format.money(minorUnits: $0.figure.weighted, currency: s.currency),
                    ]
                },
                "forecast": s.forecast.map {
                    [
                        "month": $0.month, "count": $0.figure.count, "amount": Format.money(minorUnits: $0.figure.amount, currency: s.currency),
                        "weighted": Format.money(minorUnits: $0.figure.weighted, currency: s.currency),
                    ]
                },
                "owners": s.owners.map {
                    [
                        "owner": $0.owner, "open": $0.open.count, "weighted": Format.money(minorUnits: $0.open.weighted, currency: s.currency),
                        "won": Format.money(minorUnits: $0.won.amount, currency: s.currency),
                    ]
                },
            ]
        }
        return try views.page(
            .console, visitor: v, title: "Sales", template: "sales",
            [
                "flash": flash as Any, "error": error as Any, "tabs": tabs, "view": view, "days": pipeline.days, "sections": sections,
                "noPipeline": sections.isEmpty, "canManage": v.principal.can(.salesManage), "today": today.description,
                "opportunities": opportunities.map { Self.row($0, today: today) },
                "leads": leads.map {
                    [
                        "id": $0.id.rawValue, "customer": $0.customer, "name": $0.customerName, "origin": Self.origin($0), "note": $0.note ?? "",
                        "status": Format.label($0.status.rawValue), "owner": $0.owner, "created": Format.time($0.createdAt),
                        "mine": $0.owner == me.lowercased(),
                    ] as [String: Any]
                },
                "accounts": accounts.map {
                    [
                        "name": $0.name, "manager": $0.manager ?? "—", "contacts": $0.contacts, "revenue": Self.monies($0.revenue),
                        "open": $0.openOpportunities, "pipeline": Self.monies($0.pipeline), "weighted": Self.monies($0.weighted),
                        "won": Self.monies($0.won), "nextClose": $0.nextClose?.description ?? "—",
                        "lastInteraction": $0.lastInteraction.map(Format.time) ?? "—", "account": $0.account,
                    ] as [String: Any]
                },
            ])
    }

    /// Sales lists read at most this many rows; beyond it the page asks for a narrower filter.
    static let listCap = 1_000

    static let opportunityColumns = [
        ListColumn(key: "name", label: "Opportunity"), ListColumn(key: "for", label: "For"), ListColumn(key: "stage", label: "Stage"),
        ListColumn(key: "amount", label: "Amount", numeric: true), ListColumn(key: "weighted", label: "Weighted", numeric: true),
        ListColumn(key: "close", label: "Expected close"), ListColumn(key: "owner", label: "Owner"),
    ]

    /// Every opportunity, open or closed: by stage and owner, searched by name or customer.
    func opportunityList(_ v: Visitor, _ request: Request) async throws -> Response {
        guard v.principal.can(.salesRead) else { return try pages.forbidden(v) }
        let list = ListRequest(request, columns: Self.opportunityColumns, defaultSort: "close", filters: ["stage", "owner"])
        let stage = list.filters["stage"].flatMap(Opportunity.Stage.init(rawValue:))
        let read = try await sales.opportunities(
            OpportunityFilter(owner: list.filters["owner"], stages: stage.map { [$0] } ?? []), limit: Self.listCap)
        let chosen = read.filter { o in
            list.q.map { q in
                o.name.localizedCaseInsensitiveContains(q) || (o.customerName ?? "").localizedCaseInsensitiveContains(q)
                    || (o.accountName ?? "").localizedCaseInsensitiveContains(q)
            } ?? true
        }
        let stages = Opportunity.Stage.allCases
        let (page, total) = ListView.page(
            chosen, list,
            keys: [
                "name": { $0.name.lowercased() < $1.name.lowercased() },
                "for": { ($0.customerName ?? $0.accountName ?? "") < ($1.customerName ?? $1.accountName ?? "") },
                "stage": { (stages.firstIndex(of: $0.stage) ?? 0) < (stages.firstIndex(of: $1.stage) ?? 0) },
                "amount": { ($0.amount.currency, $0.amount.minorUnits) < ($1.amount.currency, $1.amount.minorUnits) },
                "weighted": { ($0.weighted.currency, $0.weighted.minorUnits) < ($1.weighted.currency, $1.weighted.minorUnits) },
                "close": { ($0.expectedClose, $0.id.rawValue) < ($1.expectedClose, $1.id.rawValue) }, "owner": { $0.owner < $1.owner },
            ])
        let rows = page.map { o -> [ListCell] in
            [
                ListCell(o.name, href: "/console/sales/opportunities/\(o.id.rawValue)"),
                o.customer.map { ListCell(o.customerName ?? "Customer \($0)", href: "/console/customers/\($0)") } ?? ListCell(o.accountName ?? "—"),
                ListCell(Format.label(o.stage.rawValue)), ListCell(Format.money(o.amount)), ListCell(Format.money(o.weighted)),
                ListCell(Format.date(o.expectedClose)), ListCell(o.owner),
            ]
        }
        let owners = Set(read.map(\.owner)).union(list.filters["owner"].map { [$0] } ?? []).sorted()
        let listing = ListView.render(
            path: "/console/sales/opportunities", request: list, columns: Self.opportunityColumns, rows: rows, total: total,
            filters: [
                ListFilter(key: "stage", label: "Stage", options: stages.map { ($0.rawValue, Format.label($0.rawValue)) }),
                ListFilter(key: "owner", label: "Owner", options: owners.map { ($0, $0) }),
            ],
            search: "Name, customer or account", noun: ("opportunity", "opportunities"),
            savedViews: try await console.savedViews(v, path: "/console/sales/opportunities"), csrf: v.formToken())
        return try views.page(
            .console, visitor: v, title: "Opportunities", template: "list-page",
            [
                "list": listing, "back": "/console/sales", "backLabel": "Pipeline, forecast and new opportunities",
                "intro": (read.count == Self.listCap ? "Only the first \(Format.number(Self.listCap)) are read: choose a stage or an owner to see the rest." : nil) as Any,
            ])
    }

    static let leadColumns = [
        ListColumn(key: "customer", label: "Customer"), ListColumn(key: "origin", label: "Came from", sortable: false),
        ListColumn(key: "status", label: "Status"), ListColumn(key: "owner", label: "Owner"), ListColumn(key: "created", label: "Passed on"),
    ]

    /// Every lead: by status and owner, searched by customer name.
    func leadList(_ v: Visitor, _ request: Request) async throws -> Response {
        guard v.principal.can(.salesRead) else { return try pages.forbidden(v) }
        let list = ListRequest(request, columns: Self.leadColumns, defaultSort: "created", defaultDescending: true, filters: ["status", "owner"])
        let status = list.filters["status"].flatMap(SalesLead.Status.init(rawValue:))
        let read = try await sales.leads(owner: list.filters["owner"], statuses: status.map { [$0] } ?? [], limit: Self.listCap)
        let chosen = read.filter { l in list.q.map { l.customerName.localizedCaseInsensitiveContains($0) || (l.note ?? "").localizedCaseInsensitiveContains($0) } ?? true }
        let statuses = SalesLead.Status.allCases
        let (page, total) = ListView.page(
            chosen, list,
            keys: [
                "customer": { $0.customerName.lowercased() < $1.customerName.lowercased() },
                "status": { (statuses.firstIndex(of: $0.status) ?? 0) < (statuses.firstIndex(of: $1.status) ?? 0) },
                "owner": { $0.owner < $1.owner }, "created": { ($0.createdAt, $0.id.rawValue) < ($1.createdAt, $1.id.rawValue) },
            ])
        let rows = page.map { l -> [ListCell] in
            [
                ListCell(l.customerName, href: "/console/customers/\(l.customer)"), ListCell(Self.origin(l)), ListCell(Format.label(l.status.rawValue)),
                ListCell(l.owner), ListCell(Format.time(l.createdAt)),
            ]
        }
        let owners = Set(read.map(\.owner)).union(list.filters["owner"].map { [$0] } ?? []).sorted()
        let listing = ListView.render(
            path: "/console/sales/leads", request: list, columns: Self.leadColumns, rows: rows, total: total,
            filters: [
                ListFilter(key: "status", label: "Status", options: statuses.map { ($0.rawValue, Format.label($0.rawValue)) }),
                ListFilter(key: "owner", label: "Owner", options: owners.map { ($0, $0) }),
            ],
            search: "Customer or note", noun: ("lead", "leads"), savedViews: try await console.savedViews(v, path: "/console/sales/leads"),
            csrf: v.formToken())
        return try views.page(
            .console, visitor: v, title: "Leads", template: "list-page",
            [
                "list": listing, "back": "/console/sales", "backLabel": "Work your open leads on the sales page",
                "intro": (read.count == Self.listCap ? "Only the first \(Format.number(Self.listCap)) are read: choose a status or an owner to see the rest." : nil) as Any,
            ])
    }

    func detail(_ v: Visitor, _ id: OpportunityID, flash: String? = nil, error: String? = nil) async throws -> Response {
        guard v.principal.can(.salesRead) else { return try pages.forbidden(v) }
        let o: Opportunity
        do { o = try await sales.opportunity(id) } catch SalesError.opportunityNotFound { return try views.notFound(title: "No such opportunity") }
        let history = try await sales.history(id)
        var values = Self.row(o, today: LocalDate(sales.clock.now))
        values["flash"] = flash as Any
        values["error"] = error as Any
        values["isOpen"] = o.stage.isOpen
        values["canChange"] = o.stage.isOpen && v.principal.can(.salesManage) && (Self.actor(v).isAdmin || o.owner == v.principal.actor.lowercased())
        values["lostReason"] = o.lostReason as Any
        values["closedAt"] = o.closedAt.map(Format.time) as Any
        values["amountInput"] = String(describing: o.amount).split(separator: " ").first.map(String.init) ?? ""
        values["currency"] = o.amount.currency
        values["nextStepInput"] = o.nextStep ?? ""
        values["stages"] = Opportunity.Stage.allCases.map { ["value": $0.rawValue, "label": Format.label($0.rawValue), "selected": $0 == o.stage] }
        values["history"] = history.reversed().map {
            [
                "at": Format.time($0.at), "author": $0.author, "stage": Format.label($0.stage.rawValue), "amount": Format.money($0.amount),
                "probability": $0.probability, "owner": $0.owner, "note": $0.note ?? "",
            ] as [String: Any]
        }
        return try views.page(.console, visitor: v, title: o.name, template: "opportunity", values)
    }
}
