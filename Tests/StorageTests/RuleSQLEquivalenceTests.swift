import App
import Expressions
import Foundation
import PropertyBased
import SQLKit
import SharedModels
import Storage
import TestSupport
import Testing

/// The rule language's two back ends agree: for random rules over random data, the SQL the
/// compiler writes selects exactly the subjects the in-memory evaluator selects, on SQLite and
/// PostgreSQL.
@Suite("Rule language: evaluator and SQL agree")
struct RuleSQLEquivalenceTests {
    static let now = Date(timeIntervalSince1970: 1_767_225_600 + 13 * 3600 + 17)
    static let types = Schema(
        fields: ["age": .number, "clv": .number, "tier": .string, "consent": .bool, "joined": .date, "home": .geo],
        collections: ["purchases": ["amount": .number, "category": .string, "date": .date]])
    static let stores = ["S1": (latitude: 47.61, longitude: -122.33)]
    static let otherSegment = "age >= 40 or tier == \"Gold\""

    struct Subject {
        var id: Int64
        var age, clv: Double?
        var tier: String?
        var consent: Bool?
        var joined: Date?
        var home: (latitude: Double, longitude: Double)?
        var purchases: [(amount: Double?, category: String?, date: Date)]
    }

    static func sqlSchema(_ engine: TestEngine) -> SQLSchema {
        SQLSchema(
            dialect: engine == .postgres ? .postgres : .sqlite,
            fields: [
                "age": .expression("c.age"), "clv": .expression("c.clv"), "tier": .expression("c.tier"),
                "consent": .expression("(c.consent <> 0)"), "joined": .expression("c.joined"),
                "home": .location(latitude: "c.lat", longitude: "c.lon"),
            ],
            collections: [
                "purchases": .init(
                    table: "rule_purchases", alias: "p", join: "p.subject_id = c.id", date: "p.at",
                    fields: ["amount": .expression("p.amount"), "category": .expression("p.category"), "date": .expression("p.at")])
            ])
    }

    @Test("Random rules select the same subjects in memory and in SQL", arguments: TestEngine.available)
    func equivalence(engine: TestEngine) async throws {
        try await TestDatabase.withPatron(engine) { patron in
            var random = RuleBuilder(state: 99)
            let subjects = (1...48).map { random.subject(id: Int64($0)) }
            try await patron.database.write { db in
                try await db.raw(
                    """
                    CREATE TABLE rule_subjects (id BIGINT PRIMARY KEY, age DOUBLE PRECISION, clv DOUBLE PRECISION, tier TEXT, consent INTEGER,
                      joined DOUBLE PRECISION, lat DOUBLE PRECISION, lon DOUBLE PRECISION)
                    """
                ).run()
                try await db.raw(
                    "CREATE TABLE rule_purchases (subject_id BIGINT NOT NULL, amount DOUBLE PRECISION, category TEXT, at DOUBLE PRECISION NOT NULL)"
                ).run()
                for s in subjects {
                    try await db.raw(
                        """
                        INSERT INTO rule_subjects (id, age, clv, tier, consent, joined, lat, lon) VALUES (\(bind: s.id), \(bind: s.age), \(bind: s.clv),
                        \(bind: s.tier), \(bind: s.consent.map { Int64($0 ? 1 : 0) }), \(bind: s.joined?.timeIntervalSince1970), \(bind: s.home?.latitude),
                        \(bind: s.home?.longitude))
                        """
                    ).run()
                    for p in s.purchases {
                        try await db.raw(
                            """
                            INSERT INTO rule_purchases (subject_id, amount, category, at)
                            VALUES (\(bind: s.id), \(bind: p.amount), \(bind: p.category), \(bind: p.date.timeIntervalSince1970))
                            """
                        ).run()
                    }
                }
            }
            let other = try Parser.parse(Self.otherSegment)
            var compiler = SQLCompiler(schema: Self.sqlSchema(engine), types: Self.types, now: Self.now)
            compiler.store = { Self.stores[$0] }
            compiler.segment = { $0 == "other" ? other : nil }
            let contexts = subjects.map { s in
                var context = s.context(now: Self.now)
                if Evaluator.matches(other, in: context) { context.segments.insert("other") }
                return (s.id, context)
            }
            await propertyCheck(count: 400, input: Gen.int(in: 0...Int.max)) { seed in
                var builder = RuleBuilder(state: UInt64(seed))
                let rule = builder.condition(0)
                try TypeChecker(schema: Self.types).checkCondition(rule)
                let expected = Set(contexts.filter { Evaluator.matches(rule, in: $0.1) }.map(\.0))
                let compiled = try compiler.compile(rule)
                let selected = try await patron.database.read { db in
                    try await db.raw("SELECT id FROM rule_subjects c WHERE " + SQLQueryString(compiled)).all().map {
                        try $0.decode(column: "id", as: Int64.self)
                    }
                }
                #expect(Set(selected) == expected, "\(rule.description)\n\(compiled.sql)")
            }
        }
    }
}

