"""Attacks on the points ledger through the real server, on SQLite and (with
$PATRON_TEST_POSTGRES_URL) PostgreSQL. Bounded for CI; PATRON_ATTACK_LONG=1 runs them long.

    scripts/attack-test.sh            # both engines when PostgreSQL is configured
"""
import os
import random
import signal
import subprocess
import tempfile
import threading
import time

import pytest

from harness import Client, Database, Server, World, assert_ledger_sound, patron, prepare, request, sign_in, verify

LONG = os.environ.get("PATRON_ATTACK_LONG") == "1"
ENGINES = ["sqlite"] + (["postgres"] if os.environ.get("PATRON_TEST_POSTGRES_URL") else [])


@pytest.fixture
def workdir():
    """A directory for the run's databases and server logs; kept when PATRON_ATTACK_KEEP=1."""
    if os.environ.get("PATRON_ATTACK_KEEP") == "1":
        yield tempfile.mkdtemp(prefix="patron-attack-")
        return
    with tempfile.TemporaryDirectory(prefix="patron-attack-") as directory:
        yield directory


@pytest.fixture(params=ENGINES)
def database(request, workdir):
    db = prepare(Database(request.param, workdir))
    yield db
    db.drop()


def test_bank_under_concurrency_with_expiry(database, workdir):
    """32 clients move points among a fixed set of members (transfers, redemptions, returns of shared
    purchases, adjustments, purchases) while expiry runs in other processes: nothing is over-clawed or
    negative, every acknowledged operation is applied exactly once, no 5xx, and the ledger verifies."""
    server = Server(database, os.path.join(workdir, "serve.log")).start()
    try:
        token = sign_in(server.port)
        world = World(server.port, token)
        client = Client(world, rng_seed=1)
        stop = threading.Event()

        def expiry():
            while not stop.is_set():
                patron("ledger", "expire", "--database", database.url, check=False)
                time.sleep(0.2)

        samples = []

        def sample():
            # Every committed state: accounts sum to zero (members + liability + breakage + budgets;
            # programs' own accounts keep part of their balance in stripes, read in the same
            # statement so both sums come from one snapshot), and no lot or member balance is
            # negative (the program forbids it).
            while not stop.is_set():
                samples.append((database.scalar(
                                    "SELECT COALESCE((SELECT SUM(balance) FROM ledger_accounts), 0)"
                                    " + COALESCE((SELECT SUM(balance) FROM ledger_balance_stripes), 0)"),
                                database.scalar("SELECT COUNT(*) FROM point_lots WHERE remaining < 0"),
                                database.scalar("SELECT COUNT(*) FROM ledger_accounts WHERE member_id IS NOT NULL AND balance < 0")))
                time.sleep(0.2)

        expirer = threading.Thread(target=expiry)
        sampler = threading.Thread(target=sample)
        expirer.start()
        sampler.start()
        try:
            client.run(server.port, threads=32, seconds=60 if LONG else 12)
        finally:
            stop.set()
            expirer.join()
            sampler.join()
        assert len(samples) >= 5
        assert [s for s in samples if s != (0, 0, 0)] == [], "a sample saw points created or lost, or a negative lot or balance"
        stuck = client.resend_unanswered(server.port)
        assert not stuck, f"{len(stuck)} keys still refused after the lease"
        assert len(client.acknowledged) > 200
        assert_ledger_sound(database, client)
    finally:
        server.stop()


def test_kill_9_loses_nothing_and_applies_nothing_twice(database, workdir):
    """The real server under concurrent point movements with idempotency keys, `kill -9` at random
    moments, restart, and every unacknowledged request sent again with its key until it gets an
    answer that is not 409: 0 lost, 0 duplicated, 0 keys left unanswerable, verify passes."""
    kills = 60 if LONG else 20
    server = Server(database, os.path.join(workdir, "serve.log")).start()
    token = sign_in(server.port)
    world = World(server.port, token)
    client = Client(world, rng_seed=2)
    rng = random.Random(3)
    try:
        for _ in range(kills):
            stop = threading.Event()
            runner = threading.Thread(target=client.run, args=(server.port, 8, 30), kwargs={"stop": stop})
            runner.start()
            time.sleep(rng.uniform(0.3, 1.5))
            server.kill9()
            stop.set()
            runner.join()
            server = Server(database, os.path.join(workdir, "serve.log")).start()
            client.resend_unanswered(server.port, lease_seconds=0)  # what answers at once; the rest after the lease
        stuck = client.resend_unanswered(server.port, lease_seconds=45)
        assert not stuck, f"{len(stuck)} keys still refused 45 s after the last crash: {[k for _, k, _ in stuck[:5]]}"
        assert_ledger_sound(database, client)
    finally:
        server.stop()


