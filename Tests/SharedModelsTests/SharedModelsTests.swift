import Foundation
import SharedModels
import Testing

@Suite("Money, dates and contact values")
struct SharedModelsTests {
    @Test(
        "Decimal amounts parse to exact minor units",
        arguments: [
            ("12.50", "USD", Int64(1250)), ("12.5", "USD", 1250), ("-3", "USD", -300), ("0.07", "USD", 7), ("1234", "JPY", 1234),
            ("1.234", "KWD", 1234),
        ])
    func parsesAmounts(text: String, currency: String, minor: Int64) {
        #expect(Money.parseMinorUnits(Substring(text), currency: currency) == minor)
    }

    @Test(
        "Malformed amounts, too many decimals and amounts beyond 10^12 minor units are refused (the last found by the dates fuzz target)",
        arguments: ["", "abc", "1.2.3", "1.234", "--1", "1e5", "99999999999999999999", "10000000000.01", "-10000000000.01"])
    func refusesBadAmounts(text: String) {
        #expect(Money.parseMinorUnits(Substring(text), currency: "USD") == nil)
    }

    @Test("The first of a month, moved forward or back across years")
    func firstOfMonth() {
        let d = LocalDate("2026-01-31")!
        #expect(d.firstOfMonth().description == "2026-01-01")
        #expect(d.firstOfMonth(addingMonths: 1).description == "2026-02-01")
        #expect(d.firstOfMonth(addingMonths: -1).description == "2025-12-01")
        #expect(d.firstOfMonth(addingMonths: -13).description == "2024-12-01")
        #expect(d.firstOfMonth(addingMonths: 24).description == "2028-01-01")
    }

    @Test("Money prints with the currency's decimals")
    func formatsMoney() {
        #expect(Money(minorUnits: 1250, currency: "USD").description == "12.50 USD")
        #expect(Money(minorUnits: -5, currency: "EUR").description == "-0.05 EUR")
        #expect(Money(minorUnits: 500, currency: "JPY").description == "500 JPY")
    }

    @Test("Dates are read exactly and impossible dates are refused")
    func localDates() {
        #expect(LocalDate("2024-02-29")?.description == "2024-02-29")
        #expect(LocalDate("2023-02-29") == nil)
        #expect(LocalDate("2023-1-01") == nil)
        #expect(LocalDate(Date(timeIntervalSince1970: 86_400 * 365)).description == "1971-01-01")
    }

    @Test("Emails are trimmed and lower-cased; malformed ones are refused")
    func emails() {
        #expect(EmailAddress("  Ann.Lee@Example.COM ")?.value == "ann.lee@example.com")
        for bad in ["ann", "ann@", "@example.com", "ann@example", "a b@example.com", "ann@@example.com", "ann@example..com"] {
            #expect(EmailAddress(bad) == nil, "\(bad)")
        }
    }

    @Test("Phones become E.164 with the default country code")
    func phones() {
        #expect(PhoneNumber("(206) 555-0100")?.value == "+12065550100")
        #expect(PhoneNumber("1 206 555 0100")?.value == "+12065550100")
        #expect(PhoneNumber("+44 20 7946 0958")?.value == "+442079460958")
        #expect(PhoneNumber("0044 20 7946 0958")?.value == "+442079460958")
        #expect(PhoneNumber("020 7946 0958", defaultCountryCode: "44")?.value == "+442079460958")
        #expect(PhoneNumber("12") == nil)
        #expect(PhoneNumber("206-555-CALL") == nil)
    }

    @Test("Cursors round-trip and foreign text is refused")
    func cursors() {
        #expect(Cursor(Cursor(after: 42).encoded)?.after == 42)
        #expect(Cursor("42") == nil)
        #expect(Cursor("c-1") == nil)
        #expect(PageSize(nil).value == 50)
        #expect(PageSize(10_000).value == 500)
    }
}
