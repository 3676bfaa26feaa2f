import Foundation
import Logging
import NIOConcurrencyHelpers
import PostgresKit
import SharedModels
import Storage
import Synchronization

/// Statements prepared once per connection and reused, by their SQL text.
///
/// A statement text sent a second time (by any connection) gets a slot: a name, `patron_<n>`,
/// that each connection prepares (`Parse` once) on its first use and from then on only binds
/// and executes — the server skips parsing and, once its plan cache settles, planning. Texts
/// sent once (a bulk insert of a size seen once, an `IN` list of a new length) never get one,
/// and there are at most ``limit`` slots, so a stream of one-off texts cannot grow the server's
/// memory or this table without bound.
///
/// PostgresNIO 1.33 prepares and reuses statements only for types conforming to
/// `PostgresPreparedStatement`, whose name and text are static: each slot is a type of its own,
/// ``SlotStatement`` over a number built from ``SlotNumber`` types, and its static text is read
/// from this table. (Its older, dynamic `prepare(query:)` reads prepared rows' binary values as
/// text and cannot be used.)
final class PreparedStatements: Sendable {
    /// Slots in all (each connection prepares those it uses).
    static let limit = 1_024
    /// Texts longer than this are generated (long value lists) and not worth a name.
    static let longestText = 8_000
    static let shared = PreparedStatements()

    private struct State {
        var seen: [String: Int] = [:]
        var slots: [String: Int] = [:]
        var texts: [String] = []
    }
    private let state = NIOLockedValueBox(State())

    /// `sql`'s slot, given on its second use; nil while it is to be sent unprepared.
    func slot(_ sql: String) -> Int? {
        guard sql.utf8.count <= Self.longestText else { return nil }
        return state.withLockedValue { state -> Int? in
            if let slot = state.slots[sql] { return slot }
            guard state.texts.count < Self.limit else { return nil }
            if state.seen.count >= 4 * Self.limit { state.seen.removeAll(keepingCapacity: true) }
            state.seen[sql, default: 0] += 1
            guard state.seen[sql]! >= 2 else { return nil }
            state.seen[sql] = nil
            state.slots[sql] = state.texts.count
            state.texts.append(sql)
            return state.texts.count - 1
        }
    }

    func text(_ slot: Int) -> String { state.withLockedValue { $0.texts[slot] } }

    /// Slots given so far.
    var count: Int { state.withLockedValue { $0.texts.count } }

    /// The type of slot `n`: binary digits as nested types, so that every number has its own.
    static func slotType(_ n: Int) -> any SlotNumber.Type {
        guard n > 0 else { return SlotZero.self }
        func wrap<N: SlotNumber>(_ half: N.Type) -> any SlotNumber.Type { n % 2 == 0 ? SlotTwice<N>.self : SlotTwicePlusOne<N>.self }
        return wrap(slotType(n / 2))
    }

    /// The types of the slots made so far, by number (made once each).
    private let types = NIOLockedValueBox<[any SlotNumber.Type]>([])
    func type(of slot: Int) -> any SlotNumber.Type {
        types.withLockedValue { types in
            while types.count <= slot { types.append(Self.slotType(types.count)) }
            return types[slot]
        }
    }
}

/// Whether a database's connections prepare statements; turned off once, for good.
final class PreparingSwitch: Sendable {
    private let on: Synchronization.Atomic<Bool>
    private let logger: Logger

    init(on: Bool, logger: Logger) {
        self.on = Atomic(on)
        self.logger = logger
    }

    var isOn: Bool { on.load(ordering: .relaxed) }

    func turnOff() {
        if on.exchange(false, ordering: .relaxed) {
            logger.warning(
                "prepared statements turned off: the server does not keep them between transactions (PgBouncer in transaction mode?); add prepared_statements=off to the URL"
            )
        }
    }
}

protocol SlotNumber { static var value: Int { get } }
enum SlotZero: SlotNumber { static var value: Int { 0 } }
enum SlotTwice<N: SlotNumber>: SlotNumber { static var value: Int { 2 * N.value } }
enum SlotTwicePlusOne<N: SlotNumber>: SlotNumber { static var value: Int { 2 * N.value + 1 } }

