import Customers
import Foundation
import SharedModels

public typealias ProgramID = ID<Program>
public typealias MemberID = ID<Member>

/// A loyalty scheme: its point types, what a point is worth, and how points age.
public struct Program: Sendable, Equatable {
    public var id: ProgramID
    public var code: String
    public var name: String
    /// What one reward point costs the company, for liability and simulation. Minor units; may be fractional
    /// per point, so it is stated per 1,000 points.
    public var valuePerThousandPoints: Money
    /// How points expire; with `expiryMonths` nil they never do.
    public enum ExpiryStyle: Sendable, Equatable {
        /// Each lot expires `expiryMonths` after it was earned.
        case afterEarning
        /// Each lot expires on the first given day of the year (e.g. 31 December) at least
        /// `expiryMonths` after it was earned.
        case fixedDate(month: Int, day: Int)
        /// Every lot expires `expiryMonths` after the member's latest purchase: activity extends them all.
        case rolling

        /// `after_earning`, `fixed:12-31`, `rolling`.
        public var code: String {
            switch self {
            case .afterEarning: "after_earning"
            case .fixedDate(let month, let day): "fixed:\(month < 10 ? "0" : "")\(month)-\(day < 10 ? "0" : "")\(day)"
            case .rolling: "rolling"
            }
        }

        public init?(code: String) {
            switch code {
            case "after_earning": self = .afterEarning
            case "rolling": self = .rolling
            default:
                let parts = code.split(separator: ":")
                guard parts.count == 2, parts[0] == "fixed", let date = LocalDate("2000-" + parts[1]) else { return nil }
                self = .fixedDate(month: date.month, day: date.day)
            }
        }
    }

    /// Points expire this many months after they are earned (or see ``expiryStyle``); nil means never.
    public var expiryMonths: Int?
    public var expiryStyle: ExpiryStyle
    /// Points from a purchase are pending (not spendable) for this many days: the return window.
    public var pendingDays: Int
    /// Whether a claw-back may take a member's balance below zero. If not, what cannot be taken is recorded as a debt.
    public var allowNegativeBalance: Bool
    /// How members earn; nil until configured (then purchases earn nothing).
    public var earningRules: EarningRules?
    /// The tier ladder; nil for a program without tiers.
    public var tierPolicy: TierPolicy?
    /// Points a member may give other members per calendar year; nil when members cannot transfer points.
    public var transferLimitPerYear: Int64?
    /// Points the referrer and the friend each earn after the friend's first purchase; nil for no refer-a-friend.
    public var referralPoints: Int64?
    public var createdAt: Date

    public init(
        id: ProgramID, code: String, name: String, valuePerThousandPoints: Money, expiryMonths: Int?, pendingDays: Int,
        allowNegativeBalance: Bool, earningRules: EarningRules? = nil, tierPolicy: TierPolicy? = nil, transferLimitPerYear: Int64? = nil,
        referralPoints: Int64? = nil, expiryStyle: ExpiryStyle = .afterEarning, createdAt: Date
    ) {
        self.expiryStyle = expiryStyle
        self.transferLimitPerYear = transferLimitPerYear
        self.referralPoints = referralPoints
        self.earningRules = earningRules
        self.tierPolicy = tierPolicy
        self.id = id
        self.code = code
        self.name = name
        self.valuePerThousandPoints = valuePerThousandPoints
        self.expiryMonths = expiryMonths
        self.pendingDays = pendingDays
        self.allowNegativeBalance = allowNegativeBalance
        self.createdAt = createdAt
    }

    /// When points earned at `date` expire under this program.
    public func expiry(ofPointsEarnedAt date: Date) -> Date? {
        guard let months = expiryMonths else { return nil }
        let after = Calendar.utc.date(byAdding: .month, value: months, to: date)!
        guard case .fixedDate(let month, let day) = expiryStyle else { return after }
        // The first such day at or after `after`, at midnight UTC.
        let year = Calendar.utc.component(.year, from: after)
        for candidate in [year, year + 1] {
            let date = Calendar.utc.date(from: DateComponents(year: candidate, month: month, day: day))!
            if date >= after { return date }
        }
        return after
    }

    /// When points earned at `date` become spendable.
    public func availability(ofPointsEarnedAt date: Date) -> Date {
        date.addingTimeInterval(TimeInterval(pendingDays) * 86_400)
    }
}

/// A customer enrolled in a program.
public struct Member: Sendable, Equatable {
    public var id: MemberID
    public var programID: ProgramID
    public var customerID: CustomerID
    /// The number printed on cards and statements.
    public var number: String
    /// The member's tier, nil in a program without tiers.
    public var tier: String?
    public var enrolledAt: Date

    public init(id: MemberID, programID: ProgramID, customerID: CustomerID, number: String, tier: String? = nil, enrolledAt: Date) {
        self.tier = tier
        self.id = id
        self.programID = programID
        self.customerID = customerID
        self.number = number
        self.enrolledAt = enrolledAt
    }
}

/// A currency of a program. Qualifying points count toward tier; reward points can be spent.
public enum PointType: String, Sendable, Codable, CaseIterable {
    case reward
    case qualifying
}

/// A change of a member's tier, with why.
public struct TierChange: Sendable, Equatable {
    public var from: String?
    public var to: String
    public var reason: String
    public var at: Date

    public init(from: String?, to: String, reason: String, at: Date) {
        self.from = from
        self.to = to
        self.reason = reason
        self.at = at
    }
}

public typealias ReferralID = ID<Referral>

/// A member's invitation of a friend; both earn the program's referral points after the friend's first purchase.
public struct Referral: Sendable, Equatable {
    public var id: ReferralID
    public var programID: ProgramID
    public var referrer: MemberID
    public var friend: CustomerID
    public var createdAt: Date
    /// When the friend's first purchase paid the bonuses; nil while pending.
    public var completedAt: Date?

    public init(id: ReferralID, programID: ProgramID, referrer: MemberID, friend: CustomerID, createdAt: Date, completedAt: Date? = nil) {
        self.id = id
        self.programID = programID
        self.referrer = referrer
        self.friend = friend
        self.createdAt = createdAt
        self.completedAt = completedAt
    }
}
