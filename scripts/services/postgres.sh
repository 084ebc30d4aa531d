#!/usr/bin/env bash
# The test PostgreSQL (scripts/pg.sh on a port and folder of its own), for scripts/test.sh (`make test`):
#   postgres.sh var    the variable its tests read (DLG_PG_DSN)
#   postgres.sh up     start it (install and create the cluster when missing); prints the `export` line
#                      for DLG_PG_DSN, so: eval "$(scripts/services/postgres.sh up)"
#   postgres.sh down   stop it
# TEST_PG_PORT (default 54339) and TEST_PG_DIR (default .dlgforge/pg-test) keep it apart from the server
# `make pg-up` starts for the user.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PG_PORT=${TEST_PG_PORT:-54339}
export PG_DIR=${TEST_PG_DIR:-.dlgforge/pg-test}
case "${1:-}" in
  var) echo DLG_PG_DSN ;;
  up)
    dsnfile=$(scripts/pg.sh up)
    printf 'export DLG_PG_DSN=%q\n' "$(cat "$dsnfile")"
    ;;
  down) scripts/pg.sh down ;;
  *) echo "usage: scripts/services/postgres.sh var|up|down" >&2; exit 64 ;;
esac
