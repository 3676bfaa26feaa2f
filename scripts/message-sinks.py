#!/usr/bin/env python3
"""A real SMTP server (aiosmtpd) and an SMS gateway stand-in (http.server) for the campaign tests.

Prints "SMTP_PORT HTTP_PORT" once both listen, then appends every message it receives to
OUT/mail.jsonl or OUT/sms.jsonl, one JSON object a line. A recipient address containing
"bounce" is refused with 550; an SMS to a number ending in 0000 gets a 400 (an invalid number).
Runs until stdin closes (the test process ended).
"""
import json, socket, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from aiosmtpd.controller import Controller

out = sys.argv[1]
lock = threading.Lock()


def append(name, record):
    with lock, open(f"{out}/{name}", "a") as f:
        f.write(json.dumps(record) + "\n")


class Mailbox:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if "bounce" in address:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        append("mail.jsonl", {"from": envelope.mail_from, "to": envelope.rcpt_tos,
                              "data": envelope.original_content.decode("utf-8", "replace")})
        return "250 Message accepted for delivery"


class Gateway(BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        body["idempotency_key"] = self.headers.get("Idempotency-Key")
        body["authorization"] = self.headers.get("Authorization")
        if body.get("to", "").endswith("0000"):
            self.send_response(400)
            self.end_headers()
            self.wfile.write(b'{"error":"invalid number"}')
            return
        append("sms.jsonl", body)
        self.send_response(202)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"status":"queued"}')

    def log_message(self, *args):
        pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


smtp_port = free_port()
controller = Controller(Mailbox(), hostname="127.0.0.1", port=smtp_port)
controller.start()
http = ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
threading.Thread(target=http.serve_forever, daemon=True).start()
print(smtp_port, http.server_address[1], flush=True)
sys.stdin.read()
controller.stop()
