#!/usr/bin/env bash
# Runs the three HTTP client candidates against dlg-mock and prints a Markdown table of medians.
#
#   cd bench/http-clients && swift build -c release && ./run.sh
#
# The mock is the project's dlg-mock, preferably a release build:
#   (cd ../.. && swift build -c release --product dlg-mock --scratch-path .build-bench)
# Environment: MOCK (path to dlg-mock), RUNS (3), N (20000), C (256), N_SLOW (3000), LATENCY_SLOW (200),
# N_IDLE (512; 0 skips), LATENCY_IDLE (2000), CLIENTS ("urlsession curl ahc"), MOCK_CPU (0),
# CLIENT_CPU (1). Each run is bounded by `timeout 60`.
# Scenario 1: N requests with C in flight, mock latency 0 ms. Scenario 2: N_SLOW requests with C in
# flight, mock latency LATENCY_SLOW ms (ideal throughput C / latency). Scenario 3 (mostly waiting):
# N_IDLE requests, mock latency LATENCY_IDLE ms; its "CPU % of a core" is the cost of waiting.
# Medians of RUNS runs per column.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin="$here/.build/release"
RUNS=${RUNS:-3}; N=${N:-20000}; C=${C:-256}; N_SLOW=${N_SLOW:-3000}; LATENCY_SLOW=${LATENCY_SLOW:-200}
N_IDLE=${N_IDLE:-512}; LATENCY_IDLE=${LATENCY_IDLE:-2000}
CLIENTS=${CLIENTS:-"urlsession curl ahc"}; MOCK_CPU=${MOCK_CPU:-0}; CLIENT_CPU=${CLIENT_CPU:-1}
if [[ -z "${MOCK:-}" ]]; then
    for m in "$root/.build-bench/release/dlg-mock" "$root/.build/release/dlg-mock" "$root/.build/debug/dlg-mock"; do
        if [[ -x "$m" ]]; then MOCK=$m; break; fi
    done
fi
[[ -x "${MOCK:-}" ]] || { echo "run.sh: no dlg-mock found; set MOCK" >&2; exit 1; }
[[ "$MOCK" == */release/* ]] || echo "run.sh: warning: $MOCK is not a release build; the mock may be the bottleneck" >&2

clients=()
for c in $CLIENTS; do
    if [[ -x "$bin/bench-$c" ]]; then clients+=("$c"); else echo "run.sh: skipping $c ($bin/bench-$c not built)" >&2; fi
done
(( ${#clients[@]} > 0 )) || { echo "run.sh: nothing built; run 'swift build -c release' first" >&2; exit 1; }

work=$(mktemp -d)
mock_pid=""
stop_mock() { if [[ -n "$mock_pid" ]]; then kill "$mock_pid" 2>/dev/null || true; wait "$mock_pid" 2>/dev/null || true; mock_pid=""; fi; }
trap 'stop_mock; rm -rf "$work"' EXIT

start_mock() { # $1 = latency ms; sets url
    taskset -c "$MOCK_CPU" "$MOCK" --port 0 --latency-ms "$1" >"$work/mock.out" 2>"$work/mock.err" &
    mock_pid=$!
    for _ in $(seq 100); do
        url=$(grep -o 'http://[^ ]*/v1' "$work/mock.out" 2>/dev/null || true)
        [[ -n "$url" ]] && return 0
        sleep 0.1
    done
    echo "run.sh: dlg-mock did not start: $(cat "$work/mock.err")" >&2; exit 1
}

results="$work/results.txt"
: >"$results"
run_scenario() { # $1 = scenario name, $2 = latency ms, $3 = requests
    start_mock "$2"
    echo "# scenario $1: mock latency $2 ms, $3 requests, $C in flight, $url" >&2
    for run in $(seq "$RUNS"); do
        for c in "${clients[@]}"; do   # interleaved, so machine noise spreads over all candidates
            line=$(taskset -c "$CLIENT_CPU" timeout 60 "$bin/bench-$c" --url "$url" --requests "$3" --concurrency "$C" | grep '^RESULT') \
                || line="RESULT client=$c failed=1"
            echo "  run $run: ${line#RESULT }" >&2
            echo "scenario=$1 $line" >>"$results"
        done
    done
    stop_mock
}

run_scenario zero 0 "$N"
run_scenario slow "$LATENCY_SLOW" "$N_SLOW"
if (( N_IDLE > 0 )); then run_scenario idle "$LATENCY_IDLE" "$N_IDLE"; fi

# Medians per (scenario, client) of each column, then one Markdown table.
awk -v ideal="$(( C * 1000 / LATENCY_SLOW ))" -v lat="$LATENCY_SLOW" -v n="$N" -v ns="$N_SLOW" -v c="$C" -v runs="$RUNS" \
    -v ideal_idle="$(( C * 1000 / LATENCY_IDLE ))" -v lat_idle="$LATENCY_IDLE" -v ni="$N_IDLE" '
function median(key,    k, m, i, j, t, a) {
    m = cnt[key]; for (i = 1; i <= m; i++) a[i] = val[key, i]
    for (i = 2; i <= m; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    if (m == 0) return "n/a"
    return (m % 2) ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
}
{
    s = ""; cl = ""
    for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
    s = f["scenario"]; cl = f["client"]
    if (!((s, cl) in seen)) { seen[s, cl] = 1; order[++no] = s SUBSEP cl }
    if (f["failed"] == 1) { failed[s, cl]++; delete f; next }
    for (k in f) if (k != "scenario" && k != "client") { key = s SUBSEP cl SUBSEP k; val[key, ++cnt[key]] = f[k] }
    delete f
}
END {
    printf "| scenario | client | wall s | req/s | client CPU s | CPU µs/req | CPU %% of a core | max RSS MiB | errors |\n"
    printf "|---|---|---:|---:|---:|---:|---:|---:|---:|\n"
    for (o = 1; o <= no; o++) {
        split(order[o], p, SUBSEP); s = p[1]; cl = p[2]; b = s SUBSEP cl SUBSEP
        if (s == "zero") label = "0 ms, " n " req"
        else if (s == "slow") label = lat " ms, " ns " req (ideal " ideal "/s)"
        else label = lat_idle " ms, " ni " req (ideal " ideal_idle "/s)"
        if (cnt[b "wall_s"] == 0) { printf "| %s | %s | failed | | | | | | |\n", label, cl; continue }
        busy = 100 * median(b "cpu_s") / median(b "wall_s")
        printf "| %s | %s | %.2f | %.0f | %.2f | %.0f | %.0f | %.1f | %s |\n", label, cl, median(b "wall_s"),
            median(b "req_per_s"), median(b "cpu_s"), median(b "cpu_us_per_req"), busy, median(b "max_rss_mib"),
            median(b "errors") (failed[s, cl] ? " (+" failed[s, cl] " failed runs)" : "")
    }
    printf "\nMedians of %d runs each, %d in flight; mock on CPU '"$MOCK_CPU"', client on CPU '"$CLIENT_CPU"'. CPU %% of a core = median CPU s / median wall s.\n", runs, c
}' "$results"
