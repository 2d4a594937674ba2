#!/usr/bin/env bash
# Throwaway PostgreSQL 15 + PostGIS cluster for tests.
#
#   pg_test_cluster.sh start DIR PORT   # create (if needed) + start; last stdout line = URL
#   pg_test_cluster.sh stop DIR         # stop the server (keeps DIR)
#   pg_test_cluster.sh destroy DIR      # stop + rm -rf DIR
#
# - Must run as root (it drops to the `postgres` OS user for initdb/pg_ctl) or
#   as postgres itself.
# - Listens on 127.0.0.1:PORT only (plus a unix socket inside DIR), trust auth,
#   durability switched off (fsync=off etc.): never point this at real data.
# - Idempotent: if a server is already running in DIR, it only makes sure the
#   database + postgis exist and prints the URL again.
# - All progress goes to stderr; stdout carries only the URL, so
#   URL=$(pg_test_cluster.sh start "$DIR" 55432) works.
set -euo pipefail

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PG_TEST_DB=${PG_TEST_DB:-fleettickets_test}
PG_OS_USER=${PG_OS_USER:-postgres}

# Don't let the caller's libpq environment change where/how we connect.
unset PGHOST PGHOSTADDR PGPORT PGUSER PGDATABASE PGPASSWORD PGPASSFILE \
  PGSERVICE PGSERVICEFILE PGSSLMODE PGOPTIONS PGDATA PGTZ PGCONNECT_TIMEOUT

