import Customers
import Foundation
import Loyalty
import SharedModels

/// Imports purchases and returns from CSV, through the same matching as the API.
///
/// Required columns: `transaction_id`, `date` (YYYY-MM-DD or RFC 3339), `amount` (decimal, e.g.
/// `12.50`), and at least one identifier column: `customer_id`, `card_number`, `email`, `phone`.
/// Optional: `currency`, `kind` (purchase/return), `store`, `channel`, `original_transaction_id`,
/// `product`, `category`, `quantity`. Consecutive rows with the same `transaction_id` are the
/// lines of one transaction, whose amount is their sum. Rows already imported (same id) are
/// counted as duplicates and change nothing; rows no identifier matches are kept as not matched.
public struct TransactionImporter {
    public let customers: CustomerService
    public let intake: TransactionIntake
    public var batchSize = 100_000

    public init(customers: CustomerService, intake: TransactionIntake) {
        self.customers = customers
        self.intake = intake
    }

    static let known: Set<String> = [
        "transaction_id", "customer_id", "card_number", "email", "phone", "date", "amount", "currency", "kind", "store", "channel",
        "original_transaction_id", "product", "category", "quantity",
    ]

    struct Pending {
        var line: Int
        var details: TransactionDetails
        var identifiers: [CustomerIdentifier]
    }

    public func run(file: String, progress: Progress = Progress(enabled: false), onReject: (Rejection) -> Void) async throws -> ImportReport {
        var rows = try CSVRows(path: file, known: Self.known, required: ["transaction_id", "date", "amount"])
        guard ["customer_id", "card_number", "email", "phone"].contains(where: { rows.columns[$0] != nil }) else {
            throw ImportError(file: file, line: 1, reason: "the header needs an identifier column: customer_id, card_number, email or phone")
        }
        var progress = progress
        var report = ImportReport()
        let started = Date()
        let service = customers
        var batch: [Pending] = []
        var current: Pending?

        func reject(_ line: Int, _ column: String, _ reason: String) {
            report.rejected += 1
            onReject(Rejection(file: file, line: line, column: column, reason: reason))
        }

        // Writing batch N overlaps with parsing batch N+1: two cores, two stages.
        var writing: Task<(created: Int, duplicates: Int, unmatched: Int), any Error>?

        func collect() async throws {
            guard let task = writing else { return }
            writing = nil
            let counts = try await task.value
            report.created += counts.created
            report.duplicates += counts.duplicates
            report.unmatched += counts.unmatched
        }

        func flush() async throws {
            guard !batch.isEmpty else { return }
            try await collect()
            let work = batch
            batch.removeAll(keepingCapacity: true)
            let intake = self.intake
            writing = Task { try await Self.write(work, intake: intake) }
        }

        func finish() async throws {
            guard let pending = current else { return }
            current = nil
            do {
                batch.append(Pending(line: pending.line, details: try pending.details.validated(), identifiers: pending.identifiers))
            } catch CustomerError.invalid(let errors) {
                for error in errors { reject(pending.line, Self.column(for: error.field), error.reason) }
            }
            if batch.count >= batchSize { try await flush() }
        }

        while let row = try rows.next() {
            report.rows += 1
            if report.rows & 1023 == 0 { progress.update(rows: report.rows) }
            let line = rows.line
            let value = { (column: String) in rows.value(row, column) }
            guard let id = value("transaction_id") else {
                reject(line, "transaction_id", "is required")
                continue
            }
            let currency = value("currency")?.uppercased() ?? service.defaultCurrency
            guard Money.isCurrencyCode(currency) else {
                reject(line, "currency", "'\(currency)' is not an ISO 4217 code")
                continue
            }
            guard let rawAmount = value("amount"), let amount = Money.parseMinorUnits(Substring(rawAmount), currency: currency) else {
                reject(line, "amount", "'\(value("amount") ?? "")' is not an amount such as 12.50")
                continue
            }
            var lineItem: TransactionDetails.Line?
            if let product = value("product") {
                guard let quantity = value("quantity").map({ Int($0) }) ?? 1 else {
                    reject(line, "quantity", "'\(value("quantity")!)' is not a whole number")
                    continue
                }
                lineItem = .init(product: product, category: value("category"), quantity: quantity, amount: amount)
            }
            if var pending = current, pending.details.externalID == id {
                pending.details.amount.minorUnits += amount
                if let lineItem { pending.details.lines.append(lineItem) }
                current = pending
                continue
            }
            try await finish()
            guard let rawDate = value("date"), let date = Self.parseDate(rawDate) else {
                reject(line, "date", "'\(value("date") ?? "")' is not a date such as 2025-03-31 or 2025-03-31T10:15:00Z")
                continue
            }
            var kind = TransactionDetails.Kind.purchase
            if let raw = value("kind") {
                guard let parsed = TransactionDetails.Kind(rawValue: raw.lowercased()) else {
                    reject(line, "kind", "must be purchase or return")
                    continue
                }
                kind = parsed
            }
            var channel: Channel?
            if let raw = value("channel") {
                guard let parsed = Channel(rawValue: raw.lowercased()) else {
                    reject(line, "channel", "must be one of \(Channel.allCases.map(\.rawValue).joined(separator: ", "))")
                    continue
                }
                channel = parsed
            }
            var identifiers: [CustomerIdentifier] = []
            var bad: (String, String)?
            for (column, kind) in [("customer_id", IdentifierKind.customerID), ("card_number", .card), ("email", .email), ("phone", .phone)] {
                guard let raw = value(column) else { continue }
                if let normalised = kind.normalise(raw, defaultCountryCode: service.defaultCountryCode) {
                    identifiers.append(CustomerIdentifier(kind: kind, value: normalised))
                } else {
                    bad = (column, "'\(raw)' is not a valid \(kind.rawValue)")
                }
            }
            if let (column, reason) = bad {
                reject(line, column, reason)
                continue
            }
            if identifiers.isEmpty {
                reject(line, "customer_id", "give customer_id, card_number, email or phone")
                continue
            }
            current = Pending(
                line: line,
                details: TransactionDetails(
                    externalID: id, kind: kind, occurredAt: date, amount: Money(minorUnits: amount, currency: currency), store: value("store"),
                    channel: channel, originalExternalID: value("original_transaction_id"), lines: lineItem.map { [$0] } ?? []),
                identifiers: identifiers)
        }
        try await finish()
        try await flush()
        try await collect()
        report.seconds = Date().timeIntervalSince(started)
        progress.update(rows: report.rows, force: true)
        return report
    }

