#!/usr/bin/env bash
# Fuzzes omnichatd's HTTP API with Schemathesis, driven by docs/openapi.yaml.
#
#   bash scripts/fuzz-api.sh            (or `make fuzz-api`)
#
# Starts the daemon on a free loopback port in a temporary directory (its own
# database and drop-ins, a local fake of the Telegram Bot API so replies and
# attachments work), signs in as the bootstrap admin, seeds rooms, messages,
# agents, divisions and API keys, then runs Schemathesis (check:
# not_a_server_error) against every operation, with the seeded ids offered as
# path/body values so requests reach the handlers instead of stopping at 404.
# Also probes the event stream (`GET /api/v1/events`, which never ends, so
# Schemathesis skips it). Stops everything it started and exits non-zero when
# any response was a 5xx, the daemon logged an unhandled error, died or hung.
#
# Environment:
#   OMNICHATD          the daemon binary (default: build .build/debug/omnichatd)
#   FUZZ_MAX_EXAMPLES  test cases per operation and phase (default 30)
#   FUZZ_MAX_TIME      seconds: fuzz until this budget is spent, per broad pass (optional)
#   FUZZ_CHECKS        Schemathesis checks (default not_a_server_error; e.g.
#                      not_a_server_error,response_schema_conformance,status_code_conformance
#                      to check the document too: any failing check then fails the run)
#   FUZZ_TIMEOUT       hard bound in seconds for each Schemathesis pass (default 600)
#   FUZZ_SEED          Schemathesis seed, to replay a run (optional)
#   FUZZ_KEEP=1        keep the temporary directory (it is kept anyway on failure)
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SPEC=$ROOT/docs/openapi.yaml
MAX_EXAMPLES=${FUZZ_MAX_EXAMPLES:-30}
CHECKS=${FUZZ_CHECKS:-not_a_server_error}
PASS_TIMEOUT=${FUZZ_TIMEOUT:-600}
PASSWORD=fuzz-admin-password-1
PYTHON=${PYTHON:-python3}

say() { printf 'fuzz-api: %s\n' "$*" >&2; }
die() { say "$*"; exit 2; }

[ -f "$SPEC" ] || die "no $SPEC"
command -v "$PYTHON" >/dev/null || die "python3 is needed"
command -v curl >/dev/null || die "curl is needed"

# Schemathesis 4 (the flags below are its: --url, --max-examples, --config-file).
if ! command -v schemathesis >/dev/null || ! schemathesis --version 2>/dev/null | grep -qE 'version 4\.'; then
    say "installing schemathesis 4 (pip)"
    "$PYTHON" -m pip install --quiet 'schemathesis>=4,<5' || die "could not install schemathesis"
fi

if [ -n "${OMNICHATD:-}" ]; then
    BIN=$OMNICHATD
else
    say "building omnichatd"
    (cd "$ROOT" && swift build --product omnichatd 2>&1 | tail -2) || die "build failed"
    BIN=$ROOT/.build/debug/omnichatd
fi
case $BIN in
    /*) ;;
    */*) BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN") ;;
    *) BIN=$(command -v "$BIN" || echo "$BIN") ;;
esac
[ -x "$BIN" ] || die "no daemon binary at $BIN"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/omnichat-fuzz.XXXXXX")
DAEMON_PID=
FAKE_PID=
STATUS=0
cleanup() {
    [ -n "$DAEMON_PID" ] && kill "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID" 2>/dev/null
    [ -n "$FAKE_PID" ] && kill "$FAKE_PID" 2>/dev/null && wait "$FAKE_PID" 2>/dev/null
    if [ "$STATUS" = 0 ] && [ "${FUZZ_KEEP:-}" != 1 ]; then
        rm -rf "$WORK"
    else
        say "artefacts kept in $WORK (daemon.log, reports/, *.out)"
    fi
}
trap cleanup EXIT
trap 'STATUS=130; exit 130' INT TERM

