#!/usr/bin/env bash
# Ray for dlgforge (PyPI `ray`, pinned): installing it, and the Ray nodes dlg-cluster starts on this host.
#   ray.sh install   install ray==$RAY_VERSION into .venv when missing (about 80 MB, about 2 min; says so)
#   ray.sh python    print the path of the Python that has Ray (installs first when missing)
#   ray.sh up        a head and RAY_WORKERS extra nodes on RAY_LISTEN; prints `export` lines for
#                    RAY_ADDRESS, RAY_AUTH_MODE, RAY_AUTH_TOKEN_PATH (the token stays in its 0600 file)
#                    and, on loopback, RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 (clients keep 127.0.0.1)
#   ray.sh down      stop exactly the nodes `up` started (found by their temp folder), safe twice
#   ray.sh status    say whether the head answers
# RAY_DIR (default .dlgforge/ray), RAY_PORT (default 6390), RAY_LISTEN (default 127.0.0.1),
# RAY_WORKERS (extra nodes on this host; default 2 on loopback, 0 elsewhere), RAY_NODE_CPUS (default 2:
# each extra node's CPUs as Ray sees them; the shards mostly wait on the LLM), RAY_HEAD_CPUS (default
# RAY_NODE_CPUS; 0 keeps the shards off the head) and RAY_PYTHON (a Python with Ray, instead of .venv)
# may be set. Dashboard off, usage stats off, token auth on with a token of ours (never ~/.ray).
# Off loopback the ports are fixed from RAY_PORT (RAY_PORT+1..+6 and RAY_PORT+10..+109 for workers), so
# a firewall can let exactly those through: `dlg-cluster status` lists them.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
RAY_VERSION=2.60.0
dir=${RAY_DIR:-.dlgforge/ray}
port=${RAY_PORT:-6390}
listen=${RAY_LISTEN:-127.0.0.1}
case "$listen" in 127.*|localhost) loopback=1 ;; *) loopback=0 ;; esac
workers=${RAY_WORKERS:-$((loopback ? 2 : 0))}
cpus=${RAY_NODE_CPUS:-2}
head_cpus=${RAY_HEAD_CPUS:-$cpus}

have_ray() {
  [ -x "$1" ] && "$1" -c "import ray, sys; sys.exit(ray.__version__ != '$RAY_VERSION')" 2>/dev/null
}

install() {
  if [ -n "${RAY_PYTHON:-}" ]; then
    have_ray "$RAY_PYTHON" || { echo "dlgforge: $RAY_PYTHON has no ray $RAY_VERSION (pip install 'ray==$RAY_VERSION')" >&2; exit 69; }
    return
  fi
  . scripts/venv.sh
  have_ray "$VENV/bin/python" && return
  echo "dlgforge: installing Ray $RAY_VERSION from PyPI into $VENV (about 80 MB, about 2 min; once)" >&2
  ensure_venv
  "$VENV/bin/pip" install -q --disable-pip-version-check "ray==$RAY_VERSION"
  have_ray "$VENV/bin/python" || { echo "dlgforge: ray $RAY_VERSION not importable after install" >&2; exit 69; }
}

python_path() { if [ -n "${RAY_PYTHON:-}" ]; then echo "$RAY_PYTHON"; else echo "$root/.venv/bin/python"; fi; }

case "${1:-}" in
  install) install; exit 0 ;;
  python) install; python_path; exit 0 ;;
esac

mkdir -p "$dir"
chmod 700 "$dir"
dir=$(cd "$dir" && pwd)
# Ray's temp folders: a fresh folder from mktemp (a Unix socket path holds at most 107 bytes and Ray puts
# session_<date>_<pid>/sockets/plasma_store, about 70, below it, so not under a long checkout path),
# linked from $dir/tmp for `down`.
tmp=$(readlink "$dir/tmp" 2>/dev/null || true)
token=$dir/auth_token
python=$(python_path)
# Loopback clients and the loopback head need RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 (below); nobody else.
loopback_env=()
if ((loopback)); then loopback_env=(RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0); fi

export RAY_USAGE_STATS_ENABLED=0
# Only a loopback head gets RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 (below); a client's setting must not reach the other nodes.
unset RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER
export RAY_AUTH_MODE=token
export RAY_AUTH_TOKEN_PATH=$token
# The shards' package cache on this host (scripts/cluster_driver.py): every node started here shares it.
export DLG_WORKER_CACHE=$dir/worker-cache

