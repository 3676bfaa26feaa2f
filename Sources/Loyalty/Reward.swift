import Customers
import Foundation
import SharedModels

public typealias RewardID = ID<Reward>
public typealias VoucherID = ID<Voucher>

/// Something members can spend points on, listed in a program's catalogue.
public struct Reward: Sendable, Equatable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case product
        case upgrade
        case partnerVoucher = "partner_voucher"
        case charity
    }

    public var id: RewardID
    public var programID: ProgramID
    /// Unique within the program, e.g. `COFFEE`.
    public var code: String
    public var name: String
    public var kind: Kind
    public var pointsPrice: Int64
    /// With points-plus-cash, the cash a member pays on top; nil when points alone pay.
    public var cashPrice: Money?
    /// Only members of these tiers may redeem it; empty for everyone.
    public var tiers: [String]
    /// Vouchers left; nil for unlimited.
    public var stock: Int?
    /// A voucher is valid this many days after it is issued.
    public var validityDays: Int
    public var active: Bool
    /// What members read about it in the portal; nil when the name says it all.
    public var description: String?
    /// A picture of it: an https address, or a path on this server (`/static/…`).
    public var imageURL: String?

    public init(
        id: RewardID, programID: ProgramID, code: String, name: String, kind: Kind, pointsPrice: Int64, cashPrice: Money? = nil,
        tiers: [String] = [], stock: Int? = nil, validityDays: Int = 90, active: Bool = true, description: String? = nil, imageURL: String? = nil
    ) {
        self.id = id
        self.programID = programID
        self.code = code
        self.name = name
        self.kind = kind
        self.pointsPrice = pointsPrice
        self.cashPrice = cashPrice
        self.tiers = tiers
        self.stock = stock
        self.validityDays = validityDays
        self.active = active
        self.description = description
        self.imageURL = imageURL
    }

    /// Checks what the portal shows beside the name: a description of at most 1,000 characters
    /// and a picture at an https address or on this server. Anything else (a `javascript:` or
    /// `data:` address, a quote that would end the attribute) is refused.
    public static func validate(description: String?, imageURL: String?) throws {
        var errors: [FieldError] = []
        if let description, description.count > 1000 { errors.append(FieldError("description", "must be at most 1,000 characters")) }
        if let url = imageURL {
            let safe = url.count <= 500 && (url.hasPrefix("https://") || (url.hasPrefix("/static/") && !url.contains("..")))
                && !url.contains(where: { $0.isWhitespace || "\"'<>\\".contains($0) })
            if !safe { errors.append(FieldError("imageURL", "must be an https:// address or a /static/ path")) }
        }
        if !errors.isEmpty { throw LoyaltyError.invalid(errors) }
    }

    /// Checks the fields a loyalty manager sets; throws ``LoyaltyError/invalid(_:)``.
    public static func validate(code: String, name: String, pointsPrice: Int64, cashPrice: Money?, stock: Int?, validityDays: Int) throws {
        var errors: [FieldError] = []
        if !(2...40).contains(code.count) || !code.allSatisfy({ $0.isASCII && ($0.isUppercase || $0.isNumber || $0 == "-" || $0 == "_") }) {
            errors.append(FieldError("code", "must be 2 to 40 upper-case letters, digits, - or _"))
        }
        if !(1...200).contains(name.trimmingSpaces().count) { errors.append(FieldError("name", "must be 1 to 200 characters")) }
        if pointsPrice < 0 { errors.append(FieldError("pointsPrice", "must not be negative")) }
        if let cash = cashPrice, cash.minorUnits < 0 || !Money.isCurrencyCode(cash.currency) {
            errors.append(FieldError("cashPrice", "must be a non-negative amount in an ISO 4217 currency"))
        }
        if let stock, stock < 0 { errors.append(FieldError("stock", "must not be negative, or absent for unlimited")) }
        if !(1...3650).contains(validityDays) { errors.append(FieldError("validityDays", "must be 1 to 3650")) }
        if !errors.isEmpty { throw LoyaltyError.invalid(errors) }
    }
}

/// What a member holds after redeeming a reward (or after a promotion gave one): a code to show
/// at the till or to a partner, valid until it expires.
public struct Voucher: Sendable, Equatable {
    public enum Status: String, Sendable, Codable, CaseIterable {
        case issued
        /// Honoured: the member received the reward.
        case used
        /// Cancelled before use; the points went back to the member.
        case cancelled
    }

    public var id: VoucherID
    /// What the member shows, e.g. `NW-7KQ2-M9XD`.
    public var code: String
    public var rewardID: RewardID
    public var memberID: MemberID
    /// Points paid (0 for a voucher a promotion gave).
    public var points: Int64
    public var cash: Money?
    public var status: Status
    public var issuedAt: Date
    public var expiresAt: Date
    /// When it was used or cancelled.
    public var closedAt: Date?
    /// The promotion that gave it, if any.
    public var promotionID: PromotionID?

    public init(
        id: VoucherID, code: String, rewardID: RewardID, memberID: MemberID, points: Int64, cash: Money?, status: Status, issuedAt: Date,
        expiresAt: Date, closedAt: Date? = nil, promotionID: PromotionID? = nil
    ) {
        self.id = id
        self.code = code
        self.rewardID = rewardID
        self.memberID = memberID
        self.points = points
        self.cash = cash
        self.status = status
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.closedAt = closedAt
        self.promotionID = promotionID
    }

    public func isExpired(at date: Date) -> Bool { status == .issued && expiresAt <= date }

    /// A new voucher code: program code, then 8 characters from an alphabet without look-alikes (0/O, 1/I).
    public static func newCode(program: String) -> String {
        let alphabet = Array("23456789ABCDEFGHJKLMNPQRSTUVWXYZ")
        var generator = SystemRandomNumberGenerator()
        let body = String((0..<8).map { _ in alphabet[Int(generator.next(upperBound: UInt64(alphabet.count)))] })
        return "\(program)-\(body.prefix(4))-\(body.suffix(4))"
    }
}

public typealias CardID = ID<MembershipCard>

/// A membership card: a free lifetime card, or a paid card valid for some years. Its number is
/// also a customer identifier, so a purchase presented with the card finds its member.
public struct MembershipCard: Sendable, Equatable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case free
        case paid
    }

    public enum Status: String, Sendable, Codable, CaseIterable {
        case active
        /// Lost or stolen: it no longer identifies the member.
        case blocked
        /// A new card took its place.
        case replaced
    }

    public var id: CardID
    public var memberID: MemberID
    /// The membership number and a two-digit sequence, e.g. `NW00000004202`.
    public var number: String
    public var kind: Kind
    /// What a paid card cost.
    public var fee: Money?
    public var issuedAt: Date
    /// Nil for a lifetime card.
    public var validUntil: Date?
    public var status: Status
    /// Why it was blocked or replaced.
    public var reason: String?

    public init(
        id: CardID, memberID: MemberID, number: String, kind: Kind, fee: Money?, issuedAt: Date, validUntil: Date?, status: Status, reason: String?
    ) {
        self.id = id
        self.memberID = memberID
        self.number = number
        self.kind = kind
        self.fee = fee
        self.issuedAt = issuedAt
        self.validUntil = validUntil
        self.status = status
        self.reason = reason
    }
}
