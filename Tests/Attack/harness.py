"""Drives the real `patron serve` the way an outside attacker does: fresh databases on SQLite and
PostgreSQL, servers started and killed, concurrent clients with Idempotency-Keys, and checks
read straight from the database and from `patron ledger verify`.

Used by Tests/Attack/test_ledger_attacks.py; see scripts/attack-test.sh.
"""
import http.client
import json
import os
import random
import socket
import sqlite3
import subprocess
import threading
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PATRON = os.environ.get("PATRON_BIN", os.path.join(ROOT, ".build/debug/patron"))
ADMIN = ("attack-admin@example.com", "attack-password-1")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Database:
    """A fresh database: a SQLite file, or a new PostgreSQL database on $PATRON_TEST_POSTGRES_URL."""

    def __init__(self, engine, directory):
        self.engine = engine
        if engine == "sqlite":
            self.url = os.path.join(directory, "attack.sqlite")
        else:
            base = os.environ["PATRON_TEST_POSTGRES_URL"]
            name = "patron_attack_" + uuid.uuid4().hex[:12]
            server, query = base.split("?", 1) if "?" in base else (base, "")
            self.admin_url = server.rsplit("/", 1)[0] + "/postgres"
            subprocess.run(["psql", self.admin_url, "-qc", f"CREATE DATABASE {name}"], check=True, capture_output=True)
            self.name = name
            self.url = server.rsplit("/", 1)[0] + "/" + name + ("?" + query if query else "")
            self.psql_url = server.rsplit("/", 1)[0] + "/" + name

    def scalar(self, sql):
        if self.engine == "sqlite":
            con = sqlite3.connect(self.url, timeout=30)
            try:
                return con.execute(sql).fetchone()[0]
            finally:
                con.close()
        out = subprocess.run(["psql", self.psql_url, "-Atqc", sql], check=True, capture_output=True, text=True).stdout.strip()
        return int(out) if out.lstrip("-").isdigit() else out

    def drop(self):
        if self.engine == "postgres":
            subprocess.run(["psql", self.admin_url, "-qc", f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)"], capture_output=True)


def patron(*args, env=None, check=True):
    return subprocess.run([PATRON, *args], capture_output=True, text=True, env={**os.environ, **(env or {})}, check=check)


def prepare(database):
    """Migrates the database and adds the admin the attacks sign in as."""
    patron("migrate", "--database", database.url)
    patron("user", "add", "--database", database.url, "--email", ADMIN[0], "--password", ADMIN[1], "--role", "admin",
           env={"PATRON_BCRYPT_COST": "4"})
    return database


class Server:
    """One `patron serve` process on a database."""

    def __init__(self, database, log_path, env=None, role=None, args=()):
        self.database = database
        self.args = list(args)
        self.port = free_port()
        self.log_path = log_path
        self.env = {"PATRON_BCRYPT_COST": "4", **(env or {})}
        self.role = role
        self.process = None

    def start(self, timeout=120):
        args = [PATRON, "serve", "--database", self.database.url, "--port", str(self.port), *self.args]
        self.log = open(self.log_path, "a")
        self.process = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, env={**os.environ, **self.env})
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"patron serve exited with {self.process.returncode}; see {self.log_path}")
            try:
                status, _, _ = request(self.port, "GET", "/health", timeout=2)
                if status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"patron serve did not answer in {timeout} s; see {self.log_path}")

    def kill9(self):
        self.process.kill()
        self.process.wait()

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if getattr(self, "log", None):
            self.log.close()


