#!/usr/bin/env python3
"""Drives purchases and redemptions at a running `patron serve`, runs a kill command part-way
through, and checks afterwards that nothing acknowledged was lost and nothing applied twice.

Used by scripts/ha-failover.sh (see docs/scaling.md). Every operation carries its own key (a
purchase its transactionId, a redemption its Idempotency-Key and reference); one the server did
not acknowledge (a 5xx, a dropped connection) is sent again with the same key until it is, as a
till or an app would. Acknowledged means a 2xx answer reached the client.

    ha-drive.py --url http://127.0.0.1:8080 --email E --password P --kill "kill -9 …" \
        --psql "postgres://…?target_session_attrs=read-write"
Prints a JSON object as its last line; exits 1 when a check fails.
"""
import argparse
import http.client
import json
import random
import subprocess
import sys
import threading
import time
import urllib.parse


class Client:
    def __init__(self, base, token=None):
        u = urllib.parse.urlparse(base)
        self.host, self.port = u.hostname, u.port
        self.token = token
        self.conn = None

    def call(self, method, path, body=None, key=None, timeout=10):
        """(status, parsed body) or (None, error text) when no answer came back."""
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        if key:
            headers["Idempotency-Key"] = key
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
            self.conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
            r = self.conn.getresponse()
            data = r.read()
            try:
                parsed = json.loads(data) if data else None
            except ValueError:
                parsed = data.decode(errors="replace")
            return r.status, parsed
        except Exception as e:  # a dropped connection: the next call opens a new one
            try:
                self.conn.close()
            except Exception:
                pass
            self.conn = None
            return None, repr(e)


def must(result, what):
    status, body = result
    if status is None or status >= 300:
        sys.exit(f"set-up failed: {what}: {status} {body}")
    return body


