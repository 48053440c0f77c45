#!/usr/bin/env python3
"""A local fake of Telegram's Bot API, for the README walk-through.

Answers sends the way the Bot API does ({"ok": true, "result": {"message_id": N}})
and prints what it received. It also serves what the daemon fetches:
- getFile gives a file_path, and GET /file/bot<token>/<path> the file (a small
  PNG), so a customer's photo shows in the console;
- getUserProfilePhotos gives one photo, so customers have a profile picture.
Usage: python3 scripts/fake-network.py [PORT]   (default 8081)
"""
import json
import struct
import sys
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

counter = 0

def solid_png(width, height, rgb):
    """A one-colour PNG, written out chunk by chunk."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


# A 64x64 orange square (the console's brand colour family).
PNG = solid_png(64, 64, (0xE8, 0x6A, 0x1C))


class Handler(BaseHTTPRequestHandler):
    def reply(self, status, body, content_type="application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        global counter
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        counter += 1
        # The path holds the bot token: print only the method name.
        method = self.path.rsplit("/", 1)[-1]
        try:
            parsed = json.loads(body)
            shown = json.dumps(parsed, ensure_ascii=False)
        except ValueError:
            parsed, shown = {}, body.decode("utf-8", "replace")
        print(f"fake network: {method} {shown}", flush=True)
        if method == "getFile":
            file_id = parsed.get("file_id", "file") if isinstance(parsed, dict) else "file"
            safe = "".join(c for c in str(file_id) if c.isalnum() or c in "-_")[:64] or "file"
            self.reply(200, {"ok": True, "result": {"file_id": file_id, "file_unique_id": safe,
                                                    "file_size": len(PNG), "file_path": f"photos/{safe}.png"}})
        elif method == "getUserProfilePhotos":
            self.reply(200, {"ok": True, "result": {"total_count": 1, "photos": [[
                {"file_id": "profile-photo", "file_unique_id": "profile", "width": 160, "height": 160}]]}})
        else:
            self.reply(200, {"ok": True, "result": {"message_id": counter}})

    def do_GET(self):
        # GET /file/bot<token>/<file_path>: the file getFile pointed at.
        if self.path.startswith("/file/bot") and self.path.endswith(".png"):
            print(f"fake network: file {self.path.rsplit('/', 1)[-1]}", flush=True)
            self.reply(200, PNG, "image/png")
        else:
            self.reply(404, {"ok": False, "error_code": 404, "description": "Not Found"})

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8081
    print(f"fake network API on http://127.0.0.1:{port}", flush=True)
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
