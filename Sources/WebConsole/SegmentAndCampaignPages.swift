import Access
import Campaigns
import Customers
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SharedModels

/// The segment builder (with its live count) and the campaign planner, launch and results.
struct SegmentAndCampaignPages: Sendable {
    let pages: ConsolePages
    var console: WebConsole { pages.console }
    var s: WebConsole.Services { console.services }

    func register(on router: Router<WebRequestContext>) {
        router.get("/console/segments") { request, _ in
            try await console.signedIn(request, .console) { v in try await segments(v) }
        }
        // The live count: plain text for the builder's script.
        router.post("/console/segments/count") { request, context in
            try await console.posted(request, context, .console, audited: false) { v, form in
                guard v.principal.can(.segmentsRead) else { return try pages.forbidden(v) }
                let text: String
                do {
                    let (n, ms) = try await s.segments.count(rule: form["rule"] ?? "")
                    let examples = n > 0 ? try await s.segments.preview(rule: form["rule"] ?? "", limit: 3).map(\.name) : []
                    text =
                        "\(Format.number(Int64(n))) customers (counted in \(String(format: "%.0f", ms)) ms)"
                        + (examples.isEmpty ? "" : ", for example \(examples.joined(separator: ", "))")
                        + (n == 0 ? ". Nobody matches: a campaign on this segment would reach no one." : "")
                } catch let e as SegmentError {
                    text = e.description
                }
                return Response.text(text)
            }
        }
        router.post("/console/segments") { request, context in
            try await console.posted(request, context, .console) { v, form in
                guard v.principal.can(.segmentsManage) else { return try pages.forbidden(v) }
                let name = form["name"] ?? ""
                let rule = form["rule"] ?? ""
                do {
                    let segment = try await s.segments.create(
                        SegmentDraft(name: name, rule: rule, kind: form["static"] == "yes" ? .static : .dynamic), owner: v.principal.actor)
                    return try await segments(v, flash: "Segment '\(segment.name)' saved: \(try await s.segments.size(of: segment.id)) customers.")
                } catch {
                    return try await segments(v, error: explain(error), name: name, rule: rule)
                }
            }
        }
        router.get("/console/segments/:id") { request, context in
            try await console.signedIn(request, .console) { v in
                guard let id = Int64(try context.parameters.require("id")) else { return try console.views.notFound(title: "No such segment") }
                return try await segment(v, id)
            }
        }
        router.get("/console/segments/:id/members.csv") { request, context in
            try await console.signedIn(request, .console) { v in
                guard v.principal.can(.segmentsRead), v.principal.can(.dataExport) || v.principal.can(.segmentsManage) else {
                    return try pages.forbidden(v)
                }
                guard let id = Int64(try context.parameters.require("id")) else { return try console.views.notFound(title: "No such segment") }
                var text = ""
                do {
                    _ = try await s.segments.exportCSV(SegmentID(id)) { text += $0 }
                } catch SegmentError.notFound { return try console.views.notFound(title: "No such segment") }
                try await s.access.audit(actor: v.principal.actor, action: "segment.export", target: "segments/\(id)", outcome: "ok", detail: nil)
                return Response(
                    status: .ok,
                    headers: [
                        .contentType: "text/csv; charset=utf-8", .contentDisposition: "attachment; filename=\"segment-\(id).csv\"", .cacheControl: "no-store",
                    ], body: .init(byteBuffer: ByteBuffer(string: text)))
            }
        }
        router.post("/console/segments/:id/edit") { request, context in
            try await console.posted(request, context, .console) { v, form in
                guard let id = Int64(try context.parameters.require("id")) else { return try console.views.notFound(title: "No such segment") }
                let existing: Segment
                do {
                    existing = try await s.segments.segment(SegmentID(id), changeableBy: Steward(v.principal.actor, isAdmin: v.principal.isAdmin))
                } catch SegmentError.notFound { return try console.views.notFound(title: "No such segment") } catch {
                    return try await segment(v, id, error: explain(error))
                }
                guard v.principal.can(.segmentsManage) else { return try pages.forbidden(v) }
                let draft = SegmentDraft(name: form["name"] ?? existing.name, rule: form["rule"] ?? existing.rule, kind: existing.kind)
                do {
                    _ = try await s.segments.update(existing.id, draft)
                } catch {
                    return try await segment(v, id, error: explain(error), name: draft.name, rule: draft.rule)
                }
                return try await segment(v, id, flash: "Saved.")
            }
        }
        router.post("/console/segments/:id/delete") { request, context in
            try await console.posted(request, context, .console) { v, form in
                guard let id = Int64(try context.parameters.require("id")) else { return try console.views.notFound(title: "No such segment") }
                guard v.principal.can(.segmentsManage) else { return try pages.forbidden(v) }
                guard form["confirm"] == "yes" else { return try await segment(v, id, error: "Tick the box to confirm the deletion.") }
                do {
                    let existing = try await s.segments.segment(SegmentID(id), changeableBy: Steward(v.principal.actor, isAdmin: v.principal.isAdmin))
                    if let user = try await s.campaigns.campaigns().first(where: { $0.plan.segment == id && $0.status != .cancelled && $0.status != .completed }) {
                        return try await segment(v, id, error: "Campaign '\(user.plan.name)' uses this segment; stop or finish it first.")
                    }
                    try await s.segments.delete(existing.id)
                    return try await segments(v, flash: "Segment '\(existing.name)' deleted.")
                } catch SegmentError.notFound { return try console.views.notFound(title: "No such segment") } catch {
                    return try await segment(v, id, error: explain(error))
                }
            }
        }
        router.get("/console/campaigns") { request, _ in
            try await console.signedIn(request, .console) { v in try await campaigns(v, request: request) }
        }
        router.post("/console/campaigns") { request, context in
            try await console.posted(request, context, .console) { v, form in
                guard v.principal.can(.campaignsManage) else { return try pages.forbidden(v) }
                let today = LocalDate(s.campaigns.clock.now)
                // The first wave goes to everyone on day 0; up to three follow-ups on any channel, on their day, to
                // everyone or to those who have not responded yet, optionally narrowed by a rule.
                let first = form["channel"].flatMap(CampaignChannel.init(rawValue:)) ?? .email
                var waves = [Wave(channel: first, day: 0, subject: first == .email ? form["subject"] : nil, body: form["body"] ?? "")]
                for n in 2...4 {
                    guard let channel = form["w\(n)_channel"].flatMap(CampaignChannel.init(rawValue:)) else { continue }
                    waves.append(
                        Wave(
                            channel: channel, day: Int(form["w\(n)_day"] ?? "") ?? n * 3,
                            audience: form["w\(n)_audience"] == "all" ? .all : .nonResponders, rule: form.text("w\(n)_rule"),
                            subject: channel == .email ? form.text("w\(n)_subject") : nil, body: form["w\(n)_body"] ?? ""))
                }
                let offer: CampaignOffer =
                    switch form["offer"] {
                    case "promotion": CampaignOffer(kind: .promotion, code: form.text("offer_code"))
                    case "voucher": CampaignOffer(kind: .voucher, code: form.text("offer_code"))
                    case "recommendation": CampaignOffer(kind: .recommendation)
                    default: CampaignOffer(kind: .none)
                    }
                let days = Int(form["days"] ?? "") ?? 30
                let plan = CampaignPlan(
                    name: form["name"] ?? "", objective: form.text("objective"),
                    budget: form.text("budget").flatMap { Money.parseMinorUnits(Substring($0), currency: s.customers.defaultCurrency) },
                    currency: s.customers.defaultCurrency, startsOn: today,
                    endsOn: LocalDate(daysSinceEpoch: today.daysSinceEpoch + max(1, days)), segment: Int64(form["segment"] ?? "") ?? 0,
                    controlPercent: Double(form["control"] ?? "") ?? 10, offer: offer, waves: waves)
                do {
                    let c = try await s.campaigns.create(plan, owner: v.principal.actor)
                    return Response.redirect(to: "/console/campaigns/\(c.id)")
                } catch {
                    return try await campaigns(v, error: explain(error))
                }
            }
        }
        router.get("/console/campaigns/:id") { request, context in
            try await console.signedIn(request, .console) { v in
                guard let id = Int64(try context.parameters.require("id")) else { return try console.views.notFound(title: "No such campaign") }
                let q = request.uri.queryParameters
                return try await campaign(
                    v, id, previewFor: q["customer"].map { String($0.prefix(200)) }, previewWave: q["wave"].flatMap { Int(String($0)) })
            }
        }
        // A draft's plan changes until launch: its name, budget, control group, and each wave's day, subject and message.
        router.post("/console/campaigns/:id/plan") { request, context in
            try await console.posted(request, context, .console) { v, form in
                guard v.principal.can(.campaignsManage) else { return try pages.forbidden(v) }
                guard let id = Int64(try context.parameters.require("id")) else { return try console.views.notFound(title: "No such campaign") }
                let c: Campaign
                do { c = try await s.campaigns.campaign(CampaignID(id)) } catch { return try console.views.notFound(title: "No such campaign") }
                guard mayChange(v, c) else { return try pages.forbidden(v) }
                var plan = c.plan
                plan.name = form["name"] ?? plan.name
                plan.objective = form.text("objective")
                if let budget = form.text("budget") {
                    guard let minor = Money.parseMinorUnits(Substring(budget), currency: plan.currency) else {
                        return try await campaign(v, id, error: "Budget: give an amount such as 2500.00, or leave it empty.")
                    }
                    plan.budget = minor
                } else {
                    plan.budget = nil
                }
                if let control = form.text("control") {
                    guard let n = Double(control) else { return try await campaign(v, id, error: "Control group: give a percentage from 0 to 50.") }
                    plan.controlPercent = n
                }
                for i in plan.waves.indices {
                    let n = i + 1
                    if let day = form.text("w\(n)_day") {
                        guard let d = Int(day) else { return try await campaign(v, id, error: "Wave \(n): the day is a whole number.") }
                        plan.waves[i].day = d
                    }
                    if plan.waves[i].channel == .email { plan.waves[i].subject = form.text("w\(n)_subject") }
                    if let body = form["w\(n)_body"] { plan.waves[i].body = body }
                }
                do {
                    _ = try await s.campaigns.update(c.id, plan)
                    return try await campaign(v, id, flash: "Plan saved; preview it below before you launch.")
                } catch {
                    return try await campaign(v, id, error: explain(error))
                }
            }
        }
        // A test send: the wave as one recipient would get it, to the marketer's own address,
        // through the real mail server. It is not a campaign message: nothing is recorded.
        router.post("/console/campaigns/:id/test") { request, context in
            try await console.posted(request, context, .console) { v, form in
                guard v.principal.can(.campaignsManage) else { return try pages.forbidden(v) }
                guard let id = Int64(try context.parameters.require("id")) else { return try console.views.notFound(title: "No such campaign") }
                let c: Campaign
                do { c = try await s.campaigns.campaign(CampaignID(id)) } catch { return try console.views.notFound(title: "No such campaign") }
                let wave = min(max(Int(form["wave"] ?? "") ?? 1, 1), c.plan.waves.count)
                func refuse(_ text: String) async throws -> Response {
                    try await campaign(v, id, error: text, previewFor: form["customer"], previewWave: wave)
                }
                guard let send = s.testMail else { return try await refuse("No mail server is set up (PATRON_SMTP_URL), so no test can be sent.") }
                guard let to = form.text("to").flatMap({ EmailAddress($0)?.value }) else { return try await refuse("Give the email address to send the test to.") }
                var who: Int64? = nil
                if let asked = form.text("customer") { who = try await previewCustomer(asked) }
                if who == nil { who = try await s.segments.members(of: SegmentID(c.plan.segment), limit: 1).first?.customer }
                guard let who else { return try await refuse("Nobody is in the segment to render the test for; name a customer.") }
                var m = try await rendered(c, wave: wave, customer: who)
                let channel = c.plan.waves[wave - 1].channel
                m.subject = "[Test] " + (m.subject ?? "\(c.plan.name): \(Format.label(channel.rawValue)) message")
                m.address = to
                guard await send(m) else { return try await refuse("The mail server did not accept the test to \(to); try again later.") }
                return try await campaign(
                    v, id, flash: "Test of wave \(wave) sent to \(to), as \(m.name) would get it.", previewFor: form["customer"], previewWave: wave)
            }
        }
        // Launch, pause, resume and stop: each asks for confirmation on a page that says what
        // will happen (who will receive what; a campaign reaching no one says so).
        router.get("/console/campaigns/:id/confirm/:action") { request, context in
            try await console.signedIn(request, .console) { v in
                guard let id = Int64(try context.parameters.require("id")), let action = CampaignAction(rawValue: try context.parameters.require("action"))
                else { return try console.views.notFound(title: "No such campaign") }
                return try await confirm(v, id, action)
            }
        }
        router.post("/console/campaigns/:id/:action") { request, context in
            try await console.posted(request, context, .console) { v, form in
                guard let id = Int64(try context.parameters.require("id")), let action = CampaignAction(rawValue: try context.parameters.require("action"))
                else { return try console.views.notFound(title: "No such campaign") }
                let c: Campaign
                do { c = try await s.campaigns.campaign(CampaignID(id)) } catch { return try console.views.notFound(title: "No such campaign") }
                guard mayChange(v, c) else { return try pages.forbidden(v) }
                guard form["confirm"] == "yes" else {
                    return try await confirm(v, id, action, error: "Tick the box to confirm.")
                }
                do {
                    switch action {
                    case .launch:
                        let launched = try await s.campaigns.launch(c.id)
                        return try await campaign(v, id, flash: "Launched: \(Format.number(launched.waves.first?.queued ?? 0)) messages queued.")
                    case .pause:
                        _ = try await s.campaigns.pause(c.id)
                        return try await campaign(v, id, flash: "Paused: nothing more goes out until you resume it.")
                    case .resume:
                        _ = try await s.campaigns.resume(c.id)
                        return try await campaign(v, id, flash: "Resumed: waiting messages go out again.")
                    case .stop:
                        _ = try await s.campaigns.cancel(c.id)
                        return try await campaign(v, id, flash: "Stopped: messages not sent yet will not be sent.")
                    }
                } catch { return try await campaign(v, id, error: explain(error)) }
            }
        }
    }

