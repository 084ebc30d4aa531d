#!/usr/bin/env bash
# A local PostgreSQL for dlgforge (Debian `postgresql`), data under the repo's ignored .dlgforge/pg,
# listening on PG_LISTEN (127.0.0.1 unless said) only, on a port and a socket folder of its own.
#   pg.sh up        install when missing, create the cluster once, start, wait; prints the path of the
#                   DSN file (mode 0600; the password is never printed)
#   pg.sh down      stop the server `up` started (pg_ctl stop -m fast)
#   pg.sh restart   stop and start again (the tests use it for a server restart mid-run)
#   pg.sh dsn       print the DSN to put in store.postgres.dsn (or POSTGRES_DSN)
#   pg.sh status    say whether it runs
#   pg.sh purge     stop it and delete its data (PG_DIR, and the server's folder under /var/lib/dlgforge-pg)
# PG_PORT (default 54329), PG_DIR (default .dlgforge/pg), PG_LISTEN (default 127.0.0.1) and PG_PASSWORD
# (default: a random password made once per data folder, kept in PG_DIR/password, mode 0600) may be set.
# The tools connect as `dlgforge`, a role that owns the database `dlgforge` and may create databases but
# is not a superuser (a superuser can run programs on the server: COPY ... TO PROGRAM); the superuser
# `postgres` has no password and reaches the server only through the socket, in a folder only the
# server's user can enter. TCP needs the role's password (scram-sha-256), from loopback or, when
# PG_LISTEN is another address, from the networks that address is on (pg_hba `samenet`).
# initdb refuses to run as root, so as root the server runs as the `postgres` user.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$(dirname "$0")/.."
verb=${1:-}
port=${PG_PORT:-54329}
dir=${PG_DIR:-.dlgforge/pg}
# down and status need nothing made: a folder that is not there has no server to stop.
if [ ! -d "$dir" ] && [ "$verb" != up ]; then
  case "$verb" in
    down|purge) exit 0 ;;
    status) echo "stopped"; exit 3 ;;
  esac
fi
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
data=$dir/data
sock=$dir/run
log=$dir/server.log
role=dlgforge
db=dlgforge
listen=${PG_LISTEN:-127.0.0.1}
pwfile=$dir/password
dsnfile=$dir/dsn
# Our own files (password, DSN) are 0600; as root the folder must stay enterable by the server's user.
if [ "$(id -u)" -ne 0 ]; then chmod 700 "$dir"; fi
# A checkout in a folder the server's user cannot enter (root's 0700 home, say): the server's own files
# go to a folder of theirs under /var/lib/dlgforge-pg, named for this data folder; ours stay in $dir.
if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$dir" 2>/dev/null; then
  alt=/var/lib/dlgforge-pg/$(printf '%s' "$dir" | sha256sum | cut -c1-16)
  mkdir -p "$alt"
  chown postgres:postgres "$alt"
  chmod 700 "$alt"
  ln -sfn "$alt" "$dir/server"
  data=$alt/data
  sock=$alt/run
  log=$alt/server.log
fi

bindir() {
  # The newest installed PostgreSQL, installed when missing (scripts/ensure-deps.sh, the one installer).
  "$here/ensure-deps.sh" --pg-bindir
}

