import Expressions
import Foundation
import SQLKit
import SharedModels

/// One named, never-edited step of the schema. Steps run in order, each in its own transaction,
/// and are recorded in `patron_migrations` so each runs once per database.
public struct Migration: Sendable {
    public let name: String
    public let statements: @Sendable (SQLCapabilities, String) -> [String]

    /// - Parameter statements: given the engine's capabilities and its id-column DDL, the SQL to run.
    public init(_ name: String, statements: @escaping @Sendable (SQLCapabilities, String) -> [String]) {
        self.name = name
        self.statements = statements
    }
}

public enum Migrations {
    /// Every migration of every room, in the order they run. Append; never edit or reorder.
    public static let all: [Migration] =
        customers + access + loyalty + analytics + rules + campaigns + support + audit + privacy + partners + jointPromotions + sales + jobs + volume

    /// The Jobs room: schedules and runs of the background jobs (SQLJobStore).
    static let jobs: [Migration] = [
        Migration("jobs-1-jobs-and-runs") { _, id in
            [
                """
                CREATE TABLE jobs (name TEXT PRIMARY KEY, schedule TEXT NOT NULL, next_due BIGINT NOT NULL, lease_holder TEXT, lease_expires BIGINT,
                  attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT, last_run_at BIGINT, last_outcome TEXT, dead INTEGER NOT NULL DEFAULT 0)
                """,
                """
                CREATE TABLE job_runs (\(id), job TEXT NOT NULL REFERENCES jobs(name), due_at BIGINT NOT NULL, attempt INTEGER NOT NULL,
                  holder TEXT NOT NULL, started_at BIGINT NOT NULL, finished_at BIGINT, outcome TEXT NOT NULL, detail TEXT,
                  UNIQUE (job, due_at, attempt))
                """,
                "CREATE INDEX job_runs_recent ON job_runs (job, id)",
            ]
        },
    ]

    /// The largest tables partitioned by month on PostgreSQL (MonthlyPartitions); nothing on SQLite.
    static let volume: [Migration] = [
        Migration("volume-1-monthly-partitions") { sql, _ in sql.partitionsByMonth ? MonthlyPartitions.migration(now: Date()) : [] },
        Migration("volume-2-key-claims-in-bulk") { sql, _ in sql.partitionsByMonth ? MonthlyPartitions.keyClaimsInBulk : [] },
        // A transfer is found by its idempotency key through ledger_transfer_keys on PostgreSQL
        // (SQLLedgerStore.byKey, the accrual writer): the index on the column only cost each
        // transfer written one more index entry.
        Migration("volume-3-no-transfer-key-index") { sql, _ in sql.partitionsByMonth ? ["DROP INDEX IF EXISTS ledger_transfers_key"] : [] },
        // A purchase is found by its external id through transaction_keys on PostgreSQL (its
        // primary key is that id: MonthlyPartitions.externalID): the index on the column cost every
        // purchase written, imported or sent by a partner one more index entry, in a text index
        // that grows with the table.
        Migration("volume-5-no-transaction-external-index") { sql, _ in
            sql.partitionsByMonth ? ["DROP INDEX IF EXISTS transactions_external"] : []
        },
        // A member's uses of promotions with a per-member limit are counted for every purchase
        // (the accrual writer): by the (promotion, member, reference) index alone, PostgreSQL read
        // every application of those promotions and filtered by member — 14,500 index entries for 16
        // members on 50,000 applications (1.4 ms), growing with every purchase ever rewarded.
        Migration("volume-4-applications-by-member") { _, _ in
            ["CREATE INDEX IF NOT EXISTS promotion_applications_member ON promotion_applications (member_id, promotion_id)"]
        },
        // The ledger's references (transfers, postings and lots to their accounts; promotion
        // applications to their member and promotion; purchases and interactions to their
        // customer) checked once per statement instead of once per row: the per-row foreign-key
        // checks were half of a batch's server time (StatementReferences).
        Migration("volume-6-references-checked-per-statement") { sql, _ in
            sql.partitionsByMonth ? StatementReferences.migration() : []
        },
        // Every accrual and redemption updates its accounts' balances; with full pages each
        // update wrote a new row version elsewhere and an entry in each of the table's three
        // indexes. Half of each page is kept free, so an update stays on its page (a "HOT"
        // update) and writes no index entry: a batch's update of 100,000 balances 1.2–1.6 s →
        // 0.5 s. Pages written before this step fill as before until the table is rewritten
        // (docs/scaling.md: VACUUM FULL in a quiet hour).
        Migration("volume-7-room-for-balance-updates") { sql, _ in
            sql.keepsRoomForUpdates
                ? ["ALTER TABLE ledger_accounts SET (fillfactor = 50)", "ALTER TABLE ledger_balance_stripes SET (fillfactor = 50)"] : []
        },
    ]

