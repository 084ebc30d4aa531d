#!/usr/bin/env bash
# The test hosts (scripts/testhosts.sh: three network namespaces on a private bridge), for
# scripts/test.sh (`make test`):
#   hosts.sh var    the variable its tests read (DLG_TEST_HOSTS)
#   hosts.sh up     make the hosts; prints the `export` lines. Where this machine cannot (not root, no
#                   iproute2) it says why in DLG_TEST_HOSTS_MISSING and the multi-host tests fail with
#                   that reason: they are never skipped in silence.
#   hosts.sh down   kill what runs on them and delete them
set -euo pipefail
cd "$(dirname "$0")/../.."
case "${1:-}" in
  var) echo DLG_TEST_HOSTS ;;
  up)
    if ! why=$(scripts/testhosts.sh check 2>&1); then
      printf 'export DLG_TEST_HOSTS_MISSING=%q\n' "$why"
      exit 0
    fi
    scripts/ray.sh install
    scripts/testhosts.sh up
    ;;
  down) scripts/testhosts.sh down ;;
  *) echo "usage: scripts/services/hosts.sh var|up|down" >&2; exit 64 ;;
esac
