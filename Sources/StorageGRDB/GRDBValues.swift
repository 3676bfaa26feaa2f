import Foundation
import GRDB
import SQLKit
import Storage

/// A row copied off a GRDB cursor (whose rows are reused as it steps), read as SQLKit reads rows:
/// values decode the way SQLiteNIO decodes them — integers as whole numbers or booleans, text as
/// strings or, for other types, JSON.
struct GRDBRow: SQLRow, Sendable {
    let allColumns: [String]
    let values: [DatabaseValue]

    init(_ row: Row) {
        allColumns = Array(row.columnNames)
        values = Array(row.databaseValues)
    }

    func contains(column: String) -> Bool { allColumns.contains(column) }

    func value(_ column: String) throws -> DatabaseValue {
        guard let index = allColumns.firstIndex(of: column) else {
            throw DecodingError.keyNotFound(
                SQLCodingKey(column), .init(codingPath: [], debugDescription: "No column named \(column) in \(allColumns)"))
        }
        return values[index]
    }

    func decodeNil(column: String) throws -> Bool { try value(column).isNull }

    func decode<D: Decodable>(column: String, as type: D.Type) throws -> D {
        try D(from: ValueDecoder(value: try value(column), column: column))
    }
}

struct SQLCodingKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ name: String) { stringValue = name }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// Decodes one column's value.
struct ValueDecoder: Decoder, SingleValueDecodingContainer {
    let value: DatabaseValue
    let column: String
    var codingPath: [any CodingKey] { [SQLCodingKey(column)] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func mismatch<T>(_ type: T.Type) -> DecodingError {
        .typeMismatch(type, .init(codingPath: codingPath, debugDescription: "Column \(column) holds \(value), not \(type)"))
    }

    /// Types that are not plain values (arrays, structs) were stored as JSON text.
    func json() throws -> Data {
        switch value.storage {
        case .string(let text): Data(text.utf8)
        case .blob(let data): data
        default: throw mismatch(Data.self)
        }
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        try JSONDecoder().decode(KeyedBox<Key>.self, from: try json()).container
    }
    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        try JSONDecoder().decode(UnkeyedBox.self, from: try json()).container
    }
    func singleValueContainer() throws -> any SingleValueDecodingContainer { self }

    func decodeNil() -> Bool { value.isNull }
    func decode(_ type: Bool.Type) throws -> Bool {
        switch value.storage {
        case .int64(let v): v != 0
        case .double(let v): v != 0
        case .string(let v) where v == "true" || v == "false": v == "true"
        default: throw mismatch(type)
        }
    }
    func decode(_ type: String.Type) throws -> String {
        switch value.storage {
        case .string(let v): v
        case .int64(let v): String(v)
        case .double(let v): String(v)
        case .blob(let v): String(decoding: v, as: UTF8.self)
        case .null: throw DecodingError.valueNotFound(type, .init(codingPath: codingPath, debugDescription: "Column \(column) is NULL"))
        }
    }
    func decode(_ type: Double.Type) throws -> Double {
        switch value.storage {
        case .double(let v): v
        case .int64(let v): Double(v)
        case .string(let v): try Double(v).orThrow(mismatch(type))
        default: throw mismatch(type)
        }
    }
    func decode(_ type: Float.Type) throws -> Float { Float(try decode(Double.self)) }
    func integer<T: FixedWidthInteger>(_ type: T.Type) throws -> T {
        switch value.storage {
        case .int64(let v): return try T(exactly: v).orThrow(mismatch(type))
        case .double(let v) where v.rounded() == v: return try T(exactly: v).orThrow(mismatch(type))
        case .string(let v): return try T(v).orThrow(mismatch(type))
        default: throw mismatch(type)
        }
    }
    func decode(_ type: Int.Type) throws -> Int { try integer(type) }
    func decode(_ type: Int8.Type) throws -> Int8 { try integer(type) }
    func decode(_ type: Int16.Type) throws -> Int16 { try integer(type) }
    func decode(_ type: Int32.Type) throws -> Int32 { try integer(type) }
    func decode(_ type: Int64.Type) throws -> Int64 { try integer(type) }
    func decode(_ type: UInt.Type) throws -> UInt { try integer(type) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try integer(type) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try integer(type) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try integer(type) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try integer(type) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        if type == Data.self, case .blob(let data) = value.storage { return data as! T }
        if type == Data.self, case .string(let text) = value.storage { return Data(text.utf8) as! T }
        if type == Date.self { return Date(timeIntervalSince1970: try decode(Double.self)) as! T }
        if type == UUID.self, let uuid = UUID(uuidString: try decode(String.self)) { return uuid as! T }
        // Plain values reach the overloads above through their own `init(from:)`; structures and
        // arrays ask for a keyed or unkeyed container, which the stored JSON provides.
        return try T(from: self)
    }
}

