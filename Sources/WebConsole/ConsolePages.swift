import Access
import Analytics
import Campaigns
import Customers
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Loyalty
import NIOCore
import Sales
import Partners
import SharedModels
import Support

/// The staff console: what each role sees and may do follows its permissions.
struct ConsolePages: Sendable {
    let console: WebConsole
    var views: Views { console.views }
    var s: WebConsole.Services { console.services }

    func forbidden(_ v: Visitor) throws -> Response {
        try views.page(
            .console, visitor: v, title: "Not allowed", template: "message", ["message": "Your role may not open this page."], status: .forbidden)
    }

    func register(on router: Router<WebRequestContext>) {
        LoginPages(console: console, site: .console).register(on: router)
        router.get("/console/") { request, _ in try await console.signedIn(request, .console) { try await dashboard($0) } }
        router.get("/console/customers") { request, _ in
            try await console.signedIn(request, .console) { v in
                guard v.principal.can(.customersRead) else { return try forbidden(v) }
                return try await customerList(v, request)
            }
        }
        router.get("/console/customers/:id/points-check") { request, context in
            try await console.signedIn(request, .console) { v in
                guard v.principal.can(.customersRead), v.principal.can(.loyaltyRead) else { return try forbidden(v) }
                guard let id = Int64(try context.parameters.require("id")) else { return try views.notFound(title: "No such customer") }
                return try await pointsCheck(v, id, purchase: request.uri.queryParameters["purchase"].map(String.init))
            }
        }
        router.get("/console/search") { request, _ in
            try await console.signedIn(request, .console) { v in
                guard v.principal.can(.customersRead) else { return try forbidden(v) }
                return try await search(v, request.uri.queryParameters["q"].map(String.init) ?? "")
            }
        }
        router.get("/console/customers/:id") { request, context in
            try await console.signedIn(request, .console) { v in
                guard v.principal.can(.customersRead) else { return try forbidden(v) }
                guard let id = Int64(try context.parameters.require("id")) else { return try views.notFound(title: "No such customer") }
                let q = request.uri.queryParameters
                return try await customer(
                    v, id, flash: q["done"].map { _ in "Interaction logged." }, show: q["show"].map(String.init),
                    before: q["before"].flatMap { Int64($0) })
            }
        }
        router.post("/console/customers/:id/interactions") { request, context in
            try await console.posted(request, context, .console) { v, form in
                guard v.principal.can(.interactionsWrite), let id = Int64(try context.parameters.require("id")) else { return try forbidden(v) }
                guard let channel = form["channel"].flatMap(Customers.Channel.init(rawValue:)),
                    let direction = form["direction"].flatMap(Interaction.Direction.init(rawValue:)), let subject = form.text("subject")
                else { return try await customer(v, id, error: "Choose a channel and a direction, and give a subject.") }
                do {
                    _ = try await s.customers.submit(
                        InteractionDetails(
                            channel: channel, direction: direction, outcome: form.text("outcome"), agent: v.principal.actor, subject: subject,
                            notes: form.text("notes"), occurredAt: s.customers.clock.now),
                        identifiers: [CustomerIdentifier(kind: .customerID, value: String(id))])
                } catch { return try await customer(v, id, error: explain(error)) }
                return Response.redirect(to: "/console/customers/\(id)?done=1")
            }
        }
        router.post("/console/customers/:id/adjustments") { request, context in
            try await console.posted(request, context, .console) { v, form in
                guard v.principal.can(.pointsAdjust), let id = Int64(try context.parameters.require("id")) else { return try forbidden(v) }
                guard let member = Int64(form["member"] ?? ""), let points = Int64(form["points"] ?? ""), points != 0,
                    let reason = form.text("reason")
                else { return try await customer(v, id, error: "Give a whole number of points (negative to take some back) and a reason.") }
                guard try await s.loyalty.memberships(of: CustomerID(id)).contains(where: { $0.id.rawValue == member }) else {
                    return try await customer(v, id, error: "That membership is not this customer's.")
                }
                do {
                    _ = try await s.loyalty.adjust(points, for: MemberID(member), memo: reason, by: v.principal.actor, idempotencyKey: nil)
                } catch { return try await customer(v, id, error: explain(error)) }
                return try await customer(v, id, flash: "\(points > 0 ? "Added" : "Took back") \(abs(points)) points: \(reason).")
            }
        }
        router.post("/console/customers/:id/merge") { request, context in
            try await console.posted(request, context, .console) { v, form in
                guard v.principal.can(.customersMerge), let id = Int64(try context.parameters.require("id")) else { return try forbidden(v) }
                guard let duplicate = Int64(form["duplicate"] ?? "") else { return try await customer(v, id, error: "Choose the duplicate.") }
                do {
                    _ = try await s.customers.merge(CustomerID(duplicate), into: CustomerID(id), by: v.principal.actor)
                } catch { return try await customer(v, id, error: explain(error)) }
                return try await customer(v, id, flash: "Customer \(duplicate) merged into this one; their history is here now.")
            }
        }
        SegmentAndCampaignPages(pages: self).register(on: router)
        AdminPages(pages: self).register(on: router)
        AgentDeskPages(console: console).register(on: router)
        AnalyticsPages(console: console).register(on: router)
        ImportPages(console: console).register(on: router)
        router.get("/console/analytics") { request, _ in try await console.signedIn(request, .console) { try await analytics($0, request) } }
    }

    static let customerColumns = [
        ListColumn(key: "name", label: "Customer"), ListColumn(key: "email", label: "Email", sortable: false),
        ListColumn(key: "phone", label: "Phone", sortable: false), ListColumn(key: "home_store", label: "Home store"),
        ListColumn(key: "completeness", label: "Data quality", numeric: true), ListColumn(key: "since", label: "Customer since"),
    ]

