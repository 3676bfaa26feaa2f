import Campaigns
import Foundation
import Mustache
import SharedModels

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Sends SMS through an HTTP gateway: `POST {url}` with JSON `{"to", "text", "reference"}`, a
/// bearer token when configured, and the message key as `Idempotency-Key`, so a resend after a
/// crash is dropped by the gateway. 2xx is accepted (a later receipt says delivered or bounced),
/// 4xx a bounce (a bad number), 408/429/5xx or no answer a retry.
public struct SMSGateway: MessageChannel {
    public var url: URL
    public var token: String?

    public init(url: URL, token: String? = nil) {
        self.url = url
        self.token = token
    }

    public func send(_ messages: [OutboundMessage]) async -> [DeliveryOutcome] {
        var out: [DeliveryOutcome] = []
        for m in messages {
            var request = URLRequest(url: url, timeoutInterval: 30)
            request.httpMethod = "POST"
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.setValue(m.key.description, forHTTPHeaderField: "Idempotency-Key")
            if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
            let body: [String: String] = ["to": m.address, "text": m.body, "reference": m.token]
            request.httpBody = try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])
            do {
                let (data, response) = try await URLSession.shared.data(for: request)
                let status = (response as? HTTPURLResponse)?.statusCode ?? 0
                let text = String(decoding: data.prefix(200), as: UTF8.self)
                switch status {
                case 200..<300: out.append(.accepted)
                case 408, 429, 500...: out.append(.retry("gateway \(status): \(text)"))
                default: out.append(.bounced("gateway \(status): \(text)"))
                }
            } catch {
                out.append(.retry("gateway \(url.host ?? ""): \(error.localizedDescription)"))
            }
        }
        return out
    }
}

/// Direct mail: each batch becomes a CSV print file for the mailing house, written whole under a
/// name made from its first message (a batch sent again after a crash overwrites its own file).
public struct PrintFiles: MessageChannel {
    public var directory: URL

    public init(directory: URL) { self.directory = directory }

    public func send(_ messages: [OutboundMessage]) async -> [DeliveryOutcome] {
        guard let first = messages.first else { return [] }
        var text = "customer_id,name,address,message\n"
        for m in messages { text += CSVText.line([String(m.key.customer), m.name, m.address, m.body]) }
        let name = "campaign-\(first.key.campaign)-wave-\(first.key.wave)-from-\(first.key.customer).csv"
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try Data(text.utf8).write(to: directory.appendingPathComponent(name), options: .atomic)
            return Array(repeating: .delivered, count: messages.count)
        } catch {
            return Array(repeating: .retry("print file \(name): \(error.localizedDescription)"), count: messages.count)
        }
    }
}

/// Campaign templates in Mustache. Text templates are not HTML-escaped; HTML ones are.
public struct MustacheTemplates: TemplateEngine {
    public init() {}

    struct Template: MessageTemplate {
        let template: MustacheTemplate

        func render(_ f: PersonalFields) -> String {
            let values: [String: Any] = [
                "first_name": f.firstName, "last_name": f.lastName, "name": f.name, "email": f.email, "tier": f.tier, "points": f.points,
                "recommendations": f.recommendations, "offer_code": f.offerCode, "campaign": f.campaign, "track": f.track,
                "unsubscribe": f.unsubscribe, "open": f.open,
            ]
            return template.render(values)
        }
    }

    public func prepare(_ source: String, html: Bool) throws -> any MessageTemplate {
        Template(template: try MustacheTemplate(string: (html ? "" : "{{% CONTENT_TYPE: TEXT}}") + source))
    }
}

/// Where campaign messages go, from `PATRON_SMTP_URL` (+ `PATRON_MAIL_FROM`),
/// `PATRON_SMS_GATEWAY_URL` (+ `PATRON_SMS_GATEWAY_TOKEN`) and `PATRON_PRINT_DIR`. A channel
/// without settings keeps its messages queued; call lists always go to the agent desk.
public struct ChannelSettings: Sendable {
    public var smtpURL: String?
    public var mailFrom: String
    public var smsGatewayURL: String?
    public var smsGatewayToken: String?
    public var printDirectory: String?

    public init(
        smtpURL: String? = nil, mailFrom: String = "marketing@patron.local", smsGatewayURL: String? = nil, smsGatewayToken: String? = nil,
        printDirectory: String? = nil
    ) {
        self.smtpURL = smtpURL
        self.mailFrom = mailFrom
        self.smsGatewayURL = smsGatewayURL
        self.smsGatewayToken = smsGatewayToken
        self.printDirectory = printDirectory
    }

    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> ChannelSettings {
        ChannelSettings(
            smtpURL: environment["PATRON_SMTP_URL"], mailFrom: environment["PATRON_MAIL_FROM"] ?? "marketing@patron.local",
            smsGatewayURL: environment["PATRON_SMS_GATEWAY_URL"], smsGatewayToken: environment["PATRON_SMS_GATEWAY_TOKEN"],
            printDirectory: environment["PATRON_PRINT_DIR"])
    }

    /// Sends service email (password resets, notifications) through the SMTP server, or nil
    /// when none is configured.
    public func serviceMail() throws -> (@Sendable (_ to: String, _ subject: String, _ body: String) async -> Bool)? {
        guard let smtpURL else { return nil }
        let mailer = try SMTPMailer(url: smtpURL, from: mailFrom)
        return { to, subject, body in await mailer.send(to: to, subject: subject, body: body) }
    }

    /// Sends one rendered campaign message through the SMTP server (a marketer's test send), or
    /// nil when none is configured.
    public func testMail() throws -> (@Sendable (OutboundMessage) async -> Bool)? {
        guard let smtpURL else { return nil }
        let mailer = try SMTPMailer(url: smtpURL, from: mailFrom)
        return { message in
            switch await mailer.send([message]).first {
            case .delivered, .accepted: true
            default: false
            }
        }
    }

    /// The configured channels.
    public func channels() throws -> [CampaignChannel: any MessageChannel] {
        var out: [CampaignChannel: any MessageChannel] = [:]
        if let smtpURL { out[.email] = try SMTPMailer(url: smtpURL, from: mailFrom) }
        if let smsGatewayURL {
            guard let url = URL(string: smsGatewayURL), url.scheme == "http" || url.scheme == "https" else {
                throw ConfigurationError(flag: "PATRON_SMS_GATEWAY_URL", reason: "'\(smsGatewayURL)' is not an http(s) URL")
            }
            out[.sms] = SMSGateway(url: url, token: smsGatewayToken)
        }
        if let printDirectory { out[.directMail] = PrintFiles(directory: URL(fileURLWithPath: printDirectory)) }
        return out
    }
}

/// Printed (in logs, in errors) without the gateway token or the SMTP URL's password.
extension ChannelSettings: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String {
        "ChannelSettings(smtp: \(smtpURL.map(Self.withoutPassword) ?? "none"), from: \(mailFrom), sms: \(smsGatewayURL.map(Self.withoutPassword) ?? "none"), "
            + "token: \(smsGatewayToken == nil ? "none" : "<redacted>"), print: \(printDirectory ?? "none"))"
    }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["description": description]) }

    static func withoutPassword(_ url: String) -> String {
        guard var parts = URLComponents(string: url), parts.password != nil else { return url }
        parts.password = "<redacted>"
        return parts.string ?? "<url>"
    }
}
