// libFuzzer target: the rule language. Any text parses or is refused with an ExpressionError;
// a rule that parses and type-checks evaluates and compiles to SQL on both dialects without
// trapping. Built with Sources/Expressions and Sources/SharedModels by scripts/fuzz.sh.
import Expressions
import Foundation

let schema = Schema(
    fields: [
        "tier": .string, "clv.next_12m": .number, "purchase.amount": .number, "last_purchase": .date, "home": .geo,
        "consent.email": .bool, "age": .number,
    ],
    collections: ["purchases": ["amount": .number, "category": .string, "date": .date]])
let now = Date(timeIntervalSince1970: 1_767_225_600)
let context = DictionaryContext(
    now: now,
    fields: ["tier": .string("Gold"), "clv.next_12m": .number(250), "age": .number(40), "consent.email": .bool(true), "last_purchase": .date(now)],
    collections: ["purchases": [["amount": .number(12), "category": .string("wine"), "date": .date(now)]]],
    stores: [:], segments: ["vip"])
let sqlFields: [String: SQLSchema.Column] = [
    "tier": .expression("c.tier"), "clv.next_12m": .expression("c.clv"), "purchase.amount": .expression("c.amount"),
    "last_purchase": .expression("c.last_purchase"), "home": .location(latitude: "c.lat", longitude: "c.lon"),
    "consent.email": .expression("c.consent"), "age": .expression("c.age"),
]
let collections = ["purchases": SQLSchema.Collection(
    table: "transactions", alias: "p", join: "p.customer_id = c.id", date: "p.occurred_at",
    fields: ["amount": .expression("p.amount"), "category": .expression("p.category"), "date": .expression("p.occurred_at")])]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let rule = try? Parser.parse(text) else { return 0 }
    guard (try? TypeChecker(schema: schema).checkCondition(rule)) != nil else { return 0 }
    _ = Evaluator.matches(rule, in: context)
    for dialect in [SQLSchema.Dialect.sqlite, .postgres] {
        _ = try? SQLCompiler(schema: SQLSchema(dialect: dialect, fields: sqlFields, collections: collections), types: schema, now: now).compile(rule)
    }
    return 0
}
