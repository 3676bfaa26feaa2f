import Foundation
import SharedModels
import Testing

@testable import Partners

/// The Partners room without a database: an in-memory store with the figures a period would have.
actor MemoryPartnerStore: PartnerStore {
    var saved: [String: Partner] = [:]
    var periodFigures = (purchases: 0, returns: 0, sales: Int64(0), pointsIssued: Int64(0), cofundedPoints: Int64(0), vouchersHonoured: 0)
    var frozen: [Settlement] = []

    func setFigures(pointsIssued: Int64, cofundedPoints: Int64, vouchersHonoured: Int) {
        periodFigures = (3, 1, 12_345, pointsIssued, cofundedPoints, vouchersHonoured)
    }

    func upsert(_ partner: Partner) { saved[partner.code] = partner }
    func partner(_ code: String) -> Partner? { saved[code] }
    func partners() -> [Partner] { saved.values.sorted { $0.code < $1.code } }
    func partners(codes: Set<String>) -> [Partner] { codes.compactMap { saved[$0] } }
    func figures(_ partner: Partner, from: Date, to: Date) -> (
        purchases: Int, returns: Int, sales: Int64, pointsIssued: Int64, cofundedPoints: Int64, vouchersHonoured: Int
    ) { periodFigures }
    func receipts(_ partner: Partner, reference: String?, limit: Int) -> [Receipt] { [] }
    func insertSettlement(_ statement: PartnerStatement, by: String, at: Date) throws -> Settlement {
        if frozen.contains(where: { $0.statement.partner == statement.partner && $0.statement.from == statement.from }) {
            throw PartnerError.conflict("closed already")
        }
        let s = Settlement(id: Int64(frozen.count + 1), statement: statement, status: .open, closedBy: by, closedAt: at, paidBy: nil, paidAt: nil)
        frozen.append(s)
        return s
    }
    func settlements(partner: String) -> [Settlement] { frozen.filter { $0.statement.partner == partner } }
    func markPaid(_ id: Int64, by: String, at: Date) -> Settlement? { nil }
}

@Suite struct PartnerTermsTests {
    static let now = Date(timeIntervalSince1970: 1_767_225_600)  // 2026-01-01
    func service() -> (PartnerService, MemoryPartnerStore) {
        let store = MemoryPartnerStore()
        return (PartnerService(store: store, clock: Clock { Self.now }), store)
    }

    @Test("codes are letters, digits, - and _, upper-cased, de-duplicated and sorted")
    func codes() throws {
        #expect(try PartnerService.codes([" c2", "c1", "C2", ""], field: "outlets") == ["C1", "C2"])
        #expect(throws: PartnerError.invalid(field: "rewards", reason: "'A B' is not a code (letters, digits, - or _)")) {
            try PartnerService.codes(["a b"], field: "rewards")
        }
        #expect(throws: PartnerError.self) { try PartnerService.codes([String(repeating: "A", count: 41)], field: "outlets") }
        #expect(!PartnerService.isCode("CAFÉ"))
    }

    @Test("a statement charges issued and co-funded points at the partner's price, rounded half away from zero, less voucher payouts")
    func statement() async throws {
        let (partners, store) = service()
        _ = try await partners.save(
            code: "cafe", name: "Café", outlets: ["C1"], rewards: [], currency: "eur", pricePerThousandPoints: 805, payoutPerVoucher: 250)
        await store.setFigures(pointsIssued: 1_500, cofundedPoints: -300, vouchersHonoured: 4)
        let s = try await partners.statement("CAFE", from: LocalDate(year: 2025, month: 12, day: 1)!, to: LocalDate(year: 2026, month: 1, day: 1)!)
        #expect(s.pointsCharge == Money(minorUnits: 1_208, currency: "EUR"))  // 1,500 × 0.805 = 1,207.5 → 1,208
        #expect(s.cofundingCharge == Money(minorUnits: -242, currency: "EUR"))  // −241.5 → −242
        #expect(s.voucherPayout == Money(minorUnits: 1_000, currency: "EUR"))
        #expect(s.net == Money(minorUnits: 1_208 - 242 - 1_000, currency: "EUR"))
    }

    @Test("Regression: prices beyond any real price are refused, and a statement too large for its figures is an error, not a crash")
    func hugeFigures() async throws {
        let (partners, store) = service()
        await #expect(throws: PartnerError.invalid(field: "pricePerThousandPoints", reason: "must be at most 1000000000000 minor units")) {
            try await partners.save(
                code: "BIG", name: "Big", outlets: ["B1"], rewards: [], currency: "USD", pricePerThousandPoints: .max, payoutPerVoucher: 0)
        }
        await #expect(throws: PartnerError.invalid(field: "payoutPerVoucher", reason: "must be at most 1000000000000 minor units")) {
            try await partners.save(
                code: "BIG", name: "Big", outlets: ["B1"], rewards: [], currency: "USD", pricePerThousandPoints: 1, payoutPerVoucher: .max)
        }
        _ = try await partners.save(
            code: "BIG", name: "Big", outlets: ["B1"], rewards: [], currency: "USD", pricePerThousandPoints: Money.maximumMinorUnits,
            payoutPerVoucher: Money.maximumMinorUnits)
        // Before the fix, points × price trapped (the process died) on figures like these.
        await store.setFigures(pointsIssued: .max / 2, cofundedPoints: .max / 2, vouchersHonoured: .max)
        await #expect(throws: PartnerError.self) {
            try await partners.statement("BIG", from: LocalDate(year: 2025, month: 12, day: 1)!, to: LocalDate(year: 2026, month: 1, day: 1)!)
        }
    }

    @Test("a month can be settled once it has ended, and only once")
    func settle() async throws {
        let (partners, _) = service()
        _ = try await partners.save(code: "CAFE", name: "Café", outlets: ["C1"], rewards: [], currency: "USD", pricePerThousandPoints: 800, payoutPerVoucher: 0)
        await #expect(throws: PartnerError.invalid(field: "month", reason: "a month can be settled once it has ended")) {
            try await partners.settle("CAFE", month: LocalDate(year: 2026, month: 1, day: 1)!, by: "lm@x")
        }
        let s = try await partners.settle("CAFE", month: LocalDate(year: 2025, month: 12, day: 15)!, by: "lm@x")
        #expect(s.statement.from == LocalDate(year: 2025, month: 12, day: 1)! && s.statement.to == LocalDate(year: 2026, month: 1, day: 1)!)
        await #expect(throws: PartnerError.conflict("closed already")) {
            try await partners.settle("CAFE", month: LocalDate(year: 2025, month: 12, day: 1)!, by: "lm@x")
        }
        await #expect(throws: PartnerError.notFound("NOPE")) { try await partners.statement("NOPE", from: .init(year: 2025, month: 1, day: 1)!, to: .init(year: 2025, month: 2, day: 1)!) }
    }
}