    /// Every active customer, paged with the count, sortable and filterable; the search box
    /// also finds partial phone numbers, membership and card numbers and voucher codes.
    func customerList(_ v: Visitor, _ request: Request) async throws -> Response {
        let list = ListRequest(
            request, columns: Self.customerColumns, defaultSort: "name", filters: ["home_store", "life_stage", "quality"])
        let query = CustomerListQuery(
            text: list.q, homeStore: list.filters["home_store"], lifeStage: list.filters["life_stage"],
            quality: list.filters["quality"].flatMap(CustomerListQuery.Quality.init(rawValue:)),
            sort: CustomerListQuery.Sort(rawValue: list.sort) ?? .name, descending: list.descending, offset: list.offset,
            limit: ListRequest.pageSize)
        var page: CountedPage<Customer>
        do {
            page = try await s.customers.list(query)
        } catch let error as CustomerError {
            return try views.page(.console, visitor: v, title: "Customers", template: "customers", ["error": error.description])
        }
        // A membership or card number, or a voucher code, leads to its holder too.
        if let q = list.q, list.page == 1 {
            let known = Set(page.items.map(\.id))
            for (_, c) in try await holders(of: q) where !known.contains(c.id) {
                page.items.insert(c, at: 0)
                page.total += 1
            }
        }
        let facets = try await console.customerFacets()
        let rows = page.items.map { c -> [ListCell] in
            [
                ListCell(c.displayName, href: "/console/customers/\(c.id)"), ListCell(c.profile.emails.first?.value ?? "—"),
                ListCell(c.profile.phones.first.map { Format.phone($0.value) } ?? "—"), ListCell(c.profile.homeStore ?? "—"),
                ListCell("\(c.completeness.score)%"), ListCell(Format.date(c.createdAt)),
            ]
        }
        let listing = ListView.render(
            path: "/console/customers", request: list, columns: Self.customerColumns, rows: rows, total: page.total,
            filters: [
                ListFilter(key: "home_store", label: "Home store", options: facets.homeStores.map { ($0, $0) }),
                ListFilter(key: "life_stage", label: "Life stage", options: facets.lifeStages.map { ($0, Format.label($0)) }),
                ListFilter(
                    key: "quality", label: "Data quality",
                    options: [("complete", "Complete (80% or more)"), ("partial", "Partial (50–79%)"), ("poor", "Poor (under 50%)")]),
            ],
            search: "Name, email, phone (any part), card, membership number, voucher or id", noun: ("customer", "customers"),
            savedViews: try await console.savedViews(v, path: "/console/customers"), csrf: v.formToken())
        return try views.page(.console, visitor: v, title: "Customers", template: "customers", ["list": listing, "canImport": v.principal.can(.dataImport)])
    }

    /// "Why didn't I get my points?": each promotion of the member's program checked against one
    /// of their purchases, with the condition that failed.
    func pointsCheck(_ v: Visitor, _ id: Int64, purchase: String?) async throws -> Response {
        let c: Customer
        do { c = try await s.customers.customer(CustomerID(id)) } catch { return try views.notFound(title: "No such customer") }
        let recent = try await s.customers.transactions(of: c.id, after: nil, limit: 500).items.sorted { $0.details.occurredAt > $1.details.occurredAt }
            .prefix(30)
        let chosen = purchase.flatMap { p in recent.first { $0.details.externalID == p } } ?? recent.first
        var programs: [[String: Any]] = []
        if let chosen {
            for m in try await s.loyalty.memberships(of: c.id) {
                let program = try await s.loyalty.program(m.programID)
                let verdicts = try await s.loyalty.explainPromotions(for: m.id, on: chosen.details)
                programs.append([
                    "program": program.name,
                    "verdicts": verdicts.map {
                        ["code": $0.code, "name": $0.name, "applied": $0.applied, "reason": $0.reason, "points": Format.number($0.points)] as [String: Any]
                    },
                ])
            }
        }
        return try views.page(
            .console, visitor: v, title: "Points check for \(c.displayName)", template: "points-check",
            [
                "id": id, "name": c.displayName,
                "purchases": recent.map { t in
                    [
                        "value": t.details.externalID, "selected": t.details.externalID == chosen?.details.externalID,
                        "label": "\(Format.date(t.details.occurredAt)) · \(t.details.externalID) · \(Format.money(t.details.amount))"
                            + (t.details.store.map { " at \($0)" } ?? ""),
                    ] as [String: Any]
                },
                "purchase": chosen.map { "\($0.details.externalID) on \(Format.time($0.details.occurredAt)), \(Format.money($0.details.amount))" } as Any,
                "programs": programs, "noPurchase": chosen == nil, "notMember": chosen != nil && programs.isEmpty,
            ])
    }

    /// The members, with their customers, whose membership number, card or voucher code `q` is.
    func holders(of q: String) async throws -> [(Member, Customer)] {
        var found: [(Member, Customer)] = []
        for member in try await s.loyalty.members(holding: q) {
            if let c = try? await s.customers.customer(member.customerID) { found.append((member, c)) }
        }
        return found
    }

