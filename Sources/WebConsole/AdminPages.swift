import Access
import Customers
import Expressions
import Foundation
import HTTPTypes
import Hummingbird
import Jobs
import Loyalty
import NIOCore
import Partners
import SharedModels

/// Loyalty administration (programs, tiers, promotions with the rule editor, rewards) and
/// administration (users and roles, partner API keys).
struct AdminPages: Sendable {
    let pages: ConsolePages
    var console: WebConsole { pages.console }
    var s: WebConsole.Services { console.services }

    static func describe(_ a: Promotion.Action) -> String {
        switch a {
        case .pointsPerUnit(let n): "+\(n) points per unit spent"
        case .multiplier(let p): "\(p)% of base points"
        case .fixed(let n): "+\(n) points a purchase"
        case .voucher(let code): "a \(code) voucher"
        }
    }

    /// A promotion criteria rule checked as the loyalty engine checks it: nil, or where it goes wrong.
    static func check(_ criteria: String) -> String? {
        guard !criteria.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { return nil }
        do {
            try TypeChecker(schema: EarningRules.schema).checkCondition(try Parser.parse(criteria))
            return nil
        } catch let e as ExpressionError {
            return "line \(e.position.line), column \(e.position.column): \(e.message)"
        } catch { return explain(error) }
    }

