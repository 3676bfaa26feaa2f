/// An email address in its normal form: trimmed and lower-cased, checked for one `@`, a non-empty
/// local part and a dotted domain without spaces.
public struct EmailAddress: Hashable, Sendable, Codable, CustomStringConvertible {
    public let value: String

    /// Normalises and validates; nil when `text` is not a plausible address (or longer than the
    /// 254 characters an address can have).
    public init?(_ text: String) {
        guard text.utf8.count <= 1_000 else { return nil }
        let trimmed = text.trimmingSpaces().lowercased()
        guard trimmed.utf8.count <= 254 else { return nil }
        let parts = trimmed.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].count >= 3,
            parts[1].contains("."), !parts[1].hasPrefix("."), !parts[1].hasSuffix("."),
            !parts[1].contains(".."),
            trimmed.unicodeScalars.allSatisfy({ $0.value > 32 && $0 != "," && $0 != ";" && $0 != "<" && $0 != ">" })
        else { return nil }
        value = trimmed
    }

    public var description: String { value }
}

/// A telephone number in E.164 form (`+` and 8 to 15 digits).
///
/// Input may contain spaces, dots, dashes and parentheses. A number starting with `00` is read
/// as international; one starting with a single `0` or without a prefix is national and gets the
/// default country calling code (configured per company, `1` by default).
public struct PhoneNumber: Hashable, Sendable, Codable, CustomStringConvertible {
    public let value: String

    public init?(_ text: String, defaultCountryCode: String = "1") {
        var digits = ""
        var international = false
        for (offset, scalar) in text.trimmingSpaces().unicodeScalars.enumerated() {
            switch scalar {
            case "0"..."9": digits.unicodeScalars.append(scalar)
            case "+" where offset == 0: international = true
            case " ", "-", ".", "(", ")", "/": continue
            default: return nil
            }
        }
        if !international {
            if digits.hasPrefix("00") {
                digits.removeFirst(2)
            } else if digits.hasPrefix("0") {
                digits = defaultCountryCode + digits.dropFirst()
            } else if defaultCountryCode == "1" && digits.count == 11 && digits.hasPrefix("1") {
                // Already carries the North American country code.
            } else {
                digits = defaultCountryCode + digits
            }
        }
        guard (8...15).contains(digits.count), !digits.hasPrefix("0") else { return nil }
        value = "+" + digits
    }

    public var description: String { value }
}

extension String {
    /// The string without leading and trailing spaces, tabs and newlines.
    public func trimmingSpaces() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })!
        return String(scalars[first...last])
    }
}