    /// The header's search: customers by name, email, any part of a phone number, card or id;
    /// the holders of membership numbers, cards and voucher codes; purchases by receipt number.
    /// One customer and nothing else found opens their 360 directly.
    func search(_ v: Visitor, _ text: String) async throws -> Response {
        let q = String(text.trimmingCharacters(in: .whitespacesAndNewlines).prefix(200))
        guard !q.isEmpty else { return Response.redirect(to: "/console/customers") }
        var found: [CustomerID: (customer: Customer, why: String)] = [:]
        var order: [CustomerID] = []
        func add(_ c: Customer, _ why: String) {
            if found[c.id] == nil { order.append(c.id) }
            found[c.id] = found[c.id] ?? (c, why)
        }
        let matches: CountedPage<Customer>
        do {
            matches = try await s.customers.list(CustomerListQuery(text: q, limit: 20))
        } catch let error as CustomerError {
            return try views.page(.console, visitor: v, title: "Search", template: "search", ["q": q, "error": error.description])
        }
        for (member, c) in try await holders(of: q) {
            add(c, member.number == q.uppercased() ? "membership number \(member.number)" : "card or voucher of member \(member.number)")
        }
        var receipts: [[String: Any]] = []
        if let t = try await s.customers.transaction(externalID: q) {
            if let c = try? await s.customers.customer(t.customerID) { add(c, "receipt \(t.details.externalID)") }
            receipts.append([
                "id": t.details.externalID, "customer": t.customerID.rawValue, "when": Format.time(t.details.occurredAt),
                "amount": Format.money(t.details.amount),
            ])
        }
        for c in matches.items { add(c, "name, email, phone, card or id") }
        if order.count == 1 && matches.total <= 1, let only = order.first { return Response.redirect(to: "/console/customers/\(only)") }
        let rows: [[String: Any]] = order.compactMap { found[$0] }.map { hit in
            [
                "id": hit.customer.id.rawValue, "name": hit.customer.displayName, "why": hit.why,
                "email": hit.customer.profile.emails.first?.value ?? "—", "phone": hit.customer.profile.phones.first.map { Format.phone($0.value) } ?? "—",
            ]
        }
        let more = matches.total > matches.items.count
        return try views.page(
            .console, visitor: v, title: "Search", template: "search",
            [
                "q": q, "results": rows, "receipts": receipts, "none": rows.isEmpty && receipts.isEmpty,
                "more": (more ? "/console/customers?q=" + ListRequest.encode(q) : nil) as Any, "total": Format.number(matches.total),
            ])
    }

    func dashboard(_ v: Visitor) async throws -> Response {
        var kpis: [[String: String]] = []
        var tierChart = ""
        var segmentChart = ""
        var salesChart = ""
        var paretoChart = ""
        var purchasesChart = ""
        if v.principal.can(.analyticsRead) {
            let (report, asOf) = try await console.currentLoyaltyReport()
            kpis.append([
                "label": "Loyalty figures as of",
                "value": Format.time(asOf),
            ])
            let members = report.programs.reduce(0) { $0 + $1.members }
            let active = report.programs.reduce(0) { $0 + $1.activeMembers }
            kpis.append(["label": "Members", "value": Format.number(Int64(members))])
            kpis.append(["label": "Active members (earned this year)", "value": Format.number(Int64(active))])
            if let p = report.programs.first {
                kpis.append(["label": "Points issued", "value": Format.number(p.pointsIssued)])
                kpis.append(["label": "Points redeemed", "value": Format.number(p.pointsRedeemed)])
                kpis.append([
                    "label": "Outstanding liability", "value": Format.money(minorUnits: p.liability, currency: p.currency),
                ])
                tierChart = SVGChart.bars(p.tiers.map { ($0.key, Double($0.count)) }, title: "Members by tier")
            }
            // Sales by month, the last twelve (kept for five minutes, like the loyalty report).
            let now = s.intelligence.clock.now
            let months = try await console.monthlySales.get(key: "sales", maxAge: 300, now: now) { [s] in
                let starts = (0...12).map { LocalDate(now).firstOfMonth(addingMonths: $0 - 11) }
                let sales = try await s.intelligence.sales(between: starts.map { $0.startOfDay.epochSeconds })
                return zip(starts, sales).map { (String($0.description.prefix(7)), $1.amount, $1.purchases) }
            }.0
            if months.contains(where: { $0.purchases > 0 }) {
                let currency = s.customers.defaultCurrency
                salesChart = SVGChart.trend(
                    months.map { (Format.yearMonth($0.label), Double($0.amount) / 100) },
                    title: "Sales by month, last 13 months (\(currency))", format: { Format.money($0, currency) })
                purchasesChart = SVGChart.trend(
                    months.map { (Format.yearMonth($0.label), Double($0.purchases)) }, title: "Purchases by month, last 13 months")
            }
            let rfm = try await console.currentRFM()
            if rfm.customers > 0 {
                kpis.append(["label": "Revenue (scored customers)", "value": Format.money(minorUnits: rfm.pareto.revenue, currency: s.customers.defaultCurrency)])
                paretoChart = SVGChart.curve(
                    rfm.pareto.points.map { ($0.customerShare, $0.revenueShare) }, title: "Share of revenue from the top customers",
                    xLabel: "share of customers (best first)", yLabel: "share of revenue")
                segmentChart = SVGChart.bars(
                    rfm.segments.sorted { $0.value > $1.value }.map { (Format.label($0.key), Double($0.value)) },
                    title: "Customers by RFM segment")
            }
        }
        if v.principal.can(.requestsRead) {
            let desk = try await s.support.summary()
            kpis.append(["label": "Open service requests", "value": Format.number(Int64(desk.open))])
            kpis.append(["label": "SLA breaches (open)", "value": Format.number(Int64(desk.breached))])
            if let within = desk.resolvedWithinSLA { kpis.append(["label": "Resolved within SLA (30 days)", "value": Format.pct(within)]) }
        }
        var campaigns: [[String: Any]] = []
        if v.principal.can(.campaignsRead) {
            for c in try await s.campaigns.campaigns().prefix(8) where c.launchedAt != nil {
                let pnl = try await s.campaigns.recordedPnL(c.id)
                campaigns.append([
                    "id": c.id.rawValue, "name": c.plan.name, "status": c.status.rawValue, "target": Format.pct(pnl.target.responseRate),
                    "control": Format.pct(pnl.control.responseRate), "incremental": Format.money(pnl.incrementalRevenue.value, pnl.currency),
                ])
            }
        }
        return try views.page(
            .console, visitor: v, title: "Dashboard", template: "dashboard",
            [
                "kpis": kpis, "tierChart": tierChart, "segmentChart": segmentChart, "salesChart": salesChart, "purchasesChart": purchasesChart,
                "paretoChart": paretoChart,
                "campaigns": campaigns,
            ])
    }

