import Access
import Campaigns
import Customers
import Expressions
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Loyalty
import OpenAPIRuntime
import Partners
import Sales
import SharedModels
import Support

/// An RFC 9457 problem document. `code` is stable and meant for programs; `detail` for people.
public struct Problem: Error, Codable, Sendable, Equatable {
    public struct FieldProblem: Codable, Sendable, Equatable {
        public var field: String
        public var reason: String
    }

    public var type: String
    public var title: String
    public var status: Int
    public var code: String
    public var detail: String?
    public var field: String?
    public var errors: [FieldProblem]?
    /// Seconds to wait before trying again (also sent as `Retry-After`): on 429 and 503.
    public var retryAfter: Int?

    public init(status: HTTPResponse.Status, code: String, detail: String? = nil, field: String? = nil, errors: [FieldProblem]? = nil) {
        self.type = "https://patron.dev/problems/\(code.replacingOccurrences(of: "_", with: "-"))"
        self.title = status.reasonPhrase
        self.status = status.code
        self.code = code
        self.detail = detail
        self.field = field ?? errors?.first?.field
        self.errors = errors
    }

    /// The problem a thrown error becomes at the edge. Unknown errors become a 500 that says
    /// nothing about internals.
    public static func from(_ error: any Error) -> Problem {
        switch error {
        case let error as ServerError:
            if let known = known(error.underlyingError) { return known }
            if error.httpStatus.code < 500 {
                return Problem(status: error.httpStatus, code: "bad_request", detail: error.causeDescription)
            }
            return internalError
        case let error as any HTTPResponseError:
            return Problem(
                status: error.status, code: error.status == .notFound ? "not_found" : "http_\(error.status.code)",
                detail: error.status == .notFound ? "No such resource." : nil)
        default:
            return known(error) ?? internalError
        }
    }

    /// What the log says of an error: its cause, never the request it came with. OpenAPIRuntime's
    /// `ServerError` carries the request's headers (`Authorization`, cookies) and decoded body
    /// (passwords), so only its operation and underlying error are kept.
    public static func logDescription(of error: any Error) -> String {
        if let error = error as? ServerError {
            return "\(error.operationID): \(logDescription(of: error.underlyingError))"
        }
        if let failure = error as? DatabaseFailure { return failure.description }
        return String(reflecting: Swift.type(of: error)) + ": " + String(describing: error)
    }

    static let internalError = Problem(
        status: .internalServerError, code: "internal_error", detail: "Something went wrong on our side, and the request may not have been completed: check its result before repeating it.")

    static func known(_ error: any Error) -> Problem? {
        switch error {
        case let problem as Problem: return problem
        case let error as CustomerError: return Problem(error)
        case let error as AccessError: return Problem(error)
        case let error as LoyaltyError: return Problem(error)
        case let error as SegmentError: return Problem(error)
        case let error as ExpressionError:
            return Problem(SegmentError.invalidRule(message: error.message, line: error.position.line, column: error.position.column))
        case let error as CampaignError: return Problem(error)
        case let error as SupportError: return Problem(error)
        case let error as PartnerError: return Problem(error)
        case let error as SalesError: return Problem(error)
        case let error as DecodingError: return Problem(error)
        case let error as DatabaseFailure: return Problem(error)
        default: return nil
        }
    }

    /// 422 listing every field at fault.
    init(validation errors: [FieldError]) {
        self.init(
            status: .unprocessableContent, code: "validation_failed", detail: errors.map { "\($0.field): \($0.reason)" }.joined(separator: "; "),
            errors: errors.map { FieldProblem(field: $0.field, reason: $0.reason) })
    }

    init(_ error: PartnerError) {
        switch error {
        case .notFound(let code): self.init(status: .notFound, code: "partner_not_found", detail: "No partner \(code).")
        case .invalid(let field, let reason): self.init(validation: [FieldError(field, reason)])
        case .conflict(let reason): self.init(status: .conflict, code: "partner_conflict", detail: reason)
        }
    }

