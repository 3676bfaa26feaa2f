import Access
import Foundation
import HTTPTypes
import Hummingbird
import Loyalty
import Partners
import SharedModels

/// Partners' accounts: in the console, their terms, monthly statements and settlements (loyalty
/// managers); in the partner portal, the partner's own statements and settlements.
struct PartnerAccountPages: Sendable {
    let console: WebConsole
    var views: Views { console.views }
    var partners: PartnerService { console.services.partners }

    static func row(_ s: PartnerStatement) -> [String: Any] {
        [
            "from": s.from.description, "to": s.to.description, "month": String(s.from.description.prefix(7)), "purchases": s.purchases,
            "returns": s.returns, "sales": Format.money(minorUnits: s.sales, currency: s.net.currency),
            "points": Format.number(s.pointsIssued), "charge": Format.money(s.pointsCharge),
            "cofunded": Format.number(s.cofundedPoints), "cofunding": Format.money(s.cofundingCharge), "vouchers": s.vouchersHonoured,
            "payout": Format.money(s.voucherPayout), "net": Format.money(s.net),
            "owes": s.net.minorUnits > 0 ? "partner pays" : s.net.minorUnits < 0 ? "we pay" : "even",
        ]
    }

    static func settlementRow(_ s: Settlement) -> [String: Any] {
        var values = row(s.statement)
        values["id"] = s.id
        values["status"] = Format.label(s.status.rawValue)
        values["open"] = s.status == .open
        values["closed"] = "\(Format.date(s.closedAt)) by \(s.closedBy)"
        values["paid"] = s.paidAt.map { "\(Format.date($0)) by \(s.paidBy ?? "")" } ?? ""
        return values
    }

