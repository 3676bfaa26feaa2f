import Foundation
import HTTPTypes
import Hummingbird
import Logging
import SharedModels

/// A page that does not exist, thrown by handlers (`views.notFound(title:)`) and turned into the
/// site's own 404 page by ``PageErrorMiddleware``.
struct PageNotFound: Error {
    let title: String
}

/// Errors under `/console`, `/portal` and `/partners` become pages of that site, with its
/// navigation and a sentence — never problem+json, a Swift value or a stack of table names. An
/// unknown address answers the site's 404 page; a request the server cannot read, a 4xx page; a
/// database that does not answer, 503; anything else, 500 with the error logged (not shown).
public struct PageErrorMiddleware: RouterMiddleware {
    public typealias Context = WebRequestContext
    let console: WebConsole

    public init(console: WebConsole) { self.console = console }

    static func site(of path: String) -> Site? {
        for site in [Site.console, .portal, .partners] where path == "/\(site.rawValue)" || path.hasPrefix("/\(site.rawValue)/") {
            return site
        }
        return path.hasPrefix("/static/") ? .portal : nil
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let site = Self.site(of: request.uri.path) else { return try await next(request, context) }
        do {
            return try await next(request, context)
        } catch let missing as PageNotFound {
            return try await page(request, site, status: .notFound, title: missing.title, Self.notFoundMessage)
        } catch let error as HTTPError where error.status == .notFound {
            return try await page(request, site, status: .notFound, title: "Page not found", Self.notFoundMessage)
        } catch let error as HTTPError where (400..<500).contains(error.status.code) {
            let message =
                switch error.status.code {
                case 413: "What was sent is too large. Send a smaller file or fewer rows at a time."
                case 405: "This address cannot be used that way. Go back and use the page's own buttons."
                default: "The request could not be read. Go back, reload the page and try again."
                }
            return try await page(request, site, status: error.status, title: "Not possible", message)
        } catch let failure as DatabaseFailure {
            context.logger.error("page failed", metadata: ["path": "\(request.uri.path)", "error": "\(failure)"])
            return try await page(
                request, site, status: .serviceUnavailable, title: "Try again in a moment",
                "The database is not answering right now; nothing was changed. Try again in a moment.")
        } catch {
            context.logger.error("page failed", metadata: ["path": "\(request.uri.path)", "error": "\(String(reflecting: error))"])
            return try await page(
                request, site, status: .internalServerError, title: "Something went wrong", Self.failedMessage)
        }
    }

    static let notFoundMessage = "There is no page at this address. It may have been moved, or the link may be mistyped."
    /// What a page or a form says of an error it cannot explain: it may have come after a commit.
    static let failedMessage =
        "Something went wrong on our side, and what you asked for may not have been done: check before trying again, and tell your administrator if it keeps happening."

    func page(_ request: Request, _ site: Site, status: HTTPResponse.Status, title: String, _ message: String) async throws -> Response {
        let visitor = await console.visitor(request, site)
        return try console.views.page(
            site, visitor: visitor, title: title, template: "message", ["message": message, "home": site.root, "homeLabel": "Go to the start page"],
            status: status)
    }
}
