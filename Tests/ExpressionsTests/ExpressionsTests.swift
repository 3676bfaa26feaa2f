import Expressions
import Foundation
import PropertyBased
import Testing

let schema = Schema(
    fields: [
        "tier": .string, "clv.next_12m": .number, "purchase.channel": .string, "purchase.amount": .number, "purchase.category": .string,
        "last_purchase": .date, "home": .geo, "rfm.segment": .string, "churn.risk": .number, "consent.email": .bool, "age": .number,
    ],
    collections: ["purchases": ["amount": .number, "category": .string, "channel": .string, "date": .date]])

let now = Date(timeIntervalSince1970: 1_767_225_600)  // 2026-01-01T00:00:00Z

func day(_ offset: Double) -> Value { .date(now.addingTimeInterval(offset * 86_400)) }

@Suite("Parsing and checking rules")
struct ParsingTests {
    @Test(
        "The rules the product needs parse and type-check",
        arguments: [
            #"tier in ["Gold","Platinum"] and clv.next_12m > 200 and purchase.channel == "web""#,
            #"count(purchases where category == "wine" within 365d) >= 3"#,
            "sum(purchases.amount within 90d) > 100",
            #"distance_km(home, store("S12")) < 10"#,
            "last_purchase < today - 90d or not consent.email",
            #"rfm.segment not in ["Lost", "Hibernating"] and churn.risk >= 0.7"#,
            #"in_segment("vip") and (age - 18) * 2 >= 10"#,
            "last_purchase >= date(\"2025-06-01\")",
        ])
    func valid(text: String) throws {
        let rule = try Parser.parse(text)
        try TypeChecker(schema: schema).checkCondition(rule)
        #expect(try Parser.parse(rule.description) == rule, "printed as \(rule.description)")
    }

    @Test(
        "Syntax errors point at the line and column",
        arguments: [
            ("tier == ", 1, 9, "expected a value"),
            ("tier == \"Gold\" and\n  clv.next_12m > ", 2, 18, "expected a value"),
            ("tier = \"Gold\"", 1, 6, "use =="),
            ("(tier == \"Gold\"", 1, 16, "')' to close"),
            ("tier == \"Gold", 1, 9, "not closed"),
            ("age > 3 > 2", 1, 9, "cannot be chained"),
            ("age > 3 tier", 1, 9, "unexpected 'tier'"),
            ("count(purchases where)", 1, 22, "expected a value"),
            // Regression (found by the rules fuzz target): a number with two decimal points trapped
            // the lexer, and with it the server.
            ("age > 111.1.1", 1, 7, "one decimal point"),
            ("age > " + String(repeating: "9", count: 400), 1, 7, "not a number Patron can hold"),
        ])
    func syntaxErrors(text: String, line: Int, column: Int, message: String) {
        do {
            _ = try Parser.parse(text)
            Issue.record("\(text) should not parse")
        } catch let error as ExpressionError {
            #expect(error.position == SourcePosition(line: line, column: column), "\(error)")
            #expect(error.message.contains(message), "\(error)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test(
        "Type errors name what does not fit, where",
        arguments: [
            ("tier > 3", 1, 6, "compares two numbers"),
            ("tierr == \"Gold\"", 1, 1, "did you mean tier"),
            ("age + 1", 1, 5, "must be a condition"),
            ("count(purchases.amount) > 1", 1, 1, "drop .amount"),
            ("sum(purchases.category) > 1", 1, 1, "needs a number field"),
            ("age in [\"a\"]", 1, 8, "needs a list of number"),
            ("last_purchase < today - 90", 1, 23, "cannot subtract"),
            ("nope(1)", 1, 1, "unknown function"),
            ("count(orders) > 1", 1, 1, "unknown history"),
            ("date(\"2025-02-30\") < today", 1, 6, "not a date"),
        ])
    func typeErrors(text: String, line: Int, column: Int, message: String) throws {
        let rule = try Parser.parse(text)
        do {
            try TypeChecker(schema: schema).checkCondition(rule)
            Issue.record("\(text) should not type-check")
        } catch let error as ExpressionError {
            #expect(error.position == SourcePosition(line: line, column: column), "\(error)")
            #expect(error.message.contains(message), "\(error)")
        }
    }
}

@Suite("Evaluating rules")
struct EvaluationTests {
    let context = DictionaryContext(
        now: now,
        fields: [
            "tier": .string("Gold"), "clv.next_12m": .number(250), "purchase.channel": .string("web"), "last_purchase": day(-120),
            "home": .geo(latitude: 47.61, longitude: -122.33), "consent.email": .bool(true), "age": .number(40),
        ],
        collections: [
            "purchases": [
                ["amount": .number(30), "category": .string("wine"), "date": day(-10)],
                ["amount": .number(45), "category": .string("wine"), "date": day(-200)],
                ["amount": .number(12), "category": .string("cheese"), "date": day(-30)],
                ["amount": .number(99), "category": .string("wine"), "date": day(-400)],
            ]
        ],
        stores: ["S12": .geo(latitude: 47.62, longitude: -122.35)], segments: ["vip"])