def psql(url, sql):
    out = subprocess.run(["psql", "-d", url, "-qAt", "-F", "\t", "-c", sql], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"psql failed: {out.stderr}")
    return [line.split("\t") for line in out.stdout.splitlines() if line]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--email", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--kill", required=True, help="shell command that kills the primary")
    p.add_argument("--psql", required=True, help="URL of the database for the checks (libpq syntax)")
    p.add_argument("--members", type=int, default=40)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--before", type=float, default=5, help="seconds of load before the kill")
    p.add_argument("--after", type=float, default=8, help="seconds of load after writes resume")
    p.add_argument("--give-up", type=float, default=60, help="fail when writes have not resumed this long after the kill")
    args = p.parse_args()

    session = must(Client(args.url).call("POST", "/v1/sessions", {"email": args.email, "password": args.password}), "sign in")
    api = Client(args.url, session["token"])
    code = "HA" + "".join(random.choice("ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(6))
    program = must(api.call("POST", "/v1/programs", {
        "code": code, "name": "Failover drill", "valuePerThousandPoints": {"amount": 1000, "currency": "USD"},
        "earningRules": {"pointsPerUnit": 1}}), "create program")
    members = []
    for n in range(args.members):
        customer = must(api.call("POST", "/v1/customers", {"firstName": "Drill", "lastName": f"Member {n}",
                                                          "email": f"drill-{code.lower()}-{n}@ha.example"}), "create customer")
        member = must(api.call("POST", f"/v1/programs/{program['id']}/members", {"customerId": customer["id"]}), "enrol")
        must(api.call("POST", f"/v1/members/{member['id']}/adjustments", {"points": 100000, "reason": "drill opening balance"},
                      key=f"{code}-open-{n}"), "opening balance")
        members.append((customer["id"], member["id"]))

    lock = threading.Lock()
    acked = []          # (kind, key, member id, time acknowledged)
    refused = []        # definitive 4xx answers
    stop = threading.Event()
    kill_at = [None]
    sent = [0]
    retries = {}        # the answers that made a client send again, by status ("none": no answer)
    first_ok_after = {}  # per status: seconds after the kill of the last such answer
    occurred = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

    def worker(w):
        client = Client(args.url, session["token"])
        n = 0
        while not stop.is_set():
            n += 1
            customer_id, member_id = members[(w * 7919 + n) % len(members)]
            if n % 3 == 0:
                kind, key = "redemption", f"{code}-r-{w}-{n}"
                path, body = f"/v1/members/{member_id}/redemptions", {"points": 10, "reference": key}
            else:
                kind, key = "purchase", f"{code}-p-{w}-{n}"
                path, body = "/v1/transactions", {"transactionId": key, "customerId": customer_id, "occurredAt": occurred,
                                                   "amount": 1000 + n % 500, "currency": "USD", "channel": "store"}
            # Until acknowledged or refused, with the same key; a client gives up only when the drill ends.
            while True:
                with lock:
                    sent[0] += 1
                status, answer = client.call("POST", path, body, key=key)
                if status is not None and status < 300:
                    with lock:
                        acked.append((kind, key, member_id, time.time()))
                    break
                # 409 under a key whose first try is still running (or was cut off mid-way and its
                # claim not yet expired) is answered "in progress": send it again.
                in_progress = status == 409 and isinstance(answer, dict) and answer.get("code") == "idempotency_in_progress"
                if status is not None and 400 <= status < 500 and status not in (408, 429) and not in_progress:
                    with lock:
                        refused.append((kind, key, status, answer))
                    break
                with lock:
                    label = str(status) if status is not None else "none"
                    retries[label] = retries.get(label, 0) + 1
                    if kill_at[0] is not None:
                        first_ok_after[label] = round(time.time() - kill_at[0], 2)
                if stop.is_set() and kill_at[0] is not None and time.time() - kill_at[0] > args.give_up:
                    break
                time.sleep(0.05)

    threads = [threading.Thread(target=worker, args=(w,), daemon=True) for w in range(args.clients)]
    for t in threads:
        t.start()
    time.sleep(args.before)
    with lock:
        before_kill = len(acked)
    kill_at[0] = time.time()
    subprocess.run(args.kill, shell=True, check=True)
    print(f"killed the primary after {before_kill} acknowledged operations", file=sys.stderr)
    resumed = None
    while time.time() - kill_at[0] < args.give_up:
        with lock:
            after = [t for (_, _, _, t) in acked if t > kill_at[0] + 0.001]
        if after:
            resumed = min(after)
            break
        time.sleep(0.05)
    if resumed is not None:
        time.sleep(args.after)
    stop.set()
    for t in threads:
        t.join(timeout=args.give_up)

    # The checks, on whichever server is the primary now.
    purchases = {k for (kind, k, _, _) in acked if kind == "purchase"}
    redemptions = {k for (kind, k, _, _) in acked if kind == "redemption"}
    stored_purchases = {row[0]: int(row[1]) for row in psql(
        args.psql, f"SELECT external_id, count(*) FROM transactions WHERE external_id LIKE '{code}-p-%' GROUP BY external_id")}
    stored_redemptions = {row[0]: int(row[1]) for row in psql(
        args.psql, f"SELECT reference, count(*) FROM ledger_transfers WHERE reference LIKE '{code}-r-%' GROUP BY reference")}
    # A purchase earns once into each of the member's accounts (reward and qualifying points).
    earned = {f"{row[0]} to account {row[1]}": int(row[2]) for row in psql(
        args.psql, f"SELECT reference, to_account, count(*) FROM ledger_transfers WHERE reference LIKE '{code}-p-%' "
                   "AND reason = 'accrual' GROUP BY reference, to_account")}
    lost_purchases = sorted(purchases - stored_purchases.keys())
    lost_redemptions = sorted(redemptions - stored_redemptions.keys())
    twice = sorted(k for k, c in list(stored_purchases.items()) + list(stored_redemptions.items()) + list(earned.items()) if c > 1)
    # The time without writes: from the last acknowledgement before the kill (or the kill, for
    # answers still in flight) to the first one after the database came back.
    times = sorted(t for (_, _, _, t) in acked if t > kill_at[0] - 1)
    gaps = [b - a for a, b in zip(times, times[1:])]
    result = {
        "acknowledged": len(acked), "purchases": len(purchases), "redemptions": len(redemptions), "refused": len(refused),
        "requests_sent": sent[0], "acknowledged_before_kill": before_kill,
        "lost": len(lost_purchases) + len(lost_redemptions), "applied_twice": len(twice),
        "no_write_seconds": round(max(gaps), 2) if resumed and gaps else None,
        "retried": retries, "last_retry_after_kill_seconds": first_ok_after,
    }
    for kind, key, status, answer in refused[:5]:
        print(f"refused {kind} {key}: {status} {answer}", file=sys.stderr)
    for key in (lost_purchases + lost_redemptions)[:10]:
        print(f"LOST: {key} was acknowledged but is not on the primary", file=sys.stderr)
    for key in twice[:10]:
        print(f"TWICE: {key} applied more than once", file=sys.stderr)
    print(json.dumps(result))
    ok = resumed is not None and result["lost"] == 0 and result["applied_twice"] == 0 and not refused and len(acked) > before_kill
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
