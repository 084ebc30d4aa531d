#!/usr/bin/env bash
# A local PostgreSQL for dlgforge (Debian `postgresql`), data under the repo's ignored .dlgforge/pg,
# listening on 127.0.0.1 only, on a port and a socket folder of its own.
#   pg.sh up        install when missing, create the cluster once, start, wait; prints the DSN
#   pg.sh down      stop the server `up` started (pg_ctl stop -m fast)
#   pg.sh restart   stop and start again (the tests use it for a server restart mid-run)
#   pg.sh dsn       print the DSN to put in store.postgres.dsn (or POSTGRES_DSN)
#   pg.sh status    say whether it runs
# PG_PORT (default 54329), PG_DIR (default .dlgforge/pg) and PG_PASSWORD (default dlgforge) may be set.
# initdb refuses to run as root, so as root the server runs as the `postgres` user.
# The socket accepts local connections without a password (it sits in a folder only its owner can
# enter); TCP on 127.0.0.1 needs the role's password (scram-sha-256).
set -euo pipefail
cd "$(dirname "$0")/.."
verb=${1:-}
port=${PG_PORT:-54329}
dir=${PG_DIR:-.dlgforge/pg}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
data=$dir/data
sock=$dir/run
log=$dir/server.log
role=dlgforge
db=dlgforge
password=${PG_PASSWORD:-dlgforge}

bindir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  if [ -z "$d" ] || [ ! -x "$d/initdb" ]; then
    echo "dlgforge: installing Debian package postgresql (for make pg-up)" >&2
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
    $SUDO apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
    d=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  fi
  echo "$d"
}

# Runs a server binary as the cluster's owner: `postgres` when we are root, else ourselves.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

dsn() { echo "postgresql://$role:$password@127.0.0.1:$port/$db"; }

running() { [ -f "$data/postmaster.pid" ] && as_owner "$BIN/pg_ctl" -D "$data" status >/dev/null 2>&1; }

init() {
  [ -f "$data/PG_VERSION" ] && return
  echo "dlgforge: creating a PostgreSQL cluster in $data (once)" >&2
  mkdir -p "$data" "$sock"
  # Each folder above must be enterable by the server's user.
  if [ "$(id -u)" -eq 0 ]; then chown -R postgres:postgres "$dir"; fi
  chmod 700 "$data" "$sock"
  local pwfile
  pwfile=$(mktemp "$dir/pw.XXXXXX")
  printf '%s\n' "$password" >"$pwfile"
  if [ "$(id -u)" -eq 0 ]; then chown postgres "$pwfile"; fi
  as_owner "$BIN/initdb" -D "$data" -U "$role" --pwfile="$pwfile" --auth-local=trust \
    --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
    { rm -f "$pwfile"; cat "$dir/initdb.log" >&2; exit 1; }
  rm -f "$pwfile"
  cat >>"$data/postgresql.conf" <<EOF
# dlgforge (scripts/pg.sh): loopback only, our own port and socket folder.
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$sock'
EOF
  as_owner "$BIN/pg_ctl" -D "$data" -l "$log" -w -t 60 start >/dev/null
  as_owner "$BIN/createdb" -h "$sock" -p "$port" -U "$role" "$db"
  as_owner "$BIN/pg_ctl" -D "$data" -w -m fast stop >/dev/null
}

start() {
  if running; then return; fi
  # The port lives in postgresql.conf; PG_PORT can change between calls.
  as_owner sed -i "s/^port = .*/port = $port/" "$data/postgresql.conf"
  as_owner "$BIN/pg_ctl" -D "$data" -l "$log" -w -t 60 start >/dev/null ||
    { tail -20 "$log" >&2; exit 1; }
}

case "$verb" in
  up)
    BIN=$(bindir)
    init
    start
    echo "dlgforge: PostgreSQL on 127.0.0.1:$port (data $data); use this DSN:" >&2
    dsn
    ;;
  down)
    BIN=$(bindir)
    if running; then as_owner "$BIN/pg_ctl" -D "$data" -w -m fast stop >/dev/null; echo "dlgforge: PostgreSQL stopped" >&2; fi
    ;;
  restart)
    BIN=$(bindir)
    as_owner "$BIN/pg_ctl" -D "$data" -l "$log" -w -t 60 -m fast restart >/dev/null
    ;;
  dsn) dsn ;;
  status)
    BIN=$(bindir)
    if running; then echo "running on 127.0.0.1:$port"; else echo "stopped"; exit 3; fi
    ;;
  *) echo "usage: scripts/pg.sh up|down|restart|dsn|status" >&2; exit 64 ;;
esac