    /// Applies the steps not yet applied; returns their names. Any number of processes may run it
    /// at once on one database (servers starting together): each step runs under the database's
    /// exclusive lock and checks, inside its transaction, that no other process applied it first.
    @discardableResult
    public static func run(on database: any Database, steps: [Migration] = all) async throws -> [String] {
        let lock = database.exclusiveTransactionLock
        try await database.write { db in
            if let lock { try await db.raw(SQLQueryString(lock)).run() }
            try await db.raw("CREATE TABLE IF NOT EXISTS patron_migrations (name TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)").run()
        }
        let done = Set(
            try await database.read { db in
                try await db.raw("SELECT name FROM patron_migrations").all().map { try $0.decode(column: "name", as: String.self) }
            })
        var applied: [String] = []
        for step in steps where !done.contains(step.name) {
            let sql = step.statements(database.capabilities, database.idColumn)
            let ran = try await database.write { db -> Bool in
                if let lock { try await db.raw(SQLQueryString(lock)).run() }
                guard try await db.raw("SELECT name FROM patron_migrations WHERE name = \(bind: step.name)").first() == nil else { return false }
                for statement in sql { try await db.raw(SQLQueryString(statement)).run() }
                try await db.raw("INSERT INTO patron_migrations (name, applied_at) VALUES (\(bind: step.name), \(bind: Date().epochSeconds))")
                    .run()
                return true
            }
            if ran { applied.append(step.name) }
        }
        return applied
    }

    static let customers: [Migration] = [
        Migration("customers-1-profiles") { _, id in
            [
                """
                CREATE TABLE households (\(id), name TEXT NOT NULL, created_at BIGINT NOT NULL)
                """,
                """
                CREATE TABLE accounts (\(id), name TEXT NOT NULL, account_class TEXT NOT NULL, key_account_manager TEXT,
                  credit_limit_minor BIGINT, credit_currency TEXT, payment_terms_days INTEGER NOT NULL,
                  parent_id BIGINT REFERENCES accounts(id), created_at BIGINT NOT NULL)
                """,
                """
                CREATE TABLE customers (\(id), first_name TEXT, last_name TEXT, search_name TEXT NOT NULL,
                  email TEXT, phone TEXT, birth_date TEXT, language TEXT, life_stage TEXT, home_store TEXT,
                  latitude DOUBLE PRECISION, longitude DOUBLE PRECISION, postal_key TEXT, street_key TEXT, name_initial TEXT,
                  completeness INTEGER NOT NULL, profile TEXT NOT NULL,
                  household_id BIGINT REFERENCES households(id), account_id BIGINT REFERENCES accounts(id), contact_role TEXT,
                  status TEXT NOT NULL, merged_into BIGINT, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)
                """,
                "CREATE INDEX customers_search_name ON customers (search_name)",
                "CREATE INDEX customers_postal ON customers (postal_key, name_initial)",
                "CREATE INDEX customers_household ON customers (household_id)",
                "CREATE INDEX customers_account ON customers (account_id)",
                """
                CREATE TABLE customer_identifiers (customer_id BIGINT NOT NULL REFERENCES customers(id), kind TEXT NOT NULL,
                  value TEXT NOT NULL, PRIMARY KEY (customer_id, kind, value))
                """,
                "CREATE INDEX customer_identifiers_value ON customer_identifiers (kind, value)",
                """
                CREATE TABLE customer_merges (\(id), survivor_id BIGINT NOT NULL, merged_id BIGINT NOT NULL,
                  merged_by TEXT NOT NULL, merged_at BIGINT NOT NULL, snapshot TEXT NOT NULL)
                """,
            ]
        },
        Migration("customers-2-activity") { sql, id in
            [
                """
                CREATE TABLE interactions (\(id), customer_id BIGINT NOT NULL REFERENCES customers(id), channel TEXT NOT NULL,
                  direction TEXT NOT NULL, outcome TEXT, agent TEXT, subject TEXT, notes TEXT, occurred_at BIGINT NOT NULL)
                """,
                "CREATE INDEX interactions_customer ON interactions (customer_id, occurred_at)",
                """
                CREATE TABLE transactions (\(id), external_id TEXT NOT NULL UNIQUE, customer_id BIGINT NOT NULL REFERENCES customers(id),
                  kind TEXT NOT NULL, occurred_at BIGINT NOT NULL, amount_minor BIGINT NOT NULL, currency TEXT NOT NULL,
                  store TEXT, channel TEXT, original_external_id TEXT)
                """,
                "CREATE INDEX transactions_customer ON transactions (customer_id)",
                """
                CREATE TABLE transaction_lines (transaction_id BIGINT NOT NULL REFERENCES transactions(id), line_no INTEGER NOT NULL,
                  product TEXT NOT NULL, category TEXT, quantity INTEGER NOT NULL, amount_minor BIGINT NOT NULL,
                  PRIMARY KEY (transaction_id, line_no))\(sql.withoutRowID)
                """,
                """
                CREATE TABLE unmatched_items (\(id), kind TEXT NOT NULL, identifiers TEXT NOT NULL, payload TEXT NOT NULL,
                  reason TEXT NOT NULL, received_at BIGINT NOT NULL, linked_customer_id BIGINT, linked_at BIGINT)
                """,
                "CREATE INDEX unmatched_open ON unmatched_items (linked_customer_id, id)",
            ]
        },
        Migration("customers-3-consents") { _, id in
            [
                """
                CREATE TABLE consent_events (\(id), customer_id BIGINT NOT NULL REFERENCES customers(id), purpose TEXT NOT NULL,
                  channel TEXT NOT NULL, granted INTEGER NOT NULL, source TEXT NOT NULL, text TEXT, recorded_by TEXT NOT NULL,
                  recorded_at BIGINT NOT NULL)
                """,
                "CREATE INDEX consent_events_customer ON consent_events (customer_id, id)",
                """
                CREATE TABLE contact_blocks (\(id), customer_id BIGINT NOT NULL REFERENCES customers(id), channel TEXT NOT NULL,
                  reason TEXT NOT NULL, set_by TEXT NOT NULL, set_at BIGINT NOT NULL, cleared_by TEXT, cleared_at BIGINT)
                """,
                "CREATE INDEX contact_blocks_customer ON contact_blocks (customer_id, channel)",
            ]
        },
    ]

