import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

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
        // The API declares no nullable field: a JSON null is refused where it stands, rather than
        // read as "not given" (OpenAPIRuntime's decoding would).
        if request.uri.path.hasPrefix("/v1/"), request.method == .post || request.method == .put || request.method == .patch,
            request.headers[.contentType]?.lowercased().hasPrefix("application/json") == true
        {
            let body = try await request.collectBody(upTo: Self.maximumBody)
            // Parsed only when the bytes `null` appear at all (outside strings or in them): a
            // purchase from a till is not parsed twice.
            if Self.mentionsNull(body), let json = try? JSONSerialization.jsonObject(with: Data(body.readableBytesView), options: [.fragmentsAllowed]), let field = Self.firstNull(in: json, at: "") {
                let name = field.isEmpty ? "body" : field
                throw Problem(
                    status: .badRequest, code: "malformed_body", detail: "\(name): null is not allowed; leave the field out instead",
                    errors: [.init(field: name, reason: "null is not allowed; leave the field out instead")])
            }
        }
        var response = try await next(request, context)
        if request.uri.path.hasPrefix("/v1"), response.headers[.cacheControl] == nil {
            response.headers[.cacheControl] = "no-store"
        }
        return response
    }

    /// The path of the first JSON null in a document (`lines[1].amount`), depth first.
    static func firstNull(in value: Any, at path: String) -> String? {
        switch value {
        case is NSNull: return path
        case let object as [String: Any]:
            for key in object.keys.sorted() {
                if let found = firstNull(in: object[key]!, at: path.isEmpty ? key : "\(path).\(key)") { return found }
            }
            return nil
        case let array as [Any]:
            for (i, item) in array.enumerated() {
                if let found = firstNull(in: item, at: "\(path)[\(i)]") { return found }
            }
            return nil
        default: return nil
        }
    }

    static func mentionsNull(_ body: ByteBuffer) -> Bool {
        let bytes = body.readableBytesView
        let n = UInt8(ascii: "n"), u = UInt8(ascii: "u"), l = UInt8(ascii: "l")
        var i = bytes.startIndex
        while let found = bytes[i...].firstIndex(of: n) {
            let next = bytes.index(after: found)
            if bytes.distance(from: next, to: bytes.endIndex) >= 3, bytes[next] == u, bytes[bytes.index(next, offsetBy: 1)] == l,
                bytes[bytes.index(next, offsetBy: 2)] == l
            {
                return true
            }
            i = next
        }
        return false
    }
}