    enum CampaignAction: String {
        case launch, pause, resume, stop
    }

    /// The confirmation page of a campaign action.
    func confirm(_ v: Visitor, _ id: Int64, _ action: CampaignAction, error: String? = nil) async throws -> Response {
        let c: Campaign
        do { c = try await s.campaigns.campaign(CampaignID(id)) } catch { return try console.views.notFound(title: "No such campaign") }
        guard mayChange(v, c) else { return try pages.forbidden(v) }
        var lines: [String] = []
        var warning: String? = nil
        switch action {
        case .launch:
            let size = (try? await s.segments.size(of: SegmentID(c.plan.segment))) ?? 0
            let control = Int((Double(size) * c.plan.controlPercent / 100).rounded())
            lines.append("The audience is frozen now: about \(Format.number(size)) customers, \(Format.number(control)) of them held back as the control group.")
            for w in c.plan.waves {
                let ready = s.configuredChannels.contains(w.channel)
                lines.append(
                    "\(Format.label(w.channel.rawValue)) on day \(w.day)"
                        + (ready ? "." : " — this channel is not configured: its messages will wait in the queue until it is."))
            }
            lines.append("A launched campaign cannot be changed; it can be paused or stopped.")
            if size == 0 { warning = "No one is in this campaign's segment: launched now, it reaches no one. Check the segment first." }
        case .pause: lines.append("No wave is prepared and no message goes out until you resume the campaign. Results keep counting.")
        case .resume: lines.append("Waves whose day came while it was paused are prepared now, and waiting messages go out.")
        case .stop:
            lines.append("Messages not yet handed to their channel will never be sent. This cannot be undone.")
            lines.append("What was sent keeps counting in the results.")
        }
        let verb: String =
            switch action {
            case .launch: "Launch"
            case .pause: "Pause"
            case .resume: "Resume"
            case .stop: "Stop"
            }
        return try console.views.page(
            .console, visitor: v, title: "\(verb) \(c.plan.name)?", template: "campaign-confirm",
            [
                "id": id, "action": action.rawValue, "verb": verb, "lines": lines, "warning": warning as Any, "error": error as Any,
                "confirmLabel": warning != nil ? "I understand it reaches no one; \(verb.lowercased()) it anyway" : "Yes, \(verb.lowercased()) \(c.plan.name)",
            ])
    }

