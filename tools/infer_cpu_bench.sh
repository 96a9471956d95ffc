#!/bin/bash
# CPU time per warm inference, faasml vs ONNX Runtime, robust to a busy machine: each runtime
# runs once with LO and once with HI warm iterations; (CPU time difference) / (HI - LO) is the
# CPU cost of one inference, which other processes on the machine barely change (wall-clock
# latency does). 1 thread. Needs bench/node_modules (see bench/infer/README.md) and the models
# in ${XDG_CACHE_HOME:-~/.cache}/faasml/models.
#   tools/infer_cpu_bench.sh [FAASML] [MODEL...]
# ONNX=model.int8.onnx runs that file of each model directory in both runtimes (what
# bench/infer/compare.sh --precisions int8 writes); PRECISION=bf16 runs faasml with --precision
# bf16 (ORT stays FP32: it has no BF16 CPU kernels).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
FAASML=${1:-$ROOT/build/faasml}
shift || true
MODELS=${*:-mobilenetv2 resnet50 vgg16 albert-base}
DIR=${XDG_CACHE_HOME:-$HOME/.cache}/faasml/models
ORT_RUN=${ORT_RUN:-$ROOT/bench/infer/ort_run.js}
LO=${LO:-5}
HI=${HI:-25}
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
cpu() { # prints user+sys seconds of the command
    /usr/bin/time -f "%U %S" "$@" 2>&1 >/dev/null | tail -1 | awk '{print $1 + $2}'
}
if ! node "$ORT_RUN" "$DIR/mobilenetv2/model.onnx" "$DIR/mobilenetv2/input_b1.npy" \
    "$DIR/mobilenetv2/output_b1.npy" 1 1 0 >/dev/null; then
    echo "cannot run ONNX Runtime with '$ORT_RUN' (set ORT_RUN, or install bench/node_modules:" \
         "see bench/infer/README.md)" >&2
    exit 1
fi
printf "%-12s %10s %10s %8s\n" model faasml_ms ort_ms ratio
for m in $MODELS; do
    d=$DIR/$m
    f=$d/${ONNX:-model.onnx}
    [ -f "$f" ] || { echo "$m: no $f" >&2; continue; }
    p=(--precision "${PRECISION:-fp32}")
    f1=$(cpu "$FAASML" infer "$f" -i "$d/input_b1.npy" --bench $LO --warmup 1 "${p[@]}")
    f2=$(cpu "$FAASML" infer "$f" -i "$d/input_b1.npy" --bench $HI --warmup 1 "${p[@]}")
    o1=$(cpu node "$ORT_RUN" "$f" "$d/input_b1.npy" "$d/output_b1.npy" 1 $LO 100000)
    o2=$(cpu node "$ORT_RUN" "$f" "$d/input_b1.npy" "$d/output_b1.npy" 1 $HI 100000)
    awk -v m="$m" -v f1="$f1" -v f2="$f2" -v o1="$o1" -v o2="$o2" -v n=$((HI - LO)) 'BEGIN {
        f = (f2 - f1) * 1000 / n; o = (o2 - o1) * 1000 / n;
        printf "%-12s %10.1f %10.1f %8.2f\n", m, f, o, (o > 0 ? f / o : 0) }'
done