    static let timelinePage = 25

    func customer(
        _ v: Visitor, _ id: Int64, flash: String? = nil, error: String? = nil, show: String? = nil, before: Int64? = nil
    ) async throws -> Response {
        let c: Customer
        do { c = try await s.customers.customer(CustomerID(id)) } catch { return try views.notFound(title: "No such customer") }
        var memberships: [[String: Any]] = []
        var available: [(program: String, points: Int64)] = []
        var rewards: [Reward] = []
        var joinable: [Promotion] = []
        let now = s.loyalty.clock.now
        let members = try await s.loyalty.memberships(of: c.id)
        if v.principal.can(.loyaltyRead) {
            for m in members {
                var (values, program, balance) = try await console.membershipRead(m)
                values["member"] = m.id.rawValue
                values["canAdjust"] = v.principal.can(.pointsAdjust)
                let cards = try await s.loyalty.cards(of: m.id)
                values["cards"] = cards.map { "\($0.number) (\(Format.label($0.status.rawValue).lowercased()))" }
                values["activeCards"] = cards.filter { $0.status == .active }.map { ["cardID": $0.id.rawValue, "number": $0.number] }
                let catalogue = try await s.loyalty.catalogue(for: m.id)
                values["catalogue"] = catalogue.filter { $0.unavailable == nil }.map {
                    ["id": $0.reward.id.rawValue, "label": "\($0.reward.name) — \(Format.number($0.reward.pointsPrice)) points"]
                }
                values["canRedeem"] = v.principal.can(.pointsRedeem)
                values["canCard"] = v.principal.can(.membersEnroll)
                values["canBlockCard"] = v.principal.can(.customersWrite)
                memberships.append(values)
                available.append((program.name, balance.available))
                // The catalogue holds the program's active rewards; the ranking needs no others.
                rewards += catalogue.map(\.reward)
                let joined = try await s.loyalty.enrolments(of: m.id)
                joinable += try await s.loyalty.promotions(of: m.programID, runningBetween: now, and: now.addingTimeInterval(1)).filter {
                    $0.requiresEnrolment && !joined.contains($0.id) && $0.approval == .approved
                }
            }
        }
        var joinablePrograms: [[String: Any]] = []
        if v.principal.can(.membersEnroll) {
            let joined = Set(members.map(\.programID))
            joinablePrograms = try await s.loyalty.programs().filter { !joined.contains($0.id) }.map { ["id": $0.id.rawValue, "name": $0.name] }
        }
        var scores: [String: Any]? = nil
        let sc = try await s.intelligence.scores(of: id)
        if let sc {
            scores = [
                "rfm": "\(Format.label(sc.rfm.segment.rawValue)) (RFM \(sc.rfm.code); in rules: rfm.segment == \"\(sc.rfm.segment.rawValue)\")", "valueTier": "Tier \(sc.valueTier.rawValue)",
                "clv": sc.clv12m.map { Format.money(minorUnits: $0, currency: sc.currency) } ?? "—",
                "pAlive": sc.probabilityAlive.map { Format.pct($0) } ?? "—", "churn": sc.churnRisk.map { Format.pct($0) } ?? "—",
                "drivers": sc.churnDrivers.prefix(3).map { NextBestAction.driver($0.feature, raises: $0.contribution > 0) },
            ]
        }
        let rules = sc?.recommendations.isEmpty == false ? try await console.currentBasketRules() : []
        let actions = NextBestAction.rank(
            scores: sc, available: available, rewards: rewards, joinable: joinable, basketRules: rules, now: now
        ).prefix(5).map { ["action": $0.action, "reason": $0.reason] }
        let address = c.profile.addresses.first.map { a in
            [a.line1, a.line2, [a.postalCode, a.city].compactMap { $0 }.joined(separator: " "), a.region, a.country].compactMap { $0 }
                .filter { !$0.isEmpty }.joined(separator: ", ")
        }
        var household = "—"
        if let h = c.householdID { household = (try? await s.customers.household(h).name) ?? "\(h)" }
        var account = "—"
        if let a = c.accountID {
            account = (try? await s.customers.account(a)).map { "\($0.draft.name) (class \($0.draft.accountClass.rawValue))" } ?? "\(a)"
        }
        var duplicates: [[String: Any]] = []
        if v.principal.can(.customersMerge) {
            for d in try await s.customers.quality(of: c.id).duplicates {
                let other = d.customerID == c.id ? d.otherCustomerID : d.customerID
                let name = (try? await s.customers.customer(other).displayName) ?? "customer \(other)"
                duplicates.append(["other": other.rawValue, "name": name, "reason": Format.label(d.reason.rawValue).lowercased()])
            }
        }
        let consents = try await s.customers.consents(of: c.id)
        // The timeline, 25 at a time, newest first, of one kind or all.
        let shown = show.flatMap(TimelineEntry.Kind.init(rawValue:))
        let timeline = try await s.customers.timeline(
            of: c.id, kinds: shown.map { [$0] } ?? Set(TimelineEntry.Kind.allCases), before: before.map { Date(epochSeconds: $0) },
            limit: PageSize(Self.timelinePage))
        let newer: String? = before == nil ? nil : "/console/customers/\(id)" + (shown.map { "?show=\($0.rawValue)" } ?? "") + "#timeline-h"
        let address0 = c.profile.addresses.first
        let edit: [String: String] = [
            "firstName": c.profile.firstName ?? "", "lastName": c.profile.lastName ?? "", "birthDate": c.profile.birthDate?.description ?? "",
            "email": c.profile.emails.first?.value ?? "", "phone": c.profile.phones.first?.value ?? "", "line1": address0?.line1 ?? "",
            "line2": address0?.line2 ?? "", "postalCode": address0?.postalCode ?? "", "city": address0?.city ?? "", "country": address0?.country ?? "",
        ]
        let purposes: [[String: String]] = Purpose.allCases.map { ["value": $0.rawValue, "label": Format.label($0.rawValue)] }
        let contactChannels: [[String: String]] = [Customers.Channel.email, .sms, .call, .directMail].map {
            ["value": $0.rawValue, "label": Format.label($0.rawValue)]
        }
        let older =
            timeline.count == Self.timelinePage
            ? timeline.last.map { "/console/customers/\(id)?before=\($0.occurredAt.epochSeconds)" + (shown.map { "&show=\($0.rawValue)" } ?? "") + "#timeline-h" }
            : nil
        let values: [String: Any] = [
            "id": id, "name": c.displayName,
            "email": c.profile.emails.isEmpty ? "—" : c.profile.emails.map(\.value).joined(separator: ", "),
            "phone": c.profile.phones.isEmpty ? "—" : c.profile.phones.map { Format.phone($0.value) }.joined(separator: ", "),
            "address": address ?? "—", "birthDate": c.profile.birthDate.map(Format.date) ?? "—",
            "cards": c.cards.isEmpty ? "—" : c.cards.joined(separator: ", "), "actions": actions,
            "canEdit": v.principal.can(.customersWrite), "canLink": v.principal.can(.customersWrite), "canConsent": v.principal.can(.consentsWrite), "joinable": joinablePrograms,
            "edit": edit, "purposes": purposes, "contactChannels": contactChannels,
            "language": c.profile.language ?? "—", "homeStore": c.profile.homeStore ?? "—", "since": Format.date(c.createdAt),
            "completeness": c.completeness.score, "memberships": memberships, "scores": scores as Any, "household": household,
            "account": account, "duplicates": duplicates,
            "consents": consents.current.map {
                [
                    "purpose": Format.label($0.purpose.rawValue), "channel": Format.label($0.channel.rawValue), "answer": $0.granted ? "yes" : "no", "source": $0.source,
                    "when": Format.date($0.recordedAt),
                ]
            },
            "blocks": consents.blocks.filter { $0.clearedAt == nil }.map { Format.label($0.channel.rawValue) },
            "timeline": timeline.map {
                ["when": Format.time($0.occurredAt), "kind": Format.label($0.kind.rawValue), "summary": $0.summary, "detail": $0.detail as Any]
            },
            "timelineFilters": [("", "Everything"), ("interaction", "Interactions"), ("transaction", "Purchases and returns"), ("consent", "Consents")].map {
                ["value": $0.0, "label": $0.1, "selected": $0.0 == (shown?.rawValue ?? "")]
            },
            "older": older as Any, "newer": newer as Any,
            "canLog": v.principal.can(.interactionsWrite), "channels": Customers.Channel.allCases.map(\.rawValue), "flash": flash as Any,
            "canReadRequests": v.principal.can(.requestsRead), "canOpenRequest": v.principal.can(.requestsWork),
            "requests": try await ServicePages(console: console).customerRequests(v, customer: id),
            "canReadSales": v.principal.can(.salesRead) || v.principal.can(.leadsCreate), "canPassLead": v.principal.can(.leadsCreate),
            "canSeeDeals": v.principal.can(.salesRead),
            "ownerRequired": !v.principal.can(.salesManage), "leadSources": LeadSource.allCases.map(\.rawValue),
            "opportunities": v.principal.can(.salesRead)
                ? try await s.sales.opportunities(OpportunityFilter(customer: id), limit: 50).map {
                    SalesPages.row($0, today: LocalDate(s.sales.clock.now))
                }
                : [],
            "error": error as Any,
        ]
        return try views.page(.console, visitor: v, title: c.displayName.isEmpty ? "Customer \(id)" : c.displayName, template: "customer", values)
    }

