import Campaigns
import Foundation
import SharedModels
import Testing

@testable import Channels

/// The message channels without a campaign: templates, settings, print files and the SMS gateway's
/// answer when nobody listens. (SMTP is tested against a real aiosmtpd in the campaign journeys.)
@Suite struct ChannelTests {
    static let fields = PersonalFields(
        firstName: "Zoë", lastName: "<Smith>", name: "Zoë <Smith>", email: "z@x.com", tier: "Gold", points: 1_250, recommendations: ["Tea", "Cake"],
        offerCode: "SAVE10", campaign: "Spring", track: "https://p/t/c/T", unsubscribe: "https://p/u/T", open: "https://p/o/T")

    @Test("HTML templates escape what customers typed; text templates keep it as typed")
    func templates() throws {
        let source = "Hi {{first_name}} {{last_name}}: {{points}} points. {{#recommendations}}[{{.}}]{{/recommendations}} {{offer_code}}"
        let html = try MustacheTemplates().prepare(source, html: true).render(Self.fields)
        #expect(html == "Hi Zoë &lt;Smith&gt;: 1250 points. [Tea][Cake] SAVE10")
        let text = try MustacheTemplates().prepare(source, html: false).render(Self.fields)
        #expect(text == "Hi Zoë <Smith>: 1250 points. [Tea][Cake] SAVE10")
        #expect(throws: (any Error).self) { try MustacheTemplates().prepare("{{#open}} never closed", html: false) }
    }

    @Test("settings come from the environment and never print a password or token")
    func settings() throws {
        let s = ChannelSettings.fromEnvironment([
            "PATRON_SMTP_URL": "smtp://mailer:s3cret@127.0.0.1:2525", "PATRON_SMS_GATEWAY_URL": "https://sms.example/send",
            "PATRON_SMS_GATEWAY_TOKEN": "tok-123", "PATRON_PRINT_DIR": "/tmp/print",
        ])
        for printed in [s.description, String(reflecting: s), "\(s)"] {
            #expect(!printed.contains("s3cret") && !printed.contains("tok-123"), "\(printed)")
        }
        #expect(Set(try s.channels().keys) == [.email, .sms, .directMail])
        #expect(try ChannelSettings().channels().isEmpty)
        #expect(throws: ConfigurationError.self) { try ChannelSettings(smsGatewayURL: "ftp://x").channels() }
    }

    @Test("a print batch becomes one CSV file named by its first message, and writing it again overwrites it")
    func printFiles() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("patron-print-\(UUID())")
        defer { try? FileManager.default.removeItem(at: dir) }
        let messages = (1...2).map { n in
            OutboundMessage(
                key: MessageKey(campaign: CampaignID(3), wave: 1, customer: Int64(n)), channel: .directMail, address: "1 High St\nLeeds",
                name: "Ann \"Nan\" Lee", subject: nil, body: "Hello, Ann", isHTML: false, secret: 1)
        }
        #expect(await PrintFiles(directory: dir).send(messages) == [.delivered, .delivered])
        #expect(await PrintFiles(directory: dir).send(messages) == [.delivered, .delivered])
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        #expect(files == ["campaign-3-wave-1-from-1.csv"])
        let text = try String(contentsOf: dir.appendingPathComponent(files[0]), encoding: .utf8)
        #expect(text.hasPrefix("customer_id,name,address,message\n1,\"Ann \"\"Nan\"\" Lee\",\"1 High St\nLeeds\",\"Hello, Ann\"\n"))
    }

    @Test("an SMS gateway nobody answers is a retry, never a bounce or a lost message")
    func unreachableGateway() async throws {
        let m = OutboundMessage(
            key: MessageKey(campaign: CampaignID(1), wave: 1, customer: 1), channel: .sms, address: "+15550100", name: "A", subject: nil, body: "Hi",
            isHTML: false, secret: 1)
        let outcomes = await SMSGateway(url: URL(string: "http://127.0.0.1:9/send")!).send([m])
        guard case .retry = outcomes.first else {
            Issue.record("expected a retry, got \(outcomes)")
            return
        }
    }
}
