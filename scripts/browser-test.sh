#!/usr/bin/env bash
# Browser tests: starts `patron serve --demo` on a fresh database (SQLite, and PostgreSQL too when
# PATRON_TEST_POSTGRES_URL is set — scripts/with-postgres.sh sets it) and drives the console and
# portals in headless Chromium (Debian's chromium + chromium-driver, selenium from PyPI).
# Screenshots of the key pages go to docs/screenshots/ (or $PATRON_SCREENSHOTS).
set -euo pipefail
cd "$(dirname "$0")/.."
patron=${PATRON_BIN:-.build/debug/patron}
[ -x "$patron" ] || swift build --product patron
export PATRON_SCREENSHOTS=${PATRON_SCREENSHOTS:-docs/screenshots}
work=$(mktemp -d /tmp/patron-browser.XXXXXX)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

run() {  # run DATABASE LABEL
    local port
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
    PATRON_BCRYPT_COST=4 "$patron" serve --demo --database "$1" --port "$port" >"$work/serve-$2.log" 2>&1 &
    pid=$!
    # Loading the demo company takes 20–80 s in a debug build (PostgreSQL is the slower); wait
    # while the server lives, up to five minutes, and say so if it dies or never answers.
    local up=""
    for _ in $(seq 1 600); do
        if curl -sf "http://127.0.0.1:$port/health" >/dev/null; then up=yes; break; fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.5
    done
    if [ -z "$up" ]; then
        echo "patron serve --demo on $2 did not come up; its log:" >&2
        tail -40 "$work/serve-$2.log" >&2
        return 1
    fi
    echo "== browser tests on $2"
    PATRON_URL="http://127.0.0.1:$port" python3 Tests/Browser/test_web.py
    kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
}

run "$work/browser.sqlite" sqlite
if [ -n "${PATRON_TEST_POSTGRES_URL:-}" ]; then
    base=${PATRON_TEST_POSTGRES_URL%%\?*}
    psql "${base%/*}/postgres" -qc "CREATE DATABASE patron_browser" >/dev/null
    PATRON_SCREENSHOTS="$work/shots" run "${base%/*}/patron_browser?${PATRON_TEST_POSTGRES_URL#*\?}" postgres
fi
