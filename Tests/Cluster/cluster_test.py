#!/usr/bin/env python3
"""The cluster test (make test-cluster): three omnichatd on one PostgreSQL
database behind nginx, one of them SIGKILLed halfway.

Started by Tests/Cluster/run.sh, which provides PostgreSQL and nginx
(127.0.0.1:18310 -> daemons on 18311, 18312, 18313) and cleans up; this
driver owns the fake networks, the daemons, the traffic and the verdict.

Traffic: customers on five networks (Telegram, Messenger, WhatsApp, LINE,
custom channel) post signed webhooks through nginx, retrying whatever is not
answered 2xx; about one acknowledged webhook in ten is redelivered directly
to another daemon than the one that answered. Agents sign in on different
daemons, reply to their rooms and resolve some. A sampler reads PostgreSQL
every ~100 ms for agent load against capacity. Halfway, the network stalls
for a moment, node2's outbox leases are recorded and node2 is SIGKILLed (and
not restarted).

Invariants (exit 1 when one is broken; the counts are printed either way):
- every webhook is acknowledged; acknowledged unique events = processed_events
  = inbound messages, each customer message stored exactly once;
- a redelivery to another daemon is answered as a duplicate (stored 0);
- no agent above capacity at any sample, load counters equal to the rooms,
  assignee consistent with status;
- every reply answered 201 reaches its network exactly once (the network's
  identity: LINE's X-Line-Retry-Key, the custom channel's event_id, else the
  reply's unique text);
- the rows node2 held leases on when it died are delivered by another node;
- nothing is left pending, nothing failed.
"""
import argparse
import base64
import hashlib
import hmac
import http.client
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse

sys.dont_write_bytecode = True  # no __pycache__ in the tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fake_networks import FakeNetworks  # noqa: E402

NODES = ["node1", "node2", "node3"]
LB = ("127.0.0.1", 18310)
PORTS = [18311, 18312, 18313]
KILLED = 1  # index of node2
CHANNELS = ["telegram", "messenger", "whatsapp", "line", "custom"]
TELEGRAM_SECRET = "cluster-secret"
META_SECRET = "meta-secret"
LINE_SECRET = "line-secret"
CUSTOM_SECRET = "custom-secret"
WA_PHONE = "106540352242922"
ADMIN = ("admin@cluster.test", "admin-password-1")
AGENT_PASSWORD = "agent-password-1"
CAPACITIES = [2, 3, 2, 3, 2, 3]
DEFAULT_CAPACITY = 3


def log(*args):
    print(f"[{time.strftime('%H:%M:%S')}]", *args, flush=True)


# ---------------------------------------------------------------- HTTP -----
def request(host, port, method, path, body=None, headers=None, timeout=8.0):
    """One request on a fresh connection: (status, lower-cased headers, body bytes). Raises on transport errors."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            headers = dict(headers or {}, **{"Content-Type": "application/json"})
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    finally:
        conn.close()


def as_json(data):
    try:
        return json.loads(data)
    except ValueError:
        return {}


# ------------------------------------------------------------ database -----
class DB:
    """Queries the shared database: a persistent psql for PostgreSQL, sqlite3 for the negative control."""

    SEP = "\x1f"

    def __init__(self, url):
        self.url = url
        self.lock = threading.Lock()
        self.postgres = url.startswith(("postgres://", "postgresql://"))
        self.proc = None
        if not self.postgres:
            self.conn = sqlite3.connect(url, timeout=10, check_same_thread=False)

    def _start(self):
        url = self.url.split("?")[0]
        self.proc = subprocess.Popen(
            ["psql", "-X", "-q", "-A", "-t", "-F", self.SEP, "-v", "ON_ERROR_STOP=0", url],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)

    def query(self, sql):
        """Rows as lists of strings; raises RuntimeError with the database's message on error."""
        with self.lock:
            if not self.postgres:
                try:
                    rows = self.conn.execute(sql).fetchall()
                except sqlite3.Error as e:
                    raise RuntimeError(str(e)) from None
                return [["" if v is None else str(v) for v in row] for row in rows]
            if self.proc is None or self.proc.poll() is not None:
                self._start()
            marker = f"__end_{random.getrandbits(48)}__"
            self.proc.stdin.write(sql.strip().rstrip(";") + ";\n\\echo " + marker + "\n")
            self.proc.stdin.flush()
            rows, errors = [], []
            while True:
                line = self.proc.stdout.readline()
                if line == "":
                    raise RuntimeError("psql exited")
                line = line.rstrip("\n")
                if line == marker:
                    break
                if line.startswith(("ERROR:", "psql:", "FATAL:")) or (errors and line.startswith(("LINE ", "HINT:", "DETAIL:", " "))):
                    errors.append(line)
                    continue
                if line == "":
                    continue
                rows.append(line.split(self.SEP))
            if errors:
                raise RuntimeError(" ".join(errors))
            return rows

    def scalar(self, sql):
        rows = self.query(sql)
        return rows[0][0] if rows and rows[0] else None

    def close(self):
        if self.proc and self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=5)


# -------------------------------------------------------------- shared -----
class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.c = {}

    def add(self, key, n=1):
        with self.lock:
            self.c[key] = self.c.get(key, 0) + n

    def get(self, key):
        with self.lock:
            return self.c.get(key, 0)


