import App
import Foundation
import SQLKit
import TestSupport
import Testing

@testable import Storage

/// The write batch joins consecutive writes into one statement on PostgreSQL (one round trip) and
/// runs them one by one on SQLite; either way every write is applied, in order.
@Suite("Writes joined in one statement")
struct WriteBatchTests {
    /// `bench accrual --customers 10000 --batch 100000` stopped on PostgreSQL with "syntax error at
    /// or near WITH": a batch touching more than a thousand accounts updates their balances in
    /// statements of their own, each beginning with `WITH v(…) AS (VALUES …)`, and when the
    /// 30,000-bind split fell so that one of them ended a joined statement, the batch wrote
    /// `WITH w0 AS (…) WITH v(…) … UPDATE …`, which is not SQL.
    @Test("Regression: writes that begin with WITH join in any position, and every one is applied", arguments: TestEngine.available)
    func writesBeginningWithWith(engine: TestEngine) async throws {
        try await TestDatabase.withPatron(engine, clock: TestClock()) { patron in
            let database = patron.database
            try await database.write { db in
                try await db.raw("CREATE TABLE write_batch_probe (id BIGINT PRIMARY KEY, total BIGINT NOT NULL)").run()
                try await db.raw("INSERT INTO write_batch_probe (id, total) VALUES (1, 0), (2, 0), (3, 0)").run()
            }
            @Sendable func update(_ id: Int64, by delta: Int64) -> SQLQueryString {
                "WITH v(id, delta) AS (VALUES (CAST(\(bind: id) AS BIGINT), CAST(\(bind: delta) AS BIGINT))) UPDATE write_batch_probe SET total = total + v.delta FROM v WHERE write_batch_probe.id = v.id"
            }
            let together = database.capabilities.writesTogether
            try await database.write { db in
                var writes = WriteBatch(together: together)
                writes.insert(into: "write_batch_probe", columns: ["id", "total"], rows: [[.integer(4), .integer(40)]])
                writes.add(update(1, by: 10), binds: 2)
                writes.add(update(2, by: 20), binds: 2)
                try await writes.run(db)
                // The last write of a joined statement begins with WITH (what the bench hit), and a
                // write alone does too.
                writes.add("UPDATE write_batch_probe SET total = total + 1 WHERE id = 4", binds: 0)
                writes.add(update(3, by: 30), binds: 2)
                try await writes.run(db)
                writes.add(update(3, by: 3), binds: 2)
                try await writes.run(db)
                // Split by the bind limit so that a joined statement ends with a WITH write.
                writes.add(update(1, by: 1), binds: ReadBatch.bindsPerStatement - 2)
                writes.add(update(2, by: 2), binds: 2)
                writes.add(update(1, by: 100), binds: 2)
                try await writes.run(db)
            }
            let totals = try await database.read { db in
                try await db.raw("SELECT id, total FROM write_batch_probe ORDER BY id").all().map {
                    [try $0.decode(column: "id", as: Int64.self), try $0.decode(column: "total", as: Int64.self)]
                }
            }
            #expect(totals == [[1, 111], [2, 22], [3, 33], [4, 41]])
        }
    }
}
