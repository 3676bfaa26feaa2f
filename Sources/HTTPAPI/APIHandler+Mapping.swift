import Access
import Customers
import Foundation
import Loyalty
import SharedModels

typealias Schemas = Components.Schemas

/// Converts between two string enums that share raw values (the API's and the domain's).
func convert<A: RawRepresentable, B: RawRepresentable>(_ value: A) -> B where A.RawValue == String, B.RawValue == String {
    guard let converted = B(rawValue: value.rawValue) else { preconditionFailure("\(B.self) has no case \(value.rawValue)") }
    return converted
}

extension Schemas.Customer {
    init(_ c: Customer) {
        let p = c.profile
        self.init(
            id: c.id.rawValue, kind: .person, firstName: p.firstName, lastName: p.lastName, displayName: p.displayName,
            birthDate: p.birthDate?.description, email: p.emails.first?.value, emails: p.emails.map(\.value), phone: p.phones.first?.value,
            phones: p.phones.map(\.value), cards: c.cards, addresses: p.addresses.map(Schemas.Address.init), language: p.language,
            lifeStage: p.lifeStage?.rawValue, homeStore: p.homeStore,
            location: p.location.map { .init(latitude: $0.latitude, longitude: $0.longitude) },
            attributes: .init(additionalProperties: p.attributes), householdId: c.householdID?.rawValue, accountId: c.accountID?.rawValue,
            contactRole: c.contactRole, status: .init(rawValue: c.status.rawValue)!, mergedInto: c.mergedInto?.rawValue,
            completeness: c.completeness.score, createdAt: c.createdAt, updatedAt: c.updatedAt)
    }
}

extension Schemas.Customer {
    /// What a partner may see of a member: who they are and their cards, nothing else.
    static func redacted(_ c: Customer) -> Schemas.Customer {
        .init(
            id: c.id.rawValue, kind: .person, displayName: c.displayName, emails: [], phones: [], cards: c.cards, addresses: [],
            attributes: .init(), status: .init(rawValue: c.status.rawValue)!, completeness: 0, createdAt: c.createdAt, updatedAt: c.updatedAt)
    }
}

extension Schemas.Address {
    init(_ a: PostalAddress) {
        self.init(kind: convert(a.kind), line1: a.line1, line2: a.line2, postalCode: a.postalCode, city: a.city, region: a.region, country: a.country)
    }
}

extension ProfileDraft {
    init(_ input: Schemas.CustomerInput) {
        var emails = input.emails
        if let email = input.email { emails = [email] + (emails ?? []).filter { $0 != email } }
        var phones = input.phones
        if let phone = input.phone { phones = [phone] + (phones ?? []).filter { $0 != phone } }
        self.init(
            firstName: input.firstName, lastName: input.lastName, birthDate: input.birthDate, emails: emails, phones: phones,
            addresses: input.addresses?.map {
                AddressDraft(
                    kind: $0.kind?.rawValue, line1: $0.line1, line2: $0.line2, postalCode: $0.postalCode, city: $0.city, region: $0.region,
                    country: $0.country)
            }, language: input.language, lifeStage: input.lifeStage?.rawValue, homeStore: input.homeStore,
            location: input.location.map { GeoPoint(latitude: $0.latitude, longitude: $0.longitude) },
            attributes: input.attributes?.additionalProperties)
    }
}

extension Schemas.Household {
    init(_ h: Household) {
        self.init(id: h.id.rawValue, name: h.name, memberIds: h.memberIDs.map(\.rawValue), createdAt: h.createdAt)
    }
}

extension Schemas.Account {
    init(_ a: Account) {
        self.init(
            id: a.id.rawValue, name: a.draft.name, accountClass: convert(a.draft.accountClass), keyAccountManager: a.draft.keyAccountManager,
            creditLimit: a.draft.creditLimit.map { .init(amount: $0.minorUnits, currency: $0.currency) }, paymentTermsDays: a.draft.paymentTermsDays,
            parentAccountId: a.draft.parentID?.rawValue,
            contacts: a.contacts.map { .init(customerId: $0.customerID.rawValue, displayName: $0.displayName, role: $0.role) },
            childAccountIds: a.childIDs.map(\.rawValue), createdAt: a.createdAt)
    }
}

extension Schemas.Interaction {
    init(_ i: Interaction) {
        let d = i.details
        self.init(
            id: i.id.rawValue, customerId: i.customerID.rawValue, channel: convert(d.channel), direction: convert(d.direction), outcome: d.outcome,
            agent: d.agent, subject: d.subject, notes: d.notes, occurredAt: d.occurredAt)
    }
}

