import Channels
import Access
import Foundation
import HTTPTypes
import HTTPAPI
import Hummingbird
import Logging
import Metrics
import Prometheus
import Storage
import WebConsole

/// The Prometheus registry behind `/metrics`. The metrics system can be bootstrapped once per
/// process, so this is shared by every application the process builds (tests build many).
enum MetricsRegistry {
    static let shared: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }()
}

/// The bundled OpenAPI document, served at `/openapi.yaml`.
public enum OpenAPIDocument {
    public static let text: String = {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml"), let text = try? String(contentsOf: url, encoding: .utf8)
        else {
            preconditionFailure("openapi.yaml is missing from the bundle")
        }
        return text
    }()
}

/// Builds the HTTP router: problem+json errors, metrics, `/health`-style system routes and the `/v1` API.
public func buildRouter(patron: Patron) throws -> Router<WebRequestContext> {
    let registry = MetricsRegistry.shared
    let router = Router(context: WebRequestContext.self)
    router.add(middleware: ClientAddressMiddleware(trustedProxies: patron.settings.trustedProxies))
    router.add(middleware: ProblemMiddleware())
    if patron.hasReadReplica { router.add(middleware: ReadYourWritesMiddleware()) }
    var services = WebConsole.Services(
        customers: patron.customers, access: patron.access, loyalty: patron.loyalty, intake: patron.intake, intelligence: patron.intelligence,
        segments: patron.segments, campaigns: patron.campaigns, support: patron.support, privacy: patron.privacy, partners: patron.partners,
        sales: patron.sales, forms: patron.accessStore, jobs: patron.jobBoard,
        configuredChannels: Set((try? patron.settings.channels.channels())?.keys.map { $0 } ?? []),
        mail: try patron.settings.channels.serviceMail(), publicURL: patron.settings.publicURL)
    services.testMail = try patron.settings.channels.testMail()
    let console = try WebConsole(services: services, secureCookies: patron.settings.publicURL.hasPrefix("https://"))
    // Inside the problem+json layer: the console's and portals' errors are pages of their site.
    router.add(middleware: PageErrorMiddleware(console: console))
    let routes = RouteTable()
    router.add(middleware: MethodNotAllowedMiddleware(table: routes))
    router.add(middleware: RequestLimitMiddleware())
    router.add(middleware: ParameterCheckMiddleware(parameters: ParameterTypes(spec: OpenAPIDocument.text)))
    router.add(middleware: MetricsMiddleware())
    router.get("/openapi.yaml") { _, _ in
        Response(status: .ok, headers: [.contentType: "application/yaml"], body: .init(byteBuffer: ByteBuffer(string: OpenAPIDocument.text)))
    }
    router.get("/metrics") { request, _ in
        try await authorizeMetrics(request, access: patron.access, token: patron.settings.metricsToken)
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
    }
    TrackingRoutes.register(on: router, campaigns: patron.campaigns)
    console.register(on: router)
    let database = patron.database
    let api = PatronAPI(
        intake: patron.intake, access: patron.access, intelligence: patron.intelligence, segments: patron.segments,
        campaigns: patron.campaigns, support: patron.support, privacy: patron.privacy, partners: patron.partners, sales: patron.sales,
        channels: { [settings = patron.settings] in try settings.channels.channels() }, idempotency: patron.accessStore,
        jobs: patron.jobBoard
    ) {
        try await database.ping()
        return database.engine.rawValue
    }
    try api.register(on: router)
    routes.load(router.routes.map { (method: $0.method.rawValue, path: $0.path.description) })
    return router
}

/// The whole server: router, host and port, logging.
/// - Parameter onServerRunning: called with the port once the server listens (port 0 picks a free one).
public func buildApplication(
    patron: Patron, host: String = "127.0.0.1", port: Int = 8080, limits: ServerLimits = ServerLimits(), logger: Logger,
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) throws -> some ApplicationProtocol {
    Application(
        router: try buildRouter(patron: patron),
        server: .http1(configuration: .init(idleTimeout: .init(limits.idleTimeout))),
        configuration: .init(address: .hostname(host, port: port), serverName: "Patron"),
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? port) }, logger: logger)
}

/// With a read replica, a browser sees what it just changed: a form post that succeeds sets a
/// short-lived cookie, and while it lasts that browser's reads that would go to the replica go to
/// the primary (``ReplicaReads/primaryOnly``), so the page after the form shows the change even
/// if the replica is a moment behind. API clients ask for fresh data by reading the resource
/// itself, which is always read from the primary.
struct ReadYourWritesMiddleware: RouterMiddleware {
    typealias Context = WebRequestContext
    static let cookie = "patron_wrote"
    /// How long a replica may lag before a browser would miss its own write.
    static let seconds = 15

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let wrote = request.cookies[Self.cookie] != nil
        var response = try await ReplicaReads.$primaryOnly.withValue(wrote) { try await next(request, context) }
        if ![.get, .head].contains(request.method), response.status.code < 400, !request.uri.path.hasPrefix("/v1/") {
            response.setCookie(Cookie(name: Self.cookie, value: "1", maxAge: Self.seconds, path: "/", httpOnly: true, sameSite: .lax))
        }
        return response
    }
}

/// Sets ``RequestOrigin/clientAddress`` for the request: the peer's address, or, when the peer is
/// one of `trustedProxies` (`PATRON_TRUSTED_PROXIES`), the address it forwarded for (the last
/// entry of `X-Forwarded-For` that is not itself a trusted proxy). Without the setting, a
/// forwarded header is ignored: anyone can write one.
struct ClientAddressMiddleware: RouterMiddleware {
    let trustedProxies: Set<String>

    func handle(
        _ request: Request, context: WebRequestContext, next: (Request, WebRequestContext) async throws -> Response
    ) async throws -> Response {
        let address = Self.client(peer: context.remoteAddress?.ipAddress, forwardedFor: request.headers[values: .xForwardedFor], trusting: trustedProxies)
        return try await RequestOrigin.$clientAddress.withValue(address) { try await next(request, context) }
    }

    static func client(peer: String?, forwardedFor: [String], trusting proxies: Set<String>) -> String? {
        guard let peer, proxies.contains(peer) else { return peer }
        let hops = forwardedFor.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return hops.last { !proxies.contains($0) }.map { String($0.prefix(64)) } ?? peer
    }
}

extension HTTPTypes.HTTPField.Name {
    static let xForwardedFor = Self("X-Forwarded-For")!
}

/// `/metrics` tells how busy the server is and what fails: it needs an admin's (or any holder of
/// `metrics:read`'s) bearer token, or the scraper's `PATRON_METRICS_TOKEN`, compared in constant time.
func authorizeMetrics(_ request: Request, access: AccessService, token: String?) async throws {
    guard let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") else { throw AccessError.unauthenticated }
    let presented = String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
    if let token, !token.isEmpty, constantTimeEqual(Array(presented.utf8), Array(token.utf8)) { return }
    try await access.authenticate(bearer: presented).require(.metricsRead)
}

/// Whether two byte strings are equal, in a time that does not depend on where they differ.
func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    return zip(a, b).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
}