    func eval(_ text: String) throws -> Bool {
        let rule = try Parser.parse(text)
        try TypeChecker(schema: schema).checkCondition(rule)
        return Evaluator.matches(rule, in: context)
    }

    @Test("Fields, lists, dates, aggregates, geography and segments")
    func examples() throws {
        #expect(try eval(#"tier in ["Gold","Platinum"] and clv.next_12m > 200 and purchase.channel == "web""#))
        #expect(try eval(#"count(purchases where category == "wine" within 365d) == 2"#))
        #expect(try eval("sum(purchases.amount within 90d) == 42"))
        #expect(try eval("max(purchases.amount) == 99 and min(purchases.amount) == 12 and avg(purchases.amount within 90d) == 21"))
        #expect(try eval(#"distance_km(home, store("S12")) < 3"#))
        #expect(try eval("last_purchase < today - 90d"))
        #expect(!(try eval("last_purchase < today - 180d")))
        #expect(try eval(#"in_segment("vip") and not in_segment("lost")"#))
        #expect(try eval("days(today - last_purchase) == 120"))
    }

    @Test("A missing value is unknown, never true, as in SQL")
    func missingValues() throws {
        #expect(!(try eval("churn.risk > 0.5")))
        #expect(!(try eval("not churn.risk > 0.5")))
        #expect(!(try eval("churn.risk == 1 or churn.risk != 1")))
        #expect(try eval("churn.risk > 0.5 or tier == \"Gold\""))
        #expect(!(try eval(#"rfm.segment not in ["Lost"]"#)))
        #expect(!(try eval(#"distance_km(home, store("S99")) < 10"#)))
    }

    @Test("The distance from Seattle to Portland is about 233 km")
    func haversine() {
        #expect(abs(Evaluator.haversineKilometres(47.6062, -122.3321, 45.5152, -122.6784) - 233.4) < 1)
    }
}

/// Random well-typed conditions over a few fields, for the property tests.
struct RuleBuilder {
    var state: UInt64

    mutating func next(_ bound: Int) -> Int {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Int((state >> 33) % UInt64(bound))
    }

    mutating func number(_ depth: Int) -> RuleExpression {
        switch depth > 2 ? next(2) : next(4) {
        case 0: return RuleExpression(.number(Double(next(100))))
        case 1: return RuleExpression(.field(["age", "clv.next_12m", "churn.risk"][next(3)].split(separator: ".").map(String.init)))
        case 2: return RuleExpression(.binary([.plus, .minus, .times][next(3)], number(depth + 1), number(depth + 1)))
        default:
            return RuleExpression(
                .aggregate(
                    Aggregate(
                        function: .sum, collection: "purchases", field: "amount", filter: nil,
                        within: RuleExpression(.duration(Double(1 + next(400)) * 86_400)))))
        }
    }

    mutating func condition(_ depth: Int) -> RuleExpression {
        switch depth > 3 ? next(3) : next(6) {
        case 0:
            return RuleExpression(
                .binary([.less, .lessOrEqual, .greater, .greaterOrEqual, .equal, .notEqual][next(6)], number(depth + 1), number(depth + 1)))
        case 1:
            return RuleExpression(
                .membership(
                    RuleExpression(.field(["tier"])), RuleExpression(.list([RuleExpression(.string("Gold")), RuleExpression(.string("Blue"))])),
                    negated: next(2) == 0))
        case 2: return RuleExpression(.field(["consent", "email"]))
        case 3: return RuleExpression(.not(condition(depth + 1)))
        default: return RuleExpression(.binary(next(2) == 0 ? .and : .or, condition(depth + 1), condition(depth + 1)))
        }
    }

