#!/usr/bin/env bash
# The services the tests use, started and stopped for `make test` and `.ci/run`.
#   test-services.sh pg-up    start the test PostgreSQL (scripts/pg.sh on its own port and folder);
#                             prints `export` lines for DLG_PG_DSN and DLG_PG_RESTART, so:
#                             eval "$(scripts/test-services.sh pg-up)"
#   test-services.sh pg-down  stop it
# TEST_PG_PORT (default 54339) keeps it apart from the server `make pg-up` starts for the user.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export PG_PORT=${TEST_PG_PORT:-54339}
export PG_DIR=${TEST_PG_DIR:-.dlgforge/pg-test}
case "${1:-}" in
  pg-up)
    dsn=$(scripts/pg.sh up)
    printf 'export DLG_PG_DSN=%q\n' "$dsn"
    printf 'export DLG_PG_RESTART=%q\n' "PG_PORT=$PG_PORT PG_DIR=$root/$PG_DIR $root/scripts/pg.sh restart"
    ;;
  pg-down) scripts/pg.sh down ;;
  *) echo "usage: scripts/test-services.sh pg-up|pg-down" >&2; exit 64 ;;
esac
