import App
import Foundation
import SQLKit
@testable import Storage
import TestSupport
import Testing

/// Regression (#18): counting a group's uses of promotions with a per-member limit read every
/// application of those promotions and filtered by member — its cost grew with every purchase
/// ever rewarded. It must be served by the applications' member index.
@Suite struct PromotionUsageIndexTests {
    @Test("a member's uses of limited promotions are read by member, not by scanning the promotions' applications", .enabled(if: TestEngine.available.contains(.postgres)))
    func byMember() async throws {
        try await TestDatabase.withPatron(.postgres, clock: TestClock()) { p in
            // 20 promotions applied to 1,000 members five times each: 100,000 applications (their
            // promotions and members are left out: foreign keys are not checked for this session).
            try await p.database.write { db in
                try await db.raw("SET LOCAL session_replication_role = replica").run()
                try await db.raw(
                    """
                    INSERT INTO promotion_applications (promotion_id, member_id, reference, points, amount_minor, applied_at)
                    SELECT pr, m, 'R' || pr || '-' || m || '-' || n, 10, 1000, 0
                    FROM generate_series(1, 20) pr, generate_series(1, 1000) m, generate_series(1, 5) n
                    """
                ).run()
                try await db.raw("ANALYZE promotion_applications").run()
            }
            let query = AccrualWriter.promotionUses(Array(1...20), by: [3, 17, 170, 333, 404, 512, 640, 777, 901, 999])
            let plan = try await p.database.read { db in
                try await db.raw("EXPLAIN (ANALYZE, FORMAT JSON) " + query).first()!.decode(column: "QUERY PLAN", as: String.self)
            }
            #expect(plan.contains("promotion_applications_member"), "\(plan)")
            #expect(plan.range(of: #""Rows Removed by Filter": [1-9]"#, options: .regularExpression) == nil, "no application read is thrown away: \(plan)")
            let counts = try await p.database.read { db in try await db.raw(query).all() }
            #expect(counts.count == 200)
            #expect(try counts.allSatisfy { try $0.decode(column: "n", as: Int64.self) == 5 })
        }
    }
}
