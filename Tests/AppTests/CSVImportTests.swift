import Access
import App
import Demo
import Interchange
import Customers
import Foundation
import SQLKit
import SharedModels
import Storage
import TestSupport
import Testing

@Suite("CSV import and export")
struct CSVImportTests {
    func file(_ text: String) throws -> String {
        let path = TestFiles.path("import")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("Good customer rows are kept, bad ones are named by line and column", arguments: TestEngine.available)
    func customers(engine: TestEngine) async throws {
        try await TestDatabase.withPatron(engine) { patron in
            let path = try file(
                """
                customer_id,first_name,last_name,email,phone,birth_date,postal_code,address_line1,country,card_number,attr_shoe_size
                10,Ann,Lee,ANN@example.com,206 555 0100,1990-01-02,98101,1 Main St,US,NW-10,38
                11,Bob,Ray,not-an-email,,,,,,,
                x,Cy,Day,,,,,,,,
                12,Di,"Fox, Jr.",,,2099-01-01,,,,,
                13,Ed,Moe,ed@example.com,,,,,,NW-10,
                14,"Fay","Lo",fay@example.com,,,,,,,
                """)
            var rejections: [Rejection] = []
            let report = try await CustomerImporter(customers: patron.customers).run(file: path) { rejections.append($0) }
            #expect(report.rows == 6)
            #expect(report.created == 2)
            #expect(report.rejected == 4)
            #expect(rejections.map { "\($0.line) \($0.column)" } == ["3 email", "4 customer_id", "5 birth_date", "6 card_number"])
            #expect(rejections.first?.description.hasSuffix(".csv:3: email: 'not-an-email' is not an email address") == true)
            let ann = try await patron.customers.customer(CustomerID(10))
            #expect(ann.profile.emails.first?.value == "ann@example.com")
            #expect(ann.cards == ["NW10"])
            #expect(ann.profile.attributes == ["shoe_size": "38"])
            // A new customer created later does not collide with imported ids.
            let later = try await patron.customers.create(ProfileDraft(lastName: "Later"))
            #expect(later.id.rawValue > 14)
            // Importing the same file again updates instead of duplicating.
            let again = try await CustomerImporter(customers: patron.customers).run(file: path) { _ in }
            #expect(again.created == 0)
            #expect(again.updated == 2)
        }
    }

    @Test("A file with an unknown column is refused before anything is written", arguments: TestEngine.available)
    func unknownColumn(engine: TestEngine) async throws {
        try await TestDatabase.withPatron(engine) { patron in
            let path = try file("first_name,surname\nAnn,Lee\n")
            await #expect(throws: ImportError.self) { _ = try await CustomerImporter(customers: patron.customers).run(file: path) { _ in } }
            #expect(try await patron.isEmpty())
            await #expect(throws: ImportError.self) { _ = try await TransactionImporter(customers: patron.customers, intake: patron.intake).run(file: "/nonexistent.csv") { _ in } }
        }
    }

    @Test("Transactions: lines group by id, duplicates change nothing, strangers wait unmatched", arguments: TestEngine.available)
    func transactions(engine: TestEngine) async throws {
        try await TestDatabase.withPatron(engine) { patron in
            let ann = try await patron.customers.create(ProfileDraft(firstName: "Ann", lastName: "Lee", emails: ["ann@example.com"]))
            let path = try file(
                """
                transaction_id,customer_id,email,date,amount,currency,kind,store,channel,product,category,quantity
                T1,\(ann.id),,2026-01-05,10.00,USD,purchase,S1,store,Socks,accessories,2
                T1,\(ann.id),,2026-01-05,25.50,USD,purchase,S1,store,Beanie,accessories,1
                T2,,ann@example.com,2026-01-06T10:30:00Z,5,USD,,,web,,,
                T3,,nobody@example.com,2026-01-06,7.25,USD,,,,,,
                T4,\(ann.id),,2026-02-30,1,USD,,,,,,
                T5,\(ann.id),,2026-01-07,1.234,USD,,,,,,
                T6,\(ann.id),,2026-01-07,1,USD,refund,,,,,
                T7,\(ann.id),,2026-01-07,1,USD,,,phone,,,
                T8,\(ann.id),,2026-01-07,1,USD,,,,Gloves,,two
                """)
            var rejections: [Rejection] = []
            let report = try await TransactionImporter(customers: patron.customers, intake: patron.intake).run(file: path) { rejections.append($0) }
            #expect(report.created == 2)
            #expect(report.unmatched == 1)
            #expect(rejections.map { "\($0.line) \($0.column)" } == ["6 date", "7 amount", "8 kind", "9 channel", "10 quantity"])
            let page = try await patron.customers.transactions(of: ann.id, after: nil, limit: PageSize(10))
            let t1 = try #require(page.items.first { $0.details.externalID == "T1" })
            #expect(t1.details.amount == Money(minorUnits: 3550, currency: "USD"))
            #expect(t1.details.lines.map(\.product) == ["Socks", "Beanie"])
            let t2 = try #require(page.items.first { $0.details.externalID == "T2" })
            #expect(t2.details.occurredAt == Date(epochSeconds: 1_767_695_400))
            let again = try await TransactionImporter(customers: patron.customers, intake: patron.intake).run(file: path) { _ in }
            #expect(again.created == 0)
            #expect(again.duplicates == 2)
        }
    }

    @Test("Regression: a file with broken quoting far down writes nothing; an id beyond 10^12 is refused", arguments: TestEngine.available)
    func brokenFileWritesNothing(engine: TestEngine) async throws {
        try await TestDatabase.withPatron(engine) { patron in
            let good = (1...1_500).map { ",Good\($0),Row,good\($0)@example.com" }.joined(separator: "\n")
            let path = try file("customer_id,first_name,last_name,email\n" + good + "\n,Bad,\"Row,x@example.com\n")
            await #expect(throws: ImportError.self) { _ = try await CustomerImporter(customers: patron.customers).run(file: path) { _ in } }
            #expect(try await patron.isEmpty(), "nothing was written")
            let huge = try file("customer_id,first_name,last_name\n9223372036854775807,Max,Id\n")
            var rejections: [Rejection] = []
            _ = try await CustomerImporter(customers: patron.customers).run(file: huge) { rejections.append($0) }
            #expect(rejections.map(\.column) == ["customer_id"])
        }
    }

    @Test("An export imports back into an empty database unchanged", arguments: TestEngine.available)
    func roundTrip(engine: TestEngine) async throws {
        let exported = TestFiles.path("export")
        let transactionsFile = exported + ".tx.csv"
        let original = try await TestDatabase.withPatron(engine) { patron in
            _ = try await DemoCompany(customers: 60, seed: 7, until: Date(epochSeconds: 1_767_225_600)).load(into: patron)
            _ = FileManager.default.createFile(atPath: exported, contents: nil)
            _ = FileManager.default.createFile(atPath: transactionsFile, contents: nil)
            let customers = try await CSVExporter(customers: patron.customers).customers(to: try FileHandle(forWritingTo: URL(fileURLWithPath: exported)))
            let transactions = try await CSVExporter(customers: patron.customers).transactions(
                to: try FileHandle(forWritingTo: URL(fileURLWithPath: transactionsFile)))
            return (customers, transactions, try await patron.customers.customer(CustomerID(5)))
        }
        try await TestDatabase.withPatron(engine) { patron in
            let customers = try await CustomerImporter(customers: patron.customers).run(file: exported) { Issue.record("rejected \($0)") }
            #expect(customers.created == original.0)
            let transactions = try await TransactionImporter(customers: patron.customers, intake: patron.intake).run(file: transactionsFile) { Issue.record("rejected \($0)") }
            #expect(transactions.created == original.1)
            let copy = try await patron.customers.customer(CustomerID(5))
            #expect(copy.profile == original.2.profile)
            #expect(copy.cards == original.2.cards)
        }
    }

    @Test("The demo company is the same for the same seed, with households, accounts and a long tail of spend")
    func demo() async throws {
        func load() async throws -> (DemoCompany.Summary, [String]) {
            try await TestDatabase.withPatron(.sqlite) { patron in
                let summary = try await DemoCompany(customers: 200, seed: 3, until: Date(epochSeconds: 1_767_225_600)).load(into: patron)
                let names = try await patron.customers.search(nil, after: nil, limit: .init(20)).items.map(\.displayName)
                let spend = try await patron.database.read { db in
                    try await db.raw(
                        "SELECT SUM(amount_minor) AS total FROM transactions WHERE kind = 'purchase' GROUP BY customer_id ORDER BY total DESC"
                    ).all()
                        .map { try $0.decode(column: "total", as: Int64.self) }
                }
                let top = spend.prefix(max(1, summary.customers / 5)).reduce(0, +)
                #expect(Double(top) / Double(spend.reduce(0, +)) > 0.5, "the top fifth of customers should bring most revenue")
                #expect(
                    try await patron.access.logIn(email: DemoCompany.adminEmail, password: DemoCompany.adminPassword, client: nil).principal.permissions.count > 5)
                return (summary, names)
            }
        }
        let first = try await load()
        let second = try await load()
        #expect(first.1 == second.1)
        #expect(first.0.transactions == second.0.transactions)
        #expect(first.0.households > 10)
        #expect(first.0.accounts >= 1)
        #expect(first.0.transactions > 500)
    }
}

