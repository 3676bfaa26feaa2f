#!/usr/bin/env bash
# Attacks through the real server (Tests/Attack): on the points ledger, 32 concurrent clients with
# expiry running, kill -9 at random moments, two servers on one database with a real SMTP server,
# SIGTERM with a half-sent request; and contract fuzzing of every operation as an admin, an
# analyst, a member and a partner key (schemathesis, all checks, stateful phase included). On SQLite, and on PostgreSQL too when PATRON_TEST_POSTGRES_URL
# is set (scripts/with-postgres.sh sets it). Bounded for CI; PATRON_ATTACK_LONG=1 runs them long
# (60 s of concurrency, 60 kills per engine, 100 examples per operation). The SQLite ledger
# attacks run a second time through the GRDB.swift driver (PATRON_SQLITE_DRIVER=grdb).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x "${PATRON_BIN:-.build/debug/patron}" ] || swift build --product patron
export PATRON_BIN=${PATRON_BIN:-$PWD/.build/debug/patron}
cd Tests/Attack
python3 -m pytest -q -p no:cacheprovider test_ledger_attacks.py test_jobs.py test_contract.py test_secrets.py "$@"
# The ledger attacks on SQLite again through the GRDB.swift driver: concurrency with expiry, kill -9,
# two servers on one file, SIGTERM mid-request, a full disk.
PATRON_SQLITE_DRIVER=grdb python3 -m pytest -q -p no:cacheprovider test_ledger_attacks.py -k "sqlite or full_disk" "$@"
