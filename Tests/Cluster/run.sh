#!/usr/bin/env bash
# make test-cluster: three omnichatd sharing one PostgreSQL database behind
# nginx, with node2 SIGKILLed halfway; prints the counts, exits non-zero when
# an invariant is broken (Tests/Cluster/cluster_test.py says which).
#
# PostgreSQL: with OMNICHAT_TEST_POSTGRES=postgres://user@host:port/db a fresh
# database omnichat_cluster_<pid> is created on that server and dropped at the
# end; otherwise a throw-away cluster is started (Debian's postgresql-15,
# installed when missing) and removed. nginx (installed when missing) listens
# on 127.0.0.1:18310 in front of the daemons on 18311, 18312 and 18313, with
# its config in a temp folder (nothing in /etc/nginx is used).
#
# Environment: OMNICHAT_BIN (default .build/debug/omnichatd),
# OMNICHAT_TEST_POSTGRES, OMNICHAT_CLUSTER_SEED (replay a run's traffic),
# OMNICHAT_CLUSTER_KEEP=1 (keep the temp folder: logs, configs),
# OMNICHAT_CLUSTER_SQLITE=1 (negative control: the same run on one SQLite
# file, which has no leases: expected to FAIL with duplicate deliveries).
# Extra arguments go to cluster_test.py (see --help there).
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
BIN=${OMNICHAT_BIN:-$ROOT/.build/debug/omnichatd}
case "$BIN" in /*) ;; *) BIN="$ROOT/$BIN" ;; esac
PG_BIN=/usr/lib/postgresql/15/bin
LB_PORT=18310
NODE_PORTS="18311 18312 18313"
if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi

say() { echo "cluster: $*"; }
die() { echo "cluster: $*" >&2; exit 1; }

[ -x "$BIN" ] || die "omnichatd not found at $BIN (build it, or set OMNICHAT_BIN)"
command -v python3 >/dev/null || die "python3 is required"

install_debs() {
  say "installing $*"
  $SUDO apt-get update -qq >/dev/null && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null \
    || die "could not install $*"
}
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || install_debs nginx
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if [ -z "${OMNICHAT_TEST_POSTGRES:-}" ] && [ -z "${OMNICHAT_CLUSTER_SQLITE:-}" ] && [ ! -x "$PG_BIN/initdb" ]; then
  install_debs postgresql-15
fi
command -v psql >/dev/null 2>&1 || install_debs postgresql-client

port_busy() { python3 -c 'import socket,sys; s=socket.socket(); sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else 1)' "$1"; }
for p in $LB_PORT $NODE_PORTS; do
  port_busy "$p" && die "port $p on 127.0.0.1 is in use (the cluster test needs 18310-18313)"
done

TMP=$(mktemp -d /tmp/omnichat-cluster.XXXXXX)
chmod 755 "$TMP"
PGD=
PG_STARTED=
DB_NAME=
ADMIN_URL=
NGINX_PID=
DRIVER_PID=

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$DRIVER_PID" ] && kill -0 "$DRIVER_PID" 2>/dev/null; then
    kill -TERM "$DRIVER_PID" 2>/dev/null
    for _ in $(seq 1 40); do kill -0 "$DRIVER_PID" 2>/dev/null || break; sleep 0.25; done
    kill -KILL "$DRIVER_PID" 2>/dev/null
  fi
  # Whatever the driver started (daemons), by pid.
  if [ -f "$TMP/pids" ]; then
    while read -r p; do
      [ -n "$p" ] && kill -KILL "$p" 2>/dev/null
    done < "$TMP/pids"
  fi
  if [ -n "$NGINX_PID" ]; then
    kill -QUIT "$NGINX_PID" 2>/dev/null
    for _ in $(seq 1 20); do kill -0 "$NGINX_PID" 2>/dev/null || break; sleep 0.25; done
    kill -KILL "$NGINX_PID" 2>/dev/null
    wait "$NGINX_PID" 2>/dev/null
  fi
  if [ -n "$DB_NAME" ] && [ -n "$ADMIN_URL" ] && [ -z "$PG_STARTED" ]; then
    psql -X -q "$ADMIN_URL" -c "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" >/dev/null 2>&1 \
      || { psql -X -q "$ADMIN_URL" -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '$DB_NAME'" >/dev/null 2>&1
           psql -X -q "$ADMIN_URL" -c "DROP DATABASE IF EXISTS $DB_NAME" >/dev/null 2>&1; } \
      || echo "cluster: could not drop database $DB_NAME" >&2
  fi
  if [ -n "$PG_STARTED" ]; then
    as_postgres "$PG_BIN/pg_ctl" -D "$PGD/data" -m fast -w stop >/dev/null 2>&1
  fi
  [ -n "$PGD" ] && rm -rf "$PGD"
  if [ -n "${OMNICHAT_CLUSTER_KEEP:-}" ]; then
    echo "cluster: kept $TMP"
  else
    rm -rf "$TMP"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# ---- the database ------------------------------------------------------------
if [ -n "${OMNICHAT_CLUSTER_SQLITE:-}" ]; then
  DATABASE="$TMP/omnichat.db"
  say "negative control: three daemons on one SQLite file ($DATABASE); expect FAIL"
elif [ -n "${OMNICHAT_TEST_POSTGRES:-}" ]; then
  ADMIN_URL=${OMNICHAT_TEST_POSTGRES%%\?*}
  DB_NAME="omnichat_cluster_$$"
  psql -X -q -v ON_ERROR_STOP=1 "$ADMIN_URL" -c "CREATE DATABASE $DB_NAME" >/dev/null \
    || die "cannot create database $DB_NAME with $ADMIN_URL"
  DATABASE=$(python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/" + sys.argv[2], query="")))' "$ADMIN_URL" "$DB_NAME")
  say "database $DB_NAME on $(python3 -c 'import sys, urllib.parse as u; print(u.urlsplit(sys.argv[1]).netloc.split("@")[-1])' "$ADMIN_URL")"
else
  PG_PORT=5444
  if port_busy $PG_PORT; then PG_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'); fi
  PGD=$(mktemp -d /tmp/omnichat-cluster-pg.XXXXXX)
  chmod 755 "$PGD"
  [ "$(id -u)" = 0 ] && chown postgres "$PGD"
  as_postgres "$PG_BIN/initdb" -D "$PGD/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$PGD/initdb.log" 2>&1 \
    || { cat "$PGD/initdb.log"; die "initdb failed"; }
  as_postgres "$PG_BIN/pg_ctl" -D "$PGD/data" -l "$PGD/log" -w -t 30 \
    -o "-c listen_addresses=127.0.0.1 -c port=$PG_PORT -c unix_socket_directories=$PGD -c max_connections=300" start >/dev/null \
    || { cat "$PGD/log"; die "PostgreSQL did not start"; }
  PG_STARTED=1
  DB_NAME=omnichat_cluster
  ADMIN_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
  psql -X -q -v ON_ERROR_STOP=1 "$ADMIN_URL" -c "CREATE DATABASE $DB_NAME" >/dev/null || die "cannot create database"
  DATABASE="postgres://postgres@127.0.0.1:$PG_PORT/$DB_NAME"
  say "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT (throw-away cluster in $PGD)"
fi

# ---- nginx ---------------------------------------------------------------------
mkdir -p "$TMP/nginx/temp"
chmod 777 "$TMP/nginx/temp"
UPSTREAMS=""
for p in $NODE_PORTS; do UPSTREAMS="$UPSTREAMS        server 127.0.0.1:$p max_fails=1 fail_timeout=3s;
"; done
cat > "$TMP/nginx/nginx.conf" <<NGINX
worker_processes 1;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log warn;
events { worker_connections 1024; }
http {
    log_format upstreams '\$remote_addr "\$request" \$status up=\$upstream_addr up_status=\$upstream_status t=\$request_time';
    access_log $TMP/nginx/access.log upstreams;
    client_body_temp_path $TMP/nginx/temp/body;
    proxy_temp_path $TMP/nginx/temp/proxy;
    fastcgi_temp_path $TMP/nginx/temp/fastcgi;
    uwsgi_temp_path $TMP/nginx/temp/uwsgi;
    scgi_temp_path $TMP/nginx/temp/scgi;
    client_max_body_size 2m;
    client_body_buffer_size 2m;

    upstream omnichat {
$UPSTREAMS        keepalive 32;
    }

    server {
        listen 127.0.0.1:$LB_PORT;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host \$http_host;
        proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto \$scheme;
        proxy_set_header X-Real-IP \$remote_addr;
        proxy_connect_timeout 1s;
        proxy_send_timeout 10s;
        proxy_read_timeout 10s;
        proxy_max_temp_file_size 0;
        proxy_next_upstream error timeout http_502 http_503;
        proxy_next_upstream_tries 3;
        proxy_next_upstream_timeout 10s;
        # Which daemon answered (the last one when nginx moved on): the test redelivers elsewhere.
        add_header X-Upstream \$upstream_addr always;

        # Webhooks are deduplicated by event id, so even a POST may go to the next daemon.
        location /webhooks/ {
            proxy_pass http://omnichat;
            proxy_next_upstream error timeout http_502 http_503 non_idempotent;
        }
        # Server-sent events: no buffering, long reads.
        location = /api/v1/events {
            proxy_pass http://omnichat;
            proxy_buffering off;
            proxy_cache off;
            proxy_read_timeout 1h;
        }
        location / {
            proxy_pass http://omnichat;
        }
    }
}
NGINX
"$NGINX" -t -q -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -e "$TMP/nginx/error.log" \
  || { cat "$TMP/nginx/error.log"; die "nginx refused its configuration"; }
"$NGINX" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -e "$TMP/nginx/error.log" -g 'daemon off;' &
NGINX_PID=$!
for _ in $(seq 1 40); do port_busy $LB_PORT && break; sleep 0.25; done
port_busy $LB_PORT || { cat "$TMP/nginx/error.log"; die "nginx did not start"; }
say "nginx $("$NGINX" -v 2>&1 | sed 's/.*nginx\///') on 127.0.0.1:$LB_PORT -> $NODE_PORTS"
say "omnichatd: $BIN"

# ---- the run -------------------------------------------------------------------
timeout -s TERM 240 python3 -u "$ROOT/Tests/Cluster/cluster_test.py" \
  --bin "$BIN" --database "$DATABASE" --tmp "$TMP" "$@" &
DRIVER_PID=$!
wait "$DRIVER_PID"
rc=$?
DRIVER_PID=
if [ "$rc" = 124 ]; then echo "cluster: FAIL: the run took longer than 240 s"; fi
if [ "$rc" != 0 ] && [ -s "$TMP/nginx/error.log" ]; then
  echo "--- nginx error log (last 10 lines) ---"; tail -n 10 "$TMP/nginx/error.log"
fi
exit "$rc"
