import Access
import Analytics
import Campaigns
import Crypto
import Customers
import Foundation
import HTTPTypes
import Hummingbird
import Jobs
import Logging
import Loyalty
import Mustache
import NIOCore
import Partners
import Sales
import SharedModels
import Support

/// The staff console (`/console/`), the member portal (`/portal/`) and the partner portal
/// (`/partners/`): server-rendered pages over the same domain services the API uses. Each
/// portal has its own login and its own cookie (HttpOnly, SameSite=Strict, Secure behind
/// https), every form carries a CSRF token derived from the session, and every page is
/// rendered with Mustache, which escapes what it prints.
public struct WebConsole: Sendable {
    public struct Services: Sendable {
        public var customers: CustomerService
        public var access: AccessService
        public var loyalty: PointsLedger
        public var intake: TransactionIntake
        public var intelligence: CustomerIntelligence
        public var segments: SegmentService
        public var campaigns: CampaignService
        public var support: SupportService
        public var privacy: PrivacyService
        public var partners: PartnerService
        public var sales: SalesService
        /// Where forms' one-time tokens and results are kept (the API's idempotency records).
        public var forms: any IdempotencyStore
        /// The background jobs (the admin's Jobs page).
        public var jobs: JobBoard
        /// The message channels with settings (email, SMS, print); the others keep their messages queued.
        public var configuredChannels: Set<CampaignChannel>
        /// Sends a service email (to, subject, body), true once accepted; nil without an SMTP server.
        public var mail: (@Sendable (String, String, String) async -> Bool)?
        /// Where people reach Patron (`PATRON_PUBLIC_URL`), for links in emails.
        public var publicURL: String
        /// Sends one rendered campaign message by email (a marketer's test), true once accepted;
        /// nil without an SMTP server.
        public var testMail: (@Sendable (OutboundMessage) async -> Bool)? = nil

        public init(
            customers: CustomerService, access: AccessService, loyalty: PointsLedger, intake: TransactionIntake, intelligence: CustomerIntelligence,
            segments: SegmentService, campaigns: CampaignService, support: SupportService, privacy: PrivacyService, partners: PartnerService,
            sales: SalesService, forms: any IdempotencyStore, jobs: JobBoard, configuredChannels: Set<CampaignChannel> = [],
            mail: (@Sendable (String, String, String) async -> Bool)? = nil, publicURL: String = "http://127.0.0.1:8080"
        ) {
            self.mail = mail
            self.publicURL = publicURL.hasSuffix("/") ? String(publicURL.dropLast()) : publicURL
            self.configuredChannels = configuredChannels.union([.call])
            self.forms = forms
            self.jobs = jobs
            self.customers = customers
            self.access = access
            self.loyalty = loyalty
            self.intake = intake
            self.intelligence = intelligence
            self.segments = segments
            self.campaigns = campaigns
            self.support = support
            self.privacy = privacy
            self.partners = partners
            self.sales = sales
        }
    }

    let services: Services
    let views: Views
    let loyaltyReport = Snapshot<LoyaltyReport>()
    /// The report over a period an analyst chose (kept apart, so it never evicts the default one).
    let rangedReport = Snapshot<LoyaltyReport>()
    /// The churn model's overview: customers by risk band and the commonest drivers, per scoring run.
    let churnOverview = Snapshot<ChurnOverview>()
    let rfm = Snapshot<RFMAnalysis>()
    let atRisk = Snapshot<[CustomerScores]>()
    let clv = Snapshot<[Int]>()
    let monthlySales = Snapshot<[(label: String, amount: Int64, purchases: Int)]>()
    let basketRules = Snapshot<[MarketBasket.Rule]>()
    let facets = Snapshot<CustomerFacets>()
    /// Segment sizes by id, at most five minutes old (counting every segment per list view would not keep it fast).
    let segmentSizes = Snapshot<[Int64: Int]>()
    /// Cookies get the Secure flag (Patron is reached over https).
    let secureCookies: Bool

    public init(services: Services, secureCookies: Bool) throws {
        self.services = services
        self.views = try Views.load()
        self.secureCookies = secureCookies
    }

