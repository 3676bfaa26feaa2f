import Customers
import Foundation
import SQLKit
import SharedModels

/// The Customers room's tables, on SQLite or PostgreSQL through SQLKit.
public struct SQLCustomerStore: CustomerStore {
    let database: any Database

    public init(database: any Database) { self.database = database }

    static let customerColumns = "id, profile, household_id, account_id, contact_role, status, merged_into, created_at, updated_at"

    // MARK: Profiles

    /// The searchable and reportable columns derived from a profile.
    struct ProfileColumns {
        let values: [any Encodable & Sendable]
        static let names = [
            "first_name", "last_name", "search_name", "email", "phone", "birth_date", "language", "life_stage", "home_store",
            "latitude", "longitude", "postal_key", "street_key", "name_initial", "completeness", "profile",
        ]

        init(_ profile: Profile) throws {
            let address = profile.addresses.first
            values = [
                profile.firstName, profile.lastName, profile.displayName.lowercased(), profile.emails.first?.value,
                profile.phones.first?.value, profile.birthDate?.description, profile.language, profile.lifeStage?.rawValue,
                profile.homeStore, profile.location?.latitude, profile.location?.longitude,
                address?.postalCode.map { $0.replacingOccurrences(of: " ", with: "").lowercased() },
                address.map { $0.line1.lowercased() }, profile.lastName.flatMap { $0.first.map { String($0).lowercased() } },
                Int64(Completeness(of: profile).score), try ColumnJSON.encode(profile),
            ]
        }
    }

    static func insertCustomer(_ db: any SQLDatabase, _ profile: Profile, id: CustomerID?, at: Date) async throws -> CustomerID {
        let columns = try ProfileColumns(profile)
        var names = ProfileColumns.names + ["status", "created_at", "updated_at"]
        var values = columns.values + ["active", at.epochSeconds, at.epochSeconds]
        if let id {
            names.insert("id", at: 0)
            values.insert(id.rawValue, at: 0)
        }
        let row = try await db.raw("INSERT INTO customers (\(unsafeRaw: names.joined(separator: ", "))) VALUES (\(binds: values)) RETURNING id")
            .first()
        let newID = CustomerID(try row!.int64("id"))
        try await replaceContactIdentifiers(db, of: newID, profile: profile)
        return newID
    }

    static func replaceContactIdentifiers(_ db: any SQLDatabase, of id: CustomerID, profile: Profile) async throws {
        try await db.raw("DELETE FROM customer_identifiers WHERE customer_id = \(bind: id.rawValue) AND kind IN ('email', 'phone')").run()
        let identifiers = profile.emails.map { ("email", $0.value) } + profile.phones.map { ("phone", $0.value) }
        guard !identifiers.isEmpty else { return }
        let rows = identifiers.map { "(\(bind: id.rawValue), \(bind: $0.0), \(bind: $0.1))" as SQLQueryString }
        try await db.raw("INSERT INTO customer_identifiers (customer_id, kind, value) VALUES " + rows.joined(separator: ", ")).run()
    }

    static func updateProfile(_ db: any SQLDatabase, of id: CustomerID, with profile: Profile, at: Date) async throws {
        let columns = try ProfileColumns(profile)
        let assignments = zip(ProfileColumns.names, columns.values).map { "\(ident: $0.0) = \(bind: $0.1)" as SQLQueryString }
        try await db.raw(
            "UPDATE customers SET " + assignments.joined(separator: ", ") + ", updated_at = \(bind: at.epochSeconds) WHERE id = \(bind: id.rawValue)"
        ).run()
        try await replaceContactIdentifiers(db, of: id, profile: profile)
    }

    /// Keeps PostgreSQL's id generator ahead of ids inserted explicitly by imports.
    func syncIDSequence(_ db: any SQLDatabase) async throws {
        guard database.capabilities.ids == .sequence else { return }
        try await db.raw("SELECT setval(pg_get_serial_sequence('customers', 'id'), (SELECT COALESCE(MAX(id), 1) FROM customers))").run()
    }

    public func insertCustomer(_ profile: Profile, id: CustomerID?, at: Date) async throws -> Customer {
        let newID = try await database.write { db in
            let newID = try await Self.insertCustomer(db, profile, id: id, at: at)
            if id != nil { try await syncIDSequence(db) }
            return newID
        }
        return try await customer(newID)!
    }

