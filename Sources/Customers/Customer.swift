import Foundation
import SharedModels

public typealias CustomerID = ID<Customer>

/// A person the company has a relationship with: their profile, where they belong (household,
/// B2B account) and whether the record is still the live one or was merged into another.
public struct Customer: Sendable, Equatable, Identifiable {
    public enum Status: String, Sendable, Codable { case active, merged, erased }

    public var id: CustomerID
    public var profile: Profile
    /// Card numbers that identify this customer (issued by the loyalty program or imported).
    public var cards: [String]
    public var householdID: HouseholdID?
    public var accountID: AccountID?
    /// What the person does for their B2B account (e.g. "buyer").
    public var contactRole: String?
    public var status: Status
    /// The surviving record, when this one was merged into it.
    public var mergedInto: CustomerID?
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: CustomerID, profile: Profile, cards: [String] = [], householdID: HouseholdID? = nil, accountID: AccountID? = nil,
        contactRole: String? = nil, status: Status = .active, mergedInto: CustomerID? = nil, createdAt: Date, updatedAt: Date
    ) {
        self.id = id
        self.profile = profile
        self.cards = cards
        self.householdID = householdID
        self.accountID = accountID
        self.contactRole = contactRole
        self.status = status
        self.mergedInto = mergedInto
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    /// "First Last", or whichever part exists.
    public var displayName: String { profile.displayName }

    /// The profile's completeness, 0–100. See ``Completeness``.
    public var completeness: Completeness { Completeness(of: profile) }
}

/// The editable facts about a person. Every value is already validated and normalised: emails
/// lower-case, phones E.164, country codes upper-case.
public struct Profile: Sendable, Equatable, Codable {
    public var firstName: String?
    public var lastName: String?
    public var birthDate: LocalDate?
    /// The first is the primary address.
    public var emails: [EmailAddress]
    /// The first is the primary number.
    public var phones: [PhoneNumber]
    /// The first is the primary address.
    public var addresses: [PostalAddress]
    /// BCP 47 language tag, e.g. `en` or `fr-CA`.
    public var language: String?
    public var lifeStage: LifeStage?
    public var homeStore: String?
    public var location: GeoPoint?
    /// Company-specific fields; keys are lower_snake_case.
    public var attributes: [String: String]

    public init(
        firstName: String? = nil, lastName: String? = nil, birthDate: LocalDate? = nil, emails: [EmailAddress] = [],
        phones: [PhoneNumber] = [], addresses: [PostalAddress] = [], language: String? = nil, lifeStage: LifeStage? = nil,
        homeStore: String? = nil, location: GeoPoint? = nil, attributes: [String: String] = [:]
    ) {
        self.firstName = firstName
        self.lastName = lastName
        self.birthDate = birthDate
        self.emails = emails
        self.phones = phones
        self.addresses = addresses
        self.language = language
        self.lifeStage = lifeStage
        self.homeStore = homeStore
        self.location = location
        self.attributes = attributes
    }

    public var displayName: String {
        [firstName, lastName].compactMap { $0 }.joined(separator: " ")
    }

    /// This profile completed with what `other` knows and this one does not: single values are
    /// kept where present and filled where blank; emails, phones, addresses and attributes are
    /// united (this profile's first, so its primary values stay primary).
    public func filled(from other: Profile) -> Profile {
        var result = self
        result.firstName = firstName ?? other.firstName
        result.lastName = lastName ?? other.lastName
        result.birthDate = birthDate ?? other.birthDate
        result.emails = Self.union(emails, other.emails)
        result.phones = Self.union(phones, other.phones)
        result.addresses = Self.union(addresses, other.addresses)
        result.language = language ?? other.language
        result.lifeStage = lifeStage ?? other.lifeStage
        result.homeStore = homeStore ?? other.homeStore
        result.location = location ?? other.location
        result.attributes = other.attributes.merging(attributes) { _, mine in mine }
        return result
    }

    private static func union<T: Equatable>(_ first: [T], _ second: [T]) -> [T] {
        first + second.filter { !first.contains($0) }
    }
}

public enum LifeStage: String, Sendable, Codable, CaseIterable {
    case student
    case youngAdult = "young_adult"
    case family
    case emptyNester = "empty_nester"
    case retired
}

public struct PostalAddress: Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, Codable, CaseIterable { case home, work, billing, shipping }

    public var kind: Kind
    public var line1: String
    public var line2: String?
    public var postalCode: String?
    public var city: String?
    public var region: String?
    /// ISO 3166-1 alpha-2, upper-case.
    public var country: String?

    public init(
        kind: Kind = .home, line1: String, line2: String? = nil, postalCode: String? = nil, city: String? = nil,
        region: String? = nil, country: String? = nil
    ) {
        self.kind = kind
        self.line1 = line1
        self.line2 = line2
        self.postalCode = postalCode
        self.city = city
        self.region = region
        self.country = country
    }
}

/// A point on Earth in decimal degrees (WGS 84).
public struct GeoPoint: Sendable, Equatable, Codable {
    public var latitude: Double
    public var longitude: Double

    public init(latitude: Double, longitude: Double) {
        self.latitude = latitude
        self.longitude = longitude
    }
}
