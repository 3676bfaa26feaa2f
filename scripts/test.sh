#!/usr/bin/env bash
# The whole test suite: SQLite always, and PostgreSQL too when PATRON_TEST_POSTGRES_URL is set
# (scripts/with-postgres.sh sets it up). Runs with Swift Testing only.
set -euo pipefail
cd "$(dirname "$0")/.."
swift test --disable-xctest "$@"
