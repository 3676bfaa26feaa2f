"""Background jobs with several servers on one database: each due job runs once per due time,
whichever server gets it; a web-only server runs none, a worker runs them all; `patron jobs list`
says what ran. On SQLite and PostgreSQL."""
import os
import time

import pytest

from harness import Database, Server, patron, prepare, request

ENGINES = ["sqlite"] + (["postgres"] if os.environ.get("PATRON_TEST_POSTGRES_URL") else [])
LONG = os.environ.get("PATRON_ATTACK_LONG") == "1"


def rows(database, sql):
    if database.engine == "sqlite":
        import sqlite3
        con = sqlite3.connect(database.url, timeout=30)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()
    import subprocess
    out = subprocess.run(["psql", database.psql_url, "-Atqc", sql], check=True, capture_output=True, text=True).stdout.strip()
    return [tuple(line.split("|")) for line in out.splitlines() if line]


@pytest.mark.parametrize("engine", ENGINES)
def test_two_servers_run_each_due_job_once(engine, tmp_path):
    database = prepare(Database(engine, str(tmp_path)))
    servers = [Server(database, str(tmp_path / f"server-{i}.log")) for i in range(2)]
    try:
        for s in servers:
            s.start()
        # Expiry and the campaign job are due at once; the campaign job again every minute.
        wait = 130 if LONG else 8
        deadline = time.time() + wait
        while time.time() < deadline:
            time.sleep(1)
        runs = rows(database, "SELECT job, due_at, attempt, outcome, holder FROM job_runs ORDER BY id")
        assert runs, "no job ran"
        per_due = {}
        for job, due, attempt, outcome, holder in runs:
            per_due.setdefault((job, str(due)), []).append((outcome, holder))
        twice = {k: v for k, v in per_due.items() if sum(1 for o, _ in v if o == "succeeded") != 1 and all(o != "running" for o, _ in v)}
        assert not twice, f"runs per due time: {twice}"
        assert {job for job, _ in per_due} >= {"expiry", "campaigns"}
        for s in servers:
            with open(s.log_path) as log:
                text = log.read()
            assert "job claim failed" not in text and "job outcome not recorded" not in text, text[-3000:]
        listed = patron("jobs", "list", "--database", database.url).stdout
        for job in ["expiry", "sla-alerts", "campaigns", "scoring", "segments", "tier-review", "settlements", "partitions"]:
            assert job in listed, listed
        assert "succeeded" in listed and "hourly" in listed and "daily at 02:00 UTC" in listed, listed
    finally:
        for s in servers:
            s.stop()
        database.drop()


@pytest.mark.parametrize("engine", ENGINES[:1])
def test_web_role_runs_no_job_and_worker_runs_them(engine, tmp_path):
    database = prepare(Database(engine, str(tmp_path)))
    web = Server(database, str(tmp_path / "web.log"), args=["--role", "web"])
    try:
        web.start()
        time.sleep(4)
        assert rows(database, "SELECT COUNT(*) FROM job_runs")[0][0] in (0, "0"), "a web-only server ran a job"
        assert request(web.port, "GET", "/health")[0] == 200
        worker = patron("jobs", "run", "expiry", "--database", database.url)
        assert worker.returncode == 0 and "expiry: succeeded" in worker.stdout, (worker.stdout, worker.stderr)
        assert rows(database, "SELECT COUNT(*) FROM job_runs WHERE job = 'expiry' AND outcome = 'succeeded'")[0][0] in (1, "1")
    finally:
        web.stop()
        database.drop()