    func mayChange(_ v: Visitor, _ c: Campaign) -> Bool {
        v.principal.can(.campaignsManage) && Steward(v.principal.actor, isAdmin: v.principal.isAdmin).mayChange(owner: c.owner)
    }

    /// Every segment's size now (kept five minutes).
    func sizes(_ list: [Segment]) async throws -> [Int64: Int] {
        let segments = s.segments
        let key = list.map { "\($0.id):\($0.rule.hashValue)" }.joined(separator: ",")
        return try await console.segmentSizes.get(key: key, maxAge: 300, now: segments.clock.now) {
            var sizes: [Int64: Int] = [:]
            for segment in list { sizes[segment.id.rawValue] = (try? await segments.size(of: segment.id)) ?? 0 }
            return sizes
        }.0
    }

    func segments(_ v: Visitor, flash: String? = nil, error: String? = nil, name: String = "", rule: String = "") async throws -> Response {
        guard v.principal.can(.segmentsRead) else { return try pages.forbidden(v) }
        let list = try await s.segments.segments()
        let sizes = try await sizes(list)
        return try console.views.page(
            .console, visitor: v, title: "Segments", template: "segments",
            [
                "flash": flash as Any, "error": error as Any, "name": name, "rule": rule, "canManage": v.principal.can(.segmentsManage),
                "builder": SegmentBuilder.json(try await s.segments.knownValues()),
                "segments": list.map {
                    [
                        "id": $0.id.rawValue, "name": $0.name, "rule": $0.rule, "kind": Format.label($0.kind.rawValue), "owner": $0.owner,
                        "size": sizes[$0.id.rawValue].map { Format.number($0) } ?? "—", "empty": sizes[$0.id.rawValue] == 0,
                    ] as [String: Any]
                },
            ])
    }

