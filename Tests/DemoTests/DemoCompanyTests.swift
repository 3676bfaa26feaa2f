import App
import Demo
import Foundation
import Loyalty
import SharedModels
import TestSupport
import Testing

/// The demo company a newcomer opens first: the same seed gives the same company on either engine,
/// its ledger balances, and it has every kind of thing the console shows.
@Suite struct DemoCompanyTests {
    static let until = Date(epochSeconds: 1_767_225_600)  // 2026-01-01

    @Test("the same seed gives the same company, with a ledger that verifies", arguments: TestEngine.available)
    func deterministic(engine: TestEngine) async throws {
        func load() async throws -> (String, Int64, Int) {
            try await TestDatabase.withPatron(engine) { patron in
                let summary = try await DemoCompany(customers: 80, seed: 4, until: Self.until).load(into: patron)
                let report = try await patron.loyalty.verify()
                #expect(report.postingsTotal == 0 && report.violations.isEmpty, "\(report.violations)")
                return (summary.description, report.memberPoints, report.transfers)
            }
        }
        let first = try await load()
        let second = try await load()
        #expect(first == second)
    }

    @Test("the demo has what each role looks at: members, purchases, promotions, requests, opportunities")
    func breadth() async throws {
        try await TestDatabase.withPatron(.sqlite) { patron in
            let s = try await DemoCompany(customers: 120, seed: 1, until: Self.until).load(into: patron)
            #expect(s.customers >= 120 && s.members > 0 && s.transactions > s.customers, "\(s)")
            #expect(s.promotions > 0 && s.redemptions > 0 && s.serviceRequests > 0 && s.opportunities > 0 && s.households > 0)
        }
    }
}