free_port() { "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
PORT=$(free_port)
FAKE_PORT=$(free_port)
BASE=http://127.0.0.1:$PORT

# A fake Telegram Bot API (and bot webhook): every POST succeeds, getFile names
# a file, file downloads answer a few bytes of JPEG.
cat > "$WORK/fake_network.py" <<'PY'
import json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
count = 0
class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def reply(self, status, body, kind="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_POST(self):
        global count
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        count += 1
        if self.path.endswith("/getFile"):
            result = {"file_id": "f", "file_unique_id": "u", "file_size": 4, "file_path": "photos/file_%d.jpg" % count}
        else:
            result = {"message_id": count}
        self.reply(200, json.dumps({"ok": True, "result": result}).encode())
    def do_GET(self):
        self.reply(200, b"\xff\xd8\xff\xd9", "image/jpeg")
    def log_message(self, *args):
        pass
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
PY
"$PYTHON" "$WORK/fake_network.py" "$FAKE_PORT" 2> "$WORK/fake_network.log" &
FAKE_PID=$!

# Drop-ins: the sample Telegram channel, and one whose new rooms go to a bot
# (so handover and bot replies can be exercised).
mkdir -p "$WORK/adapters.d"
cat > "$WORK/adapters.d/telegram.toml" <<EOF
kind = "telegram"
token = "123456:fuzz-token"
secret_token = "fuzz-secret"
api_base = "http://127.0.0.1:$FAKE_PORT"
EOF
cat > "$WORK/adapters.d/tgbot.toml" <<EOF
kind = "telegram"
token = "654321:fuzz-token"
secret_token = "fuzz-secret"
api_base = "http://127.0.0.1:$FAKE_PORT"

[bot]
webhook_url = "http://127.0.0.1:$FAKE_PORT/bot"
secret = "fuzz-bot-secret"
EOF

# The daemon, isolated from any configuration in the environment.
for name in $(env | sed -n 's/^\(OMNICHAT_[A-Z_]*\)=.*/\1/p'); do unset "$name"; done
(cd "$WORK" && OMNICHAT_ADMIN_PASSWORD=$PASSWORD exec "$BIN" serve --host 127.0.0.1 --port "$PORT" \
    --database "$WORK/fuzz.db" --adapters "$WORK/adapters.d" > "$WORK/daemon.out" 2> "$WORK/daemon.log") &
DAEMON_PID=$!
for _ in $(seq 1 100); do
    curl -fsS -m 2 "$BASE/healthz" >/dev/null 2>&1 && break
    kill -0 "$DAEMON_PID" 2>/dev/null || { STATUS=2; cat "$WORK/daemon.log" >&2; die "the daemon did not start"; }
    sleep 0.2
done
curl -fsS -m 2 "$BASE/healthz" >/dev/null || { STATUS=2; die "the daemon does not answer /healthz"; }
say "omnichatd $BIN on $BASE (pid $DAEMON_PID), work dir $WORK"

# Sign in, seed data, write the Schemathesis configuration (seeded ids as dictionaries).
"$PYTHON" - "$BASE" "$PASSWORD" "$WORK" <<'PY' || { STATUS=2; die "seeding failed"; }
import json, sys, urllib.request, urllib.error
base, password, work = sys.argv[1:4]

def call(method, path, body=None, token=None, headers=None, expect=(200, 201, 204)):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", "Bearer " + token)
    for key, value in (headers or {}).items():
        request.add_header(key, value)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    if status not in expect:
        raise SystemExit(f"seed: {method} {path} -> {status} {raw[:300]!r}")
    return json.loads(raw) if raw and raw[:1] in b"{[" else None

def login():
    return call("POST", "/api/v1/auth/login", {"email": "admin@localhost", "password": password})["token"]

token = login()
# Tokens for the passes that change or end the session, taken now (fuzzed logins get throttled).
session_tokens = {name: login() for name in ("password", "refresh", "logout")}
call("PUT", "/api/v1/me/status", {"online": True}, token)

update = 5000
def telegram(channel, chat, text=None, photo=False):
    global update
    update += 1
    message = {"message_id": update, "date": 1700000000, "chat": {"id": chat, "type": "private", "first_name": f"Cust{chat}"},
               "from": {"id": chat, "is_bot": False, "first_name": f"Cust{chat}", "username": f"cust{chat}"}}
    if photo:
        message["photo"] = [{"file_id": f"photo{update}", "file_unique_id": f"u{update}", "width": 9, "height": 9}]
        message["caption"] = "a photo"
    else:
        message["text"] = text or "Hello, where is my order?"
    call("POST", f"/webhooks/{channel}", {"update_id": update, "message": message},
         headers={"X-Telegram-Bot-Api-Secret-Token": "fuzz-secret"})

for chat in (4001, 4002, 4003):
    telegram("telegram", chat)
for chat in (4004, 4005):
    telegram("telegram", chat, photo=True)
for chat in (4006, 4007, 4008):
    telegram("tgbot", chat, "Hi bot")

division = call("POST", "/api/v1/divisions", {"name": "Fuzz division"}, token)["division"]["id"]
call("POST", "/api/v1/divisions", {"name": "Spare division"}, token)
bob = call("POST", "/api/v1/agents", {"name": "Bob", "email": "bob@example.com", "password": "bob-password-1",
                                       "divisions": [division]}, token)["agent"]["id"]
invited = call("POST", "/api/v1/agents", {"name": "Ivy", "email": "ivy@example.com"}, token)
call("POST", "/api/v1/agents", {"name": "Sue", "email": "sue@example.com", "role": "supervisor", "password": "sue-password-1"}, token)
bot_key = call("POST", "/api/v1/api-keys", {"name": "bot", "scope": "bot"}, token)
alloc_key = call("POST", "/api/v1/api-keys", {"name": "allocation", "scope": "allocation"}, token)
call("POST", "/api/v1/api-keys", {"name": "reader", "scope": "read"}, token)

rooms = call("GET", "/api/v1/rooms?limit=200", token=token)["rooms"]
room_ids = [r["id"] for r in rooms]
assigned = [r["id"] for r in rooms if r["status"] == "assigned"]
if assigned:
    call("POST", f"/api/v1/rooms/{assigned[0]}/messages", {"type": "text", "text": "We are on it"}, token)
    call("POST", f"/api/v1/rooms/{assigned[0]}/notes", {"text": "VIP customer"}, token)
    call("PUT", f"/api/v1/rooms/{assigned[0]}/tags", {"tags": ["vip", "order"]}, token)
message_ids = []
for room in room_ids:
    message_ids += [m["id"] for m in call("GET", f"/api/v1/rooms/{room}/messages", token=token)["messages"]]
users = [u["id"] for u in call("GET", "/api/v1/agents", token=token)["agents"]]
divisions = [d["id"] for d in call("GET", "/api/v1/divisions", token=token)["divisions"]]
keys = [k["id"] for k in call("GET", "/api/v1/api-keys", token=token)["api_keys"]]
channels = [c["id"] for c in call("GET", "/api/v1/channels", token=token)["channels"]]
invitation = invited.get("invitation", {}).get("url", "").rsplit("/", 1)[-1]

def toml_list(values):
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"

config = f"""# Generated by scripts/fuzz-api.sh: the seeded ids, offered to Schemathesis.
[dictionaries.rooms]
values = {toml_list(room_ids)}
[dictionaries.users]
values = {toml_list(users)}
[dictionaries.divisions]
values = {toml_list(divisions)}
[dictionaries.messages]
values = {toml_list(message_ids)}
[dictionaries.keys]
values = {toml_list(keys)}
[dictionaries.channels]
values = {toml_list(channels)}
[dictionaries.tokens]
values = {toml_list([invitation] if invitation else ["oci_none"])}
[dictionaries.safe_roles]
values = ["agent", "supervisor"]

[parameters]
"path.room_id" = {{ dictionary = "rooms", probability = 0.9 }}
"path.user_id" = {{ dictionary = "users", probability = 0.9 }}
"path.division_id" = {{ dictionary = "divisions", probability = 0.9 }}
"path.message_id" = {{ dictionary = "messages", probability = 0.9 }}
"path.key_id" = {{ dictionary = "keys", probability = 0.9 }}
"path.channel_id" = {{ dictionary = "channels", probability = 0.9 }}
"path.token" = {{ dictionary = "tokens", probability = 0.5 }}
"query.room_id" = {{ dictionary = "rooms", probability = 0.9 }}
"query.division" = {{ dictionary = "divisions", probability = 0.5 }}
"body.room_id" = {{ dictionary = "rooms", probability = 0.8 }}
"body.agent_id" = {{ dictionary = "users", probability = 0.8 }}
"body.division_id" = {{ dictionary = "divisions", probability = 0.8 }}
"body.message_id" = {{ dictionary = "messages", probability = 0.8 }}
"header.X-Telegram-Bot-Api-Secret-Token" = "fuzz-secret"

# Nobody may be promoted to admin: with a second admin, the fuzzer could demote
# or deactivate the one whose token it uses, and the rest of the run would be 403s.
[[operations]]
include-operation-id = "patchAgent"
parameters = {{ "body.role" = {{ dictionary = "safe_roles", probability = 1.0 }} }}
"""
open(f"{work}/schemathesis.toml", "w").write(config)
open(f"{work}/token", "w").write(token)
for name, value in session_tokens.items():
    open(f"{work}/token_{name}", "w").write(value)
open(f"{work}/bot_key", "w").write(bot_key["key"])
open(f"{work}/allocation_key", "w").write(alloc_key["key"])
print(f"seeded {len(room_ids)} rooms, {len(message_ids)} messages, {len(users)} users, "
      f"{len(divisions)} divisions, {len(keys)} API keys, channels {channels}", file=sys.stderr)
PY

TOKEN=$(cat "$WORK/token")
mkdir -p "$WORK/reports"
FAILED=0

run_pass() {  # name, broad|narrow, then extra schemathesis arguments
    local name=$1 scope=$2
    shift 2
    local args=(--config-file "$WORK/schemathesis.toml" run "$SPEC" --url "$BASE"
        --checks "$CHECKS" --max-examples "$MAX_EXAMPLES" --request-timeout 20
        --report junit,har --report-dir "$WORK/reports/$name" --no-color --output-truncate false)
    # A time budget only for the passes over many operations (a session route
    # stops working after its first success: more time there finds nothing).
    [ -n "${FUZZ_MAX_TIME:-}" ] && [ "$scope" = broad ] && args+=(--max-time "$FUZZ_MAX_TIME")
    [ -n "${FUZZ_SEED:-}" ] && args+=(--seed "$FUZZ_SEED")
    say "pass '$name': schemathesis (at most ${PASS_TIMEOUT}s)"
    (cd "$WORK" && timeout --kill-after=10 "$PASS_TIMEOUT" schemathesis "${args[@]}" "$@") > "$WORK/$name.out" 2>&1
    local rc=$?
    sed -n '/^=* SUMMARY =*$/,$p' "$WORK/$name.out" | grep -E 'Tested:|generated|Server error|Network|Timeout|Failures|errors?' | sed "s/^/  [$name] /" >&2
    case $rc in
        0) ;;
        124|137) say "pass '$name' exceeded ${PASS_TIMEOUT}s (a hung request?)"; FAILED=1 ;;
        *) say "pass '$name' failed (exit $rc)"; sed -n '/^=* FAILURES =*$/,/^=* \(WARNINGS\|SUMMARY\) =*$/p' "$WORK/$name.out" >&2; FAILED=1 ;;
    esac
}