/// Random well-typed rules over every construct the compiler handles, and random subjects.
struct RuleBuilder {
    var state: UInt64

    mutating func next(_ bound: Int) -> Int {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Int((state >> 33) % UInt64(bound))
    }

    func e(_ kind: RuleExpression.Kind) -> RuleExpression { RuleExpression(kind) }
    func field(_ name: String) -> RuleExpression { e(.field([name])) }

    mutating func literal() -> RuleExpression { e(.number(Double(next(120)) / (next(3) == 0 ? 2 : 1))) }

    mutating func duration(_ depth: Int) -> RuleExpression {
        switch depth > 2 ? 0 : next(3) {
        case 0: return e(.duration(Double(1 + next(500)) * 86_400))
        case 1: return e(.binary(.minus, date(depth + 1), date(depth + 1)))
        default: return e(.binary(next(2) == 0 ? .plus : .minus, duration(depth + 1), duration(depth + 1)))
        }
    }

    mutating func date(_ depth: Int) -> RuleExpression {
        switch depth > 2 ? next(3) : next(6) {
        case 0: return next(2) == 0 ? e(.today) : e(.now)
        case 1: return field("joined")
        case 2: return e(.call("date", [e(.string(["2025-06-01", "2024-12-31"][next(2)]))]))
        case 3: return e(.binary(next(2) == 0 ? .plus : .minus, date(depth + 1), duration(depth + 1)))
        default:
            return e(
                .aggregate(
                    Aggregate(
                        function: next(2) == 0 ? .min : .max, collection: "purchases", field: "date", filter: nil,
                        within: next(2) == 0 ? nil : duration(3))))
        }
    }

    mutating func number(_ depth: Int) -> RuleExpression {
        switch depth > 2 ? next(3) : next(10) {
        case 0: return literal()
        case 1: return field("age")
        case 2: return field("clv")
        case 3: return e(.binary([.plus, .minus, .times, .divided][next(4)], number(depth + 1), number(depth + 1)))
        case 4: return e(.negate(number(depth + 1)))
        case 5: return e(.call("abs", [number(depth + 1)]))
        case 6: return e(.call("days", [duration(depth + 1)]))
        case 7:
            return e(.call("distance_km", [field("home"), e(.call("store", [e(.string(next(3) == 0 ? "S9" : "S1"))]))]))
        default:
            let function: Aggregate.Function = [.count, .sum, .avg, .min, .max][next(5)]
            return e(
                .aggregate(
                    Aggregate(
                        function: function, collection: "purchases", field: function == .count ? nil : "amount",
                        filter: next(2) == 0 ? nil : elementCondition(), within: next(2) == 0 ? nil : duration(3))))
        }
    }

    mutating func text(_ depth: Int) -> RuleExpression {
        switch depth > 2 ? next(2) : next(3) {
        case 0: return e(.string(["Gold", "Blue", "gold", "Silver", ""][next(5)]))
        case 1: return field("tier")
        default: return e(.call("lower", [text(depth + 1)]))
        }
    }

