#!/usr/bin/env bash
# #18's contract command run from outside, as the acceptance checks run it:
#   patron bench accrual --database postgres://… --json
# on a database of its own, sized so that one batch updates more than ten thousand accounts
# (at its own defaults the command had stopped on a syntax error that no smaller run reached:
# docs/benchmarks.md, session 22). Checks that the last line is JSON with http_per_s, batch_per_s,
# pgbench_tps and redemption_p99_ms, that every request was accepted and the ledger verified.
# Needs PATRON_TEST_POSTGRES_URL (scripts/with-postgres.sh sets it) and a built patron:
#   scripts/with-postgres.sh scripts/bench-contract.sh        (PATRON_BIN=.build/release/patron for speed)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${PATRON_BIN:-.build/debug/patron}
url=${PATRON_TEST_POSTGRES_URL:?set by scripts/with-postgres.sh}
server=${url%%\?*}
server=${server%/*}
database="patron_bench_contract_$$"
psql "$server/postgres" -qc "CREATE DATABASE $database"
out=$(mktemp /tmp/patron-bench-contract.XXXXXX)
cleanup() {
    psql "$server/postgres" -qc "DROP DATABASE IF EXISTS $database" >/dev/null 2>&1 || true
    rm -f "$out"
}
trap cleanup EXIT
if ! "$bin" bench accrual --database "$server/$database?sslmode=disable" --customers "${CUSTOMERS:-6000}" --batch "${BATCH:-30000}" \
    --http "${HTTP:-1000}" --connections 32 --json > "$out" 2>&1; then
    echo "bench accrual failed:"
    tail -20 "$out"
    exit 1
fi
tail -1 "$out" | python3 -c '
import json, sys
line = sys.stdin.read()
try:
    result = json.loads(line)
except ValueError:
    sys.exit("the last line is not JSON: " + line[:300])
problems = [f"{field} missing or not a number" for field in ("http_per_s", "batch_per_s", "pgbench_tps", "redemption_p99_ms")
            if not isinstance(result.get(field), (int, float))]
if result.get("ledger_consistent") is not True: problems.append("the ledger did not verify")
if result.get("http_failures") != 0 or result.get("redemption_failures") != 0: problems.append("requests were refused")
if problems: sys.exit("bench accrual: " + "; ".join(problems) + "\n" + line)
print("bench accrual contract: " + line.strip())
'
