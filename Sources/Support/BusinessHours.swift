import Foundation
import SharedModels

/// When the desk works: opening hours per weekday in the desk's time zone, and holidays.
/// SLA targets of all but round-the-clock priorities count only these hours, so a request that
/// comes in on Friday evening is due on Monday, not on Saturday.
public struct BusinessHours: Sendable, Equatable {
    /// Minutes after local midnight, `open < close`.
    public struct Window: Sendable, Equatable {
        public var open: Int
        public var close: Int

        public init(open: Int, close: Int) {
            self.open = open
            self.close = close
        }
    }

    /// Calendar weekday (1 Sunday … 7 Saturday) → that day's window; a missing day is closed.
    public var days: [Int: Window]
    public var timeZone: TimeZone
    public var holidays: Set<LocalDate>

    public init(days: [Int: Window], timeZone: TimeZone, holidays: Set<LocalDate> = []) {
        self.days = days
        self.timeZone = timeZone
        self.holidays = holidays
    }

    static let names = ["sun": 1, "mon": 2, "tue": 3, "wed": 4, "thu": 5, "fri": 6, "sat": 7]

    /// Parses `Mon-Fri 09:00-17:00; Sat 10:00-14:00`. Throws a sentence naming what does not read.
    public init(parsing text: String, timeZone: String = "UTC", holidays: String = "") throws(BusinessHoursError) {
        guard let zone = TimeZone(identifier: timeZone) else { throw BusinessHoursError("'\(timeZone)' is not a time zone such as Europe/Berlin") }
        var days: [Int: Window] = [:]
        for part in text.split(separator: ";").map({ $0.trimmingCharacters(in: .whitespaces) }) where !part.isEmpty {
            let pieces = part.split(separator: " ", omittingEmptySubsequences: true)
            guard pieces.count == 2 else { throw BusinessHoursError("'\(part)' is not days and hours such as Mon-Fri 09:00-17:00") }
            let range = pieces[0].lowercased().split(separator: "-").map(String.init)
            guard (1...2).contains(range.count), let first = Self.names[range[0]], let last = Self.names[range.last!] else {
                throw BusinessHoursError("'\(pieces[0])' is not a day or a range of days such as Mon-Fri")
            }
            let hours = pieces[1].split(separator: "-").map(String.init)
            guard hours.count == 2, let open = Self.minutes(hours[0]), let close = Self.minutes(hours[1]), open < close else {
                throw BusinessHoursError("'\(pieces[1])' is not opening hours such as 09:00-17:00")
            }
            var day = first
            while true {
                guard days[day] == nil else { throw BusinessHoursError("a day appears twice in '\(text)'") }
                days[day] = Window(open: open, close: close)
                if day == last { break }
                day = day % 7 + 1
            }
        }
        guard !days.isEmpty else { throw BusinessHoursError("name at least one day, such as Mon-Fri 09:00-17:00") }
        var dates: Set<LocalDate> = []
        for h in holidays.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !h.isEmpty {
            guard let d = LocalDate(h) else { throw BusinessHoursError("holiday '\(h)' is not a date such as 2026-12-25") }
            dates.insert(d)
        }
        self.init(days: days, timeZone: zone, holidays: dates)
    }

    /// `09:00` → 540; `24:00` is the end of the day.
    static func minutes(_ text: String) -> Int? {
        let p = text.split(separator: ":")
        guard p.count == 2, p[1].count == 2, let h = Int(p[0]), let m = Int(p[1]), (0...24).contains(h), (0..<60).contains(m), h * 60 + m <= 1_440
        else { return nil }
        return h * 60 + m
    }

    private var calendar: Calendar {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = timeZone
        return c
    }

    /// The open interval of the local day that contains `date`, or nil when the desk is closed that day.
    private func window(on dayStart: Date, _ calendar: Calendar) -> (open: Date, close: Date)? {
        let parts = calendar.dateComponents([.year, .month, .day, .weekday], from: dayStart)
        guard let w = days[parts.weekday!], let y = parts.year, let m = parts.month, let d = parts.day,
            let local = LocalDate(year: y, month: m, day: d), !holidays.contains(local)
        else { return nil }
        func at(_ minutes: Int) -> Date {
            // Wall-clock time on that day; across a DST change the day is shorter or longer.
            calendar.date(bySettingHour: minutes / 60 % 24, minute: minutes % 60, second: 0, of: dayStart).map {
                minutes == 1_440 ? calendar.date(byAdding: .day, value: 1, to: dayStart)! : $0
            } ?? dayStart
        }
        return (at(w.open), at(w.close))
    }

    /// `start` plus `seconds` of working time.
    public func adding(_ seconds: TimeInterval, to start: Date) -> Date {
        var remaining = max(0, seconds)
        let calendar = calendar
        var day = calendar.startOfDay(for: start)
        var cursor = start
        for _ in 0..<(366 * 20) {
            if let (open, close) = window(on: day, calendar), cursor < close {
                let from = max(cursor, open)
                let available = close.timeIntervalSince(from)
                if remaining <= available { return from.addingTimeInterval(remaining) }
                remaining -= available
                cursor = close
            }
            day = calendar.date(byAdding: .day, value: 1, to: day)!
        }
        return cursor.addingTimeInterval(remaining)  // no working hours for 20 years: count wall time
    }

    /// Working seconds between two instants (0 when `end` is not after `start`).
    public func seconds(from start: Date, to end: Date) -> TimeInterval {
        guard end > start else { return 0 }
        let calendar = calendar
        var day = calendar.startOfDay(for: start)
        var total: TimeInterval = 0
        while day < end {
            if let (open, close) = window(on: day, calendar) {
                let a = max(open, start)
                let b = min(close, end)
                if b > a { total += b.timeIntervalSince(a) }
            }
            day = calendar.date(byAdding: .day, value: 1, to: day)!
        }
        return total
    }
}

public struct BusinessHoursError: Error, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
