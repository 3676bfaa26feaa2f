import App
import Interchange
import Customers
import Foundation
import SharedModels

/// `patron bench import`: imports a generated transactions CSV into a fresh database and measures rows per second.
public struct ImportBenchmark {
    public let rows: Int
    public let customers: Int
    /// With product lines: each row is a line, a quarter of the transactions have two.
    /// Without: each row is one whole transaction (the contract's columns plus currency, store, channel).
    public let withLines: Bool

    public init(rows: Int, customers: Int, withLines: Bool = false) {
        self.rows = rows
        self.customers = customers
        self.withLines = withLines
    }

    public struct Result: Sendable {
        public var report: ImportReport
        public var fileBytes: Int
    }

    /// Writes a CSV of `rows` rows for `customers` customers.
    public func writeFile(to path: String) throws -> Int {
        guard FileManager.default.createFile(atPath: path, contents: nil) else { throw CocoaError(.fileWriteNoPermission) }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        var random = SeededGenerator(seed: 42)
        var buffer = "transaction_id,customer_id,date,amount,currency,store,channel" + (withLines ? ",product,category,quantity\n" : "\n")
        var transaction = 0
        var written = 0
        var bytes = 0
        let products = [("Trail Runner", "footwear"), ("Wool Socks", "accessories"), ("Camp Stove", "camping"), ("Fleece Pullover", "outerwear")]
        while written < rows {
            transaction += 1
            let customer = Int.random(in: 1...customers, using: &random)
            let day = Int.random(in: 0..<730, using: &random)
            let date = LocalDate(Date(epochSeconds: Int64(1_704_067_200 + day * 86_400)))
            let lines = withLines && written + 1 < rows && Int.random(in: 0..<4, using: &random) == 0 ? 2 : 1
            for _ in 0..<lines {
                let product = products[Int.random(in: 0..<products.count, using: &random)]
                let cents = Int.random(in: 199...19_999, using: &random)
                buffer +=
                    "T\(transaction),\(customer),\(date),\(cents / 100).\(cents % 100 < 10 ? "0" : "")\(cents % 100),USD,S\(customer % 12 + 1),store"
                buffer += withLines ? ",\(product.0),\(product.1),1\n" : "\n"
                written += 1
            }
            if buffer.utf8.count > 1 << 20 {
                bytes += buffer.utf8.count
                handle.write(Data(buffer.utf8))
                buffer = ""
            }
        }
        bytes += buffer.utf8.count
        handle.write(Data(buffer.utf8))
        return bytes
    }

    /// Seeds `customers` people, writes the file, imports it and returns the report.
    public func run(patron: Patron, directory: String, log: (String) -> Void) async throws -> Result {
        try await seed(patron)
        return try await importFile(patron: patron, directory: directory, log: log)
    }

    /// Creates customers 1…`customers`, the ids the generated file refers to.
    public func seed(_ patron: Patron) async throws {
        var batch: [ImportedCustomer] = []
        for n in 1...customers {
            batch.append(ImportedCustomer(id: CustomerID(Int64(n)), profile: Profile(firstName: "Bench", lastName: "Customer \(n)"), cards: []))
            if batch.count == 1000 || n == customers {
                _ = try await patron.customers.upsertCustomers(batch, at: patron.settings.clock.now)
                batch.removeAll()
            }
        }
    }

    /// Writes the file and imports it.
    public func importFile(patron: Patron, directory: String, log: (String) -> Void) async throws -> Result {
        let path = directory + "/bench-transactions.csv"
        let bytes = try writeFile(to: path)
        log("generated \(rows) rows (\(bytes / 1_048_576) MiB) for \(customers) customers; importing…")
        let report = try await TransactionImporter(customers: patron.customers, intake: patron.intake).run(file: path, progress: Progress(enabled: Progress.onTerminal)) { _ in }
        try? FileManager.default.removeItem(atPath: path)
        return Result(report: report, fileBytes: bytes)
    }
}