def test_two_servers_run_campaign_and_expiry_once(database, workdir):
    """Two servers on one database (two processes on one SQLite file), the campaign job and expiry
    at the same time: each recipient receives each message exactly once through a real SMTP server."""
    sinks = subprocess.Popen(
        ["python3", os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "message-sinks.py"), workdir],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    smtp_port, _ = (int(p) for p in sinks.stdout.readline().split())
    env = {"PATRON_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}", "PATRON_MAIL_FROM": "offers@shop.example"}
    first = Server(database, os.path.join(workdir, "serve-1.log"), env=env).start()
    second = Server(database, os.path.join(workdir, "serve-2.log"), env=env).start()
    try:
        token = sign_in(first.port)
        people = 60
        for i in range(people):
            s, _, c = request(first.port, "POST", "/v1/customers",
                              {"firstName": f"R{i}", "lastName": "Two", "emails": [f"r{i}@example.com"]}, token=token)
            assert s == 201, (s, c)
            s, _, consent = request(first.port, "POST", f"/v1/customers/{c['id']}/consents",
                                    {"purpose": "marketing", "channel": "email", "granted": True, "source": "web_form"}, token=token)
            assert s in (200, 201), (s, consent)
        s, _, segment = request(first.port, "POST", "/v1/segments", {"name": "All", "rule": "has_email"}, token=token)
        assert s == 201, (s, segment)
        today = time.strftime("%Y-%m-%d", time.gmtime())
        s, _, campaign = request(first.port, "POST", "/v1/campaigns", {
            "name": "Twice?", "objective": "test", "startsOn": today, "endsOn": today, "segmentId": segment["id"], "controlPercent": 0,
            "waves": [{"channel": "email", "day": 0, "subject": "Hello {{first_name}}", "body": "Hi {{first_name}}"}]}, token=token)
        assert s == 201, (s, campaign)
        s, _, launched = request(first.port, "POST", f"/v1/campaigns/{campaign['id']}/launch", token=token)
        assert s == 200, (s, launched)
        # Both servers' outbox passes at once, several times, while expiry runs in both.
        threads = []
        for port in (first.port, second.port) * 3:
            threads.append(threading.Thread(target=request, args=(port, "POST", "/v1/campaigns/run"), kwargs={"token": token}))
        threads += [threading.Thread(target=patron, args=("ledger", "expire", "--database", database.url), kwargs={"check": False})
                    for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        deadline = time.time() + 30
        mail = []
        while time.time() < deadline:
            path = os.path.join(workdir, "mail.jsonl")
            mail = open(path).read().splitlines() if os.path.exists(path) else []
            if len(mail) >= people:
                break
            time.sleep(0.5)
        import json
        recipients = [json.loads(line)["to"][0] for line in mail]
        assert len(recipients) == people, f"{len(recipients)} messages for {people} recipients"
        assert len(set(recipients)) == people, "a recipient got the same message twice"
        code, output = verify(database)
        assert code == 0, output
    finally:
        first.stop()
        second.stop()
        sinks.stdin.close()
        sinks.wait()


def test_sigterm_with_a_half_sent_request_exits_within_the_grace_period(database, workdir):
    """A client that stops half-way through a request no longer makes SIGTERM hang, and idle sockets are closed."""
    server = Server(database, os.path.join(workdir, "serve.log"), env={"PATRON_SHUTDOWN_GRACE_SECONDS": "2",
                                                                        "PATRON_IDLE_TIMEOUT_SECONDS": "2"}).start()
    import socket
    idle = socket.create_connection(("127.0.0.1", server.port))
    idle.settimeout(10)
    started = time.time()
    assert idle.recv(1) == b"", "an idle connection is closed by the server"
    assert time.time() - started < 6
    half = socket.create_connection(("127.0.0.1", server.port))
    half.sendall(b"POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
    time.sleep(0.3)
    started = time.time()
    server.process.send_signal(signal.SIGTERM)
    server.process.wait(timeout=20)
    assert time.time() - started < 10
    half.close()


def assert_clean_outage(client):
    """While the database is away, answers are 2xx, 4xx or 503 problem+json: never a 500."""
    assert client.server_errors == [], client.server_errors[:5]


def assert_recovered(server, client, database, token, when):
    """After an outage: every unanswered key answers within the lease, a new movement succeeds,
    and the ledger is sound."""
    stuck = client.resend_unanswered(server.port, lease_seconds=45)
    assert not stuck, f"{len(stuck)} keys still refused {when}: {client.last_refusals}"
    status, _, after = request(server.port, "POST", f"/v1/members/{client.world.members[1]}/adjustments",
                               {"points": 5, "reason": "after the outage"}, token=token, key="after-outage")
    assert status == 201, (status, after)
    assert_ledger_sound(database, client)


def drive_through_outage(server, client, outage, seconds=4):
    """Clients run while `outage()` makes the database fail, then until it is back."""
    stop = threading.Event()
    runner = threading.Thread(target=client.run, args=(server.port, 8, 60), kwargs={"stop": stop})
    runner.start()
    try:
        time.sleep(1)
        outage()
        time.sleep(seconds)
    finally:
        stop.set()
        runner.join()


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_full_disk_answers_503_and_recovers(workdir):
    """SQLite on a small tmpfs: the disk fills mid-load and empties again. While it is full the
    server answers 503 database_full (or succeeds), never 500; afterwards full service, no stuck
    keys, every acknowledged operation applied once, and the ledger verifies."""
    mount = os.path.join(workdir, "small")
    os.makedirs(mount)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", mount]).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        database = prepare(Database("sqlite", mount))
        server = Server(database, os.path.join(workdir, "serve.log")).start()
        try:
            token = sign_in(server.port)
            client = Client(World(server.port, token, members=6), rng_seed=5)
            filler = os.path.join(mount, "filler")
            statuses = []

            def fill():
                subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=1M"], capture_output=True)
                status, headers, body = request(server.port, "POST", f"/v1/members/{client.world.members[0]}/adjustments",
                                                {"points": 5, "reason": "during the outage"}, token=token, key="outage-probe")
                statuses.append((status, headers.get("Retry-After") or headers.get("retry-after"), body))

            drive_through_outage(server, client, fill)
            status, retry_after, body = statuses[0]
            assert status in (201, 503), (status, body)
            if status == 503:
                assert body["code"] in ("database_full", "database_unavailable") and retry_after == "5", body
            assert_clean_outage(client)
            os.remove(filler)
            assert_recovered(server, client, database, token, "after the disk emptied")
        finally:
            server.stop()
    finally:
        subprocess.run(["umount", "-l", mount])


@pytest.mark.skipif(not (os.environ.get("PATRON_TEST_PG_STOP") and os.environ.get("PATRON_TEST_PG_START")),
                    reason="needs control of the test PostgreSQL server (scripts/with-postgres.sh sets it)")
def test_postgres_stopping_mid_load_answers_503_and_recovers(workdir):
    """PostgreSQL stops while clients move points and comes back: 503 with Retry-After while it is
    away, never 500; afterwards full service without a restart of Patron, no stuck keys, nothing
    applied twice, and the ledger verifies."""
    database = prepare(Database("postgres", workdir))
    server = Server(database, os.path.join(workdir, "serve.log")).start()
    try:
        token = sign_in(server.port)
        client = Client(World(server.port, token, members=6), rng_seed=6)
        seen = []

        def stop_database():
            subprocess.run(os.environ["PATRON_TEST_PG_STOP"], shell=True, check=True, capture_output=True)
            status, headers, body = request(server.port, "GET", f"/v1/members/{client.world.members[0]}/balance", token=token)
            seen.append((status, headers.get("Retry-After") or headers.get("retry-after"), body))

        try:
            drive_through_outage(server, client, stop_database)
        finally:
            subprocess.run(os.environ["PATRON_TEST_PG_START"], shell=True, check=True, capture_output=True)
        status, retry_after, body = seen[0]
        assert status == 503 and body["code"] == "database_unavailable" and retry_after == "5", (status, body)
        assert_clean_outage(client)
        deadline = time.time() + 30
        while time.time() < deadline:
            s, _, _ = request(server.port, "GET", "/health")
            if s == 200:
                break
            time.sleep(0.5)
        assert_recovered(server, client, database, token, "after the database came back")
    finally:
        server.stop()
        database.drop()
