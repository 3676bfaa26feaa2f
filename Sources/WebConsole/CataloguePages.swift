import Access
import Customers
import Foundation
import Hummingbird
import Loyalty
import SharedModels

/// The promotions and rewards lists, and a page for each where a loyalty manager changes its
/// terms, pauses, resumes, ends or archives it. Every change goes through the loyalty domain
/// (which refuses what would rewrite history) and into the audit log with the form it came from.
struct CataloguePages: Sendable {
    let console: WebConsole
    var s: WebConsole.Services { console.services }
    var pages: ConsolePages { ConsolePages(console: console) }
    var admin: AdminPages { AdminPages(pages: pages) }

    func register(on router: Router<WebRequestContext>) {
        router.get("/console/loyalty/promotions") { request, _ in
            try await console.signedIn(request, .console) { try await promotions($0, request) }
        }
        router.get("/console/loyalty/members") { request, _ in
            try await console.signedIn(request, .console) { try await members($0, request) }
        }
        router.get("/console/loyalty/rewards") { request, _ in
            try await console.signedIn(request, .console) { try await rewards($0, request) }
        }
        router.get("/console/loyalty/promotions/:id") { request, context in
            try await console.signedIn(request, .console) { v in
                guard let id = Int64(try context.parameters.require("id")) else { return try console.views.notFound(title: "No such promotion") }
                return try await promotion(v, PromotionID(id))
            }
        }
        router.get("/console/loyalty/rewards/:id") { request, context in
            try await console.signedIn(request, .console) { v in
                guard let id = Int64(try context.parameters.require("id")) else { return try console.views.notFound(title: "No such reward") }
                return try await reward(v, RewardID(id))
            }
        }
        router.post("/console/loyalty/promotions/:id/terms") { request, context in
            try await console.posted(request, context, .console) { v, form in
                guard v.principal.can(.loyaltyManage) else { return try pages.forbidden(v) }
                guard let id = Int64(try context.parameters.require("id")) else { return try console.views.notFound(title: "No such promotion") }
                let promotion = PromotionID(id)
                let kept = form.values
                if let problem = form.text("criteria").flatMap(AdminPages.check) {
                    return try await self.promotion(v, promotion, error: "Criteria: \(problem)", kept: kept)
                }
                guard let starts = form["starts"].flatMap(LocalDate.init), let ends = form["ends"].flatMap(LocalDate.init) else {
                    return try await self.promotion(v, promotion, error: "Give the first and last day as dates.", kept: kept)
                }
                guard let action = Self.action(form) else {
                    return try await self.promotion(v, promotion, error: "Give a positive number of points or percent.", kept: kept)
                }
                do {
                    let before = try await s.loyalty.promotion(promotion)
                    // The first day stays as stored when it is unchanged: a promotion created through the API may start mid-day.
                    let startsAt = LocalDate(before.startsAt) == starts ? before.startsAt : starts.startOfDay
                    let p = try await s.loyalty.update(
                        promotion,
                        terms: PromotionTerms(
                            name: form["name"] ?? "", startsAt: startsAt, endsAt: LocalDate(daysSinceEpoch: ends.daysSinceEpoch + 1).startOfDay,
                            criteria: form.text("criteria"), action: action, requiresEnrolment: form["opt_in"] == "yes"))
                    return try await self.promotion(v, promotion, flash: "\(p.name): the new terms apply from the next purchase.")
                } catch let error as PageNotFound {
                    throw error
                } catch {
                    return try await self.promotion(v, promotion, error: explain(error), kept: kept)
                }
            }
        }
        router.post("/console/loyalty/promotions/:id/state") { request, context in
            try await console.posted(request, context, .console) { v, form in
                guard v.principal.can(.loyaltyManage) else { return try pages.forbidden(v) }
                guard let id = Int64(try context.parameters.require("id")) else { return try console.views.notFound(title: "No such promotion") }
                let promotion = PromotionID(id)
                do {
                    let done: String
                    switch form["change"] {
                    case "pause":
                        let p = try await s.loyalty.pause(promotion)
                        done = "\(p.name) is paused: purchases earn nothing from it until you resume it."
                    case "resume":
                        let p = try await s.loyalty.resume(promotion)
                        done = "\(p.name) runs again from the next purchase."
                    case "archive":
                        let p = try await s.loyalty.archive(promotion)
                        done = "\(p.name) is archived: off the working lists, with its results kept."
                    case "end":
                        guard form["confirm"] == "yes" else {
                            return try await self.promotion(v, promotion, error: "Tick the box to confirm ending the promotion now.")
                        }
                        let p = try await s.loyalty.end(promotion)
                        done = "\(p.name) ended now; what was left of its budget went back to the program."
                    default:
                        return try await self.promotion(v, promotion, error: "Choose pause, resume, end or archive.")
                    }
                    return try await self.promotion(v, promotion, flash: done)
                } catch let error as PageNotFound {
                    throw error
                } catch {
                    return try await self.promotion(v, promotion, error: explain(error))
                }
            }
        }
    }

