import Crypto
import Customers
import Foundation
import SQLKit
import SharedModels

/// The keyed hashes of erased identifiers (see ``Customers/Tombstone``): HMAC-SHA-256 under a key
/// made at random for each database, so the table says nothing of who was erased to anyone
/// without the key, and cannot be matched against another database.
enum Tombstones {
    static func digests(_ keys: [String], in db: any SQLDatabase) async throws -> [String: String] {
        guard !keys.isEmpty else { return [:] }
        let secret = try await db.raw("SELECT key FROM erasure_tombstone_key").first()?.string("key") ?? ""
        let key = SymmetricKey(data: Data(secret.utf8))
        return Dictionary(
            keys.map { ($0, HMAC<SHA256>.authenticationCode(for: Data($0.utf8), using: key).map { String(format: "%02x", $0) }.joined()) },
            uniquingKeysWith: { a, _ in a })
    }

    /// Records `keys` as erased.
    static func bury(_ keys: [String], in db: any SQLDatabase, at: Date) async throws {
        for digest in Set(try await digests(keys, in: db).values) {
            try await db.raw(
                "INSERT INTO erasure_tombstones (digest, erased_at) VALUES (\(bind: digest), \(bind: at.epochSeconds)) ON CONFLICT (digest) DO NOTHING"
            ).run()
        }
    }

    /// Which of `keys` were erased.
    static func erased(_ keys: [String], in db: any SQLDatabase) async throws -> Set<String> {
        let digests = try await digests(keys, in: db)
        guard !digests.isEmpty else { return [] }
        let found = Set(
            try await db.raw("SELECT digest FROM erasure_tombstones WHERE digest IN (\(binds: Array(Set(digests.values))))").all().map {
                try $0.string("digest")
            })
        return Set(digests.filter { found.contains($0.value) }.keys)
    }
}

extension SQLCustomerStore {
    public func erased(_ keys: [String]) async throws -> Set<String> {
        try await database.read { db in try await Tombstones.erased(keys, in: db) }
    }
}
