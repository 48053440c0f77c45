"""The send APIs of every network at once, for the cluster test (stdlib only).

One HTTP server stands in for Telegram's Bot API, Messenger's and WhatsApp's
Graph API, LINE's Messaging API and a custom channel's receiver. Every send is
recorded with the identity a network could deduplicate on, so the cluster test
can count how often each agent reply reached the network:

| network   | send call                           | identity                       | on a repeat           |
|-----------|-------------------------------------|--------------------------------|-----------------------|
| telegram  | POST .../bot<token>/sendMessage     | none (the reply text)          | accepted again        |
| messenger | POST .../me/messages                | none (the reply text)          | accepted again        |
| whatsapp  | POST .../<phone number id>/messages | none (the reply text)          | accepted again        |
| line      | POST /v2/bot/message/push           | X-Line-Retry-Key               | 409 + accepted id     |
| custom    | POST /hook                          | body event_id                  | 200, dropped          |

"fresh" means the network took it as a new message: always for the first
three, once per identity for LINE (as LINE does) and the custom channel (as
integrators are told to).

Stall: `stall(seconds)` holds every send that arrives for that long before
the network "processes" it; when the sender has gone away meanwhile (its
connection closed: the daemon was SIGKILLed), the request is dropped without
being recorded, as if it never reached the network. That lets the test kill a
daemon while it holds outbox leases with calls in flight, without turning the
kill into a delivery the network saw.
"""
import json
import socket
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeNetworks:
    def __init__(self):
        self.lock = threading.Lock()
        self.calls = []          # every recorded send: dict(network, path, identity, text, fresh, at)
        self.other = []          # anything else (GETs, unknown paths)
        self.keys = {"line": set(), "custom": set()}
        self.stall_seconds = 0.0
        self.dropped = 0         # stalled sends whose sender was gone when the stall ended
        self.stalled = 0
        self.server = None
        self.port = None

    # -- control -----------------------------------------------------------
    def stall(self, seconds):
        with self.lock:
            self.stall_seconds = float(seconds)

    def start(self, port=0):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def send_json(self, status, obj, headers=()):
                data = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers:
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def read_body(self):
                if (self.headers.get("Transfer-Encoding") or "").lower() == "chunked":
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().strip().split(b";")[0], 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            break
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                    return b"".join(chunks)
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def peer_gone(self):
                sock = self.connection
                try:
                    sock.setblocking(False)
                    try:
                        return sock.recv(1, socket.MSG_PEEK) == b""
                    except (BlockingIOError, InterruptedError):
                        return False
                    except OSError:
                        return True
                finally:
                    try:
                        sock.setblocking(True)
                        sock.settimeout(self.timeout)
                    except OSError:
                        pass

            def do_GET(self):
                with fake.lock:
                    fake.other.append({"method": "GET", "path": self.path, "at": time.time()})
                # Profile look-ups and the like.
                self.send_json(200, {"displayName": "Lin", "first_name": "Mo", "name": "Mo", "ok": True})

            def do_POST(self):
                raw = self.read_body()
                with fake.lock:
                    stall = fake.stall_seconds
                if stall > 0:
                    with fake.lock:
                        fake.stalled += 1
                    time.sleep(stall)
                    if self.peer_gone():
                        with fake.lock:
                            fake.dropped += 1
                        self.close_connection = True
                        return
                try:
                    body = json.loads(raw) if raw else {}
                except ValueError:
                    body = {}
                if not isinstance(body, dict):
                    body = {}
                path = urllib.parse.urlsplit(self.path).path
                network, identity, text = fake.classify(path, body, self.headers)
                if network is None:
                    with fake.lock:
                        fake.other.append({"method": "POST", "path": path, "at": time.time()})
                    self.send_json(200, {"ok": True, "result": True})
                    return
                with fake.lock:
                    if network in fake.keys and identity is not None:
                        fresh = identity not in fake.keys[network]
                        fake.keys[network].add(identity)
                    else:
                        fresh = True
                    n = len(fake.calls) + 1
                    fake.calls.append({"network": network, "path": path, "identity": identity, "text": text,
                                       "fresh": fresh, "at": time.time()})
                if network == "telegram":
                    self.send_json(200, {"ok": True, "result": {"message_id": n, "date": int(time.time()), "chat": {"id": 1}}})
                elif network == "messenger":
                    self.send_json(200, {"recipient_id": "U", "message_id": f"m_out_{n}"})
                elif network == "whatsapp":
                    self.send_json(200, {"messaging_product": "whatsapp", "contacts": [{"input": "1", "wa_id": "1"}],
                                         "messages": [{"id": f"wamid.out{n}"}]})
                elif network == "line":
                    if fresh:
                        self.send_json(200, {"sentMessages": [{"id": str(n), "quoteToken": "q"}]})
                    else:
                        self.send_json(409, {"message": "The retry key is already accepted"},
                                       headers=[("x-line-accepted-request-id", f"req-{n}")])
                else:
                    self.send_json(200, {"id": f"cust-out-{n}"})

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, name="fake-networks", daemon=True).start()
        return self.port

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()

    # -- reading -----------------------------------------------------------
    @staticmethod
    def classify(path, body, headers):
        """(network, identity, reply text) of a send call; network None when it is not one."""
        if path == "/hook":
            message = body.get("message") if isinstance(body.get("message"), dict) else {}
            return "custom", body.get("event_id"), message.get("text")
        if path.startswith("/v2/bot/message/"):
            messages = body.get("messages") if isinstance(body.get("messages"), list) else []
            text = messages[0].get("text") if messages and isinstance(messages[0], dict) else None
            return "line", headers.get("X-Line-Retry-Key"), text
        if path.endswith("/sendMessage"):
            return "telegram", None, body.get("text")
        if path.endswith("/me/messages"):
            message = body.get("message") if isinstance(body.get("message"), dict) else {}
            return "messenger", None, message.get("text")
        if path.endswith("/messages"):
            text = body.get("text") if isinstance(body.get("text"), dict) else {}
            return "whatsapp", None, text.get("body")
        return None, None, None

    def snapshot(self):
        with self.lock:
            return list(self.calls), list(self.other), self.dropped, self.stalled
