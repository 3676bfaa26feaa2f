import Foundation

/// When a job is due, in UTC. Due times are aligned (every 60 s falls on whole minutes, daily on
/// one time of day), so that servers side by side agree on "the run due at 02:00" and the jobs
/// table holds one run per due time.
public enum JobSchedule: Sendable, Equatable, CustomStringConvertible {
    /// Every `seconds`, at multiples of it since 1970-01-01T00:00Z.
    case every(seconds: Int)
    /// Every day at `second` seconds after midnight UTC.
    case daily(second: Int)
    /// On `day` (1…28) of every month at `second` seconds after midnight UTC.
    case monthly(day: Int, second: Int)

    /// The first due time strictly after `date`.
    public func next(after date: Date) -> Date {
        let t = Int64(date.timeIntervalSince1970.rounded(.down))
        switch self {
        case .every(let seconds):
            let s = Int64(max(1, seconds))
            return Date(timeIntervalSince1970: TimeInterval((t / s + 1) * s))
        case .daily(let second):
            let dayStart = (t / 86_400) * 86_400
            let today = dayStart + Int64(second)
            return Date(timeIntervalSince1970: TimeInterval(today > t ? today : today + 86_400))
        case .monthly(let day, let second):
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = TimeZone(identifier: "UTC")!
            var parts = calendar.dateComponents([.year, .month], from: date)
            for _ in 0..<2 {
                parts.day = min(max(day, 1), 28)
                parts.hour = 0
                if let start = calendar.date(from: parts), start.addingTimeInterval(TimeInterval(second)) > date {
                    return start.addingTimeInterval(TimeInterval(second))
                }
                parts.month = (parts.month ?? 1) + 1
            }
            return date.addingTimeInterval(31 * 86_400)
        }
    }

    public var description: String {
        func clock(_ second: Int) -> String { String(format: "%02d:%02d UTC", second / 3600, second % 3600 / 60) }
        switch self {
        case .every(let seconds) where seconds % 3600 == 0: return seconds == 3600 ? "hourly" : "every \(seconds / 3600) h"
        case .every(let seconds) where seconds % 60 == 0: return seconds == 60 ? "every minute" : "every \(seconds / 60) min"
        case .every(let seconds): return "every \(seconds) s"
        case .daily(let second): return "daily at \(clock(second))"
        case .monthly(let day, let second): return "monthly on day \(day) at \(clock(second))"
        }
    }
}