    func register(on router: Router<WebRequestContext>) {
        router.get("/console/loyalty") { request, _ in try await console.signedIn(request, .console) { try await loyalty($0) } }
        router.post("/console/loyalty/check") { request, context in
            try await console.posted(request, context, .console, audited: false) { v, form in
                guard v.principal.can(.loyaltyRead) else { return try pages.forbidden(v) }
                let text = Self.check(form["rule"] ?? "") ?? ((form["rule"] ?? "").isEmpty ? "" : "The criteria are valid.")
                return Response.text(text)
            }
        }
        router.post("/console/loyalty/promotions") { request, context in
            try await console.posted(request, context, .console) { v, form in
                guard v.principal.can(.loyaltyManage) else { return try pages.forbidden(v) }
                let kept: [String: Any] = [
                    "code": form["code"] ?? "", "name": form["name"] ?? "", "starts": form["starts"] ?? "", "ends": form["ends"] ?? "",
                    "criteria": form["criteria"] ?? "", "amount": form["amount"] ?? "",
                ]
                let criteria = form.text("criteria")
                if let partner = form.text("partner"), (try? await s.partners.partner(partner)) == nil {
                    return try await loyalty(v, error: "No partner \(partner).", kept: kept)
                }
                if let problem = criteria.flatMap(Self.check) {
                    return try await loyalty(v, error: "Criteria: \(problem)", kept: kept.merging(["ruleError": problem]) { $1 })
                }
                guard let program = Int64(form["program"] ?? ""), let starts = form["starts"].flatMap(LocalDate.init),
                    let ends = form["ends"].flatMap(LocalDate.init), let amount = Int64(form["amount"] ?? ""), amount > 0
                else { return try await loyalty(v, error: "Give the program, the dates (YYYY-MM-DD) and a positive amount.", kept: kept) }
                let action: Promotion.Action =
                    switch form["action"] {
                    case "multiplier": .multiplier(percent: amount)
                    case "per_unit": .pointsPerUnit(amount)
                    default: .fixed(amount)
                    }
                do {
                    let p = try await s.loyalty.createPromotion(
                        PromotionDraft(
                            code: form["code"] ?? "", name: form["name"] ?? "", startsAt: starts.startOfDay,
                            endsAt: LocalDate(daysSinceEpoch: ends.daysSinceEpoch + 1).startOfDay, requiresEnrolment: form["opt_in"] == "yes",
                            criteria: criteria, action: action, partner: form.text("partner"), partnerShare: form.text("share").flatMap { Int($0) }),
                        in: ProgramID(program))
                    return try await loyalty(
                        v,
                        flash: p.partner == nil ? "Promotion \(p.code) saved." : "Promotion \(p.code) saved; it runs once \(p.partner!) approves it.")
                } catch { return try await loyalty(v, error: explain(error), kept: kept) }
            }
        }
        router.post("/console/loyalty/programs") { request, context in
            try await console.posted(request, context, .console) { v, form in
                guard v.principal.can(.loyaltyManage) else { return try pages.forbidden(v) }
                let currency = s.customers.defaultCurrency
                guard let value = Money.parseMinorUnits(Substring(form["value"] ?? ""), currency: currency), value > 0 else {
                    return try await loyalty(v, error: "Give the value of 1,000 points as an amount, e.g. 10.00.")
                }
                guard let perUnit = Int64(form["points_per_unit"] ?? ""), perUnit >= 0 else {
                    return try await loyalty(v, error: "Points per currency unit must be a whole number, 0 or more.")
                }
                do {
                    let p = try await s.loyalty.createProgram(
                        code: (form["code"] ?? "").uppercased(), name: form["name"] ?? "",
                        valuePerThousandPoints: Money(minorUnits: value, currency: currency),
                        expiryMonths: form.text("expiry").flatMap { Int($0) }, pendingDays: Int(form["pending"] ?? "") ?? 0,
                        expiryStyle: form["style"] == "rolling" ? .rolling : .afterEarning)
                    try await s.loyalty.configure(
                        p.id, rules: EarningRules(pointsPerUnit: perUnit), tiers: try TierPolicy(tiers: [.init(name: "Member", threshold: 0)]))
                    return try await loyalty(v, flash: "Program \(p.code) created; set its tiers and earning rules below.")
                } catch { return try await loyalty(v, error: explain(error)) }
            }
        }
        router.post("/console/loyalty/programs/:id/settings") { request, context in
            try await console.posted(request, context, .console) { v, form in
                guard v.principal.can(.loyaltyManage), let id = Int64(try context.parameters.require("id")) else { return try pages.forbidden(v) }
                do {
                    let program = try await s.loyalty.program(ProgramID(id))
                    let (rules, tiers) = try Self.settings(form, keeping: program)
                    try await s.loyalty.configure(program.id, rules: rules, tiers: tiers)
                    return try await loyalty(v, flash: "\(program.name): earning rules and tiers saved; they apply from the next purchase.")
                } catch let problem as SettingsError {
                    return try await loyalty(v, error: problem.description)
                } catch { return try await loyalty(v, error: explain(error)) }
            }
        }
        router.post("/console/loyalty/rewards") { request, context in
            try await console.posted(request, context, .console) { v, form in
                guard v.principal.can(.loyaltyManage) else { return try pages.forbidden(v) }
                guard let program = Int64(form["program"] ?? ""), let price = Int64(form["price"] ?? ""), let code = form.text("code"),
                    let name = form.text("name")
                else { return try await loyalty(v, error: "Give the reward's code, name and points.") }
                do {
                    let r = try await s.loyalty.addReward(
                        to: ProgramID(program), code: code, name: name, kind: .product, pointsPrice: price,
                        stock: form.text("stock").flatMap { Int($0) })
                    return try await loyalty(v, flash: "Reward \(r.code) added.")
                } catch { return try await loyalty(v, error: explain(error)) }
            }
        }
        // Ending a promotion early (its unused budget goes back) and changing a reward's stock or
        // withdrawing it: what a loyalty manager changes after creation.
        router.post("/console/loyalty/promotions/:id/end") { request, context in
            try await console.posted(request, context, .console) { v, form in
                guard v.principal.can(.loyaltyManage) else { return try pages.forbidden(v) }
                guard let id = Int64(try context.parameters.require("id")) else { return try console.views.notFound(title: "No such promotion") }
                guard form["confirm"] == "yes" else { return try await loyalty(v, error: "Tick the box to confirm ending the promotion now.") }
                do {
                    let p = try await s.loyalty.end(PromotionID(id))
                    return try await loyalty(v, flash: "\(p.name) ended now; what was left of its budget went back to the program.")
                } catch { return try await loyalty(v, error: explain(error)) }
            }
        }
        router.post("/console/loyalty/rewards/:id") { request, context in
            try await console.posted(request, context, .console) { v, form in
                guard v.principal.can(.loyaltyManage) else { return try pages.forbidden(v) }
                guard let id = Int64(try context.parameters.require("id")) else { return try console.views.notFound(title: "No such reward") }
                if form["whole"] == "yes" { return try await CataloguePages(console: console).saveReward(v, RewardID(id), form) }
                let stockText = form.text("stock")
                let stock = stockText.flatMap { Int($0) }
                if stockText != nil && stock == nil { return try await loyalty(v, error: "stock: give a whole number, or leave it empty for unlimited.") }
                do {
                    let r = try await s.loyalty.restock(RewardID(id), stock: stock, active: form["active"] == "yes")
                    return try await loyalty(
                        v, flash: "\(r.name): " + (r.active ? "available, stock \(r.stock.map { Format.number($0) } ?? "unlimited")." : "withdrawn."))
                } catch { return try await loyalty(v, error: explain(error)) }
            }
        }
        router.get("/console/admin") { request, _ in try await console.signedIn(request, .console) { try await admin($0) } }
        router.get("/console/admin/users") { request, _ in try await console.signedIn(request, .console) { try await users($0, request) } }
        router.get("/console/admin/users/:id") { request, context in
            try await console.signedIn(request, .console) { v in
                guard let id = Int64(try context.parameters.require("id")) else { return try console.views.notFound(title: "No such user") }
                return try await user(v, UserID(id))
            }
        }
        router.get("/console/admin/audit") { request, _ in
            try await console.signedIn(request, .console) { v in
                guard v.principal.can(.auditRead) else { return try pages.forbidden(v) }
                let q = request.uri.queryParameters
                func text(_ key: Substring) -> String? {
                    q[key].map { String($0).trimmingCharacters(in: .whitespaces) }.flatMap { $0.isEmpty ? nil : $0 }
                }
                let query = AuditQuery(actor: text("actor"), contains: text("q"), before: text("before").flatMap { Int64($0) }, limit: 100)
                let events = try await s.access.auditEvents(query)
                var everything = query
                everything.before = nil
                let total = try await s.access.auditCount(everything)
                // Where this page starts in the whole log: the events newer than it come before it.
                let newer = query.before == nil ? 0 : total - (try await s.access.auditCount(query))
                var next: String? = nil
                if events.count == query.limit, let last = events.last {
                    var parts = ["before=\(last.id)"]
                    if let a = query.actor { parts.append("actor=\(a.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? a)") }
                    if let c = query.contains { parts.append("q=\(c.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? c)") }
                    next = "/console/admin/audit?" + parts.joined(separator: "&")
                }
                return try console.views.page(
                    .console, visitor: v, title: "Audit log", template: "audit",
                    [
                        "actor": query.actor ?? "", "q": query.contains ?? "", "next": next as Any,
                        "summary": total == 0
                            ? "No events match."
                            : "Showing \(Format.number(newer + 1))–\(Format.number(newer + events.count)) of \(Format.number(total)) events",
                        "newest": (query.before == nil
                            ? nil
                            : "/console/admin/audit?"
                                + [query.actor.map { "actor=" + ListRequest.encode($0) }, query.contains.map { "q=" + ListRequest.encode($0) }].compactMap { $0 }
                                .joined(separator: "&")) as Any,
                        "events": events.map {
                            [
                                "when": Format.time($0.at), "actor": $0.actor,
                                "actorURL": $0.actor.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? $0.actor, "action": $0.action,
                                "target": $0.target ?? "",
                                "outcome": $0.outcome,
                                "refused": $0.outcome == "refused" || ($0.outcome.first.map { $0 == "4" || $0 == "5" } ?? false),
                                "detail": $0.detail ?? "",
                            ] as [String: Any]
                        },
                    ])
            }
        }
        router.get("/console/admin/jobs") { request, _ in try await console.signedIn(request, .console) { try await jobs($0) } }
        router.post("/console/admin/jobs") { request, context in
            try await console.posted(request, context, .console) { v, form in
                guard v.principal.can(.jobsManage) else { return try pages.forbidden(v) }
                if let name = form.text("job") {
                    guard try await s.jobs.runNow(name) != nil else { return try await jobs(v, error: "There is no job \(name).") }
                    return try await jobs(v, flash: "\(name) is due now; a server runs it within seconds.")
                }
                guard let run = form.text("run").flatMap({ Int64($0) }), let job = try await s.jobs.retry(run: run) else {
                    return try await jobs(v, error: "There is no such run.")
                }
                return try await jobs(v, flash: "\(job.name) is due again; a server runs it within seconds.")
            }
        }
        router.get("/console/admin/privacy") { request, _ in try await console.signedIn(request, .console) { try await privacy($0) } }
        router.post("/console/admin/privacy") { request, context in
            try await console.posted(request, context, .console) { v, form in
                guard v.principal.can(.privacyManage) else { return try pages.forbidden(v) }
                guard let customer = Int64(form["customer"] ?? ""), let kind = form["kind"].flatMap(PrivacyRequest.Kind.init(rawValue:)) else {
                    return try await privacy(v, error: "Give the customer's number and what they ask for.")
                }
                do {
                    let r = try await s.privacy.register(
                        customer: customer, kind: kind, channel: form["channel"] ?? "", note: form.text("note"), by: v.principal.actor)
                    return try await privacy(v, flash: "Request \(r.id) registered: due \(Format.date(r.dueAt)).")
                } catch { return try await privacy(v, error: explain(error)) }
            }
        }
        router.post("/console/admin/privacy/:id/export") { request, context in
            try await console.posted(request, context, .console) { v, _ in
                guard v.principal.can(.privacyManage), let id = Int64(try context.parameters.require("id")) else { return try pages.forbidden(v) }
                do {
                    let data = try await s.privacy.export(PrivacyRequestID(id), by: v.principal.actor)
                    return Response(
                        status: .ok,
                        headers: [
                            .contentType: "application/json", .contentDisposition: "attachment; filename=\"privacy-request-\(id).json\"",
                            .cacheControl: "no-store",
                        ],
                        body: .init(byteBuffer: ByteBuffer(bytes: data)))
                } catch { return try await privacy(v, error: explain(error)) }
            }
        }
        router.post("/console/admin/privacy/:id/erase") { request, context in
            try await console.posted(request, context, .console) { v, form in
                guard v.principal.can(.privacyManage), let id = Int64(try context.parameters.require("id")) else { return try pages.forbidden(v) }
                guard form["confirm"] == "yes" else {
                    return try await privacy(v, error: "Tick the box to confirm the erasure: it cannot be undone.")
                }
                do {
                    let (r, report) = try await s.privacy.erase(PrivacyRequestID(id), by: v.principal.actor)
                    return try await privacy(v, flash: "Customer \(r.customer) erased: \(Format.erasure(report.rows)).")
                } catch { return try await privacy(v, error: explain(error)) }
            }
        }
        router.post("/console/admin/privacy/:id/reject") { request, context in
            try await console.posted(request, context, .console) { v, form in
                guard v.principal.can(.privacyManage), let id = Int64(try context.parameters.require("id")) else { return try pages.forbidden(v) }
                do {
                    _ = try await s.privacy.reject(PrivacyRequestID(id), reason: form["reason"] ?? "", by: v.principal.actor)
                    return try await privacy(v, flash: "Request \(id) rejected.")
                } catch { return try await privacy(v, error: explain(error)) }
            }
        }
        router.post("/console/admin/users") { request, context in
            try await console.posted(request, context, .console) { v, form in
                guard v.principal.can(.usersManage) else { return try pages.forbidden(v) }
                guard let role = form["role"].flatMap(Role.init(rawValue:)) else { return try await admin(v, error: "Choose a role.") }
                do {
                    let u = try await s.access.addUser(email: form["email"] ?? "", password: form["password"] ?? "", role: role)
                    return try await admin(v, flash: "User \(u.email) added as \(Format.label(u.role.rawValue)).")
                } catch { return try await admin(v, error: explain(error)) }
            }
        }
        router.post("/console/admin/users/:id/:change") { request, context in
            try await console.posted(request, context, .console) { v, form in
                guard v.principal.can(.usersManage) else { return try pages.forbidden(v) }
                guard let id = Int64(try context.parameters.require("id")) else { return try console.views.notFound(title: "No such user") }
                let user = UserID(id)
                do {
                    switch try context.parameters.require("change") {
                    case "role":
                        guard let role = form["role"].flatMap(Role.init(rawValue:)) else { return try await self.user(v, user, error: "Choose a role.") }
                        let u = try await s.access.setRole(of: user, to: role)
                        return try await self.user(v, user, flash: "\(u.email) is now \(Format.label(role.rawValue).lowercased()).")
                    case "deactivate":
                        let u = try await s.access.deactivate(user, by: v.principal)
                        return try await self.user(v, user, flash: "\(u.email) is deactivated: they are signed out and cannot sign in.")
                    case "reactivate":
                        let u = try await s.access.reactivate(user)
                        return try await self.user(v, user, flash: "\(u.email) can sign in again.")
                    case "reset":
                        guard let send = s.mail else {
                            return try await self.user(v, user, error: "No mail server is set up (PATRON_SMTP_URL), so no reset link can be sent.")
                        }
                        guard let u = try await s.access.users().first(where: { $0.id == user }), u.isActive,
                            let reset = try await s.access.requestPasswordReset(email: u.email)
                        else { return try await self.user(v, user, error: "That user is deactivated; reactivate them first.") }
                        let link = "\(s.publicURL)/console/reset/\(reset.secret)"
                        let sent = await send(
                            reset.email, "Set your Patron password",
                            "An administrator asked for a new password to be set for \(reset.email).\n\nOpen this link within an hour to choose one:\n\(link)\n")
                        return sent
                            ? try await self.user(v, user, flash: "A link to set a new password was sent to \(reset.email); it works once, for an hour.")
                            : try await self.user(v, user, error: "The mail server did not accept the email to \(reset.email); try again later.")
                    default:
                        return try console.views.notFound(title: "Not found")
                    }
                } catch { return try await self.user(v, user, error: explain(error)) }
            }
        }
        router.post("/console/admin/keys") { request, context in
            try await console.posted(request, context, .console) { v, form in
                guard v.principal.can(.apiKeysManage) else { return try pages.forbidden(v) }
                let scopes = (form.fields["scope"] ?? []).compactMap(APIScope.init(rawValue:))
                // A key acts for a partner whose terms exist (as over the API).
                guard let partner = try? await s.partners.partner(form["partner"] ?? "") else {
                    return try await admin(v, error: "No partner has the code \(form["partner"] ?? ""); set up its terms first.")
                }
                do {
                    let (key, secret) = try await s.access.createAPIKey(name: form["name"] ?? "", partner: partner.code, scopes: scopes)
                    return try await admin(v, flash: "Key \(key.name) created for \(key.partner).", secret: secret)
                } catch { return try await admin(v, error: explain(error)) }
            }
        }
        router.post("/console/admin/keys/:id/revoke") { request, context in
            try await console.posted(request, context, .console) { v, _ in
                guard v.principal.can(.apiKeysManage), let id = Int64(try context.parameters.require("id")) else { return try pages.forbidden(v) }
                do {
                    try await s.access.revokeAPIKey(APIKeyID(id))
                    return try await admin(v, flash: "Key revoked.")
                } catch { return try await admin(v, error: explain(error)) }
            }
        }
    }

