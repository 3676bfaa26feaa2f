/// The references of the ledger's append-only tables (and of purchases and interactions to their
/// customer), checked once per statement on PostgreSQL.
///
/// A foreign key checks each row on its own: a trigger queued per row, one index probe and a
/// row lock on the account each. A batch of 20,000 purchases writes about 280,000 rows that name
/// an account, a member or a promotion, and those checks were half of its server time (#18,
/// measured: 112,950 postings inserted in 834 ms with the foreign key, 314 ms without). Here the
/// same rule is checked once per statement, over the rows it wrote (a transition table), with
/// each account named once: 381 ms for those postings, and less than the foreign key even for
/// one row at a time (16 µs against 23 µs a row).
///
/// The rule is the foreign key's, kept in the same transaction:
/// - a row inserted, or updated to name another account (member, promotion, customer), is refused
///   (`23503`, as a foreign key would) unless that one exists when the statement ends;
/// - the rows named — accounts, members, promotions, customers — are never deleted and never
///   change id (Patron deletes none of them: a member leaves, a promotion ends, a customer is
///   merged or erased, and their history stays; `23001` for whoever tries). The foreign key's row
///   lock kept a concurrent delete from removing an account a transaction was still writing to;
///   with no delete at all, there is nothing to lock against.
///
/// SQLite keeps its foreign keys: a check there is a call inside the writer, not a queued
/// trigger. `session_replication_role = replica` turns these triggers off as it turned the
/// foreign keys off; `patron ledger verify` checks the ledger's references either way.
enum StatementReferences {
    struct Reference {
        let table: String
        let column: String
        let target: String
    }

    static let references = [
        Reference(table: "ledger_transfers", column: "from_account", target: "ledger_accounts"),
        Reference(table: "ledger_transfers", column: "to_account", target: "ledger_accounts"),
        Reference(table: "ledger_postings", column: "account_id", target: "ledger_accounts"),
        Reference(table: "point_lots", column: "account_id", target: "ledger_accounts"),
        Reference(table: "promotion_applications", column: "member_id", target: "loyalty_members"),
        Reference(table: "promotion_applications", column: "promotion_id", target: "loyalty_promotions"),
        // Purchases and interactions to their customer: an import's rows (the check was 6.7 µs of
        // the 29 µs each purchase costs the server to record, measured by `EXPLAIN ANALYZE`).
        Reference(table: "transactions", column: "customer_id", target: "customers"),
        Reference(table: "interactions", column: "customer_id", target: "customers"),
    ]

    /// The tables whose rows the references name.
    static var targets: [String] { references.reduce(into: []) { if !$0.contains($1.target) { $0.append($1.target) } } }
    static var tables: [String] { references.reduce(into: []) { if !$0.contains($1.table) { $0.append($1.table) } } }

    /// The migration: the foreign keys go, the triggers that keep their rule come.
    static func migration() -> [String] {
        var statements: [String] = []
        for reference in references {
            // Found in the catalogue, not by name: the partitioned tables' keys were renamed when
            // the tables were remade (`ledger_transfers_next_from_account_fkey`).
            statements.append(
                """
                DO $$ DECLARE c TEXT; BEGIN
                  FOR c IN SELECT k.conname FROM pg_constraint k
                    WHERE k.contype = 'f' AND k.conrelid = '\(reference.table)'::regclass AND k.confrelid = '\(reference.target)'::regclass
                      AND k.conparentid = 0 AND k.conkey = ARRAY[(SELECT attnum FROM pg_attribute
                        WHERE attrelid = '\(reference.table)'::regclass AND attname = '\(reference.column)')]
                  LOOP EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', '\(reference.table)', c); END LOOP;
                END $$
                """)
        }
        for table in tables {
            let own = references.filter { $0.table == table }
            // Each account (member, promotion) named once, then looked up once by its key. A session
            // plans these queries once, for the size of the first statement it checks: a hash join
            // planned for a batch's 50,000 rows read every account for each later redemption's one
            // (1.9 ms a redemption against 0.4 ms, measured), so the function allows only the index
            // probe, which serves both (a batch's 10,000 accounts probed in tens of milliseconds).
            let checks = own.map { r in
                """
                  IF missing IS NULL THEN
                    SELECT '\(r.column) = ' || n.v INTO missing FROM (SELECT DISTINCT \(r.column) AS v FROM patron_new) n
                    WHERE NOT EXISTS (SELECT 1 FROM \(r.target) r WHERE r.id = n.v) LIMIT 1;
                    target := '\(r.target)';
                  END IF;
                """
            }.joined(separator: "\n")
            let rowChecks = own.map { r in
                """
                  IF NEW.\(r.column) IS DISTINCT FROM OLD.\(r.column) AND NOT EXISTS (SELECT 1 FROM \(r.target) WHERE id = NEW.\(r.column)) THEN
                    RAISE EXCEPTION 'update on table "\(table)" violates its reference: \(r.column) = % is not in \(r.target)', NEW.\(r.column)
                      USING ERRCODE = 'foreign_key_violation';
                  END IF;
                """
            }.joined(separator: "\n")
            let columns = own.map(\.column).joined(separator: ", ")
            statements += [
                """
                CREATE OR REPLACE FUNCTION patron_\(table)_references() RETURNS trigger LANGUAGE plpgsql
                SET enable_hashjoin = off SET enable_mergejoin = off AS $$
                DECLARE missing TEXT; target TEXT;
                BEGIN
                \(checks)
                  IF missing IS NOT NULL THEN
                    RAISE EXCEPTION 'insert on table "\(table)" violates its reference: % is not in %', missing, target
                      USING ERRCODE = 'foreign_key_violation';
                  END IF;
                  RETURN NULL;
                END $$
                """,
                """
                CREATE TRIGGER patron_\(table)_references AFTER INSERT ON \(table)
                  REFERENCING NEW TABLE AS patron_new FOR EACH STATEMENT EXECUTE FUNCTION patron_\(table)_references()
                """,
                // Ledger rows are not updated to name another account; were one, it is checked on its
                // own (a column list keeps the trigger off every other update: a lot's remaining points).
                """
                CREATE OR REPLACE FUNCTION patron_\(table)_references_changed() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                \(rowChecks)
                  RETURN NEW;
                END $$
                """,
                """
                CREATE TRIGGER patron_\(table)_references_changed BEFORE UPDATE OF \(columns) ON \(table)
                  FOR EACH ROW EXECUTE FUNCTION patron_\(table)_references_changed()
                """,
            ]
        }
        for target in targets {
            statements += [
                """
                CREATE OR REPLACE FUNCTION patron_\(target)_kept() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                  IF TG_OP = 'UPDATE' THEN
                    IF NEW.id IS DISTINCT FROM OLD.id THEN
                      RAISE EXCEPTION '\(target) never change id: their history names them' USING ERRCODE = 'restrict_violation';
                    END IF;
                    RETURN NEW;
                  END IF;
                  RAISE EXCEPTION '\(target) are never deleted: their history names them' USING ERRCODE = 'restrict_violation';
                END $$
                """,
                "CREATE TRIGGER patron_\(target)_kept BEFORE DELETE OR TRUNCATE ON \(target) FOR EACH STATEMENT EXECUTE FUNCTION patron_\(target)_kept()",
                "CREATE TRIGGER patron_\(target)_id_kept BEFORE UPDATE OF id ON \(target) FOR EACH ROW EXECUTE FUNCTION patron_\(target)_kept()",
            ]
        }
        return statements
    }
}
