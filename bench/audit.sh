#!/usr/bin/env bash
# Audit ledger benchmark; writes bench/RESULTS-audit.md. In one run:
#   1. durable audit throughput through the real ledger (strict durability, group commit,
#      512 concurrent producers, 1 record in 4 with encrypted content): SQLite with
#      sync=full and sync=normal, and PostgreSQL (started on loopback when installed);
#   2. `verify` of a log of 1,000,000 records (SQLite);
#   3. the gateway's latency with audit off, on (sync=full) and on (sync=normal), side by
#      side against one mock upstream, interleaved at each fixed rate.
#
#   ./bench/audit.sh                    full run (~10 min after the builds)
#   AUDIT_BENCH_QUICK=1 ./bench/audit.sh  smoke run
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/palisade-target}
QUICK=${AUDIT_BENCH_QUICK:-0}
if [[ $QUICK == 1 ]]; then
  RECORDS=20000; VERIFY=100000; RATES="1000"; DURATION=3; WARMUP=1
else
  RECORDS=${AUDIT_BENCH_RECORDS:-200000}; VERIFY=${AUDIT_BENCH_VERIFY:-1000000}
  RATES=${AUDIT_BENCH_RATES:-"1000 2000 3000"}; DURATION=${AUDIT_BENCH_DURATION:-10}; WARMUP=2
fi
OUT=$ROOT/bench/out/audit; mkdir -p "$OUT"
RESULTS=$ROOT/bench/RESULTS-audit.md
log() { printf '[audit-bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

log "building (release): palisade, mock upstream, ledger_bench, load generator"
cargo build --release -p palisade -p palisade-testkit --bins >"$OUT/build.log" 2>&1
cargo build --release -p palisade-audit --example ledger_bench >>"$OUT/build.log" 2>&1
(cd bench/loadgen && CARGO_TARGET_DIR=$ROOT/bench/loadgen/target cargo build --release --locked) >>"$OUT/build.log" 2>&1
PALISADE=$CARGO_TARGET_DIR/release/palisade
MOCK=$CARGO_TARGET_DIR/release/palisade-mock-upstream
LOADGEN=$ROOT/bench/loadgen/target/release/palisade-bench-loadgen

log "1-2. ledger throughput ($RECORDS records per backend) and verification ($VERIFY records)"
"$CARGO_TARGET_DIR/release/examples/ledger_bench" "$RECORDS" "$VERIFY" >"$OUT/ledger.jsonl" 2>"$OUT/ledger.log"
cat "$OUT/ledger.jsonl" >&2

WORK=$(mktemp -d "${TMPDIR:-/tmp}/palisade-audit-bench.XXXXXX")
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; sleep 0.5; rm -rf "$WORK"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_http() { for _ in $(seq 1 120); do curl -sf -o /dev/null --max-time 2 "$1" && return 0; sleep 0.25; done; return 1; }
PIN=(); LPIN=()
if (( $(nproc) >= 2 )) && command -v taskset >/dev/null; then PIN=(taskset -c 1); LPIN=(taskset -c 0); fi

MOCK_PORT=$(free_port)
MOCK_THREADS=1 "${PIN[@]}" "$MOCK" --port "$MOCK_PORT" --no-record >"$OUT/mock.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$MOCK_PORT/v1/models" || { log "mock did not start"; exit 1; }

declare -A PORT KEY
ADMIN_TOKEN="bench-admin-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
for variant in off full normal; do
  dir=$WORK/$variant; mkdir -p "$dir"
  port=$(free_port); admin=$(free_port); PORT[$variant]=$port
  case $variant in
    off) audit='enabled = false' ;;
    full) audit='sync = "full"' ;;
    normal) audit='sync = "normal"' ;;
  esac
  cat >"$dir/palisade.toml" <<TOML
