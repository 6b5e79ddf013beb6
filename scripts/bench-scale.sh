#!/usr/bin/env bash
# Pacer at organisation scale: metric latency, report time, memory and start-up of
# `pacer serve` over a store of about 10,000,000 events (docs/benchmarks.md).
#
#   scripts/bench-scale.sh                 # generate + import 10.8M events (~10 min), then measure
#   BENCH_DB=/path/big.db scripts/bench-scale.sh   # measure a store built earlier (kept with BENCH_KEEP=1)
#   BENCH_URL=postgres://... scripts/bench-scale.sh  # measure a database loaded earlier (any URL;
#                          # load PostgreSQL with the same generate + `pacer import --database URL`)
#
# The history: `pacer demo generate --services 10000 --days 1765 --deploys-per-day 0.2`
# (3,530,000 deployments, 7,060,100 changes, 193,439 incidents: 10,783,539 events over
# 4.8 years, 10,000 services in teams of 20), imported with `pacer import`.
# Measured, one request at a time from curl, after the server has started:
#   * start-up: from exec to the first answered GET /healthz;
#   * 200 GET /api/v1/metrics?service=<random>&days=30: p50, p90, p99;
#   * 5 GET /api/v1/report?days=30 (10,000 services, 500 teams, the organisation);
#   * VmRSS/VmHWM (and RssAnon/RssFile) of the server after each step.
# Environment: PACER_BIN (default: cargo build --release), BENCH_DIR (default: a temp dir
# under the repository's target/, on disk), BENCH_DB, BENCH_KEEP, BENCH_QUERIES [200],
# BENCH_REPORTS [5].
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
queries=${BENCH_QUERIES:-200}
reports=${BENCH_REPORTS:-5}
end="2026-12-01T00:00:00Z"

if [[ -z "${PACER_BIN:-}" ]]; then
    (cd "$root" && cargo build --release -p pacer >&2)
    PACER_BIN="$root/target/release/pacer"
fi
pacer_bin=$PACER_BIN
# Pacer reads every PACER_* variable as a setting: none of the caller's reaches it.
for v in $(compgen -e | grep '^PACER_' || true); do unset "$v"; done

if [[ -n "${BENCH_DIR:-}" ]]; then
    dir=$BENCH_DIR
    mkdir -p "$dir"
    made_dir=""
else
    mkdir -p "$root/target"
    dir=$(mktemp -d "$root/target/bench-scale.XXXXXX")
    made_dir=1
fi
server_pid=""
cleanup() {
    [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null || true
    [[ -n "${BENCH_KEEP:-}" ]] && return
    # Only what this script wrote: a BENCH_DIR given by the caller stays.
    rm -f "$dir"/{services.txt,metrics.txt,report.txt,report.json,serve.log,big.jsonl}
    [[ -z "${BENCH_DB:-}${BENCH_URL:-}" ]] && rm -f "$dir"/big.db "$dir"/big.db-wal "$dir"/big.db-shm
    [[ -n "$made_dir" ]] && rmdir "$dir" 2>/dev/null
    true
}
trap cleanup EXIT

db=${BENCH_DB:-$dir/big.db}
db_url=${BENCH_URL:-sqlite://$db}
if [[ -z "${BENCH_DB:-}" && -z "${BENCH_URL:-}" ]]; then
    echo "generating and importing into $db (kept: ${BENCH_KEEP:-no})" >&2
    "$pacer_bin" demo generate --services 10000 --days 1765 --deploys-per-day 0.2 \
        --end "$end" --output "$dir/big.jsonl" >&2
    /usr/bin/time -f "import: %e s wall, %M KiB peak RSS" \
        "$pacer_bin" import "$dir/big.jsonl" --database "sqlite://$db" --quiet >&2
    rm -f "$dir/big.jsonl"
fi

status() { grep -E "^($1):" "/proc/$server_pid/status" | awk '{printf "%s %d MiB  ", $1, $2/1024}'; }
port=$((20000 + RANDOM % 20000))
url="http://127.0.0.1:$port"
started=$(date +%s%N)
PACER_LIMITS__RATE_PER_SECOND=0 "$pacer_bin" serve --database "$db_url" \
    --listen "127.0.0.1:$port" >"$dir/serve.log" 2>&1 &
server_pid=$!
until curl -sf -o /dev/null "$url/healthz"; do
    kill -0 "$server_pid" 2>/dev/null || { cat "$dir/serve.log" >&2; exit 1; }
    sleep 0.005
done
ready=$(date +%s%N)
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); pacer $("$pacer_bin" --version)"
if [[ -z "${BENCH_URL:-}" ]]; then echo "store: $(du -h "$db" | cut -f1) $db"; else echo "store: ${BENCH_URL%%\?*}"; fi
echo "start-up to first /healthz answer: $(((ready - started) / 1000000)) ms;  $(status 'VmRSS|VmHWM')"

percentile() { sort -n "$1" | awk -v p="$2" '{a[NR]=$1} END {i=int(NR*p/100+0.5); if (i<1) i=1; printf "%.1f", a[i]*1000}'; }
# Two passes over the same random services: the first reads their pages from the disk
# (or the OS cache, whatever it kept), the second finds them in memory.
for _ in $(seq "$queries"); do printf "svc-%04d\n" $((RANDOM % 10000)); done >"$dir/services.txt"
for pass in first second; do
    : >"$dir/metrics.txt"
    while read -r svc; do
        curl -sf -o /dev/null -w "%{time_total}\n" \
            "$url/api/v1/metrics?service=$svc&days=30&end=$end" >>"$dir/metrics.txt"
    done <"$dir/services.txt"
    echo "GET /api/v1/metrics?service=<random of 10,000>&days=30, $queries requests, $pass pass: p50 $(percentile "$dir/metrics.txt" 50) ms, p90 $(percentile "$dir/metrics.txt" 90) ms, p99 $(percentile "$dir/metrics.txt" 99) ms;  $(status 'VmRSS|VmHWM')"
done
: >"$dir/report.txt"
for i in $(seq "$reports"); do
    curl -sf -o "$dir/report.json" -w "%{time_total}\n" "$url/api/v1/report?days=30&end=$end" >>"$dir/report.txt"
done
echo "GET /api/v1/report?days=30 ($(wc -c <"$dir/report.json") bytes), $reports runs: $(awk '{printf "%.2f s  ", $1}' "$dir/report.txt")"
sleep 1
echo "after the reports: $(status 'VmRSS|VmHWM|RssAnon|RssFile')"
