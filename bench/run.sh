#!/usr/bin/env bash
# Side-by-side benchmark: the mock upstream directly, through Palisade, and through the
# LiteLLM proxy, all in front of the same mock, in one run. Writes bench/RESULTS.md and raw
# outputs under bench/out/. See bench/README.md.
#
#   ./bench/run.sh                 full run (about 10 minutes after the builds)
#   BENCH_QUICK=1 ./bench/run.sh   quick smoke run (about 2 minutes)
#
# Knobs (environment):
#   BENCH_QUICK=1            short runs, fewer points
#   BENCH_DURATION=S         measured seconds per point (default 10; quick 3)
#   BENCH_WARMUP=S           warm-up seconds per point (default 2; quick 1)
#   BENCH_CONCURRENCY="16 64"          closed-loop connection counts (wrk)
#   BENCH_RATES="1000 2500 5000 ..."   fixed rates for direct and Palisade (req/s)
#   BENCH_LITELLM_RATES="25 50 ..."    fixed rates for LiteLLM (req/s)
#   BENCH_P99_BOUND_MS="10 25 50"      p99 bounds for "max throughput at p99 <= bound"
#   BENCH_OPEN_CONNECTIONS=64          connection pool of the open-loop generator
#   BENCH_PIN=0              do not pin CPUs (default: pin when there are >= 2 CPUs)
#   BENCH_UNPINNED_PASS=0    skip the second, unpinned pass (direct and Palisade only)
#   BENCH_UNPINNED_RATES="1000 2500 5000"   its rates (default: the first fixed points)
#   BENCH_LOADGEN_CPUS=0 BENCH_SUT_CPUS=1   CPU lists for taskset
#   BENCH_SKIP_BUILD=1       use existing release binaries
#   BENCH_BUILD_FROM=REV     build a clean export of commit REV (e.g. HEAD) instead of the
#                            working tree, in $HOME/.cache/palisade-bench-target
#   BENCH_SKIP_LITELLM=1     leave LiteLLM out (reported as skipped)
#   BENCH_LITELLM_VENV=DIR   LiteLLM's venv (default $HOME/.cache/palisade-bench-litellm)
#   BENCH_NICE=N             priority of the benchmark's processes (default -10 as root)
#   BENCH_WAIT_BUDGET=900    seconds the whole run may spend waiting for a quiet machine
#   BENCH_MAX_FOREIGN=0.1    before each point, wait (<= 60 s) until the machine's busy CPU is
#                            under this many cores; a point during which other processes used
#   BENCH_RETRIES=2          more is retried this many times, then kept and flagged
#   BENCH_OUT_DIR, BENCH_RESULTS   where raw outputs and the report go (bench/out, bench/RESULTS.md)
#   CARGO_TARGET_DIR         where the Palisade release binaries are built (default target/)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench
OUT=${BENCH_OUT_DIR:-$BENCH/out}
RESULTS=${BENCH_RESULTS:-$BENCH/RESULTS.md}
CONFIGS=$BENCH/configs
QUICK=${BENCH_QUICK:-0}
if [[ $QUICK == 1 ]]; then
  DURATION=${BENCH_DURATION:-3}
  WARMUP=${BENCH_WARMUP:-1}
  CONCURRENCY=${BENCH_CONCURRENCY:-16}
  RATES=${BENCH_RATES:-"1000 5000"}
  LITELLM_RATES=${BENCH_LITELLM_RATES:-"25 50 100"}
else
  DURATION=${BENCH_DURATION:-10}
  WARMUP=${BENCH_WARMUP:-2}
  CONCURRENCY=${BENCH_CONCURRENCY:-"16 64"}
  RATES=${BENCH_RATES:-"1000 2500 5000 7500 10000 12500 15000 20000 25000"}
  LITELLM_RATES=${BENCH_LITELLM_RATES:-"25 50 75 100 125 150 200 250 300 400 500"}
