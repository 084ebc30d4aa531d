#!/usr/bin/env bash
# The test Ray cluster (scripts/ray.sh: a head and 2 worker nodes on 127.0.0.1, a port and folder
# of their own), for scripts/test.sh (`make test`):
#   ray.sh var    the variable its tests read (DLG_RAY_ADDRESS)
#   ray.sh up     install Ray into .venv when missing, start; prints the `export` lines
#   ray.sh down   stop exactly the nodes `up` started
# TEST_RAY_PORT (default 6391) and TEST_RAY_DIR (default .dlgforge/ray-t) keep it apart from a cluster
# `dlg-cluster up` starts for the user.
set -euo pipefail
cd "$(dirname "$0")/../.."
export RAY_PORT=${TEST_RAY_PORT:-6391}
export RAY_DIR=${TEST_RAY_DIR:-.dlgforge/ray-t}
export RAY_WORKERS=2
case "${1:-}" in
  var) echo DLG_RAY_ADDRESS ;;
  up)
    exports=$(scripts/ray.sh up)
    echo "$exports"
    eval "$exports"
    printf 'export DLG_RAY_ADDRESS=%q\n' "$RAY_ADDRESS"
    ;;
  down) scripts/ray.sh down ;;
  *) echo "usage: scripts/services/ray.sh var|up|down" >&2; exit 64 ;;
esac
