#!/usr/bin/env bash
# A throw-away PostgreSQL server for the tests (CI and developers):
#   eval "$(scripts/postgres-test-server.sh start)"   # exports OMNICHAT_TEST_POSTGRES
#   scripts/postgres-test-server.sh stop
# Listens on 127.0.0.1:${OMNICHAT_TEST_PG_PORT:-5433} only, trusts local
# connections, lives in a temporary folder; initdb refuses root, so the server
# runs as the postgres user. Installs postgresql-15 when missing (as root).
set -euo pipefail
PORT=${OMNICHAT_TEST_PG_PORT:-5433}
STATE=/tmp/omnichat-test-postgres-$PORT
BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)

as_postgres() {
    if [ "$(id -u)" = 0 ]; then su postgres -c "$1"; else bash -c "$1"; fi
}

case "${1:-}" in
start)
    if [ -z "$BIN" ]; then
        if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
        $SUDO apt-get update -qq >&2 && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >&2
        BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
    fi
    if [ -f "$STATE/data/postmaster.pid" ] && as_postgres "$BIN/pg_ctl -D $STATE/data status" >/dev/null 2>&1; then
        echo "export OMNICHAT_TEST_POSTGRES=postgres://postgres@127.0.0.1:$PORT/omnichat_test"
        [ -f "$STATE/ca.crt" ] && echo "export OMNICHAT_TEST_POSTGRES_CA=$STATE/ca.crt"
        exit 0
    fi
    rm -rf "$STATE"
    mkdir -p "$STATE"
    [ "$(id -u)" = 0 ] && chown postgres "$STATE"
    as_postgres "$BIN/initdb -D $STATE/data -U postgres --auth=trust -E UTF8 --locale=C.UTF-8" >"$STATE.init.log" 2>&1 \
        || { cat "$STATE.init.log" >&2; exit 1; }
    # TLS too (a self-signed certificate for 127.0.0.1), so sslmode is tested.
    SSL=""
    if command -v openssl >/dev/null; then
        openssl req -new -x509 -days 7 -nodes -subj /CN=localhost -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
            -keyout "$STATE/data/server.key" -out "$STATE/data/server.crt" >/dev/null 2>&1
        cp "$STATE/data/server.crt" "$STATE/ca.crt"
        chmod 600 "$STATE/data/server.key"
        [ "$(id -u)" = 0 ] && chown postgres "$STATE/data/server.key" "$STATE/data/server.crt"
        chmod 644 "$STATE/ca.crt"
        SSL="-c ssl=on"
    fi
    # Many test daemons connect at once: room for them. The rest are defaults
    # (fsync on: the durability the tests assert is the real one).
    as_postgres "$BIN/pg_ctl -D $STATE/data -l $STATE/log -w -o '-c listen_addresses=127.0.0.1 -c port=$PORT -c unix_socket_directories=$STATE -c max_connections=600 -c shared_buffers=256MB $SSL' start" >&2
    "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -qc 'CREATE DATABASE omnichat_test' >&2
    echo "export OMNICHAT_TEST_POSTGRES=postgres://postgres@127.0.0.1:$PORT/omnichat_test"
    [ -n "$SSL" ] && echo "export OMNICHAT_TEST_POSTGRES_CA=$STATE/ca.crt"
    true
    ;;
stop)
    if [ -n "$BIN" ] && [ -d "$STATE/data" ]; then
        as_postgres "$BIN/pg_ctl -D $STATE/data -m fast -w stop" >&2 || true
    fi
    rm -rf "$STATE" "$STATE.init.log"
    ;;
*)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