# 1. The bot's and the allocation service's API keys on their routes (first:
#    the main pass revokes keys).
run_pass bot-key broad -H "Authorization: Bearer $(cat "$WORK/bot_key")" \
    --include-operation-id postMessage --include-operation-id handoverRoom
run_pass allocation-key broad -H "Qiscus-App-Id: omnichat" -H "Qiscus-Secret-Key: $(cat "$WORK/allocation_key")" \
    --include-tag allocation-service
# 2. Everything but the stream and the routes that end the session in use.
run_pass main broad -H "Authorization: Bearer $TOKEN" \
    --exclude-operation-id streamEvents --exclude-operation-id logout \
    --exclude-operation-id refreshSession --exclude-operation-id changeMyPassword
# 3. The routes that change or end the session, each with a token of its own.
run_pass password narrow -H "Authorization: Bearer $(cat "$WORK/token_password")" --include-operation-id changeMyPassword
run_pass refresh narrow -H "Authorization: Bearer $(cat "$WORK/token_refresh")" --include-operation-id refreshSession
run_pass logout narrow -H "Authorization: Bearer $(cat "$WORK/token_logout")" --include-operation-id logout

# 4. The event stream (it stays open: read its start, then hang up).
probe() {  # expected status, description, curl arguments
    local expect=$1 what=$2
    shift 2
    local status
    status=$(curl -s -o "$WORK/probe.body" -w '%{http_code}' -m 3 "$@")
    # A stream cut by -m still reports its status (curl exits 28).
    if [ "$status" != "$expect" ]; then
        say "events: $what: expected $expect, got $status: $(head -c 300 "$WORK/probe.body")"
        [ "${status:-000}" -ge 500 ] 2>/dev/null && FAILED=1
        [ "$status" = 000 ] && FAILED=1
    fi
}
probe 200 "bearer" "$BASE/api/v1/events" -H "Authorization: Bearer $TOKEN"
grep -q '^retry: 2000' "$WORK/probe.body" || { say "events: the stream does not start with 'retry: 2000'"; FAILED=1; }
probe 200 "access_token" "$BASE/api/v1/events?access_token=$TOKEN"
probe 200 "resume (Last-Event-ID: 1)" "$BASE/api/v1/events" -H "Authorization: Bearer $TOKEN" -H 'Last-Event-ID: 1'
probe 200 "resume (last_event_id=9223372036854775807)" "$BASE/api/v1/events?last_event_id=9223372036854775807" -H "Authorization: Bearer $TOKEN"
probe 422 "Last-Event-ID: x" "$BASE/api/v1/events" -H "Authorization: Bearer $TOKEN" -H 'Last-Event-ID: x'
probe 422 "last_event_id overflow" "$BASE/api/v1/events?last_event_id=99999999999999999999" -H "Authorization: Bearer $TOKEN"
probe 401 "no token" "$BASE/api/v1/events"
probe 401 "bad access_token" "$BASE/api/v1/events?access_token=oc_nope"