[server]
listen = "127.0.0.1:$port"
admin_listen = "127.0.0.1:$admin"
[store]
url = "sqlite://$dir/palisade.db"
[logging]
level = "warn"
[audit]
$audit
signing_key_file = "$dir/audit.key"
master_key_file = "$dir/master.key"
[[providers]]
name = "mock"
kind = "openai"
base_url = "http://127.0.0.1:$MOCK_PORT/v1"
max_retries = 0
[[models]]
name = "bench"
provider = "mock"
upstream_model = "gpt-4o-mini"
TOML
  (cd "$dir" && PALISADE_ADMIN_TOKEN=$ADMIN_TOKEN exec "${PIN[@]}" "$PALISADE" serve --config "$dir/palisade.toml" >"$OUT/palisade-$variant.log" 2>&1) &
  PIDS+=($!)
  wait_http "http://127.0.0.1:$port/readyz" || { log "palisade ($variant) did not start"; tail "$OUT/palisade-$variant.log"; exit 1; }
  export PALISADE_ADMIN_URL="http://127.0.0.1:$admin" PALISADE_ADMIN_TOKEN=$ADMIN_TOKEN
  "$PALISADE" users create bench >/dev/null
  KEY[$variant]=$("$PALISADE" keys create --user bench --name bench --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
  unset PALISADE_ADMIN_TOKEN PALISADE_ADMIN_URL
done

log "3. gateway latency, audit off / on (sync=full) / on (sync=normal), rates: $RATES"
: >"$OUT/gateway.jsonl"
for rate in $RATES; do
  for variant in off full normal; do
    "${LPIN[@]}" "$LOADGEN" --url "http://127.0.0.1:${PORT[$variant]}/v1/chat/completions" \
      --body-file bench/configs/chat.json -H "Content-Type: application/json" -H "Authorization: Bearer ${KEY[$variant]}" \
      --rate "$rate" --concurrency 64 --duration "$DURATION" --warmup "$WARMUP" --timeout 10 --drain 10 \
      --expect '"chat.completion"' --label "$variant" >"$OUT/gw-$variant-$rate.json" 2>"$OUT/gw-$variant-$rate.log"
    python3 - "$variant" "$rate" "$OUT/gw-$variant-$rate.json" >>"$OUT/gateway.jsonl" <<'PY'
import json, sys
r = json.load(open(sys.argv[3]))
print(json.dumps({"variant": sys.argv[1], "rate": int(sys.argv[2]), "p50_us": r["latency_us"]["p50"],
                  "p99_us": r["latency_us"]["p99"], "ok": r.get("ok"), "errors": r.get("errors")}))
PY
    tail -1 "$OUT/gateway.jsonl" >&2
  done
done

python3 - "$OUT/ledger.jsonl" "$OUT/gateway.jsonl" "$RESULTS" "$(git rev-parse --short HEAD)" "$(nproc)" \
  "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)" "$QUICK" <<'PY'
import json, sys, datetime
ledger = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
gw = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
out, commit, cpus, cpu, quick = sys.argv[3:8]
L = []
L.append("# Audit ledger benchmark\n")
L.append(f"Generated by `./bench/audit.sh`{' (AUDIT_BENCH_QUICK=1)' if quick == '1' else ''} on "
         f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%dT%H:%M:%SZ}, commit `{commit}`, "
         f"{cpus} CPUs ({cpu}). Targets (issue 4): ≥ 20,000 durable records/s, verification of "
         "1,000,000 records in under 10 s, no more than 0.1 ms added p50.\n")
L.append("## Durable append through the ledger (strict durability, group commit)\n")
L.append("512 concurrent producers, each waiting for its record's commit; one record in four carries "
         "encrypted content. PostgreSQL is the test harness's server (`fsync=off`, so it shows the "
         "ledger's and the driver's cost, not a disk's).\n")
L.append("| backend | records | records/s | mean records per commit |\n|---|---:|---:|---:|")
for r in ledger:
    if r["measure"] == "durable_append":
        L.append(f"| {r['backend']} | {r['records']:,} | {r['records_per_s']:,} | {r['mean_batch']} |")
for r in ledger:
    if r["measure"] == "verify":
        L.append(f"\n## Verification\n\n`verify` of {r['records']:,} records ({r['checkpoints']} signed checkpoints) "
                 f"from SQLite: **{r['seconds']} s** ({r['records_per_s']:,} records/s).\n")
L.append("## Gateway latency with audit off and on\n")
L.append("Open-loop fixed rate, non-streaming chat completions against one mock upstream; the load "
         "generator on CPU 0, the gateways and the mock on CPU 1. Latency is end to end at the client.\n")
L.append("| rate (req/s) | audit | p50 (ms) | p99 (ms) | added p50 vs off (ms) | errors |\n|---:|---|---:|---:|---:|---:|")
base = {r["rate"]: r for r in gw if r["variant"] == "off"}
for r in gw:
    off = base.get(r["rate"])
    added = "" if r["variant"] == "off" or not off else f"{(r['p50_us'] - off['p50_us'])/1000:+.3f}"
    L.append(f"| {r['rate']:,} | {r['variant']} | {r['p50_us']/1000:.3f} | {r['p99_us']/1000:.3f} | {added} | {r['errors']} |")
open(out, "w").write("\n".join(L) + "\n")
PY
cat "$RESULTS"