    static let loyalty: [Migration] = [
        Migration("loyalty-1-programs-ledger") { _, id in
            [
                """
                CREATE TABLE loyalty_programs (\(id), code TEXT NOT NULL UNIQUE, name TEXT NOT NULL, value_per_thousand_minor BIGINT NOT NULL,
                  currency TEXT NOT NULL, expiry_months INTEGER, pending_days INTEGER NOT NULL, allow_negative INTEGER NOT NULL,
                  created_at BIGINT NOT NULL)
                """,
                """
                CREATE TABLE loyalty_members (\(id), program_id BIGINT NOT NULL REFERENCES loyalty_programs(id),
                  customer_id BIGINT NOT NULL REFERENCES customers(id), number TEXT UNIQUE, enrolled_at BIGINT NOT NULL,
                  UNIQUE (program_id, customer_id))
                """,
                """
                CREATE TABLE ledger_accounts (\(id), key TEXT NOT NULL UNIQUE, program_id BIGINT NOT NULL REFERENCES loyalty_programs(id),
                  member_id BIGINT REFERENCES loyalty_members(id), point_type TEXT NOT NULL, balance BIGINT NOT NULL, debt BIGINT NOT NULL)
                """,
                "CREATE INDEX ledger_accounts_member ON ledger_accounts (member_id)",
                """
                CREATE TABLE ledger_transfers (\(id), program_id BIGINT NOT NULL, from_account BIGINT NOT NULL REFERENCES ledger_accounts(id),
                  to_account BIGINT NOT NULL REFERENCES ledger_accounts(id), points BIGINT NOT NULL, reason TEXT NOT NULL, reference TEXT,
                  idempotency_key TEXT UNIQUE, memo TEXT, occurred_at BIGINT NOT NULL)
                """,
                "CREATE INDEX ledger_transfers_reference ON ledger_transfers (reference)",
                """
                CREATE TABLE ledger_postings (transfer_id BIGINT NOT NULL REFERENCES ledger_transfers(id),
                  account_id BIGINT NOT NULL REFERENCES ledger_accounts(id), points BIGINT NOT NULL, occurred_at BIGINT NOT NULL,
                  PRIMARY KEY (transfer_id, account_id))
                """,
                "CREATE INDEX ledger_postings_account ON ledger_postings (account_id, occurred_at)",
                """
                CREATE TABLE point_lots (\(id), account_id BIGINT NOT NULL REFERENCES ledger_accounts(id),
                  transfer_id BIGINT NOT NULL REFERENCES ledger_transfers(id), points BIGINT NOT NULL, remaining BIGINT NOT NULL,
                  available_at BIGINT NOT NULL, expires_at BIGINT)
                """,
                "CREATE INDEX point_lots_account ON point_lots (account_id, remaining)",
                "CREATE INDEX point_lots_expiry ON point_lots (expires_at)",
                """
                CREATE TABLE lot_movements (lot_id BIGINT NOT NULL REFERENCES point_lots(id),
                  transfer_id BIGINT NOT NULL REFERENCES ledger_transfers(id), points BIGINT NOT NULL, PRIMARY KEY (lot_id, transfer_id))
                """,
                """
                CREATE TABLE ledger_clawback_debts (\(id), account_key TEXT NOT NULL, reference TEXT NOT NULL, idempotency_key TEXT,
                  points BIGINT NOT NULL, occurred_at BIGINT NOT NULL)
                """,
                "CREATE INDEX ledger_clawback_debts_reference ON ledger_clawback_debts (reference)",
            ]
        },
        Migration("loyalty-2-rules-tiers") { _, id in
            [
                "ALTER TABLE loyalty_programs ADD COLUMN earning_rules TEXT",
                "ALTER TABLE loyalty_programs ADD COLUMN tier_policy TEXT",
                "ALTER TABLE loyalty_members ADD COLUMN tier TEXT",
                "CREATE INDEX loyalty_members_customer ON loyalty_members (customer_id)",
                """
                CREATE TABLE tier_history (\(id), member_id BIGINT NOT NULL REFERENCES loyalty_members(id), from_tier TEXT, to_tier TEXT NOT NULL,
                  reason TEXT NOT NULL, changed_at BIGINT NOT NULL)
                """,
            ]
        },
        Migration("loyalty-3-promotions-rewards") { _, id in
            [
                // Bumped by every change to a program's rules or promotions, so servers can cache them and still see changes at once.
                "ALTER TABLE loyalty_programs ADD COLUMN revision BIGINT NOT NULL DEFAULT 0",
                "ALTER TABLE loyalty_programs ADD COLUMN transfer_limit_yearly BIGINT",
                "ALTER TABLE loyalty_programs ADD COLUMN referral_points BIGINT",
                "ALTER TABLE loyalty_programs ADD COLUMN tier_reviewed_at BIGINT",
                "ALTER TABLE loyalty_programs ADD COLUMN expiry_style TEXT NOT NULL DEFAULT 'after_earning'",
                """
                CREATE TABLE loyalty_cards (\(id), member_id BIGINT NOT NULL REFERENCES loyalty_members(id), number TEXT NOT NULL UNIQUE,
                  kind TEXT NOT NULL, fee_minor BIGINT, fee_currency TEXT, issued_at BIGINT NOT NULL, valid_until BIGINT, status TEXT NOT NULL,
                  reason TEXT, closed_at BIGINT)
                """,
                "CREATE INDEX loyalty_cards_member ON loyalty_cards (member_id)",
                """
                CREATE TABLE loyalty_referrals (\(id), program_id BIGINT NOT NULL REFERENCES loyalty_programs(id),
                  referrer_id BIGINT NOT NULL REFERENCES loyalty_members(id), friend_customer_id BIGINT NOT NULL REFERENCES customers(id),
                  created_at BIGINT NOT NULL, completed_at BIGINT, UNIQUE (program_id, friend_customer_id))
                """,
                """
                CREATE TABLE loyalty_promotions (\(id), program_id BIGINT NOT NULL REFERENCES loyalty_programs(id), code TEXT NOT NULL,
                  name TEXT NOT NULL, starts_at BIGINT NOT NULL, ends_at BIGINT NOT NULL, requires_enrolment INTEGER NOT NULL, criteria TEXT,
                  action TEXT NOT NULL, per_member_limit INTEGER, budget_points BIGINT, priority INTEGER NOT NULL, stacking TEXT NOT NULL,
                  created_at BIGINT NOT NULL, UNIQUE (program_id, code))
                """,
                "CREATE INDEX loyalty_promotions_running ON loyalty_promotions (program_id, ends_at)",
                """
                CREATE TABLE promotion_enrolments (promotion_id BIGINT NOT NULL REFERENCES loyalty_promotions(id),
                  member_id BIGINT NOT NULL REFERENCES loyalty_members(id), enrolled_at BIGINT NOT NULL, PRIMARY KEY (promotion_id, member_id))
                """,
                """
                CREATE TABLE loyalty_rewards (\(id), program_id BIGINT NOT NULL REFERENCES loyalty_programs(id), code TEXT NOT NULL,
                  name TEXT NOT NULL, kind TEXT NOT NULL, points_price BIGINT NOT NULL, cash_minor BIGINT, cash_currency TEXT, tiers TEXT NOT NULL,
                  stock BIGINT, validity_days INTEGER NOT NULL, active INTEGER NOT NULL, UNIQUE (program_id, code))
                """,
                """
                CREATE TABLE loyalty_vouchers (\(id), code TEXT NOT NULL UNIQUE, reward_id BIGINT NOT NULL REFERENCES loyalty_rewards(id),
                  member_id BIGINT NOT NULL REFERENCES loyalty_members(id), points BIGINT NOT NULL, cash_minor BIGINT, cash_currency TEXT,
                  status TEXT NOT NULL, issued_at BIGINT NOT NULL, expires_at BIGINT NOT NULL, closed_at BIGINT, promotion_id BIGINT,
                  transfer_id BIGINT, idempotency_key TEXT UNIQUE)
                """,
                "CREATE INDEX loyalty_vouchers_member ON loyalty_vouchers (member_id)",
                """
                CREATE TABLE promotion_applications (\(id), promotion_id BIGINT NOT NULL REFERENCES loyalty_promotions(id),
                  member_id BIGINT NOT NULL REFERENCES loyalty_members(id), reference TEXT NOT NULL, points BIGINT NOT NULL, voucher_id BIGINT,
                  amount_minor BIGINT NOT NULL, applied_at BIGINT NOT NULL, UNIQUE (promotion_id, member_id, reference))
                """,
                "CREATE INDEX promotion_applications_reference ON promotion_applications (reference)",
            ]
        },
    ]

