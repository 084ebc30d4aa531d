#!/usr/bin/env bash
# Test hosts on this machine that share only a network, for the multi-host cluster tests (make test)
# and the cluster bench: one Linux network namespace per host, each with a veth pair whose other end
# sits on a bridge in a namespace of its own, private addresses 10.231.7.x/24, `lo` up. Nothing here
# touches the machine's own interfaces, and nothing listens outside these namespaces.
#
#   testhosts.sh up            make the hosts (h0 10.231.7.1, h1 .2, h2 .3); prints `export` lines
#   testhosts.sh down          kill every process on the hosts, delete the namespaces (safe twice)
#   testhosts.sh exec H CMD..  run CMD on host H (0, 1, 2): in its network namespace; on a worker host
#                              (1, 2) also in a private mount namespace where the checkout and /tmp are
#                              empty tmpfs folders, so it sees neither; Ray's Python is reachable there
#                              at $TESTHOSTS_DIR/ray-venv (a read-only bind of the checkout's .venv)
#   testhosts.sh netexec H CMD..  run CMD on host H's network only (it sees this machine's files: a
#                              server of the test's, such as the mock LLM, placed on that host)
#   testhosts.sh kill H        every process of host H killed at once (SIGKILL): the host is lost
#   testhosts.sh pids H        the host's processes
#   testhosts.sh check         exit 0 when this machine can make hosts, else say why (exit 69)
#
# Needs root and iproute2 (`ip netns`), which CI has; without them `up` fails and says so.
# TESTHOSTS_PREFIX (default dlgt) names the namespaces; TESTHOSTS_DIR (default
# /var/lib/dlgforge-testhosts) holds what the worker hosts may see: Ray's Python and an installed dlg.
set -euo pipefail
export PATH=$PATH:/usr/sbin:/sbin
# The commands run on a host keep the caller's folder; the checkout is found from this script.
root=$(cd "$(dirname "$0")/.." && pwd)
prefix=${TESTHOSTS_PREFIX:-dlgt}
hostsdir=${TESTHOSTS_DIR:-/var/lib/dlgforge-testhosts}
subnet=10.231.7
hosts=(0 1 2)

ns() { echo "$prefix-h$1"; }
addr() { echo "$subnet.$(($1 + 1))"; }
bridge_ns="$prefix-br"

check() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "testhosts: the multi-host tests need root (network and mount namespaces); run make test as root" >&2
    return 69
  fi
  if ! command -v ip >/dev/null || ! ip netns list >/dev/null 2>&1; then
    echo "testhosts: the multi-host tests need iproute2 (ip netns): apt-get install iproute2" >&2
    return 69
  fi
  if ! command -v unshare >/dev/null; then
    echo "testhosts: the multi-host tests need unshare (util-linux)" >&2
    return 69
  fi
}

host_pids() { ip netns pids "$(ns "$1")" 2>/dev/null || true; }

down() {
  local h
  for h in "${hosts[@]}"; do
    if ip netns list | grep -qw "$(ns "$h")"; then
      # shellcheck disable=SC2046
      kill -9 $(host_pids "$h") 2>/dev/null || true
    fi
  done
  sleep 0.2
  for h in "${hosts[@]}"; do ip netns del "$(ns "$h")" 2>/dev/null || true; done
  ip netns del "$bridge_ns" 2>/dev/null || true
  if mountpoint -q "$hostsdir/ray-venv" 2>/dev/null; then umount "$hostsdir/ray-venv" || true; fi
}

# Whether host $1 reaches address $2: a TCP connection to a closed port is refused at once by a host
# that is there (no ping on these machines); silence until the timeout means it is not.
reaches() {
  local out
  out=$(ip netns exec "$(ns "$1")" timeout 3 bash -c "exec 3<>/dev/tcp/$2/9" 2>&1) && return 0
  [[ $out == *"refused"* ]]
}

up() {
  check
  down
  mkdir -p "$hostsdir/ray-venv"
  chmod 755 "$hostsdir"
  ip netns add "$bridge_ns"
  ip -n "$bridge_ns" link set lo up
  ip -n "$bridge_ns" link add br0 type bridge
  ip -n "$bridge_ns" link set br0 up
  local h n
  for h in "${hosts[@]}"; do
    n=$(ns "$h")
    ip netns add "$n"
    ip -n "$n" link set lo up
    # The veth pair is made inside the bridge's namespace, one end then moved to the host's: the
    # machine's own namespace never holds either end.
    ip -n "$bridge_ns" link add "h$h" type veth peer name "eth0-h$h"
    ip -n "$bridge_ns" link set "eth0-h$h" netns "$n"
    ip -n "$n" link set "eth0-h$h" name eth0
    ip -n "$n" addr add "$(addr "$h")/24" dev eth0
    ip -n "$n" link set eth0 up
    ip -n "$bridge_ns" link set "h$h" master br0
    ip -n "$bridge_ns" link set "h$h" up
  done
  # Every host reaches every other one.
  for h in "${hosts[@]}"; do
    for o in "${hosts[@]}"; do
      [ "$h" = "$o" ] && continue
      reaches "$h" "$(addr "$o")" ||
        { echo "testhosts: host $h cannot reach $(addr "$o")" >&2; down; exit 69; }
    done
  done
  echo "testhosts: hosts h0 $(addr 0), h1 $(addr 1), h2 $(addr 2) on a private bridge (namespaces $prefix-*)" >&2
  printf 'export DLG_TEST_HOSTS=%q\n' "$(addr 0) $(addr 1) $(addr 2)"
  printf 'export DLG_TEST_HOSTS_SCRIPT=%q\n' "$root/scripts/testhosts.sh"
  printf 'export DLG_TEST_HOSTS_DIR=%q\n' "$hostsdir"
}

# Runs a command on host $1. A worker host gets a private mount namespace in which the checkout and
# /tmp are empty, and Ray's Python (the checkout's .venv) is bound read-only outside the checkout.
run_on() {
  local h=$1; shift
  local n; n=$(ns "$h")
  if [ "$h" = 0 ]; then exec ip netns exec "$n" "$@"; fi
  local venv=$root/.venv
  # shellcheck disable=SC2016
  exec ip netns exec "$n" unshare -m --propagation private sh -c '
    set -e
    venv=$1 target=$2 checkout=$3; shift 3
    if [ -d "$venv" ]; then mount --bind "$venv" "$target"; mount -o remount,ro,bind "$target"; fi
    mount -t tmpfs tmpfs "$checkout"
    mount -t tmpfs tmpfs /tmp
    exec "$@"' sh "$venv" "$hostsdir/ray-venv" "$root" "$@"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  check) check ;;
  exec) shift; h=$1; shift; run_on "$h" "$@" ;;
  netexec) shift; h=$1; shift; exec ip netns exec "$(ns "$h")" "$@" ;;
  kill)
    # shellcheck disable=SC2046
    kill -9 $(host_pids "$2") 2>/dev/null || true
    ;;
  pids) host_pids "$2" ;;
  *) echo "usage: scripts/testhosts.sh up|down|check|exec H CMD...|netexec H CMD...|kill H|pids H" >&2; exit 64 ;;
esac