    /// The periods the loyalty figures can cover.
    static let periods: [(key: String, label: String, days: Int?)] = [
        ("all", "All time", nil), ("30d", "Last 30 days", 30), ("90d", "Last 90 days", 90), ("12m", "Last 12 months", 365),
        ("ytd", "This year", nil), ("custom", "From … to …", nil),
    ]

    func analytics(_ v: Visitor, _ request: Request? = nil) async throws -> Response {
        guard v.principal.can(.analyticsRead) else { return try forbidden(v) }
        let rfm = try await console.currentRFM()
        var values: [String: Any] = ["scored": rfm.customers > 0]
        func drill(_ rule: String, _ title: String) -> String { AnalyticsPages.href(rule, title) }
        // The period of the loyalty and campaign figures.
        let q = request?.uri.queryParameters
        let now = s.intelligence.clock.now
        let today = LocalDate(now)
        var period = q?["period"].map(String.init) ?? "all"
        var from: Date? = nil
        var to = now
        switch period {
        case "30d", "90d", "12m":
            let days = Self.periods.first { $0.key == period }?.days ?? 30
            from = LocalDate(now.addingTimeInterval(-Double(days) * 86_400)).startOfDay
        case "ytd": from = LocalDate(year: today.year, month: 1, day: 1)?.startOfDay
        case "custom":
            if let f = q?["from"].flatMap({ LocalDate(String($0)) }), let t = q?["to"].flatMap({ LocalDate(String($0)) }), f <= t {
                from = f.startOfDay
                to = min(LocalDate(daysSinceEpoch: t.daysSinceEpoch + 1).startOfDay, now)
            } else {
                values["rangeError"] = "Give a first and a last day, the first not after the last."
                period = "all"
            }
        default: period = "all"
        }
        values["periods"] = Self.periods.map { ["key": $0.key, "label": $0.label, "selected": $0.key == period] }
        values["fromValue"] = from.map { LocalDate($0).description } ?? ""
        values["toValue"] = LocalDate(to.addingTimeInterval(-1)).description
        values["periodLabel"] =
            from.map { "\(Format.date($0)) to \(Format.lastDay(endingBefore: to))" } ?? "all time (active members and tier changes: the last 12 months)"
        if rfm.customers > 0 {
            values["pareto"] = SVGChart.curve(
                rfm.pareto.points.map { ($0.customerShare, $0.revenueShare) }, title: "Share of revenue from the top customers",
                xLabel: "share of customers (best first)", yLabel: "share of revenue")
            values["paretoText"] =
                "The top 20% of customers bring \(Format.pct(rfm.pareto.top20RevenueShare)) of revenue; \(Format.pct(rfm.pareto.customerShareFor80)) of customers bring 80%."
            // The R×F grid: recency 5 (most recent) at the top, frequency 1…5 across; each cell's customers and revenue.
            var cells: [String: RFMAnalysis.Cell] = [:]
            for c in rfm.grid { cells["\(c.recency)-\(c.frequency)"] = c }
            let most = max(1, rfm.grid.map(\.customers).max() ?? 1)
            values["grid"] = (1...5).reversed().map { r in
                [
                    "r": r,
                    "cells": (1...5).map { f -> [String: Any] in
                        let c = cells["\(r)-\(f)"]
                        let n = c?.customers ?? 0
                        return [
                            "customers": Format.number(Int64(n)), "revenue": Format.number((c?.revenue ?? 0) / 100),
                            "shade": Int((Double(n) / Double(most) * 9).rounded()),
                            "href": n > 0 ? drill("rfm.r == \(r) and rfm.f == \(f)", "Recency \(r), frequency \(f)") : "",
                        ]
                    },
                ] as [String: Any]
            }
            values["segments"] = SVGChart.bars(
                rfm.segments.sorted { $0.value > $1.value }.map { (Format.label($0.key), Double($0.value)) },
                title: "Customers by RFM segment")
            values["segmentRows"] = rfm.segments.sorted { $0.value > $1.value }.map {
                [
                    "label": Format.label($0.key), "value": $0.key, "customers": Format.number(Int64($0.value)),
                    "href": drill("rfm.segment == \"\($0.key)\"", "RFM segment: \(Format.label($0.key))"),
                ]
            }
            // CLV distribution and basket rules: computed once per scoring run.
            let key = try await console.scoringKey()
            let now = s.intelligence.clock.now
            let bounds: [Int64] = [10, 50, 100, 250, 500, 1_000].map { $0 * 100 }
            let counts = try await console.clv.get(key: key, maxAge: .infinity, now: now) { [s] in
                try await s.intelligence.clvDistribution(bounds: bounds)
            }.0
            let currency = s.customers.defaultCurrency
            func m(_ minor: Int64) -> String { Format.money(minorUnits: minor, currency: currency).replacingOccurrences(of: ".00", with: "") }
            var labels = ["under \(m(bounds[0]))"]
            for (a, b) in zip(bounds, bounds.dropFirst()) { labels.append("\(m(a))–\(m(b))") }
            labels += ["\(m(bounds.last!)) or more", "no estimate yet"]
            values["clv"] = SVGChart.bars(zip(labels, counts).map { ($0, Double($1)) }, title: "Customers by 12-month CLV (\(currency))")
            // The same bands as rules over the CLV (in major units), so each leads to its customers.
            var bandRules: [String] = ["clv.next_12m < \(bounds[0] / 100)"]
            for (a, b) in zip(bounds, bounds.dropFirst()) { bandRules.append("clv.next_12m >= \(a / 100) and clv.next_12m < \(b / 100)") }
            bandRules.append("clv.next_12m >= \(bounds.last! / 100)")
            values["clvRows"] = zip(zip(labels, counts), bandRules).map { pair, rule in
                ["label": pair.0, "customers": Format.number(Int64(pair.1)), "href": drill(rule, "12-month CLV \(pair.0)")]
            } + [["label": labels.last!, "customers": Format.number(Int64(counts.last ?? 0)), "href": ""]]
            // The churn model: how well it ranks, how it sorts customers, and what it says drives risk.
            if let run = try await s.intelligence.latestRun() {
                values["model"] = [
                    "auc": run.churnAUC.map { String(format: "%.2f", $0) } ?? "—", "rows": Format.number(run.churnTrainingRows),
                    "horizon": run.churnHorizonDays, "ran": Format.time(run.ranAt),
                ]
            }
            let overview = try await console.currentChurnOverview()
            values["riskBands"] = zip(ChurnOverview.bands, overview.bands).map { band, n in
                [
                    "label": band.1 > 1 ? "\(Int(band.0 * 100))% and more" : "\(Int(band.0 * 100))–\(Int(band.1 * 100))%",
                    "customers": Format.number(Int64(n)), "href": drill(ChurnOverview.rule(band.0, band.1), "Churn risk \(Int(band.0 * 100))% and up"),
                ]
            }
            values["riskChart"] = SVGChart.bars(
                zip(ChurnOverview.bands, overview.bands).map { ("\(Int($0.0 * 100))%+", Double($1)) }, title: "Customers by churn risk")
            values["topDrivers"] = overview.drivers.map {
                ["text": NextBestAction.driver($0.feature, raises: $0.raises), "customers": Format.number(Int64($0.customers))]
            }
            values["atRiskHref"] = drill("churn.risk >= 0.5", "Churn risk 50% and up")
            // Scored customers as the two lists show them: by name, with value tier, risk and CLV.
            func rows(_ scores: [CustomerScores]) async -> [[String: Any]] {
                var out: [[String: Any]] = []
                for sc in scores {
                    let name = (try? await s.customers.customer(CustomerID(sc.customer)))?.displayName
                    out.append([
                        "id": sc.customer, "name": name ?? "Customer \(sc.customer)", "tier": "Tier \(sc.valueTier.rawValue)",
                        "risk": sc.churnRisk.map { Format.pct($0) } ?? "—",
                        "clv": sc.clv12m.map { Format.money(minorUnits: $0, currency: sc.currency) } ?? "—",
                    ])
                }
                return out
            }
            values["topCLV"] = await rows(
                try await s.intelligence.scoredCustomers(segment: nil, valueTier: nil, minimumChurnRisk: nil, offset: 0, limit: 10))
            values["topCLVHref"] = drill("value.tier == \"A\"", "Value tier A")
            let rules = try await console.currentBasketRules()
            values["rules"] = rules.sorted { $0.lift > $1.lift }.prefix(12).map {
                [
                    "if": $0.antecedent.joined(separator: " + "), "then": $0.consequent.joined(separator: " + "), "support": Format.pct($0.support),
                    "confidence": Format.pct($0.confidence), "lift": String(format: "%.2f", $0.lift),
                ]
            }
            values["risky"] = await rows(try await console.customersAtRisk())
        }
        // Loyalty analytics (the report kept for five minutes) and campaigns' recorded results, over the period.
        let report: LoyaltyReport
        if let from { report = try await console.loyaltyReport(from: from, to: to) } else { report = try await console.currentLoyaltyReport().0 }
        values["programs"] = report.programs.map { p in
            [
                "name": p.name, "issued": Format.number(p.pointsIssued), "redeemed": Format.number(p.pointsRedeemed),
                "expired": Format.number(p.pointsExpired),
                "outstanding": Format.number(p.pointsOutstanding), "breakage": Format.pct(p.breakageRate), "redemption": Format.pct(p.redemptionRate),
                "liability": Format.money(minorUnits: p.liability, currency: p.currency),
                "outlets": SVGChart.bars(p.earnedByOutlet.prefix(12).map { ($0.key, Double($0.count)) }, title: "Points earned by outlet"),
                "migrations": p.migrations.prefix(12).map { ["from": $0.from, "to": $0.to, "members": $0.members] },
                "promotions": p.promotions.map {
                    [
                        "code": $0.code, "name": $0.name, "members": $0.members, "points": Format.number($0.points),
                        // Minor units per member in the report.
                        "incremental": Format.money($0.incrementalRevenuePerMember / 100, p.currency),
                    ]
                },
            ] as [String: Any]
        }
        if v.principal.can(.campaignsRead) {
            var rows: [[String: Any]] = []
            for c in try await s.campaigns.campaigns() where c.launchedAt.map({ $0 >= (from ?? .distantPast) && $0 < to }) ?? false {
                let pnl = try await s.campaigns.recordedPnL(c.id)
                rows.append([
                    "id": c.id.rawValue, "name": c.plan.name, "channels": Set(c.plan.waves.map(\.channel.rawValue)).sorted().joined(separator: ", "),
                    "offer": c.plan.offer.label, "target": Format.pct(pnl.target.responseRate), "control": Format.pct(pnl.control.responseRate),
                    "incremental": Format.money(pnl.incrementalRevenue.value, pnl.currency),
                ])
            }
            values["campaigns"] = rows
        }
        return try views.page(.console, visitor: v, title: "Analytics", template: "analytics", values)
    }
}

