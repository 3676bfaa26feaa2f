import App
import Customers
import Foundation
import HTTPTypes
import Loyalty
import SharedModels
import TestSupport
import Testing

/// Each input here once killed the whole server (an arithmetic trap or a stack overflow) or
/// answered 500. Every one must now answer 4xx problem+json naming the field, and leave the
/// server serving.
@Suite("Hostile input")
struct HostileInputTests {
    @Test("Regression: out-of-range numbers answer 4xx naming the field; nothing is written", arguments: TestEngine.available)
    func numbers(engine: TestEngine) async throws {
        try await withAPI(engine) { api, patron, admin in
            let program = try await LoyaltyIntakeTests.program(patron)
            let ann = try #require(try await api.call(.post, "/v1/customers", token: admin, body: ["firstName": "Ann", "lastName": "Lee"]).id)
            let member = try await patron.loyalty.enroll(CustomerID(ann), in: program.id)
            func refused(_ reply: Reply, field: String, _ comment: Comment) {
                #expect((400..<500).contains(reply.status), comment)
                #expect(reply.headers[.contentType] == "application/problem+json", comment)
                #expect(reply.text.contains(field), comment)
            }
            let huge = try await api.call(
                .post, "/v1/transactions", token: admin,
                raw: #"{"transactionId":"T1","customerId":\#(ann),"occurredAt":"2026-01-02T10:00:00Z","amount":100000000000000000}"#)
            refused(huge, field: "amount", "a purchase of 10^17 minor units")
            let lines = try await api.call(
                .post, "/v1/transactions", token: admin,
                raw: #"""
                    {"transactionId":"T2","customerId":\#(ann),"occurredAt":"2026-01-02T10:00:00Z","amount":1,
                     "lines":[{"product":"a","quantity":1,"amount":9223372036854775807},{"product":"b","quantity":1,"amount":9223372036854775807}]}
                    """#)
            refused(lines, field: "lines[0].amount", "two lines of Int64.max")
            for points in ["-9223372036854775808", "9223372036854775807", "1000000001"] {
                let adjusted = try await api.call(
                    .post, "/v1/members/\(member.id)/adjustments", token: admin, raw: #"{"points":\#(points),"reason":"x"}"#)
                refused(adjusted, field: "points", "an adjustment of \(points)")
            }
            let cafe = try await api.call(
                .put, "/v1/partners/CAFE", token: admin,
                body: ["name": "Cafe", "outlets": ["CAFE-1"], "currency": "USD", "pricePerThousandPoints": 100, "payoutPerVoucher": 100])
            #expect(cafe.status < 300, "partner set up: \(cafe.text)")
            let settlement = try await api.call(.post, "/v1/partners/CAFE/settlements", token: admin, body: ["month": "9999-12"])
            #expect((400..<500).contains(settlement.status), "a settlement for 9999-12")
            let basket = try await api.call(.get, "/v1/analytics/basket-rules?minSupport=1e308", token: admin)
            refused(basket, field: "minSupport", "a support of 1e308")
            let words = Array(repeating: "smith", count: 1_000).joined(separator: "%20")
            refused(try await api.call(.get, "/v1/customers?q=\(words)", token: admin), field: "q", "a search of 1,000 words")
            #expect(try await patron.loyalty.balance(of: member.id).ledger == 0, "nothing was written")
            #expect(try await api.call(.get, "/health").status == 200)
        }
    }

    @Test("Regression: rules nested or listed without end answer 422, not a stack overflow", arguments: TestEngine.available)
    func deepRules(engine: TestEngine) async throws {
        try await withAPI(engine) { api, _, admin in
            let rules = [
                String(repeating: "(", count: 20_000) + "age > 1" + String(repeating: ")", count: 20_000),
                String(repeating: "not ", count: 20_000) + "has_email",
                "age > " + String(repeating: "-", count: 100_000) + "1",
                "age in [" + (0..<30_000).map(String.init).joined(separator: ",") + "]",
                (0..<1_100).map { "age == \($0)" }.joined(separator: " or "),
                String(repeating: "(", count: 40) + "age > 1" + String(repeating: ")", count: 40),
            ]
            for rule in rules {
                let reply = try await api.call(.post, "/v1/segments/count", token: admin, body: ["rule": rule])
                #expect(reply.status == 422, "\(rule.prefix(40))…: \(reply.status) \(reply.text.prefix(200))")
            }
            #expect(try await api.call(.post, "/v1/segments/count", token: admin, body: ["rule": "age > 1 and has_email"]).status == 200)
        }
    }
}
