import SQLKit

/// Reads of different shapes sent as one statement (`UNION ALL`): a writer that must know five
/// things before it decides pays one round trip instead of five.
///
/// On PostgreSQL a statement's round trip, not its work, is most of what a short read costs under
/// load — measured in a group of API purchases (#18): 0.3–1.6 ms each, for statements the server
/// ran in microseconds, while every purchase of the group waited. SQLite calls in-process and
/// gains little, but the same code serves both.
///
/// Each part is a query whose rows are read as up to three whole numbers (`a`, `b`, `c`) and a
/// text (`t`); the parts are joined while their binds fit one statement.
struct ReadBatch {
    struct Columns {
        var a: String? = nil
        var b: String? = nil
        var c: String? = nil
        var t: String? = nil
    }
    /// Binds per statement: under SQLite's limit (32,766) and PostgreSQL's (65,535).
    static let bindsPerStatement = 30_000

    private var parts: [(query: SQLQueryString, columns: Columns)] = []

    /// Adds a part and returns its number, by which ``run(_:)`` hands back its rows.
    mutating func add(_ query: SQLQueryString, _ columns: Columns) -> Int {
        parts.append((query, columns))
        return parts.count - 1
    }

    /// Runs the parts, as few statements as their binds allow; the rows of part `n` are at `n`,
    /// each as `[a, b, c, t]`.
    func run(_ db: any SQLDatabase) async throws -> [[[SQLValue]]] {
        var rows = [[[SQLValue]]](repeating: [], count: parts.count)
        var statement: [SQLQueryString] = [], binds = 0
        func flush() async throws {
            guard !statement.isEmpty else { return }
            for row in try await readRows(db, statement.joined(separator: " UNION ALL "), columns: ["part", "a", "b", "c", "t"]) {
                guard let part = row[0].int, rows.indices.contains(Int(part)) else { continue }
                rows[Int(part)].append(Array(row[1...]))
            }
            statement.removeAll()
            binds = 0
        }
        for (number, part) in parts.enumerated() {
            var serializer = SQLSerializer(database: db)
            part.query.serialize(to: &serializer)
            if binds > 0 && binds + serializer.binds.count > Self.bindsPerStatement { try await flush() }
            binds += serializer.binds.count
            func column(_ name: String?, _ type: String) -> String { "CAST(\(name.map { "q.\($0)" } ?? "NULL") AS \(type))" }
            let c = part.columns
            statement.append(
                "SELECT \(unsafeRaw: String(number)) AS part, \(unsafeRaw: column(c.a, "BIGINT")) AS a, \(unsafeRaw: column(c.b, "BIGINT")) AS b, "
                    + "\(unsafeRaw: column(c.c, "BIGINT")) AS c, \(unsafeRaw: column(c.t, "TEXT")) AS t FROM (" + part.query + ") AS q")
        }
        try await flush()
        return rows
    }
}

/// Writes (inserts and updates without `RETURNING`), run in the order they were added. Where the
/// engine allows (`together`: PostgreSQL) consecutive writes go as one statement, each joining a
/// data-modifying `WITH` — one round trip for all; an insert of ``copyThreshold`` rows or more goes
/// alone, through `COPY`. Elsewhere (SQLite, where a statement is a call, not a round trip) each
/// write runs on its own, inserts through the connection's bulk path (``insertRows(_:into:columns:rows:suffix:returning:)``).
///
/// Writes joined in one statement must not change one row twice (PostgreSQL would apply one of the
/// two) nor read each other's rows: they run as one command, each seeing the database as it was
/// before it (foreign keys are checked at its end, so a row may refer to another inserted alongside it).
struct WriteBatch {
    private enum Write {
        case insert(table: String, columns: [String], rows: [[SQLValue]])
        case statement(SQLQueryString, binds: Int)
    }

    let together: Bool
    private var writes: [Write] = []

    init(together: Bool) { self.together = together }

    mutating func insert(into table: String, columns: [String], rows: [[SQLValue]]) {
        guard !rows.isEmpty else { return }
        writes.append(.insert(table: table, columns: columns, rows: rows))
    }

    mutating func add(_ statement: SQLQueryString, binds: Int) {
        writes.append(.statement(statement, binds: binds))
    }

    /// Runs the writes in order and empties the batch.
    mutating func run(_ db: any SQLDatabase) async throws {
        var joined: [SQLQueryString] = [], binds = 0
        func flush() async throws {
            defer { joined.removeAll(); binds = 0 }
            guard let first = joined.first else { return }
            guard joined.count > 1 else { return try await db.raw(first).run() }
            // Every write is a `WITH` item and the statement itself selects nothing: a write may
            // begin with a `WITH` of its own, which can stand inside an item but not after the list.
            var combined: SQLQueryString = "WITH "
            for (number, statement) in joined.enumerated() {
                combined = combined + (number > 0 ? ", " : "") + "w\(unsafeRaw: String(number)) AS (" + statement + ")"
            }
            try await db.raw(combined + " SELECT 1").run()
        }
        func join(_ statement: SQLQueryString, _ count: Int) async throws {
            if binds + count > ReadBatch.bindsPerStatement { try await flush() }
            joined.append(statement)
            binds += count
        }
        for write in writes {
            switch write {
            case .insert(let table, let columns, let rows)
            where together && rows.count < copyThreshold && rows.count * columns.count <= ReadBatch.bindsPerStatement:
                try await join(
                    "INSERT INTO \(ident: table) (\(unsafeRaw: columns.joined(separator: ", "))) VALUES \(ValueRows(rows[...]))",
                    rows.count * columns.count)
            case .insert(let table, let columns, let rows):
                try await flush()
                _ = try await insertRows(db, into: table, columns: columns, rows: rows)
            case .statement(let statement, let count) where together && count <= ReadBatch.bindsPerStatement:
                try await join(statement, count)
            case .statement(let statement, _):
                try await flush()
                try await db.raw(statement).run()
            }
        }
        try await flush()
        writes.removeAll()
    }
}

/// Rows of values as `($1, $2), ($3, $4)`, serialized straight from the rows: a group's write
/// holds a few thousand values, and an `SQLQueryString` per row with a list of binds in it cost
/// the accrual writer more to build, serialize and free than the values themselves.
struct ValueRows: SQLExpression {
    let rows: ArraySlice<[SQLValue]>

    init(_ rows: ArraySlice<[SQLValue]>) { self.rows = rows }

    func serialize(to serializer: inout SQLSerializer) {
        for (index, row) in rows.enumerated() {
            serializer.write(index == 0 ? "(" : ", (")
            for (column, value) in row.enumerated() {
                if column > 0 { serializer.write(", ") }
                serializer.write(bind: value)
            }
            serializer.write(")")
        }
    }
}
