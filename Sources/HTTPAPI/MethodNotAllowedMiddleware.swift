import Foundation
import HTTPTypes
import Hummingbird

/// Answers 405 with `Allow` (RFC 9110 §15.5.6) when a path exists but not for the method sent;
/// the router alone says 404. The routes are known only once all are registered, so the table is
/// filled by ``RouteTable/load(_:)`` after registration and read on each unmatched request.
public struct MethodNotAllowedMiddleware<Context: RequestContext>: RouterMiddleware {
    let table: RouteTable

    public init(table: RouteTable) { self.table = table }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            let allowed = table.methods(for: request.uri.path)
            guard !allowed.isEmpty, !allowed.contains(request.method.rawValue) else { throw error }
            let list = allowed.sorted().joined(separator: ", ")
            var response = Problem(
                status: .methodNotAllowed, code: "method_not_allowed", detail: "\(request.uri.path) answers \(list), not \(request.method.rawValue)."
            ).response
            response.headers[.allow] = list
            return response
        }
    }
}

/// The methods each registered path answers, for ``MethodNotAllowedMiddleware``.
public final class RouteTable: @unchecked Sendable {
    private let lock = NSLock()
    private var routes: [(template: PathTemplate, methods: Set<String>)] = []

    public init() {}

    /// Takes the router's routes: `(method, "/v1/customers/{id}")`.
    public func load(_ routes: [(method: String, path: String)]) {
        var grouped: [String: Set<String>] = [:]
        for route in routes { grouped[route.path, default: []].insert(route.method) }
        let table = grouped.map { (template: PathTemplate($0.key), methods: $0.value) }
        lock.withLock { self.routes = table }
    }

    /// The methods of the route the router picks for this path.
    func methods(for path: String) -> Set<String> {
        let parts = PathTemplate.parts(of: path)
        let table = lock.withLock { routes }
        guard let route = PathTemplate.chosen(among: table.map(\.template), for: parts) else { return [] }
        return table.filter { $0.template == route }.reduce(into: Set<String>()) { $0.formUnion($1.methods) }
    }
}

/// A route's path as the router reads it: literal segments, and parameters (`{id}`, `:id`, `*`)
/// that stand for any one segment.
struct PathTemplate: Sendable, Hashable {
    /// nil: a parameter.
    let components: [String?]

    init(_ path: String) {
        components = path.split(separator: "/").map { part in
            part.contains("{") || part.contains("*") || part.hasPrefix(":") ? nil : String(part)
        }
    }

    static func parts(of path: String) -> [String] { path.split(separator: "/").map(String.init) }

    func matches(_ parts: [String]) -> Bool {
        components.count == parts.count && zip(components, parts).allSatisfy { $0 == nil || $0 == $1 }
    }

    /// The template the router picks for `parts` among `templates`: like its trie, a literal
    /// segment wins over a parameter (`/v1/campaigns/compare` is not `/v1/campaigns/{id}`).
    static func chosen(among templates: [PathTemplate], for parts: [String]) -> PathTemplate? {
        templates.filter { $0.matches(parts) }.max { a, b in
            a.components.map { $0 != nil }.lexicographicallyPrecedes(b.components.map { $0 != nil }) { !$0 && $1 }
        }
    }
}
