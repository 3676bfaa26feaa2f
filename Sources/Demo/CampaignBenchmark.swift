import App
import Interchange
import Campaigns
import Foundation
import SharedModels

/// `patron bench campaigns`: launching a campaign to a whole demo company — freezing the
/// audience with a 5% control group, then preparing the first wave (suppression by consent,
/// blocks and frequency caps; a Mustache message personalised per recipient; outbox rows).
/// Two runs: an email wave (opt-in, so about half the demo company is suppressed for want of
/// consent) and a call-list wave (opt-out: nearly every customer gets a personalised script).
/// Each campaign is deleted afterwards, so the shared demo database stays as it was.
public struct CampaignBenchmark: Sendable {
    public struct Result: Sendable, Encodable {
        public var bench = "campaigns"
        public var channel: String
        public var customers: Int
        /// Messages queued in the outbox.
        public var recipients: Int
        public var control: Int
        public var suppressed: [String: Int]
        /// Launch to first wave queued: audience, control split, suppression, personalisation, outbox rows.
        public var prepareSeconds: Double
        public var engine = "sqlite"

        enum CodingKeys: String, CodingKey {
            case bench, channel, customers, recipients, control, suppressed
            case prepareSeconds = "prepare_s"
            case engine
        }
    }

    public static let body = """
        Dear {{first_name}} {{last_name}},

        As a {{#tier}}{{tier}} {{/tier}}member you have {{points}} points. This week only, double points on everything.
        {{^empty(recommendations)}}Picked for you: {{#recommendations}}{{.}} {{/recommendations}}{{/empty(recommendations)}}

        Shop now: https://shop.example.com/double-points
        """

    public init() {}

    public func run(patron: Patron, channel: CampaignChannel = .email) async throws -> Result {
        let now = patron.settings.clock.now
        let name = "bench-campaigns-\(UUID().uuidString.prefix(8))"
        let segment = try await patron.segments.create(SegmentDraft(name: name, rule: "customer_since <= now"), owner: "bench")
        let plan = CampaignPlan(
            name: name, startsOn: LocalDate(now), endsOn: LocalDate(now.addingTimeInterval(28 * 86_400)), segment: segment.id.rawValue,
            controlPercent: 5,
            waves: [Wave(channel: channel, day: 0, subject: "{{first_name}}, double points this week", body: Self.body)],
            costs: CampaignCosts(perMessage: ["email": 1]))
        let draft = try await patron.campaigns.create(plan, owner: "bench")
        do {
            let start = ContinuousClock.now
            let launched = try await patron.campaigns.launch(draft.id)
            let seconds = (ContinuousClock.now - start).milliseconds / 1000
            let wave = launched.waves.first
            let customers = try await patron.segments.count(rule: "customer_since <= now").count
            let control = customers - (wave?.queued ?? 0) - (wave?.suppressed.values.reduce(0, +) ?? 0)
            try await patron.campaigns.deleteCampaign(draft.id)
            try await patron.segments.delete(segment.id)
            return Result(
                channel: channel.rawValue, customers: customers, recipients: wave?.queued ?? 0, control: control, suppressed: wave?.suppressed ?? [:],
                prepareSeconds: seconds)
        } catch {
            try? await patron.campaigns.deleteCampaign(draft.id)
            try? await patron.segments.delete(segment.id)
            throw error
        }
    }
}
