#!/usr/bin/env bash
# First ingest figure: durable Telegram webhooks acknowledged per second,
# against a bare route of the same server (GET /healthz) measured in the same
# run. Release build; wrk on loopback; SQLite with synchronous=FULL unless
# SYNCHRONOUS is set. Usage: bash Benchmarks/ingest.sh [seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
CONNECTIONS=${2:-64}
SYNCHRONOUS=${SYNCHRONOUS:-full}
PORT=${PORT:-18099}

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
swift build -c release --product omnichatd >/dev/null
BIN=.build/release/omnichatd

WORK=$(mktemp -d)
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
OMNICHAT_SYNCHRONOUS=$SYNCHRONOUS OMNICHAT_LOG_LEVEL=error OMNICHAT_ADMIN_PASSWORD=bench-password \
  $BIN serve --port "$PORT" --database "$WORK/bench.db" --adapters adapters.d >"$WORK/daemon.log" 2>&1 &
PID=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done

run_wrk() { wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency "$@"; }
rps() { awk '/Requests\/sec/ {print $2}' "$1"; }
pct() { awk -v p="$2" '$1 == p {print $2}' "$1"; }

echo "== warm-up"
RUN=9 run_wrk -s Benchmarks/telegram-webhook.lua "http://127.0.0.1:$PORT/webhooks/telegram" -d2s >/dev/null
echo "== baseline: GET /healthz (same server, no store)"
run_wrk "http://127.0.0.1:$PORT/healthz" | tee "$WORK/base.txt"
echo "== durable ingest: POST /webhooks/telegram (synchronous=$SYNCHRONOUS, unique update_ids)"
RUN=1 run_wrk -s Benchmarks/telegram-webhook.lua "http://127.0.0.1:$PORT/webhooks/telegram" | tee "$WORK/ingest.txt"

STORED=$(python3 - "$WORK/bench.db" <<'PY'
import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute("select count(*) from messages").fetchone()[0])
PY
)
BASE=$(rps "$WORK/base.txt"); INGEST=$(rps "$WORK/ingest.txt")
echo
echo "baseline GET /healthz:        $BASE req/s  p50 $(pct "$WORK/base.txt" 50%)  p99 $(pct "$WORK/base.txt" 99%)"
echo "durable Telegram ingest:      $INGEST req/s  p50 $(pct "$WORK/ingest.txt" 50%)  p99 $(pct "$WORK/ingest.txt" 99%)"
echo "ratio ingest / baseline:      $(python3 -c "print(f'{$INGEST/$BASE:.1%}')")"
echo "messages stored (incl. warm-up): $STORED"
