#!/usr/bin/env bash
# Memory with live event streams whose clients stopped reading: STREAMS
# (default 100) SSE connections that never read a byte (4 KB receive buffers),
# while signed webhooks of all five networks arrive at RATE/s (default 1,000)
# for SECONDS (default 60). Each stream may hold max_stream_buffer_bytes
# (256 KiB) for its reader; past that it is reset. The same load first runs
# with no stream open (the baseline: the daemon also keeps the last 50,000
# events for Last-Event-ID resumes, whoever listens). Prints omnichatd's RSS
# idle and its peak under the load in both phases, and their ratios.
# Usage: bash Benchmarks/slow-readers.sh [seconds] [rate] [streams]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_RUN=${1:-60}
RATE=${2:-1000}
STREAMS=${3:-100}
PORT=${PORT:-18097}
ulimit -n 65536 2>/dev/null || true
swift build -c release --product omnichatd >/dev/null
swift build -c release --product omnichat-bench >/dev/null
BIN=.build/release
WORK=$(mktemp -d)
PID=; READERS=; SAMPLER=
trap 'kill $PID $READERS 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"' EXIT
rss() { awk '/^VmRSS/ {print $2}' "/proc/$PID/status"; }
phase() {  # streams
  rm -f "$WORK"/bench.db*
  OMNICHAT_LOG_LEVEL=error OMNICHAT_ADMIN_PASSWORD=bench-password OMNICHAT_MAX_STREAMS_PER_USER="$STREAMS" \
    $BIN/omnichatd serve --port "$PORT" --database "$WORK/bench.db" --adapters Benchmarks/adapters.d >"$WORK/daemon.log" 2>&1 &
  PID=$!
  for _ in $(seq 1 200); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.05; done
  TOKEN=$(curl -sf -X POST "http://127.0.0.1:$PORT/api/v1/auth/login" -H 'Content-Type: application/json' \
    -d '{"email":"admin@localhost","password":"bench-password"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  READERS=
  if [ "$1" -gt 0 ]; then
    # The readers: connect, send the request, never read; hold on until killed.
    python3 - "$PORT" "$TOKEN" "$1" >"$WORK/readers.log" 2>&1 <<'PY' &
import socket, sys, time
port, token, count = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
held = []
for _ in range(count):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.sendall(f"GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\r\n".encode())
    held.append(s)
print(f"{len(held)} streams open", flush=True)
while True:
    time.sleep(60)
PY
    READERS=$!
  fi
  sleep 3
  IDLE=$(rss)
  ( while kill -0 "$PID" 2>/dev/null; do rss; sleep 1; done ) >"$WORK/rss.txt" 2>/dev/null &
  SAMPLER=$!
  echo "$1 streams that do not read: $($BIN/omnichat-bench ingest "http://127.0.0.1:$PORT" --rate "$RATE" --seconds "$SECONDS_RUN" --run $((60 + $1)))"
  kill $SAMPLER 2>/dev/null || true; wait $SAMPLER 2>/dev/null || true
  PEAK=$(sort -n "$WORK/rss.txt" | tail -1)
  echo "  RSS idle $((IDLE / 1024)) MiB, peak $((PEAK / 1024)) MiB under ${RATE}/s for ${SECONDS_RUN}s: $(python3 -c "print(f'{$PEAK/$IDLE:.2f}x')") of idle"
  kill $PID $READERS 2>/dev/null || true; wait $PID 2>/dev/null || true; wait $READERS 2>/dev/null || true
}
phase 0; BASE_IDLE=$IDLE; BASE_PEAK=$PEAK
phase "$STREAMS"
echo "peak with $STREAMS stalled streams / idle with them open: $(python3 -c "print(f'{$PEAK/$IDLE:.2f}x')") (target: under 2.00x)"
echo "peak with $STREAMS stalled streams / peak with none (same load): $(python3 -c "print(f'{$PEAK/$BASE_PEAK:.2f}x')"); what they cost: $(( (PEAK - BASE_PEAK) / 1024 )) MiB (budget: $STREAMS x 256 KiB = $((STREAMS / 4)) MiB)"
