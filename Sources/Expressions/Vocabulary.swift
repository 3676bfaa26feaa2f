import Foundation

/// The values a text field can hold, where they are known: the RFM segments, the value tiers,
/// the program's tiers as they are named. A rule comparing such a field with a value it never
/// holds would count nobody without a word (`rfm.segment == "at risk"` when the value is
/// `at_risk`; `member.tier == "gold"` when the tier is `Gold`): ``check(_:values:)`` refuses it
/// and names the value meant.
public enum Vocabulary {
    /// Throws ``ExpressionError`` at the first comparison of a field in `values` with a string
    /// it never holds.
    public static func check(_ rule: RuleExpression, values: [String: [String]]) throws {
        try walk(rule, values)
    }

    static func walk(_ e: RuleExpression, _ values: [String: [String]]) throws {
        switch e.kind {
        case .binary(let op, let l, let r):
            if op == .equal || op == .notEqual {
                if case .field(let path) = l.kind, case .string(let s) = r.kind { try compare(path, s, r, values) }
                if case .field(let path) = r.kind, case .string(let s) = l.kind { try compare(path, s, l, values) }
            }
            try walk(l, values)
            try walk(r, values)
        case .membership(let item, let list, _):
            if case .field(let path) = item.kind, case .list(let items) = list.kind {
                for i in items { if case .string(let s) = i.kind { try compare(path, s, i, values) } }
            }
            try walk(item, values)
            try walk(list, values)
        case .not(let inner), .negate(let inner): try walk(inner, values)
        case .list(let items): for i in items { try walk(i, values) }
        case .call(_, let args): for a in args { try walk(a, values) }
        case .aggregate(let a):
            // Inside an aggregate the fields are the element's: `purchases.store` for `store`.
            var inner: [String: [String]] = [:]
            for (key, v) in values where key.hasPrefix(a.collection + ".") { inner[String(key.dropFirst(a.collection.count + 1))] = v }
            if let filter = a.filter { try walk(filter, inner) }
        default: break
        }
    }

    static func compare(_ path: [String], _ value: String, _ at: RuleExpression, _ values: [String: [String]]) throws {
        let field = path.joined(separator: ".")
        guard let known = values[field], !known.isEmpty, !known.contains(value) else { return }
        func key(_ s: String) -> String { s.lowercased().replacingOccurrences(of: " ", with: "_").replacingOccurrences(of: "-", with: "_") }
        if let meant = known.first(where: { key($0) == key(value) }) {
            throw ExpressionError("\(field) is never \"\(value)\"; did you mean \"\(meant)\"?", at: at.position)
        }
        let shown = known.sorted().prefix(12).map { "\"\($0)\"" }.joined(separator: ", ")
        throw ExpressionError("\(field) is never \"\(value)\"; it is one of \(shown)\(known.count > 12 ? ", …" : "")", at: at.position)
    }
}
