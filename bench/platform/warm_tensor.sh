#!/usr/bin/env bash
# Warm latency of a real tensor request per isolation: MobileNetV2 as a lambda-profile
# builtin-onnx function (1769 MB, one instance kept warm), `isolation: process` and
# `isolation: sandbox` side by side on one `faasml serve`, each sent N KServe v2 binary requests
# (602 KB) one at a time, one every GAP s. Prints p50/p75/p90/max of the client latency (curl's
# time_total), cells interleaved over RUNS rounds. This is where a Runtime API listener with
# Nagle on shows: one large answer in three waited 40 ms for the runtime's delayed ACK.
#   bench/platform/warm_tensor.sh [path/to/faasml]     env: N=60 GAP=0.08 RUNS=3 MODEL_DIR=...
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
N=${N:-60} GAP=${GAP:-0.08} RUNS=${RUNS:-3}
MODEL_DIR=${MODEL_DIR:-$HOME/.cache/faasml/models/mobilenetv2}
[ -f "$MODEL_DIR/model.onnx" ] || { echo "no $MODEL_DIR/model.onnx (tools/models/make-models.sh)"; exit 1; }
bench_tmp warm-tensor
"$FAASML" serve --listen 127.0.0.1:0 --log-dir "$TMP" >"$TMP/serve" 2>"$TMP/serve.err" &
PIDS+=($!)
for _ in $(seq 600); do grep -q '^listening on' "$TMP/serve" && break; sleep 0.05; done
GW=$(sed -n 's/^listening on //p' "$TMP/serve" | head -1)
[ -n "$GW" ] || { echo "faasml serve did not start: $(cat "$TMP/serve.err")"; exit 1; }
for iso in process sandbox; do
    printf 'name: %s\nruntime: builtin-onnx\nmodel: %s\nprofile: lambda\nmemory_mb: 1769\nisolation: %s\nprovisioned_concurrency: 1\n' \
        "$iso" "$MODEL_DIR/model.onnx" "$iso" >"$TMP/$iso.yaml"
    "$FAASML" deploy "$TMP/$iso.yaml" --gateway "$GW" >/dev/null
done
"$FAASML" request "$MODEL_DIR/model.onnx" --format v2-binary -o "$TMP/req.bin" 2>"$TMP/req.out"
HL=$(sed -n "s/.*Inference-Header-Content-Length: \([0-9]*\).*/\1/p" "$TMP/req.out")
post() {
    curl -sS -o /dev/null -w '%{time_total}\n' -X POST "$GW/v2/models/$1/infer" \
        -H "Inference-Header-Content-Length: $HL" -H 'Content-Type: application/octet-stream' \
        --data-binary "@$TMP/req.bin"
}
for iso in process sandbox; do post "$iso" >/dev/null; done # warm: model loaded, pages in
for r in $(seq "$RUNS"); do
    for iso in process sandbox; do
        for _ in $(seq "$N"); do post "$iso" >>"$TMP/$iso.lat"; sleep "$GAP"; done
    done
done
printf '%-8s %8s %8s %8s %8s   (%s requests, ms)\n' isolation p50 p75 p90 max "$((N * RUNS))"
for iso in process sandbox; do
    sort -g "$TMP/$iso.lat" | awk -v iso="$iso" '{a[NR] = $1 * 1000}
        END {printf "%-8s %8.1f %8.1f %8.1f %8.1f\n", iso,
             a[int(NR * .5 + .5)], a[int(NR * .75 + .5)], a[int(NR * .9 + .5)], a[NR]}'
done
bench_loadavg
