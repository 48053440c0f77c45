#!/usr/bin/env python3
"""A counting fake of the Telegram Bot API for the console test.

Answers every POST like Telegram ({"ok": true, "result": {...}}) and records it;
GET /sent returns what was received as JSON: [{"method", "body"}, ...].
Usage: python3 Tests/UI/fake_network.py PORT
"""
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()
received = []


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def reply(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        method = self.path.rsplit("/", 1)[-1]
        with lock:
            received.append({"method": method, "body": body})
            n = len(received)
        self.reply(200, {"ok": True, "result": {"message_id": n, "date": 1700000000, "chat": {"id": 1}}})

    def do_GET(self):
        if self.path.startswith("/sent"):
            with lock:
                self.reply(200, list(received))
        else:
            self.reply(404, {"ok": False})

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    port = int(sys.argv[1])
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(f"fake network on http://127.0.0.1:{port}", flush=True)
    server.serve_forever()
