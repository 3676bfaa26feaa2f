import Foundation
import Loyalty
import PropertyBased
import SharedModels
import Testing

@Suite("Lot allocation")
struct LotAllocationTests {
    static func lot(_ id: Int64, remaining: Int64, expiresInDays: Int?, availableDay: Int = 0) -> Lot {
        Lot(
            id: LotID(id), account: .member(MemberID(1), .reward), earnedBy: TransferID(id), points: remaining, remaining: remaining,
            availableAt: Date(epochSeconds: Int64(availableDay) * 86_400), expiresAt: expiresInDays.map { Date(epochSeconds: Int64($0) * 86_400) })
    }

    @Test("Spending takes the earliest-expiring lots first, and lots that never expire last")
    func order() {
        let lots = [
            Self.lot(1, remaining: 50, expiresInDays: nil), Self.lot(2, remaining: 30, expiresInDays: 400),
            Self.lot(3, remaining: 20, expiresInDays: 100),
        ]
        let (takings, shortfall) = LotAllocation.take(60, from: lots)
        #expect(takings.map(\.lot) == [LotID(3), LotID(2), LotID(1)])
        #expect(takings.map(\.points) == [20, 30, 10])
        #expect(shortfall == 0)
        #expect(LotAllocation.take(200, from: lots).shortfall == 100)
    }

    @Test("Takings never exceed a lot, add up to what was asked or all there is, and respect the order")
    func properties() async {
        let lots = Gen.int(in: 0...500).array(of: 0...12)
        await propertyCheck(input: lots, Gen.int(in: 0...3000)) { amounts, requested in
            let input = amounts.enumerated().map {
                Self.lot(Int64($0.offset + 1), remaining: Int64($0.element), expiresInDays: $0.offset % 4 == 0 ? nil : 10 * ($0.element % 7))
            }
            let (takings, shortfall) = LotAllocation.take(Int64(requested), from: input)
            let total = input.reduce(0) { $0 + $1.remaining }
            #expect(takings.reduce(0) { $0 + $1.points } + shortfall == Int64(requested))
            #expect(shortfall == max(0, Int64(requested) - total))
            for taking in takings {
                let lot = input.first { $0.id == taking.lot }!
                #expect(taking.points > 0 && taking.points <= lot.remaining)
            }
            // Every lot before the last one touched is emptied.
            let ordered = LotAllocation.order(input).filter { $0.remaining > 0 }
            for (index, taking) in takings.dropLast().enumerated() {
                #expect(ordered[index].id == taking.lot)
                #expect(taking.points == ordered[index].remaining)
            }
        }
    }
}
