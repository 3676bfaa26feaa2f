import Foundation
import Logging
import NIOConcurrencyHelpers
import PostgresKit
import SharedModels
import Storage
import Synchronization

/// The statements one connection has prepared, by their SQL text.
///
/// A statement text the connection sends a second time is prepared (`Parse` once, named), and
/// from then on only bound and executed: the server skips parsing and, once its plan cache
/// settles, planning. Texts sent once (a bulk insert of a size seen once, an `IN` list of a new
/// length) are never prepared, and a connection holds at most ``limit`` statements, so a stream
/// of one-off texts cannot grow the server's memory or this cache without bound.
///
/// PostgresNIO 1.33 offers two ways to reuse a statement. Its `PostgresPreparedStatement` types
/// (static text) hand rows over through its back-pressured async sequence, which traps the whole
/// process when the server dies mid-result (the fault test `test_postgres_stopping_mid_load…`
/// showed it again); its older `prepare(query:)` hands rows to a callback, as the rest of Patron
/// reads them, but labels their binary values as text — ``PreparedRow`` reads them as what they
/// are. This uses the older way.
final class PreparedStatements: Sendable {
    /// Prepared statements per connection.
    static let limit = 256
    /// Texts longer than this are generated (long value lists) and not worth a name.
    static let longestText = 8_000

    private struct State {
        var seen: [String: Int] = [:]
        var prepared: [String: PreparedQuery] = [:]
    }
    private let state = NIOLockedValueBox(State())

    /// The prepared statement for `sql` on `connection`, preparing it on its second use; nil
    /// when it is to be sent unprepared.
    func statement(_ sql: String, on connection: PostgresConnection) async throws -> PreparedQuery? {
        guard sql.utf8.count <= Self.longestText else { return nil }
        let (ready, prepare) = state.withLockedValue { state -> (PreparedQuery?, Bool) in
            if let prepared = state.prepared[sql] { return (prepared, false) }
            guard state.prepared.count < Self.limit else { return (nil, false) }
            if state.seen.count >= 4 * Self.limit { state.seen.removeAll(keepingCapacity: true) }
            state.seen[sql, default: 0] += 1
            return (nil, state.seen[sql]! >= 2)
        }
        if let ready { return ready }
        guard prepare else { return nil }
        let prepared = try await connection.prepare(query: sql).get()
        state.withLockedValue {
            $0.prepared[sql] = prepared
            $0.seen[sql] = nil
        }
        return prepared
    }

    /// Forgets `sql`'s statement (the server no longer has it, or its plan no longer fits a
    /// changed table): the next use prepares it again.
    func forget(_ sql: String) {
        _ = state.withLockedValue { $0.prepared.removeValue(forKey: sql) }
    }
}

/// A row of a prepared statement. PostgresNIO 1.33 asks for prepared statements' results in
/// binary but describes their columns as text; the cells are read here as the binary they are.
/// Callers decode Int64, Double, String and Bool (optional or not) — every type PostgresNIO
/// decodes (`PostgresDecodable`) is read; another type is an error that names it.
struct PreparedRow: SQLRow {
    /// The cells in the row's order, found by a scan of their names (the last of a name, as
    /// PostgresKit finds one): rows have a few columns, and a dictionary built for every row cost
    /// more than the scans it saved.
    let cells: [PostgresCell]
    /// Read only by SQLKit's model decoding and the privacy export, so not built for every row.
    var allColumns: [String] { cells.map(\.columnName) }

    init(_ row: PostgresRow) {
        var cells: [PostgresCell] = []
        for cell in row {
            cells.append(
                PostgresCell(bytes: cell.bytes, dataType: cell.dataType, format: .binary, columnName: cell.columnName, columnIndex: cell.columnIndex))
        }
        self.cells = cells
    }

    private func cell(_ column: String) -> PostgresCell? { cells.last { $0.columnName == column } }

    func contains(column: String) -> Bool { cell(column) != nil }

    func decodeNil(column: String) throws -> Bool {
        guard let cell = cell(column) else { throw PreparedRowError.noColumn(column) }
        return cell.bytes == nil
    }

    func decode<D: Decodable>(column: String, as type: D.Type) throws -> D {
        guard let cell = cell(column) else { throw PreparedRowError.noColumn(column) }
        guard let decodable = D.self as? any PostgresDecodable.Type else { throw PreparedRowError.unsupported(String(describing: D.self)) }
        func read<T: PostgresDecodable>(_: T.Type) throws -> D {
            guard let value = try cell.decode(T.self) as? D else { throw PreparedRowError.unsupported(String(describing: D.self)) }
            return value
        }
        return try read(decodable)
    }
}

enum PreparedRowError: Error, CustomStringConvertible {
    case noColumn(String), unsupported(String)
    var description: String {
        switch self {
        case .noColumn(let name): "the prepared statement's result has no column \(name)"
        case .unsupported(let type): "a prepared statement's result cannot be read as \(type)"
        }
    }
}

