import Expressions
import Foundation
import SharedModels

/// Campaigns: plan, launch, prepare waves into the outbox, send it, track responses, and
/// account for it all against a control group.
public struct CampaignService: Sendable {
    let store: any CampaignStore
    public let segments: SegmentService
    public let templates: any TemplateEngine
    public let clock: Clock
    /// Where tracked links point: Patron's public address, e.g. `https://crm.example.com`.
    public let publicURL: String

    public init(store: any CampaignStore, segments: SegmentService, templates: any TemplateEngine, clock: Clock, publicURL: String) {
        self.store = store
        self.segments = segments
        self.templates = templates
        self.clock = clock
        self.publicURL = publicURL.hasSuffix("/") ? String(publicURL.dropLast()) : publicURL
    }

    // MARK: Planning

    func validated(_ plan: CampaignPlan) async throws -> CampaignPlan {
        var p = plan
        p.name = p.name.trimmingCharacters(in: .whitespacesAndNewlines)
        func fail(_ field: String, _ reason: String) -> CampaignError { .invalid(field: field, reason: reason) }
        guard !p.name.isEmpty, p.name.count <= 200 else { throw fail("name", "must be 1 to 200 characters") }
        guard Money.isCurrencyCode(p.currency) else { throw fail("currency", "must be an ISO 4217 code such as USD") }
        guard p.endsOn >= p.startsOn else { throw fail("ends_on", "must not be before starts_on") }
        guard (0...50).contains(p.controlPercent) else { throw fail("control_percent", "must be from 0 to 50") }
        guard (1...365).contains(p.attributionDays) else { throw fail("attribution_days", "must be from 1 to 365") }
        guard (0...100).contains(p.marginPercent) else { throw fail("margin_percent", "must be from 0 to 100") }
        if let b = p.budget, b < 0 { throw fail("budget", "must not be negative") }
        let c = p.costs
        guard c.perRedemption >= 0, c.pointValuePer100 >= 0, c.fixed >= 0, c.perMessage.values.allSatisfy({ $0 >= 0 }) else {
            throw fail("costs", "must not be negative")
        }
        for key in c.perMessage.keys where CampaignChannel(rawValue: key) == nil {
            throw fail("costs.per_message", "'\(key)' is not a channel (email, sms, direct_mail, call)")
        }
        do { _ = try await segments.segment(SegmentID(p.segment)) } catch SegmentError.notFound { throw fail("segment", "no segment \(p.segment)") }
        if p.offer.kind != .none && p.offer.kind != .recommendation && (p.offer.code ?? "").isEmpty {
            throw fail("offer.code", "a \(p.offer.kind.rawValue) offer names its code")
        }
        guard !p.waves.isEmpty, p.waves.count <= 10 else { throw fail("waves", "a campaign has 1 to 10 waves") }
        for (i, w) in p.waves.enumerated() {
            let field = "waves[\(i)]"
            guard w.day >= 0, w.day <= p.startsOn.daysUntil(p.endsOn) else { throw fail("\(field).day", "must fall between starts_on and ends_on") }
            if i > 0, w.day < p.waves[i - 1].day { throw fail("\(field).day", "waves go in day order") }
            if i == 0, w.audience == .nonResponders { throw fail("\(field).audience", "the first wave has no responders to leave out") }
            guard !w.body.isEmpty, w.body.count <= 100_000 else { throw fail("\(field).body", "must be 1 to 100,000 characters") }
            if w.channel == .email, (w.subject ?? "").isEmpty { throw fail("\(field).subject", "an email needs a subject") }
            if let rule = w.rule, !rule.trimmingCharacters(in: .whitespaces).isEmpty {
                do { _ = try SegmentFields.check(rule) } catch let e as SegmentError { throw fail("\(field).rule", e.description) }
            }
            for (part, text) in [("body", w.body), ("subject", w.subject ?? "")] {
                if let tag = MergeTags.unknown(in: text).first {
                    throw fail(
                        "\(field).\(part)", "{{\(tag)}} is not a merge tag; use \(MergeTags.all.map { "{{\($0.tag)}}" }.joined(separator: ", "))")
                }
            }
            do {
                _ = try templates.prepare(w.body, html: Self.isHTML(w.body))
                if let s = w.subject { _ = try templates.prepare(s, html: false) }
            } catch { throw fail("\(field).body", "the template does not parse: \(error)") }
        }
        for cap in p.frequencyCaps where cap.messages < 0 || cap.days < 1 || cap.days > 365 {
            throw fail("frequency_caps", "a cap allows 0 or more messages over 1 to 365 days")
        }
        return p
    }

