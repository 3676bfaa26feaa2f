import Foundation
import OpenAPIRuntime

/// The declared type of every path and query parameter, read from the OpenAPI document, so that
/// a parameter that does not parse is named in the problem (the runtime's decoding error does not
/// say which one failed).
public struct ParameterTypes: Sendable {
    struct Declared: Sendable, Equatable {
        var type: String
        var format: String?
        var values: [String]?
    }

    private var declared: [String: Declared] = [:]

    public static let none = ParameterTypes()

    init() {}

    /// Reads `name:`, `in: path|query`, `type:`, `format:` and `enum:` of each parameter, inline
    /// (`{ name: limit, in: query, schema: { type: integer } }`) or over the next few lines.
    public init(spec: String) {
        let lines = spec.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        for (index, line) in lines.enumerated() {
            guard let name = Self.value(of: "name", in: line) else { continue }
            let window = lines[index..<min(index + 6, lines.count)]
            var text = line
            for next in window.dropFirst() {
                if next.contains("name:") { break }
                text += " " + next
            }
            guard let place = Self.value(of: "in", in: text), place == "path" || place == "query", let type = Self.value(of: "type", in: text) else {
                continue
            }
            var values: [String]?
            if let range = text.range(of: "enum: ["), let end = text[range.upperBound...].firstIndex(of: "]") {
                values = text[range.upperBound..<end].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            }
            declared[name] = Declared(type: type, format: Self.value(of: "format", in: text), values: values)
        }
    }

    /// The word after `key:` (without quotes, commas or braces).
    static func value(of key: String, in line: String) -> String? {
        guard let range = line.range(of: "\(key): ", options: []) else { return nil }
        let before = range.lowerBound == line.startIndex ? " " : line[line.index(before: range.lowerBound)]
        guard before == " " || before == "{" || before == "-" || before == "," else { return nil }
        let word = line[range.upperBound...].prefix { !" ,}\n".contains($0) }
        let trimmed = word.trimmingCharacters(in: CharacterSet(charactersIn: "'\""))
        return trimmed.isEmpty ? nil : trimmed
    }

    /// Why `value` is not a valid `name`, or nil when it is (or the parameter is unknown).
    func problem(name: String, value: String) -> String? {
        guard let d = declared[name] else { return nil }
        switch d.type {
        case "integer": return Int64(value) == nil ? "expected a whole number, found '\(value.prefix(40))'" : nil
        case "number": return Double(value).map { $0.isFinite } == true ? nil : "expected a number, found '\(value.prefix(40))'"
        case "boolean": return value == "true" || value == "false" ? nil : "expected true or false, found '\(value.prefix(40))'"
        case "string":
            if let values = d.values, !values.contains(value) { return "expected one of \(values.joined(separator: ", "))" }
            if d.format == "date-time", ISO8601DateFormatter().date(from: value) == nil {
                return "expected a date and time such as 2026-01-31T09:00:00Z"
            }
            if d.format == "date", LocalDateText.valid(value) == false { return "expected a date such as 2026-01-31" }
            return nil
        default: return nil
        }
    }

    /// The first path or query parameter of the request that does not parse, with why.
    func firstProblem(path: [String: Substring], query: String?) -> (field: String, reason: String)? {
        for (name, value) in path.sorted(by: { $0.key < $1.key }) {
            if let reason = problem(name: name, value: String(value).removingPercentEncoding ?? String(value)) { return (name, reason) }
        }
        for item in URLComponents(string: "/?" + (query ?? ""))?.queryItems ?? [] {
            if let reason = problem(name: item.name, value: item.value ?? "") { return (item.name, reason) }
        }
        return nil
    }
}

/// `YYYY-MM-DD` with a real month and day.
enum LocalDateText {
    static func valid(_ text: String) -> Bool {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard text.count == 10, parts.count == 3, let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2]) else { return false }
        return (1...9999).contains(y) && (1...12).contains(m) && (1...31).contains(d)
    }
}
