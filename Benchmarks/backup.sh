#!/usr/bin/env bash
# Webhook latency while `omnichatd backup` copies a large SQLite database.
# Fills a database to SIZE_MB (default 1,024) with stored messages, starts the
# daemon on it, and sends signed webhooks of all five networks at RATE/s
# (default 500) for SECONDS (default 40) three times after a warm-up: alone,
# while `omnichatd backup --to FILE` copies the same file back to back, and
# alone again. Prints the three latency lines, how long a backup took, and
# the p99 ratio against the mean of the two baselines (target: at most 2.00x).
# All phases run in one daemon on one file, one after the other.
# Usage: bash Benchmarks/backup.sh [size_mb] [rate] [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MB=${1:-1024}
RATE=${2:-500}
SECONDS_RUN=${3:-40}
PORT=${PORT:-18098}
swift build -c release --product omnichatd >/dev/null
swift build -c release --product omnichat-bench >/dev/null
BIN=.build/release
WORK=$(mktemp -d "${TMPDIR:-/tmp}/omnichat-backup-bench.XXXXXX")
PID=; LOAD=
trap 'kill $PID $LOAD 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"' EXIT
DB=$WORK/bench.db
start() {
  OMNICHAT_LOG_LEVEL=error OMNICHAT_ADMIN_PASSWORD=bench-password \
    $BIN/omnichatd serve --port "$PORT" --database "$DB" --adapters Benchmarks/adapters.d >>"$WORK/daemon.log" 2>&1 &
  PID=$!
  for _ in $(seq 1 400); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.05; done
}
stop() { kill -TERM "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; PID=; }

# The schema, then the bulk of the file: ~1 KB messages in 1,000 resolved rooms.
start; stop
python3 - "$DB" "$SIZE_MB" <<'PY'
import sqlite3, sys, time, os
db, size_mb = sys.argv[1], int(sys.argv[2])
c = sqlite3.connect(db)
c.execute("PRAGMA synchronous = OFF")
now = time.time()
rooms = 1000
c.executemany("INSERT INTO contacts (id, channel_id, external_id, created_at, updated_at) VALUES (?, 'telegram', ?, ?, ?)",
              ((1_000_000 + i, f"bulk-{i}", now, now) for i in range(rooms)))
c.executemany("INSERT INTO rooms (id, channel_id, conversation_id, contact_id, status, created_at, resolved_at) VALUES (?, 'telegram', ?, ?, 'resolved', ?, ?)",
              ((1_000_000 + i, f"bulk-{i}", 1_000_000 + i, now, now) for i in range(rooms)))
text = ("stored history for the backup benchmark " * 25)[:1000]
content = '{"type":"text","text":"%s"}' % text
batch = 20_000
n = 0
while os.path.getsize(db) < size_mb * 1024 * 1024:
    c.executemany("INSERT INTO messages (room_id, direction, type, text, content, created_at, delivery_status) VALUES (?, 'inbound', 'text', ?, ?, ?, 'received')",
                  ((1_000_000 + (n + i) % rooms, text, content, now) for i in range(batch)))
    c.commit()
    n += batch
c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
print(f"database: {os.path.getsize(db) // (1024 * 1024)} MiB, {n} stored messages")
PY
start
load() { $BIN/omnichat-bench ingest "http://127.0.0.1:$PORT" --rate "$RATE" --seconds "$1" --run "$2"; }
p99() { sed -n 's/.* p99=\([0-9.]*\)ms.*/\1/p' <<<"$1" | head -1; }
load 10 70 >/dev/null  # warm-up: page cache, first checkpoint
BEFORE=$(load "$SECONDS_RUN" 71)
echo "without a backup:        $BEFORE"
# Backups back to back for the whole window, so every request overlaps one.
load "$SECONDS_RUN" 72 >"$WORK/during.txt" &
LOAD=$!
COPIES=0; SPENT=0
while kill -0 "$LOAD" 2>/dev/null; do
  rm -f "$WORK/backup.db"
  T0=$(date +%s.%N)
  $BIN/omnichatd backup --to "$WORK/backup.db" --database "$DB" >/dev/null
  T1=$(date +%s.%N)
  COPIES=$((COPIES + 1)); SPENT=$(python3 -c "print($SPENT + $T1 - $T0)")
done
wait $LOAD 2>/dev/null || true; LOAD=
DURING=$(cat "$WORK/during.txt")
echo "during backups:          $DURING"
AFTER=$(load "$SECONDS_RUN" 73)
echo "without a backup again:  $AFTER"
echo "$COPIES backups of $(( $(stat -c %s "$WORK/backup.db") / 1024 / 1024 )) MiB, $(python3 -c "print(f'{$SPENT / $COPIES:.1f}')") s each, back to back through the ${SECONDS_RUN} s window"
python3 - "$(p99 "$BEFORE")" "$(p99 "$DURING")" "$(p99 "$AFTER")" <<'PY'
import sys
before, during, after = (float(x) for x in sys.argv[1:])
base = (before + after) / 2
print(f"webhook p99 during backups / without (mean of before and after): {during / base:.2f}x "
      f"({during:.1f} ms / {base:.1f} ms; target: at most 2.00x)")
PY
stop