/// Lets a JSON array stand behind an unkeyed container.
private struct UnkeyedBox: Decodable {
    let container: any UnkeyedDecodingContainer
    init(from decoder: any Decoder) throws { container = try decoder.unkeyedContainer() }
}

/// Lets a JSON object stand behind a keyed container.
private struct KeyedBox<Key: CodingKey>: Decodable {
    let container: KeyedDecodingContainer<Key>
    init(from decoder: any Decoder) throws { container = try decoder.container(keyedBy: Key.self) }
}

extension Optional {
    func orThrow(_ error: @autoclosure () -> any Error) throws -> Wrapped {
        guard let value = self else { throw error() }
        return value
    }
}

/// A bound value as SQLite stores it: whole numbers and booleans as integers, text, reals, data
/// as blobs, nil as NULL, anything else as JSON text (as SQLiteNIO binds them).
enum BindValue {
    static func databaseValue(_ value: any Encodable & Sendable) throws -> DatabaseValue {
        switch value {
        case let v as String: return v.databaseValue
        case let v as Int64: return v.databaseValue
        case let v as Int: return v.databaseValue
        case let v as SQLValue: return v.databaseValue
        case let v as Double: return v.databaseValue
        case let v as Bool: return (v ? 1 : 0 as Int64).databaseValue
        case let v as Data: return v.databaseValue
        default:
            let capture = BindEncoder()
            try value.encode(to: capture)
            if let captured = capture.value { return captured }
            let json = try JSONEncoder().encode(value)
            return String(decoding: json, as: UTF8.self).databaseValue
        }
    }
}

/// Captures a value encoded as a single value (optionals, wrappers such as typed ids); leaves
/// `value` nil for keyed or unkeyed encodings, which are bound as JSON.
final class BindEncoder: Encoder, SingleValueEncodingContainer {
    var value: DatabaseValue?
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(IgnoredKeyed<Key>())
    }
    func unkeyedContainer() -> any UnkeyedEncodingContainer { IgnoredUnkeyed() }
    func singleValueContainer() -> any SingleValueEncodingContainer { self }

    func encodeNil() { value = .null }
    func encode(_ v: Bool) { value = (v ? 1 : 0 as Int64).databaseValue }
    func encode(_ v: String) { value = v.databaseValue }
    func encode(_ v: Double) { value = v.databaseValue }
    func encode(_ v: Float) { value = Double(v).databaseValue }
    func encode(_ v: Int) { value = v.databaseValue }
    func encode(_ v: Int8) { value = Int64(v).databaseValue }
    func encode(_ v: Int16) { value = Int64(v).databaseValue }
    func encode(_ v: Int32) { value = Int64(v).databaseValue }
    func encode(_ v: Int64) { value = v.databaseValue }
    func encode(_ v: UInt) { value = Int64(truncatingIfNeeded: v).databaseValue }
    func encode(_ v: UInt8) { value = Int64(v).databaseValue }
    func encode(_ v: UInt16) { value = Int64(v).databaseValue }
    func encode(_ v: UInt32) { value = Int64(v).databaseValue }
    func encode(_ v: UInt64) { value = Int64(truncatingIfNeeded: v).databaseValue }
    func encode<T: Encodable>(_ v: T) throws {
        let inner = BindEncoder()
        try v.encode(to: inner)
        value = inner.value
    }
}

private struct IgnoredKeyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
    var codingPath: [any CodingKey] { [] }
    mutating func encodeNil(forKey key: Key) {}
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) {}
    mutating func nestedContainer<N: CodingKey>(keyedBy keyType: N.Type, forKey key: Key) -> KeyedEncodingContainer<N> {
        KeyedEncodingContainer(IgnoredKeyed<N>())
    }
    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer { IgnoredUnkeyed() }
    mutating func superEncoder() -> any Encoder { BindEncoder() }
    mutating func superEncoder(forKey key: Key) -> any Encoder { BindEncoder() }
}

private struct IgnoredUnkeyed: UnkeyedEncodingContainer {
    var codingPath: [any CodingKey] { [] }
    var count: Int { 0 }
    mutating func encodeNil() {}
    mutating func encode<T: Encodable>(_ value: T) {}
    mutating func nestedContainer<N: CodingKey>(keyedBy keyType: N.Type) -> KeyedEncodingContainer<N> { KeyedEncodingContainer(IgnoredKeyed<N>()) }
    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer { IgnoredUnkeyed() }
    mutating func superEncoder() -> any Encoder { BindEncoder() }
}
