#!/usr/bin/env bash
# The failover drill: a pg_auto_failover formation (a monitor, a primary and a synchronous
# secondary, all on 127.0.0.1), Patron serving on it through a multi-host URL, purchases and
# redemptions from 8 clients, and the primary's node killed with kill -9 (its keeper and its
# postmaster: the machine is gone). Checks that every acknowledged operation is on the new primary,
# none applied twice, `patron ledger verify` passes, and measures the time without writes.
# Exits 0 when nothing acknowledged was lost. Needs root (the servers run as the postgres user)
# and Debian's postgresql-15-auto-failover (installed here when missing).
#   scripts/ha-failover.sh            # builds .build/debug/patron if missing
#   PATRON=.build/release/patron scripts/ha-failover.sh
#   HA_KEEP=1 scripts/ha-failover.sh  # leave the formation running afterwards (stop: $HA_DIR/stop)
set -euo pipefail
cd "$(dirname "$0")/.."
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
PGVER=$(basename "$(dirname "$PGBIN")")
if ! command -v pg_autoctl >/dev/null || [ ! -f "/usr/share/postgresql/$PGVER/extension/pgautofailover.control" ]; then
    apt-get install -y -qq "postgresql-$PGVER-auto-failover" >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq "postgresql-$PGVER-auto-failover" >/dev/null; }
fi
PATRON=${PATRON:-.build/debug/patron}
[ -x "$PATRON" ] || swift build --product patron 2>&1 | tail -1
PATRON=$(realpath "$PATRON")