    mutating func context() -> DictionaryContext {
        func maybe(_ value: Value) -> Value? { next(4) == 0 ? nil : value }
        var fields: [String: Value] = [:]
        fields["age"] = maybe(.number(Double(next(90))))
        fields["clv.next_12m"] = maybe(.number(Double(next(500))))
        fields["churn.risk"] = maybe(.number(Double(next(100)) / 100))
        fields["tier"] = maybe(.string(["Gold", "Blue", "Silver"][next(3)]))
        fields["consent.email"] = maybe(.bool(next(2) == 0))
        let purchases = (0..<next(5)).map { _ in ["amount": Value.number(Double(next(200))), "date": day(-Double(next(500)))] }
        return DictionaryContext(now: now, fields: fields, collections: ["purchases": purchases])
    }
}

@Suite("Rule language laws")
struct ExpressionPropertyTests {
    @Test("Printing a rule and parsing it back gives the same rule, and it type-checks")
    func roundTrip() async {
        await propertyCheck(count: 300, input: Gen.int(in: 0...Int.max)) { seed in
            var builder = RuleBuilder(state: UInt64(seed))
            let rule = builder.condition(0)
            let reparsed = try Parser.parse(rule.description)
            #expect(reparsed == rule, "\(rule.description)")
            try TypeChecker(schema: schema).checkCondition(reparsed)
        }
    }

    @Test("De Morgan and double negation hold under three-valued logic")
    func laws() async {
        await propertyCheck(count: 300, input: Gen.int(in: 0...Int.max)) { seed in
            var builder = RuleBuilder(state: UInt64(seed))
            let a = builder.condition(2), b = builder.condition(2)
            let context = builder.context()
            let value = { (e: RuleExpression) in Evaluator.evaluate(e, in: context) }
            #expect(
                value(RuleExpression(.not(RuleExpression(.binary(.and, a, b)))))
                    == value(RuleExpression(.binary(.or, RuleExpression(.not(a)), RuleExpression(.not(b))))))
            #expect(value(RuleExpression(.not(RuleExpression(.not(a))))) == value(a))
            #expect(value(RuleExpression(.binary(.and, a, b))) == value(RuleExpression(.binary(.and, b, a))))
        }
    }
}

@Suite("Compiled rules")
struct CompiledRuleTests {
    static let fields = ["age", "clv.next_12m", "churn.risk", "tier", "consent.email"]

    @Test("A compiled rule gives the interpreter's answer on every rule and every context, unknowns included")
    func sameAsInterpreter() async {
        await propertyCheck(count: 400, input: Gen.int(in: 0...Int.max)) { seed in
            var builder = RuleBuilder(state: UInt64(seed))
            let rule = builder.condition(0)
            var context = builder.context()
            context.collections = [:]  // a compiled rule sees no histories
            let compiled = CompiledRule(rule, fields: Self.fields)
            let values = Self.fields.map { context.fields[$0] ?? .null }
            #expect(compiled.evaluate(values, now: now) == Evaluator.evaluate(rule, in: context), "\(rule.description)")
        }
    }

    @Test("Dates, lists and calls on constants are worked out once and still compare as written")
    func constants() throws {
        let fields = ["purchase.date", "purchase.store", "member.tier"]
        let rule = CompiledRule(
            try Parser.parse(#"purchase.date >= date("2025-03-01") and lower(purchase.store) in ["s1", "s2"] and member.tier not in ["Blue"]"#),
            fields: fields)
        let march = Date(timeIntervalSince1970: 1_740_787_200)  // 2025-03-01
        #expect(rule.matches([.date(march), .string("S1"), .string("Gold")], now: march))
        #expect(!rule.matches([.date(march.addingTimeInterval(-1)), .string("S1"), .string("Gold")], now: march))
        #expect(!rule.matches([.date(march), .string("S3"), .string("Gold")], now: march))
        #expect(rule.evaluate([.date(march), .string("S1"), .null], now: march) == .null)
        // A field the rule's list does not name is unknown, as in the interpreter.
        #expect(CompiledRule(try Parser.parse("age > 3"), fields: []).evaluate([], now: march) == .null)
    }
}
