import Access
import HTTPTypes
import Hummingbird

/// Writes every change made through the API to the audit log: who, which method and path, and
/// the status it ended with (request bodies are not kept — they may hold passwords). Left out:
/// reads, sign-ins (``AccessService/logIn(email:password:client:)`` audits those itself), POSTs that
/// only compute (counts, previews, what-ifs, simulations), and the high-volume
/// activity feeds whose own records say where each came from (transactions, interactions,
/// campaign delivery receipts).
struct AuditMiddleware<Context: RequestContext>: RouterMiddleware {
    let access: AccessService

    static func audited(_ method: HTTPRequest.Method, _ path: String) -> Bool {
        guard method != .get, method != .head, method != .options, path.hasPrefix("/v1/") else { return false }
        if ["/v1/sessions", "/v1/transactions", "/v1/interactions", "/v1/campaign-events"].contains(path) { return false }
        return !["/count", "/preview", "/what-if", "/simulations"].contains { path.hasSuffix($0) }
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard Self.audited(request.method, request.uri.path) else { return try await next(request, context) }
        let action = "\(request.method.rawValue) \(request.uri.path)"
        do {
            let response = try await next(request, context)
            if let principal = Caller.principal {
                try await access.audit(actor: principal.actor, action: action, target: nil, outcome: String(response.status.code), detail: nil)
            }
            return response
        } catch {
            if let principal = Caller.principal {
                let status = Problem.from(error).status
                try? await access.audit(actor: principal.actor, action: action, target: nil, outcome: String(status), detail: nil)
            }
            throw error
        }
    }
}