    /// Matches a batch with one lookup, records the matched transactions and holds the rest.
    static func write(_ batch: [Pending], intake: TransactionIntake) async throws -> (created: Int, duplicates: Int, unmatched: Int) {
        let service = intake.customers
        let matches = try await service.match(batch.map(\.identifiers))
        var matched: [(customer: CustomerID, details: TransactionDetails)] = []
        var unmatched: [(payload: UnmatchedItem.Payload, identifiers: [CustomerIdentifier], reason: String)] = []
        for (pending, match) in zip(batch, matches) {
            switch match {
            case .matched(let customer, _): matched.append((customer, pending.details))
            case .unmatched(let reason): unmatched.append((.transaction(pending.details), pending.identifiers, reason))
            }
        }
        let inserted = try await service.insertTransactions(matched)
        _ = try await service.holdUnmatched(unmatched, at: service.clock.now)
        _ = try await intake.accrue(batch: matched)
        return (inserted, matched.count - inserted, unmatched.count)
    }

    static func column(for field: String) -> String {
        switch field {
        case "transactionId": "transaction_id"
        case "originalTransactionId": "original_transaction_id"
        case "lines": "amount"
        default: field.hasPrefix("lines[") ? String(field.split(separator: ".").last ?? "product") : field
        }
    }

    /// `YYYY-MM-DD` (midnight UTC) without Foundation's slow parsers, or RFC 3339 with a time.
    static func parseDate(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        if bytes.count == 10, bytes[4] == 45, bytes[7] == 45 {
            func number(_ range: Range<Int>) -> Int? {
                var value = 0
                for index in range {
                    let byte = bytes[index]
                    guard byte >= 48 && byte <= 57 else { return nil }
                    value = value * 10 + Int(byte - 48)
                }
                return value
            }
            guard let y = number(0..<4), let m = number(5..<7), let d = number(8..<10), LocalDate(year: y, month: m, day: d) != nil else {
                return nil
            }
            return Date(epochSeconds: LocalDate.days(fromCivil: Int64(y), Int64(m), Int64(d)) * 86_400)
        }
        return try? Date(text, strategy: .iso8601)
    }
}
