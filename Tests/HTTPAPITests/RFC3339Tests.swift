import Foundation
import PropertyBased
import Testing

@testable import HTTPAPI

@Suite("RFC 3339 timestamps in the API")
struct RFC3339Tests {
    let transcoder = RFC3339Transcoder()

    @Test("Any whole-second instant prints as Foundation prints it and reads back to itself")
    func roundTrip() async {
        let formatter = ISO8601DateFormatter()
        await propertyCheck(input: Gen.int(in: -2_208_988_800...4_102_444_800)) { seconds in
            let date = Date(timeIntervalSince1970: TimeInterval(seconds))
            let text = try transcoder.encode(date)
            #expect(text == formatter.string(from: date))
            #expect(try transcoder.decode(text) == date)
        }
    }

    @Test("Offsets, fractions and lower-case separators are read; bad dates are refused")
    func variants() throws {
        #expect(try transcoder.decode("2026-03-01T10:30:00+01:00") == transcoder.decode("2026-03-01T09:30:00Z"))
        #expect(try transcoder.decode("2026-03-01t09:30:00.250z").timeIntervalSince1970.truncatingRemainder(dividingBy: 1) == 0.25)
        #expect(try transcoder.decode("2024-02-29T00:00:00-05:30") == transcoder.decode("2024-02-29T05:30:00Z"))
        for bad in ["2026-02-30T00:00:00Z", "2026-13-01T00:00:00Z", "2026-03-01", "2026-03-01T09:30:00", "2026-03-01T09:30:00+0100", "x"] {
            #expect(throws: DecodingError.self, "\(bad)") { try transcoder.decode(bad) }
        }
    }
}
