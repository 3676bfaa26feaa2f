import Foundation
import SQLKit
import SharedModels

extension SQLRow {
    func int64(_ column: String) throws -> Int64 { try decode(column: column, as: Int64.self) }
    func string(_ column: String) throws -> String { try decode(column: column, as: String.self) }
    func optionalInt64(_ column: String) throws -> Int64? { try decode(column: column, as: Int64?.self) }
    func optionalString(_ column: String) throws -> String? { try decode(column: column, as: String?.self) }
    func date(_ column: String) throws -> Date { Date(epochSeconds: try int64(column)) }
    func optionalDate(_ column: String) throws -> Date? { try optionalInt64(column).map { Date(epochSeconds: $0) } }
    /// Money stored as minor units and a currency in two columns, absent when either is null.
    func optionalMoney(_ minorColumn: String, _ currencyColumn: String) throws -> Money? {
        guard let minor = try optionalInt64(minorColumn), let currency = try optionalString(currencyColumn) else { return nil }
        return Money(minorUnits: minor, currency: currency)
    }
}

/// JSON for columns that hold a whole value (a profile, a payload); sorted keys keep it stable.
enum ColumnJSON {
    static func encode<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .secondsSince1970
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func decode<T: Decodable>(_ type: T.Type, from text: String) throws -> T {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        return try decoder.decode(type, from: Data(text.utf8))
    }
}

/// Splits `items` into runs of at most `size`, for statements with many bound values
/// (PostgreSQL takes at most 65,535 per statement).
/// `items` in runs of at most `size`, each an array of its own (indexed from 0: a slice keeps its
/// parent's indices, and `chunk[0]` on the second slice once trapped the expiry job).
func chunks<T>(_ items: [T], of size: Int) -> [[T]] {
    stride(from: 0, to: items.count, by: size).map { Array(items[$0..<min($0 + size, items.count)]) }
}

/// A long list in as few statements as the engine allows: whole where lists are bound as arrays
/// (``SQLCapabilities/bindsArrays``: a chunk then buys nothing and costs a statement, and each may
/// join or scan the same rows again), else in chunks of `size` binds.
func lists<T>(_ items: [T], arrays: Bool, of size: Int) -> [[T]] {
    arrays ? (items.isEmpty ? [] : [items]) : chunks(items, of: size)
}
