import Customers
import Foundation
import SharedModels

/// A row an import could not take: where it is and why. Printed as `FILE:LINE: column: reason`.
public struct Rejection: Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: String
    public var reason: String

    public var description: String { "\(file):\(line): \(column): \(reason)" }
}

/// What an import did. Good rows are kept even when others are rejected.
public struct ImportReport: Sendable {
    public var rows = 0
    /// New records written.
    public var created = 0
    /// Existing records replaced (customers with a known id).
    public var updated = 0
    /// Transactions whose id was recorded before; nothing was written for them.
    public var duplicates = 0
    /// Transactions kept as not matched until linked.
    public var unmatched = 0
    public var rejected = 0
    /// Waiting transactions and interactions that now matched and were linked.
    public var linked = 0
    public var seconds = 0.0

    public var rowsPerSecond: Double { seconds > 0 ? Double(rows) / seconds : 0 }

    public var summary: String {
        "\(rows) rows in \(String(format: "%.2f", seconds)) s (\(Int(rowsPerSecond)) rows/s): \(created) created, \(updated) updated, "
            + "\(duplicates) duplicates, \(unmatched) not matched, \(rejected) rejected" + (linked > 0 ? ", \(linked) waiting items linked" : "")
    }
}

/// Reads a CSV file row by row (memory stays flat whatever its size) with columns looked up
/// by header name. An unknown column, or a missing required one, refuses the whole file.
struct CSVRows {
    let path: String
    private var parser: CSVParser
    let columns: [String: Int]
    /// The line the row last read starts on (the header is line 1).
    var line: Int { parser.recordLine }

    init(path: String, known: Set<String>, required: [String], allowPrefix: String? = nil) throws {
        // A first pass over the whole file finds broken quoting, text that is not UTF-8 or a record
        // over the size limit before anything is written: such a file is refused whole.
        do {
            var check = try CSVParser(path: path)
            while try check.next() != nil {}
        } catch let failure as CSVParser.Failure {
            throw ImportError(file: path, line: failure.line, reason: failure.reason)
        }
        do {
            parser = try CSVParser(path: path)
        } catch {
            throw ImportError(file: path, line: 0, reason: "cannot open the file")
        }
        let header: [String]
        do {
            header = try parser.next() ?? []
        } catch let failure as CSVParser.Failure {
            throw ImportError(file: path, line: failure.line, reason: failure.reason)
        }
        guard !header.isEmpty else { throw ImportError(file: path, line: 1, reason: "the file is empty; it needs a header row") }
        var columns: [String: Int] = [:]
        for (index, raw) in header.enumerated() {
            let name = raw.replacingOccurrences(of: "\u{FEFF}", with: "").trimmingSpaces().lowercased()
            guard known.contains(name) || allowPrefix.map({ name.hasPrefix($0) }) == true else {
                throw ImportError(file: path, line: 1, reason: "unknown column '\(name)'; known columns: \(known.sorted().joined(separator: ", "))")
            }
            guard columns[name] == nil else { throw ImportError(file: path, line: 1, reason: "the column '\(name)' appears twice") }
            columns[name] = index
        }
        for name in required where columns[name] == nil {
            throw ImportError(file: path, line: 1, reason: "the header lacks the required column '\(name)'")
        }
        self.path = path
        self.columns = columns
    }

    mutating func next() throws -> [String]? {
        do {
            return try parser.next()
        } catch let failure as CSVParser.Failure {
            throw ImportError(file: path, line: failure.line, reason: "malformed CSV: \(failure.reason)")
        }
    }

    /// The field of `column` in `row`, without surrounding spaces; nil when absent or blank.
    func value(_ row: [String], _ column: String) -> String? {
        guard let index = columns[column], index < row.count else { return nil }
        let field = row[index]
        guard let first = field.utf8.first, let last = field.utf8.last else { return nil }
        // Trimming is costly on a million rows, so only fields that start or end with a space pay for it.
        if first == 32 || last == 32 || first == 9 || last == 9 {
            let trimmed = field.trimmingSpaces()
            return trimmed.isEmpty ? nil : trimmed
        }
        return field
    }
}

/// A file that cannot be imported at all (missing, unknown column). Nothing was written.
public struct ImportError: Error, CustomStringConvertible, Sendable {
    public let file: String
    public let line: Int
    public let reason: String
    public var description: String { "\(file):\(line): \(reason)" }
}