class Cluster:
    def __init__(self, args):
        self.args = args
        self.stats = Stats()
        self.lock = threading.Lock()
        self.procs = [None, None, None]
        self.dead = set()
        self.kill_time = None
        self.problems = []        # invariant violations (exit 1)
        self.warnings = []
        self.daemon_side = []     # things the daemon did wrong or lacks (also violations)
        self.acked = {}           # event key -> ack info
        self.events_total = 0
        self.event_texts = {}     # event key -> inbound text
        self.rejections = []
        self.redelivery_stored = []
        self.replies = {}         # reply text -> {id, room, channel, node, at}
        self.replies_unknown = set()
        self.reply_refusals = {}
        self.samples = 0
        self.over_capacity = []   # (t, email, load, cap)
        self.counter_mismatch = []
        self.assignee_inconsistent = []
        self.max_load = {}
        self.sample_errors = 0
        self.sse_events = 0
        self.sse_reconnects = 0
        self.leased_at_kill = []  # [(outbox id, message id)]
        self.burst = threading.Event()
        self.stop_agents = threading.Event()
        self.stop_sampler = threading.Event()
        self.abort = threading.Event()
        self.db = DB(args.database)
        self.sample_db = DB(args.database)
        self.fake = FakeNetworks()
        self.tmp = args.tmp
        self.channel_list = ",".join(f"'{c}'" for c in CHANNELS)

    # ---------------------------------------------------------- setup ---
    def write_files(self, net_port):
        base = f"http://127.0.0.1:{net_port}"
        adapters = os.path.join(self.tmp, "adapters.d")
        os.makedirs(adapters, exist_ok=True)
        drop_ins = {
            "telegram": f'kind = "telegram"\ntoken = "123456:cluster-token"\nsecret_token = "{TELEGRAM_SECRET}"\napi_base = "{base}"\n',
            "messenger": f'kind = "messenger"\npage_access_token = "PAGE-TOKEN"\napp_secret = "{META_SECRET}"\n'
                         f'verify_token = "verify-me"\napi_base = "{base}"\n',
            "whatsapp": f'kind = "whatsapp"\naccess_token = "WA-TOKEN"\nphone_number_id = "{WA_PHONE}"\n'
                        f'app_secret = "{META_SECRET}"\nverify_token = "verify-me"\napi_base = "{base}"\n',
            # Always push (reply tokens are single-use and carry no retry key), so every LINE call has X-Line-Retry-Key.
            "line": f'kind = "line"\nchannel_access_token = "LINE-TOKEN"\nchannel_secret = "{LINE_SECRET}"\n'
                    f'api_base = "{base}"\ndata_api_base = "{base}"\nreply_token_lifetime_seconds = 0\n',
            "custom": f'kind = "custom"\nsecret = "{CUSTOM_SECRET}"\nwebhook_url = "{base}/hook"\n',
        }
        for name, text in drop_ins.items():
            with open(os.path.join(adapters, f"{name}.toml"), "w") as f:
                f.write(text)
        self.adapters = adapters
        self.configs = []
        for i, node in enumerate(NODES):
            path = os.path.join(self.tmp, f"{node}.toml")
            text = (
                f'host = "127.0.0.1"\nport = {PORTS[i]}\n'
                f'public_base_url = "http://{LB[0]}:{LB[1]}"\n'
                f'app_id = "omnichat-cluster"\n'
                f'console_dir = "{os.path.join(self.tmp, "no-console")}"\n'
                f"default_max_open_rooms = {DEFAULT_CAPACITY}\n"
                f'log_level = "{self.args.log_level}"\n'
                "shutdown_grace_seconds = 3\n\n"
                "[delivery]\ntimeout_seconds = 5\nbackoff_base_seconds = 0.5\nmax_attempts = 10\n"
            )
            if self.db.postgres:
                text += f"\n[postgres]\noutbox_lease_seconds = {self.args.lease_seconds}\n"
            with open(path, "w") as f:
                f.write(text)
            self.configs.append(path)

    def child_env(self, node=None):
        env = {k: v for k, v in os.environ.items() if not k.startswith("OMNICHAT_")}
        if node:
            env["OMNICHAT_NODE_NAME"] = node
        return env

    def remember_pid(self, pid):
        with open(os.path.join(self.tmp, "pids"), "a") as f:
            f.write(f"{pid}\n")

    def cli(self, args, stdin=""):
        cmd = [self.args.bin] + args + ["--config", self.configs[0], "--adapters", self.adapters, "--database", self.args.database]
        result = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=60, env=self.child_env("node1"))
        return result

    def create_users(self):
        result = self.cli(["users", "add", "--email", ADMIN[0], "--name", "Cluster Admin", "--role", "admin"], ADMIN[1] + "\n")
        if result.returncode != 0:
            self.daemon_side.append(f"`omnichatd users add` (admin) against {self.args.database} exited {result.returncode}: "
                                    f"{(result.stderr or result.stdout).strip()[:600]}")
            return False
        self.agents = []
        for i, cap in enumerate(CAPACITIES):
            email = f"agent{i + 1}@cluster.test"
            result = self.cli(["users", "add", "--email", email, "--name", f"Agent {i + 1}", "--role", "agent",
                               "--max-open-rooms", str(cap)], AGENT_PASSWORD + "\n")
            if result.returncode != 0:
                self.daemon_side.append(f"`omnichatd users add` ({email}) exited {result.returncode}: "
                                        f"{(result.stderr or result.stdout).strip()[:600]}")
                return False
            self.agents.append(Agent(self, i, email, cap))
        log(f"created 1 admin and {len(self.agents)} agents (max open rooms {CAPACITIES}) with the CLI")
        return True

    def start_node(self, i):
        logf = open(os.path.join(self.tmp, f"{NODES[i]}.log"), "ab")
        cmd = [self.args.bin, "serve", "--config", self.configs[i], "--adapters", self.adapters,
               "--database", self.args.database, "--port", str(PORTS[i])]
        proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, env=self.child_env(NODES[i]))
        logf.close()
        self.remember_pid(proc.pid)
        self.procs[i] = proc
        return proc

    def wait_healthy(self, i, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.procs[i].poll() is not None:
                return False
            try:
                status, _, _ = request("127.0.0.1", PORTS[i], "GET", "/healthz", timeout=2)
                if status == 200:
                    return True
            except OSError:
                pass
            time.sleep(0.2)
        return False

    def live_nodes(self):
        return [i for i in range(3) if i not in self.dead]

    def log_tail(self, i, n=12):
        try:
            with open(os.path.join(self.tmp, f"{NODES[i]}.log"), "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
            return "\n".join("    " + line for line in lines[-n:])
        except OSError:
            return "    (no log)"

    # ------------------------------------------------------- webhooks ---
    def build_events(self):
        """customer -> list of events; an event is (key, channel, make-body)."""
        rng = random.Random(self.args.seed)
        customers = []
        n = 0
        run = rng.randrange(10**6)
        for c in range(self.args.customers):
            channel = CHANNELS[c % len(CHANNELS)]
            events = []
            for k in range(self.args.messages):
                n += 1
                text = f"hello from {channel} customer {c} message {k} ({run})"
                events.append({"key": f"{channel}:{n}", "channel": channel, "n": n, "customer": c, "text": text, "body": None})
                self.event_texts[f"{channel}:{n}"] = text
            customers.append(events)
        self.events_total = n
        return customers

    @staticmethod
    def body_of(ev):
        """The network's JSON for an event, built once (at first send) so redeliveries are byte-identical."""
        if ev["body"] is not None:
            return ev["body"]
        now = time.time()
        c, n, text = ev["customer"], ev["n"], ev["text"]
        channel = ev["channel"]
        if channel == "telegram":
            obj = {"update_id": 500000 + n, "message": {
                "message_id": n, "date": int(now), "text": text,
                "chat": {"id": 7000 + c, "type": "private", "first_name": f"C{c}"},
                "from": {"id": 7000 + c, "is_bot": False, "first_name": f"C{c}"}}}
        elif channel == "messenger":
            obj = {"object": "page", "entry": [{"id": "PAGE1", "time": int(now * 1000), "messaging": [{
                "sender": {"id": f"psid{c}"}, "recipient": {"id": "PAGE1"}, "timestamp": int(now * 1000),
                "message": {"mid": f"m_in_cluster_{n}", "text": text}}]}]}
        elif channel == "whatsapp":
            obj = {"object": "whatsapp_business_account", "entry": [{"id": "WABA", "changes": [{"field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "15550783881", "phone_number_id": WA_PHONE},
                "contacts": [{"profile": {"name": f"C{c}"}, "wa_id": f"4915{c:06d}"}],
                "messages": [{"from": f"4915{c:06d}", "id": f"wamid.cluster{n}", "timestamp": str(int(now)),
                              "type": "text", "text": {"body": text}}]}}]}]}
        elif channel == "line":
            obj = {"destination": "Ubot", "events": [{
                "type": "message", "mode": "active", "timestamp": int(now * 1000),
                "source": {"type": "user", "userId": f"U{c:032d}"}, "webhookEventId": f"01CLUSTER{n:08d}",
                "deliveryContext": {"isRedelivery": False}, "replyToken": f"reply-token-{n}",
                "message": {"id": str(900000 + n), "type": "text", "text": text, "quoteToken": "q"}}]}
        else:
            obj = {"event_id": f"evt-cluster-{n}", "user": {"id": f"cust-{c}", "name": f"C{c}"},
                   "message": {"type": "text", "text": text}}
        ev["body"] = json.dumps(obj, separators=(",", ":")).encode()
        return ev["body"]

    @staticmethod
    def signed_headers(channel, body, redelivery=False):
        headers = {"Content-Type": "application/json"}
        if channel == "telegram":
            headers["X-Telegram-Bot-Api-Secret-Token"] = TELEGRAM_SECRET
        elif channel in ("messenger", "whatsapp"):
            headers["X-Hub-Signature-256"] = "sha256=" + hmac.new(META_SECRET.encode(), body, hashlib.sha256).hexdigest()
        elif channel == "line":
            headers["X-Line-Signature"] = base64.b64encode(hmac.new(LINE_SECRET.encode(), body, hashlib.sha256).digest()).decode()
        else:
            ts = str(int(time.time()))
            headers["X-Omnichat-Timestamp"] = ts
            headers["X-Omnichat-Signature"] = "sha256=" + hmac.new(CUSTOM_SECRET.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
        return headers

    def deliver_event(self, ev, rng):
        """Posts through nginx until a 2xx (as networks redeliver); returns the ack or None."""
        deadline = time.time() + 60
        attempt = 0
        path = f"/webhooks/{ev['channel']}"
        while time.time() < deadline and not self.abort.is_set():
            attempt += 1
            body = self.body_of(ev)
            self.stats.add("webhook_posts")
            try:
                status, headers, data = request(*LB, "POST", path, body, self.signed_headers(ev["channel"], body), timeout=10)
            except (OSError, http.client.HTTPException) as e:
                self.stats.add("webhook_transport_errors")
                time.sleep(min(0.2 * 2 ** attempt, 2) * rng.uniform(0.5, 1.0))
                continue
            if 200 <= status < 300:
                answer = as_json(data)
                upstream = headers.get("x-upstream", "")
                if "," in upstream:
                    self.stats.add("webhook_lb_failovers")
                return {"status": status, "stored": answer.get("stored"), "duplicates": answer.get("duplicates"),
                        "upstream": upstream, "attempts": attempt}
            self.stats.add(f"webhook_http_{status}")
            if 400 <= status < 500 and status != 429:
                if attempt >= 3:
                    self.rejections.append(f"{ev['key']}: HTTP {status} {data[:200]!r}")
                    return None
            time.sleep(min(0.2 * 2 ** attempt, 2) * rng.uniform(0.5, 1.0))
        return None

    def redeliver(self, ev, ack):
        """Sends an acknowledged event again, directly to a daemon other than the one that answered."""
        answered = ack["upstream"].split(",")[-1].strip()
        try:
            answered_port = int(answered.rsplit(":", 1)[1])
        except (IndexError, ValueError):
            answered_port = None
        targets = [i for i in self.live_nodes() if PORTS[i] != answered_port]
        random.shuffle(targets)
        for i in targets:
            body = self.body_of(ev)
            try:
                status, _, data = request("127.0.0.1", PORTS[i], "POST", f"/webhooks/{ev['channel']}", body,
                                          self.signed_headers(ev["channel"], body), timeout=10)
            except (OSError, http.client.HTTPException):
                continue
            if status != 200:
                self.stats.add(f"redelivery_http_{status}")
                continue
            answer = as_json(data)
            self.stats.add("redelivered_cross_daemon")
            if answer.get("stored") != 0 or not answer.get("duplicates"):
                self.redelivery_stored.append(f"{ev['key']} acked by {answered} then redelivered to {NODES[i]}: {answer}")
            return

    def customer(self, events, seed):
        rng = random.Random(seed)
        time.sleep(rng.uniform(0, self.args.spread))
        for k, ev in enumerate(events):
            if self.abort.is_set():
                return
            ack = self.deliver_event(ev, rng)
            if ack is not None:
                with self.lock:
                    self.acked[ev["key"]] = ack
                if rng.random() < self.args.redeliver:
                    self.redeliver(ev, ack)
            if k + 1 < len(events):
                time.sleep(rng.uniform(self.args.gap * 0.6, self.args.gap * 1.4))

    # -------------------------------------------------------- sampler ---
    def sampler(self):
        sql = f"""
            SELECT 'a', u.email, COALESCE(u.max_open_rooms, {DEFAULT_CAPACITY}), u.open_rooms,
                   (SELECT count(*) FROM rooms r WHERE r.assignee_id = u.id AND r.status = 'assigned')
              FROM users u WHERE u.role = 'agent'
            UNION ALL
            SELECT 'x', 'assigned_without_agent', 0, 0, count(*) FROM rooms WHERE status = 'assigned' AND assignee_id IS NULL
            UNION ALL
            SELECT 'x', 'queued_with_agent', 0, 0, count(*) FROM rooms WHERE status IN ('waiting', 'bot') AND assignee_id IS NOT NULL
        """
        while not self.stop_sampler.is_set():
            started = time.time()
            try:
                rows = self.sample_db.query(sql)
            except RuntimeError as e:
                self.sample_errors += 1
                if self.sample_errors == 1:
                    self.daemon_side.append(f"sampler query failed: {e}")
                rows = []
            if rows:
                self.samples += 1
            for row in rows:
                if len(row) != 5:
                    continue
                kind, name, cap, counter, load = row[0], row[1], int(row[2]), int(row[3] or 0), int(row[4])
                if kind == "a":
                    self.max_load[name] = max(self.max_load.get(name, 0), load)
                    if load > cap:
                        self.over_capacity.append((round(started, 2), name, load, cap))
                    if counter != load:
                        self.counter_mismatch.append((round(started, 2), name, counter, load))
                elif load:
                    self.assignee_inconsistent.append((round(started, 2), name, load))
            time.sleep(max(0.0, 0.1 - (time.time() - started)))

    # ------------------------------------------------------------ SSE ---
    def sse_watcher(self, token):
        """The admin's live events through nginx (buffering off): counts what arrives; informational."""
        last_id = None
        while not self.stop_agents.is_set():
            conn = http.client.HTTPConnection(*LB, timeout=5)
            idle = False
            try:
                headers = {"Accept": "text/event-stream"}
                if last_id:
                    headers["Last-Event-ID"] = last_id
                conn.request("GET", f"/api/v1/events?access_token={urllib.parse.quote(token)}", headers=headers)
                resp = conn.getresponse()
                if resp.status != 200:
                    self.stats.add(f"sse_http_{resp.status}")
                    time.sleep(1)
                    continue
                while not self.stop_agents.is_set():
                    try:
                        line = resp.readline()
                    except socket.timeout:
                        idle = True  # nothing for 5 s: a timed-out socket cannot be read again, reconnect
                        break
                    if not line:
                        break
                    if line.startswith(b"data:"):
                        self.sse_events += 1
                    elif line.startswith(b"id:"):
                        last_id = line[3:].strip().decode()
            except (OSError, http.client.HTTPException):
                pass
            finally:
                conn.close()
            if not self.stop_agents.is_set():
                if idle:
                    self.stats.add("sse_idle_reconnects")
                else:
                    self.sse_reconnects += 1
                time.sleep(0.3)

    # ----------------------------------------------------------- kill ---
    def kill_node2(self):
        self.fake.stall(self.args.stall)
        stalled_at = time.time()
        self.burst.set()
        time.sleep(0.3)
        sql = ("SELECT id, coalesce(CAST(message_id AS TEXT), '') FROM outbox WHERE lease_owner = 'node2' "
               "AND status NOT IN ('delivered', 'failed') AND lease_until > {now}")
        rows, error = [], None
        # Kill before the first stalled call could be answered (stall seconds after it began).
        while time.time() < stalled_at + self.args.stall - 0.3:
            try:
                rows = self.db.query(sql.format(now=time.time()))
            except RuntimeError as e:
                error = str(e)
                break
            if rows:
                break
            time.sleep(0.05)
        self.procs[KILLED].send_signal(signal.SIGKILL)
        self.kill_time = time.time()
        self.dead.add(KILLED)
        self.procs[KILLED].wait()
        time.sleep(0.1)
        self.fake.stall(0)
        if error:
            self.daemon_side.append(f"cannot read node2's outbox leases (outbox.lease_owner / lease_until): {error}")
        # Message ids are integers (the database gives them as text here, the API as numbers).
        self.leased_at_kill = [(int(r[0]), int(r[1]) if r[1] else None) for r in rows if r and r[0]]
        log(f"SIGKILLed node2 (pid {self.procs[KILLED].pid}) holding {len(self.leased_at_kill)} outbox lease(s): "
            f"{[r[0] for r in self.leased_at_kill]}")

    # ------------------------------------------------------------ run ---
    def run(self):
        args = self.args
        net_port = self.fake.start()
        log(f"fake networks on 127.0.0.1:{net_port}; seed {args.seed}; database {args.database}")
        self.write_files(net_port)
        if not self.create_users():
            return
        for i in range(3):
            self.start_node(i)
        for i in range(3):
            if not self.wait_healthy(i):
                self.daemon_side.append(f"{NODES[i]} did not become healthy on :{PORTS[i]} "
                                        f"(exit {self.procs[i].poll()}); log tail:\n{self.log_tail(i)}")
        if self.daemon_side:
            return
        log("3 daemons healthy: " + ", ".join(f"{NODES[i]}=:{PORTS[i]} pid {self.procs[i].pid}" for i in range(3)))
        try:
            status, _, _ = request(*LB, "GET", "/healthz", timeout=3)
        except OSError as e:
            status = str(e)
        if status != 200:
            self.problems.append(f"nginx on {LB[0]}:{LB[1]} does not answer /healthz (got {status})")
            return

        status, _, data = request(*LB, "POST", "/api/v1/auth/login", {"email": ADMIN[0], "password": ADMIN[1]})
        admin_token = as_json(data).get("token")
        if status != 200 or not admin_token:
            self.daemon_side.append(f"admin login through nginx: HTTP {status} {data[:300]!r}")
            return
        for agent in self.agents:
            if not agent.login(agent.idx % 3):
                self.daemon_side.append(f"{agent.email} cannot sign in on {NODES[agent.idx % 3]}: {agent.last_error}")
                return
        customers = self.build_events()
        threads = []
        sampler = threading.Thread(target=self.sampler, name="sampler", daemon=True)
        sampler.start()
        sse = threading.Thread(target=self.sse_watcher, args=(admin_token,), name="sse", daemon=True)
        sse.start()
        for agent in self.agents:
            t = threading.Thread(target=agent.run, name=agent.email, daemon=True)
            t.start()
            threads.append(t)
        t0 = time.time()
        senders = []
        for c, events in enumerate(customers):
            t = threading.Thread(target=self.customer, args=(events, args.seed * 1000 + c), daemon=True)
            t.start()
            senders.append(t)
        log(f"traffic: {args.customers} customers x {args.messages} messages on {len(CHANNELS)} networks through nginx; "
            f"{len(self.agents)} agents on node1..node3")

        time.sleep(max(0.0, t0 + args.kill_at - time.time()))
        log(f"{len(self.acked)} webhooks acknowledged, {len(self.replies)} replies so far; killing node2")
        self.kill_node2()

        for t in senders:
            t.join(timeout=max(1.0, t0 + 120 - time.time()))
        log(f"senders done after {time.time() - t0:.1f}s: {len(self.acked)}/{self.events_total} acknowledged")
        time.sleep(args.drain)
        self.stop_agents.set()
        for t in threads:
            t.join(timeout=15)
        log(f"agents stopped: {len(self.replies)} replies acknowledged (201), {len(self.replies_unknown)} with no answer")

        deadline = time.time() + args.outbox_wait
        pending = None
        while time.time() < deadline:
            try:
                pending = int(self.db.scalar("SELECT count(*) FROM outbox WHERE status NOT IN ('delivered', 'failed')"))
            except (RuntimeError, TypeError, ValueError) as e:
                self.daemon_side.append(f"cannot count pending outbox rows: {e}")
                break
            if pending == 0:
                break
            time.sleep(0.5)
        log(f"outbox drained: {pending} pending after {time.time() - t0:.1f}s")
        time.sleep(1.0)
        self.stop_sampler.set()
        sampler.join(timeout=5)
        sse.join(timeout=5)
        self.verify(pending)

    # --------------------------------------------------------- verify ---
    def verify(self, pending):
        p = self.problems
        ch = self.channel_list

        # Daemons still up (node2 aside).
        for i in self.live_nodes():
            if self.procs[i].poll() is not None:
                p.append(f"{NODES[i]} exited unexpectedly with {self.procs[i].returncode}; log tail:\n{self.log_tail(i)}")

        # 1. Inbound: every event acknowledged and stored exactly once.
        acked = len(self.acked)
        missing_ack = self.events_total - acked
        if missing_ack:
            p.append(f"{missing_ack} of {self.events_total} webhooks never acknowledged within 60 s of retries")
        for r in self.rejections[:5]:
            p.append(f"webhook refused: {r}")
        try:
            stored = int(self.db.scalar(f"SELECT count(*) FROM processed_events WHERE channel_id IN ({ch})"))
            inbound = int(self.db.scalar(
                f"SELECT count(*) FROM messages m JOIN rooms r ON r.id = m.room_id "
                f"WHERE m.direction = 'inbound' AND r.channel_id IN ({ch})"))
            texts = {}
            for row in self.db.query("SELECT text, count(*) FROM messages WHERE direction = 'inbound' GROUP BY text"):
                texts[row[0]] = int(row[1])
        except (RuntimeError, TypeError, ValueError) as e:
            p.append(f"cannot read processed_events/messages: {e}")
            stored, inbound, texts = -1, -1, {}
        duplicates = sum(n - 1 for n in texts.values() if n > 1)
        lost = [k for k in self.acked if texts.get(self.event_texts[k], 0) == 0]
        if stored != acked:
            p.append(f"processed_events holds {stored} events of these channels, {acked} were acknowledged")
        if inbound != acked:
            p.append(f"messages holds {inbound} inbound messages, {acked} events were acknowledged")
        if duplicates:
            p.append(f"{duplicates} customer message(s) stored more than once: "
                     f"{[t for t, n in texts.items() if n > 1][:3]}")
        if lost:
            p.append(f"{len(lost)} acknowledged event(s) not in messages: {lost[:5]}")
        for r in self.redelivery_stored[:5]:
            p.append(f"redelivery not recognised as a duplicate: {r}")
        first_ack_dupes = sum(1 for a in self.acked.values() if a.get("stored") == 0)

        # 2. Load: never above capacity; counters and assignees consistent.
        if self.samples < 10:
            p.append(f"only {self.samples} load samples were taken")
        for t, name, load, cap in self.over_capacity[:5]:
            p.append(f"{name} had {load} assigned rooms with capacity {cap} (at {t})")
        for t, name, counter, load in self.counter_mismatch[:3]:
            p.append(f"users.open_rooms of {name} was {counter} while {load} rooms were assigned to them (at {t})")
        for t, name, n in self.assignee_inconsistent[:3]:
            p.append(f"{n} room(s) {name.replace('_', ' ')} (at {t})")

        # 3. Replies: each acknowledged reply reaches its network exactly once.
        calls, other, dropped, stalled = self.fake.snapshot()
        by_text = {}
        for call in calls:
            by_text.setdefault(call["text"], []).append(call)
        leased_messages = {m for _, m in self.leased_at_kill}
        message_of_text = {t: r["id"] for t, r in self.replies.items()}
        duplicate_deliveries = 0
        crash_window = 0
        same_identity_resends = 0
        duplicate_examples = []
        for text, seen in by_text.items():
            fresh = [c for c in seen if c["fresh"]]
            same_identity_resends += len(seen) - len(fresh)
            if len(fresh) > 1:
                if (self.kill_time and message_of_text.get(text) in leased_messages
                        and fresh[0]["at"] < self.kill_time <= fresh[1]["at"] and len(fresh) == 2):
                    crash_window += 1  # answered to node2 just before SIGKILL, before it could commit: at least once
                else:
                    duplicate_deliveries += len(fresh) - 1
                    duplicate_examples.append((text, [(c["network"], c["identity"], round(c["at"], 2)) for c in seen]))
        delivered = sum(1 for t in self.replies if any(c["fresh"] for c in by_text.get(t, [])))
        undelivered = [t for t in self.replies if t not in by_text]
        unexpected = [t for t in by_text if t not in self.replies and t not in self.replies_unknown]
        if duplicate_deliveries:
            p.append(f"{duplicate_deliveries} duplicate delivery(ies) at the networks: {duplicate_examples[:3]}")
        if undelivered:
            p.append(f"{len(undelivered)} acknowledged repl(ies) never reached the network: "
                     f"{[(t, self.replies[t]['channel'], self.replies[t]['id']) for t in undelivered[:5]]}")
        if unexpected:
            p.append(f"{len(unexpected)} send(s) at the networks match no reply the agents sent: {unexpected[:3]}")

        ids = [r["id"] for r in self.replies.values() if r.get("id")]
        not_delivered = []
        for start in range(0, len(ids), 200):
            chunk = ",".join("'" + str(i).replace("'", "''") + "'" for i in ids[start:start + 200])
            try:
                not_delivered += self.db.query(
                    f"SELECT id, delivery_status FROM messages WHERE id IN ({chunk}) AND delivery_status NOT IN ('delivered', 'read')")
            except RuntimeError as e:
                p.append(f"cannot read the replies' delivery status: {e}")
                break
        if not_delivered:
            p.append(f"{len(not_delivered)} acknowledged repl(ies) not marked delivered in messages: {not_delivered[:5]}")

        # 4. Outbox: nothing pending or failed; delivered rows name their node; node2's leases taken over.
        outbox_status, delivered_by = {}, {}
        try:
            for row in self.db.query("SELECT status, count(*) FROM outbox GROUP BY status"):
                outbox_status[row[0]] = int(row[1])
        except RuntimeError as e:
            p.append(f"cannot read outbox: {e}")
        try:
            for row in self.db.query("SELECT coalesce(delivered_by, '(null)'), count(*) FROM outbox WHERE status = 'delivered' GROUP BY 1"):
                delivered_by[row[0]] = int(row[1])
        except RuntimeError as e:
            self.daemon_side.append(f"outbox.delivered_by unreadable: {e}")
        left = sum(n for k, n in outbox_status.items() if k not in ("delivered", "failed"))
        if left:
            p.append(f"{left} outbox row(s) still not delivered {self.args.outbox_wait:.0f} s after the traffic: {outbox_status}")
        if outbox_status.get("failed", 0):
            try:
                why = self.db.query("SELECT id, channel_id, last_error FROM outbox WHERE status = 'failed' LIMIT 3")
            except RuntimeError:
                why = []
            p.append(f"{outbox_status['failed']} outbox row(s) failed: {why}")
        bad_nodes = {k: v for k, v in delivered_by.items() if k not in NODES}
        if bad_nodes:
            p.append(f"delivered outbox rows with delivered_by not a node name: {bad_nodes}")
        taken_over = 0
        if self.leased_at_kill:
            ids = ",".join(str(i) for i, _ in self.leased_at_kill)
            try:
                rows = self.db.query(f"SELECT id, status, coalesce(delivered_by, '(null)') FROM outbox WHERE id IN ({ids}) ORDER BY id")
            except RuntimeError as e:
                rows = []
                p.append(f"cannot read node2's leased rows: {e}")
            for row in rows:
                if row[1] == "delivered" and row[2] in NODES and row[2] != "node2":
                    taken_over += 1
                else:
                    p.append(f"outbox row {row[0]} leased by node2 at the kill ended {row[1]} delivered_by {row[2]}")
            if len(rows) != len(self.leased_at_kill):
                p.append(f"{len(self.leased_at_kill) - len(rows)} outbox row(s) leased by node2 vanished")
        else:
            self.warnings.append("node2 held no unexpired outbox lease when it was killed: takeover not exercised this run")

        # Routing liveness (informational): rooms left waiting while agents have room.
        try:
            waiting = int(self.db.scalar("SELECT count(*) FROM rooms WHERE status = 'waiting'"))
            free = int(self.db.scalar(
                f"SELECT coalesce(sum(greatest(COALESCE(max_open_rooms, {DEFAULT_CAPACITY}) - open_rooms, 0)), 0) "
                f"FROM users WHERE role = 'agent'") if self.db.postgres else 0)
            if waiting and free:
                self.warnings.append(f"{waiting} room(s) still waiting while agents have {free} free slot(s) at the end")
        except (RuntimeError, TypeError, ValueError):
            pass

        # Report.
        s = self.stats
        log("details:")
        print(" ".join([f"  webhooks: posts={s.get('webhook_posts')} transport_errors={s.get('webhook_transport_errors')}"]
                       + [f"{k}={v}" for k, v in sorted(s.c.items()) if k.startswith("webhook_http_")]
                       + [f"nginx_failovers={s.get('webhook_lb_failovers')} first_acks_as_duplicate={first_ack_dupes}"]))
        print(" ".join([f"  redeliveries: cross_daemon={s.get('redelivered_cross_daemon')} stored_again={len(self.redelivery_stored)}"]
                       + [f"{k}={v}" for k, v in sorted(s.c.items()) if k.startswith("redelivery_http_")]))
        by_node, by_network = {}, {}
        for r in self.replies.values():
            by_node[r["node"]] = by_node.get(r["node"], 0) + 1
        for call in calls:
            by_network[call["network"]] = by_network.get(call["network"], 0) + 1
        print(f"  agents: replies_201={len(self.replies)} replies_no_answer={len(self.replies_unknown)} "
              f"refused={dict(self.reply_refusals)} resolves={s.get('resolves')} failovers={s.get('agent_failovers')} "
              f"relogins={s.get('agent_relogins')} burst_replies_on_node2={s.get('burst_replies')} "
              f"replies_by_node={dict(sorted(by_node.items()))}")
        print(f"  load: samples={self.samples} errors={self.sample_errors} max_load={dict(sorted(self.max_load.items()))} "
              f"capacities={dict((a.email, a.cap) for a in self.agents)}")
        print(f"  network: sends={len(calls)} same_identity_resends={same_identity_resends} crash_window_resends={crash_window} "
              f"stalled={stalled} dropped_after_kill={dropped} other_calls={len(other)} by_network={dict(sorted(by_network.items()))}")
        print(f"  outbox: {dict(sorted(outbox_status.items()))} delivered_by={dict(sorted(delivered_by.items()))} "
              f"leased_by_node2_at_kill={[i for i, _ in self.leased_at_kill]}")
        print(f"  sse via nginx: events={self.sse_events} reconnects={self.sse_reconnects}")
        for w in self.warnings:
            print(f"WARNING: {w}")
        self.summary = (
            f"daemons=3 killed=node2 events_acknowledged={acked} stored={stored} inbound_messages={inbound} "
            f"duplicates={duplicates} redelivered_cross_daemon={s.get('redelivered_cross_daemon')} "
            f"replies={len(self.replies)} delivered={delivered} duplicate_deliveries={duplicate_deliveries} "
            f"max_load_over_capacity={len(self.over_capacity)} leases_taken_over={taken_over} "
            f"pending_left={left}")


class Agent:
    def __init__(self, cluster, idx, email, cap):
        self.cluster = cluster
        self.idx = idx
        self.email = email
        self.cap = cap
        self.node = idx % 3
        self.token = None
        self.replied = set()
        self.sent = 0
        self.last_error = None
        self.rng = random.Random(cluster.args.seed * 7 + idx)
        self.burst_done = False

    def login(self, node):
        for _ in range(20):
            try:
                status, _, data = request("127.0.0.1", PORTS[node], "POST", "/api/v1/auth/login",
                                          {"email": self.email, "password": AGENT_PASSWORD})
            except (OSError, http.client.HTTPException) as e:
                self.last_error = str(e)
                time.sleep(0.5)
                continue
            token = as_json(data).get("token")
            if status == 200 and token:
                self.token, self.node = token, node
                return self.call("PUT", "/api/v1/me/status", {"online": True})[0] == 200
            self.last_error = f"HTTP {status} {data[:200]!r}"
            time.sleep(0.5)
        return False

    def failover(self):
        live = self.cluster.live_nodes()
        nxt = next((n for n in [(self.node + k) % 3 for k in range(1, 4)] if n in live), None)
        if nxt is not None and nxt != self.node:
            self.cluster.stats.add("agent_failovers")
            self.node = nxt  # same session token: sessions live in the shared database

    def call(self, method, path, body=None):
        """(status, json) on the agent's daemon; (None, None) on a transport error (after moving to a live daemon)."""
        headers = {"Authorization": f"Bearer {self.token}"}
        try:
            status, _, data = request("127.0.0.1", PORTS[self.node], method, path, body, headers, timeout=8)
        except (OSError, http.client.HTTPException) as e:
            self.last_error = str(e)
            self.failover()
            return None, None
        if status == 401 and not path.startswith("/api/v1/auth"):
            self.cluster.stats.add("agent_relogins")
            self.login(self.node)
        return status, as_json(data)

    def reply(self, room, why=""):
        self.sent += 1
        text = f"reply {self.idx + 1}-{self.sent}{why} to {room['id']}"
        node = self.node
        status, answer = self.call("POST", f"/api/v1/rooms/{room['id']}/messages", {"type": "text", "text": text})
        if status == 201 and isinstance(answer.get("message"), dict):
            if why:
                self.cluster.stats.add("burst_replies")
            with self.cluster.lock:
                self.cluster.replies[text] = {"id": answer["message"].get("id"), "room": room["id"],
                                              "channel": room.get("channel"), "node": NODES[node], "at": time.time()}
            return True
        if status is None:
            with self.cluster.lock:
                self.cluster.replies_unknown.add(text)
        else:
            with self.cluster.lock:
                self.cluster.reply_refusals[status] = self.cluster.reply_refusals.get(status, 0) + 1
        return False

    def run(self):
        c = self.cluster
        while not c.stop_agents.is_set():
            status, answer = self.call("GET", "/api/v1/rooms?status=assigned&assignee=me&limit=50")
            rooms = answer.get("rooms", []) if status == 200 else []
            burst = c.burst.is_set() and not self.burst_done and self.node == KILLED and KILLED not in c.dead
            for room in rooms:
                if c.stop_agents.is_set():
                    break
                last = room.get("last_message") or {}
                if burst:
                    self.reply(room, " burst")
                    continue
                if last.get("direction") == "inbound" and last.get("id") not in self.replied:
                    self.replied.add(last.get("id"))
                    if self.reply(room) and self.rng.random() < c.args.resolve:
                        s, _ = self.call("POST", f"/api/v1/rooms/{room['id']}/resolve")
                        if s == 200:
                            c.stats.add("resolves")
            if burst:
                self.burst_done = True
            c.stop_agents.wait(self.rng.uniform(0.15, 0.35))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--database", required=True, help="postgres:// URL (or a SQLite file: the negative control)")
    ap.add_argument("--tmp", required=True)
    ap.add_argument("--customers", type=int, default=60)
    ap.add_argument("--messages", type=int, default=4)
    ap.add_argument("--spread", type=float, default=5.0, help="customers start within this many seconds")
    ap.add_argument("--gap", type=float, default=5.5, help="mean seconds between a customer's messages")
    ap.add_argument("--kill-at", type=float, default=12.0, help="seconds into the traffic")
    ap.add_argument("--stall", type=float, default=1.5, help="network stall around the kill (keep below the lease)")
    ap.add_argument("--redeliver", type=float, default=0.10)
    ap.add_argument("--resolve", type=float, default=0.35)
    ap.add_argument("--drain", type=float, default=6.0, help="agents keep replying this long after the customers")
    ap.add_argument("--outbox-wait", type=float, default=60.0)
    ap.add_argument("--lease-seconds", type=int, default=3)
    ap.add_argument("--log-level", default="info")
    ap.add_argument("--seed", type=int, default=int(os.environ.get("OMNICHAT_CLUSTER_SEED") or random.randrange(1, 10**6)))
    args = ap.parse_args()

    cluster = Cluster(args)

    def on_signal(signum, frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, on_signal)

    started = time.time()
    try:
        cluster.run()
    except SystemExit:
        cluster.abort.set()
        raise
    except Exception as e:  # a harness bug: report it, still clean up
        import traceback
        traceback.print_exc()
        cluster.problems.append(f"harness error: {e!r}")
    finally:
        cluster.abort.set()
        cluster.stop_agents.set()
        cluster.stop_sampler.set()
        for i, proc in enumerate(cluster.procs):
            if proc and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for i, proc in enumerate(cluster.procs):
            if proc and proc.poll() is None:
                try:
                    proc.wait(timeout=8)
                except subprocess.TimeoutExpired:
                    cluster.problems.append(f"{NODES[i]} did not exit within 8 s of SIGTERM")
                    proc.kill()
                    proc.wait()
        cluster.fake.stop()
        cluster.db.close()
        cluster.sample_db.close()

    failures = cluster.daemon_side + cluster.problems
    for f in cluster.daemon_side:
        print(f"FAIL (daemon side): {f}")
    for f in cluster.problems:
        print(f"FAIL: {f}")
    if failures:
        for i in range(3):
            if cluster.procs[i] is not None:
                print(f"--- {NODES[i]} log (last 12 lines) ---\n{cluster.log_tail(i)}")
    summary = getattr(cluster, "summary", "daemons=3 killed=node2 (run did not reach the checks)")
    print(f"cluster: {summary} seconds={time.time() - started:.0f} seed={args.seed}")
    print("cluster test: " + ("FAILED" if failures else "passed"))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
