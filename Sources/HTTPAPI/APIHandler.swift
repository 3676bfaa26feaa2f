import Access
import Analytics
import Campaigns
import Customers
import Foundation
import Jobs
import HTTPTypes
import Loyalty
import OpenAPIRuntime
import Partners
import Sales
import SharedModels
import Support

/// Implements every operation of `openapi.yaml` over the domain services. Each handler
/// authorises first (role or scope, then ownership), then calls one service method.
struct APIHandler: APIProtocol {
    let customers: CustomerService
    let intake: TransactionIntake
    let access: AccessService
    let intelligence: CustomerIntelligence
    let segments: SegmentService
    let campaigns: CampaignService
    let support: SupportService
    let privacy: PrivacyService
    let partners: PartnerService
    let sales: SalesService
    /// The configured message channels, for an on-demand run of the campaign job.
    let channels: @Sendable () throws -> [CampaignChannel: any MessageChannel]
    let jobs: JobBoard
    let health: @Sendable () async throws -> String

    // MARK: Authorisation helpers

    /// The customer the caller may read; members get 404 for anyone but themselves, as if the record did not exist.
    func readableCustomer(_ id: Int64) async throws -> Customer {
        let principal = try Caller.required()
        guard principal.mayRead(customer: id) else {
            if case .member = principal { throw CustomerError.notFound(kind: "customer", id: id) }
            throw AccessError.forbidden(.customersRead)
        }
        return try await customers.customer(CustomerID(id))
    }

    func requireStaffRead(_ id: Int64) async throws {
        _ = try await readableCustomer(id)
    }

    /// The page after `text`; absent or empty: the first page.
    static func cursor(_ text: String?) throws -> Cursor? {
        guard let text, !text.isEmpty else { return nil }
        guard let cursor = Cursor(text) else {
            throw Problem(status: .badRequest, code: "invalid_cursor", detail: "Use the nextCursor of a previous page.", field: "cursor")
        }
        return cursor
    }

    // MARK: System and access

    func getHealth(_ input: Operations.GetHealth.Input) async throws -> Operations.GetHealth.Output {
        .ok(.init(body: .json(.init(status: "ok", database: try await health(), version: PatronAPI.version))))
    }

    func createSession(_ input: Operations.CreateSession.Input) async throws -> Operations.CreateSession.Output {
        guard case .json(let body) = input.body else { preconditionFailure() }
        let session = try await access.logIn(email: body.email, password: body.password, client: RequestOrigin.clientAddress)
        return .created(.init(body: .json(.init(token: session.token, expiresAt: session.expiresAt, principal: .init(session.principal)))))
    }

    func deleteCurrentSession(_ input: Operations.DeleteCurrentSession.Input) async throws -> Operations.DeleteCurrentSession.Output {
        _ = try Caller.required()
        if let token = Caller.bearer { try await access.logOut(bearer: token) }
        return .noContent(.init())
    }

    func getMe(_ input: Operations.GetMe.Input) async throws -> Operations.GetMe.Output {
        .ok(.init(body: .json(.init(try Caller.required()))))
    }

    func listUsers(_ input: Operations.ListUsers.Input) async throws -> Operations.ListUsers.Output {
        _ = try Caller.require(.usersManage)
        return .ok(.init(body: .json(try await access.users().map(Schemas.User.init))))
    }

    func createUser(_ input: Operations.CreateUser.Input) async throws -> Operations.CreateUser.Output {
        _ = try Caller.require(.usersManage)
        guard case .json(let body) = input.body else { preconditionFailure() }
        let user = try await access.addUser(email: body.email, password: body.password, role: convert(body.role))
        return .created(.init(body: .json(.init(user))))
    }

    func listApiKeys(_ input: Operations.ListApiKeys.Input) async throws -> Operations.ListApiKeys.Output {
        _ = try Caller.require(.apiKeysManage)
        return .ok(.init(body: .json(try await access.apiKeys().map(Schemas.ApiKey.init))))
    }

