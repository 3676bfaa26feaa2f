#!/usr/bin/env bash
# The whole test suite: the Swift tests on SQLite always, and on PostgreSQL too when
# PATRON_TEST_POSTGRES_URL is set (scripts/with-postgres.sh sets it up), and on SQLite through the
# GRDB.swift driver; then the browser tests
# (scripts/browser-test.sh) when Chromium, chromedriver and selenium are installed. In between:
# the attacks through the real server (scripts/attack-test.sh: ledger faults and contract fuzzing)
# and a short libFuzzer run per target (scripts/fuzz.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
# Python tools the tests drive: a real SMTP server (aiosmtpd), pytest for the attack tests,
# selenium for the browser tests. Installed from PyPI when missing, so this works on a fresh machine.
python3 -c "import aiosmtpd, pytest, selenium, schemathesis" 2>/dev/null ||
    python3 -m pip install -q --disable-pip-version-check aiosmtpd pytest selenium schemathesis
# Package.swift lists every module each target imports (the build never works by luck of order).
python3 scripts/check-imports.py
swift test --disable-xctest --explicit-target-dependency-import-check error "$@"
# The SQLite tests again through the GRDB.swift driver (PATRON_SQLITE_DRIVER=grdb), which serves
# the same file (docs/benchmarks.md, session 14).
env -u PATRON_TEST_POSTGRES_URL -u PATRON_TEST_POSTGRES_REPLICA_URL -u PATRON_TEST_PGBOUNCER_URL PATRON_SQLITE_DRIVER=grdb \
    swift test --disable-xctest --skip-build "$@"
swift build --product patron
scripts/attack-test.sh
scripts/fuzz.sh
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] && python3 -c "import selenium" 2>/dev/null; then
    scripts/browser-test.sh
else
    echo "browser tests skipped: apt-get install -y chromium chromium-driver && pip install selenium"
fi
