#!/usr/bin/env bash
# The dlg-cluster life-cycle soak (issue 22; not part of make test: an `up` takes about 20 s here):
# CYCLES (default 50) rounds of `dlg-cluster up` then `down` on this machine (a Ray head, 2 worker nodes
# and PostgreSQL on 127.0.0.1), each with a fresh state folder. Every `up` and `down` must end within
# its limit (a hang fails the soak), and after each `down` no process may be left that uses the round's
# folders (Ray's temp folder, PostgreSQL's data). With KILL=1 every other round kills `up` (its whole
# process group, as Ctrl-C or a closed terminal would) at a random moment in its first 20 s before the
# `down`: whatever it had started must still be stopped.
#   scripts/cluster-soak.sh [CYCLES]        BIN (default .build/debug), KILL (default 0) may be set
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
cycles=${1:-${CYCLES:-50}}
bin=${BIN:-.build/debug}
kill_some=${KILL:-0}
up_limit=180
down_limit=120
work=$(mktemp -d /tmp/dlg-soak-XXXXXX)
cp -r examples/. "$work/"
export DLG_CLUSTER_RAY_PORT=${SOAK_RAY_PORT:-6480} DLG_CLUSTER_PG_PORT=${SOAK_PG_PORT:-54380}
unset RAY_ADDRESS
failures=0

# Processes that use a round's folders: found by command line or open files, zombies aside.
leftovers() {
  local state=$1 paths=("$1") p f
  for f in "$state/ray/tmp" "$state/pg/server"; do [ -L "$f" ] && paths+=("$(readlink "$f")"); done
  for p in /proc/[0-9]*; do
    [ "$(awk '{print $3}' "$p/stat" 2>/dev/null)" = Z ] && continue
    for f in "${paths[@]}"; do
      if { tr '\0' ' ' <"$p/cmdline" | grep -qF -- "$f"; } 2>/dev/null || ls -l "$p/fd" 2>/dev/null | grep -qF -- "$f"; then
        echo "${p#/proc/}: $({ tr '\0' ' ' <"$p/cmdline" | cut -c1-150; } 2>/dev/null)"
        break
      fi
    done
  done
}

for i in $(seq 1 "$cycles"); do
  state=$work/state-$i
  export DLG_CLUSTER_DIR=$state
  started=$(date +%s.%N)
  if [ "$kill_some" = 1 ] && ((i % 2 == 0)); then
    after=$(awk -v s="$RANDOM" 'BEGIN { srand(s); printf "%.1f", 1 + rand() * 19 }')
    setsid "$bin/dlg-cluster" up -c "$work/config.yaml" >"$work/up-$i.log" 2>&1 &
    pid=$!
    sleep "$after"
    kill -KILL -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    what="up killed after ${after}s"
  else
    if ! timeout "$up_limit" "$bin/dlg-cluster" up -c "$work/config.yaml" >"$work/up-$i.log" 2>&1; then
      echo "soak: round $i: up failed or hung (limit ${up_limit}s): $(tail -3 "$work/up-$i.log")" >&2
      failures=$((failures + 1))
    fi
    what="up $(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')s"
  fi
  t=$(date +%s.%N)
  if ! timeout "$down_limit" "$bin/dlg-cluster" down -c "$work/config.yaml" >"$work/down-$i.log" 2>&1; then
    echo "soak: round $i: down failed or hung (limit ${down_limit}s): $(tail -3 "$work/down-$i.log")" >&2
    failures=$((failures + 1))
  fi
  # Twice, 3 s apart: a process still starting when down looked (a killed up's last child) shows up late.
  left=$(leftovers "$state")
  if [ -z "$left" ]; then sleep 3; left=$(leftovers "$state"); fi
  if [ -n "$left" ]; then
    echo "soak: round $i: left running after down:" >&2
    echo "$left" >&2
    failures=$((failures + 1))
    for p in $(echo "$left" | cut -d: -f1); do kill -9 "$p" 2>/dev/null || true; done
  fi
  echo "soak: round $i/$cycles: $what, down $(awk -v a="$t" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')s, $( [ -z "$left" ] && echo "nothing left" || echo "LEFTOVERS")"
done
rm -rf "$work"
echo "soak: $cycles round(s), $failures failure(s)"
((failures == 0))