    func createApiKey(_ input: Operations.CreateApiKey.Input) async throws -> Operations.CreateApiKey.Output {
        _ = try Caller.require(.apiKeysManage)
        guard case .json(let body) = input.body else { preconditionFailure() }
        // A key acts for a partner whose terms exist: what it may touch is read from them.
        guard (try? await partners.partner(body.partner)) != nil else {
            throw Problem(
                status: .unprocessableContent, code: "partner_not_found", detail: "No partner has the code \(body.partner); set up its terms first.",
                field: "partner")
        }
        let (key, secret) = try await access.createAPIKey(
            name: body.name, partner: body.partner.uppercased(), scopes: body.scopes.map { convert($0) })
        return .created(.init(body: .json(.init(apiKey: .init(key), key: secret))))
    }

    func revokeApiKey(_ input: Operations.RevokeApiKey.Input) async throws -> Operations.RevokeApiKey.Output {
        _ = try Caller.require(.apiKeysManage)
        try await access.revokeAPIKey(APIKeyID(input.path.id))
        return .noContent(.init())
    }

    func createMemberLogin(_ input: Operations.CreateMemberLogin.Input) async throws -> Operations.CreateMemberLogin.Output {
        _ = try Caller.require(.memberLoginsManage)
        guard case .json(let body) = input.body else { preconditionFailure() }
        let customer = try await customers.customer(CustomerID(body.customerId))
        if let survivor = customer.mergedInto { throw CustomerError.merged(customer.id, into: survivor) }
        let email = try await access.createMemberLogin(customerID: body.customerId, email: body.email, password: body.password)
        return .created(.init(body: .json(.init(customerId: body.customerId, email: email))))
    }

    // MARK: Customers

    func listCustomers(_ input: Operations.ListCustomers.Input) async throws -> Operations.ListCustomers.Output {
        let principal = try Caller.required()
        if case .member(let own, _) = principal {
            let me = try await customers.customer(CustomerID(own))
            return .ok(.init(body: .json(.init(items: [.init(me)]))))
        }
        if principal.scopes.contains(.customersLookup) {
            return .ok(.init(body: .json(.init(items: try await partnerLookup(input.query.q).map(Schemas.Customer.redacted)))))
        }
        try principal.require(.customersRead)
        let page = try await customers.search(input.query.q, after: try Self.cursor(input.query.cursor), limit: try pageSize(input.query.limit))
        return .ok(.init(body: .json(.init(items: page.items.map(Schemas.Customer.init), nextCursor: page.next?.encoded))))
    }

    /// A partner finds members only by an exact identifier, never by name, and at most a few.
    func partnerLookup(_ text: String?) async throws -> [Customer] {
        guard let text, !text.trimmingSpaces().isEmpty else {
            throw Problem(status: .badRequest, code: "lookup_needs_identifier", detail: "Give q: a card number, email or phone.", field: "q")
        }
        return try await customers.lookUpForPartner(text)
    }

    func createCustomer(_ input: Operations.CreateCustomer.Input) async throws -> Operations.CreateCustomer.Output {
        _ = try Caller.require(.customersWrite)
        guard case .json(let body) = input.body else { preconditionFailure() }
        return .created(.init(body: .json(.init(try await customers.create(ProfileDraft(body))))))
    }

    func getCustomer(_ input: Operations.GetCustomer.Input) async throws -> Operations.GetCustomer.Output {
        .ok(.init(body: .json(.init(try await readableCustomer(input.path.id)))))
    }

    func updateCustomer(_ input: Operations.UpdateCustomer.Input) async throws -> Operations.UpdateCustomer.Output {
        let principal = try Caller.required()
        if case .member(let own, _) = principal, own == input.path.id {
            // Members may correct their own profile.
        } else {
            try principal.require(.customersWrite)
        }
        guard case .json(let body) = input.body else { preconditionFailure() }
        return .ok(.init(body: .json(.init(try await customers.update(CustomerID(input.path.id), with: ProfileDraft(body))))))
    }

    func addIdentifier(_ input: Operations.AddIdentifier.Input) async throws -> Operations.AddIdentifier.Output {
        _ = try Caller.require(.customersWrite)
        guard case .json(let body) = input.body else { preconditionFailure() }
        let customer = try await customers.addIdentifier(kind: convert(body.kind), value: body.value, to: CustomerID(input.path.id))
        return .created(.init(body: .json(.init(customer))))
    }

