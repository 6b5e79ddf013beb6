#!/usr/bin/env bash
# Side by side: Pacer and Debian's Prometheus Pushgateway taking the same stream of
# deployment pushes (the handbook recipe's `curl` step), driven by wrk.
#
#   scripts/bench-vs-pushgateway.sh            # full run: c = 1, 8, 64; 10 s per row (~3 min)
#   scripts/bench-vs-pushgateway.sh --smoke    # quick check: c = 1, 64; 2 s per row
#   scripts/bench-vs-pushgateway.sh --growth   # also: Pacer's push rate at c = 64 as the store grows
#
# Targets (each run gets a fresh server process, so nothing carries over between rows):
#   pacer-push     `pacer serve` over a fresh SQLite file on disk (default durability:
#                  WAL, synchronous=FULL, every acknowledged event committed and fsynced),
#                  POST /metrics/job/dora/instance/<repo with / as _> (the recipe's body)
#   pacer-api      the same server, POST /api/v1/deployments (JSON: service, environment,
#                  status, deployed_at, sha, one change)
#   pushgateway-default                     prometheus-pushgateway --persistence.file=
#   pushgateway-no-consistency-check        the same with --push.disable-consistency-check
# Every request is a distinct deployment: repo k % BENCH_REPOS at (now - 20 days) + k seconds
# (scripts/bench/deployments.lua), so Pacer never answers "already recorded".
#
# Pacer runs with PACER_LIMITS__RATE_PER_SECOND=0 (the per-client rate limit, 200/s by
# default, would refuse a load generator) and otherwise default settings: no PACER_*
# variable or PACER_CONFIG of the caller's environment reaches it. Its log goes to a file in
# the run's directory at its default level (info; recorded deployments are logged at debug) unless
# BENCH_RUST_LOG is set (e.g. BENCH_RUST_LOG=warn).
#
# After each Pacer run the server is killed with SIGKILL and the deployments in the file are
# counted with sqlite3 (count_rows: the inbox's too): every 2xx wrk saw must be there (a crash must not lose an
# acknowledged event). The file may hold a few more than the 2xx count: requests still in
# flight when wrk stopped (at most the concurrency), whose answers wrk never read.
# This checks crash durability; power-cut durability rests on synchronous=FULL (fsync), which
# the script does not and cannot test.
#
# Environment (all optional):
#   PACER_BIN            pacer binary; unset: `cargo build --release -p pacer` and use it
#   PUSHGATEWAY_BIN      [prometheus-pushgateway]     WRK_BIN [wrk]
#   BENCH_SECONDS        [10] seconds per row (wrk -d)
#   BENCH_CONCURRENCY    ["1 8 64"] connections (wrk -c); wrk -t is min(c, BENCH_THREADS)
#   BENCH_THREADS        [2] most wrk threads
#   BENCH_REPOS          [1000] repositories the stream cycles over
#   BENCH_TARGETS        [all four, as named above, space-separated]
#   BENCH_TIMEOUT        [10s] wrk --timeout (a request slower than this is a socket error)
#   BENCH_RUST_LOG       RUST_LOG for pacer [unset: pacer's default, info]
#   BENCH_DIR            [/var/tmp] where the run's temp directory goes (a real disk; tmpfs
#                        is refused unless BENCH_ALLOW_TMPFS=1)
#   BENCH_KEEP           1: keep the temp directory (databases, logs, wrk outputs)
#   BENCH_PERF           1: after the table, one more pacer-push run at the highest
#                        concurrency under `perf record -g`, and its top threads and symbols
#   BENCH_QUIET_PCT     wait before each row until the machine's CPU use (over 2 s, all cores,
#                        in % of one core) is below this, at most BENCH_QUIET_WAIT [300] s
#   BENCH_GROWTH_START   [10000] --growth: events in the store before the first window
#   BENCH_GROWTH_EVENTS  [500000] --growth: keep pushing until the store holds this many
#   BENCH_GROWTH_MODE    [push] --growth: push (the recipe's push) or api (POST
#                        /api/v1/deployments with a sha and a change)
#
# The growth mode fills the store with the benchmark's own pushes (c = 64), which takes
# BENCH_GROWTH_EVENTS / rate seconds (~1-3 min for 500,000 at today's rates). TODO: preload
# millions of events without pushing them one by one (e.g. reuse the server bench's bulk
# loader, crates/pacer/benches/server.rs, through PACER_BENCH_KEEP=1); this script does not
# write SQL into Pacer's schema itself, since the schema changes under it.
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
lua="$here/bench/deployments.lua"

