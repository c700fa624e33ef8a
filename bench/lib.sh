# Shared pieces of the gateway benchmarks (sourced by audit.sh and scan/overhead.sh):
# loopback ports, waiting for a service, CPU pinning (load generator on CPU 0, services
# on CPU 1), starting one `palisade serve` per variant against the mock upstream with a
# user and API key, and one fixed-rate load point. Callers set PALISADE, MOCK, LOADGEN,
# OUT and WORK, and append to PIDS.

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_http() { for _ in $(seq 1 120); do curl -sf -o /dev/null --max-time 2 "$1" && return 0; sleep 0.25; done; return 1; }
PIN=(); LPIN=()
if (( $(nproc) >= 2 )) && command -v taskset >/dev/null; then PIN=(taskset -c 1); LPIN=(taskset -c 0); fi
declare -A PORT ADMIN KEY
BENCH_ADMIN_TOKEN="bench-admin-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"

# start_mock: the mock upstream on CPU 1; sets MOCK_PORT.
start_mock() {
  MOCK_PORT=$(free_port)
  MOCK_THREADS=1 "${PIN[@]}" "$MOCK" --port "$MOCK_PORT" --no-record >"$OUT/mock.log" 2>&1 &
  PIDS+=($!)
  wait_http "http://127.0.0.1:$MOCK_PORT/v1/models" || { echo "mock did not start" >&2; return 1; }
}

# start_gateway VARIANT EXTRA_TOML: one gateway, model `bench` → the mock; sets PORT[VARIANT],
# ADMIN[VARIANT] (the admin plane's port: /metrics with $BENCH_ADMIN_TOKEN) and KEY[VARIANT].
# EXTRA_TOML holds the variant's own sections.
start_gateway() {
  local variant=$1 extra=$2 dir=$WORK/$1 port admin
  mkdir -p "$dir"; port=$(free_port); admin=$(free_port); PORT[$variant]=$port; ADMIN[$variant]=$admin
  cat >"$dir/palisade.toml" <<TOML
[server]
listen = "127.0.0.1:$port"
admin_listen = "127.0.0.1:$admin"
[store]
url = "sqlite://$dir/palisade.db"
[logging]
level = "warn"
$extra
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
  (cd "$dir" && PALISADE_ADMIN_TOKEN=$BENCH_ADMIN_TOKEN exec "${PIN[@]}" "$PALISADE" serve --config "$dir/palisade.toml" >"$OUT/palisade-$variant.log" 2>&1) &
  PIDS+=($!)
  wait_http "http://127.0.0.1:$port/readyz" || { echo "palisade ($variant) did not start" >&2; tail "$OUT/palisade-$variant.log" >&2; return 1; }
  KEY[$variant]=$(PALISADE_ADMIN_URL="http://127.0.0.1:$admin" PALISADE_ADMIN_TOKEN=$BENCH_ADMIN_TOKEN bash -c \
    '"$0" users create bench >/dev/null && "$0" keys create --user bench --name bench --json' "$PALISADE" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
}

# load_point VARIANT RATE BODY_FILE OUT_JSONL [ROUND]: one open-loop fixed-rate run;
# appends {"variant","rate","round","p50_us","p99_us","ok","errors","overhead_p50_us"} to
# OUT_JSONL (the last: the p50 of the gateway's own x-palisade-overhead-ms header).
load_point() {
  local variant=$1 rate=$2 body=$3 jsonl=$4 round=${5:-1}
  "${LPIN[@]}" "$LOADGEN" --url "http://127.0.0.1:${PORT[$variant]}/v1/chat/completions" \
    --body-file "$body" -H "Content-Type: application/json" -H "Authorization: Bearer ${KEY[$variant]}" \
    --rate "$rate" --concurrency 64 --duration "$DURATION" --warmup "$WARMUP" --timeout 10 --drain 10 \
    --expect '"chat.completion"' --label "$variant" >"$OUT/gw-$variant-$rate-$round.json" 2>"$OUT/gw-$variant-$rate-$round.log"
  python3 - "$variant" "$rate" "$OUT/gw-$variant-$rate-$round.json" "$round" >>"$jsonl" <<'PY'
import json, sys
r = json.load(open(sys.argv[3]))
print(json.dumps({"variant": sys.argv[1], "rate": int(sys.argv[2]), "round": int(sys.argv[4]), "p50_us": r["latency_us"]["p50"],
                  "p99_us": r["latency_us"]["p99"], "ok": r.get("ok"), "errors": r.get("errors"),
                  "overhead_p50_us": (r.get("gateway_overhead_us") or {}).get("p50")}))
PY
  tail -1 "$jsonl" >&2
}
