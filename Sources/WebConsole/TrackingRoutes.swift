import Campaigns
import Foundation
import Hummingbird
import NIOCore

/// The public links in campaign messages: tracked redirects, the open pixel and unsubscribe.
/// They carry the message's token (unguessable), need no login, and never reveal whether a
/// token exists beyond what its owner could see.
public enum TrackingRoutes {
    /// A transparent 1×1 GIF.
    static let pixel: [UInt8] = [
        0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0x21, 0xF9, 0x04, 0x01,
        0x00,
        0x00, 0x00, 0x00, 0x2C, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3B,
    ]

    static func page(_ status: HTTPResponse.Status, _ title: String, _ body: String) -> Response {
        let html = """
            <!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(title)</title></head><body><main><h1>\(title)</h1>\(body)</main></body></html>
            """
        return Response(
            status: status, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    public static func register(on router: Router<WebRequestContext>, campaigns: CampaignService) {
        router.get("/t/c/:token/:link") { _, context in
            let token = try context.parameters.require("token")
            guard let n = Int(try context.parameters.require("link")), let url = try await campaigns.click(token: token, link: n) else {
                return page(.notFound, "Link not found", "<p>This link is not valid.</p>")
            }
            return Response(status: .found, headers: [.location: url, .cacheControl: "no-store"])
        }
        router.get("/t/o/:token") { _, context in
            try await campaigns.opened(token: try context.parameters.require("token"))
            return Response(
                status: .ok, headers: [.contentType: "image/gif", .cacheControl: "no-store"], body: .init(byteBuffer: ByteBuffer(bytes: pixel)))
        }
        // A GET only asks (mail scanners follow links); the POST — the form, or a mail client's
        // one-click List-Unsubscribe-Post — unsubscribes.
        router.get("/t/u/:token") { _, context in
            let token = try context.parameters.require("token")
            guard try await campaigns.message(token: token) != nil else { return page(.notFound, "Link not found", "<p>This link is not valid.</p>") }
            return page(
                .ok, "Unsubscribe",
                """
                <p>Stop receiving these marketing messages on this channel?</p>
                <form method="post"><button type="submit">Unsubscribe</button></form>
                """)
        }
        router.post("/t/u/:token") { _, context in
            guard try await campaigns.unsubscribe(token: try context.parameters.require("token")) else {
                return page(.notFound, "Link not found", "<p>This link is not valid.</p>")
            }
            return page(.ok, "Unsubscribed", "<p>You will receive no more marketing messages on this channel.</p>")
        }
    }
}