ours() {  # the PIDs of every process whose temp dir is one of ours
  [ -n "$tmp" ] || return 0
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

fixed_ports() {  # off loopback, every port a node opens, fixed so a firewall can name them
  ((loopback)) && return 0
  echo --node-manager-port $((port + 1)) --object-manager-port $((port + 2)) --runtime-env-agent-port $((port + 3)) \
    --metrics-export-port $((port + 4)) --dashboard-agent-grpc-port $((port + 5)) --dashboard-agent-listen-port $((port + 6)) \
    --min-worker-port $((port + 10)) --max-worker-port $((port + 109))
}

case "${1:-}" in
  up)
    install
    if [ -n "$tmp" ] && [ -n "$(ours)" ] && env "${loopback_env[@]}" timeout 30 "$python" -m ray.scripts.scripts status --address "$listen:$port" >/dev/null 2>&1; then
      echo "dlgforge: Ray already running at $listen:$port" >&2
    else
      [ -s "$token" ] || (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$token")
      tmp=$(mktemp -d /tmp/dlgray-XXXXXXXX)
      ln -sfn "$tmp" "$dir/tmp"
      # shellcheck disable=SC2207
      ports=($(fixed_ports))
      common=(--node-ip-address "$listen" --disable-usage-stats "${ports[@]}")
      echo "dlgforge: starting a Ray head on $listen:$port ($head_cpus CPUs) and $workers worker node(s) (temp dirs in $tmp)" >&2
      # The head. On loopback RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0, without which Ray 2.60 binds the machine's
      # other address even with --node-ip-address 127.0.0.1. Not for the other nodes: with it `ray start
      # --address` refuses to join ("multi-node clusters are not supported").
      # The nodes run in a session of their own (setsid): whatever ends the caller's process group or
      # session (a closed terminal, a test harness) must not take the cluster with it.
      if ! env "${loopback_env[@]}" setsid -w "$python" -m ray.scripts.scripts start --head --port "$port" \
          --include-dashboard=false --temp-dir "$tmp/n0" --num-cpus "$head_cpus" --resources '{"dlg_node_0": 1}' \
          "${common[@]}" >"$dir/start-0.log" 2>&1; then
        tail -20 "$dir/start-0.log" >&2; "$0" down; exit 69
      fi
      keep_loopback='import sys, ray._private.services as s; s.resolve_ip_for_localhost = lambda h: h; from ray.scripts.scripts import main; sys.argv[0] = "ray"; sys.exit(main())'
      for i in $(seq 1 "$workers"); do
        # Ray rewrites a loopback --address to the machine's other address before it connects
        # (services.resolve_ip_for_localhost) while the head listens on 127.0.0.1 only: the CLI is run
        # with that one rewrite turned off.
        if ! setsid -w "$python" -c "$keep_loopback" start --address "$listen:$port" --temp-dir "$tmp/n$i" --num-cpus "$cpus" \
            --resources "{\"dlg_node_$i\": 1}" "${common[@]}" >"$dir/start-$i.log" 2>&1; then
          tail -20 "$dir/start-$i.log" >&2; "$0" down; exit 69
        fi
      done
    fi
    printf 'export RAY_ADDRESS=%q\n' "$listen:$port"
    printf 'export RAY_AUTH_MODE=token\n'
    # Clients (ray.init) too: else they rewrite 127.0.0.1 to the machine's other address and never connect.
    if ((loopback)); then printf 'export RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0\n'; fi
    printf 'export RAY_AUTH_TOKEN_PATH=%q\n' "$token"
    ;;
  down)
    # Stop every process running from our temp dirs (raylets, GCS, workers), TERM then KILL; again while
    # any is found: an `up` killed mid-start may leave a `ray start` that is still starting more.
    for pass in 1 2 3 4 5; do
      list=$(ours | sort -u)
      [ -z "$list" ] && break
      kill $list 2>/dev/null || true
      for _ in $(seq 1 50); do
        alive=""
        for p in $list; do kill -0 "$p" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" != Z ] && alive="$alive $p"; done
        [ -z "$alive" ] && break
        sleep 0.2
      done
      [ -n "${alive:-}" ] && kill -9 $alive 2>/dev/null || true
      sleep 0.5
    done
    # Ray leaves its session folders behind: ours go with the cluster, and the shards' package cache.
    case "$tmp" in /tmp/dlgray-*) rm -rf "$tmp" ;; esac
    rm -rf "$dir/tmp" "$dir/worker-cache"
    ;;
  status)
    env "${loopback_env[@]}" timeout 30 "$python" -m ray.scripts.scripts status --address "$listen:$port" >/dev/null 2>&1 && echo "ray: up at $listen:$port" || { echo "ray: down"; exit 1; }
    ;;
  *) echo "usage: scripts/ray.sh install|python|up|down|status" >&2; exit 64 ;;
esac