    func getTimeline(_ input: Operations.GetTimeline.Input) async throws -> Operations.GetTimeline.Output {
        try await requireStaffRead(input.path.id)
        let entries = try await customers.timeline(of: CustomerID(input.path.id), limit: try pageSize(input.query.limit))
        return .ok(
            .init(
                body: .json(
                    entries.map {
                        .init(
                            kind: convert($0.kind), occurredAt: $0.occurredAt, summary: $0.summary, channel: $0.channel, referenceId: $0.referenceID)
                    })))
    }

    func listCustomerInteractions(_ input: Operations.ListCustomerInteractions.Input) async throws -> Operations.ListCustomerInteractions.Output {
        try await requireStaffRead(input.path.id)
        let page = try await customers.interactions(
            of: CustomerID(input.path.id), after: try Self.cursor(input.query.cursor), limit: try pageSize(input.query.limit))
        // A member sees what happened, not what staff wrote about it: notes and the agent stay internal.
        let isMember = if case .member = Caller.principal { true } else { false }
        let items = page.items.map { interaction in
            var item = Schemas.Interaction(interaction)
            if isMember { (item.notes, item.agent) = (nil, nil) }
            return item
        }
        return .ok(.init(body: .json(.init(items: items, nextCursor: page.next?.encoded))))
    }

    /// A page size from `limit`: 1 to `maximum` (500 unless the operation declares more), 50 when
    /// absent. Throws 422 naming `limit` outside that.
    func pageSize(_ limit: Int?, maximum: Int = 500) throws -> PageSize {
        if let limit, !(1...maximum).contains(limit) {
            throw Problem(status: .unprocessableContent, code: "validation_failed", detail: "limit must be 1 to \(maximum)", field: "limit")
        }
        return PageSize(limit, maximum: maximum)
    }

    func listCustomerTransactions(_ input: Operations.ListCustomerTransactions.Input) async throws -> Operations.ListCustomerTransactions.Output {
        try await requireStaffRead(input.path.id)
        let page = try await customers.transactions(
            of: CustomerID(input.path.id), after: try Self.cursor(input.query.cursor), limit: try pageSize(input.query.limit))
        return .ok(.init(body: .json(.init(items: page.items.map(Schemas.Transaction.init), nextCursor: page.next?.encoded))))
    }

    // MARK: Consents

    /// Staff with consents:write may change anyone's consents; a member may change their own.
    func consentActor(for id: Int64) throws -> String {
        let principal = try Caller.required()
        if case .member(let own, _) = principal {
            guard own == id else { throw CustomerError.notFound(kind: "customer", id: id) }
        } else {
            try principal.require(.consentsWrite)
        }
        return principal.actor
    }

    func getConsents(_ input: Operations.GetConsents.Input) async throws -> Operations.GetConsents.Output {
        try await requireStaffRead(input.path.id)
        return .ok(.init(body: .json(.init(try await customers.consents(of: CustomerID(input.path.id))))))
    }

    func recordConsent(_ input: Operations.RecordConsent.Input) async throws -> Operations.RecordConsent.Output {
        let actor = try consentActor(for: input.path.id)
        guard case .json(let body) = input.body else { preconditionFailure() }
        let state = try await customers.recordConsent(
            purpose: convert(body.purpose), channel: convert(body.channel), granted: body.granted, source: body.source, text: body.text,
            for: CustomerID(input.path.id), by: actor)
        return .created(.init(body: .json(.init(state))))
    }

    func blockChannel(_ input: Operations.BlockChannel.Input) async throws -> Operations.BlockChannel.Output {
        let actor = try consentActor(for: input.path.id)
        guard case .json(let body) = input.body else { preconditionFailure() }
        let state = try await customers.block(convert(body.channel), reason: body.reason, for: CustomerID(input.path.id), by: actor)
        return .created(.init(body: .json(.init(state))))
    }

    func unblockChannel(_ input: Operations.UnblockChannel.Input) async throws -> Operations.UnblockChannel.Output {
        let principal = try Caller.require(.consentsWrite)
        let state = try await customers.unblock(convert(input.path.channel), for: CustomerID(input.path.id), by: principal.actor)
        return .ok(.init(body: .json(.init(state))))
    }

