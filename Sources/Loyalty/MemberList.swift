import Foundation
import SharedModels

/// One page of a program's members as staff browse them: by tier, by membership number, sorted
/// by number, tier, enrolment or points, with the total count.
public struct MemberListQuery: Sendable, Equatable {
    public enum Sort: String, Sendable, CaseIterable {
        case number, tier, enrolled, points
    }

    public var program: ProgramID?
    public var tier: String?
    /// The start of a membership number (`NW0000012` finds `NW000001234`), case-insensitive.
    public var number: String?
    public var sort: Sort
    public var descending: Bool
    public var offset: Int
    public var limit: Int

    public init(
        program: ProgramID? = nil, tier: String? = nil, number: String? = nil, sort: Sort = .number, descending: Bool = false, offset: Int = 0,
        limit: Int = 50
    ) {
        self.program = program
        self.tier = tier
        self.number = number
        self.sort = sort
        self.descending = descending
        self.offset = max(0, min(offset, 10_000_000))
        self.limit = max(1, min(limit, 500))
    }
}

/// A member in a list: the membership and its reward points balance (pending points included).
public struct MemberListRow: Sendable, Equatable {
    public var member: Member
    public var points: Int64

    public init(member: Member, points: Int64) {
        self.member = member
        self.points = points
    }
}

extension PointsLedger {
    /// A page of members with the count of all that match.
    public func memberList(_ query: MemberListQuery) async throws -> CountedPage<MemberListRow> {
        var q = query
        q.number = query.number?.trimmingSpaces().uppercased().filter { $0.isLetter || $0.isNumber }
        if q.number?.isEmpty ?? false { q.number = nil }
        return try await store.memberList(q)
    }
}
