#!/usr/bin/env bash
# MobileNetV2 one request at a time, warm, one client (docs/platform.md, "Benchmarks"): the same
# payload through `faasml serve` (KServe v2 route) and to `faasml fn` direct, for v2 JSON, v2
# binary and a 224x224 JPEG of the input; beside them a KServe v2 JSON peer written as a user
# would (onnxruntime-node behind node's http, bench/platform/ort_kserve.js) and faasml's
# in-process inference (`faasml infer --bench`). Medians over RUNS runs of N requests each.
# usage: bench/platform/tensors.sh [path/to/faasml]   env: N=20 RUNS=3 THREADS=1 MODEL_DIR=...
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
N=${N:-20} RUNS=${RUNS:-3} THREADS=${THREADS:-1}
MODEL_DIR=${MODEL_DIR:-$HOME/.cache/faasml/models/mobilenetv2}
MODEL=$MODEL_DIR/model.onnx INPUT=$MODEL_DIR/input_b1.npy
[ -f "$MODEL" ] || { echo "no $MODEL (tools/models/make-models.sh --models mobilenetv2)"; exit 1; }
bench_tmp tensors
ready_url() { # FILE PID: waits for "listening on URL" and prints URL
    for _ in $(seq 1200); do
        grep -q '^listening on' "$1" 2>/dev/null && break
        kill -0 "$2" 2>/dev/null || { echo "server exited: $(cat "$1".err 2>/dev/null)" >&2; exit 1; }
        sleep 0.05
    done
    sed -n 's/^listening on //p' "$1" | head -1
}

cc -O2 -o "$TMP/make_jpeg" "$HERE/make_jpeg.c" -ljpeg
"$TMP/make_jpeg" "$INPUT" "$TMP/input.jpg"

"$FAASML" fn --model "$MODEL" --name mobilenetv2 --threads "$THREADS" --listen 127.0.0.1:0 \
    >"$TMP/fn" 2>"$TMP/fn.err" &
PIDS+=($!)
FN=$(ready_url "$TMP/fn" $!)

# The same model as a function, one provisioned instance, no CPU quota (as `faasml fn` direct).
cat >"$TMP/mobilenetv2.yaml" <<SPEC
name: mobilenetv2
runtime: builtin-onnx
model: $MODEL
memory_mb: 3008
timeout_s: 60
provisioned_concurrency: 1
keep_alive: 1h
SPEC
"$FAASML" serve --listen 127.0.0.1:0 --no-cpu-limit --log-dir "$TMP" --deploy "$TMP/mobilenetv2.yaml" \
    >"$TMP/serve" 2>"$TMP/serve.err" &
PIDS+=($!)
GW=$(ready_url "$TMP/serve" $!)

ORT=
if [ ! -d "$SRC/bench/node_modules/onnxruntime-node" ] && command -v npm >/dev/null; then
    (cd "$SRC/bench" && ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund >&2) || true
fi
if [ -d "$SRC/bench/node_modules/onnxruntime-node" ]; then
    node "$HERE/ort_kserve.js" "$MODEL" "$THREADS" >"$TMP/ort" 2>"$TMP/ort.err" &
    PIDS+=($!)
    ORT=$(ready_url "$TMP/ort" $!)
fi

EPS=("serve-json=$GW/v2/models/mobilenetv2/infer:json" "fn-json=$FN/v2/models/mobilenetv2/infer:json"
     "serve-binary=$GW/v2/models/mobilenetv2/infer:binary" "fn-binary=$FN/v2/models/mobilenetv2/infer:binary"
     "serve-jpeg=$GW/v2/models/mobilenetv2/infer:jpeg" "fn-jpeg=$FN/invocations:jpeg")
[ -n "$ORT" ] && EPS+=("ort-node-json=$ORT/v2/models/mobilenetv2/infer:json")
python3 "$HERE/tensors_client.py" "$N" "$RUNS" "$INPUT" "$TMP/input.jpg" "${EPS[@]}" >"$TMP/lat.jsonl"
: >"$TMP/inproc.jsonl"
for r in $(seq "$RUNS"); do
    "$FAASML" infer "$MODEL" --input "$INPUT" --threads "$THREADS" --bench "$N" --json >>"$TMP/inproc.jsonl"
done

python3 - "$TMP/lat.jsonl" "$TMP/inproc.jsonl" "$N" "$RUNS" "$THREADS" <<'PY'
import json, statistics as st, sys
eps = {d["name"]: d for d in map(json.loads, open(sys.argv[1]))}
inproc = [json.loads(l)["p50_ms"] for l in open(sys.argv[2])]
n, runs, threads = sys.argv[3:6]
med = {k: st.median(r["p50"] for r in d["runs"]) for k, d in eps.items()}
print(f"## MobileNetV2, one request at a time, warm ({runs} runs x {n} requests, {threads} thread(s);"
      " median of the runs' p50, ms)")
print("| path | p50 | p50 of each run | p90 (median) |")
print("|---|---|---|---|")
for k, d in eps.items():
    each = ", ".join("%.1f" % r["p50"] for r in d["runs"])
    p90 = st.median(r["p90"] for r in d["runs"])
    print(f"| {k} | {med[k]:.1f} | {each} | {p90:.1f} |")
ip = st.median(inproc)
print(f"| in-process (faasml infer --bench) | {ip:.1f} | {', '.join(f'{x:.1f}' for x in inproc)} | |")
print()
for kind in ("json", "binary", "jpeg"):
    print(f"serve/fn direct, {kind}: {med['serve-' + kind] / med['fn-' + kind]:.2f}x "
          f"(gateway adds {med['serve-' + kind] - med['fn-' + kind]:.1f} ms)")
print(f"serve binary - in-process inference: {med['serve-binary'] - ip:.1f} ms")
if "ort-node-json" in med:
    print(f"serve JSON / onnxruntime-node peer JSON: {med['serve-json'] / med['ort-node-json']:.2f}x")
PY
echo
bench_loadavg