/// The statement of slot `N`, with this execution's values.
struct SlotStatement<N: SlotNumber>: PostgresPreparedStatement {
    typealias Row = PostgresRow
    static var name: String { "patron_\(N.value)" }
    static var sql: String { PreparedStatements.shared.text(N.value) }
    static var bindingDataTypes: [PostgresDataType] { [] }
    let bindings: PostgresBindings
    func makeBindings() throws -> PostgresBindings { bindings }
    func decodeRow(_ row: PostgresRow) throws -> PostgresRow { row }

    /// Runs it on `connection`, each row to `onRow`.
    static func run(_ bindings: PostgresBindings, on connection: PostgresConnection, logger: Logger, _ onRow: (PostgresRow) -> Void) async throws {
        for try await row in try await connection.execute(SlotStatement<N>(bindings: bindings), logger: logger) { onRow(row) }
    }
}

extension PostgresSession {
    /// `binds` as PostgreSQL values, or nil if one is of a type only PostgresKit's encoder knows
    /// (the statement then goes the ordinary way).
    static func postgresData(_ binds: [any Encodable]) -> [PostgresData]? {
        var values: [PostgresData] = []
        values.reserveCapacity(binds.count)
        for bind in binds {
            switch bind {
            case let v as Int64: values.append(PostgresData(int64: v))
            case let v as Int: values.append(PostgresData(int64: Int64(v)))
            case let v as Int32: values.append(PostgresData(int64: Int64(v)))
            case let v as String: values.append(PostgresData(string: v))
            case let v as Double: values.append(PostgresData(double: v))
            case let v as Bool: values.append(PostgresData(bool: v))
            case let v as SQLValue:
                switch v {
                case .integer(let i): values.append(PostgresData(int64: i))
                case .real(let d): values.append(PostgresData(double: d))
                case .text(let t): values.append(PostgresData(string: t))
                case .null: values.append(.null)
                }
            default:
                // An optional: nil is NULL, a value is encoded as itself.
                let mirror = Mirror(reflecting: bind)
                guard mirror.displayStyle == .optional else { return nil }
                guard let wrapped = mirror.children.first?.value else {
                    values.append(.null)
                    continue
                }
                guard let encodable = wrapped as? any Encodable, let inner = postgresData([encodable]) else { return nil }
                values.append(contentsOf: inner)
            }
        }
        return values
    }
}

extension PostgresSession {
    /// `sql` with each parameter cast to the type of its value (`$1::int8`), as an unnamed
    /// statement's `Parse` names them: a prepared statement's parameters get the same types,
    /// so a value means what it meant unprepared. NULLs stay uncast (their type is inferred, as
    /// before). Quoted strings and identifiers are left alone.
    static func typed(_ sql: String, _ binds: [PostgresData]) -> String {
        guard !binds.isEmpty else { return sql }
        var out = ""
        out.reserveCapacity(sql.utf8.count + binds.count * 7)
        var quote: Character? = nil
        var index = sql.startIndex
        while index < sql.endIndex {
            let c = sql[index]
            if let q = quote {
                out.append(c)
                if c == q { quote = nil }
                index = sql.index(after: index)
                continue
            }
            if c == "'" || c == "\"" {
                quote = c
                out.append(c)
                index = sql.index(after: index)
                continue
            }
            if c == "$" {
                var end = sql.index(after: index)
                while end < sql.endIndex, sql[end].isASCII, sql[end].isNumber { end = sql.index(after: end) }
                if end > sql.index(after: index), let n = Int(sql[sql.index(after: index)..<end]), (1...binds.count).contains(n) {
                    out += sql[index..<end]
                    switch binds[n - 1].type {
                    case .int8: out += "::int8"
                    case .text: out += "::text"
                    case .float8: out += "::float8"
                    case .bool: out += "::bool"
                    default: break
                    }
                    index = end
                    continue
                }
            }
            out.append(c)
            index = sql.index(after: index)
        }
        return out
    }
}
