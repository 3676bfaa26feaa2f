import Customers
import Foundation
import SharedModels

/// Reads of the ledger's catalogue, members and promotions, for the edges (the store stays sealed).
extension PointsLedger {
    public func programs() async throws -> [Program] { try await store.programs() }
    public func memberships(of customer: CustomerID) async throws -> [Member] { try await store.memberships(of: customer) }
    public func memberships(among customers: Set<CustomerID>) async throws -> [CustomerID: [Member]] { try await store.memberships(among: customers).members }
    public func promotions(of program: ProgramID) async throws -> [Promotion] { try await store.promotions(of: program) }
    public func promotions(of program: ProgramID, runningBetween from: Date, and to: Date) async throws -> [Promotion] { try await store.promotions(of: program, runningBetween: from, and: to) }
    public func promotionResults(_ id: PromotionID) async throws -> PromotionResults { try await store.promotionResults(id) }
    public func rewards(of program: ProgramID) async throws -> [Reward] { try await store.rewards(of: program) }
    public func vouchers(of member: MemberID) async throws -> [Voucher] { try await store.vouchers(of: member) }
    public func tierHistory(of member: MemberID) async throws -> [TierChange] { try await store.tierHistory(of: member) }
    public func referrals(by referrer: MemberID) async throws -> [Referral] { try await store.referrals(by: referrer) }
    public func cards(of member: MemberID) async throws -> [MembershipCard] { try await store.cards(of: member) }
    /// The members whose membership number, card number or voucher code is `number` (as an agent
    /// reads it off a card or a receipt: spaces and dashes ignored, letters upper-cased).
    public func members(holding number: String) async throws -> [Member] {
        let compact = String(number.filter { !$0.isWhitespace && $0 != "-" }.prefix(64)).uppercased()
        guard compact.count >= 4 else { return [] }
        return try await store.members(holding: compact)
    }
    public func enrolments(of member: MemberID) async throws -> Set<PromotionID> { try await store.enrolments(of: member) }

    /// Why each promotion of the member's program did or did not give points on `purchase`
    /// (see ``PromotionEngine/explain(_:tier:promotions:usage:applied:)``). Limits are counted
    /// without this purchase; budgets and enrolments are as they stand now.
    public func explainPromotions(for member: MemberID, on purchase: TransactionDetails) async throws -> [PromotionVerdict] {
        guard let m = try await store.member(member) else { throw LoyaltyError.memberNotFound(member) }
        let promotions = try await store.promotions(of: m.programID)
        let applications = try await store.promotionApplications(of: member)
        let enrolled = try await store.enrolments(of: member)
        var usage: [PromotionID: PromotionUsage] = [:]
        for p in promotions {
            let before = applications.filter { $0.promotion == p.id && $0.reference != purchase.externalID }.count
            let left = p.budgetPoints == nil ? nil : try await store.promotionResults(p.id).budgetLeft
            usage[p.id] = PromotionUsage(memberApplications: before, budgetLeft: left, enrolled: enrolled.contains(p.id))
        }
        var applied: [PromotionID: Int64] = [:]
        for a in applications where a.reference == purchase.externalID { applied[a.promotion, default: 0] += a.points }
        return PromotionEngine.explain(purchase, tier: m.tier, promotions: promotions, usage: usage, applied: applied)
    }
}
