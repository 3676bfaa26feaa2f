import Access
import Analytics
import App
import Customers
import Foundation
import SQLKit
import SharedModels
import Storage
import TestSupport
import Testing

/// The store conformance suite: every test runs on SQLite, and on PostgreSQL when configured.
@Suite("Customer storage on every engine")
struct CustomerStoreTests {
    func person(_ first: String, _ last: String, email: String? = nil, phone: String? = nil, postal: String? = nil, street: String = "1 Main St")
        -> ProfileDraft
    {
        ProfileDraft(
            firstName: first, lastName: last, emails: email.map { [$0] }, phones: phone.map { [$0] },
            addresses: postal.map { [.init(line1: street, postalCode: $0, city: "Seattle", country: "US")] })
    }

    @Test("Migrations apply once and again change nothing", arguments: TestEngine.available)
    func migrationsAreIdempotent(engine: TestEngine) async throws {
        try await TestDatabase.withPatron(engine) { patron in
            let applied = try await Migrations.run(on: patron.database)
            #expect(applied.isEmpty)
        }
    }

    @Test("Customers are created, read back and found by name, email, phone and card", arguments: TestEngine.available)
    func createAndSearch(engine: TestEngine) async throws {
        try await TestDatabase.withPatron(engine) { patron in
            let service = patron.customers
            let ann = try await service.create(person("Ann", "Lee", email: "Ann@Example.com", phone: "206 555 0100"))
            _ = try await service.create(person("Bob", "Stone", email: "bob@example.com"))
            #expect(try await service.customer(ann.id) == ann)
            _ = try await service.addIdentifier(kind: .card, value: "nw-0042", to: ann.id)
            for query in ["ann lee", "ANN@example.com", "+1 (206) 555-0100", "NW0042", "lee", String(ann.id.rawValue)] {
                let found = try await service.search(query, after: nil, limit: PageSize(10)).items.map(\.id)
                #expect(found == [ann.id], "query \(query)")
            }
            #expect(try await service.search("nobody", after: nil, limit: PageSize(10)).items.isEmpty)
            #expect(try await service.search("50%_off", after: nil, limit: PageSize(10)).items.isEmpty)
        }
    }

    @Test("Lists page by cursor without gaps or repeats", arguments: TestEngine.available)
    func paging(engine: TestEngine) async throws {
        try await TestDatabase.withPatron(engine) { patron in
            var created: [CustomerID] = []
            for n in 0..<7 { created.append(try await patron.customers.create(person("P\(n)", "Page")).id) }
            var seen: [CustomerID] = []
            var cursor: Cursor?
            repeat {
                let page = try await patron.customers.search("page", after: cursor, limit: PageSize(3))
                seen += page.items.map(\.id)
                cursor = page.next
            } while cursor != nil
            #expect(seen == created)
        }
    }