fi
# Rates up to this many points are always run; above it a sweep stops at the first
# point that is not sustained (see SUSTAIN_P99_MS).
FIXED_POINTS=${BENCH_FIXED_POINTS:-3}
P99_BOUNDS=${BENCH_P99_BOUND_MS:-"10 25 50"}
# A point is "sustained" with no errors, >= 97% of the rate achieved and p99 <= this (a
# p99 beyond it means a queue that keeps growing: the target is not keeping up).
SUSTAIN_P99_MS=${BENCH_SUSTAIN_P99_MS:-200}
OPEN_CONNS=${BENCH_OPEN_CONNECTIONS:-64}
WAIT_BUDGET=${BENCH_WAIT_BUDGET:-900}
MAX_FOREIGN=${BENCH_MAX_FOREIGN:-0.1}
RETRIES=${BENCH_RETRIES:-2}
VENV=${BENCH_LITELLM_VENV:-$HOME/.cache/palisade-bench-litellm}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
LOADGEN_TARGET=$BENCH/loadgen/target

log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------- processes and cleanup
PIDS=()
NAMED=()   # name:pid of the services, for the per-point CPU accounting
WORK=$(mktemp -d "${TMPDIR:-/tmp}/palisade-bench.XXXXXX")
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# wait_http URL SECONDS [curl args...]: poll until URL answers 2xx, bounded.
wait_http() {
  local url=$1 secs=$2; shift 2
  local deadline=$((SECONDS + secs))
  until curl -sf -o /dev/null --max-time 2 "$@" "$url"; do
    (( SECONDS < deadline )) || return 1
    sleep 0.5
  done
}

PIN=${BENCH_PIN:-auto}
if [[ $PIN == auto ]]; then
  if (( $(nproc) >= 2 )) && command -v taskset >/dev/null; then PIN=1; else PIN=0; fi
fi
LOADGEN_CPUS=${BENCH_LOADGEN_CPUS:-0}
SUT_CPUS=${BENCH_SUT_CPUS:-1}
# Command prefixes (taskset execs the command, so `$!` of a background job is the service).
# On a shared machine the benchmark's processes run at a raised priority (nice -10 when
# root), so other work disturbs the measurement less (BENCH_NICE=0 turns this off).
NICE=${BENCH_NICE:-$([[ $(id -u) == 0 ]] && echo -10 || echo 0)}
NICE_PREFIX=(); [[ $NICE != 0 ]] && NICE_PREFIX=(nice -n "$NICE")
LOADGEN_PREFIX=("${NICE_PREFIX[@]}"); SUT_PREFIX=("${NICE_PREFIX[@]}")
if [[ $PIN == 1 ]]; then LOADGEN_PREFIX+=(taskset -c "$LOADGEN_CPUS"); SUT_PREFIX+=(taskset -c "$SUT_CPUS"); fi

