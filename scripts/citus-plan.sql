-- Patron distributed by member on Citus: the plan of docs/scaling.md, checked on plain PostgreSQL.
--
-- Citus is not in Debian's packages here. Its rules for a distributed table are those of a table
-- partitioned by hash on plain PostgreSQL: every primary and unique key includes the distribution
-- column, a query naming one value of it reads one shard (Citus: a router query), and a join of
-- two tables runs shard by shard only when it joins on the distribution column (Citus: a
-- co-located join; PostgreSQL: a partition-wise join). So each distributed table below is
-- PARTITION BY HASH into 8 "shards" named <table>_s0 … _s7, reference tables are plain tables,
-- and MonthlyPartitionsTests ("the Citus plan") runs this file on a scratch database and checks
-- each query after `-- check:` with EXPLAIN:
--   router     reads one shard of each distributed table it names;
--   colocated  every join of distributed tables joins shard k with shard k (never across);
--   fanout     reads every shard, each joined (if at all) with its own, aggregated shard by shard.
-- Also run by hand: psql -v ON_ERROR_STOP=1 -f scripts/citus-plan.sql <scratch database>.
--
-- The distribution column is the member's customer: customer_id (customers: id). Unique rules
-- that cannot include it live in tables distributed by their own key, as the partitioned
-- PostgreSQL schema does with its key tables: transaction_keys (external id → customer),
-- identifier_lookup (card, email, phone → customer), ledger_transfer_keys (idempotency key).
-- The program's own accounts (liability, breakage) become per-member shares summed on read, so a
-- purchase writes only its member's shard.

SET enable_partitionwise_join = on;
SET enable_partitionwise_aggregate = on;

CREATE FUNCTION pg_temp.shards(parent text, n int) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 0 .. n - 1 LOOP
    EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES WITH (MODULUS %s, REMAINDER %s)', parent || '_s' || i, parent, n, i);
  END LOOP;
END $$;

-- Reference tables: small, copied to every node.
CREATE TABLE loyalty_programs (id BIGINT PRIMARY KEY, code TEXT NOT NULL UNIQUE, currency TEXT NOT NULL);
CREATE TABLE loyalty_promotions (id BIGINT PRIMARY KEY, program_id BIGINT NOT NULL, name TEXT NOT NULL);
CREATE TABLE campaigns (id BIGINT PRIMARY KEY, name TEXT NOT NULL, status TEXT NOT NULL);
CREATE TABLE partners (code TEXT PRIMARY KEY, name TEXT NOT NULL);

-- Distributed by customer.
CREATE TABLE customers (id BIGINT NOT NULL, household_id BIGINT, status TEXT NOT NULL, search_name TEXT NOT NULL, PRIMARY KEY (id))
  PARTITION BY HASH (id);
CREATE TABLE customer_identifiers (customer_id BIGINT NOT NULL, kind TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (customer_id, kind, value))
  PARTITION BY HASH (customer_id);
CREATE TABLE transactions (customer_id BIGINT NOT NULL, id BIGINT NOT NULL, external_id TEXT NOT NULL, occurred_at BIGINT NOT NULL,
  amount_minor BIGINT NOT NULL, store TEXT, PRIMARY KEY (customer_id, id)) PARTITION BY HASH (customer_id);
CREATE TABLE transaction_lines (customer_id BIGINT NOT NULL, transaction_id BIGINT NOT NULL, line_no INT NOT NULL, product TEXT NOT NULL,
  amount_minor BIGINT NOT NULL, PRIMARY KEY (customer_id, transaction_id, line_no)) PARTITION BY HASH (customer_id);
CREATE TABLE interactions (customer_id BIGINT NOT NULL, id BIGINT NOT NULL, channel TEXT NOT NULL, occurred_at BIGINT NOT NULL,
  PRIMARY KEY (customer_id, id)) PARTITION BY HASH (customer_id);
CREATE TABLE loyalty_members (customer_id BIGINT NOT NULL, id BIGINT NOT NULL, program_id BIGINT NOT NULL, tier TEXT,
  PRIMARY KEY (customer_id, id), UNIQUE (customer_id, program_id)) PARTITION BY HASH (customer_id);
CREATE TABLE ledger_accounts (customer_id BIGINT NOT NULL, id BIGINT NOT NULL, member_id BIGINT NOT NULL, point_type TEXT NOT NULL,
  balance BIGINT NOT NULL, PRIMARY KEY (customer_id, id), UNIQUE (customer_id, member_id, point_type)) PARTITION BY HASH (customer_id);
