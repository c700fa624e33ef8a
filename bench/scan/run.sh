#!/usr/bin/env bash
# Scan benchmark, one command: Palisade's detectors vs Presidio, detect-secrets and cerberust,
# side by side on the same corpus in one run. Writes bench/scan/RESULTS.md; raw outputs under
# bench/scan/out/. See bench/scan/README.md.
#
#   bench/scan/run.sh                 everything (Palisade needs palisade_scan::engine, see README)
#   bench/scan/run.sh --no-palisade   cerberust + Presidio + detect-secrets only
#
# Knobs (environment):
#   SCAN_BENCH_CPU=N              the one core every tool is pinned to (default: the last one)
#   SCAN_BENCH_COUNT=2000         prompts in the corpus
#   SCAN_BENCH_SEED=20240611      corpus seed
#   SCAN_BENCH_PRESIDIO_LIMIT=0   measure Presidio on the first N prompts only (0 = all)
#   SCAN_BENCH_MIN_SECS=1         Rust: minimum seconds of repeated passes per measurement
#   SCAN_BENCH_PY_TOOLS=presidio,detect-secrets,detect-secrets-file
#   SCAN_BENCH_FILLER=PATH        benign filler CSV (default shared/data/injection/s-labs/validation.csv)
#   SCAN_BENCH_VENV=DIR           Python venv (default bench/scan/out/venv; rebuilt when requirements.txt changes)
#   CARGO_TARGET_DIR              harness build dir (default $HOME/.cache/palisade-bench-scan-target)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=$HERE/out
PALISADE=1
for arg in "$@"; do
    case $arg in
        --no-palisade) PALISADE=0 ;;
        -h|--help) sed -n 2,20p "$0"; exit 0 ;;
        *) echo "run.sh: unknown argument $arg" >&2; exit 2 ;;
    esac
done

NPROC=$(nproc)
CPU=${SCAN_BENCH_CPU:-$((NPROC - 1))}
COUNT=${SCAN_BENCH_COUNT:-2000}
SEED=${SCAN_BENCH_SEED:-20240611}
VENV=${SCAN_BENCH_VENV:-$OUT/venv}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/palisade-bench-scan-target}
# One thread per process everywhere (numpy/BLAS under spaCy); the pin makes it one core anyway.
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 RAYON_NUM_THREADS=1
mkdir -p "$OUT"
started=$(date +%s)
step() { echo "== [$(($(date +%s) - started))s] $*"; }

if command -v taskset >/dev/null 2>&1; then
    PIN=(taskset -c "$CPU")
    PINNING="every tool pinned with \`taskset -c $CPU\` (one core, the same for all), run one after another"
else
    PIN=()
    PINNING="not pinned (taskset not found); tools run one after another"
fi

step "corpus ($COUNT prompts, seed $SEED)"
corpus_args=(--count "$COUNT" --seed "$SEED")
[[ -n ${SCAN_BENCH_FILLER:-} ]] && corpus_args+=(--filler "$SCAN_BENCH_FILLER")
python3 "$HERE/corpus.py" "${corpus_args[@]}"

step "python venv ($VENV)"
req_hash=$(sha256sum "$HERE/requirements.txt" | cut -c1-16)
if [[ ! -f $VENV/.installed-$req_hash ]]; then
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$HERE/requirements.txt"
    touch "$VENV/.installed-$req_hash"
fi

step "harness build (release${PALISADE:+, palisade=$PALISADE}) in $CARGO_TARGET_DIR"
features=()
[[ $PALISADE == 1 ]] && features=(--features palisade)
if ! (cd "$HERE/harness" && cargo build --release "${features[@]}"); then
    if [[ $PALISADE == 1 ]]; then
        echo "run.sh: the harness did not build with --features palisade; palisade_scan::engine::Scanner and" >&2
        echo "        palisade_scan::injection::Classifier::builtin are needed (see README). Use --no-palisade." >&2
    fi
    exit 1
fi
HARNESS=$CARGO_TARGET_DIR/release/palisade-bench-scan

step "machine"
cpu_model=$(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -1)
[[ -z $cpu_model ]] && cpu_model=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | head -1)
commit=$(git -C "$ROOT" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
dirty=false
[[ -n $(git -C "$ROOT" status --porcelain 2>/dev/null) ]] && dirty=true
mem=$(awk '/MemTotal/ {printf "%.0f GiB RAM", $2 / 1048576}' /proc/meminfo)
presidio_note="Presidio measured on all prompts"
[[ ${SCAN_BENCH_PRESIDIO_LIMIT:-0} != 0 ]] && presidio_note="Presidio measured on the first ${SCAN_BENCH_PRESIDIO_LIMIT} prompts only (SCAN_BENCH_PRESIDIO_LIMIT)"
python3 - "$OUT/meta.json" <<EOF
import json, sys
json.dump({
    "date": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
    "commit": "$commit",
    "dirty": $( [[ $dirty == true ]] && echo True || echo False ),
    "nproc": $NPROC,
    "cpu_model": """$cpu_model""",
    "mem": "$mem",
    "kernel": "$(uname -r)",
    "loadavg": "$(cut -d' ' -f1-3 /proc/loadavg)",
    "pinning": "$PINNING",
    "rustc": "$(rustc -V)",
    "python": "$("$VENV/bin/python" -c 'import platform; print(platform.python_version())')",
    "seed": $SEED,
    "palisade": $( [[ $PALISADE == 1 ]] && echo True || echo False ),
    "notes": ["$presidio_note", "Environment: OMP_NUM_THREADS=OPENBLAS_NUM_THREADS=MKL_NUM_THREADS=1"],
}, open(sys.argv[1], "w"), indent=1)
EOF
echo "$cpu_model, nproc $NPROC, load $(cut -d' ' -f1-3 /proc/loadavg); $PINNING"

step "rust tools (cerberust$([[ $PALISADE == 1 ]] && echo ", palisade"))"
"${PIN[@]}" "$HARNESS" --corpus "$OUT/corpus.jsonl" --out "$OUT/rust.json" --min-secs "${SCAN_BENCH_MIN_SECS:-1}"

step "python tools (Presidio, detect-secrets)"
"${PIN[@]}" "$VENV/bin/python" "$HERE/python/run_python.py" --corpus "$OUT/corpus.jsonl" --out "$OUT/python.json" \
    --tools "${SCAN_BENCH_PY_TOOLS:-presidio,detect-secrets,detect-secrets-file}" \
    --presidio-limit "${SCAN_BENCH_PRESIDIO_LIMIT:-0}"

step "report"
python3 "$HERE/report.py" --out-dir "$OUT" --results "$HERE/RESULTS.md"
step "done"