    public func upsertCustomers(_ rows: [ImportedCustomer], at: Date) async throws -> Int {
        try await database.write { db in
            let given = rows.compactMap { $0.id?.rawValue }
            var existing = Set<Int64>()
            for chunk in chunks(given, of: 5000) {
                for row in try await db.raw("SELECT id FROM customers WHERE id IN (\(binds: Array(chunk)))").all() {
                    existing.insert(try row.int64("id"))
                }
            }
            var inserted = 0
            // New customers with their ids given (the demo company, imports that carry ids) go in
            // set-wise: one statement per thousand customers, one per thousand identifiers.
            var seen = existing
            let fresh = rows.filter { row in row.id.map { seen.insert($0.rawValue).inserted } ?? false }
            if !fresh.isEmpty {
                let names = ["id"] + ProfileColumns.names + ["status", "created_at", "updated_at"]
                let values: [[SQLValue]] = try fresh.map { row in
                    [.integer(row.id!.rawValue)] + (try ProfileColumns(row.profile)).values.map(SQLValue.init(any:))
                        + [.text("active"), .integer(at.epochSeconds), .integer(at.epochSeconds)]
                }
                _ = try await insertRows(db, into: "customers", columns: names, rows: values)
                var identifiers: [[SQLValue]] = []
                for row in fresh {
                    let id = SQLValue.integer(row.id!.rawValue)
                    for email in row.profile.emails { identifiers.append([id, .text("email"), .text(email.value)]) }
                    for phone in row.profile.phones { identifiers.append([id, .text("phone"), .text(phone.value)]) }
                    for card in row.cards { identifiers.append([id, .text("card"), .text(card)]) }
                }
                _ = try await insertRows(
                    db, into: "customer_identifiers", columns: ["customer_id", "kind", "value"], rows: identifiers, suffix: "ON CONFLICT DO NOTHING")
                inserted += fresh.count
            }
            let bulk = Set(fresh.map { $0.id!.rawValue })
            for row in rows where !(row.id.map { bulk.contains($0.rawValue) } ?? false) {
                let id: CustomerID
                if let given = row.id, existing.contains(given.rawValue) {
                    id = given
                    try await Self.updateProfile(db, of: id, with: row.profile, at: at)
                } else {
                    id = try await Self.insertCustomer(db, row.profile, id: row.id, at: at)
                    existing.insert(id.rawValue)
                    inserted += 1
                }
                for card in row.cards {
                    try await db.raw(
                        "INSERT INTO customer_identifiers (customer_id, kind, value) VALUES (\(bind: id.rawValue), 'card', \(bind: card)) ON CONFLICT DO NOTHING"
                    ).run()
                }
            }
            if !given.isEmpty { try await syncIDSequence(db) }
            return inserted
        }
    }

    public func customer(_ id: CustomerID) async throws -> Customer? {
        try await database.read { db in try await Self.customers(db, ids: [id.rawValue]).first }
    }

    static func customers(_ db: any SQLDatabase, ids: [Int64]) async throws -> [Customer] {
        guard !ids.isEmpty else { return [] }
        let rows = try await db.raw("SELECT \(unsafeRaw: customerColumns) FROM customers WHERE id IN (\(binds: ids)) ORDER BY id").all()
        return try await decodeCustomers(db, rows)
    }

    static func decodeCustomers(_ db: any SQLDatabase, _ rows: [any SQLRow]) async throws -> [Customer] {
        guard !rows.isEmpty else { return [] }
        let ids = try rows.map { try $0.int64("id") }
        var cards: [Int64: [String]] = [:]
        let cardRows = try await db.raw(
            "SELECT customer_id, value FROM customer_identifiers WHERE kind = 'card' AND customer_id IN (\(binds: ids)) ORDER BY value"
        ).all()
        for row in cardRows { cards[try row.int64("customer_id"), default: []].append(try row.string("value")) }
        return try rows.map { row in
            let id = try row.int64("id")
            return Customer(
                id: CustomerID(id), profile: try ColumnJSON.decode(Profile.self, from: try row.string("profile")), cards: cards[id] ?? [],
                householdID: try row.optionalInt64("household_id").map { HouseholdID($0) },
                accountID: try row.optionalInt64("account_id").map { AccountID($0) },
                contactRole: try row.optionalString("contact_role"), status: Customer.Status(rawValue: try row.string("status")) ?? .active,
                mergedInto: try row.optionalInt64("merged_into").map { CustomerID($0) }, createdAt: try row.date("created_at"),
                updatedAt: try row.date("updated_at"))
        }
    }