    init(_ error: SalesError) {
        switch error {
        case .opportunityNotFound(let id): self.init(status: .notFound, code: "opportunity_not_found", detail: "No opportunity \(id).")
        case .leadNotFound(let id): self.init(status: .notFound, code: "lead_not_found", detail: "No lead \(id).")
        case .invalid(let field, let reason): self.init(validation: [FieldError(field, reason)])
        case .notOwner: self.init(status: .forbidden, code: "not_owner", detail: error.description)
        case .conflict(let reason): self.init(status: .conflict, code: "sales_conflict", detail: reason)
        }
    }

    init(_ error: SupportError) {
        switch error {
        case .notFound(let id): self.init(status: .notFound, code: "service_request_not_found", detail: "No service request \(id).")
        case .invalid(let field, let reason): self.init(validation: [FieldError(field, reason)])
        case .conflict(let reason): self.init(status: .conflict, code: "service_request_conflict", detail: reason)
        }
    }

    init(_ error: CampaignError) {
        switch error {
        case .notFound(let id): self.init(status: .notFound, code: "campaign_not_found", detail: "No campaign \(id).")
        case .notOwner: self.init(status: .forbidden, code: "forbidden", detail: error.description)
        case .invalid(let field, let reason): self.init(validation: [FieldError(field, reason)])
        case .conflict(let reason): self.init(status: .conflict, code: "campaign_conflict", detail: reason)
        }
    }

    init(_ error: CustomerError) {
        switch error {
        case .invalid(let errors): self.init(validation: errors)
        case .notFound(let kind, let id):
            self.init(status: .notFound, code: "\(kind.replacingOccurrences(of: " ", with: "_"))_not_found", detail: "No \(kind) has id \(id).")
        case .merged(let id, let survivor):
            self.init(status: .conflict, code: "customer_merged", detail: "Customer \(id) was merged into \(survivor); change \(survivor) instead.")
        case .identifierInUse(let kind, let value, let owner):
            self.init(
                status: .conflict, code: "identifier_in_use", detail: "The \(kind.rawValue) \(value) belongs to customer \(owner).", field: "value")
        case .mergeWithSelf:
            self.init(
                status: .unprocessableContent, code: "merge_with_self", detail: "A customer cannot be merged into itself.", field: "duplicateId")
        case .alreadyLinked(let id, let customer):
            self.init(status: .conflict, code: "already_linked", detail: "Item \(id) is already linked to customer \(customer).")
        case .erased(let field): self.init(status: .unprocessableContent, code: "customer_erased", detail: error.description, field: field)
        }
    }

    init(_ error: AccessError) {
        switch error {
        case .unauthenticated:
            self.init(status: .unauthorized, code: "unauthenticated", detail: "Send a valid token: Authorization: Bearer TOKEN.")
        case .invalidCredentials:
            self.init(status: .unauthorized, code: "invalid_credentials", detail: "The email or password is wrong.")
        case .forbidden(let permission):
            self.init(status: .forbidden, code: "forbidden", detail: "This needs the permission \(permission.rawValue).")
        case .invalid(let field, let reason): self.init(validation: [FieldError(field, reason)])
        case .emailTaken(let email):
            self.init(status: .conflict, code: "email_taken", detail: "\(email) is already in use.", field: "email")
        case .loginExists(let id):
            self.init(status: .conflict, code: "login_exists", detail: "Customer \(id) already has a login.", field: "customerId")
        case .notFound(let kind, let id):
            self.init(
                status: .notFound, code: "\(kind.lowercased().replacingOccurrences(of: " ", with: "_"))_not_found", detail: "No \(kind) has id \(id)."
            )
        case .tooManyAttempts(let seconds):
            self.init(status: .tooManyRequests, code: "too_many_attempts", detail: error.description)
            retryAfter = seconds
        }
    }

