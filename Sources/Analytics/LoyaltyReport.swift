import Foundation

/// Loyalty analytics per program: tier mix and migration, points liability and breakage,
/// redemption, earn by outlet and burn by reward, and promotion effectiveness.
public struct LoyaltyReport: Sendable, Codable, Hashable {
    public struct Count: Sendable, Codable, Hashable {
        public var key: String
        public var count: Int64
        public init(key: String, count: Int64) {
            self.key = key
            self.count = count
        }
    }

    public struct Migration: Sendable, Codable, Hashable {
        public var from: String
        public var to: String
        public var members: Int
        public init(from: String, to: String, members: Int) {
            self.from = from
            self.to = to
            self.members = members
        }
    }

    /// A promotion's members against comparable members who did not get it: members of the same
    /// program who bought in the 90 days before it started, compared on revenue per member
    /// during the promotion and on their own revenue before it (so a promotion that only reached
    /// big spenders shows no false lift).
    public struct PromotionEffect: Sendable, Codable, Hashable {
        public var code: String
        public var name: String
        public var members: Int
        public var points: Int64
        public var revenuePerMember: Double
        public var revenuePerMemberBefore: Double
        public var comparableMembers: Int
        public var comparableRevenuePerMember: Double
        public var comparableRevenuePerMemberBefore: Double
        /// (promoted change) − (comparable change) in revenue per member, minor units: difference in differences.
        public var incrementalRevenuePerMember: Double

        public init(
            code: String, name: String, members: Int, points: Int64, revenuePerMember: Double, revenuePerMemberBefore: Double, comparableMembers: Int,
            comparableRevenuePerMember: Double, comparableRevenuePerMemberBefore: Double
        ) {
            self.code = code
            self.name = name
            self.members = members
            self.points = points
            self.revenuePerMember = revenuePerMember
            self.revenuePerMemberBefore = revenuePerMemberBefore
            self.comparableMembers = comparableMembers
            self.comparableRevenuePerMember = comparableRevenuePerMember
            self.comparableRevenuePerMemberBefore = comparableRevenuePerMemberBefore
            self.incrementalRevenuePerMember =
                (revenuePerMember - revenuePerMemberBefore) - (comparableRevenuePerMember - comparableRevenuePerMemberBefore)
        }
    }

    public struct Program: Sendable, Codable, Hashable {
        public var code: String
        public var name: String
        public var members: Int
        /// Members who earned in the last 365 days.
        public var activeMembers: Int
        public var tiers: [Count]
        /// Tier changes in the last 365 days (upgrades, downgrades at reviews).
        public var migrations: [Migration]
        public var pointsIssued: Int64
        public var pointsRedeemed: Int64
        public var pointsExpired: Int64
        public var pointsOutstanding: Int64
        /// Outstanding points at the program's point value, minor units of `currency`.
        public var liability: Int64
        public var currency: String
        /// Expired ÷ issued, and redeemed ÷ issued.
        public var breakageRate: Double
        public var redemptionRate: Double
        /// Points earned by outlet (store or partner code; "unknown" when none).
        public var earnedByOutlet: [Count]
        /// Points spent by reward code.
        public var redeemedByReward: [Count]
        public var promotions: [PromotionEffect]
        public init(
            code: String, name: String, members: Int, activeMembers: Int, tiers: [Count], migrations: [Migration], pointsIssued: Int64,
            pointsRedeemed: Int64,
            pointsExpired: Int64, pointsOutstanding: Int64, liability: Int64, currency: String, earnedByOutlet: [Count], redeemedByReward: [Count],
            promotions: [PromotionEffect]
        ) {
            self.code = code
            self.name = name
            self.members = members
            self.activeMembers = activeMembers
            self.tiers = tiers
            self.migrations = migrations
            self.pointsIssued = pointsIssued
            self.pointsRedeemed = pointsRedeemed
            self.pointsExpired = pointsExpired
            self.pointsOutstanding = pointsOutstanding
            self.liability = liability
            self.currency = currency
            self.breakageRate = pointsIssued > 0 ? Double(pointsExpired) / Double(pointsIssued) : 0
            self.redemptionRate = pointsIssued > 0 ? Double(pointsRedeemed) / Double(pointsIssued) : 0
            self.earnedByOutlet = earnedByOutlet
            self.redeemedByReward = redeemedByReward
            self.promotions = promotions
        }
    }

    public var generatedAt: Date
    public var programs: [Program]

    public init(generatedAt: Date, programs: [Program]) {
        self.generatedAt = generatedAt
        self.programs = programs
    }
}