    // MARK: Data quality

    func getQuality(_ input: Operations.GetQuality.Input) async throws -> Operations.GetQuality.Output {
        _ = try Caller.require(.customersRead)
        let (completeness, duplicates) = try await customers.quality(of: CustomerID(input.path.id))
        return .ok(
            .init(
                body: .json(
                    .init(
                        customerId: input.path.id, completeness: completeness.score, missing: completeness.missing,
                        duplicates: duplicates.map(Schemas.DuplicateCandidate.init)))))
    }

    func mergeCustomer(_ input: Operations.MergeCustomer.Input) async throws -> Operations.MergeCustomer.Output {
        let principal = try Caller.require(.customersMerge)
        guard case .json(let body) = input.body else { preconditionFailure() }
        let survivor = try await customers.merge(CustomerID(body.duplicateId), into: CustomerID(input.path.id), by: principal.actor)
        return .ok(.init(body: .json(.init(survivor))))
    }

    func listDuplicates(_ input: Operations.ListDuplicates.Input) async throws -> Operations.ListDuplicates.Output {
        _ = try Caller.require(.customersRead)
        let pairs = try await customers.duplicates(limit: try pageSize(input.query.limit).value)
        return .ok(.init(body: .json(pairs.map(Schemas.DuplicateCandidate.init))))
    }

    func listUnmatched(_ input: Operations.ListUnmatched.Input) async throws -> Operations.ListUnmatched.Output {
        _ = try Caller.require(.customersRead)
        let page = try await customers.unmatched(after: try Self.cursor(input.query.cursor), limit: try pageSize(input.query.limit))
        return .ok(.init(body: .json(.init(items: page.items.map(Schemas.Unmatched.init), nextCursor: page.next?.encoded))))
    }

    func rematchUnmatched(_ input: Operations.RematchUnmatched.Input) async throws -> Operations.RematchUnmatched.Output {
        _ = try Caller.require(.customersWrite)
        return .ok(.init(body: .json(.init(linked: try await customers.rematch()))))
    }

    func linkUnmatched(_ input: Operations.LinkUnmatched.Input) async throws -> Operations.LinkUnmatched.Output {
        _ = try Caller.require(.customersWrite)
        guard case .json(let body) = input.body else { preconditionFailure() }
        let (outcome, points) = try await intake.link(UnmatchedID(input.path.id), to: CustomerID(body.customerId))
        return .ok(.init(body: .json(.init(outcome, points: points))))
    }

    // MARK: Households and accounts

    func createHousehold(_ input: Operations.CreateHousehold.Input) async throws -> Operations.CreateHousehold.Output {
        _ = try Caller.require(.customersWrite)
        guard case .json(let body) = input.body else { preconditionFailure() }
        let household = try await customers.createHousehold(name: body.name, members: (body.memberIds ?? []).map { CustomerID($0) })
        return .created(.init(body: .json(.init(household))))
    }

    func getHousehold(_ input: Operations.GetHousehold.Input) async throws -> Operations.GetHousehold.Output {
        let principal = try Caller.required()
        let household = try await customers.household(HouseholdID(input.path.id))
        if case .member(let own, _) = principal {
            guard household.memberIDs.contains(CustomerID(own)) else { throw CustomerError.notFound(kind: "household", id: input.path.id) }
        } else {
            try principal.require(.customersRead)
        }
        return .ok(.init(body: .json(.init(household))))
    }

    func addHouseholdMember(_ input: Operations.AddHouseholdMember.Input) async throws -> Operations.AddHouseholdMember.Output {
        _ = try Caller.require(.customersWrite)
        guard case .json(let body) = input.body else { preconditionFailure() }
        let household = try await customers.addToHousehold(CustomerID(body.customerId), household: HouseholdID(input.path.id))
        return .ok(.init(body: .json(.init(household))))
    }