    public func register(on router: Router<WebRequestContext>) {
        router.get("/") { _, _ in Response.redirect(to: "/portal/welcome") }
        router.get("/static/:file") { _, context in
            let name = try context.parameters.require("file")
            guard let (body, type) = views.statics[name] else { return try views.notFound(title: "Not found") }
            return Response(
                status: .ok, headers: [.contentType: type, .cacheControl: "public, max-age=3600"], body: .init(byteBuffer: ByteBuffer(string: body)))
        }
        for site in [Site.console, .portal, .partners] {
            router.get("/\(site.rawValue)/done/:key") { request, context in
                try await signedIn(request, site) { visitor in try await result(of: context.parameters.require("key"), for: visitor, site) }
            }
        }
        router.post("/console/views") { request, context in
            try await posted(request, context, .console, audited: false) { v, form in
                let path = form["path"] ?? ""
                let query = form["query"] ?? ""
                do {
                    if form["delete"] == "yes" {
                        try await services.access.deleteView(of: v.principal, path: path, name: form["name"] ?? "")
                    } else {
                        try await services.access.saveView(of: v.principal, path: path, name: form["name"] ?? "", query: query)
                    }
                } catch let error as AccessError {
                    return try views.page(.console, visitor: v, title: "View not saved", template: "message", ["error": error.description, "message": error.description, "home": path.hasPrefix("/console/") ? path : "/console/", "homeLabel": "Back to the list"])
                }
                return Response.redirect(to: path.hasPrefix("/console/") ? path + (query.isEmpty ? "" : "?" + query) : "/console/")
            }
        }
        ConsolePages(console: self).register(on: router)
        MemberServicePages(console: self).register(on: router)
        CataloguePages(console: self).register(on: router)
        PortalPages(console: self).register(on: router)
        PartnerPages(console: self).register(on: router)
        ServicePages(console: self).register(on: router)
        SalesPages(console: self).register(on: router)
        PartnerAccountPages(console: self).register(on: router)
    }
}

/// Which of the three sites a page belongs to: its path, its cookie and who may sign in.
enum Site: String, Sendable {
    case console, portal, partners

    var cookie: String { "patron_\(rawValue)" }
    var root: String { "/\(rawValue)/" }
    var login: String { "/\(rawValue)/login" }
    var title: String {
        switch self {
        case .console: "Patron console"
        case .portal: "Rewards"
        case .partners: "Partner portal"
        }
    }
}

/// A signed-in visitor of one site.
struct Visitor: Sendable {
    let principal: Principal
    let token: String
    /// The partner's name, for a partner's key or people (the header shows it).
    var partnerName: String? = nil
    /// Open service requests assigned to this staff member, and how many of them are past their
    /// SLA: the badge on the navigation.
    var assigned: (open: Int, late: Int)? = nil
    /// The CSRF token forms carry: a digest of the session token, so a page of another site
    /// cannot know it, and nothing needs storing.
    var csrf: String { SHA256.hash(data: Data("csrf|\(token)".utf8)).prefix(16).map { String(format: "%02x", $0) }.joined() }

    /// What a rendered form carries in `_csrf`: the CSRF token and a one-time token of this rendering.
    func formToken() -> String { csrf + "." + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased() }
}

extension WebConsole {
    /// The key of everything computed from the scores: the last scoring run.
    func scoringKey() async throws -> String { (try await services.intelligence.latestRun()?.ranAt.epochSeconds).map(String.init) ?? "none" }

    /// The values of the customer list's filters, at most five minutes old.
    func customerFacets() async throws -> CustomerFacets {
        let customers = services.customers
        return try await facets.get(key: "facets", maxAge: 300, now: customers.clock.now) { try await customers.facets() }.0
    }

    /// The visitor's saved views of a list, as (name, query string).
    func savedViews(_ v: Visitor, path: String) async throws -> [(name: String, query: String)] {
        try await services.access.savedViews(of: v.principal, path: path).map { ($0.name, $0.query) }
    }

    /// The loyalty report, at most five minutes old.
    func currentLoyaltyReport() async throws -> (LoyaltyReport, Date) {
        let s = services
        let now = s.intelligence.clock.now
        return try await loyaltyReport.get(key: "report", maxAge: 300, now: now) { try await s.intelligence.loyaltyReport(now: now) }
    }

