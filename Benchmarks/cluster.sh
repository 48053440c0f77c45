#!/usr/bin/env bash
# `make bench-cluster`: ingest throughput and end-to-end latency with 1, 2 and 3
# daemons on one PostgreSQL, beside one daemon on SQLite, all in one run on this
# machine (client, daemons and PostgreSQL share its cores: compare ratios).
# SMOKE=1 runs each for a moment. Ports 18200 (fake network), 18211-18223, 5450.
set -euo pipefail
cd "$(dirname "$0")/.."
SMOKE=${SMOKE:-0}
if [ "$SMOKE" = 1 ]; then SECS=2; RATE=100; DAEMONS="1 2"; else SECS=10; RATE=${RATE:-300}; DAEMONS="1 2 3"; fi
ulimit -n 65536 2>/dev/null || true
swift build -c release --product omnichatd >/dev/null
swift build -c release --product bare-server >/dev/null
swift build -c release --product omnichat-bench >/dev/null
BIN=.build/release
WORK=$(mktemp -d)
PIDS=()
export OMNICHAT_TEST_PG_PORT=5450
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  scripts/postgres-test-server.sh stop 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
wait_http() { for _ in $(seq 1 400); do curl -sf "$1" >/dev/null && return 0; sleep 0.05; done; echo "no answer from $1"; exit 1; }
ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }
rate_of() { sed -n 's/.* rate=\([0-9.]*\)\/s.*/\1/p' <<<"$1"; }
stop_daemons() { for p in "${DAEMON_PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; DAEMON_PIDS=(); }
DAEMON_PIDS=()
start_daemon() {  # port database node
  OMNICHAT_LOG_LEVEL=error OMNICHAT_ADMIN_PASSWORD=bench-password OMNICHAT_NODE_NAME="$3" \
    $BIN/omnichatd serve --port "$1" --database "$2" --adapters Benchmarks/adapters.d >>"$WORK/daemon.log" 2>&1 &
  PIDS+=($!); DAEMON_PIDS+=($!)
  wait_http "http://127.0.0.1:$1/readyz"
}

eval "$(scripts/postgres-test-server.sh start)"
PG=${OMNICHAT_TEST_POSTGRES%/*}
PSQL="psql -h 127.0.0.1 -p 5450 -U postgres -qAt"
echo "PostgreSQL: $($PSQL -c 'SHOW server_version') on 127.0.0.1:5450; fsync=$($PSQL -c 'SHOW fsync') synchronous_commit=$($PSQL -c 'SHOW synchronous_commit') shared_buffers=$($PSQL -c 'SHOW shared_buffers') max_connections=$($PSQL -c 'SHOW max_connections'); pool_size 10 per daemon"
$BIN/bare-server 18200 --record >"$WORK/bare.log" 2>&1 & PIDS+=($!)
wait_http http://127.0.0.1:18200/stats

echo "== SQLite, one daemon (synchronous=FULL): the single-node baseline"
start_daemon 18211 "$WORK/single.db" sqlite
SQLITE=$($BIN/omnichat-bench ingest http://127.0.0.1:18211 --concurrency 64 --seconds "$SECS" --run 1); echo "ingest:  $SQLITE"
$BIN/omnichat-bench e2e http://127.0.0.1:18211 http://127.0.0.1:18200 --rate "$RATE" --seconds "$SECS" --run 2 | sed 's/^/  /'
stop_daemons

for n in $DAEMONS; do
  $PSQL -c "CREATE DATABASE bench_$n"
  URLS=""
  for i in $(seq 1 "$n"); do
    start_daemon $((18220 + i)) "$PG/bench_$n" "node$i"
    URLS="$URLS${URLS:+,}http://127.0.0.1:$((18220 + i))"
  done
  echo "== PostgreSQL, $n daemon(s)"
  R=$($BIN/omnichat-bench ingest "$URLS" --concurrency 64 --seconds "$SECS" --run $((10 + n)))
  echo "ingest:  $R"
  echo "ingest total vs SQLite single node: $(ratio "$(rate_of "$R")" "$(rate_of "$SQLITE")")   per daemon: $(python3 -c "print(f'{$(rate_of "$R")/$n:.0f}/s')")"
  RETRIES=0
  for i in $(seq 1 "$n"); do
    R_I=$(curl -s "http://127.0.0.1:$((18220 + i))/metrics" | awk '/^omnichat_store_conflict_retries / {print int($2)}')
    RETRIES=$((RETRIES + ${R_I:-0}))
  done
  echo "transactions retried after a conflict (all daemons): $RETRIES; events stored: $($PSQL -d bench_$n -c 'SELECT count(*) FROM processed_events')"
  $BIN/omnichat-bench e2e "$URLS" http://127.0.0.1:18200 --rate "$RATE" --seconds "$SECS" --run $((20 + n)) | sed 's/^/  /'
  stop_daemons
done
