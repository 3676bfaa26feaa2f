import HTTPTypes
import Hummingbird

/// Bounds what a request may send before any handler reads it, and keeps API answers out of
/// caches.
///
/// A body over ``maximumBody`` bytes answers 413 problem+json (`body_too_large`) without being
/// read; a body with no declared length is read up to the limit first. Responses under `/v1`
/// carry `Cache-Control: no-store` unless the handler said otherwise: they hold personal data and,
/// for a new session or API key, a secret shown once.
public struct RequestLimitMiddleware<Context: RequestContext>: RouterMiddleware {
    /// 1 MiB: far above any JSON document the API takes.
    public static var maximumBody: Int { 1 << 20 }

    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var request = request
        let tooLarge = Problem(
            status: .contentTooLarge, code: "body_too_large", detail: "A request body may be at most \(Self.maximumBody) bytes.", field: "body")
        if let length = request.headers[.contentLength].flatMap(Int.init) {
            guard length <= Self.maximumBody else { throw tooLarge }
        } else if request.method == .post || request.method == .put || request.method == .patch {
            do {
                _ = try await request.collectBody(upTo: Self.maximumBody)
            } catch let error as HTTPError where error.status == .contentTooLarge {
                throw tooLarge
            }
        }
        var response = try await next(request, context)
        if request.uri.path.hasPrefix("/v1"), response.headers[.cacheControl] == nil {
            response.headers[.cacheControl] = "no-store"
        }
        return response
    }
}