def request(port, method, path, body=None, token=None, key=None, timeout=30):
    """One HTTP request on a fresh connection: (status, headers, parsed JSON or text)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    if key:
        headers["Idempotency-Key"] = key
    try:
        conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        response = conn.getresponse()
        raw = response.read()
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = raw.decode("utf-8", "replace")
        return response.status, dict(response.getheaders()), data
    finally:
        conn.close()


def sign_in(port):
    status, _, data = request(port, "POST", "/v1/sessions", {"email": ADMIN[0], "password": ADMIN[1]})
    assert status == 201, (status, data)
    return data["token"]


class World:
    """A program with members holding points, made through the API."""

    def __init__(self, port, token, members=8, seed_points=100_000, purchases_per_member=6, expired_purchases_per_member=4):
        self.token = token
        s, _, program = request(port, "POST", "/v1/programs", {
            "code": "ATK", "name": "Attack", "valuePerThousandPoints": {"amount": 1000, "currency": "USD"}, "expiryMonths": 12,
            "earningRules": {"pointsPerUnit": 1}, "transferLimitPerYear": 1_000_000_000}, token=token)
        assert s == 201, (s, program)
        self.program = program["id"]
        self.customers, self.members, self.purchases = [], [], []
        now = time.time()
        for i in range(members):
            s, _, c = request(port, "POST", "/v1/customers", {"firstName": f"Member{i}", "lastName": "Attack"}, token=token)
            assert s == 201, (s, c)
            s, _, m = request(port, "POST", f"/v1/programs/{self.program}/members", {"customerId": c["id"]}, token=token)
            assert s == 201, (s, m)
            self.customers.append(c["id"])
            self.members.append(m["id"])
            s, _, t = request(port, "POST", f"/v1/members/{m['id']}/adjustments", {"points": seed_points, "reason": "seed"}, token=token,
                              key="seed-" + str(m["id"]))
            assert s == 201, (s, t)
            # Recent purchases (returned during the attack) and purchases old enough that their points are due to expire.
            for p in range(purchases_per_member + expired_purchases_per_member):
                old = p >= purchases_per_member
                at = time.gmtime(now - (400 * 86_400 if old else 3_600))
                tid = f"P-{c['id']}-{p}"
                s, _, r = request(port, "POST", "/v1/transactions", {
                    "transactionId": tid, "customerId": c["id"], "occurredAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", at), "amount": 25_000}, token=token)
                assert s == 201, (s, r)
                self.purchases.append((c["id"], tid))


class Client:
    """Concurrent clients moving points, each request with its own Idempotency-Key, remembering
    what was acknowledged and what got no answer (to be sent again)."""

    def __init__(self, world, rng_seed):
        self.world = world
        self.rng = random.Random(rng_seed)
        self.lock = threading.Lock()
        self.acknowledged = []   # (kind, key, request, status, body)
        self.unanswered = []     # (kind, key, request)
        self.server_errors = []  # (kind, status, body)
        self.refused = 0

    def next_operation(self):
        w, rng = self.world, self.rng
        a, b = rng.sample(range(len(w.members)), 2)
        kind = rng.choice(["transfer", "transfer", "redeem", "return", "adjust", "purchase"])
        key = uuid.uuid4().hex
        if kind == "transfer":
            req = ("POST", f"/v1/members/{w.members[a]}/transfers", {"toMemberId": w.members[b], "points": rng.randint(1, 50)})
        elif kind == "redeem":
            req = ("POST", f"/v1/members/{w.members[a]}/redemptions", {"points": rng.randint(1, 30)})
        elif kind == "adjust":
            req = ("POST", f"/v1/members/{w.members[a]}/adjustments", {"points": rng.choice([-1, 1]) * rng.randint(1, 20), "reason": "goodwill"})
        elif kind == "return":
            customer, purchase = rng.choice(w.purchases)
            req = ("POST", "/v1/transactions", {
                "transactionId": "R-" + key, "customerId": customer, "kind": "return", "originalTransactionId": purchase,
                "occurredAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "amount": rng.choice([5_000, 25_000])})
        else:
            req = ("POST", "/v1/transactions", {
                "transactionId": "N-" + key, "customerId": w.customers[a], "occurredAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "amount": rng.randint(100, 10_000)})
        return kind, key, req

    def send(self, port, kind, key, req):
        method, path, body = req
        try:
            status, headers, data = request(port, method, path, body, token=self.world.token, key=key, timeout=20)
        except (OSError, http.client.HTTPException):
            with self.lock:
                self.unanswered.append((kind, key, req))
            time.sleep(0.5)  # the server is down or restarting: a client waits before its next request
            return
        if status == 503:
            # A well-behaved client waits as told (bounded here to keep the test short).
            time.sleep(min(float(headers.get("Retry-After") or headers.get("retry-after") or 1), 1.0))
        with self.lock:
            if 200 <= status < 300:
                self.acknowledged.append((kind, key, req, status, data))
            elif status in (409, 503):
                self.unanswered.append((kind, key, req))
            elif status >= 500:
                self.server_errors.append((kind, status, data))
            else:
                self.refused += 1

    def run(self, port, threads, seconds, stop=None):
        """`threads` clients for `seconds` (or until `stop` is set)."""
        deadline = time.time() + seconds
        stop = stop or threading.Event()

        def loop(seed):
            local = random.Random(seed)
            while time.time() < deadline and not stop.is_set():
                with self.lock:
                    op = self.next_operation()
                self.send(port, *op)
                if local.random() < 0.05:
                    time.sleep(0.01)

        workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()

    def resend_unanswered(self, port, lease_seconds=40):
        """Sends every unanswered request again with its key until it gets an answer that is not
        409 (in progress) or 503; a key still refused after the lease is stuck."""
        stuck = []
        pending, self.unanswered = self.unanswered, []
        started = time.time()
        deadline = started + lease_seconds
        self.last_status = {}
        while pending:
            retry = []
            for kind, key, req in pending:
                method, path, body = req
                try:
                    status, _, data = request(port, method, path, body, token=self.world.token, key=key)
                except (OSError, http.client.HTTPException):
                    retry.append((kind, key, req))
                    continue
                if status in (409, 503):
                    retry.append((kind, key, req))
                    self.last_status[key] = (round(time.time() - started, 1), status, (data or {}).get("code") if isinstance(data, dict) else data)
                elif 200 <= status < 300:
                    self.acknowledged.append((kind, key, req, status, data))
                elif status >= 500:
                    self.server_errors.append((kind, status, data))
                else:
                    self.refused += 1
            pending = retry
            if pending:
                if time.time() > deadline:
                    stuck = pending
                    # Still to be answered: a later call sends them again.
                    self.unanswered.extend(stuck)
                    self.last_refusals = [(key, self.last_status.get(key), status, data) for _, key, _ in pending[:3]
                                          for status, data in [self.probe(port, key, pending)]]
                    break
                time.sleep(1)
        return stuck


def _probe(self, port, key, pending):
    """What the server answers now for a stuck request (for the failure message)."""
    for _, k, req in pending:
        if k == key:
            method, path, body = req
            try:
                status, _, data = request(port, method, path, body, token=self.world.token, key=key)
                return status, data
            except (OSError, http.client.HTTPException) as error:
                return "no answer", str(error)
    return None, None


Client.probe = _probe


def check_exactly_once(database, client):
    """Every acknowledged point movement is in the ledger exactly once, and no other request's key is in it twice."""
    problems = []
    for kind, key, req, status, data in client.acknowledged:
        if kind in ("transfer", "redeem", "adjust"):
            n = database.scalar(f"SELECT COUNT(*) FROM ledger_transfers WHERE idempotency_key LIKE '%:{key}'")
            if n != 1:
                problems.append(f"{kind} {key}: {n} transfers")
        elif kind in ("return", "purchase"):
            tid = req[2]["transactionId"]
            n = database.scalar(f"SELECT COUNT(*) FROM transactions WHERE external_id = '{tid}'")
            if n != 1:
                problems.append(f"{kind} {tid}: {n} rows")
    duplicated = database.scalar(
        "SELECT COUNT(*) FROM (SELECT idempotency_key FROM ledger_transfers WHERE idempotency_key IS NOT NULL "
        "GROUP BY idempotency_key HAVING COUNT(*) > 1) d")
    if duplicated:
        problems.append(f"{duplicated} idempotency keys applied more than once")
    return problems


def assert_ledger_sound(database, client):
    """No 5xx was answered, every acknowledged movement is in the ledger once, and `patron ledger verify` passes."""
    assert client.server_errors == [], client.server_errors[:5]
    assert check_exactly_once(database, client) == []
    code, output = verify(database)
    assert code == 0, output


def verify(database):
    result = patron("ledger", "verify", "--database", database.url, check=False)
    return result.returncode, result.stdout + result.stderr
