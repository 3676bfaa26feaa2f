#!/usr/bin/env bash
# Starts a throw-away PostgreSQL cluster on 127.0.0.1, exports PATRON_TEST_POSTGRES_URL, runs the
# given command, and stops the cluster. Needs root (it runs the server as the postgres user).
#   scripts/with-postgres.sh swift test --disable-xctest
set -euo pipefail
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$PGBIN" ]; then
    echo "PostgreSQL is not installed: apt-get install -y postgresql" >&2
    exit 1
fi
PGTMP=$(mktemp -d /tmp/patron-pg.XXXXXX)
# A free port, so that two runs (a developer's and CI's) never collide.
PGPORT=${PGPORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')}
chown postgres:postgres "$PGTMP"
su postgres -s /bin/sh -c "$PGBIN/initdb -D $PGTMP/data -U postgres -A trust -E UTF8 --no-sync >/dev/null"
# A server for tests: nothing on it outlives the run, so no write waits for the disk (fsync=off) and
# no page is written whole into the WAL after a checkpoint (full_page_writes=off; each test copies
# its database file by file, and every copy is a checkpoint): less WAL for the replica to replay.
su postgres -s /bin/sh -c "$PGBIN/pg_ctl -D $PGTMP/data -l $PGTMP/log -w -t 30 -o \"-p $PGPORT -k $PGTMP -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=1000\" start >/dev/null"
stop() {
    [ -f "$PGTMP/pgbouncer.pid" ] && kill "$(cat "$PGTMP/pgbouncer.pid")" 2>/dev/null
    su postgres -s /bin/sh -c "$PGBIN/pg_ctl -D $PGTMP/replica -m immediate stop >/dev/null 2>&1" || true
    su postgres -s /bin/sh -c "$PGBIN/pg_ctl -D $PGTMP/data -m fast stop >/dev/null" || true
    rm -rf "$PGTMP"
}
trap stop EXIT
su postgres -s /bin/sh -c "$PGBIN/createdb -h 127.0.0.1 -p $PGPORT patron_test"
export PATRON_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$PGPORT/patron_test?sslmode=disable"
# The whole suite runs at once on two cores: a pooled connection may take longer than a server's
# 10 s to come free, so the tests wait up to a minute. Set here, before the test process starts:
# setenv in a running test process races every thread that reads the environment.
export PATRON_PG_POOL_TIMEOUT="${PATRON_PG_POOL_TIMEOUT:-60}"
# A streaming replica of it, for the read-replica tests (--read-database). It holds a replication
# slot, so the primary keeps every WAL segment the replica has not received: without one, the
# suite's writes (each test makes a database) recycled WAL the replica still needed under load,
# the replica stopped, and ReadReplicaTests waited for it in vain.
REPLICA_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
su postgres -s /bin/sh -c "$PGBIN/pg_basebackup -h 127.0.0.1 -p $PGPORT -U postgres -D $PGTMP/replica -R -X stream -C -S patron_test_replica --checkpoint=fast --no-sync"
su postgres -s /bin/sh -c "$PGBIN/pg_ctl -D $PGTMP/replica -l $PGTMP/replica.log -w -t 30 -o \"-p $REPLICA_PORT -k $PGTMP -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=1000\" start >/dev/null"
# PgBouncer in transaction mode in front of it, with fewer server connections than Patron's pool.
if command -v pgbouncer >/dev/null; then
    BOUNCER_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
    cat > "$PGTMP/pgbouncer.ini" <<EOF
[databases]
* = host=127.0.0.1 port=$PGPORT
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $BOUNCER_PORT
unix_socket_dir =
auth_type = trust
auth_file = $PGTMP/userlist.txt
pool_mode = transaction
default_pool_size = 4
max_client_conn = 1000
logfile = $PGTMP/pgbouncer.log
pidfile = $PGTMP/pgbouncer.pid
EOF
    echo '"postgres" ""' > "$PGTMP/userlist.txt"
    chown postgres "$PGTMP/pgbouncer.ini" "$PGTMP/userlist.txt"
    su postgres -s /bin/sh -c "pgbouncer -d $PGTMP/pgbouncer.ini"
    export PATRON_TEST_PGBOUNCER_URL="postgres://postgres@127.0.0.1:$BOUNCER_PORT/patron_test?sslmode=disable"
fi
export PATRON_TEST_POSTGRES_REPLICA_URL="postgres://postgres@127.0.0.1:$REPLICA_PORT/patron_test?sslmode=disable"
# How the fault tests (Tests/Attack) stop the server mid-load and start it again.
export PATRON_TEST_PG_STOP="su postgres -s /bin/sh -c '$PGBIN/pg_ctl -D $PGTMP/data -m immediate -w stop'"
export PATRON_TEST_PG_START="su postgres -s /bin/sh -c '$PGBIN/pg_ctl -D $PGTMP/data status >/dev/null || $PGBIN/pg_ctl -D $PGTMP/data -l $PGTMP/log -w -t 30 start -o \"-p $PGPORT -k $PGTMP -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=1000\"'"
"$@"
