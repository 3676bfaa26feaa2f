import Foundation
import SharedModels

/// A person's fields as a user typed them (API body, CSV row, console form), before validation.
///
/// On create every present field is validated; on update only present fields change. ``profile(applyingTo:defaultCountryCode:)``
/// returns a normalised ``Profile`` or throws ``CustomerError/invalid(_:)`` listing every bad field.
public struct ProfileDraft: Sendable, Equatable {
    public var firstName: String?
    public var lastName: String?
    public var birthDate: String?
    public var emails: [String]?
    public var phones: [String]?
    public var addresses: [AddressDraft]?
    public var language: String?
    public var lifeStage: String?
    public var homeStore: String?
    public var location: GeoPoint?
    public var attributes: [String: String]?

    public init(
        firstName: String? = nil, lastName: String? = nil, birthDate: String? = nil, emails: [String]? = nil,
        phones: [String]? = nil, addresses: [AddressDraft]? = nil, language: String? = nil, lifeStage: String? = nil,
        homeStore: String? = nil, location: GeoPoint? = nil, attributes: [String: String]? = nil
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

    public struct AddressDraft: Sendable, Equatable {
        public var kind: String?
        public var line1: String
        public var line2: String?
        public var postalCode: String?
        public var city: String?
        public var region: String?
        public var country: String?

        public init(
            kind: String? = nil, line1: String, line2: String? = nil, postalCode: String? = nil, city: String? = nil,
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

    /// Validates this draft over `base` (an empty profile on create, the stored one on update).
    /// - Parameter today: birth dates must not be after it.
    public func profile(applyingTo base: Profile = Profile(), today: LocalDate, defaultCountryCode: String = "1") throws -> Profile {
        var errors: [FieldError] = []
        var result = base

        func text(_ value: String?, _ field: String, max: Int) -> String?? {
            guard let value else { return .none }
            let trimmed = value.trimmingSpaces()
            if trimmed.count > max {
                errors.append(FieldError(field, "must be at most \(max) characters"))
                return .none
            }
            return .some(trimmed.isEmpty ? nil : trimmed)
        }

        if case .some(let value) = text(firstName, "firstName", max: 100) { result.firstName = value }
        if case .some(let value) = text(lastName, "lastName", max: 100) { result.lastName = value }
        if let birthDate {
            let trimmed = birthDate.trimmingSpaces()
            if trimmed.isEmpty {
                result.birthDate = nil
            } else if let date = LocalDate(trimmed) {
                if date > today || date.year < 1900 {
                    errors.append(FieldError("birthDate", "must be between 1900-01-01 and today"))
                } else {
                    result.birthDate = date
                }
            } else {
                errors.append(FieldError("birthDate", "must be a date written YYYY-MM-DD"))
            }
        }
        if let emails {
            var normalised: [EmailAddress] = []
            for (index, raw) in emails.enumerated() where !raw.trimmingSpaces().isEmpty {
                if let email = EmailAddress(raw) {
                    if !normalised.contains(email) { normalised.append(email) }
                } else {
                    errors.append(FieldError(emails.count == 1 ? "email" : "emails[\(index)]", "'\(raw)' is not an email address"))
                }
            }
            result.emails = normalised
        }
        if let phones {
            var normalised: [PhoneNumber] = []
            for (index, raw) in phones.enumerated() where !raw.trimmingSpaces().isEmpty {
                if let phone = PhoneNumber(raw, defaultCountryCode: defaultCountryCode) {
                    if !normalised.contains(phone) { normalised.append(phone) }
                } else {
                    errors.append(FieldError(phones.count == 1 ? "phone" : "phones[\(index)]", "'\(raw)' is not a phone number"))
                }
            }
            result.phones = normalised
        }
        if let addresses {
            result.addresses = []
            for (index, draft) in addresses.enumerated() {
                let prefix = "addresses[\(index)]"
                var address = PostalAddress(line1: draft.line1.trimmingSpaces())
                if let kind = draft.kind {
                    if let value = PostalAddress.Kind(rawValue: kind) {
                        address.kind = value
                    } else {
                        errors.append(FieldError("\(prefix).kind", "must be one of home, work, billing, shipping"))
                    }
                }
                if address.line1.isEmpty || address.line1.count > 200 {
                    errors.append(FieldError("\(prefix).line1", "must be 1 to 200 characters"))
                }
                address.line2 = draft.line2.map { $0.trimmingSpaces() }.flatMap { $0.isEmpty ? nil : $0 }
                address.postalCode = draft.postalCode.map { $0.trimmingSpaces().uppercased() }.flatMap { $0.isEmpty ? nil : $0 }
                address.city = draft.city.map { $0.trimmingSpaces() }.flatMap { $0.isEmpty ? nil : $0 }
                address.region = draft.region.map { $0.trimmingSpaces() }.flatMap { $0.isEmpty ? nil : $0 }
                if let country = draft.country.map({ $0.trimmingSpaces().uppercased() }), !country.isEmpty {
                    if country.count == 2 && country.allSatisfy({ $0.isASCII && $0.isLetter }) {
                        address.country = country
                    } else {
                        errors.append(FieldError("\(prefix).country", "must be an ISO 3166-1 alpha-2 code such as US"))
                    }
                }
                result.addresses.append(address)
            }
        }
        if let language {
            let trimmed = language.trimmingSpaces()
            if trimmed.isEmpty {
                result.language = nil
            } else if Self.isLanguageTag(trimmed) {
                result.language = trimmed
            } else {
                errors.append(FieldError("language", "must be a BCP 47 tag such as en or fr-CA"))
            }
        }
        if let lifeStage {
            if lifeStage.isEmpty {
                result.lifeStage = nil
            } else if let value = LifeStage(rawValue: lifeStage) {
                result.lifeStage = value
            } else {
                errors.append(FieldError("lifeStage", "must be one of \(LifeStage.allCases.map(\.rawValue).joined(separator: ", "))"))
            }
        }
        if case .some(let value) = text(homeStore, "homeStore", max: 64) { result.homeStore = value }
        if let location {
            if !(-90...90).contains(location.latitude) { errors.append(FieldError("location.latitude", "must be between -90 and 90")) }
            if !(-180...180).contains(location.longitude) {
                errors.append(FieldError("location.longitude", "must be between -180 and 180"))
            }
            result.location = location
        }
        if let attributes {
            for (key, value) in attributes.sorted(by: { $0.key < $1.key }) {
                if !Self.isAttributeKey(key) {
                    errors.append(FieldError("attributes.\(key)", "keys are 1 to 64 characters of a-z, 0-9 and _"))
                } else if value.count > 1000 {
                    errors.append(FieldError("attributes.\(key)", "must be at most 1000 characters"))
                }
            }
            result.attributes = base.attributes.merging(attributes) { _, new in new }.filter { !$0.value.isEmpty }
        }
        if result.firstName == nil && result.lastName == nil && errors.isEmpty {
            errors.append(FieldError("lastName", "a person needs a first or last name"))
        }
        if !errors.isEmpty { throw CustomerError.invalid(errors) }
        return result
    }

    static func isLanguageTag(_ text: String) -> Bool {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard let first = parts.first, (2...3).contains(first.count), first.allSatisfy({ $0.isASCII && $0.isLowercase }) else {
            return false
        }
        return parts.dropFirst().allSatisfy { (2...8).contains($0.count) && $0.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) } }
    }

    static func isAttributeKey(_ key: String) -> Bool {
        (1...64).contains(key.count) && key.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
    }
}
