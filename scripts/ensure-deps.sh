#!/usr/bin/env bash
# Installs the Debian packages the build links against (and pdftotext), only when they are missing.
# `ensure-deps.sh test` adds what only the test suite uses (headless Chromium for the report test,
# the PostgreSQL server).
set -euo pipefail
need=()
pkg-config --exists jansson 2>/dev/null || need+=(libjansson-dev)
pkg-config --exists libcurl 2>/dev/null || need+=(libcurl4-openssl-dev)
pkg-config --exists libpq 2>/dev/null || need+=(libpq-dev)
pkg-config --exists sqlite3 2>/dev/null || need+=(libsqlite3-dev)
command -v pkg-config >/dev/null || need+=(pkg-config)
# Not linked: pdftotext reads PDFs in knowledge/ (and the tests' PDF fixture).
command -v pdftotext >/dev/null || need+=(poppler-utils)
if [ "${1:-}" = test ]; then
  # Not linked: the report test opens report.html in headless Chromium; the store tests use a server.
  command -v chromium >/dev/null || need+=(chromium)
  [ -x /usr/lib/postgresql/15/bin/initdb ] || need+=(postgresql)
fi
if ((${#need[@]})); then
  echo "dlgforge: installing Debian packages: ${need[*]}" >&2
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