# For the report: how the script was called.
bench_vars=$({ compgen -e | grep -E '^(BENCH_|PACER_BIN$|PUSHGATEWAY_BIN$|WRK_BIN$)' || true; } |
  while read -r v; do printf '%s=%q ' "$v" "${!v}"; done)
growth=0
smoke=0
for arg in "$@"; do
  case $arg in
    --growth) growth=1 ;;
    --smoke) smoke=1 ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "unknown argument: $arg (try --help)" >&2
      exit 2
      ;;
  esac
done

if [[ $smoke == 1 ]]; then
  seconds=${BENCH_SECONDS:-2}
  concurrency=${BENCH_CONCURRENCY:-"1 64"}
else
  seconds=${BENCH_SECONDS:-10}
  concurrency=${BENCH_CONCURRENCY:-"1 8 64"}
fi
max_threads=${BENCH_THREADS:-2}
repos=${BENCH_REPOS:-1000}
targets=${BENCH_TARGETS:-"pacer-push pacer-api pushgateway-default pushgateway-no-consistency-check"}
timeout=${BENCH_TIMEOUT:-10s}
growth_start=${BENCH_GROWTH_START:-10000}
growth_events=${BENCH_GROWTH_EVENTS:-500000}
pg_bin=${PUSHGATEWAY_BIN:-prometheus-pushgateway}
wrk_bin=${WRK_BIN:-wrk}

die() {
  echo "error: $*" >&2
  exit 1
}

for t in $targets; do
  case $t in
    pacer-push | pacer-api | pushgateway-default | pushgateway-no-consistency-check) ;;
    *) die "BENCH_TARGETS: unknown target $t" ;;
  esac
done