    init(_ error: LoyaltyError) {
        let detail = error.description
        switch error {
        case .invalid(let errors): self.init(validation: errors)
        case .programNotFound: self.init(status: .notFound, code: "program_not_found", detail: detail)
        case .memberNotFound: self.init(status: .notFound, code: "member_not_found", detail: detail)
        case .programCodeTaken: self.init(status: .conflict, code: "program_code_taken", detail: detail, field: "code")
        case .alreadyEnrolled: self.init(status: .conflict, code: "already_enrolled", detail: detail)
        case .insufficientPoints: self.init(status: .unprocessableContent, code: "insufficient_points", detail: detail, field: "points")
        case .idempotencyKeyReused: self.init(status: .unprocessableContent, code: "idempotency_key_reused", detail: detail)
        case .promotionNotFound: self.init(status: .notFound, code: "promotion_not_found", detail: detail)
        case .codeTaken: self.init(status: .conflict, code: "code_taken", detail: detail, field: "code")
        case .rewardNotFound: self.init(status: .notFound, code: "reward_not_found", detail: detail)
        case .voucherNotFound: self.init(status: .notFound, code: "voucher_not_found", detail: detail)
        case .outOfStock: self.init(status: .conflict, code: "out_of_stock", detail: detail)
        case .rewardNotAvailable: self.init(status: .unprocessableContent, code: "reward_not_available", detail: detail)
        case .voucherClosed: self.init(status: .conflict, code: "voucher_closed", detail: detail)
        case .limitExceeded: self.init(status: .unprocessableContent, code: "limit_exceeded", detail: detail)
        case .cardNotFound: self.init(status: .notFound, code: "card_not_found", detail: detail)
        case .cardClosed: self.init(status: .conflict, code: "card_closed", detail: detail)
        case .notPartnerOutlet: self.init(status: .forbidden, code: "not_partner_outlet", detail: detail, field: "store")
        case .notPartnerTransaction: self.init(status: .forbidden, code: "not_partner_transaction", detail: detail)
        case .notPartnerReward: self.init(status: .forbidden, code: "not_partner_reward", detail: detail)
        case .partnerWithoutTerms: self.init(status: .forbidden, code: "partner_not_found", detail: detail)
        }
    }

    /// 503 with `Retry-After` while the database is away, full or too busy; a 500 otherwise
    /// (its SQLSTATE goes to the log, never to the caller).
    init(_ error: DatabaseFailure) {
        switch error {
        case .unavailable:
            self.init(status: .serviceUnavailable, code: "database_unavailable", detail: "The database cannot be reached right now; nothing was written. Try again shortly.")
        case .full:
            self.init(status: .serviceUnavailable, code: "database_full", detail: "The database has no space left; nothing was written. Try again later.")
        case .contention:
            self.init(status: .serviceUnavailable, code: "database_busy", detail: "Too many requests changed the same records at once; nothing was written. Try again.")
        case .failed:
            self = Self.internalError
        }
    }

    /// Seconds a client should wait before sending a 503 again.
    static let retryAfterSeconds = 5

    init(_ error: DecodingError) {
        let (path, reason): ([any CodingKey], String) =
            switch error {
            case .typeMismatch(let type, let context): (context.codingPath, "expected \(type)")
            case .valueNotFound(let type, let context): (context.codingPath, "expected a \(type), found null")
            case .keyNotFound(let key, let context): (context.codingPath + [key], "is required")
            case .dataCorrupted(let context): (context.codingPath, context.debugDescription)
            @unknown default: ([], "cannot be read")
            }
        let field = path.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().trimmingCharacters(
            in: CharacterSet(charactersIn: "."))
        let name = field.isEmpty ? "body" : field
        self.init(status: .badRequest, code: "malformed_body", detail: "\(name): \(reason)", errors: [FieldProblem(field: name, reason: reason)])
    }

    /// The problem as an HTTP response with `application/problem+json`.
    public var response: Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let body = (try? encoder.encode(self)) ?? Data()
        var headers = HTTPFields()
        headers[.contentType] = "application/problem+json"
        if status == 401 { headers[.wwwAuthenticate] = "Bearer" }
        if let retryAfter { headers[.retryAfter] = String(retryAfter) } else if status == 503 { headers[.retryAfter] = String(Self.retryAfterSeconds) }
        return Response(status: .init(code: status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}

/// Turns every error thrown below it into a problem+json response, and logs the unexpected ones.
public struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let problem = Problem.from(error)
            if problem.status >= 500 {
                context.logger.error(
                    "request failed",
                    metadata: ["method": "\(request.method)", "path": "\(request.uri.path)", "error": "\(Problem.logDescription(of: error))"])
            }
            return problem.response
        }
    }
}