    static let analytics: [Migration] = [
        Migration("analytics-1-scores") { _, id in
            [
                """
                CREATE TABLE customer_scores (customer_id BIGINT PRIMARY KEY, scored_at BIGINT NOT NULL, rfm_r INTEGER NOT NULL,
                  rfm_f INTEGER NOT NULL, rfm_m INTEGER NOT NULL, rfm_segment TEXT NOT NULL, recency_days INTEGER, frequency INTEGER NOT NULL,
                  monetary_minor BIGINT NOT NULL, p_alive DOUBLE PRECISION, expected_purchases_12m DOUBLE PRECISION, clv_12m_minor BIGINT,
                  churn_risk DOUBLE PRECISION, churn_drivers TEXT NOT NULL, value_tier TEXT NOT NULL, recommendations TEXT NOT NULL,
                  currency TEXT NOT NULL)
                """,
                "CREATE TABLE scoring_runs (\(id), ran_at BIGINT NOT NULL, summary TEXT NOT NULL)",
            ]
        }
    ]

    static let rules: [Migration] = [
        // SQLite registers the function on each connection instead (StorageSQLite).
        Migration("rules-1-distance") { sql, _ in sql.ruleFunctions }
    ]

    static let campaigns: [Migration] = [
        Migration("campaigns-1-segments") { sql, id in
            [
                """
                CREATE TABLE segments (\(id), name TEXT NOT NULL UNIQUE, description TEXT, rule TEXT NOT NULL, kind TEXT NOT NULL, owner TEXT NOT NULL,
                  created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, snapshot_at BIGINT, snapshot_count BIGINT)
                """,
                """
                CREATE TABLE segment_members (segment_id BIGINT NOT NULL REFERENCES segments(id) ON DELETE CASCADE, customer_id BIGINT NOT NULL,
                  PRIMARY KEY (segment_id, customer_id))\(sql.withoutRowID)
                """,
                // What segment rules read, one row per active customer, rebuilt by the scoring job
                // and on demand: a narrow table, so counting a million customers is one scan. The
                // columns rules use most come first: SQLite reads a row's columns in order.
                """
                CREATE TABLE segment_facts (customer_id \(sql.integerKey) PRIMARY KEY, value_tier TEXT, home_store TEXT, age DOUBLE PRECISION,
                  consent_email INTEGER, churn_risk DOUBLE PRECISION, last_purchase BIGINT, tier TEXT, clv DOUBLE PRECISION, member INTEGER NOT NULL,
                  rfm_segment TEXT, consent_sms INTEGER, life_stage TEXT, purchases DOUBLE PRECISION, revenue DOUBLE PRECISION,
                  points DOUBLE PRECISION, p_alive DOUBLE PRECISION, rfm_r DOUBLE PRECISION, rfm_f DOUBLE PRECISION, rfm_m DOUBLE PRECISION,
                  language TEXT, latitude DOUBLE PRECISION, longitude DOUBLE PRECISION, customer_since BIGINT NOT NULL,
                  completeness DOUBLE PRECISION NOT NULL, has_email INTEGER NOT NULL, has_phone INTEGER NOT NULL)
                """,
                "CREATE TABLE segment_facts_refreshes (\(id), refreshed_at BIGINT NOT NULL, customers BIGINT NOT NULL)",
                "CREATE TABLE stores (code TEXT PRIMARY KEY, name TEXT NOT NULL, latitude DOUBLE PRECISION, longitude DOUBLE PRECISION)",
            ]
        },
        Migration("campaigns-2-campaigns") { sql, id in
            let withoutRowID = sql.withoutRowID
            return [
                """
                CREATE TABLE campaigns (\(id), name TEXT NOT NULL, owner TEXT NOT NULL, status TEXT NOT NULL, seed BIGINT NOT NULL, plan TEXT NOT NULL,
                  offer TEXT NOT NULL, created_at BIGINT NOT NULL, launched_at BIGINT)
                """,
                // Who a launched campaign is for, frozen with its control group.
                """
                CREATE TABLE campaign_audience (campaign_id BIGINT NOT NULL, customer_id BIGINT NOT NULL, control INTEGER NOT NULL,
                  PRIMARY KEY (campaign_id, customer_id))\(withoutRowID)
                """,
                """
                CREATE TABLE campaign_waves (campaign_id BIGINT NOT NULL, number INTEGER NOT NULL, prepared_at BIGINT NOT NULL, queued BIGINT NOT NULL,
                  suppressed TEXT NOT NULL, links TEXT NOT NULL, PRIMARY KEY (campaign_id, number))
                """,
                // The outbox: one row per wave and customer, suppressed ones too (with the reason).
                """
                CREATE TABLE campaign_messages (campaign_id BIGINT NOT NULL, wave INTEGER NOT NULL, customer_id BIGINT NOT NULL, channel TEXT NOT NULL,
                  status TEXT NOT NULL, reason TEXT, address TEXT, name TEXT, subject TEXT, body TEXT, html INTEGER NOT NULL, secret BIGINT NOT NULL,
                  attempts INTEGER NOT NULL, next_attempt_at BIGINT NOT NULL, claimed_at BIGINT, queued_at BIGINT NOT NULL, sent_at BIGINT,
                  PRIMARY KEY (campaign_id, wave, customer_id))
                """,
                "CREATE INDEX campaign_messages_due ON campaign_messages (status, channel, next_attempt_at)",
                "CREATE INDEX campaign_messages_customer ON campaign_messages (customer_id, channel, queued_at)",
                """
                CREATE TABLE campaign_responses (\(id), campaign_id BIGINT NOT NULL, wave INTEGER, customer_id BIGINT NOT NULL, control INTEGER NOT NULL,
                  kind TEXT NOT NULL, reference TEXT NOT NULL, amount_minor BIGINT NOT NULL, occurred_at BIGINT NOT NULL,
                  UNIQUE (campaign_id, customer_id, kind, reference))
                """,
                """
                CREATE TABLE agent_tasks (\(id), customer_id BIGINT NOT NULL REFERENCES customers(id), campaign_id BIGINT NOT NULL, wave INTEGER NOT NULL,
                  script TEXT NOT NULL, status TEXT NOT NULL, outcome TEXT, notes TEXT, created_at BIGINT NOT NULL, completed_at BIGINT, completed_by TEXT)
                """,
                "CREATE INDEX agent_tasks_status ON agent_tasks (status, id)",
                """
                CREATE TABLE leads (\(id), customer_id BIGINT NOT NULL REFERENCES customers(id), campaign_id BIGINT NOT NULL, source TEXT NOT NULL,
                  status TEXT NOT NULL, owner TEXT NOT NULL, created_at BIGINT NOT NULL, UNIQUE (campaign_id, customer_id))
                """,
            ]
        },
        // The agent desk: claims, call attempts, callbacks and dispositions.
        Migration("campaigns-3-agent-desk") { _, _ in
            [
                "ALTER TABLE agent_tasks ADD COLUMN claimed_by TEXT",
                "ALTER TABLE agent_tasks ADD COLUMN claimed_at BIGINT",
                "ALTER TABLE agent_tasks ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0",
                "ALTER TABLE agent_tasks ADD COLUMN due_at BIGINT",
                "ALTER TABLE agent_tasks ADD COLUMN disposition TEXT",
                "CREATE INDEX agent_tasks_due ON agent_tasks (status, due_at, id)",
            ]
        },
    ]

