import Customers
import Foundation
import SharedModels

/// Writes customers or transactions as CSV, page by page, so memory stays flat. The columns are
/// the ones the importers read, so an export can be imported again.
public struct CSVExporter {
    public let service: CustomerService

    public init(customers: CustomerService) { self.service = customers }

    static func escape(_ field: String) -> String { CSVText.field(field) }

    static func line(_ fields: [String?]) -> String { CSVText.line(fields.map { $0 ?? "" }) }

    /// Calls `body` with each page of active customers, in id order.
    func forEachPage(size: Int, _ body: ([Customer]) async throws -> Void) async throws {
        var cursor: Cursor?
        repeat {
            let page = try await service.customers(matching: nil, after: cursor, limit: size)
            try await body(page.items)
            cursor = page.next
        } while cursor != nil
    }

    /// Writes every active customer; returns how many.
    public func customers(to output: FileHandle) async throws -> Int {
        output.write(
            Data(
                Self.line([
                    "customer_id", "first_name", "last_name", "email", "phone", "birth_date", "language", "life_stage", "home_store",
                    "address_line1", "address_line2", "postal_code", "city", "region", "country", "latitude", "longitude", "card_number",
                ]).utf8))
        var count = 0
        try await forEachPage(size: 1000) { customers in
            var chunk = ""
            for c in customers {
                let p = c.profile, a = p.addresses.first
                chunk += Self.line([
                    String(c.id.rawValue), p.firstName, p.lastName, p.emails.first?.value, p.phones.first?.value, p.birthDate?.description,
                    p.language,
                    p.lifeStage?.rawValue, p.homeStore, a?.line1, a?.line2, a?.postalCode, a?.city, a?.region, a?.country,
                    p.location.map { String($0.latitude) }, p.location.map { String($0.longitude) }, c.cards.first,
                ])
            }
            output.write(Data(chunk.utf8))
            count += customers.count
        }
        return count
    }

    /// Writes every transaction of every active customer, one row per line (a row without lines for
    /// transactions that have none); returns how many transactions.
    public func transactions(to output: FileHandle) async throws -> Int {
        output.write(
            Data(
                Self.line([
                    "transaction_id", "customer_id", "date", "amount", "currency", "kind", "store", "channel", "original_transaction_id",
                    "product", "category", "quantity",
                ]).utf8))
        var count = 0
        let dates = ISO8601DateFormatter()
        try await forEachPage(size: 500) { page in
            var chunk = ""
            for customer in page {
                var after: Cursor?
                repeat {
                    let transactions = try await service.transactions(of: customer.id, after: after, limit: 500)
                    for t in transactions.items.reversed() {
                        let d = t.details
                        let common: [String?] = [d.externalID, String(t.customerID.rawValue), dates.string(from: d.occurredAt)]
                        let tail: [String?] = [d.amount.currency, d.kind.rawValue, d.store, d.channel?.rawValue, d.originalExternalID]
                        if d.lines.isEmpty {
                            chunk += Self.line(common + [Self.decimal(d.amount.minorUnits, d.amount.currency)] + tail + [nil, nil, nil])
                        }
                        for l in d.lines {
                            chunk += Self.line(
                                common + [Self.decimal(l.amount, d.amount.currency)] + tail + [l.product, l.category, String(l.quantity)])
                        }
                        count += 1
                    }
                    after = transactions.next
                } while after != nil
            }
            output.write(Data(chunk.utf8))
        }
        return count
    }

    /// Minor units as a decimal amount, e.g. 1250 USD → `12.50`.
    static func decimal(_ minor: Int64, _ currency: String) -> String {
        let text = Money(minorUnits: minor, currency: currency).description
        return String(text.prefix(while: { $0 != " " }))
    }
}