@Suite("Settings")
struct SettingsTests {
    @Test("Environment settings are read, and a bad value names its variable")
    func environment() throws {
        let settings = try Settings.fromEnvironment(["PATRON_MATCH_PRIORITY": "email, card", "PATRON_COUNTRY_CODE": "44", "PATRON_CURRENCY": "GBP"])
        #expect(settings.matchPriority == [.email, .card])
        #expect(settings.defaultCountryCode == "44")
        #expect(settings.defaultCurrency == "GBP")
        for (name, value) in [
            ("PATRON_MATCH_PRIORITY", "email,shoe"), ("PATRON_COUNTRY_CODE", "+44"), ("PATRON_CURRENCY", "pounds"), ("PATRON_BCRYPT_COST", "99"),
        ] {
            #expect(throws: ConfigurationError.self, "\(name)") { try Settings.fromEnvironment([name: value]) }
        }
        #expect(throws: ConfigurationError.self) { try DatabaseLocation("data.txt", environment: [:]) }
        #expect(try DatabaseLocation(nil, environment: ["PATRON_DATABASE_URL": "postgres://x@y/z"]) == .postgres(url: "postgres://x@y/z"))
        #expect(try DatabaseLocation(nil, environment: [:]) == .sqlite(path: "patron.sqlite"))
    }
}