    /// The loyalty report over a chosen period, at most five minutes old.
    func loyaltyReport(from: Date, to: Date) async throws -> LoyaltyReport {
        let s = services
        return try await rangedReport.get(key: "\(from.epochSeconds)-\(to.epochSeconds)", maxAge: 300, now: s.intelligence.clock.now) {
            try await s.intelligence.loyaltyReport(from: from, to: to)
        }.0
    }

    /// How the churn model sorts customers (counts by risk band) and which drivers it names most
    /// among the customers most at risk; per scoring run.
    func currentChurnOverview() async throws -> ChurnOverview {
        let s = services
        return try await churnOverview.get(key: try await scoringKey(), maxAge: .infinity, now: s.intelligence.clock.now) {
            var bands: [Int] = []
            for (low, high) in ChurnOverview.bands {
                bands.append(try await s.segments.count(rule: ChurnOverview.rule(low, high)).count)
            }
            var drivers: [String: (raises: Int, lowers: Int)] = [:]
            for c in try await s.intelligence.scoredCustomers(segment: nil, valueTier: nil, minimumChurnRisk: 0.5, offset: 0, limit: 500) {
                for d in c.churnDrivers.prefix(3) {
                    var entry = drivers[d.feature] ?? (0, 0)
                    if d.contribution > 0 { entry.raises += 1 } else { entry.lowers += 1 }
                    drivers[d.feature] = entry
                }
            }
            let top = drivers.map { (feature: $0.key, raises: $0.value.raises >= $0.value.lowers, customers: max($0.value.raises, $0.value.lowers)) }
                .sorted { ($0.customers, $0.feature) > ($1.customers, $1.feature) }.prefix(6)
            return ChurnOverview(bands: bands, drivers: Array(top))
        }.0
    }

    /// The RFM grid and Pareto curve of the last scoring run.
    func currentRFM() async throws -> RFMAnalysis {
        let s = services
        return try await rfm.get(key: try await scoringKey(), maxAge: .infinity, now: s.intelligence.clock.now) {
            try await s.intelligence.rfmAnalysis()
        }.0
    }

    /// The valuable customers most at risk, from the last scoring run.
    func customersAtRisk() async throws -> [CustomerScores] {
        let s = services
        return try await atRisk.get(key: try await scoringKey(), maxAge: .infinity, now: s.intelligence.clock.now) {
            try await s.intelligence.scoredCustomers(segment: nil, valueTier: nil, minimumChurnRisk: 0.5, offset: 0, limit: 20)
        }.0
    }

    /// A membership as the console and the portal show it: program, card number, tier, points, distance to the next tier.
    func membership(_ m: Member) async throws -> [String: Any] { try await membershipRead(m).values }

    /// ``membership(_:)`` with the program and balance it read, for pages that use them too.
    /// A statement's lines with the balance after each, oldest first.
    static func statementRows(_ statement: Statement) -> [[String: String]] {
        var running = statement.opening
        return statement.movements.map {
            running = running &+ $0.signedPoints
            return [
                "when": Format.date($0.transfer.occurredAt), "what": $0.transfer.memo ?? Format.label($0.transfer.reason.rawValue),
                "points": ($0.signedPoints > 0 ? "+" : "") + Format.number($0.signedPoints), "balance": Format.number(running),
            ]
        }
    }