    public func create(_ plan: CampaignPlan, owner: String) async throws -> Campaign {
        let p = try await validated(plan)
        var g = SystemRandomNumberGenerator()
        return try await store.insertCampaign(p, owner: owner, seed: g.next() >> 1, at: clock.now)
    }

    public func update(_ id: CampaignID, _ plan: CampaignPlan) async throws -> Campaign {
        let c = try await campaign(id)
        guard c.status == .draft else { throw CampaignError.conflict("campaign \(id) is \(c.status.rawValue); only a draft's plan can change") }
        try await store.updatePlan(id, try await validated(plan))
        return try await campaign(id)
    }

    public func campaign(_ id: CampaignID) async throws -> Campaign {
        guard let c = try await store.campaign(id) else { throw CampaignError.notFound(id) }
        return c
    }

    public func campaigns() async throws -> [Campaign] { try await store.campaigns() }

    /// Throws a draft away; a launched campaign is kept for its record (cancel it instead).
    public func delete(_ id: CampaignID) async throws {
        let c = try await campaign(id)
        guard c.status == .draft else { throw CampaignError.conflict("campaign \(id) is \(c.status.rawValue); only a draft is deleted") }
        try await store.deleteCampaign(id)
    }

    /// Stops a campaign for good: messages not yet handed to a channel are never sent; what was
    /// sent keeps counting in its results.
    public func cancel(_ id: CampaignID) async throws -> Campaign {
        let c = try await campaign(id)
        guard [.draft, .running, .paused].contains(c.status) else {
            throw CampaignError.conflict("The campaign is \(c.status.rawValue) already; it cannot be stopped.")
        }
        try await store.setStatus(id, .cancelled, launchedAt: c.launchedAt)
        return try await campaign(id)
    }

    /// Holds a running campaign: no wave is prepared and no message goes out until ``resume(_:)``.
    public func pause(_ id: CampaignID) async throws -> Campaign {
        let c = try await campaign(id)
        guard c.status == .running else { throw CampaignError.conflict("Only a running campaign can be paused; this one is \(c.status.rawValue).") }
        try await store.setStatus(id, .paused, launchedAt: c.launchedAt)
        return try await campaign(id)
    }

    /// Lets a paused campaign go on: waves whose day came meanwhile are prepared now.
    public func resume(_ id: CampaignID) async throws -> Campaign {
        let c = try await campaign(id)
        guard c.status == .paused else { throw CampaignError.conflict("Only a paused campaign can be resumed; this one is \(c.status.rawValue).") }
        try await store.setStatus(id, .running, launchedAt: c.launchedAt)
        _ = try await prepareDue(id)
        return try await campaign(id)
    }

    // MARK: Launch and waves

    /// Freezes the audience with its control group, marks the campaign running and prepares the
    /// waves due now (the first, on day 0).
    public func launch(_ id: CampaignID) async throws -> Campaign {
        let c = try await campaign(id)
        guard c.status == .draft else { throw CampaignError.conflict("campaign \(id) is \(c.status.rawValue); only a draft is launched") }
        let segment = try await segments.segment(SegmentID(c.plan.segment))
        let source: SegmentSource
        if segment.kind == .static {
            source = .snapshot(segment.id)
        } else {
            try await segments.ensureFacts()
            source = .rule(try SegmentFields.check(segment.rule))
        }
        let now = clock.now
        let (seed, percent) = (c.seed, c.plan.controlPercent)
        _ = try await store.freezeAudience(id, segment: source, now: now) { ControlGroup.isControl(customer: $0, seed: seed, percent: percent) }
        try await store.setStatus(id, .running, launchedAt: now)
        _ = try await prepareDue(id)
        return try await campaign(id)
    }

    /// Prepares every wave of a running campaign whose day has come; returns the waves prepared.
    @discardableResult
    public func prepareDue(_ id: CampaignID) async throws -> [WaveState] {
        let c = try await campaign(id)
        guard c.status == .running else { return [] }
        var done: [WaveState] = []
        for n in 1...c.plan.waves.count where !c.waves.contains(where: { $0.number == n }) {
            guard let due = c.due(n), due <= clock.now else { break }
            done.append(try await prepare(c, wave: n))
        }
        return done
    }

