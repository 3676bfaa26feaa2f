import Access
import Analytics
import Campaigns
import Crypto
import Customers
import Foundation
import HTTPTypes
import Hummingbird
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

        public init(
            customers: CustomerService, access: AccessService, loyalty: PointsLedger, intake: TransactionIntake, intelligence: CustomerIntelligence,
            segments: SegmentService, campaigns: CampaignService, support: SupportService, privacy: PrivacyService, partners: PartnerService,
            sales: SalesService
        ) {
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
    let rfm = Snapshot<RFMAnalysis>()
    let atRisk = Snapshot<[CustomerScores]>()
    let clv = Snapshot<[Int]>()
    let monthlySales = Snapshot<[(label: String, amount: Int64, purchases: Int)]>()
    let basketRules = Snapshot<[MarketBasket.Rule]>()
    /// Cookies get the Secure flag (Patron is reached over https).
    let secureCookies: Bool

    public init(services: Services, secureCookies: Bool) throws {
        self.services = services
        self.views = try Views.load()
        self.secureCookies = secureCookies
    }

    public func register(on router: Router<BasicRequestContext>) {
        router.get("/") { _, _ in Response.redirect(to: "/portal/welcome") }
        router.get("/static/:file") { _, context in
            let name = try context.parameters.require("file")
            guard let (body, type) = views.statics[name] else { return try views.notFound(title: "Not found") }
            return Response(
                status: .ok, headers: [.contentType: type, .cacheControl: "public, max-age=3600"], body: .init(byteBuffer: ByteBuffer(string: body)))
        }
        ConsolePages(console: self).register(on: router)
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
    /// The CSRF token forms carry: a digest of the session token, so a page of another site
    /// cannot know it, and nothing needs storing.
    var csrf: String { SHA256.hash(data: Data("csrf|\(token)".utf8)).prefix(16).map { String(format: "%02x", $0) }.joined() }
}

extension WebConsole {
    /// The key of everything computed from the scores: the last scoring run.
    func scoringKey() async throws -> String { (try await services.intelligence.store.latestRun()?.ranAt.epochSeconds).map(String.init) ?? "none" }

    /// The loyalty report, at most five minutes old.
    func currentLoyaltyReport() async throws -> (LoyaltyReport, Date) {
        let s = services
        let now = s.intelligence.clock.now
        return try await loyaltyReport.get(key: "report", maxAge: 300, now: now) { try await s.intelligence.store.loyaltyReport(now: now) }
    }

    /// The RFM grid and Pareto curve of the last scoring run.
    func currentRFM() async throws -> RFMAnalysis {
        let s = services
        return try await rfm.get(key: try await scoringKey(), maxAge: .infinity, now: s.intelligence.clock.now) {
            try await s.intelligence.store.rfmAnalysis()
        }.0
    }

    /// The valuable customers most at risk, from the last scoring run.
    func customersAtRisk() async throws -> [CustomerScores] {
        let s = services
        return try await atRisk.get(key: try await scoringKey(), maxAge: .infinity, now: s.intelligence.clock.now) {
            try await s.intelligence.store.scoredCustomers(segment: nil, valueTier: nil, minimumChurnRisk: 0.5, offset: 0, limit: 20)
        }.0
    }

    /// A membership as the console and the portal show it: program, card number, tier, points, distance to the next tier.
    func membership(_ m: Member) async throws -> [String: Any] {
        let program = try await services.loyalty.program(m.programID)
        let balance = try await services.loyalty.balance(of: m.id)
        let progress = try await services.loyalty.tierProgress(of: m.id)
        let now = services.loyalty.clock.now
        let statement = try await services.loyalty.statement(of: m.id, from: now.addingTimeInterval(-365 * 86_400), to: now)
        return [
            "program": program.name, "number": m.number, "tier": m.tier ?? "—", "points": ConsolePages.number(balance.available),
            "progress": progress.flatMap { p in p.nextTier.map { "\(ConsolePages.number(p.missing ?? 0)) points to \($0)" } } ?? "",
            "pending": balance.pending > 0 ? "\(ConsolePages.number(balance.pending)) points pending (return window)" : "",
            "expiring": balance.nextExpiry.map { "\(ConsolePages.number($0.points)) points expire on \(ConsolePages.day($0.on))" } ?? "",
            "movements": statement.movements.suffix(15).reversed().map {
                [
                    "when": ConsolePages.day($0.transfer.occurredAt),
                    "what": $0.transfer.memo ?? $0.transfer.reason.rawValue.replacingOccurrences(of: "_", with: " "),
                    "points": ConsolePages.number($0.signedPoints),
                ]
            },
        ]
    }

    /// The visitor signed in to `site`, or nil.
    func visitor(_ request: Request, _ site: Site) async -> Visitor? {
        guard let token = request.cookies[site.cookie]?.value, !token.isEmpty,
            let principal = try? await services.access.authenticate(bearer: token)
        else { return nil }
        switch (site, principal) {
        case (.console, .staff), (.portal, .member), (.partners, .partner): return Visitor(principal: principal, token: token)
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
    func posted(
        _ request: Request, _ context: BasicRequestContext, _ site: Site, audited: Bool = true, _ body: (Visitor, Form) async throws -> Response
    ) async throws
        -> Response
    {
        guard let visitor = await visitor(request, site) else { return Response.redirect(to: site.login) }
        let form = try await Form(request, context)
        guard form["_csrf"] == visitor.csrf else {
            return try views.page(
                site, visitor: visitor, title: "Form expired", template: "message",
                ["message": "This form has expired or did not come from Patron. Go back, reload the page and try again."], status: .forbidden)
        }
        let response = try await body(visitor, form)
        // Every change is audited; forms that only compute (a live count, a rule check) are not.
        guard audited else { return response }
        try await services.access.audit(
            actor: visitor.principal.actor, action: "POST \(request.uri.path)", target: nil, outcome: String(response.status.code), detail: nil)
        return response
    }
}

/// A submitted form's fields (`application/x-www-form-urlencoded`).
struct Form: Sendable {
    let fields: [String: [String]]

    init(_ request: Request, _ context: BasicRequestContext) async throws {
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
    switch error {
    case let e as CustomerError: e.description
    case let e as LoyaltyError: "\(e)"
    case let e as SegmentError: e.description
    case let e as CampaignError: e.description
    case let e as SupportError: e.description
    case let e as PartnerError: e.description
    case let e as SalesError: e.description
    case let e as AccessError: "\(e)"
    default: "Something went wrong: \(error)"
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