    static let support: [Migration] = [
        Migration("support-1-requests") { _, id in
            [
                """
                CREATE TABLE service_requests (\(id), customer_id BIGINT NOT NULL REFERENCES customers(id), kind TEXT NOT NULL, priority TEXT NOT NULL,
                  queue TEXT NOT NULL, subject TEXT NOT NULL, status TEXT NOT NULL, assignee TEXT, channel TEXT NOT NULL, value_tier TEXT NOT NULL,
                  opened_by TEXT NOT NULL, opened_at BIGINT NOT NULL, respond_by BIGINT NOT NULL, resolve_by BIGINT NOT NULL, first_response_at BIGINT,
                  resolved_at BIGINT, resolution TEXT, satisfaction INTEGER, satisfaction_comment TEXT, updated_at BIGINT NOT NULL)
                """,
                "CREATE INDEX service_requests_open ON service_requests (status, resolve_by)",
                "CREATE INDEX service_requests_customer ON service_requests (customer_id, id)",
                """
                CREATE TABLE service_request_events (\(id), request_id BIGINT NOT NULL REFERENCES service_requests(id), at BIGINT NOT NULL,
                  author TEXT NOT NULL, kind TEXT NOT NULL, text TEXT NOT NULL)
                """,
                "CREATE INDEX service_request_events_request ON service_request_events (request_id, id)",
            ]
        },
        // When the assignee was told the request broke its SLA (once per request).
        Migration("support-2-breach-alerts") { _, _ in ["ALTER TABLE service_requests ADD COLUMN breach_notified_at BIGINT"] },
    ]