/// Login and logout of one site.
struct LoginPages: Sendable {
    let console: WebConsole
    let site: Site

    func register(on router: Router<WebRequestContext>) {
        router.get(RouterPath(stringLiteral: site.login)) { request, _ in
            if await console.visitor(request, site) != nil { return Response.redirect(to: site.root) }
            return try form(
                error: nil, next: request.uri.queryParameters["next"].map(String.init),
                flash: request.uri.queryParameters["changed"] != nil ? "Your password is changed. Sign in with the new one." : nil)
        }
        router.post(RouterPath(stringLiteral: site.login)) { request, context in
            let form = try await Form(request, context)
            let next = form["next"].flatMap { $0.hasPrefix(site.root) && !$0.contains("//") ? $0 : nil } ?? site.root
            let token: String
            do {
                if site == .partners, let key = form.text("key") {
                    token = key
                    // A key signs in only for a partner whose terms exist.
                    guard case .partner(_, _, let partner, _) = try await console.services.access.authenticate(bearer: token),
                        (try? await console.services.partners.partner(partner)) != nil
                    else { throw AccessError.invalidCredentials }
                } else {
                    let session = try await console.services.access.logIn(email: form["email"] ?? "", password: form["password"] ?? "", client: RequestOrigin.clientAddress)
                    switch (site, session.principal) {
                    case (.console, .staff), (.portal, .member): token = session.token
                    case (.partners, .partnerUser(_, _, let partner, _)) where (try? await console.services.partners.partner(partner)) != nil:
                        token = session.token
                    default:
                        try? await console.services.access.logOut(bearer: session.token)
                        throw AccessError.invalidCredentials
                    }
                }
            } catch AccessError.tooManyAttempts(let seconds) {
                var refused = try self.form(
                    error: AccessError.tooManyAttempts(retryAfter: seconds).description, next: form["next"], status: .tooManyRequests)
                refused.headers[.retryAfter] = String(seconds)
                return refused
            } catch {
                return try self.form(
                    error: site == .partners && form.text("key") != nil ? "That API key is not valid." : "Wrong email or password.", next: form["next"],
                    status: .unauthorized)
            }
            var response = Response.redirect(to: next)
            response.setCookie(console.sessionCookie(site, token))
            return response
        }
        registerPasswordPages(on: router)
        router.post(RouterPath(stringLiteral: "/\(site.rawValue)/logout")) { request, context in
            try await console.posted(request, context, site) { v, _ in
                // A partner's key is not a session: signing out forgets the cookie, not the key.
                if case .partner = v.principal {} else { try? await console.services.access.logOut(bearer: v.token) }
                var response = Response.redirect(to: site.login)
                response.setCookie(console.sessionCookie(site, "", maxAge: 0))
                return response
            }
        }
    }

