#!/usr/bin/env python3
"""A local fake of a network's send API, for the README walk-through.

Answers every POST the way Telegram's Bot API does
({"ok": true, "result": {"message_id": N}}) and prints what it received.
Usage: python3 scripts/fake-network.py [PORT]   (default 8081)
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

counter = 0


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        global counter
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        counter += 1
        # The path holds the bot token: print only the method name.
        method = self.path.rsplit("/", 1)[-1]
        try:
            shown = json.dumps(json.loads(body), ensure_ascii=False)
        except ValueError:
            shown = body.decode("utf-8", "replace")
        print(f"fake network: {method} {shown}", flush=True)
        reply = json.dumps({"ok": True, "result": {"message_id": counter}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8081
    print(f"fake network API on http://127.0.0.1:{port}", flush=True)
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