    /// The action a promotion form describes; nil when the amount is not a positive number.
    static func action(_ form: Form) -> Promotion.Action? {
        if form["action"] == "voucher", let code = form.text("voucher") { return .voucher(rewardCode: code.uppercased()) }
        guard let amount = Int64(form["amount"] ?? ""), amount > 0 else { return nil }
        switch form["action"] {
        case "multiplier": return .multiplier(percent: amount)
        case "per_unit": return .pointsPerUnit(amount)
        default: return .fixed(amount)
        }
    }

    /// The order promotions are listed in: what is running first, what is over last.
    static let statusOrder: [Promotion.Status: Int] = [
        .live: 0, .paused: 1, .scheduled: 2, .awaitingPartner: 3, .ended: 4, .declined: 5, .archived: 6,
    ]

    static func status(_ p: Promotion, at now: Date) -> String {
        switch p.status(at: now) {
        case .awaitingPartner: "Awaiting the partner"
        case .declined: "Declined by the partner"
        case let other: Format.label(other.rawValue)
        }
    }

    // MARK: Promotions

    static let promotionColumns = [
        ListColumn(key: "name", label: "Promotion"), ListColumn(key: "code", label: "Code"), ListColumn(key: "status", label: "Status"),
        ListColumn(key: "program", label: "Program"), ListColumn(key: "starts", label: "First day"), ListColumn(key: "ends", label: "Last day"),
        ListColumn(key: "action", label: "Gives", sortable: false), ListColumn(key: "funding", label: "Funding"),
    ]

