import Expressions
import Foundation
import SharedModels

public enum SegmentTag {}
public typealias SegmentID = ID<SegmentTag>

/// A named set of customers written in the rule language. A dynamic segment is evaluated again
/// whenever it is used; a static one is a frozen list taken by a snapshot (who got what, for an
/// audit or a campaign).
public struct Segment: Sendable, Equatable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case dynamic
        case `static`
    }

    public var id: SegmentID
    public var name: String
    public var description: String?
    public var rule: String
    public var kind: Kind
    /// Who owns it (a staff email).
    public var owner: String
    public var createdAt: Date
    public var updatedAt: Date
    /// For a static segment: when its members were frozen, and how many there are.
    public var snapshotAt: Date?
    public var snapshotCount: Int?

    public init(
        id: SegmentID, name: String, description: String?, rule: String, kind: Kind, owner: String, createdAt: Date, updatedAt: Date,
        snapshotAt: Date? = nil, snapshotCount: Int? = nil
    ) {
        self.id = id
        self.name = name
        self.description = description
        self.rule = rule
        self.kind = kind
        self.owner = owner
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.snapshotAt = snapshotAt
        self.snapshotCount = snapshotCount
    }
}

/// What a segment is made from.
public struct SegmentDraft: Sendable, Equatable {
    public var name: String
    public var description: String?
    public var rule: String
    public var kind: Segment.Kind

    public init(name: String, description: String? = nil, rule: String, kind: Segment.Kind = .dynamic) {
        self.name = name
        self.description = description
        self.rule = rule
        self.kind = kind
    }
}

/// The fields and histories a segment rule may use, with their types. The names are the ones
/// the scores, the loyalty engine and the profile use elsewhere.
public enum SegmentFields {
    public static let schema = Schema(
        fields: [
            // Profile
            "age": .number, "life_stage": .string, "language": .string, "home_store": .string, "home": .geo, "customer_since": .date,
            "completeness": .number, "has_email": .bool, "has_phone": .bool,
            // Consent (marketing) and do-not-contact, as of the last refresh
            "consent.email": .bool, "consent.sms": .bool,
            // Loyalty
            "member": .bool, "member.tier": .string, "member.points": .number,
            // Behaviour
            "last_purchase": .date, "purchases": .number, "revenue": .number,
            // Scores (the nightly scoring job)
            "rfm.segment": .string, "rfm.r": .number, "rfm.f": .number, "rfm.m": .number, "clv.next_12m": .number, "clv.p_alive": .number,
            "churn.risk": .number, "value.tier": .string,
        ],
        collections: [
            // A purchase's category is its first line's, as in promotion criteria.
            "purchases": ["date": .date, "amount": .number, "channel": .string, "store": .string, "category": .string],
            "interactions": ["date": .date, "channel": .string, "direction": .string, "outcome": .string],
        ])

    /// The values of text fields fixed by Patron itself (the data adds tiers, stores, languages).
    public static let vocabulary: [String: [String]] = [
        "rfm.segment": [
            "champions", "loyal_customers", "potential_loyalists", "new_customers", "promising", "need_attention", "about_to_sleep", "at_risk",
            "cant_lose", "hibernating", "prospects",
        ],
        "value.tier": ["A", "B", "C", "D"],
        "life_stage": ["student", "young_adult", "family", "empty_nester", "retired"],
        "interactions.direction": ["inbound", "outbound"],
    ]

    /// Parses and type-checks a rule, or says where it goes wrong.
    public static func check(_ text: String) throws -> RuleExpression {
        do {
            let rule = try Parser.parse(text)
            try TypeChecker(schema: schema).checkCondition(rule)
            return rule
        } catch let error as ExpressionError {
            throw SegmentError.invalidRule(message: error.message, line: error.position.line, column: error.position.column)
        }
    }
}