CREATE TABLE liability_shares (customer_id BIGINT NOT NULL, program_id BIGINT NOT NULL, point_type TEXT NOT NULL, balance BIGINT NOT NULL,
  PRIMARY KEY (customer_id, program_id, point_type)) PARTITION BY HASH (customer_id);
CREATE TABLE ledger_transfers (customer_id BIGINT NOT NULL, id BIGINT NOT NULL, account_id BIGINT NOT NULL, points BIGINT NOT NULL,
  reason TEXT NOT NULL, reference TEXT, occurred_at BIGINT NOT NULL, PRIMARY KEY (customer_id, id)) PARTITION BY HASH (customer_id);
CREATE TABLE ledger_postings (customer_id BIGINT NOT NULL, transfer_id BIGINT NOT NULL, account_id BIGINT NOT NULL, points BIGINT NOT NULL,
  occurred_at BIGINT NOT NULL, PRIMARY KEY (customer_id, transfer_id, account_id)) PARTITION BY HASH (customer_id);
CREATE TABLE point_lots (customer_id BIGINT NOT NULL, id BIGINT NOT NULL, account_id BIGINT NOT NULL, remaining BIGINT NOT NULL,
  expires_at BIGINT, PRIMARY KEY (customer_id, id)) PARTITION BY HASH (customer_id);
CREATE TABLE customer_scores (customer_id BIGINT NOT NULL, churn_risk DOUBLE PRECISION NOT NULL, lifetime_value_minor BIGINT NOT NULL,
  PRIMARY KEY (customer_id)) PARTITION BY HASH (customer_id);
CREATE TABLE campaign_messages (customer_id BIGINT NOT NULL, campaign_id BIGINT NOT NULL, wave INT NOT NULL, status TEXT NOT NULL,
  PRIMARY KEY (customer_id, campaign_id, wave)) PARTITION BY HASH (customer_id);
CREATE TABLE campaign_responses (customer_id BIGINT NOT NULL, campaign_id BIGINT NOT NULL, kind TEXT NOT NULL, reference TEXT NOT NULL,
  amount_minor BIGINT NOT NULL, PRIMARY KEY (customer_id, campaign_id, kind, reference)) PARTITION BY HASH (customer_id);

-- Distributed by their own key: the uniqueness rules that span members.
CREATE TABLE transaction_keys (external_id TEXT NOT NULL, customer_id BIGINT NOT NULL, transaction_id BIGINT NOT NULL,
  PRIMARY KEY (external_id)) PARTITION BY HASH (external_id);
CREATE TABLE identifier_lookup (kind TEXT NOT NULL, value TEXT NOT NULL, customer_id BIGINT NOT NULL, PRIMARY KEY (kind, value))
  PARTITION BY HASH (value);

SELECT pg_temp.shards(t, 8) FROM unnest(ARRAY['customers', 'customer_identifiers', 'transactions', 'transaction_lines', 'interactions',
  'loyalty_members', 'ledger_accounts', 'liability_shares', 'ledger_transfers', 'ledger_postings', 'point_lots', 'customer_scores',
  'campaign_messages', 'campaign_responses', 'transaction_keys', 'identifier_lookup']) AS t;

CREATE INDEX ON transactions (customer_id, occurred_at);
CREATE INDEX ON ledger_postings (customer_id, account_id, occurred_at);
CREATE INDEX ON point_lots (customer_id, account_id, remaining);
CREATE INDEX ON customers (household_id);

