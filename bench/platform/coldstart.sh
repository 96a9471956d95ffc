#!/usr/bin/env bash
# Cold start (exec vs zygote vs the Python/PyTorch runtime vs ONNX Runtime session creation) and
# dynamic batching (throughput and p99 vs batch.max_size) for MobileNetV2 under `faasml serve`.
# usage: bench/platform/coldstart.sh [--trace] [path/to/faasml]
#   --trace: instead, where the milliseconds of one cold start go, phase by phase (coldtrace.py):
#            exec and dynamic linking, cgroup create/attach, model open/parse/plan, oneDNN
#            primitives, weight reorder, packed-weight cache, first inference (env RUNS=5)
# env: COLD=20 (cold starts per runtime), RATE=8 SECS=6 SIZES=1,2,4,8 DELAY_MS=50 (batching),
#      SKIP=ort,torch,cold,batch (parts to leave out), MODEL_DIR (default ~/.cache/faasml/models/
#      mobilenetv2, written by tools/models/make-models.sh --models mobilenetv2)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
TRACE=0
if [ "${1:-}" = --trace ]; then TRACE=1; shift; fi
FAASML=$(realpath "${1:-$SRC/build/faasml}")
MODEL_DIR=${MODEL_DIR:-$HOME/.cache/faasml/models/mobilenetv2}
[ -f "$MODEL_DIR/model.onnx" ] || { echo "no model in $MODEL_DIR: run tools/models/make-models.sh --models mobilenetv2"; exit 1; }
[ "$TRACE" = 1 ] && exec /usr/bin/python3 "$HERE/coldtrace.py" "$FAASML" "$SRC" "$MODEL_DIR"
if [[ ",${SKIP:-}," != *,ort,* ]] && [ ! -d "$SRC/bench/node_modules/onnxruntime-node" ]; then
    echo "coldstart: installing onnxruntime-node into bench/node_modules" >&2
    (cd "$SRC/bench" && ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund >&2) ||
        echo "coldstart: onnxruntime-node unavailable; the ort column is skipped" >&2
fi
exec /usr/bin/python3 "$HERE/coldstart.py" "$FAASML" "$SRC" "$MODEL_DIR"