    /// A segment: its size now, who is in it (20 of them), its rule to edit, export and delete.
    func segment(
        _ v: Visitor, _ id: Int64, flash: String? = nil, error: String? = nil, name: String? = nil, rule: String? = nil
    ) async throws -> Response {
        guard v.principal.can(.segmentsRead) else { return try pages.forbidden(v) }
        let segment: Segment
        do { segment = try await s.segments.segment(SegmentID(id)) } catch { return try console.views.notFound(title: "No such segment") }
        let size = try await s.segments.size(of: segment.id)
        let members = try await s.segments.members(of: segment.id, limit: 20)
        let usedBy = try await s.campaigns.campaigns().filter { $0.plan.segment == id }
        let mayChange = v.principal.can(.segmentsManage) && Steward(v.principal.actor, isAdmin: v.principal.isAdmin).mayChange(owner: segment.owner)
        return try console.views.page(
            .console, visitor: v, title: "Segment \(segment.name)", template: "segment",
            [
                "id": id, "flash": flash as Any, "error": error as Any, "name": name ?? segment.name, "rule": rule ?? segment.rule,
                "kind": Format.label(segment.kind.rawValue), "owner": segment.owner, "size": Format.number(size), "empty": size == 0,
                "mayChange": mayChange, "mayExport": v.principal.can(.dataExport) || v.principal.can(.segmentsManage),
                "builder": SegmentBuilder.json(try await s.segments.knownValues()),
                "members": members.map {
                    [
                        "id": $0.customer, "name": $0.name, "email": $0.email ?? "—", "tier": $0.tier ?? "—",
                        "clv": $0.clv.map { Format.money($0, s.customers.defaultCurrency) } ?? "—",
                    ]
                },
                "campaigns": usedBy.map { ["id": $0.id.rawValue, "name": $0.plan.name, "status": Format.label($0.status.rawValue)] },
            ])
    }