-- 20,000 members with a few months of history: enough for the planner to plan as it would.
INSERT INTO loyalty_programs VALUES (1, 'NW', 'USD');
INSERT INTO campaigns SELECT g, 'Campaign ' || g, CASE WHEN g = 5 THEN 'running' ELSE 'completed' END FROM generate_series(1, 5) g;
INSERT INTO customers SELECT g, CASE WHEN g % 10 = 0 THEN g / 40 END, 'active', 'member ' || g FROM generate_series(1, 20000) g;
INSERT INTO customer_identifiers SELECT g, 'card', 'NW' || lpad(g::text, 9, '0') FROM generate_series(1, 20000) g;
INSERT INTO identifier_lookup SELECT kind, value, customer_id FROM customer_identifiers;
INSERT INTO loyalty_members SELECT g, g, 1, 'silver' FROM generate_series(1, 20000) g;
INSERT INTO ledger_accounts SELECT g, g, g, 'reward', 100 FROM generate_series(1, 20000) g;
INSERT INTO liability_shares SELECT g, 1, 'reward', -100 FROM generate_series(1, 20000) g;
INSERT INTO transactions SELECT 1 + g % 20000, g, 'T' || g, 1767225600 + g * 60, 1000 + g % 5000, 'store-' || g % 20 FROM generate_series(1, 200000) g;
INSERT INTO transaction_lines SELECT customer_id, id, 1, 'tent', amount_minor FROM transactions;
INSERT INTO transaction_keys SELECT external_id, customer_id, id FROM transactions;
INSERT INTO ledger_transfers SELECT customer_id, id, customer_id, amount_minor / 100, 'accrual', external_id, occurred_at FROM transactions;
INSERT INTO ledger_postings SELECT customer_id, id, customer_id, points, occurred_at FROM ledger_transfers;
INSERT INTO point_lots SELECT customer_id, id, customer_id, points, occurred_at + 31536000 FROM ledger_transfers;
INSERT INTO customer_scores SELECT g, (g % 100) / 100.0, g * 10 FROM generate_series(1, 20000) g;
INSERT INTO campaign_messages SELECT g, c, 1, 'sent' FROM generate_series(1, 20000) g, generate_series(1, 5) c;
INSERT INTO campaign_responses SELECT customer_id, campaign_id, 'clicked', 'offer', 0 FROM campaign_messages WHERE customer_id % 7 = 0;
INSERT INTO interactions SELECT 1 + g % 20000, g, 'phone', 1767225600 + g * 600 FROM generate_series(1, 50000) g;
ANALYZE;

-- queries

-- check: router: a purchase arrives: is its external id taken (the key table, by its own key)?
SELECT customer_id, transaction_id FROM transaction_keys WHERE external_id = 'T4242';

-- check: router: the card presented at the till finds its member (the lookup, by its own key)
SELECT customer_id FROM identifier_lookup WHERE kind = 'card' AND value = 'NW000004242';

-- check: router: the purchase locks the member's account and reads its spendable lots
SELECT a.id, a.balance, l.id, l.remaining FROM ledger_accounts a JOIN point_lots l ON l.customer_id = a.customer_id AND l.account_id = a.id
WHERE a.customer_id = 4242 AND a.point_type = 'reward' AND l.remaining > 0 ORDER BY l.expires_at FOR UPDATE OF a;

-- check: router: and moves the points: the member's balance and the program's liability share, both on the member's shard
UPDATE liability_shares SET balance = balance - 120 WHERE customer_id = 4242 AND program_id = 1 AND point_type = 'reward';

-- check: router: customer 360: profile, newest purchases with their lines, interactions
SELECT c.id, t.id, t.amount_minor, l.product FROM customers c JOIN transactions t ON t.customer_id = c.id
JOIN transaction_lines l ON l.customer_id = t.customer_id AND l.transaction_id = t.id
WHERE c.id = 4242 ORDER BY t.occurred_at DESC LIMIT 50;

-- check: router: a member's statement: postings of a month with their transfers
SELECT t.id, t.reason, p.points FROM ledger_postings p JOIN ledger_transfers t ON t.customer_id = p.customer_id AND t.id = p.transfer_id
WHERE p.customer_id = 4242 AND p.account_id = 4242 AND p.occurred_at >= 1767225600 AND p.occurred_at < 1769904000;

-- check: colocated: a segment count (churn risk and status): every shard counts its own members
SELECT COUNT(*) FROM customers c JOIN customer_scores s ON s.customer_id = c.id WHERE c.status = 'active' AND s.churn_risk > 0.5;

-- check: colocated: campaign results: responses of the messages sent, shard by shard
SELECT m.wave, COUNT(r.customer_id) FROM campaign_messages m
LEFT JOIN campaign_responses r ON r.customer_id = m.customer_id AND r.campaign_id = m.campaign_id
WHERE m.campaign_id = 5 GROUP BY m.wave;

-- check: colocated: nightly scoring reads each member's purchases next to their profile
SELECT c.id, COUNT(t.id), SUM(t.amount_minor) FROM customers c JOIN transactions t ON t.customer_id = c.id GROUP BY c.id;

-- check: fanout: the program's liability: the sum of its members' shares
SELECT program_id, SUM(balance) FROM liability_shares WHERE program_id = 1 GROUP BY program_id;

-- check: fanout: a partner's statement: its outlets' purchases of a month, on every shard (a report, on a replica)
SELECT store, COUNT(*), SUM(amount_minor) FROM transactions WHERE store IN ('store-7') AND occurred_at >= 1767225600 AND occurred_at < 1769904000
GROUP BY store;

-- check: fanout: a household's pooled points: its members may live on different shards
SELECT SUM(a.balance) FROM customers c JOIN ledger_accounts a ON a.customer_id = c.id WHERE c.household_id = 5;