    static let audit: [Migration] = [
        Migration("access-2-audit") { _, id in
            [
                """
                CREATE TABLE audit_events (\(id), at BIGINT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, target TEXT, outcome TEXT NOT NULL,
                  detail TEXT)
                """,
                "CREATE INDEX audit_events_actor ON audit_events (actor, action, id)",
            ]
        }
    ]

    static let privacy: [Migration] = [
        Migration("customers-4-privacy-requests") { _, id in
            [
                """
                CREATE TABLE privacy_requests (\(id), customer_id BIGINT NOT NULL REFERENCES customers(id), kind TEXT NOT NULL, status TEXT NOT NULL,
                  channel TEXT NOT NULL, note TEXT, received_by TEXT NOT NULL, received_at BIGINT NOT NULL, due_at BIGINT NOT NULL,
                  completed_by TEXT, completed_at BIGINT, outcome TEXT)
                """,
                "CREATE INDEX privacy_requests_open ON privacy_requests (status, due_at)",
            ]
        },
        // Keyed hashes of erased people's identifiers (customers' Tombstone), and the key, made
        // at random once per database.
        Migration("customers-5-erasure-tombstones") { sql, _ in
            [
                "CREATE TABLE erasure_tombstones (digest TEXT PRIMARY KEY, erased_at BIGINT NOT NULL)",
                "CREATE TABLE erasure_tombstone_key (key TEXT NOT NULL)",
                "INSERT INTO erasure_tombstone_key (key) VALUES (\(sql.randomHexKey))",
            ]
        },
        // An objection to profiling (GDPR Art. 21): the newest `profiling` consent is a refusal.
        Migration("customers-6-profiling-objection") { _, _ in
            [
                "ALTER TABLE customers ADD COLUMN profiling_objected INTEGER NOT NULL DEFAULT 0",
                ProfilingObjection.recompute(where: "1 = 1"),
            ]
        },
        // The console's customer list pages in the order people sort it (name, newest, data
        // quality) without sorting the whole table for each page.
        Migration("customers-7-list-order") { _, _ in
            [
                "CREATE INDEX customers_list_name ON customers (status, search_name, id)",
                "CREATE INDEX customers_list_created ON customers (status, created_at, id)",
                "CREATE INDEX customers_list_completeness ON customers (status, completeness, id)",
            ]
        },
    ]

