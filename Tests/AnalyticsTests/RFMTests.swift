import Foundation
import Testing

@testable import Analytics

@Suite struct RFMTests {
    @Test func quintilesSplitEvenlyAndTiesShare() {
        #expect(RFM.quintiles((1...10).map(Double.init)) == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5])
        #expect(RFM.quintiles([3, 1, 1, 1, 2]) == [5, 1, 1, 1, 4])
    }

    @Test func scoresAndSegmentsOnCDNOW() throws {
        // CDNOW as of the calibration end: recency in days, frequency in purchase days, revenue.
        let rows = try SharedData.table("cdnow_customers_summary_with_transactions.csv")
        let activity = rows.map { row -> CustomerActivity in
            let x = Int(row["x"]!)!
            let t = Double(row["T"]!)!
            let tx = Double(row["t_x"]!)!
            return CustomerActivity(
                customer: Int64(row["ID"]!)!, daysSinceLastPurchase: Int(((t - tx) * 7).rounded()), purchases: x + 1,
                revenue: Int64((Double(x) * Double(row["zbar"]!)! * 100).rounded()))
        }
        let scores = RFM.score(activity)
        #expect(scores.count == 2357)
        // Customer 1 bought on three days, the last eight weeks before the end: loyal-ish, not lost.
        let one = try #require(scores[1])
        #expect(one.recency >= 3 && one.frequency >= 4)
        // Most CDNOW customers never came back: the biggest segment is hibernating.
        var counts: [RFMSegment: Int] = [:]
        for s in scores.values { counts[s.segment, default: 0] += 1 }
        #expect(counts.max { $0.value < $1.value }?.key == .hibernating)
        // Champions bought recently and often.
        for (id, s) in scores where s.segment == .champions {
            let a = activity.first { $0.customer == id }!
            #expect(a.purchases >= 2 && a.daysSinceLastPurchase! < 120)
        }
    }

    @Test func paretoFindsTheEightyTwentyPoint() {
        // 20 customers with 80 each and 80 with 5 each: the top 20 % bring 1,600 of 2,000.
        let curve = ParetoCurve(revenues: Array(repeating: 80, count: 20) + Array(repeating: 5, count: 80))
        #expect(curve.top20RevenueShare == 0.8)
        #expect(curve.customerShareFor80 == 0.2)
        #expect(curve.points.first!.revenueShare == 0 && curve.points.last!.revenueShare == 1)
        #expect(zip(curve.points, curve.points.dropFirst()).allSatisfy { $0.revenueShare <= $1.revenueShare })
    }

    @Test func valueTiersFollowCumulativeValue() {
        let tiers = ValueTier.assign([1: 500, 2: 300, 3: 100, 4: 60, 5: 40, 6: 0])
        #expect(tiers[1] == .a)
        #expect(tiers[2] == .b)
        #expect(tiers[3] == .c)
        #expect(tiers[4] == .c)
        #expect(tiers[5] == .d)
        #expect(tiers[6] == .d)
    }
}
