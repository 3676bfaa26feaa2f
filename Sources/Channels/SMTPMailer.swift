import Campaigns
import SharedModels
import Foundation
import NIOCore
import NIOPosix

/// Sends campaign email over SMTP (RFC 5321): one connection per batch, one mail transaction per
/// message. A 5xx reply to a recipient or to the data is a bounce; a 4xx reply, a timeout or a
/// lost connection is retried later by the outbox. Each message carries a Message-ID made from
/// its wave and customer, so a resend after a crash is recognisable as the same message.
public struct SMTPMailer: MessageChannel {
    public var host: String
    public var port: Int
    /// The envelope sender and `From:` address.
    public var from: String
    public var fromName: String
    /// How long to wait for a reply before giving the connection up.
    public var timeout: TimeAmount

    public init(host: String, port: Int, from: String, fromName: String = "Patron", timeout: TimeAmount = .seconds(30)) {
        self.host = host
        self.port = port
        self.from = from
        self.fromName = fromName
        self.timeout = timeout
    }

    /// `smtp://host:port` (port 25 when omitted).
    public init(url: String, from: String) throws {
        guard let u = URLComponents(string: url), u.scheme == "smtp", let host = u.host, !host.isEmpty else {
            throw ConfigurationError(flag: "PATRON_SMTP_URL", reason: "'\(url)' is not smtp://host:port")
        }
        self.init(host: host, port: u.port ?? 25, from: from)
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    public func send(_ messages: [OutboundMessage]) async -> [DeliveryOutcome] {
        var outcomes: [DeliveryOutcome] = []
        do {
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.seconds(10))
                .connect(host: host, port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandlers([IdleStateHandler(readTimeout: timeout), CloseWhenIdle()])
                        return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
            try await channel.executeThenClose { inbound, outbound in
                var session = Session(inbound: inbound.makeAsyncIterator(), outbound: outbound)
                try session.expect(try await session.reply(), 220)
                let ehlo = try await session.command("EHLO patron.local")
                if ehlo.code != 250 { try session.expect(try await session.command("HELO patron.local"), 250) }
                let date = Self.dateHeader(Date())
                for m in messages {
                    outcomes.append(try await deliver(m, date: date, &session))
                }
                _ = try? await session.command("QUIT")
            }
        } catch {
            let reason = "SMTP \(host):\(port): \(error)"
            outcomes += Array(repeating: .retry(reason), count: messages.count - outcomes.count)
        }
        return outcomes
    }

    /// Sends one service email (a password reset, a notification) outside any campaign: true
    /// once the server accepted it.
    public func send(to address: String, subject: String, body: String) async -> Bool {
        let message = OutboundMessage(
            key: MessageKey(campaign: CampaignID(0), wave: 0, customer: 0), channel: .email, address: address, name: "", subject: subject, body: body,
            isHTML: false, secret: 0)
        return await send([message]).first == .delivered
    }

    func deliver(_ m: OutboundMessage, date: String, _ session: inout Session) async throws -> DeliveryOutcome {
        func refused(_ r: Reply) async throws -> DeliveryOutcome {
            _ = try await session.command("RSET")
            return r.code >= 500 ? .bounced("\(r.code) \(r.text)") : .retry("\(r.code) \(r.text)")
        }
        let mail = try await session.command("MAIL FROM:<\(from)>")
        guard mail.code == 250 else { return try await refused(mail) }
        let rcpt = try await session.command("RCPT TO:<\(m.address)>")
        guard rcpt.code == 250 || rcpt.code == 251 else { return try await refused(rcpt) }
        let data = try await session.command("DATA")
        guard data.code == 354 else { return try await refused(data) }
        let done = try await session.command(Self.render(m, from: from, fromName: fromName, date: date) + "\r\n.")
        guard done.code == 250 else { return done.code >= 500 ? .bounced("\(done.code) \(done.text)") : .retry("\(done.code) \(done.text)") }
        return .delivered
    }

    /// An RFC 5322 date, e.g. `Mon, 23 Nov 2026 19:04:43 +0000`.
    static func dateHeader(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        return formatter.string(from: date)
    }

    /// The message as RFC 5322 text, dot-stuffed, lines ending in CRLF (without the final dot).
    static func render(_ m: OutboundMessage, from: String, fromName: String, date: String) -> String {
        let ascii = m.body.utf8.allSatisfy { $0 < 128 }
        var headers = [
            "From: \(encodedWord(fromName)) <\(from)>",
            "To: \(m.name.isEmpty ? "" : encodedWord(m.name) + " ")<\(m.address)>",
            "Subject: \(encodedWord(m.subject ?? ""))",
            "Date: \(date)",
            "Message-ID: <\(m.key)@patron>",
            "MIME-Version: 1.0",
            "Content-Type: text/\(m.isHTML ? "html" : "plain"); charset=utf-8",
            "Content-Transfer-Encoding: \(ascii ? "7bit" : "base64")",
        ]
        if let url = m.body.firstMatch(of: /https?:\/\/\S+\/t\/u\/[0-9a-f-]+/) {
            headers.append("List-Unsubscribe: <\(url.output)>")
            headers.append("List-Unsubscribe-Post: List-Unsubscribe=One-Click")
        }
        let body: String
        if ascii {
            body = m.body.replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n", omittingEmptySubsequences: false)
                .map { $0.hasPrefix(".") ? "." + $0 : String($0) }.joined(separator: "\r\n")
        } else {
            let b64 = Data(m.body.utf8).base64EncodedString()
            body = stride(from: 0, to: b64.count, by: 76).map { i in
                let start = b64.index(b64.startIndex, offsetBy: i)
                return String(b64[start..<(b64.index(start, offsetBy: 76, limitedBy: b64.endIndex) ?? b64.endIndex)])
            }.joined(separator: "\r\n")
        }
        return headers.joined(separator: "\r\n") + "\r\n\r\n" + body
    }

    /// A header value as an RFC 2047 encoded word when it is not plain ASCII.
    static func encodedWord(_ text: String) -> String {
        let plain = text.utf8.allSatisfy { $0 >= 32 && $0 < 127 } && !text.contains("\"")
        return plain ? text : "=?utf-8?B?\(Data(text.utf8).base64EncodedString())?="
    }

    struct Reply {
        var code: Int
        var text: String
    }

    /// One SMTP conversation: commands out, multi-line replies in.
    struct Session {
        var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
        let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
        var pending: [UInt8] = []

        mutating func line() async throws -> String {
            while true {
                if let i = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = pending[..<i]
                    pending.removeSubrange(...i)
                    return String(decoding: line.last == UInt8(ascii: "\r") ? line.dropLast() : line, as: UTF8.self)
                }
                let next = try await inbound.next()
                guard let buffer = next else { throw Failure(description: "the server closed the connection") }
                pending += buffer.readableBytesView
            }
        }

        mutating func reply() async throws -> Reply {
            var text: [String] = []
            while true {
                let l = try await line()
                guard l.count >= 3, let code = Int(l.prefix(3)) else { throw Failure(description: "not an SMTP reply: \(l.prefix(80))") }
                text.append(String(l.dropFirst(4)))
                if l.count == 3 || l[l.index(l.startIndex, offsetBy: 3)] == " " { return Reply(code: code, text: text.joined(separator: " ")) }
            }
        }

        mutating func command(_ text: String) async throws -> Reply {
            try await outbound.write(ByteBuffer(string: text + "\r\n"))
            return try await reply()
        }

        func expect(_ r: Reply, _ code: Int) throws {
            guard r.code == code else { throw Failure(description: "expected \(code), got \(r.code) \(r.text)") }
        }
    }
}

/// Closes a connection whose peer went quiet (the SMTP reply timeout).
final class CloseWhenIdle: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent { context.close(promise: nil) } else { context.fireUserInboundEventTriggered(event) }
    }
}