    static let partners: [Migration] = [
        Migration("partners-1-partners-settlements") { _, id in
            [
                """
                CREATE TABLE partners (code TEXT PRIMARY KEY, name TEXT NOT NULL, outlets TEXT NOT NULL, rewards TEXT NOT NULL, currency TEXT NOT NULL,
                  price_per_thousand_minor BIGINT NOT NULL, payout_per_voucher_minor BIGINT NOT NULL, created_at BIGINT NOT NULL)
                """,
                """
                CREATE TABLE partner_settlements (\(id), partner TEXT NOT NULL REFERENCES partners(code), period_from TEXT NOT NULL, period_to TEXT NOT NULL,
                  statement TEXT NOT NULL, net_minor BIGINT NOT NULL, currency TEXT NOT NULL, status TEXT NOT NULL, closed_by TEXT NOT NULL,
                  closed_at BIGINT NOT NULL, paid_by TEXT, paid_at BIGINT, UNIQUE (partner, period_from))
                """,
                // A partner's statement reads its outlets' purchases.
                "CREATE INDEX transactions_store ON transactions (store, occurred_at)",
            ]
        }
    ]

    static let jointPromotions: [Migration] = [
        Migration("loyalty-4-joint-promotions") { _, _ in
            [
                "ALTER TABLE loyalty_promotions ADD COLUMN partner TEXT",
                "ALTER TABLE loyalty_promotions ADD COLUMN partner_share INTEGER",
                "ALTER TABLE loyalty_promotions ADD COLUMN approval TEXT NOT NULL DEFAULT 'approved'",
                "ALTER TABLE loyalty_promotions ADD COLUMN decided_by TEXT",
                "ALTER TABLE loyalty_promotions ADD COLUMN decided_at BIGINT",
                "CREATE INDEX loyalty_promotions_pending ON loyalty_promotions (approval, partner)",
            ]
        },
        // Who honoured a voucher: a partner's code, or NULL for the company.
        Migration("loyalty-5-voucher-honoured-by") { _, _ in ["ALTER TABLE loyalty_vouchers ADD COLUMN honoured_by TEXT"] },
        // Promotions can be paused and archived; rewards carry a description and a picture for the portal.
        Migration("loyalty-6-catalogue-editing") { _, _ in
            [
                "ALTER TABLE loyalty_promotions ADD COLUMN paused_at BIGINT",
                "ALTER TABLE loyalty_promotions ADD COLUMN archived_at BIGINT",
                "ALTER TABLE loyalty_rewards ADD COLUMN description TEXT",
                "ALTER TABLE loyalty_rewards ADD COLUMN image_url TEXT",
            ]
        },
        // The members list pages by tier, number and enrolment.
        Migration("loyalty-7-member-list") { _, _ in
            [
                "CREATE INDEX loyalty_members_tier ON loyalty_members (tier, number)",
                "CREATE INDEX loyalty_members_enrolled ON loyalty_members (enrolled_at, id)",
            ]
        },
        // Programs' own accounts (liability, breakage) keep their balance changes in stripes, so
        // that concurrent purchases do not queue on one row (StripedBalances).
        Migration("loyalty-8-striped-balances") { sql, _ in
            [
                """
                CREATE TABLE ledger_balance_stripes (account_id BIGINT NOT NULL REFERENCES ledger_accounts(id), stripe INTEGER NOT NULL,
                  balance BIGINT NOT NULL, PRIMARY KEY (account_id, stripe))\(sql.withoutRowID)
                """
            ]
        },
    ]

    /// Sales works the leads Campaigns hands over and owns opportunities and their history.
    static let sales: [Migration] = [
        // Leads someone enters (from a call, a store, the web) have no campaign. SQLite cannot drop a
        // NOT NULL, so there `leads` is rebuilt (nothing references it).
        Migration("sales-1-leads-opportunities") { sql, id in
            let active =
                "CREATE UNIQUE INDEX leads_entered_active ON leads (customer_id) WHERE campaign_id IS NULL AND status IN ('new', 'working', 'qualified')"
            let leads =
                !sql.altersConstraints
                ? [
                    """
                    CREATE TABLE leads_next (\(id), customer_id BIGINT NOT NULL REFERENCES customers(id), campaign_id BIGINT, source TEXT NOT NULL,
                      status TEXT NOT NULL, owner TEXT NOT NULL, created_at BIGINT NOT NULL, reason TEXT, opportunity_id BIGINT, updated_at BIGINT,
                      note TEXT, created_by TEXT, UNIQUE (campaign_id, customer_id))
                    """,
                    """
                    INSERT INTO leads_next (id, customer_id, campaign_id, source, status, owner, created_at)
                    SELECT id, customer_id, campaign_id, source, status, owner, created_at FROM leads
                    """,
                    "DROP TABLE leads",
                    "ALTER TABLE leads_next RENAME TO leads",
                ]
                : [
                    "ALTER TABLE leads ALTER COLUMN campaign_id DROP NOT NULL", "ALTER TABLE leads ADD COLUMN reason TEXT",
                    "ALTER TABLE leads ADD COLUMN opportunity_id BIGINT", "ALTER TABLE leads ADD COLUMN updated_at BIGINT",
                    "ALTER TABLE leads ADD COLUMN note TEXT", "ALTER TABLE leads ADD COLUMN created_by TEXT",
                ]
            return leads + [
                "CREATE INDEX leads_owner ON leads (owner, status)",
                active,
                """
                CREATE TABLE opportunities (\(id), name TEXT NOT NULL, customer_id BIGINT REFERENCES customers(id),
                  account_id BIGINT REFERENCES accounts(id), lead_id BIGINT, owner TEXT NOT NULL, stage TEXT NOT NULL,
                  amount_minor BIGINT NOT NULL, currency TEXT NOT NULL, probability INTEGER NOT NULL, expected_close TEXT NOT NULL,
                  next_step TEXT, lost_reason TEXT, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, closed_at BIGINT)
                """,
                "CREATE INDEX opportunities_owner ON opportunities (owner, stage)",
                "CREATE INDEX opportunities_customer ON opportunities (customer_id)",
                "CREATE INDEX opportunities_account ON opportunities (account_id)",
                "CREATE INDEX opportunities_open ON opportunities (closed_at, expected_close)",
                """
                CREATE TABLE opportunity_events (\(id), opportunity_id BIGINT NOT NULL REFERENCES opportunities(id), at BIGINT NOT NULL,
                  author TEXT NOT NULL, stage TEXT NOT NULL, amount_minor BIGINT NOT NULL, currency TEXT NOT NULL, probability INTEGER NOT NULL,
                  owner TEXT NOT NULL, note TEXT)
                """,
                "CREATE INDEX opportunity_events_opportunity ON opportunity_events (opportunity_id, id)",
            ]
        }
    ]