    @Test("A card number belongs to one customer only", arguments: TestEngine.available)
    func cardsAreUnique(engine: TestEngine) async throws {
        try await TestDatabase.withPatron(engine) { patron in
            let ann = try await patron.customers.create(person("Ann", "Lee"))
            let bob = try await patron.customers.create(person("Bob", "Lee"))
            _ = try await patron.customers.addIdentifier(kind: .card, value: "C1", to: ann.id)
            await #expect(throws: CustomerError.identifierInUse(kind: .card, value: "C1", owner: ann.id)) {
                _ = try await patron.customers.addIdentifier(kind: .card, value: "C1", to: bob.id)
            }
        }
    }

    @Test("The same transaction id is recorded once, in single and batch writes", arguments: TestEngine.available)
    func transactionsAreIdempotent(engine: TestEngine) async throws {
        try await TestDatabase.withPatron(engine) { patron in
            let ann = try await patron.customers.create(person("Ann", "Lee"))
            let purchase = TransactionDetails(
                externalID: "T-1", occurredAt: Date(epochSeconds: 1_700_000_000), amount: Money(minorUnits: 2500, currency: "USD"), store: "S1",
                channel: .store, lines: [.init(product: "Socks", category: "accessories", quantity: 2, amount: 2500)])
            let first = try await patron.customers.submit(
                purchase, identifiers: [CustomerIdentifier(kind: .customerID, value: String(ann.id.rawValue))])
            guard case .recordedTransaction(let recorded, .customerID) = first else {
                Issue.record("expected a recorded transaction, got \(first)")
                return
            }
            #expect(recorded.details == purchase)
            let again = try await patron.customers.submit(
                purchase, identifiers: [CustomerIdentifier(kind: .customerID, value: String(ann.id.rawValue))])
            #expect(again == .duplicateTransaction(recorded))
            var second = purchase
            second.externalID = "T-2"
            #expect(try await patron.customers.insertTransactions([(ann.id, purchase), (ann.id, second), (ann.id, second)]) == 1)
            let page = try await patron.customers.transactions(of: ann.id, after: nil, limit: PageSize(10))
            #expect(page.items.map(\.details.externalID) == ["T-2", "T-1"])
            #expect(page.items[0].details.lines.count == 1)
        }
    }

    @Test("Unmatched activity waits, and takes effect when linked", arguments: TestEngine.available)
    func unmatchedThenLinked(engine: TestEngine) async throws {
        try await TestDatabase.withPatron(engine) { patron in
            let ann = try await patron.customers.create(person("Ann", "Lee", email: "shared@example.com"))
            _ = try await patron.customers.create(person("Al", "Lee", email: "shared@example.com"))
            let purchase = TransactionDetails(
                externalID: "W-9", occurredAt: Date(epochSeconds: 1_700_000_000), amount: Money(minorUnits: 999, currency: "USD"))
            let outcome = try await patron.customers.submit(purchase, identifiers: [CustomerIdentifier(kind: .email, value: "shared@example.com")])
            guard case .unmatched(let id) = outcome else {
                Issue.record("a shared email must not match: \(outcome)")
                return
            }
            #expect(try await patron.customers.unmatched(after: nil, limit: PageSize(10)).items.map(\.id) == [id])
            #expect(try await patron.customers.transactions(of: ann.id, after: nil, limit: PageSize(10)).items.isEmpty)
            let linked = try await patron.customers.link(id, to: ann.id)
            guard case .recordedTransaction(let transaction, _) = linked else {
                Issue.record("linking must record the transaction: \(linked)")
                return
            }
            #expect(transaction.customerID == ann.id)
            #expect(try await patron.customers.unmatched(after: nil, limit: PageSize(10)).items.isEmpty)
            await #expect(throws: CustomerError.alreadyLinked(id, to: ann.id)) { _ = try await patron.customers.link(id, to: ann.id) }
        }
    }

    @Test("Consents keep their history; the newest per purpose and channel is in force", arguments: TestEngine.available)
    func consentHistory(engine: TestEngine) async throws {
        let clock = TestClock()
        try await TestDatabase.withPatron(engine, clock: clock) { patron in
            let ann = try await patron.customers.create(person("Ann", "Lee"))
            _ = try await patron.customers.recordConsent(
                purpose: .marketing, channel: .email, granted: true, source: "web_form", text: "v1", for: ann.id, by: "web")
            clock.advance(by: 60)
            let state = try await patron.customers.recordConsent(
                purpose: .marketing, channel: .email, granted: false, source: "call", text: nil, for: ann.id, by: "agent@x.com")
            #expect(state.history.count == 2)
            #expect(state.current.count == 1)
            #expect(state.allows(.marketing, on: .email) == false)
            _ = try await patron.customers.recordConsent(
                purpose: .marketing, channel: .sms, granted: true, source: "store", text: nil, for: ann.id, by: "x")
            let blocked = try await patron.customers.block(.sms, reason: "asked on the phone", for: ann.id, by: "agent@x.com")
            #expect(blocked.allows(.marketing, on: .sms) == false)
            let unblocked = try await patron.customers.unblock(.sms, for: ann.id, by: "agent@x.com")
            #expect(unblocked.allows(.marketing, on: .sms))
            #expect(unblocked.blocks.first?.clearedBy == "agent@x.com")
            let timeline = try await patron.customers.timeline(of: ann.id, limit: PageSize(10))
            #expect(timeline.filter { $0.kind == .consent }.count == 3)
        }
    }

    @Test("Duplicates are found by shared email and by similar name at the same address", arguments: TestEngine.available)
    func duplicates(engine: TestEngine) async throws {
        try await TestDatabase.withPatron(engine) { patron in
            let ann = try await patron.customers.create(person("Ann", "Lee", email: "ann@example.com"))
            let ann2 = try await patron.customers.create(person("Anne", "Lee", email: "ann@example.com"))
            let jon = try await patron.customers.create(person("Jonathan", "Smith", postal: "98101", street: "12 Oak Ave"))
            let jon2 = try await patron.customers.create(person("Jonathon", "Smith", postal: "98 101", street: "12 Oak Ave."))
            _ = try await patron.customers.create(person("Mary", "Smith", postal: "98101", street: "12 Oak Ave"))
            let pairs = try await patron.customers.duplicates(limit: 10)
            #expect(pairs.contains(DuplicateCandidate(customerID: ann.id, otherCustomerID: ann2.id, reason: .sameEmail, score: 1)))
            #expect(pairs.contains { $0.customerID == jon.id && $0.otherCustomerID == jon2.id && $0.reason == .similarNameSameAddress })
            #expect(pairs.count == 2)
            // One customer's duplicates are exactly the pairs that involve them (regression: the
            // per-customer lookup is now two index lookups, not an OR across the self-join).
            let ann3 = try await patron.customers.create(person("Ann", "Lee", email: "other@example.com", phone: "206 555 0100"))
            let ann4 = try await patron.customers.create(person("Annie", "Lee", email: "ann@example.com", phone: "206 555 0100"))
            let all = try await patron.customers.duplicates(limit: 100)
            for id in [ann.id, ann2.id, ann3.id, ann4.id, jon.id, jon2.id] {
                let mine = try await patron.customers.duplicates(involving: id, limit: 100)
                #expect(Set(mine) == Set(all.filter { $0.customerID == id || $0.otherCustomerID == id }), "customer \(id)")
                #expect(!mine.isEmpty)
            }
        }
    }

    @Test("A merge moves every history to the survivor and leaves a trace", arguments: TestEngine.available)
    func merge(engine: TestEngine) async throws {
        try await TestDatabase.withPatron(engine) { patron in
            let service = patron.customers
            let ann = try await service.create(person("Ann", "Lee", email: "ann@example.com"))
            let dup = try await service.create(person("Anne", "Lee", email: "ann@work.com", phone: "2065550100"))
            _ = try await service.addIdentifier(kind: .card, value: "C-9", to: dup.id)
            let byID = { (id: CustomerID) in [CustomerIdentifier(kind: .customerID, value: String(id.rawValue))] }
            _ = try await service.submit(
                TransactionDetails(externalID: "T1", occurredAt: Date(epochSeconds: 1_700_000_000), amount: Money(minorUnits: 100, currency: "USD")),
                identifiers: byID(dup.id))
            _ = try await service.submit(
                InteractionDetails(channel: .call, direction: .inbound, subject: "hello", occurredAt: Date()), identifiers: byID(dup.id))
            _ = try await service.recordConsent(purpose: .service, channel: .email, granted: true, source: "web", text: nil, for: dup.id, by: "x")

            let survivor = try await service.merge(dup.id, into: ann.id, by: "agent@x.com")
            #expect(survivor.profile.firstName == "Ann")
            #expect(survivor.profile.emails.map(\.value) == ["ann@example.com", "ann@work.com"])
            #expect(survivor.profile.phones.map(\.value) == ["+12065550100"])
            #expect(survivor.cards == ["C9"])
            #expect(try await service.transactions(of: ann.id, after: nil, limit: PageSize(10)).items.count == 1)
            #expect(try await service.interactions(of: ann.id, after: nil, limit: PageSize(10)).items.count == 1)
            #expect(try await service.consents(of: ann.id).history.count == 1)
            let trace = try await service.customer(dup.id)
            #expect(trace.status == .merged)
            #expect(trace.mergedInto == ann.id)
            // Activity sent for the old id now lands on the survivor.
            let later = try await service.submit(
                TransactionDetails(externalID: "T2", occurredAt: Date(epochSeconds: 1_700_000_100), amount: Money(minorUnits: 100, currency: "USD")),
                identifiers: byID(dup.id))
            guard case .recordedTransaction(let t, _) = later else {
                Issue.record("expected a match on the survivor: \(later)")
                return
            }
            #expect(t.customerID == ann.id)
            await #expect(throws: CustomerError.merged(dup.id, into: ann.id)) {
                _ = try await service.update(dup.id, with: ProfileDraft(firstName: "X"))
            }
            await #expect(throws: CustomerError.mergeWithSelf) { _ = try await service.merge(ann.id, into: ann.id, by: "x") }
        }
    }

    @Test("Households and B2B accounts group people", arguments: TestEngine.available)
    func groups(engine: TestEngine) async throws {
        try await TestDatabase.withPatron(engine) { patron in
            let ann = try await patron.customers.create(person("Ann", "Lee"))
            let bob = try await patron.customers.create(person("Bob", "Lee"))
            let household = try await patron.customers.createHousehold(name: "The Lees", members: [ann.id])
            let moved = try await patron.customers.addToHousehold(bob.id, household: household.id)
            #expect(moved.memberIDs == [ann.id, bob.id])
            await #expect(throws: CustomerError.self) { _ = try await patron.customers.createAccount(AccountDraft(name: "Big Co", accountClass: .a)) }
            let parent = try await patron.customers.createAccount(AccountDraft(name: "Big Co", accountClass: .a, keyAccountManager: "KAM@x.com"))
            let child = try await patron.customers.createAccount(
                AccountDraft(name: "Big Co West", creditLimit: Money(minorUnits: 100_000, currency: "USD"), paymentTermsDays: 45, parentID: parent.id)
            )
            let withContact = try await patron.customers.addContact(ann.id, role: "buyer", to: child.id)
            #expect(withContact.contacts == [Account.Contact(customerID: ann.id, displayName: "Ann Lee", role: "buyer")])
            #expect(try await patron.customers.account(parent.id).childIDs == [child.id])
            #expect(parent.draft.keyAccountManager == "kam@x.com")
            #expect(try await patron.customers.customer(ann.id).accountID == child.id)
        }
    }
}

