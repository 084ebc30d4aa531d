#!/usr/bin/env bash
# make bench: see scripts/bench.py.
set -euo pipefail
cd "$(dirname "$0")/.."
# jq is the pass-through baseline; without it that comparison is skipped.
scripts/ensure-deps.sh jq || echo "dlgforge: jq not installed; the pass-through baseline will be skipped" >&2
# The baseline client of section 8: the official openai package, in the repo's .venv.
OPENAI_VERSION=3.51.0
source scripts/venv.sh
if ! "$VENV/bin/python" -c "import openai, sys; sys.exit(openai.__version__ != '$OPENAI_VERSION')" 2>/dev/null; then
  echo "dlgforge: installing openai $OPENAI_VERSION from PyPI into $VENV (the client baseline; once)" >&2
  ensure_venv
  "$VENV/bin/pip" install -q --disable-pip-version-check "openai==$OPENAI_VERSION" \
    || echo "dlgforge: openai not installed; the client baseline will be skipped" >&2
fi
exec python3 scripts/bench.py "$@"
