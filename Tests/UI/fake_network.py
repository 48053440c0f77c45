#!/usr/bin/env python3
"""A counting fake of the Telegram Bot API for the console test.

Answers every POST like Telegram ({"ok": true, "result": {...}}) and records it;
GET /sent returns what was received as JSON: [{"method", "body"}, ...].

Also, for the media and failure checks:
- POST .../getFile answers a file_path; GET /file/bot<token>/<path> serves a
  small PNG (image/png) for any path ending in .png, else 404.
- POST /control {"fail_text": "...", "status": 403, "answer": {...}} makes every
  send whose text is fail_text answer that status and body (recorded all the
  same); {"fail_text": null} ends it. /control itself is not recorded.
Usage: python3 Tests/UI/fake_network.py PORT
"""
import json
import struct
import sys
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()
received = []
failure = {"fail_text": None, "status": 403, "answer": None}


def png(width=160, height=100, rgb=(29, 78, 216)):
    """A solid-colour RGB PNG, built by hand."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    row = b"\x00" + bytes(rgb) * width
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(row * height)) + chunk(b"IEND", b""))


PNG = png()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def send_bytes(self, status, data, content_type):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def reply(self, status, obj):
        self.send_bytes(status, json.dumps(obj).encode(), "application/json")

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        if self.path == "/control":
            with lock:
                failure.update(body or {})
            self.reply(200, {"ok": True, "control": failure})
            return
        method = self.path.rsplit("/", 1)[-1]
        if method == "getUserProfilePhotos":
            # The daemon's profile-picture lookup on a new session: none here, not recorded.
            self.reply(200, {"ok": True, "result": {"total_count": 0, "photos": []}})
            return
        with lock:
            received.append({"method": method, "body": body})
            n = len(received)
            fail = failure["fail_text"] is not None and isinstance(body, dict) and body.get("text") == failure["fail_text"]
            status, answer = failure["status"], failure["answer"]
        if fail:
            self.reply(status, answer or {"ok": False, "error_code": status, "description": "failed"})
        elif method == "getFile":
            file_id = body.get("file_id", "x") if isinstance(body, dict) else "x"
            self.reply(200, {"ok": True, "result": {"file_id": file_id, "file_unique_id": file_id,
                                                    "file_size": len(PNG), "file_path": f"photos/{file_id}.png"}})
        else:
            self.reply(200, {"ok": True, "result": {"message_id": n, "date": 1700000000, "chat": {"id": 1}}})

    def do_GET(self):
        if self.path.startswith("/sent"):
            with lock:
                self.reply(200, list(received))
        elif self.path.startswith("/file/bot") and self.path.endswith(".png"):
            with lock:
                received.append({"method": "file", "body": self.path})
            self.send_bytes(200, PNG, "image/png")
        else:
            self.reply(404, {"ok": False})

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    port = int(sys.argv[1])
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(f"fake network on http://127.0.0.1:{port}", flush=True)
    server.serve_forever()
