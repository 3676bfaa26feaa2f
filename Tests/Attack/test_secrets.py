"""No secret in clear: after every path that handles one (sign-ins right and wrong, sessions,
member logins, API keys created with an Idempotency-Key and replayed, the metrics token, and on
PostgreSQL requests that fail while the database is away), neither the database nor the server's
log holds any password, token or key in clear. Then the same grep over everything the other
attack tests left behind (their databases and logs), for the passwords they used.

Runs last (scripts/attack-test.sh lists it last).
"""
import os
import subprocess
import uuid

import pytest

from harness import ADMIN, Database, Server, prepare, request

ENGINES = ["sqlite"] + (["postgres"] if os.environ.get("PATRON_TEST_POSTGRES_URL") else [])
CAN_STOP_PG = bool(os.environ.get("PATRON_TEST_PG_STOP") and os.environ.get("PATRON_TEST_PG_START"))


def database_bytes(database, directory):
    """Everything the database holds: the SQLite files (with -wal and -shm), or a pg_dump."""
    if database.engine == "sqlite":
        data = b""
        for name in os.listdir(directory):
            if name.startswith("attack.sqlite"):
                with open(os.path.join(directory, name), "rb") as f:
                    data += f.read()
        return data
    return subprocess.run(["pg_dump", "--data-only", database.psql_url], check=True, capture_output=True).stdout


def hits(secrets, data, where):
    return [f"{label} found in {where}" for label, secret in secrets.items() if secret and secret.encode() in data]


@pytest.mark.parametrize("engine", ENGINES)
def test_no_secret_in_the_database_or_the_log(engine, tmp_path):
    metrics_token = "metrics-" + uuid.uuid4().hex
    database = prepare(Database(engine, str(tmp_path)))
    log_path = str(tmp_path / "server.log")
    # The most talkative log there is.
    server = Server(database, log_path, env={"PATRON_LOG_LEVEL": "trace", "PATRON_METRICS_TOKEN": metrics_token})
    secrets = {"admin password": ADMIN[1], "metrics token": metrics_token}
    try:
        server.start()
        port = server.port
        status, _, session = request(port, "POST", "/v1/sessions", {"email": ADMIN[0], "password": ADMIN[1]}, key="login-1")
        assert status == 201, session
        admin = session["token"]
        secrets["admin session"] = admin
        # A wrong password is a secret too (it is often the right one mistyped).
        wrong = "Wr0ng-" + uuid.uuid4().hex
        secrets["wrong password"] = wrong
        assert request(port, "POST", "/v1/sessions", {"email": ADMIN[0], "password": wrong})[0] == 401
        status, _, customer = request(port, "POST", "/v1/customers", {"firstName": "Ann", "emails": ["ann@example.com"]}, token=admin)
        assert status == 201, customer
        member_password = "member-" + uuid.uuid4().hex
        secrets["member password"] = member_password
        status, _, login = request(port, "POST", "/v1/member-logins",
                                   {"customerId": customer["id"], "email": "ann@example.com", "password": member_password}, token=admin, key="ml-1")
        assert status == 201, login
        status, _, member = request(port, "POST", "/v1/sessions", {"email": "ann@example.com", "password": member_password})
        assert status == 201, member
        secrets["member session"] = member["token"]
        status, _, partner = request(port, "PUT", "/v1/partners/CAFE", {
            "name": "Cafe", "outlets": ["CAFE-1"], "currency": "USD", "pricePerThousandPoints": 100, "payoutPerVoucher": 100}, token=admin)
        assert status < 300, partner
        body = {"name": "till", "partner": "CAFE", "scopes": ["transactions:write"]}
        status, _, created = request(port, "POST", "/v1/api-keys", body, token=admin, key="key-1")
        assert status == 201, created
        secrets["API key"] = created["key"]
        # The same key again: the secret is not stored to be replayed.
        status, _, again = request(port, "POST", "/v1/api-keys", body, token=admin, key="key-1")
        assert "key" not in (again or {}) or again["key"] != created["key"], again
        assert request(port, "GET", "/v1/customers?q=ann", token=created["key"])[0] in (200, 403)
        assert request(port, "GET", "/metrics", token=metrics_token)[0] == 200
        assert request(port, "GET", "/metrics", token=admin)[0] == 200
        if engine == "postgres" and CAN_STOP_PG:
            # Requests failing while the database is away carry credentials and a password.
            subprocess.run(os.environ["PATRON_TEST_PG_STOP"], shell=True, check=True, capture_output=True)
            try:
                assert request(port, "GET", "/v1/customers", token=admin)[0] == 503
                assert request(port, "POST", "/v1/sessions", {"email": ADMIN[0], "password": ADMIN[1]})[0] >= 500
            finally:
                subprocess.run(os.environ["PATRON_TEST_PG_START"], shell=True, check=True, capture_output=True)
    finally:
        server.stop()
    try:
        with open(log_path, "rb") as f:
            log = f.read()
        assert b"request" in log or len(log) > 0, "the server logged nothing at trace level"
        found = hits(secrets, database_bytes(database, str(tmp_path)), f"the {engine} database") + hits(secrets, log, "the server log")
        assert not found, found
    finally:
        database.drop()


def test_nothing_the_other_attacks_left_holds_their_passwords(tmp_path_factory):
    """Every database file and log the attack tests of this run left in pytest's temporary
    directory, grepped for the passwords they signed in with."""
    base = tmp_path_factory.getbasetemp()
    secrets = {"attack admin password": ADMIN[1], "demo password": "northwind-demo"}
    found, scanned = [], 0
    for folder, _, files in os.walk(base):
        for name in files:
            if name.endswith((".log", ".txt")) or ".sqlite" in name:
                path = os.path.join(folder, name)
                with open(path, "rb") as f:
                    data = f.read()
                scanned += 1
                found += hits(secrets, data, os.path.relpath(path, base))
    # schemathesis' own reports quote the requests it sent, passwords in bodies included: only
    # what Patron wrote counts.
    found = [f for f in found if "schemathesis-" not in f]
    assert not found, found
