import Foundation

/// The visual segment builder's vocabulary: the fields a marketer picks from, how each is
/// compared, and the values it can hold (with the labels people read), as JSON for the
/// builder's script (Static/patron.js). The script writes the rule text, which stays the
/// source of truth and can be edited by hand; rows are read back from simple rules.
enum SegmentBuilder {
    struct Field: Encodable {
        let field: String
        let label: String
        /// `text`, `number`, `bool`, `date`.
        let kind: String
        var values: [Choice] = []
    }

    struct Choice: Encodable {
        let value: String
        let label: String
    }

    static func fields(_ known: [String: [String]]) -> [Field] {
        func choices(_ field: String) -> [Choice] { (known[field] ?? []).map { Choice(value: $0, label: Format.label($0)) } }
        return [
            Field(field: "member", label: "Is a loyalty member", kind: "bool"),
            Field(field: "member.tier", label: "Loyalty tier", kind: "text", values: (known["member.tier"] ?? []).map { Choice(value: $0, label: $0) }),
            Field(field: "member.points", label: "Points balance", kind: "number"),
            Field(field: "rfm.segment", label: "RFM segment", kind: "text", values: choices("rfm.segment")),
            Field(field: "value.tier", label: "Value tier (A best)", kind: "text", values: choices("value.tier")),
            Field(field: "churn.risk", label: "Churn risk (0 to 1)", kind: "number"),
            Field(field: "clv.next_12m", label: "Lifetime value, next 12 months", kind: "number"),
            Field(field: "purchases", label: "Days with a purchase", kind: "number"),
            Field(field: "revenue", label: "Revenue", kind: "number"),
            Field(field: "last_purchase", label: "Last purchase", kind: "date"),
            Field(field: "consent.email", label: "Agreed to email", kind: "bool"),
            Field(field: "consent.sms", label: "Agreed to SMS", kind: "bool"),
            Field(field: "home_store", label: "Home store", kind: "text", values: (known["home_store"] ?? []).map { Choice(value: $0, label: $0) }),
            Field(field: "life_stage", label: "Life stage", kind: "text", values: choices("life_stage")),
            Field(field: "age", label: "Age", kind: "number"),
            Field(field: "language", label: "Language", kind: "text"),
            Field(field: "completeness", label: "Profile completeness (%)", kind: "number"),
            Field(field: "has_email", label: "Has an email", kind: "bool"),
            Field(field: "has_phone", label: "Has a phone", kind: "bool"),
        ]
    }

    /// The fields as JSON for a `data-fields` attribute (Mustache escapes it).
    static func json(_ known: [String: [String]]) -> String {
        let data = (try? JSONEncoder().encode(fields(known))) ?? Data("[]".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
