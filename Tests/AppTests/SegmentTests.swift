import Access
import App
import Demo
import Interchange
import Campaigns
import Expressions
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SQLKit
import SharedModels
import Storage
import TestSupport
import Testing

/// Segments over the demo company on both engines: counts agree with a brute-force reading of
/// the raw tables, and the API lets the right people do the right things.
@Suite struct SegmentTests {
    /// Each customer's fields and purchases read straight from the rooms' tables, as the
    /// evaluator needs them.
    static func contexts(_ patron: Patron, now: Date) async throws -> [Int64: DictionaryContext] {
        try await patron.database.read { db in
            var fields: [Int64: [String: Value]] = [:]
            for row in try await db.raw("SELECT id, birth_date, home_store, latitude, longitude FROM customers WHERE status = 'active'").all() {
                let id = try row.decode(column: "id", as: Int64.self)
                var f: [String: Value] = [:]
                let today = LocalDate(now)
                if let birth = try row.decode(column: "birth_date", as: String?.self).flatMap(LocalDate.init) {
                    let age = today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day) ? 1 : 0)
                    f["age"] = .number(Double(age))
                }
                f["home_store"] = try row.decode(column: "home_store", as: String?.self).map { .string($0) } ?? .null
                if let lat = try row.decode(column: "latitude", as: Double?.self), let lon = try row.decode(column: "longitude", as: Double?.self) {
                    f["home"] = .geo(latitude: lat, longitude: lon)
                }
                f["member"] = .bool(false)
                fields[id] = f
            }
            for row in try await db.raw("SELECT customer_id, tier FROM loyalty_members ORDER BY id DESC").all() {
                let id = try row.decode(column: "customer_id", as: Int64.self)
                fields[id]?["member"] = .bool(true)
                fields[id]?["member.tier"] = try row.decode(column: "tier", as: String?.self).map { .string($0) } ?? .null
            }
            // The latest marketing consent by email wins, unless email is blocked.
            for row in try await db.raw(
                "SELECT customer_id, granted FROM consent_events WHERE purpose = 'marketing' AND channel = 'email' ORDER BY id"
            ).all() {
                fields[try row.decode(column: "customer_id", as: Int64.self)]?["consent.email"] = .bool(
                    try row.decode(column: "granted", as: Int64.self) != 0)
            }
            for row in try await db.raw("SELECT customer_id FROM contact_blocks WHERE channel = 'email' AND cleared_at IS NULL").all() {
                fields[try row.decode(column: "customer_id", as: Int64.self)]?["consent.email"] = .bool(false)
            }
            for row in try await db.raw("SELECT customer_id, value_tier, churn_risk FROM customer_scores").all() {
                let id = try row.decode(column: "customer_id", as: Int64.self)
                fields[id]?["value.tier"] = .string(try row.decode(column: "value_tier", as: String.self))
                fields[id]?["churn.risk"] = try row.decode(column: "churn_risk", as: Double?.self).map { .number($0) } ?? .null
            }
            var purchases: [Int64: [[String: Value]]] = [:]
            var firstCategory: [Int64: String] = [:]
            for row in try await db.raw("SELECT transaction_id, category FROM transaction_lines ORDER BY transaction_id, line_no DESC").all() {
                firstCategory[try row.decode(column: "transaction_id", as: Int64.self)] = try row.decode(column: "category", as: String?.self)
            }
            for row in try await db.raw(
                "SELECT id, customer_id, occurred_at, amount_minor, channel, store FROM transactions WHERE kind = 'purchase'"
            ).all() {
                purchases[try row.decode(column: "customer_id", as: Int64.self), default: []].append([
                    "date": .date(Date(timeIntervalSince1970: Double(try row.decode(column: "occurred_at", as: Int64.self)))),
                    "amount": .number(Double(try row.decode(column: "amount_minor", as: Int64.self)) / 100),
                    "channel": try row.decode(column: "channel", as: String?.self).map { .string($0) } ?? .null,
                    "store": try row.decode(column: "store", as: String?.self).map { .string($0) } ?? .null,
                    "category": firstCategory[try row.decode(column: "id", as: Int64.self)].map { .string($0) } ?? .null,
                ])
            }
            var stores: [String: Value] = [:]
            for row in try await db.raw("SELECT code, latitude, longitude FROM stores").all() {
                if let lat = try row.decode(column: "latitude", as: Double?.self), let lon = try row.decode(column: "longitude", as: Double?.self) {
                    stores[try row.decode(column: "code", as: String.self)] = .geo(latitude: lat, longitude: lon)
                }
            }
            return Dictionary(
                uniqueKeysWithValues: fields.map { id, f in
                    (id, DictionaryContext(now: now, fields: f, collections: ["purchases": purchases[id] ?? []], stores: stores))
                })
        }
    }

    @Test("Segment counts equal a brute-force count over the raw tables", arguments: TestEngine.available)
    func bruteForce(engine: TestEngine) async throws {
        let clock = TestClock()
        try await TestDatabase.withPatron(engine, clock: clock) { patron in
            _ = try await DemoCompany(customers: 250, seed: 11, until: clock.now).load(into: patron)
            _ = try await patron.runNightly()
            let contexts = try await Self.contexts(patron, now: clock.now)
            let rules = [
                #"member.tier in ["Gold", "Platinum"]"#,
                #"age >= 30 and age < 55 and consent.email"#,
                #"not consent.email"#,
                #"value.tier == "A" or churn.risk > 0.7"#,
                #"count(purchases where channel == "web" within 365d) >= 2"#,
                #"count(purchases where category == "camping" within 365d) >= 1 and not member"#,
                #"sum(purchases.amount within 180d) > 300"#,
                #"distance_km(home, store("S03")) < 25 or home_store == "S05""#,
                #"max(purchases.date) < today - 120d and member"#,
                #"age >= 25 and consent.email and churn.risk < 0.6 and value.tier in ["A", "B", "C"] and max(purchases.date) > today - 365d and home_store in ["S01", "S02", "S03", "S04", "S05", "S06"]"#,
            ]
            for text in rules {
                let rule = try SegmentFields.check(text)
                let expected = contexts.values.filter { Evaluator.matches(rule, in: $0) }.count
                let (count, _) = try await patron.segments.count(rule: text)
                #expect(count == expected, "\(text): SQL \(count), brute force \(expected)")
                #expect(expected > 0 || text.contains("not"), "\(text) selects nobody; the check would prove little")
            }
            // A rule that does not parse names where.
            await #expect(throws: SegmentError.invalidRule(message: "expected a value, found the end of the rule", line: 1, column: 21)) {
                _ = try await patron.segments.count(rule: "churn.risk > 0.5 and")
            }
        }
    }

    @Test("Marketers own their segments; analysts read; members and partners are kept out", arguments: TestEngine.available)
    func api(engine: TestEngine) async throws {
        let clock = TestClock()
        try await withAPI(engine, clock: clock) { api, patron, admin in
            _ = try await DemoCompany(customers: 120, seed: 4, until: clock.now).load(into: patron)
            _ = try await patron.runNightly()
            let marketer = try await api.logIn("marketer@northwind.example", DemoCompany.adminPassword)
            _ = try await patron.access.addUser(email: "m2@x.com", password: "password1", role: .marketer)
            _ = try await patron.access.addUser(email: "analyst@x.com", password: "password1", role: .analyst)
            let other = try await api.logIn("m2@x.com", "password1")
            let analyst = try await api.logIn("analyst@x.com", "password1")

            let bad = try await api.call(.post, "/v1/segments/count", token: marketer, body: ["rule": "member.tier ==\n  and x"])
            #expect(bad.status == 422 && bad.code == "invalid_rule")
            #expect((bad.json["detail"] as? String)?.hasPrefix("line 2, column 3") == true)
            let count = try await api.call(.post, "/v1/segments/count", token: analyst, body: ["rule": "member"])
            #expect(count.status == 200 && (count.json["count"] as? Int ?? 0) > 0)

            let created = try await api.call(
                .post, "/v1/segments", token: marketer, body: ["name": "members", "rule": "member", "description": "every loyalty member"])
            #expect(created.status == 201)
            let id = try #require(created.id)
            #expect(created.json["size"] as? Int == count.json["count"] as? Int)
            #expect(created.json["owner"] as? String == "marketer@northwind.example")
            let frozen = try await api.call(
                .post, "/v1/segments", token: marketer,
                body: ["name": "gold today", "rule": #"in_segment("members") and member.tier == "Gold""#, "kind": "static"])
            #expect(frozen.status == 201)
            let frozenID = try #require(frozen.id)
            let frozenSize = try #require(frozen.json["size"] as? Int)
            #expect(
                try await api.call(.post, "/v1/segments", token: marketer, body: ["name": "members", "rule": "member"]).code == "segment_name_taken")
            #expect(
                try await api.call(.post, "/v1/segments", token: marketer, body: ["name": "loop", "rule": #"in_segment("nowhere")"#]).code
                    == "validation_failed")

            let members = try await api.call(.get, "/v1/segments/\(frozenID)/members?limit=5000", token: analyst)
            #expect(members.array.count == frozenSize)
            let csv = try await api.call(.get, "/v1/segments/\(frozenID)/export", token: marketer)
            #expect(csv.status == 200)
            #expect(csv.text.split(separator: "\n").count == frozenSize + 1)
            let overlap = try await api.call(.get, "/v1/segments/overlap?first=\(id)&second=\(frozenID)", token: analyst)
            #expect(overlap.json["both"] as? Int == frozenSize)

            // Only the owner (or an admin) changes a segment.
            #expect(try await api.call(.put, "/v1/segments/\(id)", token: other, body: ["name": "mine", "rule": "member"]).status == 403)
            #expect(try await api.call(.delete, "/v1/segments/\(id)", token: other).status == 403)
            #expect(try await api.call(.put, "/v1/segments/\(id)", token: marketer, body: ["name": "members", "rule": "not member"]).status == 200)
            #expect(try await api.call(.post, "/v1/segments", token: analyst, body: ["name": "a", "rule": "member"]).status == 403)
            #expect(try await api.call(.delete, "/v1/segments/\(frozenID)", token: admin).status == 204)
            #expect(try await api.call(.get, "/v1/segments/\(frozenID)", token: analyst).code == "segment_not_found")

            // Stores: loyalty managers place them; a rule measures distance from them at once.
            #expect(try await api.call(.put, "/v1/stores/S99", token: marketer, body: ["name": "Pop-up"]).status == 403)
            let placed = try await api.call(.put, "/v1/stores/S99", token: admin, body: ["name": "Pop-up", "latitude": 47.6, "longitude": -122.3])
            #expect(placed.status == 200 && placed.json["code"] as? String == "S99")
            #expect(try await api.call(.put, "/v1/stores/S98", token: admin, body: ["name": "Half", "latitude": 47.6]).code == "validation_failed")
            #expect(try await api.call(.get, "/v1/stores", token: analyst).array.contains { $0["code"] as? String == "S99" })
            let near = try await api.call(.post, "/v1/segments/count", token: analyst, body: ["rule": #"distance_km(home, store("S99")) < 50"#])
            #expect((near.json["count"] as? Int ?? 0) > 0)
            let agent = try await api.logIn("agent@northwind.example", DemoCompany.adminPassword)
            // Agents work customer by customer; segments are the marketers' and analysts'.
            #expect(try await api.call(.post, "/v1/segments/count", token: agent, body: ["rule": "member"]).status == 403)
            #expect(try await api.call(.post, "/v1/segments", token: agent, body: ["name": "x", "rule": "member"]).status == 403)
        }
    }

    @Test("Regression (#17): a rule comparing with a label or a wrongly cased tier is refused with the value meant, never counted as 0", arguments: TestEngine.available)
    func vocabulary(engine: TestEngine) async throws {
        try await TestDatabase.withPatron(engine, clock: TestClock(Date(epochSeconds: 1_767_225_600))) { p in
            _ = try await DemoCompany(customers: 80, seed: 12, until: Date(epochSeconds: 1_767_225_600)).load(into: p)
            for (rule, meant) in [(#"rfm.segment == "at risk""#, #""at_risk""#), (#"member.tier == "gold""#, #""Gold""#)] {
                do {
                    _ = try await p.segments.count(rule: rule)
                    Issue.record("\(rule) was counted")
                } catch let SegmentError.invalidRule(message, _, _) {
                    #expect(message.contains("did you mean \(meant)?"), "\(message)")
                }
            }
            #expect(try await p.segments.count(rule: #"member.tier == "Gold""#).count > 0)
        }
    }

    @Test("Regression (#17): a segment has a page — its size now, members, export, edit and delete for its owner only")
    func segmentPage() async throws {
        try await TestDatabase.withPatron(.sqlite, clock: TestClock(Date(epochSeconds: 1_767_225_600))) { p in
            _ = try await DemoCompany(customers: 60, seed: 13, until: Date(epochSeconds: 1_767_225_600)).load(into: p)
            let app = Application(router: try buildRouter(patron: p))
            try await app.test(.router) { client in
                let mia = try await WebVisitor.signIn(client, "console", "email=marketer%40northwind.example&password=\(DemoCompany.adminPassword)")
                let made = try await mia.post("/console/segments", "name=Members&rule=member", tokenPage: "/console/segments")
                #expect(made.body.contains("Segment &#39;Members&#39; saved"))
                let segment = try #require(try await p.segments.segments().first { $0.name == "Members" })
                let size = try await p.segments.size(of: segment.id)
                let list = try await mia.get("/console/segments")
                #expect(list.body.contains("/console/segments/\(segment.id)") && list.body.contains(">\(size)<"))
                let page = try await mia.get("/console/segments/\(segment.id)")
                #expect(page.status == .ok && page.body.contains("Who is in it") && page.body.contains("members.csv"))
                #expect(page.body.contains(#"class="builder""#) && page.body.contains("data-fields="))
                let csv = try await mia.get("/console/segments/\(segment.id)/members.csv")
                #expect(csv.status == .ok && csv.body.split(separator: "\n").count == size + 1)
                let edited = try await mia.post("/console/segments/\(segment.id)/edit", "name=Members&rule=not+member", tokenPage: "/console/segments/\(segment.id)")
                #expect(edited.body.contains("Saved."))
                #expect(try await p.segments.segment(segment.id).rule == "not member")
                // Another marketer reads it but cannot change it.
                _ = try await p.access.addUser(email: "max@x.com", password: "password1", role: .marketer)
                let max = try await WebVisitor.signIn(client, "console", "email=max%40x.com&password=password1")
                #expect(!(try await max.get("/console/segments/\(segment.id)").body.contains("Change it")))
                let refused = try await max.send("/console/segments/\(segment.id)/delete", "confirm=yes")
                let stillThere = (try? await p.segments.segment(segment.id)) != nil
                #expect(refused.status != .seeOther && stillThere)
                let deleted = try await mia.post("/console/segments/\(segment.id)/delete", "confirm=yes", tokenPage: "/console/segments/\(segment.id)")
                #expect(deleted.body.contains("deleted"))
                let gone = (try? await p.segments.segment(segment.id)) == nil
                #expect(gone)
            }
        }
    }
}
