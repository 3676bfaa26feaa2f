import Access
import HTTPTypes
import Hummingbird
import Logging

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
            if let principal = Caller.principal { await record(principal.actor, action, outcome: String(response.status.code)) }
            return response
        } catch {
            if let principal = Caller.principal { await record(principal.actor, action, outcome: String(Problem.from(error).status)) }
            throw error
        }
    }

    /// Writes the request's row; the answer does not wait on it (``AccessService/auditChange``).
    func record(_ actor: String, _ action: String, outcome: String) async {
        await access.auditChange(
            actor: actor, action: action, outcome: outcome,
            failed: { error in
                Self.logger.warning(
                    "audit row not written; the change stands, trying again in the background",
                    metadata: ["action": "\(action)", "error": "\(Problem.logDescription(of: error))"])
            },
            lost: { Self.logger.error("audit row given up: the database did not take it for an hour", metadata: ["action": "\(action)", "actor": "\(actor)"]) })
    }

    static var logger: Logger { Logger(label: "patron.audit") }
}