    func membershipRead(_ m: Member) async throws -> (values: [String: Any], program: Program, balance: Balance) {
        let program = try await services.loyalty.program(m.programID)
        let balance = try await services.loyalty.balance(of: m.id)
        let progress = try await services.loyalty.tierProgress(of: m.id)
        let now = services.loyalty.clock.now
        let statement = try await services.loyalty.statement(of: m.id, from: now.addingTimeInterval(-365 * 86_400), to: now)
        // The bar runs from the current tier's threshold to the next one's.
        var bar: [String: Any]? = nil
        if let p = progress, let next = p.nextTier, let missing = p.missing {
            let floor = program.tierPolicy?.tiers.first { $0.name == p.tier }?.threshold ?? 0
            let target = p.qualifyingPoints + missing
            let span = max(target - floor, 1)
            let done = min(max(p.qualifyingPoints - floor, 0), span)
            bar = [
                "value": done, "max": span, "percent": Int(done * 100 / span),
                "label": "\(Format.number(p.qualifyingPoints)) of \(Format.number(target)) qualifying points for \(next)"
                    + (p.by.map { " by \(Format.lastDay(endingBefore: $0))" } ?? ""),
            ]
        }
        let values: [String: Any] = [
            "program": program.name, "number": m.number, "tier": m.tier ?? "—", "points": Format.number(balance.available),
            "progress": progress.flatMap { p in p.nextTier.map { "\(Format.number(p.missing ?? 0)) points to \($0)" } } ?? "",
            "bar": bar as Any,
            "pending": balance.pending > 0 ? "\(Format.number(balance.pending)) points pending (return window)" : "",
            "expiring": balance.nextExpiry.map { "\(Format.number($0.points)) points expire on \(Format.date($0.on))" } ?? "",
            "movements": Self.statementRows(statement).suffix(15).reversed(),
        ]
        return (values, program, balance)
    }

    /// Basket rules of the last scoring run (1% support, 20% confidence), kept until the next run.
    func currentBasketRules() async throws -> [MarketBasket.Rule] {
        let s = services
        return try await basketRules.get(key: try await scoringKey(), maxAge: .infinity, now: s.intelligence.clock.now) {
            try await s.intelligence.basketRules(minimumSupport: 0.01, minimumConfidence: 0.2).rules
        }.0
    }

    /// The visitor signed in to `site`, or nil.
    func visitor(_ request: Request, _ site: Site) async -> Visitor? {
        guard let token = request.cookies[site.cookie]?.value, !token.isEmpty,
            let principal = try? await services.access.authenticate(bearer: token)
        else { return nil }
        switch (site, principal) {
        case (.console, .staff):
            var v = Visitor(principal: principal, token: token)
            if principal.can(.requestsRead) {
                var mine = RequestFilter.open
                mine.assignee = principal.actor
                let open = (try? await services.support.requests(mine, offset: 0, limit: 1).total) ?? 0
                if open > 0 {
                    mine.breachedOnly = true
                    v.assigned = (open, (try? await services.support.requests(mine, offset: 0, limit: 1).total) ?? 0)
                }
            }
            return v
        case (.portal, .member): return Visitor(principal: principal, token: token)
        case (.partners, .partner), (.partners, .partnerUser):
            // Only a partner whose terms exist has a portal.
            guard let code = principal.partnerCode, let terms = try? await services.partners.partner(code) else { return nil }
            return Visitor(principal: principal, token: token, partnerName: terms.name)
        default: return nil
        }
    }

    func sessionCookie(_ site: Site, _ token: String, maxAge: Int = 12 * 3600) -> Cookie {
        Cookie(name: site.cookie, value: token, maxAge: maxAge, path: "/\(site.rawValue)", secure: secureCookies, httpOnly: true, sameSite: .strict)
    }