# Runs a server binary as the cluster's owner: `postgres` when we are root, else ourselves.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# The role's password: PG_PASSWORD, else the one made for this data folder (made on first use).
password() {
  if [ -n "${PG_PASSWORD:-}" ]; then printf '%s' "$PG_PASSWORD"; return; fi
  if [ ! -s "$pwfile" ]; then
    (umask 077; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$pwfile.tmp" && mv "$pwfile.tmp" "$pwfile")
  fi
  cat "$pwfile"
}

dsn() { echo "postgresql://$role:$(password)@$listen:$port/$db"; }

# The DSN in a file only we can read (0600 from creation), for dlg-cluster and the tests.
write_dsn() {
  (umask 077; dsn >"$dsnfile.tmp" && mv "$dsnfile.tmp" "$dsnfile")
}

running() { [ -f "$data/postmaster.pid" ] && as_owner "$BIN/pg_ctl" -D "$data" status >/dev/null 2>&1; }

init() {
  [ -f "$data/PG_VERSION" ] && return
  echo "dlgforge: creating a PostgreSQL cluster in $data (once)" >&2
  mkdir -p "$data" "$sock"
  # Each folder above must be enterable by the server's user.
  if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$data" "$sock" "$(dirname "$data")"; fi
  chmod 700 "$data" "$sock"
  as_owner "$BIN/initdb" -D "$data" -U postgres --auth-local=trust --auth-host=reject -E UTF8 --locale=C.UTF-8 \
    >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
  as_owner tee -a "$data/postgresql.conf" >/dev/null <<EOF
# dlgforge (scripts/pg.sh): one address, our own port and socket folder.
listen_addresses = '$listen'
port = $port
unix_socket_directories = '$sock'
password_encryption = 'scram-sha-256'
EOF
  # The tools' role over TCP with its password; nothing else over TCP (the superuser only by the socket).
  as_owner tee "$data/pg_hba.conf" >/dev/null <<EOF
# dlgforge (scripts/pg.sh)
local   all   all                    trust
host    all   $role   127.0.0.1/32   scram-sha-256
host    all   $role   samenet        scram-sha-256
host    all   all     0.0.0.0/0      reject
EOF
  as_owner "$BIN/pg_ctl" -D "$data" -l "$log" -w -t 60 start >/dev/null
  # The password goes in on stdin, never on a command line.
  printf "CREATE ROLE $role LOGIN CREATEDB NOSUPERUSER PASSWORD '%s';\nCREATE DATABASE $db OWNER $role;\n" "$(password)" |
    as_owner "$BIN/psql" -q -v ON_ERROR_STOP=1 -h "$sock" -p "$port" -U postgres -d postgres >/dev/null
  as_owner "$BIN/pg_ctl" -D "$data" -w -m fast stop >/dev/null
}

start() {
  if running; then return; fi
  # The port and address live in postgresql.conf; PG_PORT and PG_LISTEN can change between calls.
  as_owner sed -i -e "s/^port = .*/port = $port/" -e "s/^listen_addresses = .*/listen_addresses = '$listen'/" "$data/postgresql.conf"
  as_owner "$BIN/pg_ctl" -D "$data" -l "$log" -w -t 60 start >/dev/null ||
    { tail -20 "$log" >&2; exit 1; }
}

case "$verb" in
  up)
    BIN=$(bindir)
    init
    start
    write_dsn
    echo "dlgforge: PostgreSQL on $listen:$port (data $data); its DSN is in $dsnfile (mode 0600)" >&2
    echo "$dsnfile"
    ;;
  down)
    BIN=$(bindir)
    if running; then as_owner "$BIN/pg_ctl" -D "$data" -w -m fast stop >/dev/null; echo "dlgforge: PostgreSQL stopped" >&2; fi
    # A server still starting (an `up` killed inside pg_ctl start) has no pid file yet: it is found by
    # its data folder and stopped too (SIGINT: fast shutdown), for up to 10 s while it shows up.
    # (an initdb cut short too: it is killed after 2 s).
    for i in $(seq 1 50); do
      pids=$(pgrep -f -- "-D $data( |\$)" || true)
      [ -z "$pids" ] && [ ! -f "$data/postmaster.pid" ] && break
      if [ -n "$pids" ]; then kill "$( ((i > 10)) && echo -KILL || echo -INT)" $pids 2>/dev/null || true; fi
      if [ -z "$pids" ] && ((i > 10)); then rm -f "$data/postmaster.pid"; fi
      sleep 0.2
    done
    ;;
  restart)
    BIN=$(bindir)
    as_owner "$BIN/pg_ctl" -D "$data" -l "$log" -w -t 60 -m fast restart >/dev/null
    ;;
  purge)
    BIN=$(bindir)
    if running; then as_owner "$BIN/pg_ctl" -D "$data" -w -m fast stop >/dev/null; fi
    rm -rf "$(dirname "$data")/data" "$sock" "${alt:-}" "$dir"
    ;;
  dsn) dsn ;;
  status)
    BIN=$(bindir)
    if running; then echo "running on $listen:$port"; else echo "stopped"; exit 3; fi
    ;;
  *) echo "usage: scripts/pg.sh up|down|restart|dsn|status|purge" >&2; exit 64 ;;
esac