    static func email(of p: Principal) -> String? {
        if case .staff(_, let email, _) = p { return email }
        return nil
    }

    static let campaignColumns = [
        ListColumn(key: "name", label: "Campaign"), ListColumn(key: "status", label: "Status"), ListColumn(key: "segment", label: "Segment"),
        ListColumn(key: "waves", label: "Waves", sortable: false), ListColumn(key: "owner", label: "Owner"),
        ListColumn(key: "launched", label: "Launched"),
    ]

    func campaigns(_ v: Visitor, error: String? = nil, request: Request? = nil) async throws -> Response {
        guard v.principal.can(.campaignsRead) else { return try pages.forbidden(v) }
        let all = try await s.campaigns.campaigns()
        let segmentList = try await s.segments.segments()
        let segmentNames = Dictionary(segmentList.map { ($0.id.rawValue, $0.name) }, uniquingKeysWith: { a, _ in a })
        // The list: filtered by status, owner and name, sorted by any column, 50 a page.
        let listRequest = request.map {
            ListRequest($0, columns: Self.campaignColumns, defaultSort: "launched", defaultDescending: true, filters: ["status", "owner"])
        }
        let list = listRequest ?? ListRequest.defaults(sort: "launched", descending: true)
        let chosen = all.filter { c in
            (list.filters["status"].map { $0 == c.status.rawValue } ?? true) && (list.filters["owner"].map { $0 == c.owner } ?? true)
                && (list.q.map { c.plan.name.localizedCaseInsensitiveContains($0) } ?? true)
        }
        let (page, total) = ListView.page(
            chosen, list,
            keys: [
                "name": { $0.plan.name.lowercased() < $1.plan.name.lowercased() }, "status": { $0.status.rawValue < $1.status.rawValue },
                "segment": { (segmentNames[$0.plan.segment] ?? "") < (segmentNames[$1.plan.segment] ?? "") }, "owner": { $0.owner < $1.owner },
                "launched": { ($0.launchedAt ?? .distantFuture, $0.id.rawValue) < ($1.launchedAt ?? .distantFuture, $1.id.rawValue) },
            ])
        let rows = page.map { c -> [ListCell] in
            [
                ListCell(c.plan.name, href: "/console/campaigns/\(c.id)"), ListCell(Format.label(c.status.rawValue)),
                ListCell(segmentNames[c.plan.segment] ?? "—"),
                ListCell(c.plan.waves.map { "\(Format.label($0.channel.rawValue)) on day \($0.day)" }.joined(separator: ", ")), ListCell(c.owner),
                ListCell(c.launchedAt.map(Format.date) ?? "Not launched"),
            ]
        }
        let listing = ListView.render(
            path: "/console/campaigns", request: list, columns: Self.campaignColumns, rows: rows, total: total,
            filters: [
                ListFilter(key: "status", label: "Status", options: Campaign.Status.allCases.map { ($0.rawValue, Format.label($0.rawValue)) }),
                ListFilter(key: "owner", label: "Owner", options: Set(all.map(\.owner)).sorted().map { ($0, $0) }),
            ],
            search: "Name", noun: ("campaign", "campaigns"), savedViews: try await console.savedViews(v, path: "/console/campaigns"),
            csrf: v.formToken())
        return try console.views.page(
            .console, visitor: v, title: "Campaigns", template: "campaigns",
            [
                "error": error as Any, "canManage": v.principal.can(.campaignsManage) && !segmentList.isEmpty,
                "segments": segmentList.map { ["id": $0.id.rawValue, "name": $0.name] },
                "followUps": [(2, 3), (3, 7), (4, 14)].map { ["n": $0.0, "day": $0.1] },
                "tags": MergeTags.all.map { ["label": "{{\($0.tag)}}", "tag": $0.tag, "meaning": $0.meaning] },
                "list": listing,
            ])
    }