/// Whether a database's connections prepare statements; turned off once, for good.
final class PreparingSwitch: Sendable {
    private let on: Synchronization.Atomic<Bool>
    private let logger: Logger

    init(on: Bool, logger: Logger) {
        self.on = Synchronization.Atomic(on)
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

extension PostgresSession {
    /// `binds` as PostgreSQL values typed as PostgresKit types them, or nil if one is of another
    /// type (the statement then goes through PostgresKit).
    static func postgresData(_ binds: [any Encodable]) -> [PostgresData]? {
        var values: [PostgresData] = []
        values.reserveCapacity(binds.count)
        for bind in binds {
            if let value = postgresData(of: bind) {
                values.append(value)
                continue
            }
            // Another optional: nil is NULL, a value is encoded as itself.
            let mirror = Mirror(reflecting: bind)
            guard mirror.displayStyle == .optional else { return nil }
            guard let wrapped = mirror.children.first?.value else {
                values.append(.null)
                continue
            }
            guard let encodable = wrapped as? any Encodable, let inner = postgresData([encodable]) else { return nil }
            values.append(contentsOf: inner)
        }
        return values
    }

    /// `value` as PostgresKit types it: a Bool as a boolean (PostgreSQL keeps it apart from
    /// numbers), any other plain value (``SQLValue/plain(_:)``) as a 64-bit integer, a double or
    /// text, a list of integers or texts as an array of them; nil for another type.
    private static func postgresData<T: Encodable>(of value: T) -> PostgresData? {
        if T.self == Bool.self { return PostgresData(bool: unsafeBitCast(value, to: Bool.self)) }
        if T.self == Bool?.self { return unsafeBitCast(value, to: Bool?.self).map { PostgresData(bool: $0) } ?? .null }
        if let plain = SQLValue.plain(value) { return PostgresData(plain) }
        // A list bound as one array (`= ANY($n)`, Storage's `OneOf`).
        if T.self == [Int64].self { return PostgresData(array: unsafeBitCast(value, to: [Int64].self).map { PostgresData(int64: $0) }, elementType: .int8) }
        if T.self == [String].self { return PostgresData(array: unsafeBitCast(value, to: [String].self).map { PostgresData(string: $0) }, elementType: .text) }
        return nil
    }
}

extension PostgresData {
    /// A plain value as PostgresKit sends it: a 64-bit integer, a double, text or NULL.
    init(_ value: SQLValue) {
        switch value {
        case .integer(let i): self.init(int64: i)
        case .real(let d): self.init(double: d)
        case .text(let t): self.init(string: t)
        case .null: self = .null
        }
    }
}

extension PostgresSession {
    /// `sql` with each parameter cast to the type of its value (`$1::int8`), as an unnamed
    /// statement's `Parse` names them: a prepared statement's parameters get the same types,
    /// so a value means what it meant unprepared. NULLs stay uncast (their type is inferred, as
    /// before). Quoted strings and identifiers are left alone.
    static func typed(_ sql: String, _ binds: [PostgresData]) -> String {
        guard !binds.isEmpty else { return sql }
        // Over the text's UTF-8 bytes, as the server's lexer reads it: every byte this looks for
        // is ASCII, and no byte of a multi-byte character is. (Walking `Character`s cost 28% of
        // the accrual writer's CPU on a group's long statements.)
        var source = sql
        return source.withUTF8 { text -> String in
            var out: [UInt8] = []
            out.reserveCapacity(text.count + binds.count * 8)
            var quote: UInt8? = nil
            var index = 0
            while index < text.count {
                let byte = text[index]
                if let q = quote {
                    out.append(byte)
                    if byte == q { quote = nil }
                    index += 1
                    continue
                }
                if byte == UInt8(ascii: "'") || byte == UInt8(ascii: "\"") {
                    quote = byte
                    out.append(byte)
                    index += 1
                    continue
                }
                if byte == UInt8(ascii: "$") {
                    var end = index + 1
                    var number = 0
                    while end < text.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(text[end]), number <= binds.count {
                        number = number * 10 + Int(text[end] - UInt8(ascii: "0"))
                        end += 1
                    }
                    if end > index + 1, (1...binds.count).contains(number),
                        end == text.count || !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(text[end])
                    {
                        out.append(contentsOf: text[index..<end])
                        switch binds[number - 1].type {
                        case .int8: out.append(contentsOf: "::int8".utf8)
                        case .text: out.append(contentsOf: "::text".utf8)
                        case .float8: out.append(contentsOf: "::float8".utf8)
                        case .bool: out.append(contentsOf: "::bool".utf8)
                        case .int8Array: out.append(contentsOf: "::int8[]".utf8)
                        case .textArray: out.append(contentsOf: "::text[]".utf8)
                        default: break
                        }
                        index = end
                        continue
                    }
                }
                out.append(byte)
                index += 1
            }
            return String(decoding: out, as: UTF8.self)
        }
    }
}
