import Access
import App
import Customers
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SQLKit
import SharedModels
import Storage
import TestSupport
import Testing

/// The audit log and sign-in throttling: what an administrator can account for afterwards.
@Suite struct AuditTests {
    @Test("five failed sign-ins hold the account back 30 s, answered 429 with Retry-After and not checked nor audited; the wait then ends", arguments: TestEngine.available)
    func throttle(engine: TestEngine) async throws {
        let clock = TestClock()
        try await withAPI(engine, clock: clock) { api, patron, admin in
            _ = try await patron.access.addUser(email: "ada@x.com", password: "password1", role: .agent)
            func attempt(_ password: String) async throws -> Reply {
                try await api.call(.post, "/v1/sessions", body: ["email": "ADA@x.com", "password": password])
            }
            for _ in 0..<4 { #expect(try await attempt("wrong-one").code == "invalid_credentials") }
            #expect(try await attempt("password1").status == 201)
            for _ in 0..<5 { #expect(try await attempt("wrong-one").status == 401) }
            // The sixth is refused whatever the password: guessing stops here, for a while.
            for _ in 0..<10 {
                let refused = try await attempt("password1")
                #expect(refused.status == 429 && refused.code == "too_many_attempts")
                #expect(refused.headers[.retryAfter] == "30")
            }
            clock.advance(by: 31)
            #expect(try await attempt("password1").status == 201)

            let log = try await api.call(.get, "/v1/audit-events?actor=ada%40x.com&limit=100", token: admin).array
            let actions = log.compactMap { $0["action"] as? String }
            #expect(actions.filter { $0 == "login.failed" }.count == 9)
            #expect(actions.filter { $0 == "login.locked" }.count == 1, "the failure that starts the wait is logged once")
            #expect(!actions.contains("login.refused"), "tries refused while waiting are not logged")
            #expect(actions.filter { $0 == "login" }.count == 2)
            #expect(log.first?["action"] as? String == "login")
            // Unknown emails are logged (and throttled) the same way, without saying the account does not exist.
            let unknown = try await api.call(.post, "/v1/sessions", body: ["email": "nobody@x.com", "password": "whatever1"])
            #expect(unknown.code == "invalid_credentials")
            #expect(try await patron.access.auditEvents(AuditQuery(actor: "nobody@x.com")).first?.detail == "unknown email")
        }
    }

    @Test(
        "Regression: one wrong password every 2 s for 19 minutes no longer locks the owner out; spraying from one address is slowed; refused tries write nothing",
        arguments: TestEngine.available)
    func lockoutIsNotADenialOfService(engine: TestEngine) async throws {
        let clock = TestClock()
        try await TestDatabase.withPatron(engine, clock: clock) { patron in
            let access = patron.access
            _ = try await access.addUser(email: "admin@northwind.example", password: "owner's password", role: .admin)
            // The owner signed in from the office before the attack began.
            _ = try await access.logIn(email: "admin@northwind.example", password: "owner's password", client: "10.0.0.7")
            var ownerIn = 0, ownerTries = 0, attackerChecked = 0, attackerHeld = 0
            for second in stride(from: 0, to: 19 * 60, by: 2) {
                do {
                    _ = try await access.logIn(email: "admin@northwind.example", password: "guess \(second)", client: "203.0.113.66")
                } catch AccessError.invalidCredentials {
                    attackerChecked += 1
                } catch AccessError.tooManyAttempts(let wait) {
                    #expect((1...900).contains(wait))
                    attackerHeld += 1
                }
                if second % 20 == 0 {
                    ownerTries += 1
                    if (try? await access.logIn(email: "admin@northwind.example", password: "owner's password", client: "10.0.0.7")) != nil { ownerIn += 1 }
                }
                clock.advance(by: 2)
            }
            #expect(ownerIn == ownerTries, "the owner got in \(ownerIn) of \(ownerTries) tries")
            #expect(attackerChecked <= 30, "the attacker's address is slowed down: \(attackerChecked) guesses checked in 19 minutes")
            #expect(attackerHeld > 500)
            // When the account itself is held (five guesses from a fresh address), the owner at an
            // address that never signed in waits like anyone else, and is told how long.
            for n in 0..<5 {
                _ = try? await access.logIn(email: "admin@northwind.example", password: "guess \(n)", client: "203.0.113.67")
            }
            await #expect(throws: AccessError.tooManyAttempts(retryAfter: 30)) {
                _ = try await access.logIn(email: "admin@northwind.example", password: "owner's password", client: "198.51.100.1")
            }

            // Spraying: 40 emails, one wrong password each, from one address.
            var sprayed: [String] = []
            for n in 0..<40 {
                do {
                    _ = try await access.logIn(email: "user\(n)@northwind.example", password: "Winter2026!", client: "192.0.2.9")
                } catch AccessError.invalidCredentials {
                    sprayed.append("401")
                } catch AccessError.tooManyAttempts {
                    sprayed.append("429")
                }
            }
            #expect(sprayed.filter { $0 == "401" }.count == 20 && sprayed.last == "429")

            let refusedRows = try await access.auditEvents(AuditQuery(limit: 1_000)).filter { $0.action == "login.refused" }
            #expect(refusedRows.isEmpty)
            let logged = try await access.auditEvents(AuditQuery(limit: 1_000)).count
            #expect(logged < 150, "\(logged) audit rows for \(570 + 40) tries")
            // Only digests of client addresses are kept.
            let stored = try await patron.database.read { db in
                try await db.raw("SELECT client FROM sign_in_clients").all().map { try $0.decode(column: "client", as: String.self) }
            }
            #expect(!stored.isEmpty && !stored.contains { $0.contains("10.0.0.7") })
        }
    }

    @Test(
        "changes through the API are audited with who and how they ended; reads and purchases are not; only admins read the log",
        arguments: TestEngine.available)
    func apiChanges(engine: TestEngine) async throws {
        try await withAPI(engine) { api, patron, admin in
            _ = try await patron.access.addUser(email: "ada@x.com", password: "password1", role: .agent)
            let ada = try await api.logIn("ada@x.com", "password1")
            let ann = try #require(try await api.call(.post, "/v1/customers", token: ada, body: ["firstName": "Ann", "emails": ["ann@x.com"]]).id)
            try await api.call(.get, "/v1/customers/\(ann)", token: ada)
            try await api.call(.patch, "/v1/customers/\(ann)", token: ada, body: ["birthDate": "not a date"])
            try await api.call(
                .post, "/v1/transactions", token: ada,
                body: ["transactionId": "T1", "customerId": ann, "occurredAt": "2026-01-02T10:00:00Z", "amount": 1000, "currency": "USD"])
            #expect(try await api.call(.get, "/v1/audit-events", token: ada).status == 403)
            let mine = try await api.call(.get, "/v1/audit-events?actor=ada%40x.com", token: admin).array
            let actions = mine.compactMap { e in (e["action"] as? String).map { "\($0) \(e["outcome"] as? String ?? "")" } }
            #expect(actions == ["PATCH /v1/customers/\(ann) 422", "POST /v1/customers 201", "login ok"])
            let about = try await api.call(.get, "/v1/audit-events?contains=customers/\(ann)", token: admin).array
            #expect(about.count == 1)
        }
    }

    /// The change is made, then its audit row cannot be written (the database went away between
    /// the two, or refuses that table): the client was answered with an error for a change that
    /// stands, and a client without an Idempotency-Key that retried made it twice.
    @Test(
        "Regression: a change whose audit row cannot be written at once is answered as made; the row is written once the database takes it",
        arguments: TestEngine.available)
    func auditWrittenLater(engine: TestEngine) async throws {
        try await withAPI(engine) { api, patron, admin in
            let refuse: [String] =
                engine == .postgres
                ? [
                    "CREATE FUNCTION audit_down() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit log unavailable'; END $$",
                    "CREATE TRIGGER audit_down BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION audit_down()",
                ] : ["CREATE TRIGGER audit_down BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'audit log unavailable'); END"]
            for statement in refuse { try await patron.database.write { try await $0.raw(SQLQueryString(statement)).run() } }
            let created = try await api.call(.post, "/v1/customers", token: admin, body: ["firstName": "Ann", "emails": ["ann@x.com"]])
            #expect(created.status == 201, "\(created.text)")
            let ann = try #require(created.id)
            #expect(try await api.call(.get, "/v1/customers/\(ann)", token: admin).status == 200)
            try await patron.database.write { try await $0.raw("DROP TRIGGER audit_down\(unsafeRaw: engine == .postgres ? " ON audit_events" : "")").run() }
            var actions: [String] = []
            for _ in 0..<50 where !actions.contains("POST /v1/customers 201") {
                try await Task.sleep(for: .milliseconds(100))
                actions = try await patron.access.auditEvents(AuditQuery(limit: 100)).map { "\($0.action) \($0.outcome)" }
            }
            #expect(actions.contains("POST /v1/customers 201"), "\(actions)")
        }
    }

    @Test("console forms are audited; the audit page is the admin's", arguments: TestEngine.available)
    func consoleForms(engine: TestEngine) async throws {
        try await TestDatabase.withPatron(engine) { p in
            _ = try await p.access.addUser(email: "ada@x.com", password: "password1", role: .agent)
            _ = try await p.access.addUser(email: "root@x.com", password: "password1", role: .admin)
            let ann = try await p.customers.create(ProfileDraft(firstName: "Ann", lastName: "Lee"))
            let app = Application(router: try buildRouter(patron: p))
            try await app.test(.router) { client in
                let ada = try await WebVisitor.signIn(client, "console", "email=ada%40x.com&password=password1")
                let root = try await WebVisitor.signIn(client, "console", "email=root%40x.com&password=password1")
                _ = try await ada.post(
                    "/console/customers/\(ann.id)/interactions", "channel=call&direction=inbound&subject=Asked+about+points",
                    tokenPage: "/console/customers/\(ann.id)")
                #expect(try await ada.get("/console/admin/audit").status == .forbidden)
                let (status, html) = try await root.get("/console/admin/audit?actor=ada%40x.com")
                #expect(status == .ok)
                #expect(html.contains("POST /console/customers/\(ann.id)/interactions") && html.contains("login"))
                #expect(!html.contains("root@x.com</a>"))
            }
        }
    }
}