# ---------------------------------------------------------------- tools and builds
mkdir -p "$OUT"
rm -f "$OUT"/*.json "$OUT"/*.txt "$OUT"/*.log "$OUT"/*.time
command -v curl >/dev/null || die "curl is needed"
command -v python3 >/dev/null || die "python3 is needed"
if ! command -v wrk >/dev/null; then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    log "installing wrk (apt-get)"
    apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
  fi
  command -v wrk >/dev/null || die "wrk is needed (apt-get install -y wrk)"
fi

# What is built: the working tree (default), or with BENCH_BUILD_FROM=REV a clean export
# of that commit (`git archive`, read-only for the repository) in its own target dir.
SRC=$ROOT
BUILD_FROM=${BENCH_BUILD_FROM:-}
BUILT_COMMIT=
if [[ -n $BUILD_FROM ]]; then
  BUILT_COMMIT=$(cd "$ROOT" && git rev-parse --verify "$BUILD_FROM^{commit}") || die "no such commit: $BUILD_FROM"
  SRC=$WORK/src
  mkdir -p "$SRC"
  (cd "$ROOT" && git archive "$BUILT_COMMIT") | tar -x -C "$SRC"
  TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/palisade-bench-target}
fi
if [[ ${BENCH_SKIP_BUILD:-0} != 1 ]]; then
  log "building Palisade and the mock upstream from ${BUILD_FROM:-the working tree}${BUILT_COMMIT:+ ($BUILT_COMMIT)} (release; slow on 2 cores)"
  (cd "$SRC" && CARGO_TARGET_DIR=$TARGET_DIR cargo build --release -p palisade -p palisade-testkit --bins) \
    >"$OUT/build-palisade.log" 2>&1 || { tail -30 "$OUT/build-palisade.log" >&2; die "release build failed"; }
  log "building the load generator (bench/loadgen, release)"
  (cd "$BENCH/loadgen" && CARGO_TARGET_DIR=$LOADGEN_TARGET cargo build --release --locked) \
    >"$OUT/build-loadgen.log" 2>&1 || { tail -30 "$OUT/build-loadgen.log" >&2; die "loadgen build failed"; }
fi
PALISADE=$TARGET_DIR/release/palisade
MOCK=$TARGET_DIR/release/palisade-mock-upstream
LOADGEN=$LOADGEN_TARGET/release/palisade-bench-loadgen
for b in "$PALISADE" "$MOCK" "$LOADGEN"; do [[ -x $b ]] || die "missing binary $b (run without BENCH_SKIP_BUILD)"; done

# LiteLLM: its own venv, (re)installed when the requirements change.
LITELLM_STATUS=ok
LITELLM_REASON=
if [[ ${BENCH_SKIP_LITELLM:-0} == 1 ]]; then
  LITELLM_STATUS=skipped; LITELLM_REASON="BENCH_SKIP_LITELLM=1"
else
  stamp=$(cat "$BENCH/requirements-litellm.txt" "$BENCH/constraints-litellm.txt" | sha256sum | cut -c1-16)
  if [[ ! -x $VENV/bin/litellm || $(cat "$VENV/.bench-stamp" 2>/dev/null) != "$stamp" ]]; then
    log "installing LiteLLM into $VENV (a few minutes the first time)"
    if python3 -m venv "$VENV" >"$OUT/litellm-install.log" 2>&1 &&
       "$VENV/bin/pip" install -q -r "$BENCH/requirements-litellm.txt" -c "$BENCH/constraints-litellm.txt" >>"$OUT/litellm-install.log" 2>&1; then
      echo "$stamp" >"$VENV/.bench-stamp"
    else
      LITELLM_STATUS=unavailable
      LITELLM_REASON="pip install failed: $(grep -m1 -i error "$OUT/litellm-install.log" | cut -c1-300)"
      log "LiteLLM could not be installed: $LITELLM_REASON"
    fi
  fi
fi

# ---------------------------------------------------------------- machine state
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- start the services
MOCK_PORT=$(free_port)
P_PORT=$(free_port); P_ADMIN=$(free_port)
start_mock() { # PREFIX...: start the mock on MOCK_PORT under the given command prefix
  log "starting the mock upstream on 127.0.0.1:$MOCK_PORT (1 thread${1:+, $*})"
  MOCK_THREADS=1 "$@" "$MOCK" --port "$MOCK_PORT" --no-record >>"$OUT/mock.log" 2>&1 &
  MOCK_PID=$!; PIDS+=($MOCK_PID); NAMED+=("mock:$MOCK_PID")
  wait_http "http://127.0.0.1:$MOCK_PORT/v1/models" 20 || die "mock upstream did not start"
}
start_palisade() { # PREFIX...
  log "starting Palisade on 127.0.0.1:$P_PORT${1:+ ($*)}"
  PALISADE_ADMIN_TOKEN=$ADMIN_TOKEN "$@" "$PALISADE" serve --config "$WORK/palisade.toml" >>"$OUT/palisade.log" 2>&1 &
  PALISADE_PID=$!; PIDS+=($PALISADE_PID); NAMED+=("palisade:$PALISADE_PID")
  wait_http "http://127.0.0.1:$P_PORT/readyz" 30 || { tail -20 "$OUT/palisade.log" >&2; die "Palisade did not start"; }
}
stop_pid() { # PID: stop one service we started, bounded
  kill "$1" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$1" 2>/dev/null || true
  local keep=() p
  for p in "${PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
  PIDS=("${keep[@]}")
  keep=()
  for p in "${NAMED[@]}"; do [[ ${p#*:} == "$1" ]] || keep+=("$p"); done
  NAMED=("${keep[@]}")
}
start_mock "${SUT_PREFIX[@]}"
ADMIN_TOKEN="bench-admin-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
sed -e "s|@PORT@|$P_PORT|" -e "s|@ADMIN_PORT@|$P_ADMIN|" -e "s|@MOCK_PORT@|$MOCK_PORT|" -e "s|@DB@|$WORK/palisade.db|" -e "s|@WORK@|$WORK|g" \
  "$CONFIGS/palisade.toml.in" >"$WORK/palisade.toml"
cp "$WORK/palisade.toml" "$OUT/palisade.toml"
start_palisade "${SUT_PREFIX[@]}"
export PALISADE_ADMIN_URL="http://127.0.0.1:$P_ADMIN" PALISADE_ADMIN_TOKEN=$ADMIN_TOKEN
"$PALISADE" users create bench >/dev/null
PALISADE_KEY=$("$PALISADE" keys create --user bench --name bench --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
unset PALISADE_ADMIN_TOKEN
[[ -n $PALISADE_KEY ]] || die "could not create a Palisade API key"

LITELLM_PORT=$(free_port)
LITELLM_KEY="sk-bench-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
LITELLM_VERSION=
if [[ $LITELLM_STATUS == ok ]]; then
  sed -e "s|@MOCK_PORT@|$MOCK_PORT|" -e "s|@MASTER_KEY@|$LITELLM_KEY|" "$CONFIGS/litellm.yaml.in" >"$WORK/litellm.yaml"
  LITELLM_VERSION=$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("litellm"))' 2>/dev/null || echo unknown)
  log "starting LiteLLM $LITELLM_VERSION on 127.0.0.1:$LITELLM_PORT (1 worker, CPUs ${SUT_CPUS})"
  # LITELLM_LOCAL_MODEL_COST_MAP: use the bundled cost map instead of fetching it (no
  # internet here; the fetch failure also trips a logging bug in this release).
  # LITELLM_LOG=ERROR: no per-request logs, like Palisade's "warn".
  (cd "$WORK" && exec env LITELLM_LOCAL_MODEL_COST_MAP=True LITELLM_LOG=ERROR "${SUT_PREFIX[@]}" "$VENV/bin/litellm" \
     --config "$WORK/litellm.yaml" --host 127.0.0.1 --port "$LITELLM_PORT" --num_workers 1 >"$OUT/litellm.log" 2>&1) &
  LITELLM_PID=$!; PIDS+=($LITELLM_PID); NAMED+=("litellm:$LITELLM_PID")
  if ! wait_http "http://127.0.0.1:$LITELLM_PORT/health/liveliness" 180; then
    LITELLM_STATUS=unavailable
    LITELLM_REASON="did not answer /health/liveliness within 180 s: $(tail -3 "$OUT/litellm.log" | tr '\n' ' ' | cut -c1-300)"
    log "LiteLLM: $LITELLM_REASON"
  fi
fi

# Request bodies: identical except the model name (the gateways map "bench" to gpt-4o-mini).
sed 's/"model":"bench"/"model":"gpt-4o-mini"/' "$CONFIGS/chat.json" >"$WORK/chat-direct.json"
cp "$CONFIGS/chat.json" "$WORK/chat-gateway.json"

declare -A URL BODY AUTH
URL[direct]="http://127.0.0.1:$MOCK_PORT/v1/chat/completions"; BODY[direct]=$WORK/chat-direct.json; AUTH[direct]=
URL[palisade]="http://127.0.0.1:$P_PORT/v1/chat/completions"; BODY[palisade]=$WORK/chat-gateway.json; AUTH[palisade]=$PALISADE_KEY
URL[litellm]="http://127.0.0.1:$LITELLM_PORT/v1/chat/completions"; BODY[litellm]=$WORK/chat-gateway.json; AUTH[litellm]=$LITELLM_KEY
TARGETS=(direct palisade)
[[ $LITELLM_STATUS == ok ]] && TARGETS+=(litellm)

# Smoke check: one request through each, a real chat completion back.
for t in "${TARGETS[@]}"; do
  hdr=(); [[ -n ${AUTH[$t]} ]] && hdr=(-H "Authorization: Bearer ${AUTH[$t]}")
  resp=$(curl -s --max-time 30 "${hdr[@]}" -H 'Content-Type: application/json' --data-binary @"${BODY[$t]}" "${URL[$t]}") || true
  echo "$resp" >"$OUT/smoke-$t.json"
  grep -q '"chat.completion"' <<<"$resp" || die "smoke request through $t failed: ${resp:0:300}"
done
log "smoke requests OK through: ${TARGETS[*]}"

# ---------------------------------------------------------------- measuring one point
# Each point records how much CPU *other* processes took meanwhile (bench/cpu.py); a
# point disturbed by more than BENCH_MAX_FOREIGN cores is retried (BENCH_RETRIES times)
# after the machine calms down, and the last attempt is kept and reported as such.
TIMEFORMAT='%U %S'
WAITED=0
calm_down() { # wait up to $1 s (within the run's BENCH_WAIT_BUDGET) for a quiet machine
  local budget=$((WAIT_BUDGET - WAITED)) t=$1 start=$SECONDS
  (( budget <= 0 )) && return 0
  (( t > budget )) && t=$budget
  python3 "$BENCH/cpu.py" quiet "$MAX_FOREIGN" "$t" || log "machine still busy after ${t}s of waiting: going on"
  WAITED=$((WAITED + SECONDS - start))
}
point() { # OUTFILE CMD...: stdout -> OUTFILE, stderr -> OUTFILE.log, CPU check -> OUTFILE.cpu.json
  local outf=$1; shift
  local attempt foreign
  for attempt in $(seq 0 "$RETRIES"); do
    calm_down 60
    python3 "$BENCH/cpu.py" snap "${NAMED[@]}" >"$WORK/snap-a.json"
    { time "$@" >"$outf" 2>"$outf.log"; } 2>"$WORK/gen.time" || true
    python3 "$BENCH/cpu.py" snap "${NAMED[@]}" >"$WORK/snap-b.json"
    python3 "$BENCH/cpu.py" foreign "$WORK/snap-a.json" "$WORK/snap-b.json" "$WORK/gen.time" >"$outf.cpu.json"
    foreign=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["foreign_cores"])' "$outf.cpu.json")
    python3 -c "import sys; sys.exit(0 if $foreign > $MAX_FOREIGN else 1)" || break
    if (( attempt < RETRIES && WAITED < WAIT_BUDGET )); then
      log "other processes used $foreign cores during this point: retrying once the machine is calm"
    else
      log "other processes used $foreign cores during this point (kept; flagged in RESULTS.md)"
      break
    fi
  done
}

# ---------------------------------------------------------------- closed loop (wrk)
wrk_cmd() { # target connections seconds
  WRK=(env BENCH_BODY_FILE="${BODY[$1]}" BENCH_AUTH="${AUTH[$1]}" "${LOADGEN_PREFIX[@]}"
       wrk -t1 -c"$2" -d"$3"s --timeout 10s -s "$CONFIGS/wrk-post.lua" "${URL[$1]}")
}
for c in $CONCURRENCY; do
  for t in "${TARGETS[@]}"; do
    log "closed loop: $t, $c connections, ${WARMUP}s warm-up + ${DURATION}s"
    wrk_cmd "$t" "$c" "$WARMUP"
    "${WRK[@]}" >"$OUT/wrk-$t-c$c-warmup.txt" 2>&1 || true
    wrk_cmd "$t" "$c" "$DURATION"
    point "$OUT/wrk-$t-c$c.txt" "${WRK[@]}"
    tail -1 "$OUT/wrk-$t-c$c.txt" >&2
  done
done

# ---------------------------------------------------------------- open loop (fixed rates)
run_rate() { # target rate outfile
  local hdr=(-H "Content-Type: application/json")
  [[ -n ${AUTH[$1]} ]] && hdr+=(-H "Authorization: Bearer ${AUTH[$1]}")
  point "$3" "${LOADGEN_PREFIX[@]}" "$LOADGEN" --url "${URL[$1]}" --body-file "${BODY[$1]}" "${hdr[@]}" --rate "$2" \
    --concurrency "$OPEN_CONNS" --duration "$DURATION" --warmup "$WARMUP" --timeout 10 --drain 10 \
    --expect '"chat.completion"' --label "$1"
  tail -1 "$3.log" >&2
}
sustained() { # outfile rate -> 0 when the point was sustained
  python3 - "$1" "$2" "$SUSTAIN_P99_MS" <<'EOF'
import json, sys
try:
    r = json.load(open(sys.argv[1]))
except Exception:
    sys.exit(1)
p99 = r["latency_us"]["p99"]
ok = (r["errors"] == 0 and r["throughput_rps"] >= 0.97 * float(sys.argv[2])
      and p99 is not None and p99 <= 1000 * float(sys.argv[3]))
sys.exit(0 if ok else 1)
EOF
}
for t in "${TARGETS[@]}"; do
  rates=$RATES; [[ $t == litellm ]] && rates=$LITELLM_RATES
  i=0
  for r in $rates; do
    i=$((i + 1))
    log "fixed rate: $t at $r req/s, ${WARMUP}s warm-up + ${DURATION}s"
    run_rate "$t" "$r" "$OUT/rate-$t-$r.json"
    if (( i >= FIXED_POINTS )) && ! sustained "$OUT/rate-$t-$r.json" "$r"; then
      log "$t does not sustain $r req/s: sweep stops here"
      break
    fi
  done
done

# ---------------------------------------------------------------- unpinned pass
# The pinned pass gives the gateway one core (shared with the mock). This pass restarts the
# mock and Palisade without pinning, so Palisade's runtime uses every core (shared with the
# generator and the mock), and repeats the fixed rates for direct and Palisade.
UNPINNED_RATES=${BENCH_UNPINNED_RATES:-$(echo $RATES | cut -d' ' -f1-$FIXED_POINTS)}
if [[ $PIN == 1 && ${BENCH_UNPINNED_PASS:-1} == 1 ]]; then
  [[ -n ${LITELLM_PID:-} ]] && stop_pid "$LITELLM_PID"
  stop_pid "$PALISADE_PID"; stop_pid "$MOCK_PID"
  start_mock "${NICE_PREFIX[@]}"
  start_palisade "${NICE_PREFIX[@]}"
  LOADGEN_PREFIX=("${NICE_PREFIX[@]}")
  for t in direct palisade; do
    URL[${t}_unpinned]=${URL[$t]}; BODY[${t}_unpinned]=${BODY[$t]}; AUTH[${t}_unpinned]=${AUTH[$t]}
    for r in $UNPINNED_RATES; do
      log "fixed rate, unpinned: $t at $r req/s, ${WARMUP}s warm-up + ${DURATION}s"
      run_rate "${t}_unpinned" "$r" "$OUT/rate-${t}_unpinned-$r.json"
    done
  done
fi

LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- report
cmd="./bench/run.sh"
[[ $QUICK == 1 ]] && cmd="BENCH_QUICK=1 $cmd"
for v in BENCH_NICE BENCH_MAX_FOREIGN BENCH_RETRIES BENCH_WAIT_BUDGET BENCH_DURATION BENCH_WARMUP BENCH_CONCURRENCY BENCH_RATES BENCH_LITELLM_RATES BENCH_P99_BOUND_MS BENCH_SUSTAIN_P99_MS BENCH_OPEN_CONNECTIONS BENCH_PIN BENCH_LOADGEN_CPUS BENCH_SUT_CPUS BENCH_SKIP_BUILD BENCH_BUILD_FROM BENCH_SKIP_LITELLM BENCH_FIXED_POINTS BENCH_UNPINNED_PASS BENCH_UNPINNED_RATES; do
  [[ -n ${!v:-} ]] && cmd="$v=\"${!v}\" $cmd"
done
export BENCH_META_COMMAND=$cmd BENCH_META_LOAD_BEFORE=$LOAD_BEFORE BENCH_META_LOAD_AFTER=$LOAD_AFTER \
  BENCH_META_PINNED=$PIN BENCH_META_LOADGEN_CPUS=$LOADGEN_CPUS BENCH_META_SUT_CPUS=$SUT_CPUS \
  BENCH_META_DURATION=$DURATION BENCH_META_WARMUP=$WARMUP BENCH_META_OPEN_CONNECTIONS=$OPEN_CONNS \
  BENCH_META_P99_BOUNDS=$P99_BOUNDS BENCH_META_QUICK=$QUICK BENCH_META_SUSTAIN_P99_MS=$SUSTAIN_P99_MS BENCH_META_NICE=$NICE BENCH_META_WAITED=$WAITED BENCH_META_MAX_FOREIGN=$MAX_FOREIGN BENCH_META_PALISADE=$PALISADE \
  BENCH_META_LITELLM_STATUS=$LITELLM_STATUS BENCH_META_LITELLM_REASON=$LITELLM_REASON \
  BENCH_META_LITELLM_VERSION=$LITELLM_VERSION BENCH_META_ROOT=$ROOT BENCH_META_BUILT_COMMIT=$BUILT_COMMIT
python3 "$BENCH/report.py" "$OUT" "$RESULTS"
log "wrote $RESULTS (raw outputs in $OUT/)"
