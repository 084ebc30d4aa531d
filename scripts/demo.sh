#!/usr/bin/env bash
# make demo: a real generation on the bundled example with a small LLM on the CPU, no API key.
# Installs the server into .venv once, starts it on 127.0.0.1, runs dlg-run, stops it, summarises.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-.build/debug}
config=${2:-examples/demo.yaml}
port=${3:-8080}
threads=${4:-1}

started_here=0
if ! curl -sf "http://127.0.0.1:$port/v1/models" >/dev/null 2>&1; then
  scripts/llm-server.sh up "$port" "$threads"
  started_here=1
fi
stop() { if [ "$started_here" = 1 ]; then scripts/llm-server.sh down "$port"; fi; }
trap stop EXIT

run_id="demo-$(date +%Y%m%d-%H%M%S)"
echo "dlgforge: generating with SmolLM2-135M on the CPU (config $config, run $run_id); this takes about a minute" >&2
summary=$(LLM_PORT=$port "$bin/dlg-run" --config "$config" --run-id "$run_id")
echo "$summary" | python3 -c '
import json, sys
s = json.loads(sys.stdin.read())
dropped = ", ".join(f"{n} {why}" for why, n in s["dropped"].items()) or "none"
print()
print(f"dataset:      {s['"'"'output_dir'"'"']}/conversations_sharegpt_judged.jsonl (and turns.jsonl, conversations/)")
print(f"dialogues:    {s['"'"'dialogues'"'"']} completed  {s['"'"'completed'"'"']}")
print(f"turns:        {s['"'"'turns'"'"']}")
print(f"dropped:      {dropped}")
print(f"judge score:  {s['"'"'mean_judge_score'"'"']} (mean, 0-10)")
t = s["tokens"]
print(f"tokens:       {t['"'"'prompt_tokens'"'"']} prompt + {t['"'"'completion_tokens'"'"']} completion in {t['"'"'requests'"'"']} requests")
print(f"wall time:    {s['"'"'wall_seconds'"'"']} s")
'
