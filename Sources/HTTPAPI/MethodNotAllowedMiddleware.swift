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
    /// Path templates as components (nil: any one segment), with their methods.
    private var routes: [(components: [String?], methods: Set<String>)] = []

    public init() {}

    /// Takes the router's routes: `(method, "/v1/customers/{id}")`.
    public func load(_ routes: [(method: String, path: String)]) {
        var grouped: [String: Set<String>] = [:]
        for route in routes { grouped[route.path, default: []].insert(route.method) }
        let table = grouped.map { path, methods in
            (components: path.split(separator: "/").map { part -> String? in
                part.contains("{") || part.contains("*") || part.hasPrefix(":") ? nil : String(part)
            }, methods: methods)
        }
        lock.withLock { self.routes = table }
    }

    /// The methods of the route the router picks for this path: like the router's trie, a literal
    /// segment wins over a parameter (`/v1/campaigns/compare` is not `/v1/campaigns/{id}`).
    func methods(for path: String) -> Set<String> {
        let parts = path.split(separator: "/").map(String.init)
        let matching = lock.withLock {
            routes.filter { route in
                route.components.count == parts.count && zip(route.components, parts).allSatisfy { $0 == nil || $0 == $1 }
            }
        }
        func literals(_ components: [String?]) -> [Bool] { components.map { $0 != nil } }
        guard let best = matching.map({ literals($0.components) }).max(by: { $0.lexicographicallyPrecedes($1) { !$0 && $1 } }) else { return [] }
        return matching.filter { literals($0.components) == best }.reduce(into: Set<String>()) { $0.formUnion($1.methods) }
    }
}