    mutating func elementCondition() -> RuleExpression {
        switch next(5) {
        case 0: return e(.binary(.equal, field("category"), e(.string(["wine", "food", "toys"][next(3)]))))
        case 1: return e(.binary(.greater, field("amount"), literal()))
        case 2:
            return e(.membership(field("category"), e(.list([e(.string("wine")), e(.string("toys"))])), negated: next(2) == 0))
        case 3: return e(.binary(.greaterOrEqual, field("age"), literal()))
        default: return e(.binary(next(2) == 0 ? .and : .or, elementCondition(), elementCondition()))
        }
    }

    mutating func condition(_ depth: Int) -> RuleExpression {
        let comparisons: [BinaryOperator] = [.less, .lessOrEqual, .greater, .greaterOrEqual, .equal, .notEqual]
        switch depth > 3 ? next(7) : next(13) {
        case 0: return e(.binary(comparisons[next(6)], number(depth + 1), number(depth + 1)))
        case 1: return e(.binary(comparisons[next(6)], date(depth + 1), date(depth + 1)))
        case 2: return e(.binary(comparisons[next(6)], text(depth + 1), text(depth + 1)))
        case 3:
            let items = (0..<next(3)).map { _ in e(.string(["Gold", "Blue", "Silver"][next(3)])) }
            return e(.membership(text(depth + 1), e(.list(items)), negated: next(2) == 0))
        case 4: return e(.membership(field("age"), e(.list([literal(), literal()])), negated: next(2) == 0))
        case 5: return field("consent")
        case 6: return e(.binary(comparisons[next(6)], duration(depth + 1), duration(depth + 1)))
        case 7: return e(.binary(.equal, field("consent"), e(.bool(next(2) == 0))))
        case 8: return e(.call("in_segment", [e(.string(next(4) == 0 ? "unknown" : "other"))]))
        case 9: return e(.not(condition(depth + 1)))
        default: return e(.binary(next(2) == 0 ? .and : .or, condition(depth + 1), condition(depth + 1)))
        }
    }

    mutating func subject(id: Int64) -> RuleSQLEquivalenceTests.Subject {
        let now = RuleSQLEquivalenceTests.now
        func maybe<T>(_ value: T) -> T? { next(5) == 0 ? nil : value }
        return RuleSQLEquivalenceTests.Subject(
            id: id, age: maybe(Double(next(90))), clv: maybe(Double(next(600)) / 2), tier: maybe(["Gold", "Blue", "gold", "Silver", ""][next(5)]),
            consent: maybe(next(2) == 0), joined: maybe(now.addingTimeInterval(-Double(next(900)) * 86_400 - Double(next(86_400)))),
            home: maybe((latitude: 47 + Double(next(200)) / 100, longitude: -123 + Double(next(200)) / 100)),
            purchases: (0..<next(6)).map { _ in
                (
                    amount: maybe(Double(next(300)) / 2), category: maybe(["wine", "food", "toys"][next(3)]),
                    date: now.addingTimeInterval(-Double(next(700)) * 86_400 - Double(next(86_400)))
                )
            })
    }
}

extension RuleSQLEquivalenceTests.Subject {
    func context(now: Date) -> DictionaryContext {
        var fields: [String: Value] = [:]
        fields["age"] = age.map { .number($0) } ?? .null
        fields["clv"] = clv.map { .number($0) } ?? .null
        fields["tier"] = tier.map { .string($0) } ?? .null
        fields["consent"] = consent.map { .bool($0) } ?? .null
        fields["joined"] = joined.map { .date($0) } ?? .null
        fields["home"] = home.map { .geo(latitude: $0.latitude, longitude: $0.longitude) } ?? .null
        let elements: [[String: Value]] = purchases.map {
            ["amount": $0.amount.map { .number($0) } ?? .null, "category": $0.category.map { .string($0) } ?? .null, "date": .date($0.date)]
        }
        return DictionaryContext(
            now: now, fields: fields, collections: ["purchases": elements],
            stores: RuleSQLEquivalenceTests.stores.mapValues { .geo(latitude: $0.latitude, longitude: $0.longitude) })
    }
}