    func form(error: String?, next: String?, status: HTTPResponse.Status = .ok, flash: String? = nil) throws -> Response {
        try console.views.page(
            site, visitor: nil, title: "Sign in", template: "login",
            [
                "action": site.login, "error": error as Any, "next": next as Any, "apiKey": site == .partners, "joinLink": site == .portal,
                "forgot": "/\(site.rawValue)/forgot", "flash": flash as Any,
            ],
            status: status)
    }

    func page(_ title: String, _ values: [String: Any], visitor: Visitor? = nil, status: HTTPResponse.Status = .ok) throws -> Response {
        var values = values
        values["site"] = site.rawValue
        return try console.views.page(site, visitor: visitor, title: title, template: "password", values, status: status)
    }

    /// Forgotten passwords (a link by email that works once, for an hour) and changing one's own
    /// password, for staff in the console and members in the portal.
    func registerPasswordPages(on router: Router<WebRequestContext>) {
        let access = console.services.access
        let root = "/\(site.rawValue)"
        router.get(RouterPath(stringLiteral: "\(root)/forgot")) { _, _ in
            try page("Forgot your password?", ["forgot": true, "mailReady": console.services.mail != nil])
        }
        router.post(RouterPath(stringLiteral: "\(root)/forgot")) { request, context in
            let form = try await Form(request, context)
            guard let send = console.services.mail else {
                return try page("Forgot your password?", ["forgot": true, "mailReady": false], status: .serviceUnavailable)
            }
            if let reset = try await access.requestPasswordReset(email: form["email"] ?? "") {
                let link = "\(console.services.publicURL)\(root)/reset/\(reset.secret)"
                let sent = await send(
                    reset.email, "Set a new password",
                    "Someone (we hope you) asked to set a new password for \(reset.email).\n\nOpen this link within an hour to choose one:\n\(link)\n\n"
                        + "If you did not ask, ignore this email: your password stays as it is.")
                if !sent { context.logger.warning("password reset email not accepted by the SMTP server") }
            }
            // The same answer whether or not the email has a login.
            return try page(
                "Check your email",
                ["message": "If that email address has a login, a link to set a new password is on its way. It works once, for an hour."])
        }
        router.get(RouterPath(stringLiteral: "\(root)/reset/:secret")) { _, context in
            try page("Choose a new password", ["reset": true, "secret": try context.parameters.require("secret")])
        }
        router.post(RouterPath(stringLiteral: "\(root)/reset/:secret")) { request, context in
            let secret = try context.parameters.require("secret")
            let form = try await Form(request, context)
            guard let password = form["password"], password == form["again"] else {
                return try page("Choose a new password", ["reset": true, "secret": secret, "error": "The two passwords differ."])
            }
            do {
                _ = try await access.resetPassword(secret: secret, newPassword: password)
            } catch let error as AccessError {
                return try page("Choose a new password", ["reset": true, "secret": secret, "error": error.description])
            }
            return try self.form(error: nil, next: nil, flash: "Your password is changed. Sign in with it.")
        }
        router.get(RouterPath(stringLiteral: "\(root)/password")) { request, _ in
            try await console.signedIn(request, site) { v in try page("Change your password", ["change": true], visitor: v) }
        }
        router.post(RouterPath(stringLiteral: "\(root)/password")) { request, context in
            try await console.posted(request, context, site) { v, form in
                guard let new = form["password"], new == form["again"] else {
                    return try page("Change your password", ["change": true, "error": "The two new passwords differ."], visitor: v)
                }
                do {
                    try await access.changePassword(of: v.principal, current: form["current"] ?? "", new: new)
                } catch let error as AccessError {
                    return try page("Change your password", ["change": true, "error": error.description], visitor: v)
                }
                // Every session ended with the change: sign in again with the new password.
                var response = Response.redirect(to: site.login + "?changed=1")
                response.setCookie(console.sessionCookie(site, "", maxAge: 0))
                return response
            }
        }
    }
}