    func register(on router: Router<WebRequestContext>) {
        router.get("/console/partners") { request, _ in try await console.signedIn(request, .console) { try await list($0, request: request) } }
        router.post("/console/partners") { request, context in
            try await console.posted(request, context, .console) { v, form in
                guard v.principal.can(.partnersManage) else { return try ConsolePages(console: console).forbidden(v) }
                func list(_ key: String) -> [String] { (form[key] ?? "").split(whereSeparator: { $0 == "," || $0 == " " }).map(String.init) }
                let currency = (form["currency"] ?? "USD").uppercased()
                guard let price = Money.parseMinorUnits(Substring(form["price"] ?? ""), currency: currency),
                    let payout = Money.parseMinorUnits(Substring(form.text("payout") ?? "0"), currency: currency)
                else { return try await self.list(v, error: "Give the price per 1,000 points and the payout per voucher as amounts, e.g. 8.50.") }
                do {
                    let p = try await partners.save(
                        code: form["code"] ?? "", name: form["name"] ?? "", outlets: list("outlets"), rewards: list("rewards"),
                        currency: form["currency"] ?? "", pricePerThousandPoints: price, payoutPerVoucher: payout)
                    return Response.redirect(to: "/console/partners/\(p.code)")
                } catch { return try await self.list(v, error: explain(error)) }
            }
        }
        router.get("/console/partners/:code") { request, context in
            try await console.signedIn(request, .console) { v in try await detail(v, try context.parameters.require("code")) }
        }
        // The partner's people: cashiers and managers who sign in to the partner portal.
        router.post("/console/partners/:code/users") { request, context in
            try await console.posted(request, context, .console) { v, form in
                guard v.principal.can(.partnersManage) else { return try ConsolePages(console: console).forbidden(v) }
                let code = try context.parameters.require("code")
                guard let role = form["role"].flatMap(PartnerRole.init(rawValue:)) else { return try await detail(v, code, error: "Choose cashier or manager.") }
                do {
                    let p = try await partners.partner(code)
                    let u = try await console.services.access.addPartnerUser(
                        partner: p.code, email: form["email"] ?? "", password: form["password"] ?? "", role: role)
                    return try await detail(v, code, flash: "\(u.email) can sign in to the partner portal as \(p.name)'s \(u.role.rawValue).")
                } catch { return try await detail(v, code, error: explain(error)) }
            }
        }
        router.post("/console/partners/:code/users/:id/:change") { request, context in
            try await console.posted(request, context, .console) { v, _ in
                guard v.principal.can(.partnersManage) else { return try ConsolePages(console: console).forbidden(v) }
                let code = try context.parameters.require("code")
                guard let id = Int64(try context.parameters.require("id")) else { return try views.notFound(title: "No such user") }
                let change = try context.parameters.require("change")
                guard change == "deactivate" || change == "reactivate" else { return try views.notFound(title: "Not found") }
                do {
                    let u = try await console.services.access.setPartnerUser(id, partner: code, active: change == "reactivate")
                    return try await detail(v, code, flash: u.isActive ? "\(u.email) can sign in again." : "\(u.email) is signed out and cannot sign in.")
                } catch { return try await detail(v, code, error: explain(error)) }
            }
        }
        router.post("/console/partners/:code/settlements") { request, context in
            try await console.posted(request, context, .console) { v, form in
                guard v.principal.can(.partnersManage) else { return try ConsolePages(console: console).forbidden(v) }
                let code = try context.parameters.require("code")
                guard let month = LocalDate((form["month"] ?? "") + "-01") else { return try await detail(v, code, error: "Choose a month.") }
                do {
                    let s = try await partners.settle(code, month: month, by: v.principal.actor)
                    return try await detail(
                        v, code, flash: "\(s.statement.from.description.prefix(7)) settled: \(Format.money(s.statement.net)) (\(Self.row(s.statement)["owes"]!)).")
                } catch { return try await detail(v, code, error: explain(error)) }
            }
        }
        router.post("/console/partners/:code/settlements/:id/paid") { request, context in
            try await console.posted(request, context, .console) { v, _ in
                guard v.principal.can(.partnersManage) else { return try ConsolePages(console: console).forbidden(v) }
                let code = try context.parameters.require("code")
                guard let id = Int64(try context.parameters.require("id")) else { return try views.notFound(title: "No such settlement") }
                do {
                    _ = try await partners.markPaid(id, by: v.principal.actor)
                    return try await detail(v, code, flash: "Settlement \(id) marked paid.")
                } catch { return try await detail(v, code, error: explain(error)) }
            }
        }
        router.get("/console/approvals") { request, _ in
            try await console.signedIn(request, .console) { v in
                guard v.principal.can(.loyaltyRead) else { return try ConsolePages(console: console).forbidden(v) }
                let pending = try await console.services.loyalty.pendingPromotions()
                return try views.page(
                    .console, visitor: v, title: "Approvals", template: "approvals",
                    ["promotions": pending.map(Self.promotionRow)])
            }
        }
        router.get("/partners/promotions") { request, _ in
            try await console.signedIn(request, .partners) { v in try await jointPromotions(v) }
        }
        for (path, approve) in [("approve", true), ("decline", false)] {
            router.post(RouterPath(stringLiteral: "/partners/promotions/:id/\(path)")) { request, context in
                try await console.posted(request, context, .partners) { v, _ in
                    guard let code = v.principal.partnerCode, v.principal.mayManagePartnerAccount, let id = Int64(try context.parameters.require("id")) else {
                        return try views.notFound(title: "Not found")
                    }
                    do {
                        let p = try await console.services.loyalty.decide(
                            promotion: PromotionID(id), partner: code, approve: approve, by: v.principal.actor)
                        return try await jointPromotions(
                            v, flash: approve ? "\(p.name) approved: it runs from \(Format.date(p.startsAt))." : "\(p.name) declined.")
                    } catch LoyaltyError.promotionNotFound {
                        return try views.notFound(title: "No such promotion")
                    } catch { return try await jointPromotions(v, error: explain(error)) }
                }
            }
        }
        router.get("/partners/statements") { request, _ in
            try await console.signedIn(request, .partners) { v in
                guard let code = v.principal.partnerCode, v.principal.mayManagePartnerAccount else { return try views.notFound(title: "Not found") }
                guard (try? await partners.partner(code)) != nil else {
                    return try views.page(
                        .partners, visitor: v, title: "Statements", template: "message",
                        ["message": "Your account has no partner terms yet; ask the program's loyalty manager."])
                }
                return try views.page(
                    .partners, visitor: v, title: "Statements", template: "partner-statements",
                    [
                        "monthly": try await partners.monthly(code).map(Self.row),
                        "settlements": try await partners.settlements(code).map(Self.settlementRow),
                    ])
            }
        }
    }

    static func promotionRow(_ p: Promotion) -> [String: Any] {
        [
            "id": p.id.rawValue, "code": p.code, "name": p.name, "partner": p.partner ?? "", "share": p.partnerShare ?? 0,
            "runs": "\(Format.date(p.startsAt)) – \(Format.lastDay(endingBefore: p.endsAt))",
            "criteria": p.criteria ?? "every purchase",
            "action": AdminPages.describe(p.action), "budget": p.budgetPoints.map { Format.number($0) } ?? "no limit",
            "approval": Format.label(p.approval.rawValue), "pending": p.approval == .pending, "decidedBy": p.decidedBy ?? "",
        ]
    }