    public func replaceProfile(of id: CustomerID, with profile: Profile, at: Date) async throws -> Customer {
        try await database.write { db in try await Self.updateProfile(db, of: id, with: profile, at: at) }
        return try await customer(id)!
    }

    public func customers(matching search: CustomerSearch?, after cursor: Cursor?, limit: Int) async throws -> Page<Customer> {
        try await database.read { db in
            var sql: SQLQueryString =
                "SELECT \(unsafeRaw: Self.customerColumns) FROM customers WHERE status = 'active' AND id > \(bind: cursor?.after ?? 0)"
            if search != nil {
                guard let matching = Self.searchCondition(search, phoneDigits: nil) else { return Page(items: [], next: nil) }
                sql += " AND " + matching
            }
            sql += " ORDER BY id LIMIT \(literal: limit + 1)"
            let rows = try await db.raw(sql).all()
            let items = try await Self.decodeCustomers(db, Array(rows.prefix(limit)))
            return Page(items: items, next: rows.count > limit ? items.last.map { Cursor(after: $0.id.rawValue) } : nil)
        }
    }

    public func list(_ query: CustomerListQuery, search: CustomerSearch?, phoneDigits: String?) async throws -> CountedPage<Customer> {
        try await database.readFromReplica { db in
            var conditions: [SQLQueryString] = ["status = 'active'"]
            if search != nil || phoneDigits != nil {
                guard let matching = Self.searchCondition(search, phoneDigits: phoneDigits) else { return CountedPage(items: [], total: 0) }
                conditions.append(matching)
            }
            if let store = query.homeStore { conditions.append("home_store = \(bind: store)") }
            if let stage = query.lifeStage { conditions.append("life_stage = \(bind: stage)") }
            if let quality = query.quality {
                conditions.append("completeness BETWEEN \(bind: quality.range.lowerBound) AND \(bind: quality.range.upperBound)")
            }
            let filter = conditions.joined(separator: " AND ")
            let total = try await db.raw("SELECT COUNT(*) AS n FROM customers WHERE " + filter).first()?.int64("n") ?? 0
            let column: String =
                switch query.sort {
                case .name: "search_name"
                case .since: "created_at"
                case .completeness: "completeness"
                case .homeStore: "home_store"
                }
            let direction = query.descending ? "DESC" : "ASC"
            // The id breaks ties so pages never overlap; the one column that may be empty (home
            // store) puts its empty values last whichever way it is sorted.
            let order =
                query.sort == .homeStore ? "(\(column) IS NULL), \(column) \(direction), id \(direction)" : "\(column) \(direction), id \(direction)"
            let rows = try await db.raw(
                "SELECT \(unsafeRaw: Self.customerColumns) FROM customers WHERE " + filter
                    + " ORDER BY \(unsafeRaw: order) LIMIT \(literal: query.limit) OFFSET \(literal: query.offset)"
            ).all()
            return CountedPage(items: try await Self.decodeCustomers(db, rows), total: Int(total))
        }
    }

    public func facets() async throws -> CustomerFacets {
        try await database.read { db in
            func distinct(_ column: String) async throws -> [String] {
                try await db.raw(
                    "SELECT DISTINCT \(unsafeRaw: column) AS v FROM customers WHERE status = 'active' AND \(unsafeRaw: column) IS NOT NULL ORDER BY v LIMIT 200"
                ).all().map { try $0.string("v") }
            }
            return CustomerFacets(homeStores: try await distinct("home_store"), lifeStages: try await distinct("life_stage"))
        }
    }

