import Foundation

/// The stored scores and analyses, for the edges (the store stays sealed).
extension CustomerIntelligence {
    /// A customer's scores from the last run (nil: not scored, or objected to profiling).
    public func scores(of customer: Int64) async throws -> CustomerScores? { try await store.scores(of: customer) }
    public func latestRun() async throws -> ScoringRun? { try await store.latestRun() }
    public func scoredCustomers(segment: String?, valueTier: String?, minimumChurnRisk: Double?, offset: Int, limit: Int) async throws -> [CustomerScores] { try await store.scoredCustomers(segment: segment, valueTier: valueTier, minimumChurnRisk: minimumChurnRisk, offset: offset, limit: limit) }
    public func loyaltyReport(now: Date) async throws -> LoyaltyReport { try await store.loyaltyReport(from: nil, to: now) }
    /// The loyalty report over a period (the console's date range).
    public func loyaltyReport(from: Date, to: Date) async throws -> LoyaltyReport { try await store.loyaltyReport(from: from, to: to) }
    public func rfmAnalysis() async throws -> RFMAnalysis { try await store.rfmAnalysis() }
    public func clvDistribution(bounds: [Int64]) async throws -> [Int] { try await store.clvDistribution(bounds: bounds) }
    public func sales(between bounds: [Int64]) async throws -> [(amount: Int64, purchases: Int)] { try await store.sales(between: bounds) }
}
