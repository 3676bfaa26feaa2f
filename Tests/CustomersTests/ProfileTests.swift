import Customers
import Foundation
import SharedModels
import Testing

@Suite("Profiles: validation, completeness, merging")
struct ProfileTests {
    let today = LocalDate("2026-06-01")!

    @Test("A valid draft is normalised")
    func normalises() throws {
        let draft = ProfileDraft(
            firstName: " Ann ", lastName: "Lee", birthDate: "1990-04-01", emails: ["ANN@Example.com", "ann@example.com"], phones: ["(206) 555-0100"],
            addresses: [.init(line1: "1 Main St", postalCode: "98101", city: "Seattle", country: "us")], language: "en-US", lifeStage: "family")
        let profile = try draft.profile(today: today)
        #expect(profile.firstName == "Ann")
        #expect(profile.emails.map(\.value) == ["ann@example.com"])
        #expect(profile.phones.map(\.value) == ["+12065550100"])
        #expect(profile.addresses.first?.country == "US")
        #expect(profile.lifeStage == .family)
    }

    @Test("Every bad field is named at once, and nothing is produced")
    func namesEveryBadField() {
        let draft = ProfileDraft(
            firstName: "Ann", birthDate: "2030-01-01", emails: ["nope"], phones: ["12"], addresses: [.init(line1: "", country: "USA")],
            language: "English", lifeStage: "teen", location: GeoPoint(latitude: 91, longitude: 0), attributes: ["Bad Key": "x"])
        #expect {
            try draft.profile(today: today)
        } throws: { error in
            guard case CustomerError.invalid(let errors) = error else { return false }
            let fields = Set(errors.map(\.field))
            return fields == [
                "birthDate", "email", "phone", "addresses[0].line1", "addresses[0].country", "language", "lifeStage", "location.latitude",
                "attributes.Bad Key",
            ]
        }
    }

    @Test("A person needs a first or last name")
    func needsAName() {
        #expect(throws: CustomerError.invalid([FieldError("lastName", "a person needs a first or last name")])) {
            try ProfileDraft(emails: ["a@b.com"]).profile(today: today)
        }
    }

    @Test("An update changes only the fields it carries")
    func partialUpdate() throws {
        let base = try ProfileDraft(firstName: "Ann", lastName: "Lee", emails: ["ann@example.com"], attributes: ["tier_hint": "gold"]).profile(
            today: today)
        let updated = try ProfileDraft(lastName: "Lee-Park", attributes: ["shoe_size": "38"]).profile(applyingTo: base, today: today)
        #expect(updated.firstName == "Ann")
        #expect(updated.lastName == "Lee-Park")
        #expect(updated.emails == base.emails)
        #expect(updated.attributes == ["tier_hint": "gold", "shoe_size": "38"])
    }

    @Test("Completeness weighs contact details most and lists what is missing")
    func completeness() throws {
        let bare = try ProfileDraft(lastName: "Lee").profile(today: today)
        #expect(Completeness(of: bare).score == 0)
        #expect(Completeness(of: bare).missing.first == "email")
        let full = try ProfileDraft(
            firstName: "Ann", lastName: "Lee", birthDate: "1990-01-01", emails: ["a@b.com"], phones: ["2065550100"],
            addresses: [.init(line1: "1 Main", postalCode: "1", city: "X", country: "US")], language: "en", lifeStage: "family", homeStore: "S1",
            location: GeoPoint(latitude: 1, longitude: 1)
        ).profile(today: today)
        #expect(Completeness(of: full).score == 100)
        #expect(Completeness(of: full).missing.isEmpty)
    }

    @Test("A merged profile keeps the survivor's values and gains the duplicate's others")
    func filled() throws {
        let survivor = try ProfileDraft(firstName: "Ann", lastName: "Lee", emails: ["ann@example.com"]).profile(today: today)
        let duplicate = try ProfileDraft(firstName: "Anne", lastName: "Lee", birthDate: "1990-01-01", emails: ["al@work.com"], phones: ["2065550100"])
            .profile(today: today)
        let merged = survivor.filled(from: duplicate)
        #expect(merged.firstName == "Ann")
        #expect(merged.birthDate == LocalDate("1990-01-01"))
        #expect(merged.emails.map(\.value) == ["ann@example.com", "al@work.com"])
        #expect(merged.phones.count == 1)
    }
}