# 5. Every 5xx the passes saw, with its request; the daemon's errors.
"$PYTHON" - "$WORK" <<'PY' || FAILED=1
import collections, glob, json, sys
work = sys.argv[1]
bad = []
statuses = collections.Counter()
for path in sorted(glob.glob(f"{work}/reports/*/har-*.json")):
    try:
        entries = json.load(open(path))["log"]["entries"]
    except (OSError, ValueError, KeyError):
        continue
    for entry in entries:
        status = entry["response"]["status"]
        statuses[status // 100] += 1
        if status >= 500:
            request = entry["request"]
            body = (request.get("postData") or {}).get("text", "")
            bad.append((entry["startedDateTime"], request["method"], request["url"], body, status,
                        entry["response"]["content"].get("text", "")))
total = sum(statuses.values())
print(f"fuzz-api: {total} requests: " + ", ".join(f"{k}xx {v}" for k, v in sorted(statuses.items())), file=sys.stderr)
for at, method, url, body, status, answer in bad:
    print(f"fuzz-api: 5xx {status} at {at}: {method} {url}\n    body: {body[:500]}\n    answer: {answer[:300]}", file=sys.stderr)
sys.exit(1 if bad else 0)
PY
if grep -E ' (error|critical) ' "$WORK/daemon.log" > "$WORK/daemon-errors.log"; then
    say "the daemon logged errors:"
    head -50 "$WORK/daemon-errors.log" >&2
    grep -q 'unhandled error' "$WORK/daemon-errors.log" && FAILED=1
fi
if ! kill -0 "$DAEMON_PID" 2>/dev/null || ! curl -fsS -m 5 "$BASE/healthz" >/dev/null; then
    say "the daemon died or stopped answering"
    tail -20 "$WORK/daemon.log" >&2
    FAILED=1
fi

if [ "$FAILED" != 0 ]; then
    STATUS=1
    say "FAILED: server errors or a broken daemon (details above; artefacts in $WORK)"
    exit 1
fi
say "ok: no server errors"