    /// The condition a search puts on `customers`: any identifier it reads (ids, emails, phones,
    /// cards…), all its name words, or a phone ending in `phoneDigits`; nil when it can match nothing.
    static func searchCondition(_ search: CustomerSearch?, phoneDigits: String?) -> SQLQueryString? {
        var alternatives: [SQLQueryString] = []
        if let search {
            let ids = search.identifiers.filter { $0.kind == .customerID }.compactMap { Int64($0.value) }
            if !ids.isEmpty { alternatives.append("id IN (\(binds: ids))") }
            let others = search.identifiers.filter { $0.kind != .customerID }
            if !others.isEmpty {
                let pairs = others.map { "(kind = \(bind: $0.kind.rawValue) AND value = \(bind: $0.value))" as SQLQueryString }
                alternatives.append("id IN (SELECT customer_id FROM customer_identifiers WHERE " + pairs.joined(separator: " OR ") + ")")
            }
            if !search.words.isEmpty {
                let words = search.words.map { "search_name LIKE \(bind: "%" + Self.escapeLike($0) + "%") ESCAPE '\\'" as SQLQueryString }
                alternatives.append("(" + words.joined(separator: " AND ") + ")")
            }
        }
        if let phoneDigits {
            alternatives.append("id IN (SELECT customer_id FROM customer_identifiers WHERE kind = 'phone' AND value LIKE \(bind: "%" + phoneDigits))")
        }
        return alternatives.isEmpty ? nil : "(" + alternatives.joined(separator: " OR ") + ")"
    }

    static func escapeLike(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_")
    }

    public func addIdentifier(_ identifier: CustomerIdentifier, to id: CustomerID) async throws {
        try await database.write { db in
            let owners = try await db.raw(
                "SELECT customer_id FROM customer_identifiers WHERE kind = \(bind: identifier.kind.rawValue) AND value = \(bind: identifier.value)"
            ).all().map { try $0.int64("customer_id") }
            if owners.contains(id.rawValue) { return }
            if let owner = owners.first {
                throw CustomerError.identifierInUse(kind: identifier.kind, value: identifier.value, owner: CustomerID(owner))
            }
            try await db.raw(
                "INSERT INTO customer_identifiers (customer_id, kind, value) VALUES (\(bind: id.rawValue), \(bind: identifier.kind.rawValue), \(bind: identifier.value))"
            ).run()
        }
    }

    public func owners(of identifiers: Set<CustomerIdentifier>) async throws -> [CustomerIdentifier: [CustomerID]] {
        guard !identifiers.isEmpty else { return [:] }
        let arrays = database.capabilities.bindsArrays
        return try await database.read { db in
            var owners: [CustomerIdentifier: [CustomerID]] = [:]
            let ids = identifiers.filter { $0.kind == .customerID }.compactMap { Int64($0.value) }
            for chunk in lists(ids, arrays: arrays, of: 5000) {
                for row in try await db.raw("SELECT id, status, merged_into FROM customers WHERE id \(oneOf: Array(chunk))").all() {
                    let id = try row.int64("id")
                    let live = try row.string("status") == "merged" ? try row.optionalInt64("merged_into") ?? id : id
                    owners[CustomerIdentifier(kind: .customerID, value: String(id)), default: []].append(CustomerID(live))
                }
            }
            for kind in IdentifierKind.allCases where kind != .customerID {
                let values = identifiers.filter { $0.kind == kind }.map(\.value)
                for chunk in lists(values, arrays: arrays, of: 5000) {
                    let rows = try await db.raw(
                        "SELECT customer_id, value FROM customer_identifiers WHERE kind = \(bind: kind.rawValue) AND value \(oneOf: Array(chunk))"
                    ).all()
                    for row in rows {
                        owners[CustomerIdentifier(kind: kind, value: try row.string("value")), default: []].append(
                            CustomerID(try row.int64("customer_id")))
                    }
                }
            }
            return owners
        }
    }

    // MARK: Households and accounts

    public func insertHousehold(name: String, members: [CustomerID], at: Date) async throws -> Household {
        let id = try await database.write { db in
            let id = try await db.raw("INSERT INTO households (name, created_at) VALUES (\(bind: name), \(bind: at.epochSeconds)) RETURNING id")
                .first()!
                .int64("id")
            if !members.isEmpty {
                try await db.raw("UPDATE customers SET household_id = \(bind: id) WHERE id IN (\(binds: members.map(\.rawValue)))").run()
            }
            return id
        }
        return try await household(HouseholdID(id))!
    }