    /// A settings form's field that does not read.
    struct SettingsError: Error, CustomStringConvertible {
        let field: String
        let reason: String
        var description: String { "\(field): \(reason)" }
    }

    /// `Gold 150, Platinum 200` as `["Gold": 150, "Platinum": 200]`.
    static func percents(_ text: String?, field: String) throws -> [String: Int64] {
        var result: [String: Int64] = [:]
        for item in (text ?? "").split(separator: ",") {
            let parts = item.split(separator: " ", omittingEmptySubsequences: true)
            guard parts.count >= 2, let percent = Int64(parts.last!), percent >= 0 else {
                throw SettingsError(
                    field: field,
                    reason: "write each as a name and a percent, e.g. `wine 200, toys 150` ('\(item.trimmingCharacters(in: .whitespaces))')")
            }
            result[parts.dropLast().joined(separator: " ")] = percent
        }
        return result
    }

    static func text(_ percents: [String: Int64]) -> String {
        percents.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
    }

    /// The earning rules and tier policy a program's settings form describes; what the form does
    /// not show (bonus rules, product and channel rates, rounding) is kept as it was.
    static func settings(_ form: Form, keeping program: Program) throws -> (EarningRules, TierPolicy?) {
        guard let perUnit = Int64(form["points_per_unit"] ?? ""), perUnit >= 0 else {
            throw SettingsError(field: "points per unit", reason: "must be a whole number, 0 or more")
        }
        func limit(_ key: String, _ name: String) throws -> Int64? {
            guard let text = form.text(key) else { return nil }
            guard let n = Int64(text), n > 0 else { throw SettingsError(field: name, reason: "must be a positive whole number, or empty for none") }
            return n
        }
        var rules = program.earningRules ?? EarningRules(pointsPerUnit: perUnit)
        rules.pointsPerUnit = perUnit
        rules.tierPercent = try percents(form["tier_percent"], field: "tier multipliers")
        rules.categoryPercent = try percents(form["category_percent"], field: "category rates")
        rules.storePercent = try percents(form["store_percent"], field: "store and partner outlet rates")
        rules.maxPerTransaction = try limit("max_per_transaction", "most per purchase")
        rules.maxPerMonth = try limit("max_per_month", "most per month")
        var tiers: [TierPolicy.Tier] = []
        for (n, line) in (form["tiers"] ?? "").split(whereSeparator: \.isNewline).enumerated() {
            let words = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
            guard words.count >= 2, let threshold = Int64(words[1]), threshold >= 0 else {
                throw SettingsError(
                    field: "tiers, line \(n + 1)", reason: "write a tier as `Name points benefits`, e.g. `Gold 5000 lounge, fast_lane`")
            }
            let benefits =
                words.count > 2 ? words[2].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } : []
            tiers.append(.init(name: String(words[0]), threshold: threshold, benefits: benefits))
        }
        guard !tiers.isEmpty else { return (rules, nil) }
        for name in rules.tierPercent.keys where !tiers.contains(where: { $0.name == name }) {
            throw SettingsError(field: "tier multipliers", reason: "\(name) is not a tier")
        }
        guard let months = Int(form["period_months"] ?? ""), (1...36).contains(months) else {
            throw SettingsError(field: "qualification period", reason: "must be 1 to 36 months")
        }
        do {
            return (
                rules,
                try TierPolicy(
                    tiers: tiers, softLanding: form["soft_landing"] == "yes", periodMonths: months,
                    period: form["period"] == "calendar_year" ? .calendarYear : .rolling)
            )
        } catch LoyaltyError.invalid(let problems) {
            throw SettingsError(field: problems.first?.field ?? "tiers", reason: problems.first?.reason ?? "cannot work")
        }
    }

    func loyalty(_ v: Visitor, flash: String? = nil, error: String? = nil, kept: [String: Any] = [:]) async throws -> Response {
        guard v.principal.can(.loyaltyRead) else { return try pages.forbidden(v) }
        var programs: [[String: Any]] = []
        for p in try await s.loyalty.programs() {
            let promotions = try await s.loyalty.promotions(of: p.id)
            let rewards = try await s.loyalty.rewards(of: p.id)
            let expiry: String = p.expiryMonths.map { "\($0) months (\(p.expiryStyle.code.replacingOccurrences(of: "_", with: " ")))" } ?? "never"
            var earning = "no earning rules"
            if let r = p.earningRules {
                let bonuses: [String] = r.bonuses.map { "\($0.name): \($0.criteria)" }
                earning = (["\(r.pointsPerUnit) points per unit"] + bonuses).joined(separator: "; ")
            }
            let tiers: [[String: String]] = (p.tierPolicy?.tiers ?? []).map {
                ["name": $0.name, "threshold": Format.number($0.threshold), "benefits": $0.benefits.joined(separator: ", ")]
            }
            let now = s.loyalty.clock.now
            // The working set: live, paused, scheduled and awaiting (newest first within each);
            // ended and archived ones are in the promotions list.
            func stage(_ p: Promotion) -> Int { CataloguePages.statusOrder[p.status(at: now)] ?? 9 }
            let ordered = promotions.filter { [.live, .paused, .scheduled, .awaitingPartner].contains($0.status(at: now)) }
                .sorted { (stage($0), -$0.startsAt.timeIntervalSince1970) < (stage($1), -$1.startsAt.timeIntervalSince1970) }
            let promotionRows: [[String: String]] = ordered.map { promotion in
                let p = promotion
                let status = CataloguePages.status(p, at: now)
                return [
                    "status": status, "id": String(p.id.rawValue),
                    "endable": [.live, .paused, .scheduled].contains(p.status(at: now)) && p.approval == .approved ? "yes" : "",
                    "code": p.code, "name": p.name, "runs": "\(Format.date(p.startsAt)) – \(Format.lastDay(endingBefore: p.endsAt))",
                    "criteria": p.criteria ?? "", "action": Self.describe(p.action), "optIn": p.requiresEnrolment ? "yes" : "no",
                    "funding": p.partner.map { "\($0) pays \(p.partnerShare ?? 0)% — \(Format.label(p.approval.rawValue).lowercased())" } ?? "program",
                ]
            }
            let rewardRows: [[String: String]] = rewards.map {
                [
                    "id": String($0.id.rawValue), "stockValue": $0.stock.map(String.init) ?? "", "isActive": $0.active ? "yes" : "",
                    "code": $0.code, "name": $0.name, "price": Format.number($0.pointsPrice), "stock": $0.stock.map(Format.number) ?? "Unlimited",
                    "active": CataloguePages.rewardStatus($0).label,
                ]
            }
            let r = p.earningRules
            let policy = p.tierPolicy
            programs.append([
                "id": p.id.rawValue, "code": p.code, "name": p.name, "value": Format.money(p.valuePerThousandPoints), "expiry": expiry,
                "promotionCount": Format.number(promotions.count), "rewardCount": Format.number(rewards.count),
                "earning": earning, "tiers": tiers, "promotions": promotionRows, "rewards": rewardRows,
                "canManage": v.principal.can(.loyaltyManage), "perUnit": r?.pointsPerUnit ?? 1, "tierPercent": Self.text(r?.tierPercent ?? [:]),
                "categoryPercent": Self.text(r?.categoryPercent ?? [:]), "storePercent": Self.text(r?.storePercent ?? [:]),
                "maxPerTransaction": r?.maxPerTransaction.map(String.init) ?? "", "maxPerMonth": r?.maxPerMonth.map(String.init) ?? "",
                "tierLines": (policy?.tiers ?? []).map {
                    ([$0.name, String($0.threshold)] + [$0.benefits.joined(separator: ", ")]).joined(separator: " ")
                }
                .joined(separator: "\n").trimmingCharacters(in: .whitespaces),
                "periodMonths": policy?.periodMonths ?? 12, "softLanding": policy?.softLanding ?? true,
                "calendarYear": policy?.period == .calendarYear,
            ])
        }
        var values = kept
        values["programs"] = programs
        values["flash"] = flash as Any
        values["error"] = error as Any
        values["canManage"] = v.principal.can(.loyaltyManage) && !programs.isEmpty
        values["canCreateProgram"] = v.principal.can(.loyaltyManage)
        values["currency"] = s.customers.defaultCurrency
        values["partners"] = try await s.partners.partners().map { ["code": $0.code, "name": $0.name] }
        return try console.views.page(.console, visitor: v, title: "Loyalty", template: "loyalty", values)
    }

    /// The background jobs: when each is due, which runs, which failed and which are dead.
    func jobs(_ v: Visitor, flash: String? = nil, error: String? = nil) async throws -> Response {
        guard v.principal.can(.jobsManage) else { return try pages.forbidden(v) }
        let now = s.jobs.clock.now
        let jobs = try await s.jobs.jobs()
        let runs = try await s.jobs.runs(job: nil, limit: 50)
        return try console.views.page(
            .console, visitor: v, title: "Jobs", template: "jobs",
            [
                "flash": flash as Any, "error": error as Any,
                "jobs": jobs.map { j in
                    let status = j.status(at: now)
                    return [
                        "name": j.name, "schedule": j.schedule, "nextDue": Format.time(j.nextDue), "status": status,
                        "alarm": status == "dead" || status == "failed", "lastRun": j.lastRunAt.map(Format.time) ?? "never",
                        "lastOutcome": j.lastOutcome ?? "", "lastError": j.lastError ?? "", "attempts": j.attempts,
                    ] as [String: Any]
                },
                "runs": runs.map { r in
                    [
                        "id": r.id, "job": r.job, "due": Format.time(r.dueAt), "attempt": r.attempt, "outcome": r.outcome,
                        "alarm": r.outcome == "failed" || r.outcome == "dead" || r.outcome == "abandoned",
                        "retryable": r.outcome == "failed" || r.outcome == "dead", "started": Format.time(r.startedAt),
                        "holder": r.holder, "detail": r.detail ?? "",
                    ] as [String: Any]
                },
            ])
    }

    func privacy(_ v: Visitor, flash: String? = nil, error: String? = nil) async throws -> Response {
        guard v.principal.can(.privacyManage) else { return try pages.forbidden(v) }
        let now = s.privacy.clock.now
        return try console.views.page(
            .console, visitor: v, title: "Privacy requests", template: "privacy",
            [
                "flash": flash as Any, "error": error as Any,
                "requests": try await s.privacy.requests().map { r in
                    [
                        "id": r.id.rawValue, "customer": r.customer, "name": r.customerName.isEmpty ? "customer \(r.customer)" : r.customerName,
                        "kind": Format.label(r.kind.rawValue), "status": Format.label(r.status.rawValue), "channel": r.channel, "received": Format.date(r.receivedAt),
                        "due": Format.date(r.dueAt), "overdue": r.overdue(now: now), "outcome": r.outcome ?? "", "note": r.note ?? "",
                        "canExport": r.kind == .access && r.status != .rejected, "canErase": r.kind == .erasure && r.status == .open,
                        "isOpen": r.status == .open,
                    ] as [String: Any]
                },
            ])
    }

    static let userColumns = [
        ListColumn(key: "email", label: "Email"), ListColumn(key: "role", label: "Role"), ListColumn(key: "state", label: "State"),
        ListColumn(key: "since", label: "Since"),
    ]

    /// Every staff user: by role and state, searched by email, 50 a page.
    func users(_ v: Visitor, _ request: Request) async throws -> Response {
        guard v.principal.can(.usersManage) else { return try pages.forbidden(v) }
        let list = ListRequest(request, columns: Self.userColumns, defaultSort: "email", filters: ["role", "state"])
        let chosen = try await s.access.users().filter { u in
            (list.filters["role"].map { $0 == u.role.rawValue } ?? true)
                && (list.filters["state"].map { $0 == (u.isActive ? "active" : "deactivated") } ?? true)
                && (list.q.map { u.email.localizedCaseInsensitiveContains($0) } ?? true)
        }
        let (page, total) = ListView.page(
            chosen, list,
            keys: [
                "email": { $0.email < $1.email }, "role": { ($0.role.rawValue, $0.email) < ($1.role.rawValue, $1.email) },
                "state": { ($0.isActive ? 0 : 1, $0.email) < ($1.isActive ? 0 : 1, $1.email) }, "since": { $0.createdAt < $1.createdAt },
            ])
        let rows = page.map { u -> [ListCell] in
            [
                ListCell(u.email, href: "/console/admin/users/\(u.id.rawValue)"), ListCell(Format.label(u.role.rawValue)),
                ListCell(u.deactivatedAt.map { "Deactivated \(Format.date($0))" } ?? "Active"), ListCell(Format.date(u.createdAt)),
            ]
        }
        let listing = ListView.render(
            path: "/console/admin/users", request: list, columns: Self.userColumns, rows: rows, total: total,
            filters: [
                ListFilter(key: "role", label: "Role", options: Role.allCases.map { ($0.rawValue, Format.label($0.rawValue)) }),
                ListFilter(key: "state", label: "State", options: [("active", "Active"), ("deactivated", "Deactivated")]),
            ],
            search: "Email", noun: ("user", "users"), savedViews: try await console.savedViews(v, path: "/console/admin/users"), csrf: v.formToken())
        return try console.views.page(
            .console, visitor: v, title: "Users", template: "list-page",
            ["list": listing, "back": "/console/admin", "backLabel": "Administration: add a user, API keys"])
    }

    /// One user: their role, state, and what an administrator changes.
    func user(_ v: Visitor, _ id: UserID, flash: String? = nil, error: String? = nil) async throws -> Response {
        guard v.principal.can(.usersManage) else { return try pages.forbidden(v) }
        guard let u = try await s.access.users().first(where: { $0.id == id }) else { return try console.views.notFound(title: "No such user") }
        let isSelf: Bool = if case .staff(let own, _, _) = v.principal { own == u.id } else { false }
        let recent = try await s.access.auditEvents(AuditQuery(actor: u.email, limit: 10))
        return try console.views.page(
            .console, visitor: v, title: u.email, template: "user",
            [
                "flash": flash as Any, "error": error as Any, "id": u.id.rawValue, "email": u.email, "role": Format.label(u.role.rawValue),
                "since": Format.date(u.createdAt), "active": u.isActive, "state": u.deactivatedAt.map { "Deactivated \(Format.date($0))" } ?? "Active",
                "isSelf": isSelf, "mailReady": s.mail != nil, "auditHref": "/console/admin/audit?actor=" + ListRequest.encode(u.email),
                "roleOptions": Role.allCases.map { ["value": $0.rawValue, "label": Format.label($0.rawValue), "selected": $0 == u.role] },
                "recent": recent.map { ["at": Format.time($0.at), "action": $0.action, "outcome": $0.outcome] },
            ])
    }

    func admin(_ v: Visitor, flash: String? = nil, error: String? = nil, secret: String? = nil) async throws -> Response {
        guard v.principal.can(.usersManage) || v.principal.can(.apiKeysManage) else { return try pages.forbidden(v) }
        let users = try await s.access.users()
        let keys = try await s.access.apiKeys()
        return try console.views.page(
            .console, visitor: v, title: "Administration", template: "admin",
            [
                "flash": flash as Any, "error": error as Any, "secret": secret as Any,
                "userCount": Format.number(users.count), "activeCount": Format.number(users.filter(\.isActive).count),
                "canManageUsers": v.principal.can(.usersManage), "mailReady": s.mail != nil,
                "roles": Role.allCases.map { ["value": $0.rawValue, "label": Format.label($0.rawValue)] }, "scopes": APIScope.allCases.map(\.rawValue),
                "keys": keys.map {
                    [
                        "id": $0.id.rawValue, "name": $0.name, "prefix": $0.prefix, "partner": $0.partner,
                        "scopes": $0.scopes.map(\.rawValue).joined(separator: ", "), "since": Format.date($0.createdAt),
                        "revoked": $0.revokedAt.map(Format.date) as Any,
                    ] as [String: Any]
                },
            ])
    }
}
