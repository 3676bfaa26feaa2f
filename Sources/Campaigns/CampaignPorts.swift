import Expressions
import Foundation
import SharedModels

/// Turns a wave's template into messages. App implements it with Mustache.
public protocol TemplateEngine: Sendable {
    /// Parses a template once; throws with a readable message when it does not parse.
    func prepare(_ source: String, html: Bool) throws -> any MessageTemplate
}

public protocol MessageTemplate: Sendable {
    func render(_ fields: PersonalFields) -> String
}

/// What a template may use: `{{first_name}}`, `{{tier}}`, `{{points}}`, `{{#recommendations}}…{{/recommendations}}`,
/// `{{offer_code}}`, `{{campaign}}`, and the tracking URLs Patron fills in.
/// The merge tags a campaign message may use, with what each becomes: the planner lists them,
/// and a plan using any other tag is refused (it would print nothing).
public enum MergeTags {
    public static let all: [(tag: String, meaning: String)] = [
        ("first_name", "the recipient's first name"), ("last_name", "their last name"), ("name", "their full name"),
        ("email", "their email address"), ("tier", "their loyalty tier"), ("points", "their points balance"),
        ("offer_code", "the campaign's offer code (a voucher or promotion code)"), ("campaign", "the campaign's name"),
        ("recommendations", "their recommended products, as a list: {{#recommendations}}{{.}} {{/recommendations}}"),
        ("track", "the tracked link base (links in the message are tracked without it)"), ("unsubscribe", "the unsubscribe link"),
        ("open", "the open-tracking pixel's address"),
    ]

    /// The tags a template uses that are not merge tags (section names included).
    public static func unknown(in template: String) -> [String] {
        let known = Set(all.map(\.tag)).union(["."])
        var found: [String] = []
        var rest = Substring(template)
        while let open = rest.range(of: "{{") {
            rest = rest[open.upperBound...]
            guard let close = rest.range(of: "}}") else { break }
            var inside = rest[..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            rest = rest[close.upperBound...]
            if inside.hasPrefix("{") { inside.removeFirst() }
            if inside.hasPrefix("!") || inside.hasPrefix("%") || inside.hasPrefix(">") || inside.hasPrefix("=") { continue }
            if let first = inside.first, "#^/&".contains(first) { inside.removeFirst() }
            let name = inside.trimmingCharacters(in: .whitespaces)
            if !name.isEmpty, !known.contains(name), !found.contains(name) { found.append(name) }
        }
        return found
    }
}

public struct PersonalFields: Sendable {
    public var firstName: String
    public var lastName: String
    public var name: String
    public var email: String
    public var tier: String
    public var points: Int64
    public var recommendations: [String]
    public var offerCode: String
    public var campaign: String
    /// `…/t/c/TOKEN`; link `n` of the template becomes `track/n`.
    public var track: String
    public var unsubscribe: String
    public var open: String

    public init(
        firstName: String, lastName: String, name: String, email: String, tier: String, points: Int64, recommendations: [String], offerCode: String,
        campaign: String, track: String, unsubscribe: String, open: String
    ) {
        self.firstName = firstName
        self.lastName = lastName
        self.name = name
        self.email = email
        self.tier = tier
        self.points = points
        self.recommendations = recommendations
        self.offerCode = offerCode
        self.campaign = campaign
        self.track = track
        self.unsubscribe = unsubscribe
        self.open = open
    }
}

/// Sends messages of one channel. App implements email (SMTP), SMS (an HTTP gateway) and
/// direct mail (print files); call lists become agent-desk tasks inside the store.
public protocol MessageChannel: Sendable {
    /// One outcome per message, in order. Never throws: a failure is an outcome.
    func send(_ messages: [OutboundMessage]) async -> [DeliveryOutcome]
}
