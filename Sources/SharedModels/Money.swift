/// An exact amount of money: an integer number of minor units (cents) and an ISO 4217 currency code.
///
/// Money is never a floating-point number in Patron. Adding amounts of different currencies is a
/// programmer error and traps.
public struct Money: Hashable, Sendable, Codable, CustomStringConvertible {
    /// Minor units, e.g. cents. May be negative for refunds and credits.
    public var minorUnits: Int64
    /// Upper-case ISO 4217 code, e.g. `USD`.
    public var currency: String

    /// The largest amount, in minor units, any one purchase, line, price or budget may have:
    /// 10¹² (ten billion dollars). Amounts from outside are checked against it at the edge, so
    /// that sums over millions of them stay far from `Int64`'s limit.
    public static let maximumMinorUnits: Int64 = 1_000_000_000_000

    public init(minorUnits: Int64, currency: String) {
        self.minorUnits = minorUnits
        self.currency = currency
    }

    public static func + (lhs: Money, rhs: Money) -> Money {
        precondition(lhs.currency == rhs.currency, "cannot add \(lhs.currency) to \(rhs.currency)")
        return Money(minorUnits: lhs.minorUnits + rhs.minorUnits, currency: lhs.currency)
    }

    /// `12.34 USD` for two-decimal currencies; the number of decimals comes from ``minorUnitDigits(of:)``.
    public var description: String {
        let digits = Money.minorUnitDigits(of: currency)
        guard digits > 0 else { return "\(minorUnits) \(currency)" }
        let divisor = Money.unit(of: currency)
        let sign = minorUnits < 0 ? "-" : ""
        let magnitude = minorUnits.magnitude
        let fraction = String(magnitude % UInt64(divisor))
        let padded = String(repeating: "0", count: digits - fraction.count) + fraction
        return "\(sign)\(magnitude / UInt64(divisor)).\(padded) \(currency)"
    }

    /// Whether `code` looks like an ISO 4217 code (three upper-case ASCII letters).
    public static func isCurrencyCode(_ code: String) -> Bool {
        code.utf8.count == 3 && code.utf8.allSatisfy { $0 >= 65 && $0 <= 90 }
    }

    /// Decimal digits of the minor unit: 0 for JPY and KRW, 3 for the dinar currencies, 2 otherwise.
    /// Minor units in one whole unit: 100 for USD, 1 for JPY, 1,000 for KWD.
    public static func unit(of currency: String) -> Int64 {
        var unit: Int64 = 1
        for _ in 0..<minorUnitDigits(of: currency) { unit *= 10 }
        return unit
    }

    public static func minorUnitDigits(of currency: String) -> Int {
        switch currency {
        case "JPY", "KRW", "ISK", "CLP", "VND": 0
        case "BHD", "KWD", "OMR", "JOD", "TND": 3
        default: 2
        }
    }

    /// Parses a decimal amount such as `12.5`, `-3` or `1234.56` into minor units exactly
    /// (no floating point). Returns nil for malformed text, more decimals than the currency has,
    /// or an amount beyond ``maximumMinorUnits`` either way.
    public static func parseMinorUnits(_ text: Substring, currency: String) -> Int64? {
        let digits = minorUnitDigits(of: currency)
        var negative = false
        var whole: Int64 = 0
        var fraction: Int64 = 0
        var fractionDigits = 0
        var seenDot = false
        var seenDigit = false
        var index = text.utf8.startIndex
        let utf8 = text.utf8
        if index < utf8.endIndex, utf8[index] == UInt8(ascii: "-") {
            negative = true
            index = utf8.index(after: index)
        }
        while index < utf8.endIndex {
            let byte = utf8[index]
            if byte == UInt8(ascii: ".") {
                if seenDot { return nil }
                seenDot = true
            } else if byte >= 48 && byte <= 57 {
                seenDigit = true
                let value = Int64(byte - 48)
                if seenDot {
                    fractionDigits += 1
                    if fractionDigits > digits { return nil }
                    fraction = fraction * 10 + value
                } else {
                    let (product, overflow1) = whole.multipliedReportingOverflow(by: 10)
                    let (sum, overflow2) = product.addingReportingOverflow(value)
                    if overflow1 || overflow2 { return nil }
                    whole = sum
                }
            } else {
                return nil
            }
            index = utf8.index(after: index)
        }
        guard seenDigit else { return nil }
        var scale: Int64 = 1
        for _ in 0..<digits { scale *= 10 }
        for _ in fractionDigits..<digits { fraction *= 10 }
        let (scaled, overflow) = whole.multipliedReportingOverflow(by: scale)
        if overflow { return nil }
        let (total, overflow2) = scaled.addingReportingOverflow(fraction)
        if overflow2 || total > maximumMinorUnits { return nil }
        return negative ? -total : total
    }
}
