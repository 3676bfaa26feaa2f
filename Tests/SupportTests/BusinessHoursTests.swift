import Foundation
import SharedModels
import Support
import Testing

/// Working hours without a database: what SLA targets are counted in.
@Suite struct BusinessHoursTests {
    static let berlin = try! BusinessHours(parsing: "Mon-Fri 09:00-17:00", timeZone: "Europe/Berlin", holidays: "2026-12-25, 2026-12-26")

    static func utc(_ text: String) -> Date { ISO8601DateFormatter().date(from: text)! }

    @Test(
        "hours that do not read are refused, naming the part",
        arguments: [
            ("Mon-Fri 9-17", "UTC", "", "'9-17' is not opening hours such as 09:00-17:00"),
            ("Funday 09:00-17:00", "UTC", "", "'Funday' is not a day or a range of days such as Mon-Fri"),
            ("Mon-Fri 17:00-09:00", "UTC", "", "'17:00-09:00' is not opening hours such as 09:00-17:00"),
            ("Mon-Fri 09:00-17:00; Fri 10:00-12:00", "UTC", "", "a day appears twice in 'Mon-Fri 09:00-17:00; Fri 10:00-12:00'"),
            ("Mon-Fri 09:00-17:00", "Mars/Base", "", "'Mars/Base' is not a time zone such as Europe/Berlin"),
            ("Mon-Fri 09:00-17:00", "UTC", "2026-02-30", "holiday '2026-02-30' is not a date such as 2026-12-25"),
            ("", "UTC", "", "name at least one day, such as Mon-Fri 09:00-17:00"),
        ])
    func refused(hours: String, zone: String, holidays: String, message: String) {
        #expect(throws: BusinessHoursError(message)) { try BusinessHours(parsing: hours, timeZone: zone, holidays: holidays) }
    }

    @Test("working time skips nights, weekends and holidays")
    func known() throws {
        let h = Self.berlin
        // Friday 16:00 in Berlin (CET, UTC+1) plus 8 working hours: 1 on Friday, 7 on Monday.
        #expect(h.adding(8 * 3_600, to: Self.utc("2026-11-27T15:00:00Z")) == Self.utc("2026-11-30T15:00:00Z"))
        // Thursday 24 December 16:30 plus 2 h: 30 min that day, Christmas and the weekend off, 90 min on Monday.
        #expect(h.adding(2 * 3_600, to: Self.utc("2026-12-24T15:30:00Z")) == Self.utc("2026-12-28T09:30:00Z"))
        // Saturday: the clock starts on Monday at nine.
        #expect(h.adding(3_600, to: Self.utc("2026-11-28T10:00:00Z")) == Self.utc("2026-11-30T09:00:00Z"))
        // Exactly the rest of a day ends at closing time, not the next morning.
        #expect(h.adding(3_600, to: Self.utc("2026-11-27T15:00:00Z")) == Self.utc("2026-11-27T16:00:00Z"))
        #expect(h.seconds(from: Self.utc("2026-11-27T15:00:00Z"), to: Self.utc("2026-11-30T15:00:00Z")) == 8 * 3_600)
        // Round the clock, adding is wall time even across the spring change (a 23-hour Sunday).
        let always = try BusinessHours(parsing: "Mon-Sun 00:00-24:00", timeZone: "Europe/Berlin")
        #expect(always.adding(86_400, to: Self.utc("2026-03-28T11:00:00Z")) == Self.utc("2026-03-29T11:00:00Z"))
        #expect(always.seconds(from: Self.utc("2026-03-28T23:00:00Z"), to: Self.utc("2026-03-29T22:00:00Z")) == 23 * 3_600)
    }

    @Test("adding working time and counting it agree, and agree with a minute-by-minute count")
    func agree() {
        let h = try! BusinessHours(
            parsing: "Mon-Thu 08:30-17:00; Fri 08:30-13:00; Sat 10:00-14:00", timeZone: "America/New_York", holidays: "2026-11-26")
        var random = SeededGenerator(seed: 42)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = h.timeZone
        for _ in 0..<150 {
            // Minute-aligned starts through the year (both DST changes), up to five working days.
            let start = Date(timeIntervalSince1970: 1_767_225_600 + Double(Int.random(in: 0..<525_600, using: &random)) * 60)
            let seconds = Double(Int.random(in: 0...(5 * 8 * 60), using: &random)) * 60
            let end = h.adding(seconds, to: start)
            #expect(end >= start)
            #expect(h.seconds(from: start, to: end) == seconds, "from \(start) adding \(seconds)")
            guard seconds <= 2 * 8 * 3_600 else { continue }
            var minutes = 0
            var t = start
            while t < end {
                let c = calendar.dateComponents([.weekday, .hour, .minute, .year, .month, .day], from: t)
                let m = c.hour! * 60 + c.minute!
                let local = LocalDate(year: c.year!, month: c.month!, day: c.day!)!
                if let w = h.days[c.weekday!], !h.holidays.contains(local), m >= w.open, m < w.close { minutes += 1 }
                t = t.addingTimeInterval(60)
            }
            #expect(Double(minutes * 60) == seconds, "brute force from \(start) to \(end)")
        }
    }
}