    /// Prepares wave `number` now, whatever its day: picks the recipients, leaves out those
    /// suppressed (consent, blocks, no address, frequency caps), personalises each message and
    /// queues it in the outbox.
    public func prepareWave(_ id: CampaignID, number: Int) async throws -> WaveState {
        let c = try await campaign(id)
        guard c.status == .running else { throw CampaignError.conflict("campaign \(id) is \(c.status.rawValue); launch it first") }
        guard (1...c.plan.waves.count).contains(number) else {
            throw CampaignError.invalid(field: "wave", reason: "campaign \(id) has no wave \(number)")
        }
        if c.waves.contains(where: { $0.number == number }) { throw CampaignError.conflict("wave \(number) of campaign \(id) is prepared already") }
        for earlier in 1..<number where !c.waves.contains(where: { $0.number == earlier }) {
            throw CampaignError.conflict("wave \(earlier) of campaign \(id) comes first")
        }
        return try await prepare(c, wave: number)
    }

    func prepare(_ c: Campaign, wave number: Int) async throws -> WaveState {
        let wave = c.plan.waves[number - 1]
        let now = clock.now
        let rule = try wave.rule.flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : try SegmentFields.check($0) }
        if rule != nil { try await segments.ensureFacts() }
        let caps = c.plan.frequencyCaps.filter { $0.channel == wave.channel }
        let candidates = try await store.waveCandidates(c.id, wave: wave, rule: rule, since: c.launchedAt ?? now, now: now, caps: caps)
        let (links, composer) = try composer(for: c, wave: wave)
        var suppressed: [(customer: Int64, reason: String)] = []
        var reachable: [Recipient] = []
        reachable.reserveCapacity(candidates.count)
        for r in candidates {
            if let reason = Self.suppression(r, channel: wave.channel, caps: caps) {
                suppressed.append((r.customer, reason))
            } else {
                reachable.append(r)
            }
        }
        let messages = await composer.compose(reachable, campaign: c.id, wave: number)
        return try await store.queueWave(c.id, number: number, messages: messages, suppressed: suppressed, links: links, at: now)
    }

    /// Why a recipient must not get a message on `channel`, or nil.
    public static func suppression(_ r: Recipient, channel: CampaignChannel, caps: [FrequencyCap]) -> String? {
        if r.blocked { return "blocked" }
        if channel.needsOptIn ? r.consent != true : r.consent == false { return "consent" }
        let hasAddress: Bool =
            switch channel {
            case .email: r.email != nil
            case .sms, .call: r.phone != nil
            case .directMail: !r.address.isEmpty
            }
        if !hasAddress { return "no_address" }
        for cap in caps where cap.channel == channel && (r.recentMessages[cap.days] ?? 0) >= cap.messages { return "frequency_cap" }
        return nil
    }

    static func isHTML(_ body: String) -> Bool { body.drop(while: \.isWhitespace).first == "<" }

    /// URLs in a template, in order of first appearance.
    static func links(in body: String) -> [String] {
        var seen: [String] = []
        for match in body.matches(of: /https?:\/\/[^\s"'<>)\]]+/) where !seen.contains(String(match.output)) { seen.append(String(match.output)) }
        return seen
    }

    /// The wave's templates with links made trackable and an unsubscribe link added where the
    /// law expects one, parsed once.
    func composer(for c: Campaign, wave: Wave) throws -> (links: [String], Composer) {
        let links = Self.links(in: wave.body)
        var body = wave.body
        for (i, link) in links.enumerated() { body = body.replacingOccurrences(of: link, with: "{{{track}}}/\(i)") }
        let html = Self.isHTML(body)
        if wave.channel == .email && !body.contains("{{unsubscribe}}") && !body.contains("{{{unsubscribe}}}") {
            body += html ? "\n<p><a href=\"{{{unsubscribe}}}\">Unsubscribe</a></p>" : "\n\nUnsubscribe: {{{unsubscribe}}}"
        }
        if wave.channel == .sms && !body.contains("unsubscribe}}") { body += " Opt out: {{{unsubscribe}}}" }
        if wave.channel == .email && html { body += "\n<img src=\"{{{open}}}\" width=\"1\" height=\"1\" alt=\"\">" }
        let template = try templates.prepare(body, html: html)
        let subject = try wave.subject.map { try templates.prepare($0, html: false) }
        return (
            links,
            Composer(
                channel: wave.channel, template: template, subject: subject, html: html, campaignName: c.plan.name,
                offerCode: c.plan.offer.code ?? "", base: publicURL)
        )
    }

    /// Personalises messages, on every core.
    struct Composer: Sendable {
        let channel: CampaignChannel
        let template: any MessageTemplate
        let subject: (any MessageTemplate)?
        let html: Bool
        let campaignName: String
        let offerCode: String
        let base: String

        func message(_ r: Recipient, key: MessageKey, secret: UInt64) -> OutboundMessage {
            let name = [r.firstName, r.lastName].compactMap { $0 }.joined(separator: " ")
            var m = OutboundMessage(
                key: key, channel: channel, address: "", name: name, subject: nil, body: "", isHTML: html, secret: secret)
            let token = m.token
            let fields = PersonalFields(
                firstName: r.firstName ?? "", lastName: r.lastName ?? "", name: name, email: r.email ?? "", tier: r.tier ?? "",
                points: r.points ?? 0, recommendations: r.recommendations, offerCode: offerCode, campaign: campaignName,
                track: "\(base)/t/c/\(token)", unsubscribe: "\(base)/t/u/\(token)", open: "\(base)/t/o/\(token)")
            m.address =
                switch channel {
                case .email: r.email ?? ""
                case .sms, .call: r.phone ?? ""
                case .directMail: r.address.joined(separator: "\n")
                }
            m.subject = subject?.render(fields)
            m.body = template.render(fields)
            return m
        }

        func compose(_ recipients: [Recipient], campaign: CampaignID, wave: Int) async -> [OutboundMessage] {
            let chunk = 20_000
            return await withTaskGroup(of: (Int, [OutboundMessage]).self) { group in
                for start in stride(from: 0, to: recipients.count, by: chunk) {
                    let slice = recipients[start..<min(start + chunk, recipients.count)]
                    group.addTask {
                        var g = SystemRandomNumberGenerator()
                        return (
                            start,
                            slice.map { message($0, key: MessageKey(campaign: campaign, wave: wave, customer: $0.customer), secret: g.next() >> 1) }
                        )
                    }
                }
                var parts: [(Int, [OutboundMessage])] = []
                for await part in group { parts.append(part) }
                return parts.sorted { $0.0 < $1.0 }.flatMap(\.1)
            }
        }
    }

    /// Wave `number` as one recipient would get it (the customer need not be in the audience).
    public func preview(_ id: CampaignID, wave number: Int, customer: Int64) async throws -> OutboundMessage {
        let c = try await campaign(id)
        guard (1...c.plan.waves.count).contains(number) else {
            throw CampaignError.invalid(field: "wave", reason: "campaign \(id) has no wave \(number)")
        }
        let wave = c.plan.waves[number - 1]
        guard let r = try await store.recipient(customer, channel: wave.channel) else {
            throw CampaignError.invalid(field: "customer", reason: "no customer \(customer)")
        }
        let (_, composer) = try composer(for: c, wave: wave)
        return composer.message(r, key: MessageKey(campaign: id, wave: number, customer: customer), secret: 0)
    }

    // MARK: Scheduling

    /// One pass of the campaign job: prepares due waves of running campaigns, sends the outbox,
    /// attributes responses, and completes campaigns whose last wave is out and window over.
    public func run(through channels: [CampaignChannel: any MessageChannel]) async throws -> DispatchReport {
        for c in try await campaigns() where c.status == .running {
            try await prepareDue(c.id)
        }
        let report = try await dispatch(through: channels)
        for c in try await campaigns() where c.status == .running {
            try await attribute(c)
            if let launched = c.launchedAt, c.waves.count == c.plan.waves.count,
                clock.now >= launched.addingTimeInterval(Double(max(c.plan.attributionDays, c.plan.waves.last!.day)) * 86_400)
            {
                try await store.setStatus(c.id, .completed, launchedAt: launched)
            }
        }
        return report
    }
}

extension LocalDate {
    /// Days from this date to `other` (negative when `other` is earlier).
    public func daysUntil(_ other: LocalDate) -> Int { other.daysSinceEpoch - daysSinceEpoch }
}