@Suite("Matching and duplicates")
struct MatchingTests {
    let ann = CustomerID(1), bob = CustomerID(2)

    @Test("The first identifier kind in priority that points at one customer wins")
    func priority() {
        let matcher = IdentityMatcher()
        let card = CustomerIdentifier(kind: .card, value: "NW1")
        let email = CustomerIdentifier(kind: .email, value: "a@b.com")
        #expect(matcher.match([email, card], owners: [card: [ann], email: [bob]]) == .matched(ann, by: .card))
    }

    @Test("A shared identifier is not unique and does not match")
    func sharedIdentifierSkipped() {
        let email = CustomerIdentifier(kind: .email, value: "family@b.com")
        let phone = CustomerIdentifier(kind: .phone, value: "+12065550100")
        let matcher = IdentityMatcher()
        #expect(matcher.match([email, phone], owners: [email: [ann, bob], phone: [bob]]) == .matched(bob, by: .phone))
        guard case .unmatched(let reason) = matcher.match([email], owners: [email: [ann, bob]]) else {
            Issue.record("a shared email must not match")
            return
        }
        #expect(reason.contains("2 customers share"))
    }

    @Test("Nothing to match on leaves the item not matched")
    func nothing() {
        #expect(IdentityMatcher().match([], owners: [:]) == .unmatched(reason: "no identifier given"))
    }

    @Test("The search box tells emails, phones, cards and names apart")
    func search() {
        let email = CustomerSearch("Ann@Example.com")
        #expect(email.identifiers.contains(CustomerIdentifier(kind: .email, value: "ann@example.com")))
        #expect(email.words.isEmpty)
        let phone = CustomerSearch("(206) 555-0100")
        #expect(phone.identifiers.contains(CustomerIdentifier(kind: .phone, value: "+12065550100")))
        let name = CustomerSearch("ann lee")
        #expect(name.words == ["ann", "lee"])
        #expect(CustomerSearch("NW00000042").identifiers.contains(CustomerIdentifier(kind: .card, value: "NW00000042")))
    }

    @Test("Jaro–Winkler finds typos and separates different people")
    func similarity() {
        #expect(NameSimilarity.jaroWinkler("martha", "marhta") > 0.96)
        #expect(NameSimilarity.jaroWinkler("jon smith", "john smith") > 0.9)
        #expect(NameSimilarity.jaroWinkler("john smith", "mary smith") < 0.9)
        #expect(NameSimilarity.jaroWinkler("", "") == 1)
        let pairs = [
            NamePair(first: ann, firstName: "ann lee", firstStreet: "1 main st", second: bob, secondName: "ann leee", secondStreet: "1 main st."),
            NamePair(
                first: ann, firstName: "ann lee", firstStreet: "1 main st", second: CustomerID(3), secondName: "bob lee", secondStreet: "1 main st"),
        ]
        #expect(NameSimilarity.candidates(from: pairs).map(\.otherCustomerID) == [bob])
    }

    @Test("Transactions whose lines do not add up are refused")
    func transactionValidation() {
        let details = TransactionDetails(
            externalID: "T1", occurredAt: Date(), amount: Money(minorUnits: 1000, currency: "USD"), lines: [.init(product: "Socks", amount: 900)])
        #expect(throws: CustomerError.self) { try details.validated() }
        let negative = TransactionDetails(externalID: "T2", occurredAt: Date(), amount: Money(minorUnits: -1, currency: "usd"))
        #expect {
            try negative.validated()
        } throws: { error in
            guard case CustomerError.invalid(let errors) = error else { return false }
            return Set(errors.map(\.field)) == ["amount", "currency"]
        }
    }
}
