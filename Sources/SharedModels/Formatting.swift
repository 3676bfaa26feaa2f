import Foundation

extension Duration {
    /// The duration in milliseconds, for timings in reports and benchmarks.
    public var milliseconds: Double {
        let c = components
        return Double(c.seconds) * 1000 + Double(c.attoseconds) / 1e15
    }
}

/// CSV output: one field quoted when it must be (RFC 4180).
public enum CSVText {
    /// One CSV cell: quoted when it holds a comma, quote or line break, and — as OWASP advises
    /// against formula injection — prefixed with `'` when it starts with `=`, `+`, `-`, `@`, a tab
    /// or a carriage return and is not a plain number, so a spreadsheet shows it as text instead
    /// of running it.
    public static func field(_ text: String) -> String {
        var text = text
        if let first = text.unicodeScalars.first, "=+-@\t\r".unicodeScalars.contains(first), Double(text) == nil { text = "'" + text }
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    public static func line(_ fields: [String]) -> String { fields.map(field).joined(separator: ",") + "\n" }
}
