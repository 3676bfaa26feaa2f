import Foundation
import SharedModels

/// How pages show figures to people: the one formatting layer of the console and the portals.
///
/// Money has thousands separators and its currency, numbers are grouped, codes become labels,
/// phone numbers are grouped, dates read as dates. None of it uses a Foundation formatter: pages
/// print hundreds of figures and these run in nanoseconds.
enum Format {
    /// `1,234,567`.
    static func number(_ n: Int64) -> String {
        let digits = String(n.magnitude)
        var grouped = ""
        grouped.reserveCapacity(digits.count + digits.count / 3 + 1)
        for (i, digit) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { grouped.append(",") }
            grouped.append(digit)
        }
        return n < 0 ? "-" + grouped : grouped
    }

    static func number(_ n: Int) -> String { number(Int64(n)) }

    /// `12.5%` from a share of one.
    static func pct(_ x: Double) -> String {
        guard x.isFinite else { return "—" }
        return String(format: "%.1f%%", x * 100)
    }

    /// Currencies shown with their sign before the amount; others are written `1,234.50 CHF`.
    static let symbols: [String: String] = ["USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹"]
    /// Currencies without minor units.
    static let wholeCurrencies: Set<String> = ["JPY", "KRW", "ISK", "CLP", "VND"]

    /// `$28,012.78`, `-€3.50`, `1,234.50 CHF`, from integer minor units (exact: no floating point).
    static func money(minorUnits: Int64, currency: String) -> String {
        let negative = minorUnits < 0
        let magnitude = minorUnits.magnitude
        let amount: String
        if wholeCurrencies.contains(currency) {
            amount = number(Int64(clamping: magnitude))
        } else {
            let cents = magnitude % 100
            amount = number(Int64(clamping: magnitude / 100)) + "." + (cents < 10 ? "0" : "") + String(cents)
        }
        let sign = negative ? "-" : ""
        if let symbol = symbols[currency] { return sign + symbol + amount }
        return sign + amount + " " + currency
    }

    static func money(_ m: Money) -> String { money(minorUnits: m.minorUnits, currency: m.currency) }

    /// An amount as a form field holds it, `2500.00` (no separators or sign), for editing.
    static func plainAmount(minorUnits: Int64, currency: String) -> String {
        if wholeCurrencies.contains(currency) { return String(minorUnits) }
        let magnitude = minorUnits.magnitude
        let cents = magnitude % 100
        return (minorUnits < 0 ? "-" : "") + String(magnitude / 100) + "." + (cents < 10 ? "0" : "") + String(cents)
    }

    /// Money computed as a fraction (averages, per-member figures), rounded to the minor unit.
    static func money(_ major: Double, _ currency: String) -> String {
        guard major.isFinite else { return "—" }
        let minor = (major * (wholeCurrencies.contains(currency) ? 1 : 100)).rounded()
        guard abs(minor) < 9e18 else { return "—" }
        return money(minorUnits: Int64(minor), currency: currency)
    }

    /// Labels for codes people read (RFM segments, roles, ledger kinds, statuses). A code not in
    /// the table reads as its words: `at_risk` → `At risk`.
    static let labels: [String: String] = [
        "cant_lose": "Can't lose them", "cant lose": "Can't lose them", "at_risk": "At risk", "about_to_sleep": "About to sleep",
        "need_attention": "Needs attention", "potential_loyalists": "Potential loyalists", "new_customers": "New customers",
        "loyal_customers": "Loyal customers", "champions": "Champions", "promising": "Promising", "hibernating": "Hibernating",
        "prospects": "Prospects (no purchase yet)", "lost": "Lost",
        "unscored": "Not scored yet", "loyalty_manager": "Loyalty manager", "admin": "Administrator", "agent": "Service agent",
        "analyst": "Analyst", "marketer": "Marketer", "sales": "Sales", "accrual": "Points earned", "redemption": "Points redeemed",
        "expiry": "Points expired", "adjustment": "Adjustment", "clawback": "Points taken back (return)", "transfer": "Transfer",
        "direct_mail": "Direct mail", "sms": "SMS", "email": "Email", "call": "Call", "in_progress": "In progress",
        "closed_won": "Won", "closed_lost": "Lost",
    ]

    /// An API field name in words: `endsAt` → "Ends at", `imageURL` → "Image URL",
    /// `lines[0].amount` → "Lines 1 amount", `first_name` → "First name".
    static func field(_ name: String) -> String {
        var words: [String] = []
        var current = ""
        let chars = Array(name)
        for (i, c) in chars.enumerated() {
            if c == "_" || c == "." || c == "[" || c == "]" || c == " " {
                if !current.isEmpty { words.append(current) }
                current = ""
                continue
            }
            if c.isNumber, current.allSatisfy(\.isNumber), chars[..<i].last == "[" || !current.isEmpty {
                current.append(c)
                continue
            }
            let startsWord =
                c.isUppercase && !current.isEmpty
                && (!(current.last?.isUppercase ?? false) || (i + 1 < chars.count && chars[i + 1].isLowercase))
            if startsWord {
                words.append(current)
                current = ""
            }
            current.append(c)
        }
        if !current.isEmpty { words.append(current) }
        let shown = words.enumerated().map { i, w -> String in
            if let n = Int(w) { return String(n + 1) }  // an index counts from 1 for people
            let acronym = w.count > 1 && w.allSatisfy(\.isUppercase)
            if acronym { return w }
            return i == 0 ? w.prefix(1).uppercased() + w.dropFirst().lowercased() : w.lowercased()
        }
        return shown.joined(separator: " ")
    }

    static func label(_ code: String) -> String {
        if let known = labels[code] { return known }
        let words = code.replacingOccurrences(of: "_", with: " ").replacingOccurrences(of: "-", with: " ")
        guard let first = words.first else { return code }
        return first.uppercased() + words.dropFirst()
    }

    /// `+1 555-010-0120` for North American numbers, `+44 20 7946 0958`-style groups of the rest;
    /// anything that is not E.164 is shown as stored.
    static func phone(_ e164: String) -> String {
        guard e164.hasPrefix("+"), e164.dropFirst().allSatisfy(\.isASCII), e164.dropFirst().allSatisfy(\.isNumber) else { return e164 }
        let digits = Array(e164.dropFirst())
        if digits.first == "1" && digits.count == 11 {
            return "+1 " + String(digits[1..<4]) + "-" + String(digits[4..<7]) + "-" + String(digits[7...])
        }
        guard digits.count > 4 else { return e164 }
        // Country codes are 1 to 3 digits; without a table, group by two after a 2-digit code.
        let country = String(digits.prefix(2))
        var rest = Array(digits.dropFirst(2))
        var groups: [String] = []
        while rest.count > 4 {
            groups.append(String(rest.prefix(rest.count == 5 ? 2 : 3)))
            rest.removeFirst(rest.count == 5 ? 2 : 3)
        }
        groups.append(String(rest))
        return "+" + country + " " + groups.joined(separator: " ")
    }

    static let monthNames = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// `Dec` for 12.
    static func month(_ m: Int) -> String { (1...12).contains(m) ? monthNames[m - 1] : String(m) }

    /// `5 Dec 2026`.
    static func date(_ d: LocalDate) -> String { "\(d.day) \(month(d.month)) \(d.year)" }
    static func date(_ d: Date) -> String { date(LocalDate(d)) }

    /// The last day of a period that ends (exclusively) at `end`: a promotion running "to
    /// 2027-01-01" runs through 31 Dec 2026.
    static func lastDay(endingBefore end: Date) -> String { date(end.addingTimeInterval(-1)) }

    /// `2025-11` → `Nov 2025`; anything else as given.
    static func yearMonth(_ text: String) -> String {
        let parts = text.split(separator: "-")
        guard parts.count == 2, let m = Int(parts[1]) else { return text }
        return "\(month(m)) \(parts[0])"
    }

    /// `2026-11-23 22:54 UTC`.
    static func time(_ d: Date) -> String {
        let seconds = d.epochSeconds
        let minute = ((seconds % 86_400 + 86_400) % 86_400) / 60
        func two(_ n: Int64) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(date(d)) \(two(minute / 60)):\(two(minute % 60)) UTC"
    }

    /// What an erasure did, for people: `14 records removed or anonymised: 3 purchases, 1 consent event, …`.
    static func erasure(_ rows: [String: Int]) -> String {
        let names: [String: (String, String)] = [
            "customers": ("profile", "profiles"), "customer_identifiers": ("identifier", "identifiers"),
            "consent_events": ("consent record", "consent records"), "interactions": ("interaction", "interactions"),
            "transactions": ("purchase or return", "purchases and returns"), "transaction_lines": ("purchase line", "purchase lines"),
            "members": ("membership", "memberships"), "addresses": ("address", "addresses"), "scores": ("score", "scores"),
            "service_requests": ("service request", "service requests"), "logins": ("login", "logins"), "sessions": ("session", "sessions"),
        ]
        let changed = rows.filter { $0.value > 0 }
        let total = changed.values.reduce(0, +)
        guard total > 0 else { return "nothing was left to remove" }
        let parts = changed.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.map { table, n -> String in
            let (one, many) = names[table] ?? (label(table).lowercased(), label(table).lowercased())
            return "\(number(n)) \(n == 1 ? one : many)"
        }
        return "\(number(total)) \(total == 1 ? "record" : "records") removed or anonymised (\(parts.joined(separator: ", ")))"
    }
}
