#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ one after another (never in parallel: each takes a
# core) for a bounded time, then prints executions and findings per target.
#
#   scripts/fuzz-all.sh [SECONDS_PER_TARGET] [TARGET...]     (default: 60 s, every target)
#
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`). Runs without a sanitizer (-s none)
# so the stable toolchain works; see docs/fuzzing.md. New inputs go to fuzz/corpus/<t>,
# seeds are read from fuzz/seeds/<t>, crashes land in fuzz/artifacts/<t>. Logs: fuzz/target/fuzz-logs/.
# The webhook and API targets leave a scratch SQLite file in $TMPDIR/pacer-fuzz-<pid>; removed
# after each target.
set -uo pipefail

cd "$(dirname "$0")/../fuzz"
seconds="${1:-60}"
shift || true
if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi

logs=target/fuzz-logs
mkdir -p "$logs"
# Build once up front, so the time budget is spent fuzzing.
cargo fuzz build -s none || exit 1

failed=0
printf '%-22s %8s %14s %10s %8s  %s\n' target seconds executions exec/s corpus result
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "seeds/$t"
    dict=()
    [ -f "$t.dict" ] && dict=("-dict=$t.dict")
    log="$logs/$t.log"
    start=$(date +%s)
    cargo fuzz run -s none "$t" "corpus/$t" "seeds/$t" -- \
        -max_total_time="$seconds" -print_final_stats=1 "${dict[@]}" >"$log" 2>&1
    rc=$?
    # The in-process server's scratch database (fuzz_targets/common): targets run one at a time.
    rm -rf "${TMPDIR:-/tmp}"/pacer-fuzz-*
    elapsed=$(( $(date +%s) - start ))
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    speed=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    corpus=$(ls "corpus/$t" | wc -l)
    if [ "$rc" -eq 0 ]; then
        result="no findings"
    else
        failed=1
        artifact=$(grep -o 'artifacts/[^ ]*' "$log" | tail -1)
        result="FINDING (exit $rc) ${artifact:-see $log}"
    fi
    printf '%-22s %8s %14s %10s %8s  %s\n' "$t" "$elapsed" "${runs:-?}" "${speed:-?}" "$corpus" "$result"
done
exit "$failed"