extension Schemas.Transaction {
    init(_ t: Transaction) {
        let d = t.details
        self.init(
            id: t.id.rawValue, transactionId: d.externalID, customerId: t.customerID.rawValue, kind: convert(d.kind), occurredAt: d.occurredAt,
            amount: .init(amount: d.amount.minorUnits, currency: d.amount.currency), store: d.store, channel: d.channel.map { convert($0) },
            originalTransactionId: d.originalExternalID,
            lines: d.lines.map { .init(product: $0.product, category: $0.category, quantity: $0.quantity, amount: $0.amount) })
    }
}

extension Schemas.IngestReceipt {
    init(_ outcome: IngestOutcome, points: [PointsLedger.AccrualResult] = []) {
        switch outcome {
        case .recordedTransaction(let t, let kind): self.init(status: .matched, matchedBy: kind.rawValue, transaction: .init(t))
        case .duplicateTransaction(let t): self.init(status: .duplicate, transaction: .init(t))
        case .recordedInteraction(let i, let kind): self.init(status: .matched, matchedBy: kind.rawValue, interaction: .init(i))
        case .unmatched(let id): self.init(status: .unmatched, unmatchedId: id.rawValue)
        }
        if !points.isEmpty { self.points = points.map(Schemas.PointsOutcome.init) }
    }
}

extension Schemas.PointsOutcome {
    init(_ result: PointsLedger.AccrualResult) {
        if let claw = result.clawBack {
            self.init(
                memberId: result.member.rawValue, points: -claw.taken, breakdown: [.init(source: "return", points: -claw.taken)], debt: claw.debt)
        } else {
            let parts = result.accrual?.parts ?? []
            self.init(
                memberId: result.member.rawValue, points: result.accrual?.total ?? 0,
                breakdown: parts.map { .init(source: $0.source, points: $0.points) },
                newTier: result.newTier)
        }
    }
}

extension Schemas.ConsentState {
    init(_ state: ConsentState) {
        func consent(_ c: Consent) -> Schemas.Consent {
            .init(
                purpose: convert(c.purpose), channel: convert(c.channel), granted: c.granted, source: c.source, text: c.text,
                recordedBy: c.recordedBy,
                recordedAt: c.recordedAt)
        }
        self.init(
            current: state.current.map(consent), history: state.history.map(consent),
            doNotContact: state.blocks.map {
                .init(
                    channel: convert($0.channel), reason: $0.reason, setBy: $0.setBy, setAt: $0.setAt, clearedBy: $0.clearedBy,
                    clearedAt: $0.clearedAt)
            })
    }
}

extension Schemas.DuplicateCandidate {
    init(_ d: DuplicateCandidate) {
        self.init(customerId: d.customerID.rawValue, otherCustomerId: d.otherCustomerID.rawValue, reason: convert(d.reason), score: d.score)
    }
}

extension Schemas.Unmatched {
    init(_ u: UnmatchedItem) {
        let kind: KindPayload = if case .transaction = u.payload { .transaction } else { .interaction }
        self.init(
            id: u.id.rawValue, kind: kind, identifiers: u.identifiers.map { .init(kind: convert($0.kind), value: $0.value) }, reason: u.reason,
            summary: u.summary, receivedAt: u.receivedAt)
    }
}

extension Schemas.Principal {
    init(_ p: Principal) {
        let permissions = p.permissions.map(\.rawValue).sorted()
        switch p {
        case .staff(let id, let email, let role):
            self.init(kind: .staff, name: email, role: convert(role), userId: id.rawValue, permissions: permissions)
        case .member(let customerID, let email):
            self.init(kind: .member, name: email, customerId: customerID, permissions: permissions)
        case .partner(_, let name, let partner, _):
            self.init(kind: .partner, name: name, partner: partner, permissions: permissions)
        case .partnerUser(_, let email, let partner, _):
            // A partner's cashier or manager is a partner caller, named by email.
            self.init(kind: .partner, name: email, partner: partner, permissions: permissions)
        }
    }
}

extension Schemas.ApiKey {
    init(_ k: APIKey) {
        self.init(
            id: k.id.rawValue, name: k.name, partner: k.partner, scopes: k.scopes.map { convert($0) }, prefix: k.prefix, createdAt: k.createdAt,
            revokedAt: k.revokedAt)
    }
}

extension Schemas.User {
    init(_ u: User) { self.init(id: u.id.rawValue, email: u.email, role: convert(u.role), createdAt: u.createdAt) }
}