    /// The customer a marketer names for a preview: a customer number, or anything the customer
    /// search finds (an email, a name, a phone); nil when nobody matches.
    func previewCustomer(_ text: String) async throws -> Int64? {
        let t = text.trimmingCharacters(in: .whitespaces)
        if let n = Int64(t), (try? await s.customers.customer(CustomerID(n))) != nil { return n }
        return try await s.customers.list(CustomerListQuery(text: t, limit: 1)).items.first?.id.rawValue
    }

    /// A wave rendered for one recipient: what the preview shows and a test send sends.
    func rendered(_ c: Campaign, wave: Int, customer: Int64) async throws -> OutboundMessage {
        try await s.campaigns.preview(c.id, wave: wave, customer: customer)
    }

    func campaign(
        _ v: Visitor, _ id: Int64, flash: String? = nil, error: String? = nil, previewFor: String? = nil, previewWave: Int? = nil
    ) async throws -> Response {
        guard v.principal.can(.campaignsRead) else { return try pages.forbidden(v) }
        let c: Campaign
        do { c = try await s.campaigns.campaign(CampaignID(id)) } catch { return try console.views.notFound(title: "No such campaign") }
        let (pnl, breakdown) = try await s.campaigns.breakdown(c.id)
        let cur = pnl.currency
        func group(_ g: CampaignPnL.GroupResult) -> String {
            "\(g.customers) customers, \(g.responders) bought (\(Format.pct(g.responseRate))), \(Format.money(g.revenue, cur))"
        }
        func interval(_ e: Estimate, _ f: (Double) -> String) -> String { "\(f(e.value)) (95% CI \(f(e.low)) to \(f(e.high)))" }
        // The preview: for the recipient asked for (any customer), else the segment's first.
        var preview: [String: Any]? = nil
        var previewError: String? = nil
        let wave = min(max(previewWave ?? 1, 1), c.plan.waves.count)
        var who: Int64? = nil
        if let asked = previewFor?.trimmingCharacters(in: .whitespaces), !asked.isEmpty {
            who = try await previewCustomer(asked)
            if who == nil { previewError = "No customer matches \u{201C}\(asked.prefix(80))\u{201D}; showing the segment's first member." }
        }
        if who == nil { who = try await s.segments.members(of: SegmentID(c.plan.segment), limit: 1).first?.customer }
        if let who, let m = try? await rendered(c, wave: wave, customer: who) {
            preview = [
                "to": "\(m.name) <\(m.address)>", "subject": m.subject ?? "", "body": m.body, "html": m.isHTML, "wave": wave,
                "channel": Format.label(c.plan.waves[wave - 1].channel.rawValue), "customer": who,
            ]
        }
        let segmentName = (try? await s.segments.segment(SegmentID(c.plan.segment)).name) ?? "\(c.plan.segment)"
        let responseChart = SVGChart.bars(
            [("target", pnl.target.responseRate * 100), ("control", pnl.control.responseRate * 100)], title: "Customers who bought, percent",
            format: { String(format: "%.1f%%", $0) })
        var funnel: [(label: String, value: Double)] = []
        for w in breakdown.waves where w.queued > 0 {
            funnel += [
                ("Wave \(w.number) queued", Double(w.queued)), ("Wave \(w.number) delivered", Double(w.delivered)),
                ("Wave \(w.number) opened", Double(w.opened)), ("Wave \(w.number) clicked", Double(w.clicked)),
                ("Wave \(w.number) bought", Double(w.purchasers)),
            ]
        }
        if breakdown.unreachedPurchasers > 0 { funnel.append(("Bought, not reached", Double(breakdown.unreachedPurchasers))) }
        let configured = s.configuredChannels
        /// What a wave's channel is doing, in words.
        func channelState(_ w: CampaignBreakdown.WaveRow) -> String {
            if w.waiting > 0 && !configured.contains(w.channel) {
                return "Not configured: \(Format.number(w.waiting)) waiting (set the channel up; see docs/campaigns.md)"
            }
            if w.failed > 0 { return "Failing: \(Format.number(w.failed)) refused by the channel" }
            if w.waiting > 0 { return "Sending: \(Format.number(w.waiting)) waiting" }
            return w.queued > 0 ? "Sent" : "Not started"
        }
        let costs = pnl
        var costText = Format.money(pnl.cost, cur)
        costText += " (messages \(Format.money(costs.costMessages, cur)), vouchers and enrolments \(Format.money(costs.costRedemptions, cur)), "
        costText += "points \(Format.money(costs.costPoints, cur)), fixed \(Format.money(costs.costFixed, cur)))"
        if let budget = c.plan.budget {
            costText += " of a \(Format.money(minorUnits: budget, currency: cur)) budget"
        }
        return try console.views.page(
            .console, visitor: v, title: c.plan.name, template: "campaign",
            [
                "id": id, "flash": flash as Any, "error": error as Any, "status": Format.label(c.status.rawValue), "segment": segmentName,
                "control": c.plan.controlPercent, "owner": c.owner, "canLaunch": c.status == .draft && mayChange(v, c),
                "canPause": c.status == .running && mayChange(v, c), "canResume": c.status == .paused && mayChange(v, c),
                "canStop": [.draft, .running, .paused].contains(c.status) && c.launchedAt != nil && mayChange(v, c),
                "waves": breakdown.waves.map {
                    [
                        "number": $0.number, "channel": Format.label($0.channel.rawValue), "day": $0.day, "queued": Format.number($0.queued),
                        "suppressed": Format.number($0.suppressed), "delivered": Format.number($0.delivered), "clicked": Format.number($0.clicked),
                        "purchasers": Format.number($0.purchasers), "lift": Format.pct($0.lift), "state": channelState($0),
                    ] as [String: Any]
                },
                "unreached": (breakdown.unreachedPurchasers > 0 ? Format.number(breakdown.unreachedPurchasers) : nil) as Any,
                "targetBought": Format.number(pnl.target.responders),
                "target": group(pnl.target), "controlGroup": group(pnl.control),
                "lift": interval(pnl.responseLift) { Format.pct($0) },
                "incremental": interval(pnl.incrementalRevenue) { Format.money($0, cur) }, "cost": costText,
                "profit": interval(pnl.incrementalProfit) { Format.money($0, cur) },
                "roi": pnl.roi.map { interval($0) { String(format: "%.2f", $0) } } ?? "—", "preview": preview as Any,
                "previewError": previewError as Any, "previewFor": previewFor ?? "", "mailReady": s.testMail != nil,
                "canTest": v.principal.can(.campaignsManage),
                "waveChoices": (1...c.plan.waves.count).map {
                    ["n": $0, "label": "Wave \($0): \(Format.label(c.plan.waves[$0 - 1].channel.rawValue))", "selected": $0 == wave]
                },
                "testTo": Self.email(of: v.principal) ?? "",
                "editable": c.status == .draft && mayChange(v, c), "name": c.plan.name, "objective": c.plan.objective ?? "",
                "budgetValue": c.plan.budget.map { Format.plainAmount(minorUnits: $0, currency: c.plan.currency) } ?? "",
                "controlValue": c.plan.controlPercent,
                "planWaves": c.plan.waves.enumerated().map { i, w -> [String: Any] in
                    [
                        "n": i + 1, "channel": Format.label(w.channel.rawValue), "day": w.day, "isEmail": w.channel == .email,
                        "subject": w.subject ?? "", "body": w.body,
                    ]
                },
                "tags": MergeTags.all.map { ["label": "{{\($0.tag)}}", "tag": $0.tag, "meaning": $0.meaning] },
                "responseChart": responseChart,
                "funnelChart": (funnel.isEmpty ? nil : SVGChart.bars(funnel, title: "Messages and responses by wave")) as Any,
            ])
    }
}