    /// Every promotion of every program: live and scheduled ones first by default; archived ones
    /// only when asked for.
    func promotions(_ v: Visitor, _ request: Request) async throws -> Response {
        guard v.principal.can(.loyaltyRead) else { return try pages.forbidden(v) }
        let list = ListRequest(request, columns: Self.promotionColumns, defaultSort: "status", filters: ["status", "program"])
        let now = s.loyalty.clock.now
        let programs = try await s.loyalty.programs()
        let programNames = Dictionary(programs.map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
        var all: [Promotion] = []
        for p in programs { all += try await s.loyalty.promotions(of: p.id) }
        let rank = Self.statusOrder
        let chosen = all.filter { p in
            let status = p.status(at: now)
            let wanted = list.filters["status"].map { $0 == status.rawValue } ?? (status != .archived)
            return wanted && (list.filters["program"].map { $0 == String(p.programID.rawValue) } ?? true)
                && (list.q.map { p.name.localizedCaseInsensitiveContains($0) || p.code.localizedCaseInsensitiveContains($0) } ?? true)
        }
        let (page, total) = ListView.page(
            chosen, list,
            keys: [
                "name": { $0.name.lowercased() < $1.name.lowercased() }, "code": { $0.code < $1.code },
                "status": {
                    (rank[$0.status(at: now)] ?? 9, -$0.startsAt.timeIntervalSince1970)
                        < (rank[$1.status(at: now)] ?? 9, -$1.startsAt.timeIntervalSince1970)
                },
                "program": { (programNames[$0.programID] ?? "") < (programNames[$1.programID] ?? "") },
                "starts": { $0.startsAt < $1.startsAt }, "ends": { $0.endsAt < $1.endsAt },
                "funding": { ($0.partner ?? "") < ($1.partner ?? "") },
            ])
        let rows = page.map { p -> [ListCell] in
            [
                ListCell(p.name, href: "/console/loyalty/promotions/\(p.id.rawValue)"), ListCell(p.code), ListCell(Self.status(p, at: now)),
                ListCell(programNames[p.programID] ?? "—"), ListCell(Format.date(p.startsAt)), ListCell(Format.lastDay(endingBefore: p.endsAt)),
                ListCell(AdminPages.describe(p.action)), ListCell(p.partner.map { "\($0) pays \(p.partnerShare ?? 0)%" } ?? "Program"),
            ]
        }
        let listing = ListView.render(
            path: "/console/loyalty/promotions", request: list, columns: Self.promotionColumns, rows: rows, total: total,
            filters: [
                ListFilter(key: "status", label: "Status", options: Promotion.Status.allCases.map { ($0.rawValue, Format.label($0.rawValue)) }),
                ListFilter(key: "program", label: "Program", options: programs.map { (String($0.id.rawValue), $0.name) }),
            ],
            search: "Name or code", noun: ("promotion", "promotions"),
            savedViews: try await console.savedViews(v, path: "/console/loyalty/promotions"), csrf: v.formToken())
        return try console.views.page(
            .console, visitor: v, title: "Promotions", template: "list-page",
            [
                "list": listing, "back": "/console/loyalty", "backLabel": "Programs, tiers and new promotions",
                "intro": "Archived promotions are hidden unless you choose them under Status.",
            ])
    }

    func promotion(_ v: Visitor, _ id: PromotionID, flash: String? = nil, error: String? = nil, kept: [String: String] = [:]) async throws
        -> Response
    {
        guard v.principal.can(.loyaltyRead) else { return try pages.forbidden(v) }
        let p: Promotion
        do { p = try await s.loyalty.promotion(id) } catch LoyaltyError.promotionNotFound { return try console.views.notFound(title: "No such promotion") }
        let now = s.loyalty.clock.now
        let status = p.status(at: now)
        let results = try await s.loyalty.promotionResults(id)
        let program = try await s.loyalty.program(p.programID)
        let currency = s.customers.defaultCurrency
        let manage = v.principal.can(.loyaltyManage)
        let (kind, amount): (String, String) =
            switch p.action {
            case .fixed(let n): ("fixed", String(n))
            case .multiplier(let n): ("multiplier", String(n))
            case .pointsPerUnit(let n): ("per_unit", String(n))
            case .voucher(let code): ("voucher", code)
            }
        let chosenKind = kept["action"] ?? kind
        let actions: [[String: Any]] = [
            ("fixed", "fixed points per purchase"), ("multiplier", "multiplier (percent of base, 200 = double)"),
            ("per_unit", "extra points per currency unit"), ("voucher", "a reward voucher"),
        ].map { ["value": $0.0, "label": $0.1, "selected": $0.0 == chosenKind] }
        let rewardCodes = try await s.loyalty.rewards(of: p.programID).filter(\.active).map { r -> [String: Any] in
            ["code": r.code, "name": r.name, "selected": (kept["voucher"] ?? (kind == "voucher" ? amount : "")) == r.code]
        }
        let editable = manage && [.scheduled, .live, .paused, .awaitingPartner].contains(status)
        return try console.views.page(
            .console, visitor: v, title: p.name, template: "promotion",
            [
                "flash": flash as Any, "error": error as Any, "id": p.id.rawValue, "code": p.code, "name": kept["name"] ?? p.name,
                "status": Self.status(p, at: now), "program": program.name,
                "runs": "\(Format.date(p.startsAt)) – \(Format.lastDay(endingBefore: p.endsAt))", "criteria": p.criteria as Any,
                "gives": AdminPages.describe(p.action), "optIn": p.requiresEnrolment ? "Members must join it first" : "Automatic",
                "funding": p.partner.map { "\($0) pays \(p.partnerShare ?? 0)% (\(Format.label(p.approval.rawValue).lowercased()))" }
                    ?? "The program",
                "limit": p.perMemberLimit.map { "\(Format.number($0)) per member" } ?? "No limit per member",
                "budget": p.budgetPoints.map {
                    "\(Format.number($0)) points, \(Format.number(results.budgetLeft ?? 0)) left"
                } ?? "No budget",
                "applications": Format.number(results.applications), "members": Format.number(results.members),
                "points": Format.number(results.points), "vouchers": Format.number(results.vouchers),
                "sales": Format.money(minorUnits: results.purchaseAmount, currency: currency), "enrolled": Format.number(results.enrolled),
                "editable": editable, "startLocked": status == .live || status == .paused,
                "starts": kept["starts"] ?? LocalDate(p.startsAt).description, "ends": kept["ends"] ?? LocalDate(p.endsAt.addingTimeInterval(-1)).description,
                "formCriteria": kept["criteria"] ?? p.criteria ?? "", "amount": kept["amount"] ?? (kind == "voucher" ? "" : amount),
                "actions": actions, "rewardCodes": rewardCodes, "optInChecked": kept.isEmpty ? p.requiresEnrolment : kept["opt_in"] == "yes",
                "canPause": manage && (status == .live || status == .scheduled), "canResume": manage && status == .paused,
                "canEnd": manage && [.live, .paused, .scheduled].contains(status) && p.approval == .approved,
                "canArchive": manage && (status == .ended || status == .declined),
            ])
    }

    // MARK: Members

    static let memberColumns = [
        ListColumn(key: "number", label: "Membership"), ListColumn(key: "name", label: "Member", sortable: false),
        ListColumn(key: "program", label: "Program", sortable: false), ListColumn(key: "tier", label: "Tier"),
        ListColumn(key: "points", label: "Points", numeric: true), ListColumn(key: "enrolled", label: "Member since"),
    ]

    /// Every member of every program, paged in the database: by program and tier, found by the
    /// start of a membership number, sorted by number, tier, points or enrolment.
    func members(_ v: Visitor, _ request: Request) async throws -> Response {
        guard v.principal.can(.loyaltyRead) else { return try pages.forbidden(v) }
        let list = ListRequest(request, columns: Self.memberColumns, defaultSort: "number", filters: ["program", "tier"])
        let programs = try await s.loyalty.programs()
        let programNames = Dictionary(programs.map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
        let page = try await s.loyalty.memberList(
            MemberListQuery(
                program: list.filters["program"].flatMap { Int64($0) }.map { ProgramID($0) }, tier: list.filters["tier"], number: list.q,
                sort: MemberListQuery.Sort(rawValue: list.sort) ?? .number, descending: list.descending, offset: list.offset,
                limit: ListRequest.pageSize))
        var rows: [[ListCell]] = []
        for row in page.items {
            let m = row.member
            let name = (try? await s.customers.customer(m.customerID).displayName) ?? "Customer \(m.customerID.rawValue)"
            rows.append([
                ListCell(m.number, href: "/console/customers/\(m.customerID.rawValue)"), ListCell(name), ListCell(programNames[m.programID] ?? "—"),
                ListCell(m.tier ?? "—"), ListCell(Format.number(row.points)), ListCell(Format.date(m.enrolledAt)),
            ])
        }
        let tiers = Set(programs.flatMap { $0.tierPolicy?.tiers.map(\.name) ?? [] }).sorted()
        let listing = ListView.render(
            path: "/console/loyalty/members", request: list, columns: Self.memberColumns, rows: rows, total: page.total,
            filters: [
                ListFilter(key: "program", label: "Program", options: programs.map { (String($0.id.rawValue), $0.name) }),
                ListFilter(key: "tier", label: "Tier", options: tiers.map { ($0, $0) }),
            ],
            search: "Membership number (or its start)", noun: ("member", "members"),
            savedViews: try await console.savedViews(v, path: "/console/loyalty/members"), csrf: v.formToken())
        return try console.views.page(
            .console, visitor: v, title: "Members", template: "list-page",
            [
                "list": listing, "back": "/console/loyalty", "backLabel": "Programs and tiers",
                "intro": "To find a member by name, email or phone, use the customer list or the search at the top.",
            ])
    }

    // MARK: Rewards

    static let rewardColumns = [
        ListColumn(key: "name", label: "Reward"), ListColumn(key: "code", label: "Code"), ListColumn(key: "program", label: "Program"),
        ListColumn(key: "price", label: "Points", numeric: true), ListColumn(key: "stock", label: "Stock", numeric: true),
        ListColumn(key: "status", label: "Status"),
    ]

    static func rewardStatus(_ r: Reward) -> (code: String, label: String) {
        !r.active ? ("withdrawn", "Withdrawn") : r.stock == 0 ? ("out_of_stock", "Out of stock") : ("available", "Available")
    }

    func rewards(_ v: Visitor, _ request: Request) async throws -> Response {
        guard v.principal.can(.loyaltyRead) else { return try pages.forbidden(v) }
        let list = ListRequest(request, columns: Self.rewardColumns, defaultSort: "price", filters: ["status", "program"])
        let programs = try await s.loyalty.programs()
        let programNames = Dictionary(programs.map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
        var all: [Reward] = []
        for p in programs { all += try await s.loyalty.rewards(of: p.id) }
        let chosen = all.filter { r in
            (list.filters["status"].map { $0 == Self.rewardStatus(r).code } ?? true)
                && (list.filters["program"].map { $0 == String(r.programID.rawValue) } ?? true)
                && (list.q.map { r.name.localizedCaseInsensitiveContains($0) || r.code.localizedCaseInsensitiveContains($0) } ?? true)
        }
        let (page, total) = ListView.page(
            chosen, list,
            keys: [
                "name": { $0.name.lowercased() < $1.name.lowercased() }, "code": { $0.code < $1.code },
                "program": { (programNames[$0.programID] ?? "") < (programNames[$1.programID] ?? "") },
                "price": { ($0.pointsPrice, $0.id.rawValue) < ($1.pointsPrice, $1.id.rawValue) },
                "stock": { ($0.stock ?? Int.max) < ($1.stock ?? Int.max) }, "status": { Self.rewardStatus($0).code < Self.rewardStatus($1).code },
            ])
        let rows = page.map { r -> [ListCell] in
            [
                ListCell(r.name, href: "/console/loyalty/rewards/\(r.id.rawValue)"), ListCell(r.code), ListCell(programNames[r.programID] ?? "—"),
                ListCell(Format.number(r.pointsPrice)), ListCell(r.stock.map(Format.number) ?? "Unlimited"), ListCell(Self.rewardStatus(r).label),
            ]
        }
        let listing = ListView.render(
            path: "/console/loyalty/rewards", request: list, columns: Self.rewardColumns, rows: rows, total: total,
            filters: [
                ListFilter(
                    key: "status", label: "Status", options: [("available", "Available"), ("out_of_stock", "Out of stock"), ("withdrawn", "Withdrawn")]),
                ListFilter(key: "program", label: "Program", options: programs.map { (String($0.id.rawValue), $0.name) }),
            ],
            search: "Name or code", noun: ("reward", "rewards"), savedViews: try await console.savedViews(v, path: "/console/loyalty/rewards"),
            csrf: v.formToken())
        return try console.views.page(
            .console, visitor: v, title: "Rewards", template: "list-page",
            ["list": listing, "back": "/console/loyalty", "backLabel": "Programs, tiers and new rewards"])
    }

    func reward(_ v: Visitor, _ id: RewardID, flash: String? = nil, error: String? = nil, kept: [String: String] = [:]) async throws -> Response {
        guard v.principal.can(.loyaltyRead) else { return try pages.forbidden(v) }
        let r: Reward
        do { r = try await s.loyalty.reward(id) } catch LoyaltyError.rewardNotFound { return try console.views.notFound(title: "No such reward") }
        let program = try await s.loyalty.program(r.programID)
        return try console.views.page(
            .console, visitor: v, title: r.name, template: "reward",
            [
                "flash": flash as Any, "error": error as Any, "id": r.id.rawValue, "code": r.code, "program": program.name,
                "status": Self.rewardStatus(r).label, "kind": Format.label(r.kind.rawValue), "priceText": Format.number(r.pointsPrice),
                "stockText": r.stock.map(Format.number) ?? "Unlimited", "validity": "\(r.validityDays) days",
                "tiers": r.tiers.isEmpty ? "Every member" : r.tiers.joined(separator: ", "), "description": r.description as Any,
                "imageURL": r.imageURL as Any, "canManage": v.principal.can(.loyaltyManage),
                "name": kept["name"] ?? r.name, "price": kept["price"] ?? String(r.pointsPrice), "stock": kept["stock"] ?? r.stock.map(String.init) ?? "",
                "formDescription": kept["description"] ?? r.description ?? "", "formImage": kept["image"] ?? r.imageURL ?? "",
                "active": kept.isEmpty ? r.active : kept["active"] == "yes",
            ])
    }

    /// The reward form: the whole reward (from its own page) or only stock and availability
    /// (from the programs page).
    func saveReward(_ v: Visitor, _ id: RewardID, _ form: Form) async throws -> Response {
        let stockText = form.text("stock")
        let stock = stockText.flatMap { Int($0) }
        if stockText != nil && stock == nil {
            return try await reward(v, id, error: "Stock: give a whole number, or leave it empty for unlimited.", kept: form.values)
        }
        guard let price = Int64(form["price"] ?? ""), price >= 0 else {
            return try await reward(v, id, error: "Points: give a whole number, 0 or more.", kept: form.values)
        }
        do {
            let r = try await s.loyalty.updateReward(
                id, name: form["name"] ?? "", pointsPrice: price, description: form.text("description"), imageURL: form.text("image"),
                stock: stock, active: form["active"] == "yes")
            return try await reward(v, id, flash: "\(r.name) saved; members see the change now. Vouchers already issued keep their price.")
        } catch LoyaltyError.rewardNotFound {
            return try console.views.notFound(title: "No such reward")
        } catch {
            return try await reward(v, id, error: explain(error), kept: form.values)
        }
    }
}