    /// Runs `body` for a signed-in visitor; anyone else goes to the site's login page.
    func signedIn(_ request: Request, _ site: Site, _ body: (Visitor) async throws -> Response) async throws -> Response {
        guard let visitor = await visitor(request, site) else {
            let next =
                request.uri.path == site.root ? "" : "?next=" + (request.uri.path.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")
            return Response.redirect(to: site.login + next)
        }
        return try await body(visitor)
    }

    /// A form post from a signed-in visitor with a valid CSRF token; otherwise 403 (or the login page).
    ///
    /// A form that changes data (`audited`) applies once per rendering and answers with a redirect
    /// (POST/redirect/GET): its `_csrf` carries a one-time token, claimed like an API
    /// `Idempotency-Key`; a result page is kept and shown at `/<site>/done/<key>`, so reloading it
    /// or sending the same form again (a double click, the back button) repeats nothing. A refused
    /// form (4xx) keeps no claim, so the visitor can correct it and send it again.
    func posted(
        _ request: Request, _ context: WebRequestContext, _ site: Site, audited: Bool = true, _ body: (Visitor, Form) async throws -> Response
    ) async throws
        -> Response
    {
        guard let visitor = await visitor(request, site) else { return Response.redirect(to: site.login) }
        let form = try await Form(request, context)
        let sent = (form["_csrf"] ?? "").split(separator: ".", maxSplits: 1).map(String.init)
        guard sent.first == visitor.csrf else {
            return try views.page(
                site, visitor: visitor, title: "Form expired", template: "message",
                ["message": "This form has expired or did not come from Patron. Go back, reload the page and try again."], status: .forbidden)
        }
        // Forms that only compute (a live count, a rule check) are neither claimed nor audited.
        guard audited else { return try await body(visitor, form) }
        let response: Response
        if sent.count == 2 {
            response = try await once(sent[1], request, form, visitor, site) { try await body(visitor, form) }
        } else {
            response = try await body(visitor, form)
        }
        let action = "POST \(request.uri.path)"
        await services.access.auditChange(
            actor: visitor.principal.actor, action: action, outcome: String(response.status.code),
            failed: { error in
                Logger(label: "patron.audit").warning(
                    "audit row not written; the change stands, trying again in the background", metadata: ["action": "\(action)", "error": "\(error)"])
            },
            lost: { Logger(label: "patron.audit").error("audit row given up: the database did not take it for an hour", metadata: ["action": "\(action)"]) })
        return response
    }

    /// Runs a form's change once for its one-time token, and turns a result page into a redirect.
    private func once(
        _ token: String, _ request: Request, _ form: Form, _ visitor: Visitor, _ site: Site, _ change: () async throws -> Response
    ) async throws -> Response {
        let store = services.forms
        let caller = "form:" + visitor.principal.key
        let key = SHA256.hash(data: Data("\(token) \(request.uri.path)".utf8)).map { String(format: "%02x", $0) }.joined()
        var digest = SHA256()
        for (name, values) in form.fields.sorted(by: { $0.key < $1.key }) where name != "_csrf" {
            digest.update(data: Data("\(name)=\(values.joined(separator: ","))&".utf8))
        }
        let fingerprint = digest.finalize().map { String(format: "%02x", $0) }.joined()
        let token = newClaimToken()
        let outcome: IdempotencyClaim
        do {
            outcome = try await store.claim(caller: caller, key: key, fingerprint: fingerprint, token: token, at: services.access.clock.now)
        } catch {
            // A claim whose answer was lost is let go, so sending the form again is not refused.
            try? await store.release(caller: caller, key: key, token: token)
            throw error
        }
        switch outcome {
        case .replay(let saved):
            return Self.redirect(after: saved, key: key, site)
        case .inProgress, .mismatch:
            return try views.page(
                site, visitor: visitor, title: "Already sent", template: "message",
                ["message": "This form was sent already, and what it asked for was done once. Reload the page to see where things stand."],
                status: .conflict)
        case .claimed(let claim):
            let response: Response
            do {
                response = try await change()
            } catch {
                try? await store.release(caller: caller, key: key, token: claim)
                throw error
            }
            let saved: IdempotentResponse
            switch response.status.code {
            case 200..<300 where !(response.headers[.contentType] ?? "").hasPrefix("text/html"):
                // A download (a privacy export) is handed over as it is and never kept.
                try? await store.release(caller: caller, key: key, token: claim)
                return response
            case 200..<300:
                let page = PageCollector()
                try await response.body.write(page)
                saved = IdempotentResponse(status: 200, contentType: "text/html; charset=utf-8", body: page.data)
            case 300..<400:
                saved = IdempotentResponse(status: 303, contentType: Self.redirectMarker, body: Data((response.headers[.location] ?? site.root).utf8))
            default:
                try? await store.release(caller: caller, key: key, token: claim)
                return response
            }
            try await store.save(caller: caller, key: key, token: claim, response: saved)
            return Self.redirect(after: saved, key: key, site)
        }
    }

    /// A saved form outcome that is a redirect keeps its location in the body.
    static let redirectMarker = "redirect"

    static func redirect(after saved: IdempotentResponse, key: String, _ site: Site) -> Response {
        saved.contentType == redirectMarker
            ? Response.redirect(to: String(decoding: saved.body, as: UTF8.self)) : Response.redirect(to: "/\(site.rawValue)/done/\(key)")
    }

    /// The page a form's change produced, shown after its redirect (to the visitor who sent it only).
    func result(of key: String, for visitor: Visitor, _ site: Site) async throws -> Response {
        guard let saved = try await services.forms.saved(caller: "form:" + visitor.principal.key, key: key), saved.contentType != Self.redirectMarker
        else { return Response.redirect(to: site.root) }
        return Response(
            status: .ok, headers: [.contentType: saved.contentType, .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: saved.body)))
    }
}

