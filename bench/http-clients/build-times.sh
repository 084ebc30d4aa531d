#!/usr/bin/env bash
# Times clean builds of this package, each in a fresh scratch folder (dependencies cloned from the
# local git mirror or cache, so resolution is included). Slow: several minutes per line on 2 cores.
#   ./build-times.sh [release|debug]...      (default: release)
# Lines: with AsyncHTTPClient; without it (BENCH_NO_AHC=1: URLSession + libcurl only); and only the
# swift-nio part of AsyncHTTPClient's graph (NIOHTTP1), which the main package already builds for
# dlg-mock, so "with" minus "nio only" approximates what AsyncHTTPClient would add to the main build.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
configs=("$@"); (( ${#configs[@]} )) || configs=(release)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
time_build() { # $1 = label, rest = command
    local label=$1; shift
    rm -rf "$scratch/b"
    local t0=$SECONDS
    if "$@" --scratch-path "$scratch/b" >"$scratch/log" 2>&1; then
        printf '%-40s %4d s   (load average before: %s)\n' "$label" $(( SECONDS - t0 )) "$load"
    else
        printf '%-40s FAILED (see below)\n' "$label"; tail -20 "$scratch/log"
    fi
}
for c in "${configs[@]}"; do
    load=$(cut -d' ' -f1-3 /proc/loadavg); time_build "$c, with AsyncHTTPClient" swift build -c "$c"
    load=$(cut -d' ' -f1-3 /proc/loadavg); time_build "$c, without AsyncHTTPClient" env BENCH_NO_AHC=1 swift build -c "$c"
    load=$(cut -d' ' -f1-3 /proc/loadavg); time_build "$c, swift-nio part only (NIOHTTP1)" swift build -c "$c" --target NIOHTTP1
done
