#!/usr/bin/env bash
# The one installer of Debian packages: every script that needs one calls this, and it installs (with
# apt-get, through sudo when not root) only what is missing, saying so.
#   ensure-deps.sh                  the build's packages (`build`)
#   ensure-deps.sh WHAT...          each WHAT a group below or a Debian package name
#   ensure-deps.sh --pg-bindir      the newest installed PostgreSQL's bin folder (installs postgresql
#                                   when there is none); the version is found, not assumed
# Groups:
#   build    what the build links against (jansson, libcurl, libpq, SQLite, pkg-config) and pdftotext,
#            which reads the PDFs in knowledge/ (make build, make run, make deps)
#   test     build, and what the test suite runs (make test, .ci/run): python3 and its venv (the
#            stand-ins, the local LLM, Ray), curl, pgrep (procps), script (bsdutils), man (man-db),
#            setsid, unshare and runuser (util-linux) and ip (iproute2) for the test hosts, strip
#            (binutils) for make install, headless Chromium for the report test, the PostgreSQL server
# A package is looked for by what it provides (a command, a pkg-config module), else with dpkg.
set -euo pipefail
# ip lives in /usr/sbin, outside a user's PATH on Debian.
export PATH=$PATH:/usr/sbin:/sbin

BUILD=(libjansson-dev libcurl4-openssl-dev libpq-dev libsqlite3-dev pkg-config poppler-utils)
TEST=("${BUILD[@]}" python3 python3-venv curl procps bsdutils man-db util-linux iproute2 binutils chromium postgresql)

# The newest PostgreSQL's bin folder with an initdb in it, or nothing.
pg_bindir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  if [ -n "$d" ] && [ -x "$d/initdb" ]; then echo "$d"; fi
}

# Exit 0 when package $1 is there.
present() {
  case "$1" in
    libjansson-dev) pkg-config --exists jansson 2>/dev/null ;;
    libcurl4-openssl-dev) pkg-config --exists libcurl 2>/dev/null ;;
    libpq-dev) pkg-config --exists libpq 2>/dev/null ;;
    libsqlite3-dev) pkg-config --exists sqlite3 2>/dev/null ;;
    pkg-config) command -v pkg-config >/dev/null ;;
    poppler-utils) command -v pdftotext >/dev/null ;;
    python3) command -v python3 >/dev/null ;;
    # What `python3 -m venv` needs and Debian moves into python3-venv.
    python3-venv) python3 -c 'import ensurepip, venv' 2>/dev/null ;;
    curl) command -v curl >/dev/null ;;
    jq) command -v jq >/dev/null ;;
    procps) command -v pgrep >/dev/null ;;
    bsdutils) command -v script >/dev/null ;;
    man-db) command -v man >/dev/null ;;
    util-linux) command -v setsid >/dev/null && command -v unshare >/dev/null && command -v runuser >/dev/null ;;
    iproute2) command -v ip >/dev/null ;;
    binutils) command -v strip >/dev/null ;;
    chromium) command -v chromium >/dev/null ;;
    postgresql) [ -n "$(pg_bindir)" ] ;;
    *) dpkg -s "$1" 2>/dev/null | grep -q '^Status: install ok installed' ;;
  esac
}

install_missing() {
  local need=() p
  for p in "$@"; do present "$p" || need+=("$p"); done
  ((${#need[@]})) || return 0
  echo "dlgforge: installing Debian packages: ${need[*]}" >&2
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then sudo=(sudo); fi
  # stdout stays clean: --pg-bindir prints a path there.
  "${sudo[@]}" apt-get update -qq >&2
  # Through env: sudo would drop DEBIAN_FRONTEND from the environment.
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
}

if [ "${1:-}" = --pg-bindir ]; then
  install_missing postgresql
  d=$(pg_bindir)
  [ -n "$d" ] || { echo "dlgforge: postgresql is installed but no /usr/lib/postgresql/*/bin/initdb was found" >&2; exit 69; }
  echo "$d"
  exit 0
fi

want=()
(($#)) || set -- build
for w in "$@"; do
  case "$w" in
    build) want+=("${BUILD[@]}") ;;
    test) want+=("${TEST[@]}") ;;
    -*) echo "usage: ensure-deps.sh [build | test | PACKAGE]... | --pg-bindir" >&2; exit 64 ;;
    *) want+=("$w") ;;
  esac
done
install_missing "${want[@]}"