@Suite("Access storage on every engine")
struct AccessStoreTests {
    @Test("Passwords are hashed, sessions and API keys are stored as digests and can be revoked", arguments: TestEngine.available)
    func credentials(engine: TestEngine) async throws {
        let clock = TestClock()
        try await TestDatabase.withPatron(engine, clock: clock) { patron in
            let access = patron.access
            let user = try await access.addUser(email: "Boss@X.com", password: "correct horse", role: .admin)
            #expect(user.email == "boss@x.com")
            await #expect(throws: AccessError.emailTaken("boss@x.com")) {
                _ = try await access.addUser(email: "boss@x.com", password: "whatever1", role: .agent)
            }
            await #expect(throws: AccessError.invalidCredentials) { _ = try await access.logIn(email: "boss@x.com", password: "wrong password", client: nil) }
            await #expect(throws: AccessError.invalidCredentials) { _ = try await access.logIn(email: "nobody@x.com", password: "correct horse", client: nil) }
            let session = try await access.logIn(email: "boss@x.com", password: "correct horse", client: nil)
            #expect(try await access.authenticate(bearer: session.token) == .staff(id: user.id, email: "boss@x.com", role: .admin))
            let stored = try await patron.database.read { db in
                try await db.raw("SELECT digest FROM sessions").all().map { try $0.decode(column: "digest", as: String.self) }
            }
            #expect(stored == [SHA256Digest().digest(session.token)])
            // The FIPS 180-2 test vector, so a stored digest stays readable whatever computes it.
            #expect(SHA256Digest().digest("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
            clock.advance(by: 13 * 3600)
            await #expect(throws: AccessError.unauthenticated) { _ = try await access.authenticate(bearer: session.token) }

            let (key, secret) = try await access.createAPIKey(name: "pos", partner: "Acme Fuel", scopes: [.transactionsWrite])
            #expect(secret.hasPrefix("pk_"))
            #expect(
                try await access.authenticate(bearer: secret)
                    == .partner(keyID: key.id, name: "pos", partner: "Acme Fuel", scopes: [.transactionsWrite]))
            try await access.revokeAPIKey(key.id)
            await #expect(throws: AccessError.unauthenticated) { _ = try await access.authenticate(bearer: secret) }
            await #expect(throws: AccessError.notFound(kind: "API key", id: 999)) { try await access.revokeAPIKey(APIKeyID(999)) }
        }
    }

    @Test("An idempotency key is claimed once, replayed after, and refused for another request", arguments: TestEngine.available)
    func idempotency(engine: TestEngine) async throws {
        try await TestDatabase.withPatron(engine) { patron in
            let store = patron.accessStore
            func token(_ claim: IdempotencyClaim) throws -> String {
                guard case .claimed(let token) = claim else { throw ClaimNotGranted(claim: claim) }
                return token
            }
            let first = try token(try await store.claim(caller: "user:1", key: "k", fingerprint: "f1", token: newClaimToken(), at: Date()))
            #expect(try await store.claim(caller: "user:1", key: "k", fingerprint: "f1", token: newClaimToken(), at: Date()) == .inProgress)
            let response = IdempotentResponse(status: 201, contentType: "application/json", body: Data("{\"id\":1}".utf8))
            try await store.save(caller: "user:1", key: "k", token: first, response: response)
            #expect(try await store.claim(caller: "user:1", key: "k", fingerprint: "f1", token: newClaimToken(), at: Date()) == .replay(response))
            #expect(try await store.claim(caller: "user:1", key: "k", fingerprint: "f2", token: newClaimToken(), at: Date()) == .mismatch)
            let second = try token(try await store.claim(caller: "user:2", key: "k", fingerprint: "f2", token: newClaimToken(), at: Date()))
            try await store.release(caller: "user:2", key: "k", token: second)
            _ = try token(try await store.claim(caller: "user:2", key: "k", fingerprint: "f3", token: newClaimToken(), at: Date()))
        }
    }

    @Test("Regression: a claim left without an outcome (a crash) blocks its key only for the lease", arguments: TestEngine.available)
    func idempotencyLease(engine: TestEngine) async throws {
        try await TestDatabase.withPatron(engine) { patron in
            let store = patron.accessStore
            let start = Date(timeIntervalSince1970: 1_800_000_000)
            guard case .claimed(let dead) = try await store.claim(caller: "user:1", key: "k", fingerprint: "f", token: newClaimToken(), at: start) else {
                Issue.record("first claim refused")
                return
            }
            // The process that held it died: no save, no release.
            #expect(try await store.claim(caller: "user:1", key: "k", fingerprint: "f", token: newClaimToken(), at: start.addingTimeInterval(idempotencyLeaseSeconds - 1)) == .inProgress)
            let retry = try await store.claim(caller: "user:1", key: "k", fingerprint: "f", token: newClaimToken(), at: start.addingTimeInterval(idempotencyLeaseSeconds))
            guard case .claimed(let alive) = retry else {
                Issue.record("the key is still blocked after the lease: \(retry)")
                return
            }
            // The dead request's late save is ignored; the live one's is kept.
            let late = IdempotentResponse(status: 201, contentType: "application/json", body: Data("{\"late\":true}".utf8))
            try await store.save(caller: "user:1", key: "k", token: dead, response: late)
            let kept = IdempotentResponse(status: 201, contentType: "application/json", body: Data("{\"id\":2}".utf8))
            try await store.save(caller: "user:1", key: "k", token: alive, response: kept)
            #expect(try await store.claim(caller: "user:1", key: "k", fingerprint: "f", token: newClaimToken(), at: start.addingTimeInterval(100)) == .replay(kept))
        }
    }

    @Test("Regression: concurrent requests with one key get one claim; the rest are told it is in progress", arguments: TestEngine.available)
    func concurrentClaims(engine: TestEngine) async throws {
        try await TestDatabase.withPatron(engine) { patron in
            let store = patron.accessStore
            let claims = try await withThrowingTaskGroup(of: IdempotencyClaim.self) { group in
                for _ in 0..<16 { group.addTask { try await store.claim(caller: "user:1", key: "same", fingerprint: "f", token: newClaimToken(), at: Date()) } }
                return try await group.reduce(into: [IdempotencyClaim]()) { $0.append($1) }
            }
            #expect(claims.filter { if case .claimed = $0 { true } else { false } }.count == 1)
            #expect(claims.filter { $0 == .inProgress }.count == 15)
        }
    }

    struct ClaimNotGranted: Error { let claim: IdempotencyClaim }

    @Test("Sales by period count purchases and take returns off, at the period's edges exactly", arguments: TestEngine.available)
    func salesByPeriod(engine: TestEngine) async throws {
        try await TestDatabase.withPatron(engine) { patron in
            let ann = try await patron.customers.create(ProfileDraft(firstName: "Ann", lastName: "Lee"))
            let jan = LocalDate("2026-01-01")!.startOfDay, feb = LocalDate("2026-02-01")!.startOfDay, mar = LocalDate("2026-03-01")!.startOfDay
            func row(_ id: String, _ at: Date, _ minor: Int64, _ kind: TransactionDetails.Kind = .purchase) -> (
                customer: CustomerID, details: TransactionDetails
            ) {
                (ann.id, TransactionDetails(externalID: id, kind: kind, occurredAt: at, amount: Money(minorUnits: minor, currency: "USD")))
            }
            _ = try await patron.customers.insertTransactions([
                row("A", jan, 1_000), row("B", feb.addingTimeInterval(-1), 500), row("C", feb, 2_000),
                row("C-R", feb.addingTimeInterval(60), 2_000, .return), row("D", mar, 9_999),
            ])
            let sales = try await patron.intelligence.sales(between: [jan, feb, mar].map(\.epochSeconds))
            #expect(sales.map(\.amount) == [1_500, 0] && sales.map(\.purchases) == [2, 1])
        }
    }
}

@Suite("Migrations")
struct MigrationTests {
    @Test("Regression: servers starting together on an empty database all come up, each step applied once", arguments: TestEngine.available)
    func concurrentStart(engine: TestEngine) async throws {
        try await TestDatabase.withEmptyDatabase(engine) { location in
            let opened = try await withThrowingTaskGroup(of: Patron.self) { group in
                for _ in 0..<4 { group.addTask { try await Patron.open(location, settings: Settings(bcryptCost: 4)) } }
                return try await group.reduce(into: [Patron]()) { $0.append($1) }
            }
            #expect(opened.count == 4)
            let recorded = try await opened[0].database.read { db in
                try await db.raw("SELECT COUNT(*) AS n, COUNT(DISTINCT name) AS d FROM patron_migrations").first()!
            }
            #expect(try recorded.decode(column: "n", as: Int64.self) == Int64(Migrations.all.count))
            #expect(try recorded.decode(column: "d", as: Int64.self) == Int64(Migrations.all.count))
            for patron in opened { try await patron.close() }
        }
    }
}
