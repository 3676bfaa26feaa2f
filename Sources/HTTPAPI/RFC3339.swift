import Foundation
import OpenAPIRuntime
import SharedModels

/// RFC 3339 timestamps without a formatter: `2026-03-01T09:30:00Z`, with optional fractional
/// seconds and a numeric offset on input. The runtime's default goes through ICU and cost a
/// tenth of a transaction request's time.
struct RFC3339Transcoder: DateTranscoder {
    func encode(_ date: Date) throws -> String {
        let seconds = Int64(date.timeIntervalSince1970.rounded(.down))
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let time = seconds - days * 86_400
        let (year, month, day) = LocalDate.civil(fromDays: days)
        func two(_ n: Int64) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let y = String(year)
        return String(repeating: "0", count: max(0, 4 - y.count)) + y
            + "-\(two(month))-\(two(day))T\(two(time / 3600)):\(two(time / 60 % 60)):\(two(time % 60))Z"
    }

    func decode(_ text: String) throws -> Date {
        let b = Array(text.utf8)
        func number(_ range: Range<Int>) -> Int64? {
            guard range.upperBound <= b.count else { return nil }
            var n: Int64 = 0
            for i in range {
                guard (48...57).contains(b[i]) else { return nil }
                n = n * 10 + Int64(b[i] - 48)
            }
            return n
        }
        guard b.count >= 20, b[4] == 45, b[7] == 45, b[10] == 84 || b[10] == 116 || b[10] == 32, b[13] == 58, b[16] == 58,
            let year = number(0..<4), let month = number(5..<7), let day = number(8..<10), let hour = number(11..<13),
            let minute = number(14..<16), let second = number(17..<19), (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60,
            second < 61
        else { throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "\(text) is not an RFC 3339 date-time")) }
        var index = 19
        var fraction = 0.0
        if index < b.count, b[index] == 46 {
            index += 1
            var scale = 0.1
            while index < b.count, (48...57).contains(b[index]) {
                fraction += Double(b[index] - 48) * scale
                scale /= 10
                index += 1
            }
        }
        var offset: Int64 = 0
        if index < b.count, b[index] == 90 || b[index] == 122 {
            index += 1
        } else if index + 6 == b.count, b[index] == 43 || b[index] == 45, b[index + 3] == 58, let h = number(index + 1..<index + 3),
            let m = number(index + 4..<index + 6)
        {
            offset = (h * 3600 + m * 60) * (b[index] == 43 ? 1 : -1)
            index += 6
        }
        guard index == b.count else {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "\(text) is not an RFC 3339 date-time"))
        }
        let days = LocalDate.days(fromCivil: year, month, day)
        guard LocalDate.civil(fromDays: days) == (year, month, day) else {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "\(text) is not a calendar date"))
        }
        return Date(timeIntervalSince1970: Double(days * 86_400 + hour * 3600 + minute * 60 + second - offset) + fraction)
    }
}
