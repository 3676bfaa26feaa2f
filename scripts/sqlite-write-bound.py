#!/usr/bin/env python3
"""How fast can SQLite write what a batch of accruals must write, with nothing else to do?

An upper bound for `patron bench accrual`'s batch figure: the rows the engine writes per
purchase (the customer's transaction, a reward and a qualifying transfer, their four postings,
two point lots, about one promotion application per two purchases) inserted into Patron's own
schema with prepared statements reused row after row (sqlite3's executemany, in C), in one
transaction, `synchronous=FULL`, WAL — no parsing, matching, rule evaluation or reads.

Variants drop parts of the ledger to show what a leaner design could reach:
  current  Patron's schema as it is
  A        postings derived from transfers (no postings table; transfers indexed by account)
  AQ       A, and qualifying points without lots
  AQK      AQ, and one idempotency key per purchase instead of two
  AQKP     AQK, and no index on transfers' purchase reference

Usage: patron ledger verify --database /tmp/empty.sqlite   # creates the schema
       python3 scripts/sqlite-write-bound.py /tmp/empty.sqlite [purchases] [variant ...]
"""
import random
import shutil
import sqlite3
import sys
import tempfile
import time


def run(schema_path: str, purchases: int, variant: str) -> float:
    work = tempfile.mktemp(suffix=".sqlite")
    shutil.copy(schema_path, work)
    db = sqlite3.connect(work, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "cache_size=-262144", "foreign_keys=OFF"):
        db.execute("PRAGMA " + pragma)
    if "A" in variant:
        db.execute("CREATE INDEX bound_to ON ledger_transfers (to_account, occurred_at)")
        db.execute("CREATE INDEX bound_from ON ledger_transfers (from_account, occurred_at)")
    if "P" in variant:
        db.execute("DROP INDEX IF EXISTS ledger_transfers_reference")
    members = 10_000
    transactions, transfers, postings, lots, applications = [], [], [], [], []
    transfer_id = lot_id = application_id = 0
    for n in range(purchases):
        customer = random.randint(1, members)
        reference, at = f"T{n}", 1_700_000_000 + n
        transactions.append((n + 1, reference, customer, "purchase", at, 1234, "USD", f"S{customer % 12 + 1}", "store", None))
        for point_type, account in ((0, customer * 2), (1, customer * 2 + 1)):
            transfer_id += 1
            key = f"{'reward' if point_type == 0 else 'qualifying'}:1:{reference}"
            if "K" in variant and point_type == 1:
                key = None
            transfers.append((transfer_id, 1, point_type + 1, account, 12, "accrual", reference, key, None, at))
            if "A" not in variant:
                postings += [(transfer_id, point_type + 1, -12, at), (transfer_id, account, 12, at)]
            if point_type == 0 or "Q" not in variant:
                lot_id += 1
                lots.append((lot_id, account, transfer_id, 12, 12, at, at + 700 * 86_400))
        if n % 2 == 0:
            application_id += 1
            applications.append((application_id, n % 50 + 1, customer, reference, 10, None, 1234, at))
    started = time.time()
    db.execute("BEGIN")
    db.executemany(
        "INSERT INTO transactions (id, external_id, customer_id, kind, occurred_at, amount_minor, currency, store, channel,"
        " original_external_id) VALUES (?,?,?,?,?,?,?,?,?,?)", transactions)
    db.executemany(
        "INSERT INTO ledger_transfers (id, program_id, from_account, to_account, points, reason, reference, idempotency_key, memo,"
        " occurred_at) VALUES (?,?,?,?,?,?,?,?,?,?)", transfers)
    db.executemany("INSERT INTO ledger_postings (transfer_id, account_id, points, occurred_at) VALUES (?,?,?,?)", postings)
    db.executemany(
        "INSERT INTO point_lots (id, account_id, transfer_id, points, remaining, available_at, expires_at) VALUES (?,?,?,?,?,?,?)", lots)
    db.executemany(
        "INSERT INTO promotion_applications (id, promotion_id, member_id, reference, points, voucher_id, amount_minor, applied_at)"
        " VALUES (?,?,?,?,?,?,?,?)", applications)
    db.execute("COMMIT")
    seconds = time.time() - started
    db.close()
    for suffix in ("", "-wal", "-shm"):
        try:
            __import__("os").remove(work + suffix)
        except FileNotFoundError:
            pass
    return seconds


if __name__ == "__main__":
    schema = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 200_000
    for name in sys.argv[3:] or ["current", "A", "AQ", "AQK", "AQKP"]:
        seconds = run(schema, count, "" if name == "current" else name)
        print(f"{name:8} {count} purchases written in {seconds:.2f} s = {count / seconds:,.0f}/s")
