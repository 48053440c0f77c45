#!/usr/bin/env bash
# Back-pressure under overload: first the sustainable rate of durable Telegram
# webhooks (wrk, 64 connections), then a sustained overload with many more
# connections for OVERLOAD_SECONDS (default 60). Prints the offered rate as a
# multiple of the sustainable rate, what was acknowledged and what was answered
# 503, the latencies (LINE wants an answer within 2 s), and omnichatd's peak RSS.
# Usage: bash Benchmarks/overload.sh [overload-seconds] [overload-connections]
set -euo pipefail
cd "$(dirname "$0")/.."
OVERLOAD_SECONDS=${1:-60}
OVERLOAD_CONNECTIONS=${2:-1000}
PORT=${PORT:-18098}
ulimit -n 65536 2>/dev/null || true

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
swift build -c release --product omnichatd >/dev/null
BIN=.build/release/omnichatd

WORK=$(mktemp -d)
trap 'kill $PID $SAMPLER 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
OMNICHAT_LOG_LEVEL=error OMNICHAT_ADMIN_PASSWORD=bench-password \
  $BIN serve --port "$PORT" --database "$WORK/bench.db" --adapters adapters.d >"$WORK/daemon.log" 2>&1 &
PID=$!
SAMPLER=
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
rss() { awk '/^VmRSS/ {print $2}' /proc/$PID/status; }
hwm() { awk '/^VmHWM/ {print $2}' /proc/$PID/status; }
IDLE_RSS=$(rss)

URL="http://127.0.0.1:$PORT/webhooks/telegram"
requests() { awk '/requests in/ {print $1}' "$1"; }
non2xx() { awk '/Non-2xx/ {print $5}' "$1" | grep . || echo 0; }
pct() { awk -v p="$2" '$1 == p {print $2}' "$1"; }

echo "== sustainable: 64 connections, 10 s"
RUN=1 wrk -t2 -c64 -d10s --latency -s Benchmarks/telegram-webhook.lua "$URL" | tee "$WORK/sustained.txt"
S_OK=$(( $(requests "$WORK/sustained.txt") - $(non2xx "$WORK/sustained.txt") ))
S_RATE=$(python3 -c "print(round($S_OK/10))")
RSS_BEFORE=$(rss)

echo "== overload: $OVERLOAD_CONNECTIONS connections, ${OVERLOAD_SECONDS} s"
( while kill -0 $PID 2>/dev/null; do rss >>"$WORK/rss.txt"; sleep 0.5; done ) &
SAMPLER=$!
RUN=2 wrk -t2 -c"$OVERLOAD_CONNECTIONS" -d"${OVERLOAD_SECONDS}s" --timeout 10s --latency -s Benchmarks/telegram-webhook.lua "$URL" | tee "$WORK/overload.txt"
kill $SAMPLER 2>/dev/null || true
O_ALL=$(requests "$WORK/overload.txt"); O_503=$(non2xx "$WORK/overload.txt"); O_OK=$(( O_ALL - O_503 ))
PEAK=$(sort -n "$WORK/rss.txt" | tail -1)
HWM=$(hwm)
sleep 2
AFTER=$(rss)
STORED=$(python3 - "$WORK/bench.db" <<'PY'
import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute("select count(*) from messages where direction = 'inbound'").fetchone()[0])
PY
)
python3 - <<PY
s_rate = $S_RATE
o_all, o_ok, o_503, secs = $O_ALL, $O_OK, $O_503, $OVERLOAD_SECONDS
print()
print(f"sustainable (64 conn):        {s_rate} acknowledged/s")
print(f"overload offered:             {o_all/secs:.0f} req/s = {o_all/secs/max(s_rate,1):.1f}x the sustainable rate")
print(f"overload acknowledged:        {o_ok/secs:.0f}/s ({o_ok} in all)")
print(f"overload answered 503:        {o_503/secs:.0f}/s ({o_503} in all; networks redeliver these)")
print(f"overload latency p50/p99/max: $(pct "$WORK/overload.txt" 50%) / $(pct "$WORK/overload.txt" 99%) / $(awk '/Latency/ && !/Distribution/ {print $4; exit}' "$WORK/overload.txt")")
print(f"RSS idle / after 10 s load:   {$IDLE_RSS/1024:.1f} MiB / {$RSS_BEFORE/1024:.1f} MiB")
print(f"RSS peak during overload:     {$PEAK/1024:.1f} MiB (VmHWM {$HWM/1024:.1f} MiB); 2 s after: {$AFTER/1024:.1f} MiB")
print(f"stored inbound messages:      {$STORED}; acknowledged in both runs: {$S_OK + o_ok}")
PY
