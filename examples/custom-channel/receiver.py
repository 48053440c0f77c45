#!/usr/bin/env python3
"""Receive agent replies from an Omnichat custom channel (contract v1).

An HTTP server for the channel's `webhook_url`: verifies each request's
timestamp and signature over the raw body, drops repeated event ids, prints
the message and answers 200 {"id": ...}. Standard library only.

  python3 receiver.py --secret "$ACME_SECRET"                 # http://127.0.0.1:8090/omnichat
  python3 receiver.py --secret "$ACME_SECRET" --port 9000 --path /hooks/omnichat

--fail-with 503 answers every request with that status instead, to watch
Omnichat retry (429/5xx) or fail the message (other 4xx).
"""
import argparse
import hashlib
import hmac
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_SKEW_SECONDS = 300


def expected_signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii", "replace") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp, signature, body: bytes, now: float):
    """None when the request is authentic, else the reason (never the expected value)."""
    if timestamp is None:
        return "missing X-Omnichat-Timestamp header"
    if signature is None:
        return "missing X-Omnichat-Signature header"
    if not timestamp.isdigit():
        return "X-Omnichat-Timestamp must be whole seconds"
    distance = abs(int(now) - int(timestamp))
    if distance > MAX_SKEW_SECONDS:
        return f"timestamp is {distance} s away from now"
    if not hmac.compare_digest(signature.strip().lower(), expected_signature(secret, timestamp, body)):
        return "wrong X-Omnichat-Signature header"
    return None


class Receiver(BaseHTTPRequestHandler):
    secret = ""
    path_expected = "/omnichat"
    fail_with = None
    seen = set()
    lock = threading.Lock()
    counter = 0

    def answer(self, status: int, obj) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if status == 429:
            self.send_header("Retry-After", "5")
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)  # the raw bytes: verify these, not a re-encoding
        if self.path != self.path_expected:
            self.answer(404, {"error": {"code": "not_found", "message": f"no endpoint {self.path}"}})
            return
        problem = verify(
            self.secret, self.headers.get("X-Omnichat-Timestamp"), self.headers.get("X-Omnichat-Signature"), body, time.time()
        )
        if problem:
            print(f"refused: {problem}", flush=True)
            self.answer(401, {"error": {"code": "bad_signature", "message": problem}})
            return
        try:
            event = json.loads(body)
            event_id = event["event_id"]
        except (ValueError, KeyError, TypeError):
            self.answer(400, {"error": {"code": "bad_request", "message": "not a v1 outbound message"}})
            return
        if self.fail_with:
            print(f"answering {self.fail_with} to {event_id} (--fail-with)", flush=True)
            self.answer(self.fail_with, {"error": {"code": "test", "message": f"receiver told to answer {self.fail_with}"}})
            return
        with self.lock:
            duplicate = event_id in self.seen
            self.seen.add(event_id)
            Receiver.counter += 1
            our_id = f"rcv-{Receiver.counter}"
        if duplicate:
            print(f"duplicate {event_id}: already shown", flush=True)
        else:
            show(event)
        self.answer(200, {"id": our_id})

    def log_message(self, *args) -> None:
        pass


def show(event) -> None:
    message = event.get("message", {})
    sender = event.get("sender", {}).get("name") or event.get("sender", {}).get("type", "?")
    user = event.get("user", {}).get("id")
    line = f"[{event.get('channel')}] {sender} -> {user}: ({message.get('type')})"
    for key in ("text", "url", "file_name", "payload"):
        if key in message:
            line += f" {key}={message[key]!r}"
    if "location" in message:
        line += f" location={message['location']}"
    if "contact" in message:
        line += f" contact={message['contact']}"
    if message.get("quick_replies"):
        line += " buttons=" + ", ".join(f"{q['title']}[{q['payload']}]" for q in message["quick_replies"])
    print(line, flush=True)
    print(f"    event_id={event.get('event_id')} sent_at={event.get('sent_at')}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--secret", required=True, help="the channel's secret")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--path", default="/omnichat", help="the path of webhook_url (default: /omnichat)")
    parser.add_argument("--fail-with", type=int, help="answer every request with this status")
    args = parser.parse_args()
    Receiver.secret = args.secret
    Receiver.path_expected = args.path
    Receiver.fail_with = args.fail_with
    server = ThreadingHTTPServer((args.host, args.port), Receiver)
    print(f"receiving Omnichat replies on http://{args.host}:{args.port}{args.path}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