/// Shows progress on a terminal: rows read and the rate, redrawn at most five times a second.
public struct Progress: Sendable {
    let enabled: Bool
    let start = Date()
    var last = Date.distantPast

    public init(enabled: Bool) { self.enabled = enabled }

    /// Whether standard error is a terminal.
    public static var onTerminal: Bool { isatty(2) != 0 }

    mutating func update(rows: Int, force: Bool = false) {
        guard enabled else { return }
        let now = Date()
        guard force || now.timeIntervalSince(last) >= 0.2 else { return }
        last = now
        let rate = Double(rows) / max(now.timeIntervalSince(start), 0.001)
        let width = 30, filled = min(width, Int(now.timeIntervalSince(start) * 4) % (width + 1))
        let bar = String(repeating: "=", count: filled) + ">" + String(repeating: " ", count: width - filled)
        FileHandle.standardError.write(Data("\r[\(bar)] \(rows) rows, \(Int(rate)) rows/s   ".utf8))
        if force { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}

/// Imports customers from CSV.
///
/// Columns: `customer_id` (keep this id; an existing id is updated), `first_name`, `last_name`,
/// `email`, `phone`, `birth_date` (YYYY-MM-DD), `language`, `life_stage`, `home_store`,
/// `address_line1`, `address_line2`, `postal_code`, `city`, `region`, `country`, `latitude`,
/// `longitude`, `card_number`, and `attr_NAME` for custom attributes.
public struct CustomerImporter {
    public let customers: CustomerService
    public var batchSize = 1000
    /// Checks every row as an import would (ids, fields, cards, erased people) and writes nothing.
    public var dryRun = false
    /// Told the rows read so far after each batch (the console's progress).
    public var onBatch: (@Sendable (Int) async -> Void)? = nil

    public init(customers: CustomerService, dryRun: Bool = false) {
        self.customers = customers
        self.dryRun = dryRun
    }

    static let known: Set<String> = [
        "customer_id", "first_name", "last_name", "email", "phone", "birth_date", "language", "life_stage", "home_store", "address_line1",
        "address_line2", "postal_code", "city", "region", "country", "latitude", "longitude", "card_number",
    ]

    /// Where a validation field comes from in the file.
    static func column(for field: String) -> String {
        switch field {
        case "firstName": "first_name"
        case "lastName": "last_name"
        case "birthDate": "birth_date"
        case "lifeStage": "life_stage"
        case "homeStore": "home_store"
        case "email", "emails[0]": "email"
        case "phone", "phones[0]": "phone"
        case "location.latitude": "latitude"
        case "location.longitude": "longitude"
        default:
            if field.hasPrefix("addresses[0].") {
                switch field.dropFirst("addresses[0].".count) {
                case "line1": "address_line1"
                case "line2": "address_line2"
                case "postalCode": "postal_code"
                case let other: String(other)
                }
            } else if field.hasPrefix("attributes.") {
                "attr_" + field.dropFirst("attributes.".count)
            } else {
                field
            }
        }
    }

    /// The largest customer id an import may keep (10¹²), so that no file can use up the ids
    /// Patron gives new customers.
    public static let maximumCustomerID: Int64 = 1_000_000_000_000

    public func run(file: String, progress: Progress = Progress(enabled: false), onReject: (Rejection) -> Void) async throws -> ImportReport {
        var rows = try CSVRows(path: file, known: Self.known, required: [], allowPrefix: "attr_")
        var progress = progress
        var report = ImportReport()
        let started = Date()
        var batch: [(line: Int, customer: ImportedCustomer)] = []

        func flush() async throws {
            guard !batch.isEmpty else { return }
            // A card that belongs to another customer rejects its row before anything is written.
            let cards = Set(batch.flatMap { $0.customer.cards.map { CustomerIdentifier(kind: .card, value: $0) } })
            let owners = try await customers.owners(of: cards)
            // An erased person's id, email, phone or card rejects its row: an import never brings them back.
            let keys = batch.map { Tombstone.keys(id: $0.customer.id, profile: $0.customer.profile, cards: $0.customer.cards) }
            let erased = try await customers.erased(keys.flatMap { $0.map(\.key) })
            var seenCards: [String: Int] = [:]
            var accepted: [ImportedCustomer] = []
            for ((line, customer), keys) in zip(batch, keys) {
                if let hit = keys.first(where: { erased.contains($0.key) }) {
                    report.rejected += 1
                    onReject(Rejection(file: file, line: line, column: hit.field, reason: "belongs to a person erased at their request; not restored"))
                } else if let card = customer.cards.first, let owner = owners[CustomerIdentifier(kind: .card, value: card)]?.first, owner != customer.id {
                    report.rejected += 1
                    onReject(Rejection(file: file, line: line, column: "card_number", reason: "card \(card) belongs to customer \(owner)"))
                } else if let card = customer.cards.first, let earlier = seenCards[card] {
                    report.rejected += 1
                    onReject(Rejection(file: file, line: line, column: "card_number", reason: "card \(card) is also on line \(earlier)"))
                } else {
                    if let card = customer.cards.first { seenCards[card] = line }
                    accepted.append(customer)
                }
            }
            if dryRun {
                // What the import would do: rows with a known id update it, the rest create customers.
                var known = 0
                for c in accepted { if let id = c.id, (try? await customers.customer(id)) != nil { known += 1 } }
                report.created += accepted.count - known
                report.updated += known
            } else {
                let created = try await customers.upsertCustomers(accepted, at: customers.clock.now)
                report.created += created
                report.updated += accepted.count - created
            }
            batch.removeAll(keepingCapacity: true)
            await onBatch?(report.rows)
        }

        while let row = try rows.next() {
            report.rows += 1
            progress.update(rows: report.rows)
            let value = { (column: String) in rows.value(row, column) }
            var id: CustomerID?
            if let raw = value("customer_id") {
                guard let number = Int64(raw), (1...Self.maximumCustomerID).contains(number) else {
                    report.rejected += 1
                    onReject(
                        Rejection(
                            file: file, line: rows.line, column: "customer_id", reason: "'\(raw)' is not a whole number from 1 to \(Self.maximumCustomerID)"))
                    continue
                }
                id = CustomerID(number)
            }
            var location: GeoPoint?
            if value("latitude") != nil || value("longitude") != nil {
                guard let lat = value("latitude").flatMap(Double.init), let lon = value("longitude").flatMap(Double.init) else {
                    report.rejected += 1
                    onReject(
                        Rejection(file: file, line: rows.line, column: "latitude", reason: "latitude and longitude must both be decimal numbers"))
                    continue
                }
                location = GeoPoint(latitude: lat, longitude: lon)
            }
            var attributes: [String: String] = [:]
            for (name, index) in rows.columns where name.hasPrefix("attr_") && index < row.count && !row[index].isEmpty {
                attributes[String(name.dropFirst(5))] = row[index]
            }
            // Any address field makes an address, so a postcode without a street is named as a
            // missing first line instead of being dropped unseen.
            let addressFields = ["address_line1", "address_line2", "postal_code", "city", "region", "country"]
            let address =
                addressFields.contains(where: { value($0) != nil })
                ? ProfileDraft.AddressDraft(
                    line1: value("address_line1") ?? "", line2: value("address_line2"), postalCode: value("postal_code"), city: value("city"),
                    region: value("region"), country: value("country"))
                : nil
            let draft = ProfileDraft(
                firstName: value("first_name"), lastName: value("last_name"), birthDate: value("birth_date"), emails: value("email").map { [$0] },
                phones: value("phone").map { [$0] }, addresses: address.map { [$0] }, language: value("language"), lifeStage: value("life_stage"),
                homeStore: value("home_store"), location: location, attributes: attributes.isEmpty ? nil : attributes)
            do {
                let profile = try customers.validate(draft)
                var cards: [String] = []
                if let raw = value("card_number") {
                    guard let card = IdentifierKind.card.normalise(raw) else {
                        report.rejected += 1
                        onReject(Rejection(file: file, line: rows.line, column: "card_number", reason: "'\(raw)' is not a card number"))
                        continue
                    }
                    cards = [card]
                }
                batch.append((rows.line, ImportedCustomer(id: id, profile: profile, cards: cards)))
            } catch CustomerError.invalid(let errors) {
                report.rejected += 1
                for error in errors { onReject(Rejection(file: file, line: rows.line, column: Self.column(for: error.field), reason: error.reason)) }
                continue
            }
            if batch.count >= batchSize { try await flush() }
        }
        try await flush()
        // People who just arrived may be the owners of transactions that were waiting for them.
        report.linked = dryRun ? 0 : try await customers.rematch()
        report.seconds = Date().timeIntervalSince(started)
        progress.update(rows: report.rows, force: true)
        return report
    }
}