HA_DIR=$(mktemp -d /tmp/patron-ha.XXXXXX)
chown postgres:postgres "$HA_DIR"
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }
MONITOR_PORT=$(free_port); P1=$(free_port); P2=$(free_port); HTTP_PORT=$(free_port)
as_pg() { su postgres -s /bin/bash -c "export PATH=$PGBIN:\$PATH XDG_CONFIG_HOME=$HA_DIR/config XDG_DATA_HOME=$HA_DIR/data; cd $HA_DIR; $1"; }
state() { as_pg "pg_autoctl show state --pgdata $HA_DIR/monitor" 2>/dev/null || true; }
wait_for() {  # wait_for SECONDS PATTERN: until the formation's state matches the extended regex
    for _ in $(seq 1 "$1"); do state | grep -qE "$2" && return 0; sleep 1; done
    echo "the formation did not reach: $2" >&2; state >&2; return 1
}
# Each keeper (pg_autoctl, its services and its Postgres) runs in a process group of its own, so
# that a node can be killed whole and everything stopped at the end.
keeper() {  # keeper NAME COMMAND
    as_pg "setsid $2 >> $HA_DIR/$1.log 2>&1 < /dev/null & echo \$! > $HA_DIR/$1.pgid"
}
SERVER_PID=
cat > "$HA_DIR/stop" <<EOF
#!/bin/bash
for g in $HA_DIR/*.pgid; do kill -9 -- -\$(cat \$g) 2>/dev/null; done
for d in monitor node1 node2; do [ -f $HA_DIR/\$d/postmaster.pid ] && kill -9 \$(head -1 $HA_DIR/\$d/postmaster.pid) 2>/dev/null; done
sleep 1; rm -rf $HA_DIR
EOF
chmod +x "$HA_DIR/stop"
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
    if [ -z "${HA_KEEP:-}" ]; then "$HA_DIR/stop" >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

echo "== formation in $HA_DIR: monitor :$MONITOR_PORT, nodes :$P1 and :$P2"
as_pg "pg_autoctl create monitor --pgdata $HA_DIR/monitor --pgport $MONITOR_PORT --hostname 127.0.0.1 --auth trust --no-ssl > $HA_DIR/monitor-create.log 2>&1"
keeper monitor "pg_autoctl run --pgdata $HA_DIR/monitor"
MONITOR="postgres://autoctl_node@127.0.0.1:$MONITOR_PORT/pg_auto_failover?sslmode=disable"
for _ in $(seq 1 30); do psql -d "postgres://postgres@127.0.0.1:$MONITOR_PORT/pg_auto_failover?sslmode=disable" -qAtc "select 1" >/dev/null 2>&1 && break; sleep 1; done
# A dead node is noticed within about 2 s (health checks every second, one retry) and a primary
# that cannot be reached is given 3 s to demote itself, instead of 20 s and 30 s by default; a
# keeper cut off from the monitor and its standby demotes its own node after 2 s.
psql -d "postgres://postgres@127.0.0.1:$MONITOR_PORT/pg_auto_failover?sslmode=disable" -q \
    -c "ALTER SYSTEM SET pgautofailover.health_check_period = 1000" -c "ALTER SYSTEM SET pgautofailover.health_check_timeout = 1000" \
    -c "ALTER SYSTEM SET pgautofailover.health_check_max_retries = 1" -c "ALTER SYSTEM SET pgautofailover.health_check_retry_delay = 500" \
    -c "ALTER SYSTEM SET pgautofailover.node_considered_unhealthy_timeout = 2000" \
    -c "ALTER SYSTEM SET pgautofailover.primary_demote_timeout = 3000" -c "SELECT pg_reload_conf()" >/dev/null
for n in 1 2; do
    port=$([ $n = 1 ] && echo "$P1" || echo "$P2")
    keeper node$n "pg_autoctl create postgres --pgdata $HA_DIR/node$n --pgport $port --hostname 127.0.0.1 --auth trust --no-ssl --dbname patron --monitor '$MONITOR' --name node$n --run"
    if [ $n = 1 ]; then
        wait_for 90 "^ *node1 .*\| +(single|wait_primary|primary) +\| +(single|wait_primary|primary) *$"
    else
        # pg_basebackup waits for a checkpoint; ask for one instead of waiting for the next.
        for _ in $(seq 1 20); do state | grep -qE "node2 .*catchingup" && break; sleep 1; done
        psql -d "postgres://postgres@127.0.0.1:$P1/patron?sslmode=disable" -qc "CHECKPOINT" >/dev/null
        wait_for 120 "^ *node2 .*\| +secondary +\| +secondary *$"
        wait_for 30 "^ *node1 .*\| +primary +\| +primary *$"
    fi
    as_pg "pg_autoctl config set --pgdata $HA_DIR/node$n timeout.network_partition_timeout 2 >/dev/null"
done
SYNC=$(psql -d "postgres://postgres@127.0.0.1:$P1/patron?sslmode=disable" -qAtc "SHOW synchronous_standby_names")
[ -n "$SYNC" ] || { echo "the primary does not replicate synchronously" >&2; exit 1; }
echo "   primary node1, synchronous secondary node2 ($SYNC)"
state

URL="postgres://postgres@127.0.0.1:$P1,127.0.0.1:$P2/patron?sslmode=disable&target_session_attrs=read-write&connect_timeout=2"
LIBPQ_URL="postgresql://postgres@127.0.0.1:$P1,127.0.0.1:$P2/patron?sslmode=disable&target_session_attrs=read-write&connect_timeout=2"
export PATRON_BCRYPT_COST=4
"$PATRON" user add --database "$URL" --email drill@ha.example --password drill-password-1 --role admin >/dev/null
echo "== patron serve on :$HTTP_PORT with $URL"
"$PATRON" serve --database "$URL" --port "$HTTP_PORT" --role all > "$HA_DIR/patron.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 60); do python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$HTTP_PORT/health', timeout=2)" 2>/dev/null && break; sleep 0.5; done

# node1's postmaster and its keeper (pg_autoctl and its services, which would otherwise restart
# Postgres in place), in one kill -9: the machine is gone.
cat > "$HA_DIR/kill-node1" <<EOF
#!/bin/bash
kill -9 -- \$(head -1 $HA_DIR/node1/postmaster.pid) -\$(cat $HA_DIR/node1.pgid)
EOF
chmod +x "$HA_DIR/kill-node1"
KILL="$HA_DIR/kill-node1"
echo "== load, then kill -9 node1's keeper and postmaster"
set +e
python3 scripts/ha-drive.py --url "http://127.0.0.1:$HTTP_PORT" --email drill@ha.example --password drill-password-1 \
    --kill "$KILL" --psql "$LIBPQ_URL" | tee "$HA_DIR/result.json"
drive=${PIPESTATUS[0]}
set -e
state
echo "== patron ledger verify on the new primary"
if "$PATRON" ledger verify --database "$URL"; then verify=0; else verify=1; fi
NEW_PRIMARY=$(psql -d "$LIBPQ_URL" -qAtc "SELECT inet_server_port()")
echo "   the primary is now the server on :$NEW_PRIMARY"
[ "$NEW_PRIMARY" = "$P2" ] || { echo "no failover happened: the primary is still :$NEW_PRIMARY" >&2; exit 1; }
if [ "$drive" -ne 0 ] || [ "$verify" -ne 0 ]; then
    echo "FAILED: see $HA_DIR (kept)" >&2; HA_KEEP=1; tail -20 "$HA_DIR/patron.log" >&2; exit 1
fi
echo "== nothing acknowledged was lost; node1 comes back and rejoins as the synchronous secondary"
rejoin_start=$(date +%s)
keeper node1 "pg_autoctl run --pgdata $HA_DIR/node1"
wait_for 120 "^ *node1 .*\| +secondary +\| +secondary *$"
wait_for 30 "^ *node2 .*\| +primary +\| +primary *$"
state
echo "   rejoined in $(( $(date +%s) - rejoin_start )) s"
"$PATRON" ledger verify --database "$URL" >/dev/null
echo "== failover drill passed"
