#!/usr/bin/env bash
# A local Ray cluster of our own on this machine: a head and RAY_WORKERS extra nodes (Ray's own
# `ray start --address`), everything on 127.0.0.1, dashboard off, usage stats off, token auth on with a
# token of ours (never ~/.ray), temp dirs under the repo's ignored .dlgforge/.
#   ray-local.sh up       install Ray into .venv when missing, start; prints `export` lines for
#                         RAY_ADDRESS, RAY_AUTH_MODE, RAY_AUTH_TOKEN_PATH (the token stays in its 0600 file)
#                         and RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 (clients keep 127.0.0.1)
#   ray-local.sh down     stop exactly the nodes `up` started (by their raylet/GCS PIDs), safe twice
#   ray-local.sh status   say whether the head answers
# RAY_DIR (default .dlgforge/ray), RAY_PORT (default 6390), RAY_WORKERS (default 2), RAY_NODE_CPUS
# (default 2: each node's CPU count as Ray sees it; the shards mostly wait on the LLM) may be set.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
dir=${RAY_DIR:-.dlgforge/ray}
port=${RAY_PORT:-6390}
workers=${RAY_WORKERS:-2}
cpus=${RAY_NODE_CPUS:-2}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
pids=$dir/pids
# Ray's temp dirs: under .dlgforge when the path is short enough, else under /tmp (linked from $dir/tmp):
# a Unix socket path holds at most 107 bytes and Ray puts session_<date>_<pid>/sockets/plasma_store
# (about 70) below it.
if [ ${#dir} -le 30 ]; then
  tmp=$dir
else
  tmp=/tmp/dlgray-$(printf '%s' "$dir" | md5sum | cut -c1-10)
  mkdir -p "$tmp"
  ln -sfn "$tmp" "$dir/tmp"
fi
token=$dir/auth_token
ray=$root/.venv/bin/ray

export RAY_USAGE_STATS_ENABLED=0
# Only the head gets RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 (below); a client's setting must not reach the other nodes.
unset RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER
export RAY_AUTH_MODE=token
export RAY_AUTH_TOKEN_PATH=$token

ours() {  # the PIDs of every process whose temp dir is one of ours
  local p f
  for p in $(pgrep -f -- "$tmp/n" 2>/dev/null || true); do echo "$p"; done
  # Ray's agents rename themselves (ray::DashboardAgent, ray::RuntimeEnvAgent): their command line no
  # longer names the temp dir, but the log files they hold open there do. Killing the raylet leaves
  # them running as orphans, so they are found here by their open files.
  for f in /proc/[0-9]*/fd; do
    p=${f#/proc/}; p=${p%/fd}
    if ls -l "$f" 2>/dev/null | grep -qF -- "$tmp/n"; then echo "$p"; fi
  done
}

case "${1:-}" in
  up)
    scripts/ray.sh install
    if [ -s "$pids" ] && RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 timeout 30 "$ray" status --address "127.0.0.1:$port" >/dev/null 2>&1; then
      echo "dlgforge: Ray already running at 127.0.0.1:$port" >&2
    else
      [ -s "$token" ] || { umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$token"; }
      chmod 600 "$token"
      : >"$pids"
      keep_loopback='import sys, ray._private.services as s; s.resolve_ip_for_localhost = lambda h: h; from ray.scripts.scripts import main; sys.argv[0] = "ray"; sys.exit(main())'
      common=(--node-ip-address 127.0.0.1 --disable-usage-stats --num-cpus "$cpus")
      echo "dlgforge: starting a Ray head on 127.0.0.1:$port and $workers worker node(s) (temp dirs in $tmp)" >&2
      # The head: RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0, without which Ray 2.60 binds the machine's other
      # address even with --node-ip-address 127.0.0.1. Not for the other nodes: with it `ray start
      # --address` refuses to join ("multi-node clusters are not supported").
      if ! RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 "$ray" start --head --port "$port" --include-dashboard=false --temp-dir "$tmp/n0" \
          --resources '{"dlg_node_0": 1}' "${common[@]}" >"$dir/start-0.log" 2>&1; then
        tail -20 "$dir/start-0.log" >&2; "$0" down; exit 69
      fi
      for i in $(seq 1 "$workers"); do
        # Ray rewrites a loopback --address to the machine's other address before it connects
        # (services.resolve_ip_for_localhost) while the head listens on 127.0.0.1 only: the CLI is run
        # with that one rewrite turned off.
        if ! "$root/.venv/bin/python" -c "$keep_loopback" start --address "127.0.0.1:$port" --temp-dir "$tmp/n$i" \
            --resources "{\"dlg_node_$i\": 1}" "${common[@]}" >"$dir/start-$i.log" 2>&1; then
          tail -20 "$dir/start-$i.log" >&2; "$0" down; exit 69
        fi
      done
      ours >"$pids"
    fi
    printf 'export RAY_ADDRESS=%q\n' "127.0.0.1:$port"
    printf 'export RAY_AUTH_MODE=token\n'
    # Clients (ray.init) too: else they rewrite 127.0.0.1 to the machine's other address and never connect.
    printf 'export RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0\n'
    printf 'export RAY_AUTH_TOKEN_PATH=%q\n' "$token"
    ;;
  down)
    # Stop every process running from our temp dirs (raylets, GCS, workers), TERM then KILL.
    list=$( { cat "$pids" 2>/dev/null || true; ours; } | sort -u)
    if [ -n "$list" ]; then
      kill $list 2>/dev/null || true
      for _ in $(seq 1 50); do
        alive=""
        for p in $list; do kill -0 "$p" 2>/dev/null && alive="$alive $p"; done
        [ -z "$alive" ] && break
        sleep 0.2
      done
      [ -n "${alive:-}" ] && kill -9 $alive 2>/dev/null || true
    fi
    rm -f "$pids"
    # Ray leaves its session folders behind: ours under /tmp go with the cluster.
    if [ "$tmp" != "$dir" ]; then rm -rf "$tmp" "$dir/tmp"; fi
    ;;
  status)
    RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 timeout 30 "$ray" status --address "127.0.0.1:$port" >/dev/null 2>&1 && echo "ray: up at 127.0.0.1:$port" || { echo "ray: down"; exit 1; }
    ;;
  *) echo "usage: scripts/ray-local.sh up|down|status" >&2; exit 64 ;;
esac
