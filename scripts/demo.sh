#!/usr/bin/env bash
# make demo: the main job on its embedded defaults — examples/quick.yaml (about 3 minutes):
# MobileNetV2 under a bursty MMPP load, served live on this machine by faasml's platform as a
# Lambda-like function, a server and a managed endpoint, then the same at cloud scale in the
# simulator (and a GPU server simulated from H200 measurements). Prints the comparison table and
# the report's path. Running it again reuses the finished runs (faasml bench --force redoes them).
set -euo pipefail
FAASML=$(realpath "${1:-build/faasml}")
cd "$(dirname "$0")/.."
models=${FAASML_MODELS:-${XDG_CACHE_HOME:-$HOME/.cache}/faasml/models}
mkdir -p results

echo "== model: MobileNetV2 (exported once with Debian's PyTorch, seeded random weights)"
tools/models/make-models.sh --models mobilenetv2

if [ ! -s results/calibration-local.yaml ]; then
    echo "== calibrating the built-in runtime on this machine (results/calibration-local.yaml)"
    "$FAASML" calibrate -m mobilenetv2="$models/mobilenetv2/model.onnx" -b 1,8 --runs 30 \
        -o results/calibration-local.yaml
fi

echo "== faasml bench examples/quick.yaml"
"$FAASML" bench examples/quick.yaml
