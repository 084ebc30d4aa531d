#!/usr/bin/env bash
# make demo: a real generation on the bundled example with a small LLM on the CPU, no API key.
# Installs the server into .venv once, starts it on 127.0.0.1, runs dlg-run, stops it, summarises.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-.build/debug}
config=${2:-examples/demo.yaml}
port=${3:-8080}
threads=${4:-1}
scripts/ensure-deps.sh curl

started_here=0
if ! curl -sf "http://127.0.0.1:$port/v1/models" >/dev/null 2>&1; then
  scripts/llm-server.sh up "$port" "$threads"
  started_here=1
fi
stop() { if [ "$started_here" = 1 ]; then scripts/llm-server.sh down "$port"; fi; }
trap stop EXIT

run_id="demo-$(date +%Y%m%d-%H%M%S)"
echo "dlgforge: generating with SmolLM2-135M on the CPU (config $config, run $run_id); this takes one to four minutes" >&2
# On a terminal dlg-run ends with a summary for people (where the dataset is, dialogues, turns, dropped
# and why, judge score, tokens, wall time); in a pipe, with its one-line JSON summary.
LLM_PORT=$port "$bin/dlg-run" --config "$config" --run-id "$run_id"
