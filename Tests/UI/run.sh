#!/usr/bin/env bash
# make test-ui: the console in headless Chromium against a real omnichatd and a
# fake Telegram. Installs what is missing, starts both on free ports with a temp
# database and adapters.d, runs Tests/UI/test_console.py, always stops them.
# First checks the colour contrast of console/style.css (Tests/UI/contrast.py).
# Screenshots go to ui-screenshots/ at the repo root.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
BIN=${OMNICHAT_BIN:-.build/debug/omnichatd}
if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi

# WCAG AA contrast of the colour pairs in console/style.css (no browser needed).
if ! contrast=$(python3 Tests/UI/contrast.py 2>&1); then
  echo "$contrast"; echo "FAIL: colour pairs under the WCAG AA minimum (Tests/UI/contrast.py)"; exit 1
fi
echo "contrast: ${contrast##*$'\n'}"

if ! command -v chromedriver >/dev/null 2>&1; then
  echo "installing chromium and chromium-driver"
  $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null || exit 1
fi
if ! python3 -c 'import selenium' >/dev/null 2>&1; then
  echo "installing selenium"
  python3 -m pip install -q selenium || exit 1
fi
if [ ! -x "$BIN" ]; then echo "omnichatd not found at $BIN (build it, or set OMNICHAT_BIN)"; exit 1; fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }
TMP=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

API_PORT=$(free_port)
NET_PORT=$(free_port)
mkdir -p "$TMP/adapters.d"
cat > "$TMP/adapters.d/telegram.toml" <<TOML
kind = "telegram"
token = "123456:test-token"
secret_token = "test-secret"
api_base = "http://127.0.0.1:$NET_PORT"
TOML

python3 Tests/UI/fake_network.py "$NET_PORT" >"$TMP/network.log" 2>&1 &
PIDS+=($!)
OMNICHAT_ALLOW_PRIVATE_NETWORKS=1 OMNICHAT_CONSOLE_DIR="$ROOT/console" \
OMNICHAT_ADMIN_EMAIL=admin@example.com OMNICHAT_ADMIN_PASSWORD=admin-pass-123 \
  "$BIN" serve --port "$API_PORT" --database "$TMP/omnichat.db" --adapters "$TMP/adapters.d" >"$TMP/daemon.log" 2>&1 &
PIDS+=($!)

healthy() { python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "http://127.0.0.1:$API_PORT/healthz" >/dev/null 2>&1; }
for _ in $(seq 1 100); do
  healthy && break
  sleep 0.2
done
if ! healthy; then
  echo "omnichatd did not start"; cat "$TMP/daemon.log"; exit 1
fi

mkdir -p ui-screenshots
rc=0
timeout 300 python3 Tests/UI/test_console.py \
  --base "http://127.0.0.1:$API_PORT" --network "http://127.0.0.1:$NET_PORT" \
  --screenshots "$ROOT/ui-screenshots" || rc=$?
if [ "$rc" != 0 ]; then
  echo "--- omnichatd log (last 40 lines) ---"; tail -n 40 "$TMP/daemon.log"
fi
exit "$rc"