# ---- tools ---------------------------------------------------------------------------
missing=()
command -v "$wrk_bin" >/dev/null || missing+=(wrk)
command -v "$pg_bin" >/dev/null || missing+=(prometheus-pushgateway)
command -v sqlite3 >/dev/null || missing+=(sqlite3)
command -v curl >/dev/null || missing+=(curl)
if ((${#missing[@]})); then
  echo "missing tools: ${missing[*]}" >&2
  echo "install them with:  sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
if [[ ${BENCH_PERF:-0} == 1 ]] && ! command -v perf >/dev/null; then
  die "BENCH_PERF=1 needs perf: sudo apt-get install -y linux-perf"
fi

if [[ -z ${PACER_BIN:-} ]]; then
  echo "building pacer: cargo build --release -p pacer" >&2
  (cd "$root" && cargo build --release -p pacer) >&2
  PACER_BIN="$root/target/release/pacer"
fi
[[ -x $PACER_BIN ]] || die "PACER_BIN=$PACER_BIN is not an executable"

# ---- temp dir and cleanup ------------------------------------------------------------
parent=${BENCH_DIR:-/var/tmp}
work=$(mktemp -d "$parent/pacer-bench-vs-pg.XXXXXX")
fstype=$(stat -f -c %T "$work")
if [[ $fstype == tmpfs && ${BENCH_ALLOW_TMPFS:-0} != 1 ]]; then
  rm -rf "$work"
  die "$parent is tmpfs: fsync costs nothing there; set BENCH_DIR to a directory on disk (or BENCH_ALLOW_TMPFS=1)"
fi

pids=()
cleanup() {
  local rc=$?
  for pid in "${pids[@]}"; do
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [[ ${BENCH_KEEP:-0} == 1 ]]; then
    echo "kept $work" >&2
  else
    rm -rf "$work"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

forget_pid() {
  local keep=() p
  for p in "${pids[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
  pids=("${keep[@]}")
}

# One binary for the whole run, even if someone rebuilds target/release/pacer meanwhile.
cp "$PACER_BIN" "$work/pacer"
pacer_origin=$PACER_BIN
pacer_built=$(date -u -r "$pacer_origin" '+%Y-%m-%d %H:%M UTC')
PACER_BIN="$work/pacer"

# ---- /proc readings ------------------------------------------------------------------
clk_tck=$(getconf CLK_TCK)

# utime + stime of a process (all its threads), in clock ticks.
cpu_ticks() {
  local line rest
  read -r line <"/proc/$1/stat"
  rest=${line##*) }
  # shellcheck disable=SC2086
  set -- $rest
  echo $((${12} + ${13}))
}

# cutime + cstime of this shell: CPU of the children it has waited for (wrk).
children_ticks() {
  local line rest
  read -r line <"/proc/$$/stat"
  rest=${line##*) }
  # shellcheck disable=SC2086
  set -- $rest
  echo $((${14} + ${15}))
}

# Busy ticks of the whole machine (all CPUs), from /proc/stat.
busy_ticks() {
  awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat
}

# BENCH_QUIET_PCT set: wait (at most BENCH_QUIET_WAIT s) until the machine's CPU use over 2 s,
# all cores together, is below that many percent of one core. For shared machines.
wait_for_quiet() {
  [[ -n ${BENCH_QUIET_PCT:-} ]] || return 0
  local waited=0 b0 b1 pct
  while :; do
    b0=$(busy_ticks)
    sleep 2
    b1=$(busy_ticks)
    pct=$(((b1 - b0) * 100 / clk_tck / 2))
    ((pct < BENCH_QUIET_PCT)) && return 0
    waited=$((waited + 2))
    if ((waited >= ${BENCH_QUIET_WAIT:-300})); then
      echo "  (machine still busy: $pct % of a core; running anyway)" >&2
      return 0
    fi
  done
}

# Bytes a process caused to be written to storage (write_bytes of /proc/PID/io).
written_bytes() {
  awk '/^write_bytes:/ {print $2}' "/proc/$1/io"
}

# VmRSS and VmHWM in MiB, "rss hwm".
memory_mib() {
  awk '/^VmRSS:/ {r = $2} /^VmHWM:/ {h = $2} END {printf "%.1f %.1f", r / 1024, h / 1024}' "/proc/$1/status"
}

cpu_pressure() {
  if [[ -r /proc/pressure/cpu ]]; then
    sed -n 's/^some avg10=\([^ ]*\) avg60=\([^ ]*\).*/avg10 \1 %, avg60 \2 %/p' /proc/pressure/cpu
  else
    echo "n/a"
  fi
}

# A loopback port nobody listens on, below the kernel's ephemeral range (a port that an
# outgoing connection holds refuses connections but cannot be bound).
free_port() {
  local port i low=32768
  [[ -r /proc/sys/net/ipv4/ip_local_port_range ]] && read -r low _ </proc/sys/net/ipv4/ip_local_port_range
  ((low > 11000)) || low=65000
  for i in $(seq 1 100); do
    port=$((10000 + RANDOM % (low - 11000)))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  die "no free loopback port found"
}

# ---- servers -------------------------------------------------------------------------
# Pacer's environment: the caller's PACER_* variables (PACER_BIN too: pacer reads every
# PACER_* variable as a setting and refuses unknown ones) and RUST_LOG removed.
pacer_env=(env -u RUST_LOG)
while read -r name; do
  pacer_env+=(-u "$name")
done < <(compgen -e | grep '^PACER_' || true)
pacer_env+=(PACER_LIMITS__RATE_PER_SECOND=0)
if [[ -n ${BENCH_RUST_LOG:-} ]]; then
  pacer_env+=("RUST_LOG=$BENCH_RUST_LOG")
  log_note="RUST_LOG=$BENCH_RUST_LOG"
else
  log_note="default (info; recorded deployments are logged at debug), to a file on disk"
fi

# start_pacer DIR: sets server_pid, server_url, pacer_db, server_log.
start_pacer() {
  local dir=$1 i
  mkdir -p "$dir"
  pacer_db="$dir/pacer.db"
  server_log="$dir/pacer.log"
  "${pacer_env[@]}" "$PACER_BIN" serve --listen 127.0.0.1:0 --database "sqlite://$pacer_db" \
    >"$dir/pacer.out" 2>"$server_log" &
  server_pid=$!
  pids+=("$server_pid")
  server_url=""
  for i in $(seq 1 300); do
    server_url=$(sed -n 's/^pacer listening on \(http:\/\/[^ ]*\).*/\1/p' "$dir/pacer.out")
    [[ -n $server_url ]] && return 0
    if ! kill -0 "$server_pid" 2>/dev/null; then
      tail -20 "$server_log" >&2
      die "pacer serve exited before listening"
    fi
    sleep 0.1
  done
  die "pacer serve did not print its address within 30 s"
}

# start_pushgateway DIR MODE: sets server_pid, server_url, server_log.
start_pushgateway() {
  local dir=$1 mode=$2 port extra=() i attempt
  mkdir -p "$dir"
  [[ $mode == no-consistency-check ]] && extra=(--push.disable-consistency-check)
  server_log="$dir/pushgateway.log"
  for attempt in 1 2 3 4 5; do
    port=$(free_port)
    "$pg_bin" --web.listen-address="127.0.0.1:$port" --persistence.file= "${extra[@]}" \
      >"$server_log" 2>&1 &
    server_pid=$!
    pids+=("$server_pid")
    server_url="http://127.0.0.1:$port"
    for i in $(seq 1 300); do
      curl -fsS "$server_url/-/ready" >/dev/null 2>&1 && return 0
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$server_pid" 2>/dev/null; then
      die "pushgateway was not ready within 30 s"
    fi
    wait "$server_pid" 2>/dev/null || true
    forget_pid "$server_pid"
    # Someone took the port between the check and the bind: try another.
    grep -q 'address already in use' "$server_log" || break
  done
  tail -20 "$server_log" >&2
  die "pushgateway exited before it was ready"
}

# SIGKILL: for Pacer, what is in the file afterwards is what survived a crash.
stop_server() {
  kill -9 "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  forget_pid "$server_pid"
}

# Deployments in the file: those in `deployments` and those acknowledged but still in the
# inbox (migration 0010; both durable, and the inbox is moved into `deployments` when the
# store is next opened). A deployment being moved is in both for a while: it is counted
# once (an inbox row counts when `deployments` does not have its id).
count_rows() {
  sqlite3 "$1" ".timeout 10000" \
    "SELECT (SELECT count(*) FROM deployments) + (SELECT count(*) FROM deployment_inbox i
       WHERE NOT EXISTS (SELECT 1 FROM deployments d WHERE d.id = i.id));"
}

# ---- wrk -----------------------------------------------------------------------------
# run_wrk URL MODE CONC SECONDS BASE OUT: fills w_* variables from the BENCH line.
run_wrk() {
  local url=$1 mode=$2 c=$3 secs=$4 base=$5 out=$6 threads kv
  threads=$((c < max_threads ? c : max_threads))
  "$wrk_bin" -t "$threads" -c "$c" -d "${secs}s" --timeout "$timeout" --latency \
    -s "$lua" "$url" -- "$mode" "$repos" "$base" "$threads" >"$out" 2>&1 ||
    {
      cat "$out" >&2
      die "wrk failed"
    }
  local line
  line=$(grep '^BENCH ' "$out" | head -1) || {
    cat "$out" >&2
    die "wrk printed no BENCH line"
  }
  for kv in ${line#BENCH }; do
    printf -v "w_${kv%%=*}" '%s' "${kv#*=}"
  done
  w_first_error=$(sed -n 's/^BENCH_FIRST_ERROR //p' "$out" | head -1)
  w_socket_errors=$((w_connect + w_read + w_write + w_timeout))
}

# ---- one row -------------------------------------------------------------------------
declare -A R_rps R_valid
rows_md=()
notes=()
base_time=$(($(date +%s) - 20 * 86400))

run_row() {
  local target=$1 c=$2 dir="$work/$1-c$2" mode=push t0 t1 k0 k1 b0 b1 wb0 wb1 mem rows=""
  wait_for_quiet
  case $target in
    pacer-push) start_pacer "$dir" ;;
    pacer-api)
      start_pacer "$dir"
      mode=api
      ;;
    pushgateway-default) start_pushgateway "$dir" default ;;
    pushgateway-no-consistency-check) start_pushgateway "$dir" no-consistency-check ;;
  esac
  t0=$(cpu_ticks "$server_pid")
  k0=$(children_ticks)
  b0=$(busy_ticks)
  wb0=$(written_bytes "$server_pid")
  run_wrk "$server_url" "$mode" "$c" "$seconds" "$base_time" "$dir/wrk.txt"
  t1=$(cpu_ticks "$server_pid")
  k1=$(children_ticks)
  b1=$(busy_ticks)
  wb1=$(written_bytes "$server_pid")
  mem=$(memory_mib "$server_pid")
  stop_server

  local secs_f ok2xx rps cpu_s cpu_pct cpu_per_k wrk_pct other_pct kib_per_req valid="yes" check="n/a"
  secs_f=$(awk -v d="$w_duration_us" 'BEGIN {printf "%.6f", d / 1e6}')
  ok2xx=$((w_requests - w_non2xx))
  rps=$(awk -v n="$w_requests" -v s="$secs_f" 'BEGIN {printf "%.0f", n / s}')
  cpu_s=$(awk -v t=$((t1 - t0)) -v hz="$clk_tck" 'BEGIN {printf "%.2f", t / hz}')
  cpu_pct=$(awk -v c="$cpu_s" -v s="$secs_f" 'BEGIN {printf "%.0f", 100 * c / s}')
  cpu_per_k=$(awk -v c="$cpu_s" -v n="$w_requests" 'BEGIN {if (n > 0) printf "%.0f", 1e6 * c / n; else print "n/a"}')
  wrk_pct=$(awk -v t=$((k1 - k0)) -v hz="$clk_tck" -v s="$secs_f" 'BEGIN {printf "%.0f", 100 * t / hz / s}')
  kib_per_req=$(awk -v b=$((wb1 - wb0)) -v n="$w_requests" 'BEGIN {if (n > 0) printf "%.1f", b / 1024 / n; else print "n/a"}')
  # Everything else that ran on the machine meanwhile (other jobs, the kernel's own work
  # not charged to either process): what this row competed with.
  other_pct=$(awk -v t=$((b1 - b0 - (t1 - t0) - (k1 - k0))) -v hz="$clk_tck" -v s="$secs_f" 'BEGIN {v = 100 * t / hz / s; if (v < 0) v = 0; printf "%.0f", v}')
  if ((w_non2xx > 0 || w_socket_errors > 0)); then
    valid="**no**"
    notes+=("$target c=$c: $w_non2xx non-2xx, socket errors connect $w_connect read $w_read write $w_write timeout $w_timeout; first non-2xx: ${w_first_error:-none}")
  fi
  if [[ $target == pacer-* ]]; then
    rows=$(count_rows "$pacer_db")
    if ((rows < ok2xx || rows > w_sent)); then
      valid="**no**"
      check="**$rows rows, $ok2xx 2xx, $w_sent sent**"
      notes+=("$target c=$c: $rows deployments in the file after SIGKILL, outside [2xx $ok2xx, sent $w_sent]")
    else
      check="$rows ≥ $ok2xx ok"
    fi
    local warns
    warns=$(grep -cE ' (WARN|ERROR) ' "$server_log" || true)
    if ((warns > 0)); then
      notes+=("$target c=$c: $warns WARN/ERROR lines in Pacer's log, first: $(grep -m1 -E ' (WARN|ERROR) ' "$server_log")")
    fi
  fi
  R_rps["$target|$c"]=$rps
  R_valid["$target|$c"]=$valid
  local mem_rss mem_hwm
  read -r mem_rss mem_hwm <<<"$mem"
  rows_md+=("$(printf '| %s | %d | %d | %s | %d | %d | %.2f | %.2f | %.2f | %s | %s | %s | %s | %s | %s | %s | %s | %s |' \
    "$target" "$c" "$w_requests" "$rps" "$w_non2xx" "$w_socket_errors" \
    "$(awk -v u="$w_p50_us" 'BEGIN {print u / 1000}')" \
    "$(awk -v u="$w_p99_us" 'BEGIN {print u / 1000}')" \
    "$(awk -v u="$w_max_us" 'BEGIN {print u / 1000}')" \
    "$cpu_pct" "$cpu_per_k" "$wrk_pct" "$other_pct" "$kib_per_req" "$mem_rss" "$mem_hwm" "$check" "$valid")")
  printf '  %-34s c=%-3d %7d req/s  non-2xx %d  socket errors %d  p50 %.2f ms  p99 %.2f ms  server CPU %s %%  rows %s\n' \
    "$target" "$c" "$rps" "$w_non2xx" "$w_socket_errors" \
    "$(awk -v u="$w_p50_us" 'BEGIN {print u / 1000}')" "$(awk -v u="$w_p99_us" 'BEGIN {print u / 1000}')" \
    "$cpu_pct" "${rows:-n/a}" >&2
}

# ---- header --------------------------------------------------------------------------
pacer_version=$("$PACER_BIN" --version 2>&1 | head -1)
git_rev=$(cd "$root" && git rev-parse --short HEAD 2>/dev/null || echo "?")
git_dirty=$(cd "$root" && git status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo " (working tree modified)" || true)
pg_version=$("$pg_bin" --version 2>&1 | head -1)
wrk_version=$({ "$wrk_bin" -v 2>&1 || true; } | head -1 | sed "s/ Copyright.*//")
sync_ms=$(dd if=/dev/zero of="$work/sync-probe" bs=4k count=500 oflag=dsync 2>&1 |
  awk '/copied/ {for (i = 1; i <= NF; i++) if ($i == "s,") printf "%.3f", $(i - 1) * 1000 / 500}')
rm -f "$work/sync-probe"

echo "## Pacer vs Pushgateway: command \`scripts/bench-vs-pushgateway.sh $*\`"
echo
echo "* started: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); environment: ${bench_vars:-none of BENCH_*, PACER_BIN}"
echo "* machine: $(nproc) CPUs ($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)), $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo), Linux $(uname -r)"
echo "* load average at start: $(cut -d' ' -f1-3 /proc/loadavg); CPU pressure: $(cpu_pressure)"
echo "* temp dir: $work ($fstype); a 4 KiB O_DSYNC write takes ${sync_ms} ms (dd, 500 writes)"
echo "* pacer: $pacer_version, $pacer_origin (built $pacer_built, copied for the run), workspace at commit $git_rev$git_dirty"
echo "* pushgateway: $pg_version"
echo "* wrk: $wrk_version; -t min(c, $max_threads), --timeout $timeout, $seconds s per row, clients on the same cores as the server"
echo "* stream: $repos repos, one distinct deployment per request (scripts/bench/deployments.lua)"
echo "* Pacer: PACER_LIMITS__RATE_PER_SECOND=0, otherwise defaults (SQLite WAL, synchronous=FULL); log level: $log_note"
echo

# ---- preflight: does each server take the recipe's push? -----------------------------
preflight_body() {
  printf '# TYPE dora_deployment_timestamp gauge\ndora_deployment_timestamp{repo="acme/svc-0042",env="production"} %d\n' "$((base_time - 1))"
}
echo "Preflight (the recipe's \`curl --data-binary @-\` step, fresh servers):" >&2
start_pacer "$work/preflight-pacer"
code=$(preflight_body | curl -sS -o "$work/preflight-pacer/answer" -w '%{http_code}' --data-binary @- \
  "$server_url/metrics/job/dora/instance/acme_svc-0042")
echo "  pacer push: $code $(cat "$work/preflight-pacer/answer")" >&2
[[ $code == 2* ]] || die "Pacer refused the recipe's push"
code=$(curl -sS -o "$work/preflight-pacer/answer" -w '%{http_code}' -H 'Content-Type: application/json' \
  --data-binary "{\"service\":\"acme/svc-0042\",\"environment\":\"production\",\"status\":\"success\",\"deployed_at\":\"$(date -u -d "@$((base_time - 2))" +%Y-%m-%dT%H:%M:%SZ)\",\"sha\":\"0123456789abcdef0123456789abcdef01234567\",\"changes\":[{\"id\":\"0123456789abcdef0123456789abcdef01234567\",\"started_at\":\"$(date -u -d "@$((base_time - 3600))" +%Y-%m-%dT%H:%M:%SZ)\"}]}" \
  "$server_url/api/v1/deployments")
echo "  pacer api:  $code $(cat "$work/preflight-pacer/answer")" >&2
[[ $code == 2* ]] || die "Pacer refused the API body"
stop_server
start_pushgateway "$work/preflight-pg" default
code=$(preflight_body | curl -sS -o /dev/null -w '%{http_code}' --data-binary @- \
  "$server_url/metrics/job/dora/instance/acme_svc-0042")
echo "  pushgateway push: $code" >&2
[[ $code == 2* ]] || die "the Pushgateway refused the recipe's push"
stop_server

# ---- the table -----------------------------------------------------------------------
echo "Runs:" >&2
for c in $concurrency; do
  for target in $targets; do
    run_row "$target" "$c"
  done
done

echo "| target | c | requests | req/s | non-2xx | socket errors | p50 ms | p99 ms | max ms | server CPU % | server CPU µs/req (= ms per 1k) | wrk CPU % | other CPU % | server disk writes KiB/req | RSS MiB | peak RSS MiB | Pacer: deployments in file after SIGKILL ≥ 2xx | valid |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"
printf '%s\n' "${rows_md[@]}"
echo
echo "CPU % is of one core ($(nproc) cores: $((100 * $(nproc))) % in all); other CPU % is what the rest of the machine"
echo "used meanwhile (other jobs; the kernel's work not charged to a process). A row is valid when every"
echo "answer was 2xx, wrk saw no socket error and, for Pacer, the file held every acknowledged"
echo "deployment after SIGKILL."
contended=$(printf '%s\n' "${rows_md[@]}" | awk -F'|' '$14 + 0 > 25 {n++} END {print n + 0}')
if ((contended > 0)); then
  echo "**$contended of ${#rows_md[@]} rows ran while other work used more than 25 % of a core**"
  echo "(other CPU % column): those rows competed for the cores and their rates are lower bounds."
fi
echo

ratio_rows=()
for c in $concurrency; do
  for p in pacer-push pacer-api; do
    for g in pushgateway-default pushgateway-no-consistency-check; do
      [[ -n ${R_rps["$p|$c"]:-} && -n ${R_rps["$g|$c"]:-} ]] || continue
      r=$(awk -v a="${R_rps["$p|$c"]}" -v b="${R_rps["$g|$c"]}" 'BEGIN {if (b > 0) printf "%.2f×", a / b; else print "n/a"}')
      flag=""
      [[ ${R_valid["$p|$c"]} == yes && ${R_valid["$g|$c"]} == yes ]] || flag=" (a row is invalid)"
      ratio_rows+=("| $c | $p | $g | ${R_rps["$p|$c"]} / ${R_rps["$g|$c"]} = $r$flag |")
    done
  done
done
if ((${#ratio_rows[@]})); then
  echo "| c | Pacer | Pushgateway | req/s ratio |"
  echo "|---:|---|---|---|"
  printf '%s\n' "${ratio_rows[@]}"
  echo
fi

if ((${#notes[@]})); then
  echo "Problems:"
  echo
  printf '* %s\n' "${notes[@]}"
  echo
fi

# ---- optional profile ----------------------------------------------------------------
if [[ ${BENCH_PERF:-0} == 1 ]]; then
  c_max=$(tr ' ' '\n' <<<"$concurrency" | grep . | sort -n | tail -1)
  echo "Profiling pacer-push at c=$c_max (perf record -g, not part of the table)" >&2
  dir="$work/perf"
  start_pacer "$dir"
  perf record -q -F 999 -g -p "$server_pid" -o "$dir/perf.data" -- sleep "$seconds" >/dev/null 2>&1 &
  perf_pid=$!
  pids+=("$perf_pid")
  sleep 0.5
  run_wrk "$server_url" push "$c_max" "$seconds" "$base_time" "$dir/wrk.txt"
  wait "$perf_pid" || true
  forget_pid "$perf_pid"
  stop_server
  echo "### Where pacer-push's CPU goes at c=$c_max (perf, $seconds s, $w_requests requests under perf)"
  echo
  echo "By thread (self time):"
  echo
  echo '```'
  perf report -i "$dir/perf.data" --no-children --sort comm --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -12 || true
  echo '```'
  echo
  echo "By binary (self time):"
  echo
  echo '```'
  perf report -i "$dir/perf.data" --no-children --sort dso --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -8 || true
  echo '```'
  echo
  echo "Top symbols (self time, ≥ 0.8 %):"
  echo
  echo '```'
  perf report -i "$dir/perf.data" --no-children --sort dso,sym --percent-limit 0.8 --stdio -g none 2>/dev/null |
    grep -E '^ +[0-9]' | head -40 || true
  echo '```'
  echo
fi

# ---- optional: store growth ----------------------------------------------------------
if [[ $growth == 1 ]]; then
  gmode=${BENCH_GROWTH_MODE:-push}
  [[ $gmode == push || $gmode == api ]] || die "BENCH_GROWTH_MODE=$gmode is not push or api"
  echo "Growth: pacer-$gmode at c=64 as the store fills (one server, one file)" >&2
  dir="$work/growth"
  start_pacer "$dir"
  gbase=$(($(date +%s) - 20 * 86400 - growth_events - 100000))
  rows=0
  while ((rows < growth_start)); do
    run_wrk "$server_url" "$gmode" 64 1 "$gbase" "$dir/preload.txt"
    gbase=$((gbase + w_max_k + 1))
    rows=$(count_rows "$pacer_db")
  done
  growth_md=()
  while :; do
    before=$rows
    t0=$(cpu_ticks "$server_pid")
    k0=$(children_ticks)
    b0=$(busy_ticks)
    wb0=$(written_bytes "$server_pid")
    run_wrk "$server_url" "$gmode" 64 "$seconds" "$gbase" "$dir/window.txt"
    t1=$(cpu_ticks "$server_pid")
    k1=$(children_ticks)
    b1=$(busy_ticks)
    wb1=$(written_bytes "$server_pid")
    kib_per_req=$(awk -v b=$((wb1 - wb0)) -v n="$w_requests" 'BEGIN {printf "%.1f", b / 1024 / n}')
    other_pct=$(awk -v t=$((b1 - b0 - (t1 - t0) - (k1 - k0))) -v hz="$clk_tck" -v d="$w_duration_us" 'BEGIN {v = 100 * t / hz / (d / 1e6); if (v < 0) v = 0; printf "%.0f", v}')
    gbase=$((gbase + w_max_k + 1))
    rows=$(count_rows "$pacer_db")
    size=$(du -cm "$pacer_db"* | tail -1 | cut -f1)
    rps=$(awk -v n="$w_requests" -v d="$w_duration_us" 'BEGIN {printf "%.0f", n / (d / 1e6)}')
    cpu_per_k=$(awk -v t=$((t1 - t0)) -v hz="$clk_tck" -v n="$w_requests" 'BEGIN {printf "%.0f", 1e6 * t / hz / n}')
    growth_md+=("$(printf '| %d | %d | %s | %d | %d | %.2f | %.2f | %s | %s | %s | %s |' "$before" "$rows" "$rps" \
      "$w_non2xx" "$w_socket_errors" "$(awk -v u="$w_p50_us" 'BEGIN {print u / 1000}')" \
      "$(awk -v u="$w_p99_us" 'BEGIN {print u / 1000}')" "$cpu_per_k" "$kib_per_req" "$size" "$other_pct")")
    echo "  store $before → $rows: $rps req/s, p99 $((w_p99_us / 1000)) ms" >&2
    ((rows < growth_events)) || break
  done
  mem=$(memory_mib "$server_pid")
  stop_server
  final=$(count_rows "$pacer_db")
  echo "### Store growth: pacer-$gmode at c=64, $seconds s windows, one server over one file"
  echo
  echo "| deployments before | after | req/s | non-2xx | socket errors | p50 ms | p99 ms | server CPU µs/req | disk writes KiB/req | file MiB (db + WAL) | other CPU % |"
  echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  printf '%s\n' "${growth_md[@]}"
  echo
  echo "RSS / peak RSS at the end: ${mem/ / \/ } MiB; $final deployments in the file after SIGKILL."
  echo
fi

echo "* finished: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); load average: $(cut -d' ' -f1-3 /proc/loadavg); CPU pressure: $(cpu_pressure)"
