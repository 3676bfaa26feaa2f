/// How complete a profile is, 0–100, and which facts are missing.
///
/// Weights reflect what marketing and service need most: a way to reach the person (email 20,
/// phone 15, postal address 15), who they are (name 15, birth date 10), and how to serve them
/// (language 5, life stage 5, home store 10, location 5).
public struct Completeness: Sendable, Equatable {
    public let score: Int
    /// Names of missing facts, in weight order: `email`, `phone`, `address`, …
    public let missing: [String]

    public init(of profile: Profile) {
        let checks: [(String, Int, Bool)] = [
            ("email", 20, !profile.emails.isEmpty),
            ("name", 15, profile.firstName != nil && profile.lastName != nil),
            ("phone", 15, !profile.phones.isEmpty),
            ("address", 15, profile.addresses.first.map { $0.postalCode != nil && $0.city != nil && $0.country != nil } ?? false),
            ("birthDate", 10, profile.birthDate != nil),
            ("homeStore", 10, profile.homeStore != nil),
            ("language", 5, profile.language != nil),
            ("lifeStage", 5, profile.lifeStage != nil),
            ("location", 5, profile.location != nil),
        ]
        score = checks.reduce(0) { $0 + ($1.2 ? $1.1 : 0) }
        missing = checks.filter { !$0.2 }.map(\.0)
    }
}