    /// The partner's joint promotions: pending ones to approve or decline, and the rest.
    func jointPromotions(_ v: Visitor, flash: String? = nil, error: String? = nil) async throws -> Response {
        guard let code = v.principal.partnerCode, v.principal.mayManagePartnerAccount else { return try views.notFound(title: "Not found") }
        let loyalty = console.services.loyalty
        var mine: [Promotion] = []
        for program in try await loyalty.programs() {
            mine += try await loyalty.promotions(of: program.id).filter { $0.partner == code.uppercased() }
        }
        return try views.page(
            .partners, visitor: v, title: "Joint promotions", template: "partner-promotions",
            [
                "pending": mine.filter { $0.approval == .pending }.map(Self.promotionRow),
                "decided": mine.filter { $0.approval != .pending }.map(Self.promotionRow), "flash": flash as Any, "error": error as Any,
            ])
    }

    static let partnerColumns = [
        ListColumn(key: "name", label: "Partner"), ListColumn(key: "outlets", label: "Outlets", sortable: false),
        ListColumn(key: "rewards", label: "Rewards honoured", sortable: false), ListColumn(key: "price", label: "Price per 1,000 points", numeric: true),
        ListColumn(key: "payout", label: "Payout per voucher", numeric: true),
    ]

    func list(_ v: Visitor, error: String? = nil, request: Request? = nil) async throws -> Response {
        guard v.principal.can(.partnersManage) else { return try ConsolePages(console: console).forbidden(v) }
        let list = request.map { ListRequest($0, columns: Self.partnerColumns, defaultSort: "name", filters: ["currency"]) }
            ?? ListRequest.defaults(sort: "name")
        let all = try await partners.partners()
        let chosen = all.filter { p in
            (list.filters["currency"].map { $0 == p.currency } ?? true)
                && (list.q.map { q in
                    p.name.localizedCaseInsensitiveContains(q) || p.code.localizedCaseInsensitiveContains(q)
                        || p.outlets.contains { $0.localizedCaseInsensitiveContains(q) }
                } ?? true)
        }
        let (page, total) = ListView.page(
            chosen, list,
            keys: [
                "name": { $0.name.lowercased() < $1.name.lowercased() },
                "price": { ($0.currency, $0.pricePerThousandPoints) < ($1.currency, $1.pricePerThousandPoints) },
                "payout": { ($0.currency, $0.payoutPerVoucher) < ($1.currency, $1.payoutPerVoucher) },
            ])
        let rows = page.map { p -> [ListCell] in
            [
                ListCell("\(p.name) (\(p.code))", href: "/console/partners/\(ListRequest.encode(p.code))"), ListCell(p.outlets.joined(separator: ", ")),
                ListCell(p.rewards.isEmpty ? "—" : p.rewards.joined(separator: ", ")),
                ListCell(Format.money(minorUnits: p.pricePerThousandPoints, currency: p.currency)),
                ListCell(Format.money(minorUnits: p.payoutPerVoucher, currency: p.currency)),
            ]
        }
        let listing = ListView.render(
            path: "/console/partners", request: list, columns: Self.partnerColumns, rows: rows, total: total,
            filters: [ListFilter(key: "currency", label: "Currency", options: Set(all.map(\.currency)).sorted().map { ($0, $0) })],
            search: "Name, code or outlet", noun: ("partner", "partners"), savedViews: try await console.savedViews(v, path: "/console/partners"),
            csrf: v.formToken())
        return try views.page(.console, visitor: v, title: "Partners", template: "partners", ["error": error as Any, "list": listing])
    }

    func detail(_ v: Visitor, _ code: String, flash: String? = nil, error: String? = nil) async throws -> Response {
        guard v.principal.can(.partnersManage) else { return try ConsolePages(console: console).forbidden(v) }
        let p: Partner
        do { p = try await partners.partner(code) } catch { return try views.notFound(title: "No such partner") }
        let monthly = try await partners.monthly(p.code)
        return try views.page(
            .console, visitor: v, title: p.name, template: "partner-account",
            [
                "code": p.code, "outlets": p.outlets.joined(separator: ", "), "rewards": p.rewards.joined(separator: ", "),
                "price": Format.money(minorUnits: p.pricePerThousandPoints, currency: p.currency),
                "payout": Format.money(minorUnits: p.payoutPerVoucher, currency: p.currency),
                "monthly": monthly.map(Self.row), "closable": monthly.dropFirst().map { String($0.from.description.prefix(7)) },
                "settlements": try await partners.settlements(p.code).map(Self.settlementRow), "flash": flash as Any, "error": error as Any,
                "people": try await console.services.access.partnerUsers(partner: p.code).map {
                    [
                        "id": $0.id, "email": $0.email, "role": Format.label($0.role.rawValue), "active": $0.isActive,
                        "state": $0.deactivatedAt.map { "Deactivated \(Format.date($0))" } ?? "Active", "since": Format.date($0.createdAt),
                    ] as [String: Any]
                },
                "partnerRoles": PartnerRole.allCases.map { ["value": $0.rawValue, "label": Format.label($0.rawValue)] },
            ])
    }
}
