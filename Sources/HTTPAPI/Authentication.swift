import Access
import Customers
import HTTPTypes
import Hummingbird
import OpenAPIRuntime
import SharedModels

/// The caller of the request being handled, set by ``AuthenticationMiddleware``.
enum Caller {
    @TaskLocal static var principal: Principal?
    @TaskLocal static var bearer: String?

    /// The authenticated caller; throws ``AccessError/unauthenticated`` when there is none.
    static func required() throws -> Principal {
        guard let principal else { throw AccessError.unauthenticated }
        return principal
    }

    /// The caller, who must hold `permission`.
    static func require(_ permission: Permission) throws -> Principal {
        let principal = try required()
        try principal.require(permission)
        return principal
    }
}

/// Reads `Authorization: Bearer …` (a session token or an API key) and makes the caller
/// available to handlers. A present but unknown, expired or revoked credential is refused with
/// 401 at once; requests without one go on, and handlers that need a caller refuse them.
struct AuthenticationMiddleware<Context: RequestContext>: RouterMiddleware {
    let access: AccessService

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization] else { return try await next(request, context) }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { throw AccessError.unauthenticated }
        let token = String(parts[1]).trimmingSpaces()
        let principal = try await access.authenticate(bearer: token)
        return try await Caller.$principal.withValue(principal) {
            try await Caller.$bearer.withValue(token) {
                do {
                    return try await next(request, context)
                } catch where !principal.isStaff {
                    // Staff are told which customer owns an email or phone (to merge duplicates); a
                    // member or partner is not.
                    let cause = (error as? ServerError)?.underlyingError ?? error
                    if case CustomerError.identifierInUse(let kind, let value, _) = cause {
                        throw Problem(
                            status: .conflict, code: "identifier_in_use", detail: "The \(kind.rawValue) \(value) is already another customer's.",
                            field: "value")
                    }
                    throw error
                }
            }
        }
    }
}
