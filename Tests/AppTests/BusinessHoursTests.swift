import App
import Customers
import Foundation
import SharedModels
import Storage
import Support
import TestSupport
import Testing

/// SLA targets counted in the desk's working hours: a request on Friday evening is due on
/// Monday, holidays are skipped, urgent ones run round the clock, daylight saving changes are
/// counted by the wall clock.
@Suite struct BusinessHoursTests {
    static let berlin = try! BusinessHours(parsing: "Mon-Fri 09:00-17:00", timeZone: "Europe/Berlin", holidays: "2026-12-25, 2026-12-26")

    static func utc(_ text: String) -> Date { ISO8601DateFormatter().date(from: text)! }

    @Test("a request opened on Friday evening is due on Monday; an urgent one within the hour", arguments: TestEngine.available)
    func desk(engine: TestEngine) async throws {
        let clock = TestClock(Self.utc("2026-11-27T15:00:00Z"))  // Friday 16:00 in Berlin
        try await TestDatabase.withPatron(engine, clock: clock) { p in
            let desk = SupportService(
                store: SQLSupportStore(database: p.database), customers: p.customers, clock: clock.clock, policy: .standard(hours: Self.berlin)
            ) { _ in nil }
            let c = try await p.customers.create(ProfileDraft(firstName: "Eva", lastName: "Roth"))
            let normal = try await desk.open(
                customer: c.id.rawValue, kind: .question, subject: "Statement", description: "Where is it?", channel: .call, by: "a@x.com",
                byCustomer: false)
            #expect(normal.respondBy == Self.utc("2026-11-30T15:00:00Z"))  // 8 working hours: Monday 16:00
            #expect(normal.resolveBy == Self.utc("2026-12-10T15:00:00Z"))  // 72 working hours: 1 on Friday, 8 on each of 8 days, 7 on Thursday 10 December
            let urgent = try await desk.open(
                customer: c.id.rawValue, kind: .problem, priority: .urgent, subject: "Card blocked", description: "At the till now", channel: .call,
                by: "a@x.com", byCustomer: false)
            #expect(urgent.respondBy == clock.now.addingTimeInterval(3_600) && urgent.resolveBy == clock.now.addingTimeInterval(8 * 3_600))
            // Re-prioritising recomputes the targets from the opening time in working hours.
            let raised = try await desk.update(normal.id, priority: .high, queue: nil, status: nil, by: "a@x.com")
            #expect(raised.respondBy == Self.utc("2026-11-30T11:00:00Z"))  // 4 working hours: 1 on Friday, 3 on Monday
        }
    }

    @Test("the environment sets the hours, and says which variable is wrong")
    func environment() throws {
        let s = try Settings.fromEnvironment(["PATRON_SLA_HOURS": "Mon-Fri 09:00-17:00", "PATRON_SLA_TIMEZONE": "Europe/Berlin"])
        #expect(s.serviceHours?.timeZone.identifier == "Europe/Berlin" && s.serviceHours?.days.count == 5)
        #expect(try Settings.fromEnvironment([:]).serviceHours == nil)
        do {
            _ = try Settings.fromEnvironment(["PATRON_SLA_HOURS": "Mon-Fri 9-5"])
            Issue.record("hours that do not read were taken")
        } catch let error as ConfigurationError {
            #expect(error.description == "PATRON_SLA_HOURS: '9-5' is not opening hours such as 09:00-17:00")
        }
        #expect(throws: ConfigurationError.self) { try Settings.fromEnvironment(["PATRON_SLA_TIMEZONE": "Europe/Berlin"]) }
    }
}