    static let access: [Migration] = [
        Migration("access-1-users-sessions-keys") { _, id in
            [
                """
                CREATE TABLE users (\(id), email TEXT NOT NULL UNIQUE, password_hash TEXT NOT NULL, role TEXT NOT NULL,
                  created_at BIGINT NOT NULL)
                """,
                """
                CREATE TABLE member_logins (customer_id BIGINT PRIMARY KEY, email TEXT NOT NULL UNIQUE, password_hash TEXT NOT NULL,
                  created_at BIGINT NOT NULL)
                """,
                """
                CREATE TABLE sessions (digest TEXT PRIMARY KEY, user_id BIGINT, customer_id BIGINT, expires_at BIGINT NOT NULL,
                  created_at BIGINT NOT NULL)
                """,
                """
                CREATE TABLE api_keys (\(id), name TEXT NOT NULL, partner TEXT NOT NULL, scopes TEXT NOT NULL, prefix TEXT NOT NULL,
                  digest TEXT NOT NULL UNIQUE, created_at BIGINT NOT NULL, revoked_at BIGINT)
                """,
                """
                CREATE TABLE idempotency_keys (caller TEXT NOT NULL, key TEXT NOT NULL, fingerprint TEXT NOT NULL, status INTEGER,
                  content_type TEXT, body TEXT, created_at BIGINT NOT NULL, PRIMARY KEY (caller, key))
                """,
            ]
        },
        // A claim is a lease held by one request: `created_at` is when it was (last) claimed, and
        // only the holder of `claim_token` may save or release it.
        Migration("access-2-idempotency-leases") { _, _ in
            ["ALTER TABLE idempotency_keys ADD COLUMN claim_token TEXT"]
        },
        // Progressive sign-in delays per account and per client (digest of the address), and the
        // clients that signed in to an account before (they are not held by its delay).
        Migration("access-3-sign-in-throttle") { _, _ in
            [
                "CREATE TABLE sign_in_failures (key TEXT PRIMARY KEY, failures INTEGER NOT NULL, last_failure BIGINT NOT NULL, blocked_until BIGINT NOT NULL)",
                "CREATE TABLE sign_in_clients (email TEXT NOT NULL, client TEXT NOT NULL, last_seen BIGINT NOT NULL, PRIMARY KEY (email, client))",
            ]
        },
        Migration("access-4-saved-views") { _, _ in
            [
                """
                CREATE TABLE saved_views (owner TEXT NOT NULL, path TEXT NOT NULL, name TEXT NOT NULL, query TEXT NOT NULL,
                  saved_at BIGINT NOT NULL, PRIMARY KEY (owner, path, name))
                """
            ]
        },
        Migration("access-5-user-lifecycle") { _, _ in
            [
                "ALTER TABLE users ADD COLUMN deactivated_at BIGINT",
                """
                CREATE TABLE password_resets (digest TEXT PRIMARY KEY, email TEXT NOT NULL, expires_at BIGINT NOT NULL, used_at BIGINT,
                  created_at BIGINT NOT NULL)
                """,
            ]
        },
        // A partner's cashiers and managers sign in to the partner portal with a password.
        Migration("access-6-partner-users") { _, id in
            [
                """
                CREATE TABLE partner_users (\(id), partner TEXT NOT NULL, email TEXT NOT NULL UNIQUE, password_hash TEXT NOT NULL,
                  role TEXT NOT NULL, created_at BIGINT NOT NULL, deactivated_at BIGINT)
                """,
                "CREATE INDEX partner_users_partner ON partner_users (partner, email)",
                "ALTER TABLE sessions ADD COLUMN partner_user_id BIGINT",
            ]
        },
        // Files a staff user uploads for the console's import wizard, with what was done with them.
        Migration("access-7-uploads") { _, id in
            [
                """
                CREATE TABLE uploads (\(id), owner TEXT NOT NULL, name TEXT NOT NULL, content TEXT NOT NULL, created_at BIGINT NOT NULL,
                  state TEXT NOT NULL, detail TEXT)
                """,
                "CREATE INDEX uploads_created ON uploads (created_at)",
            ]
        },
    ]
}