    func createAccount(_ input: Operations.CreateAccount.Input) async throws -> Operations.CreateAccount.Output {
        _ = try Caller.require(.customersWrite)
        guard case .json(let body) = input.body else { preconditionFailure() }
        let draft = AccountDraft(
            name: body.name, accountClass: body.accountClass.map { convert($0) } ?? .c, keyAccountManager: body.keyAccountManager,
            creditLimit: body.creditLimit.map { Money(minorUnits: $0.amount, currency: $0.currency) }, paymentTermsDays: body.paymentTermsDays ?? 30,
            parentID: body.parentAccountId.map { AccountID($0) })
        return .created(.init(body: .json(.init(try await customers.createAccount(draft)))))
    }

    func getAccount(_ input: Operations.GetAccount.Input) async throws -> Operations.GetAccount.Output {
        _ = try Caller.require(.customersRead)
        return .ok(.init(body: .json(.init(try await customers.account(AccountID(input.path.id))))))
    }

    func addAccountContact(_ input: Operations.AddAccountContact.Input) async throws -> Operations.AddAccountContact.Output {
        _ = try Caller.require(.customersWrite)
        guard case .json(let body) = input.body else { preconditionFailure() }
        let account = try await customers.addContact(CustomerID(body.customerId), role: body.role, to: AccountID(input.path.id))
        return .ok(.init(body: .json(.init(account))))
    }

    // MARK: Activity

    func identifiers(_ customerID: Int64?, _ raw: [Schemas.Identifier]?) throws -> [CustomerIdentifier] {
        try customers.identifiers(
            customerID: customerID.map { CustomerID($0) },
            raw: (raw ?? []).map { (kind: convert($0.kind) as IdentifierKind, value: $0.value) })
    }

    func createInteraction(_ input: Operations.CreateInteraction.Input) async throws -> Operations.CreateInteraction.Output {
        let principal = try Caller.require(.interactionsWrite)
        guard case .json(let body) = input.body else { preconditionFailure() }
        let details = InteractionDetails(
            channel: convert(body.channel), direction: convert(body.direction), outcome: body.outcome, agent: body.agent ?? principal.actor,
            subject: body.subject, notes: body.notes, occurredAt: body.occurredAt ?? customers.clock.now)
        let outcome = try await customers.submit(details, identifiers: try identifiers(body.customerId, body.identifiers))
        if case .unmatched = outcome { return .accepted(.init(body: .json(.init(outcome)))) }
        return .created(.init(body: .json(.init(outcome))))
    }

    /// The party the caller acts for: a partner key for its partner (with the outlets and rewards
    /// its terms give it), anyone else for the company.
    func party(of principal: Principal) async throws -> Party {
        guard let code = principal.partnerCode else { return .company }
        guard let partner = try? await partners.partner(code) else {
            throw Problem(status: .forbidden, code: "partner_not_found", detail: "This key's partner \(code) has no terms.")
        }
        return .partner(code: partner.code, outlets: Set(partner.outlets), rewards: Set(partner.rewards))
    }

    func createTransaction(_ input: Operations.CreateTransaction.Input) async throws -> Operations.CreateTransaction.Output {
        let principal = try Caller.require(.transactionsWrite)
        guard case .json(let body) = input.body else { preconditionFailure() }
        let details = TransactionDetails(
            externalID: body.transactionId, kind: body.kind.map { convert($0) } ?? .purchase, occurredAt: body.occurredAt,
            amount: Money(minorUnits: body.amount, currency: body.currency ?? customers.defaultCurrency), store: body.store,
            channel: body.channel.map { convert($0) }, originalExternalID: body.originalTransactionId,
            lines: (body.lines ?? []).map { .init(product: $0.product, category: $0.category, quantity: $0.quantity, amount: $0.amount) })
        let identifiers = try identifiers(body.customerId, body.identifiers)
        // A partner's terms are read with its group's, not by this request (#18's round trips).
        let (outcome, points) =
            if let code = principal.partnerCode {
                try await intake.submit(details, identifiers: identifiers, byPartner: code)
            } else {
                try await intake.submit(details, identifiers: identifiers)
            }
        if case .unmatched = outcome { return .accepted(.init(body: .json(.init(outcome)))) }
        return .created(.init(body: .json(.init(outcome, points: points))))
    }
}
