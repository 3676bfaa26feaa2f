import Access
import App
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import TestSupport

/// A response as a test reads it: the status and the body parsed as JSON.
struct Reply {
    var status: Int
    var headers: HTTPFields
    var text: String
    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:] }
    var array: [[String: Any]] { (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [[String: Any]] ?? [] }
    var code: String? { json["code"] as? String }
    var id: Int64? { (json["id"] as? NSNumber)?.int64Value }
}

/// Drives the real router (no sockets) with JSON requests.
struct APIClient {
    let client: any TestClientProtocol

    @discardableResult
    func call(_ method: HTTPRequest.Method, _ uri: String, token: String? = nil, body: Any? = nil, raw: String? = nil, headers: HTTPFields = [:])
        async throws
        -> Reply
    {
        var fields = headers
        if let token { fields[.authorization] = "Bearer \(token)" }
        var buffer: ByteBuffer?
        if let body {
            fields[.contentType] = "application/json"
            buffer = ByteBuffer(bytes: Array(try JSONSerialization.data(withJSONObject: body)))
        } else if let raw {
            fields[.contentType] = "application/json"
            buffer = ByteBuffer(string: raw)
        }
        return try await client.execute(uri: uri, method: method, headers: fields, body: buffer) { response in
            Reply(status: Int(response.status.code), headers: response.headers, text: String(buffer: response.body))
        }
    }

    /// Logs in and returns the bearer token.
    func logIn(_ email: String, _ password: String) async throws -> String {
        let reply = try await call(.post, "/v1/sessions", body: ["email": email, "password": password])
        guard let token = reply.json["token"] as? String else { throw TestFailure("login of \(email) failed: \(reply.status) \(reply.text)") }
        return token
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Runs `body` against a fresh Patron on `engine` with an admin `admin@test.example` / `admin-password`.
func withAPI<T>(_ engine: TestEngine, clock: TestClock = TestClock(), _ body: @escaping @Sendable (APIClient, Patron, String) async throws -> T)
    async throws -> T
{
    try await TestDatabase.withPatron(engine, clock: clock) { patron in
        _ = try await patron.access.addUser(email: "admin@test.example", password: "admin-password", role: .admin)
        let app = Application(router: try buildRouter(patron: patron))
        return try await app.test(.router) { client in
            let api = APIClient(client: client)
            return try await body(api, patron, try await api.logIn("admin@test.example", "admin-password"))
        }
    }
}

/// A visitor of the web sites through the real router (no browser): signs in with a site's
/// login form, keeps the session cookie, reads pages and posts forms with the CSRF token a page
/// of the same session carries.
struct WebVisitor {
    let client: any TestClientProtocol
    let cookie: String

    /// Signs in to `site` (`console`, `portal`, `partners`) with the login form's fields, e.g. `email=a%40x.com&password=p` or `key=pk_…`.
    static func signIn(_ client: any TestClientProtocol, _ site: String, _ form: String) async throws -> WebVisitor {
        let cookie = try await client.execute(
            uri: "/\(site)/login", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"], body: ByteBuffer(string: form)
        ) { response -> String in
            guard let c = response.headers[values: .setCookie].first.flatMap({ $0.split(separator: ";").first.map(String.init) }) else {
                throw TestFailure("signing in to \(site) failed: \(response.status)")
            }
            return c
        }
        return WebVisitor(client: client, cookie: cookie)
    }

    func get(_ uri: String) async throws -> (status: HTTPResponse.Status, body: String) {
        try await client.execute(uri: uri, method: .get, headers: [.cookie: cookie]) { ($0.status, String(buffer: $0.body)) }
    }

    /// Posts a form with the CSRF and one-time token found on `tokenPage` (a page of this site read
    /// by this visitor), and follows the redirect to its result page as a browser does.
    func post(_ uri: String, _ form: String, tokenPage: String) async throws -> (status: HTTPResponse.Status, body: String, location: String?) {
        let page = try await get(tokenPage).body
        guard let csrf = page.firstMatch(of: /name="_csrf" value="([0-9a-f.]+)"/)?.output.1 else { throw TestFailure("no form on \(tokenPage)") }
        return try await send(uri, "_csrf=\(csrf)&\(form)")
    }

    /// Uploads a file as a browser does (`multipart/form-data`, with the CSRF token of `tokenPage`),
    /// following a redirect to its result page; answers the status, the page and where it went.
    func upload(_ uri: String, field: String, filename: String, content: String, tokenPage: String) async throws
        -> (status: HTTPResponse.Status, body: String, location: String?)
    {
        let page = try await get(tokenPage).body
        guard let csrf = page.firstMatch(of: /name="_csrf" value="([0-9a-f.]+)"/)?.output.1 else { throw TestFailure("no form on \(tokenPage)") }
        let boundary = "----patron\(UUID().uuidString)"
        var body = "--\(boundary)\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\n\(csrf)\r\n"
        body += "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(field)\"; filename=\"\(filename)\"\r\nContent-Type: text/csv\r\n\r\n\(content)\r\n"
        body += "--\(boundary)--\r\n"
        let posted = try await client.execute(
            uri: uri, method: .post, headers: [.cookie: cookie, .contentType: "multipart/form-data; boundary=\(boundary)"], body: ByteBuffer(string: body)
        ) { ($0.status, String(buffer: $0.body), $0.headers[.location]) }
        guard posted.0 == .seeOther, let location = posted.2 else { return posted }
        let result = try await get(location)
        return (result.status, result.body, location)
    }

    /// Sends a form body as it is (to send the same rendering twice), following a redirect to its result page.
    func send(_ uri: String, _ body: String) async throws -> (status: HTTPResponse.Status, body: String, location: String?) {
        let posted = try await client.execute(
            uri: uri, method: .post, headers: [.cookie: cookie, .contentType: "application/x-www-form-urlencoded"], body: ByteBuffer(string: body)
        ) { ($0.status, String(buffer: $0.body), $0.headers[.location]) }
        guard posted.0 == .seeOther, let location = posted.2, location.contains("/done/") else { return posted }
        let result = try await get(location)
        return (result.status, result.body, location)
    }
}
