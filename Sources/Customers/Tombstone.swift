import Foundation
import SharedModels

/// What an erasure leaves behind so that the person stays erased: for each identifier it
/// removed — the customer id, emails, phones, card numbers — a keyed hash (never the value), which
/// imports, sign-up, profile changes and matching check before they bring anyone back.
///
/// A key is `kind:value` with the value as Patron stores it (emails lower-case, phones E.164,
/// cards normalised); the store keeps only its keyed hash.
public enum Tombstone {
    /// The keys a customer record would claim, each with the field that carries it.
    public static func keys(id: CustomerID?, profile: Profile?, cards: [String] = []) -> [(field: String, key: String)] {
        var keys: [(String, String)] = []
        if let id { keys.append(("customer_id", "customer_id:\(id.rawValue)")) }
        for email in profile?.emails ?? [] { keys.append(("email", "email:\(email)")) }
        for phone in profile?.phones ?? [] { keys.append(("phone", "phone:\(phone)")) }
        for card in cards { keys.append(("card_number", "card:\(card)")) }
        return keys
    }

    /// The key of one identifier as stored (`customer_identifiers.kind`, `.value`).
    public static func key(kind: String, value: String) -> String { "\(kind):\(value)" }
}
