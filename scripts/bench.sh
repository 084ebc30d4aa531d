#!/usr/bin/env bash
# make bench: see scripts/bench.py.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v jq >/dev/null || { echo "dlgforge: installing jq (the pass-through baseline)" >&2; apt-get install -y -qq jq >/dev/null 2>&1 || true; }
exec python3 scripts/bench.py "$@"