/// Reads a rendered page's bytes, to keep a form's result for the page its redirect leads to.
private final class PageCollector: ResponseBodyWriter {
    var data = Data()
    func write(_ buffer: ByteBuffer) async throws { data.append(contentsOf: buffer.readableBytesView) }
    func finish(_ trailingHeaders: HTTPFields?) async throws {}
}

/// A submitted form's fields (`application/x-www-form-urlencoded`).
struct Form: Sendable {
    let fields: [String: [String]]
    /// Uploaded files of a `multipart/form-data` form, by field: the file's name and its bytes.
    var files: [String: (filename: String, data: Data)] = [:]

    init(_ request: Request, _ context: WebRequestContext) async throws {
        let type = request.headers[.contentType] ?? ""
        if type.lowercased().hasPrefix("multipart/form-data"),
            let boundary = type.split(separator: ";").map({ $0.trimmingCharacters(in: .whitespaces) }).first(where: { $0.lowercased().hasPrefix("boundary=") })
        {
            // An upload (the import wizard): up to the largest file accepted, and a little for the other fields.
            let buffer = try await request.body.collect(upTo: AccessService.maximumUpload + (64 << 10))
            let parsed = Self.multipart(Data(buffer.readableBytesView), boundary: String(boundary.dropFirst("boundary=".count)).trimmingCharacters(in: CharacterSet(charactersIn: "\"")))
            fields = parsed.fields
            files = parsed.files
            return
        }
        let buffer = try await request.body.collect(upTo: 1 << 20)
        let text = String(buffer: buffer)
        var fields: [String: [String]] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String { s.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(s) }
            guard let key = parts.first.map(decode) else { continue }
            fields[key, default: []].append(parts.count > 1 ? decode(parts[1]) : "")
        }
        self.fields = fields
    }

    subscript(_ key: String) -> String? { fields[key]?.first }

    /// The parts of a `multipart/form-data` body: text fields, and files with their names. A part
    /// that does not read is left out.
    static func multipart(_ body: Data, boundary: String) -> (fields: [String: [String]], files: [String: (filename: String, data: Data)]) {
        var fields: [String: [String]] = [:]
        var files: [String: (filename: String, data: Data)] = [:]
        guard !boundary.isEmpty, boundary.count <= 200 else { return (fields, files) }
        let delimiter = Data(("--" + boundary).utf8)
        let separator = Data("\r\n\r\n".utf8)
        var cursor = body.startIndex
        guard let first = body.range(of: delimiter, in: cursor..<body.endIndex) else { return (fields, files) }
        cursor = first.upperBound
        while cursor < body.endIndex {
            // "--" after the delimiter ends the body; otherwise a line break starts the part.
            if body[cursor...].starts(with: Data("--".utf8)) { break }
            guard let next = body.range(of: delimiter, in: cursor..<body.endIndex) else { break }
            var part = body[cursor..<next.lowerBound]
            cursor = next.upperBound
            if part.starts(with: Data("\r\n".utf8)) { part = part.dropFirst(2) }
            if part.suffix(2) == Data("\r\n".utf8) { part = part.dropLast(2) }
            guard let split = part.range(of: separator) else { continue }
            let head = String(decoding: part[part.startIndex..<split.lowerBound], as: UTF8.self)
            let content = Data(part[split.upperBound...])
            var name: String?
            var filename: String?
            for line in head.split(separator: "\r\n") where line.lowercased().hasPrefix("content-disposition:") {
                for item in line.split(separator: ";").map({ $0.trimmingCharacters(in: .whitespaces) }) {
                    if item.hasPrefix("name=") { name = String(item.dropFirst(5)).trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
                    if item.hasPrefix("filename=") { filename = String(item.dropFirst(9)).trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
                }
            }
            guard let name else { continue }
            if let filename {
                files[name] = (filename, content)
            } else {
                fields[name, default: []].append(String(decoding: content, as: UTF8.self))
            }
        }
        return (fields, files)
    }

    /// The first value of each field: what a refused form shows again.
    var values: [String: String] { fields.compactMapValues(\.first).filter { $0.key != "_csrf" } }

    /// A trimmed, non-empty value.
    func text(_ key: String) -> String? {
        guard let v = self[key]?.trimmingCharacters(in: .whitespacesAndNewlines), !v.isEmpty else { return nil }
        return v
    }
}

extension Response {
    static func redirect(to location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location, .cacheControl: "no-store"])
    }

    /// Plain text for the pages' scripts (the live rule checks).
    static func text(_ text: String) -> Response {
        Response(
            status: .ok, headers: [.contentType: "text/plain; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}

/// Turns a domain error into the message a person reads next to the form.
func explain(_ error: any Error) -> String {
    // A refused field reads as a sentence with the field in words ("Ends at must be after
    // starts at."), not as the API's field name; the problem's code and field stay for the API.
    func sentences(_ problems: [(field: String, reason: String)]) -> String {
        problems.map { "\(Format.field($0.field)): \($0.reason)\($0.reason.hasSuffix(".") ? "" : ".")" }.joined(separator: " ")
    }
    switch error {
    case CustomerError.invalid(let problems): return sentences(problems.map { ($0.field, $0.reason) })
    case LoyaltyError.invalid(let problems): return sentences(problems.map { ($0.field, $0.reason) })
    case AccessError.invalid(let field, let reason), CampaignError.invalid(let field, let reason), SegmentError.invalid(let field, let reason),
        PartnerError.invalid(let field, let reason), SalesError.invalid(let field, let reason), SupportError.invalid(let field, let reason):
        return sentences([(field, reason)])
    default: break
    }
    return switch error {
    case let e as CustomerError: e.description
    case let e as LoyaltyError: e.description
    case let e as SegmentError: e.description
    case let e as CampaignError: e.description
    case let e as SupportError: e.description
    case let e as PartnerError: e.description
    case let e as SalesError: e.description
    case let e as AccessError: e.description
    case let e as ServiceRefusal: e.description
    default: PageErrorMiddleware.failedMessage
    }
}

/// A figure that is slow to compute and changes slowly (the loyalty report over the whole
/// ledger, the RFM grid over every score): kept, and recomputed when its key changes (a new
/// scoring run) or it is older than `maxAge` — in the background, serving the previous value
/// meanwhile, so no page waits for it but the very first.
actor Snapshot<Value: Sendable> {
    private var value: Value?
    private var key: String?
    private var computedAt = Date.distantPast
    private var refreshing = false

    func get(key: String, maxAge: TimeInterval, now: Date, _ compute: @escaping @Sendable () async throws -> Value) async throws -> (Value, Date) {
        if let value, self.key == key {
            if now.timeIntervalSince(computedAt) > maxAge && !refreshing {
                refreshing = true
                Task { await self.refresh(key: key, now: now, compute) }
            }
            return (value, computedAt)
        }
        let fresh = try await compute()
        store(fresh, key: key, at: now)
        return (fresh, now)
    }

    private func refresh(key: String, now: Date, _ compute: @Sendable () async throws -> Value) async {
        if let fresh = try? await compute() { store(fresh, key: key, at: now) }
        refreshing = false
    }

    private func store(_ v: Value, key: String, at: Date) {
        value = v
        self.key = key
        computedAt = at
    }
}

/// The churn model at a glance.
struct ChurnOverview: Sendable {
    /// Risk bands, [low, high).
    static let bands: [(Double, Double)] = [(0, 0.2), (0.2, 0.4), (0.4, 0.6), (0.6, 0.8), (0.8, 1.01)]
    /// The segment rule of a band: the customers behind its figure.
    static func rule(_ low: Double, _ high: Double) -> String {
        high > 1 ? "churn.risk >= \(low)" : "churn.risk >= \(low) and churn.risk < \(high)"
    }
    var bands: [Int]
    var drivers: [(feature: String, raises: Bool, customers: Int)]
}