log() { printf 'pg_test_cluster: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
usage() {
  echo "usage: $0 start DIR PORT | stop DIR | destroy DIR" >&2
  exit 2
}

# Run a command as the postgres OS user (root can't run postgres).
# cd / first so the server/initdb don't warn about an unreadable cwd (/root).
as_pg() {
  if [[ $(id -un) == "$PG_OS_USER" ]]; then
    (cd / && "$@")
  else
    (cd / && runuser -u "$PG_OS_USER" -- "$@")
  fi
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# psql over TCP as the postgres role (trust auth) -- also proves the URL works.
sql() {
  local db=$1
  shift
  "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres \
    -d "$db" "$@"
}

is_running() { [[ -f $DATA/PG_VERSION ]] && as_pg "$PGBIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; }

running_port() { sed -n 4p "$DATA/postmaster.pid" 2>/dev/null; }

url() { printf 'postgres://postgres@127.0.0.1:%s/%s\n' "$PORT" "$PG_TEST_DB"; }

ensure_db() {
  if [[ $(sql postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$PG_TEST_DB'") != 1 ]]; then
    log "creating database $PG_TEST_DB"
    sql postgres -c "CREATE DATABASE \"$PG_TEST_DB\""
  fi
  sql "$PG_TEST_DB" -c 'SET client_min_messages = warning; CREATE EXTENSION IF NOT EXISTS postgis'
  log "$(sql "$PG_TEST_DB" -tAc 'SELECT postgis_version()' | sed 's/^/postgis /')"
}

init_cluster() {
  local locale=C.UTF-8
  locale -a 2>/dev/null | grep -qiE '^c\.utf-?8$' || locale=C
  log "initdb in $DATA (locale $locale, UTF8)"
  as_pg "$PGBIN/initdb" -D "$DATA" -U postgres -A trust -E UTF8 \
    --locale="$locale" --no-sync >"$DIR/initdb.log" 2>&1 ||
    {
      cat "$DIR/initdb.log" >&2
      die "initdb failed"
    }
  # Local-only, trust, no durability: this cluster is disposable.
  as_pg tee -a "$DATA/postgresql.conf" >/dev/null <<EOF

# --- pg_test_cluster.sh (throwaway test cluster) ---
listen_addresses = '127.0.0.1'
unix_socket_directories = '$DIR'
fsync = off
synchronous_commit = off
full_page_writes = off
wal_level = minimal
max_wal_senders = 0
checkpoint_timeout = 1h
max_wal_size = 1GB
jit = off
timezone = 'UTC'
log_timezone = 'UTC'
logging_collector = off
log_min_messages = warning
EOF
  as_pg tee "$DATA/pg_hba.conf" >/dev/null <<'EOF'
# TYPE  DATABASE  USER  ADDRESS        METHOD
local   all       all                  trust
host    all       all   127.0.0.1/32   trust
EOF
  init_tls
}

# TLS offered, not required (clients without sslmode connect in plain text as before): a CA of
# its own signs the server's certificate for 127.0.0.1 and localhost; the CA's certificate is
# $DIR/ca.crt (what a client names as sslrootcert). Skipped without openssl.
init_tls() {
  command -v openssl >/dev/null || {
    log "openssl not found: no TLS"
    return 0
  }
  local tls=$DIR/tls
  mkdir -p "$tls"
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=fleettickets test CA" \
    -keyout "$tls/ca.key" -out "$tls/ca.crt" >/dev/null 2>&1 &&
    openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
      -keyout "$tls/server.key" -out "$tls/server.csr" >/dev/null 2>&1 &&
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$tls/san.ext" &&
    openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.crt" -CAkey "$tls/ca.key" \
      -CAcreateserial -days 30 -extfile "$tls/san.ext" -out "$tls/server.crt" >/dev/null 2>&1 ||
    die "could not make the test cluster's TLS certificates"
  install -m 600 "$tls/server.key" "$DATA/server.key"
  install -m 644 "$tls/server.crt" "$DATA/server.crt"
  if [[ $(id -u) == 0 ]]; then chown "$PG_OS_USER:" "$DATA/server.key" "$DATA/server.crt"; fi
  install -m 644 "$tls/ca.crt" "$DIR/ca.crt"
  rm -rf "$tls"
  as_pg tee -a "$DATA/postgresql.conf" >/dev/null <<'EOF'
ssl = on
EOF
}

cmd_start() {
  [[ -x $PGBIN/initdb && -x $PGBIN/pg_ctl ]] ||
    die "PostgreSQL 15 not found in $PGBIN (apt-get install -y postgresql-15-postgis-3)"
  [[ -f /usr/share/postgresql/15/extension/postgis.control ]] ||
    die "PostGIS for PG15 not installed (apt-get install -y postgresql-15-postgis-3)"
  getent passwd "$PG_OS_USER" >/dev/null || die "OS user $PG_OS_USER does not exist"
  [[ $PORT =~ ^[0-9]+$ ]] || die "PORT must be a number, got '$PORT'"

  mkdir -p "$DIR"
  if [[ $(id -u) == 0 ]]; then
    chown "$PG_OS_USER:" "$DIR"
    chmod 700 "$DIR"
  fi
  as_pg test -w "$DIR" -a -x "$DIR" ||
    die "$DIR not usable by $PG_OS_USER (a parent directory is probably not traversable, e.g. mktemp -d under /root)"

  if is_running; then
    local p
    p=$(running_port)
    if [[ -n $p && $p != "$PORT" ]]; then
      log "server already running in $DIR on port $p (asked for $PORT); using $p"
      PORT=$p
    else
      log "server already running in $DIR on port $PORT"
    fi
  else
    port_in_use "$PORT" && die "port $PORT on 127.0.0.1 is already in use"
    [[ -f $DATA/PG_VERSION ]] || init_cluster
    # A cluster made before TLS was offered gets it now (it is not running: read at start).
    [[ -f $DATA/server.crt ]] || init_tls
    log "starting server on 127.0.0.1:$PORT (log: $DIR/postgres.log)"
    # -l matters: without it the server inherits our stdout and $(...) would hang.
    if ! as_pg "$PGBIN/pg_ctl" -D "$DATA" -l "$DIR/postgres.log" -w -t 60 \
      -o "-p $PORT" start >/dev/null; then
      tail -n 30 "$DIR/postgres.log" >&2 || true
      die "server failed to start"
    fi
  fi
  ensure_db
  url
}

cmd_stop() {
  if [[ ! -f $DATA/PG_VERSION ]]; then
    log "no cluster in $DIR"
    return 0
  fi
  if is_running; then
    log "stopping server in $DIR"
    if ! as_pg "$PGBIN/pg_ctl" -D "$DATA" -m fast -w -t 30 stop >/dev/null; then
      log "fast stop failed, trying immediate"
      as_pg "$PGBIN/pg_ctl" -D "$DATA" -m immediate -w -t 30 stop >/dev/null
    fi
  else
    log "server in $DIR not running"
  fi
}

cmd=${1:-}
DIR=${2:-}
[[ -n $cmd && -n $DIR ]] || usage
DIR=$(realpath -m -- "$DIR")
DATA=$DIR/data
case $cmd in
start)
  [[ $# -eq 3 ]] || usage
  PORT=$3
  cmd_start
  ;;
stop)
  cmd_stop
  ;;
destroy)
  cmd_stop
  rm -rf -- "$DIR"
  ;;
*) usage ;;
esac
