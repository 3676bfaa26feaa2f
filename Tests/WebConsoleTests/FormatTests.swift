import Foundation
import SharedModels
import Testing

@testable import WebConsole

/// The one formatting layer of the pages: what a person reads instead of raw figures and codes.
@Suite struct FormatTests {
    @Test("money has separators and its currency, exactly from minor units, whatever its size")
    func money() {
        #expect(Format.money(minorUnits: 2_801_278, currency: "USD") == "$28,012.78")
        #expect(Format.money(minorUnits: -350, currency: "EUR") == "-€3.50")
        #expect(Format.money(minorUnits: 5, currency: "GBP") == "£0.05")
        #expect(Format.money(minorUnits: 123_450, currency: "CHF") == "1,234.50 CHF")
        #expect(Format.money(minorUnits: 1_500, currency: "JPY") == "¥1,500")
        #expect(Format.money(minorUnits: .min, currency: "USD") == "-$92,233,720,368,547,758.08")
        #expect(Format.money(minorUnits: .max, currency: "USD") == "$92,233,720,368,547,758.07")
        #expect(Format.money(1_292_699.524, "USD") == "$1,292,699.52")
        #expect(Format.money(.nan, "USD") == "—" && Format.money(1e300, "USD") == "—")
    }

    @Test("numbers are grouped; shares are percentages; nothing traps at the edges")
    func numbers() {
        #expect(Format.number(Int64(0)) == "0" && Format.number(Int64(999)) == "999" && Format.number(Int64(1_000)) == "1,000")
        #expect(Format.number(Int64(-1_234_567)) == "-1,234,567")
        #expect(Format.number(Int64.min) == "-9,223,372,036,854,775,808")
        #expect(Format.pct(0.038) == "3.8%" && Format.pct(.infinity) == "—")
    }

    @Test("codes read as labels: RFM segments, roles, ledger kinds; unknown codes as words")
    func labels() {
        #expect(Format.label("cant_lose") == "Can't lose them")
        #expect(Format.label("at_risk") == "At risk")
        #expect(Format.label("loyalty_manager") == "Loyalty manager")
        #expect(Format.label("accrual") == "Points earned")
        #expect(Format.label("unscored") == "Not scored yet")
        #expect(Format.label("waiting_on_customer") == "Waiting on customer")
        #expect(Format.label("") == "")
    }

    @Test("Regression (#17): an erasure's result reads as records for people, not table names")
    func erasure() {
        let text = Format.erasure(["consent_events": 1, "customer_identifiers": 2, "transactions": 3, "sessions": 0])
        #expect(text == "6 records removed or anonymised (3 purchases and returns, 2 identifiers, 1 consent record)")
        #expect(!text.contains("_"))
        #expect(Format.erasure([:]) == "nothing was left to remove")
    }

    @Test("a refused field is named in words, not as the API spells it")
    func fields() {
        #expect(Format.field("endsAt") == "Ends at")
        #expect(Format.field("imageURL") == "Image URL")
        #expect(Format.field("lines[0].amount") == "Lines 1 amount")
        #expect(Format.field("first_name") == "First name")
        #expect(Format.field("subject") == "Subject")
        #expect(Format.field("pointsPrice") == "Points price")
        #expect(Format.field("URLPath") == "URL path")
        #expect(Format.field("") == "")
    }

    @Test("phones are grouped for reading; anything not E.164 is shown as stored")
    func phones() {
        #expect(Format.phone("+15550100120") == "+1 555-010-0120")
        #expect(Format.phone("+442079460958") == "+44 207 946 0958")
        #expect(Format.phone("555-0120") == "555-0120")
        #expect(Format.phone("+") == "+")
    }

    @Test("dates read as dates; a period ending at midnight ends on the day before")
    func dates() {
        let d = LocalDate(year: 2026, month: 12, day: 5)!
        #expect(Format.date(d) == "5 Dec 2026")
        #expect(Format.month(1) == "Jan" && Format.month(13) == "13")
        #expect(Format.yearMonth("2025-11") == "Nov 2025" && Format.yearMonth("junk") == "junk")
        #expect(Format.lastDay(endingBefore: LocalDate(year: 2027, month: 1, day: 1)!.startOfDay) == "31 Dec 2026")
        #expect(Format.time(d.startOfDay.addingTimeInterval(22 * 3600 + 54 * 60)) == "5 Dec 2026 22:54 UTC")
    }
}