    public func insertHouseholds(_ households: [(name: String, members: [CustomerID])], at: Date) async throws -> Int {
        guard !households.isEmpty else { return 0 }
        let rows: [[SQLValue]] = households.map { [.text($0.name), .integer(at.epochSeconds)] }
        let arrays = database.capabilities.bindsArrays
        return try await database.write { db in
            let ids = try await insertRows(
                db, into: "households", columns: ["name", "created_at"], rows: rows, returning: [(name: "id", isInteger: true)])
            // Each customer takes the id of the household it was listed in (``ListedRows``).
            var pairs: [(customer: Int64, household: Int64)] = []
            for (row, household) in zip(ids, households) {
                guard let id = row.first?.integer else { continue }
                for member in household.members { pairs.append((member.rawValue, id)) }
            }
            let rows = pairs.map { [SQLValue.integer($0.customer), .integer($0.household)] }
            for v in ListedRows.statements(rows, columns: [.integer("customer"), .integer("household")], arrays: arrays, chunk: 5_000) {
                try await db.raw("UPDATE customers SET household_id = v.household FROM \(v) WHERE customers.id = v.customer").run()
            }
            return ids.count
        }
    }

    public func household(_ id: HouseholdID) async throws -> Household? {
        try await database.read { db in
            guard let row = try await db.raw("SELECT id, name, created_at FROM households WHERE id = \(bind: id.rawValue)").first() else {
                return nil
            }
            let members = try await db.raw(
                "SELECT id FROM customers WHERE household_id = \(bind: id.rawValue) AND status = 'active' ORDER BY id"
            ).all().map { CustomerID(try $0.int64("id")) }
            return Household(id: id, name: try row.string("name"), memberIDs: members, createdAt: try row.date("created_at"))
        }
    }

    public func move(_ customer: CustomerID, to household: HouseholdID) async throws -> Household {
        try await database.write { db in
            try await db.raw("UPDATE customers SET household_id = \(bind: household.rawValue) WHERE id = \(bind: customer.rawValue)").run()
        }
        return try await self.household(household)!
    }

    public func insertAccount(_ draft: AccountDraft, at: Date) async throws -> Account {
        let id = try await database.write { db in
            try await db.raw(
                """
                INSERT INTO accounts (name, account_class, key_account_manager, credit_limit_minor, credit_currency, payment_terms_days, parent_id, created_at)
                VALUES (\(bind: draft.name), \(bind: draft.accountClass.rawValue), \(bind: draft.keyAccountManager), \(bind: draft.creditLimit?.minorUnits),
                \(bind: draft.creditLimit?.currency), \(bind: Int64(draft.paymentTermsDays)), \(bind: draft.parentID?.rawValue), \(bind: at.epochSeconds)) RETURNING id
                """
            ).first()!.int64("id")
        }
        return try await account(AccountID(id))!
    }

    public func account(_ id: AccountID) async throws -> Account? {
        try await database.read { db in
            guard let row = try await db.raw("SELECT * FROM accounts WHERE id = \(bind: id.rawValue)").first() else { return nil }
            let contacts = try await db.raw(
                "SELECT id, first_name, last_name, contact_role FROM customers WHERE account_id = \(bind: id.rawValue) AND status = 'active' ORDER BY id"
            ).all().map { row in
                Account.Contact(
                    customerID: CustomerID(try row.int64("id")),
                    displayName: [try row.optionalString("first_name"), try row.optionalString("last_name")].compactMap { $0 }.joined(separator: " "),
                    role: try row.optionalString("contact_role"))
            }
            let children = try await db.raw("SELECT id FROM accounts WHERE parent_id = \(bind: id.rawValue) ORDER BY id").all()
                .map { AccountID(try $0.int64("id")) }
            let limit = try row.optionalInt64("credit_limit_minor")
            let draft = AccountDraft(
                name: try row.string("name"), accountClass: Account.Class(rawValue: try row.string("account_class")) ?? .c,
                keyAccountManager: try row.optionalString("key_account_manager"),
                creditLimit: try limit.map { Money(minorUnits: $0, currency: try row.string("credit_currency")) },
                paymentTermsDays: Int(try row.int64("payment_terms_days")), parentID: try row.optionalInt64("parent_id").map { AccountID($0) })
            return Account(id: id, draft: draft, contacts: contacts, childIDs: children, createdAt: try row.date("created_at"))
        }
    }

    public func attach(_ contact: CustomerID, role: String?, to account: AccountID) async throws -> Account {
        try await database.write { db in
            try await db.raw(
                "UPDATE customers SET account_id = \(bind: account.rawValue), contact_role = \(bind: role) WHERE id = \(bind: contact.rawValue)"
            ).run()
        }
        return try await self.account(account)!
    }
}
