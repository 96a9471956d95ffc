#!/usr/bin/env bash
# make demo: the main job on its embedded defaults — examples/quick.yaml (about 3 minutes):
# MobileNetV2 under a bursty MMPP load, served live on this machine by faasml's platform as a
# Lambda-like function, a server and a managed endpoint, then the same at cloud scale in the
# simulator (and a GPU server simulated from H200 measurements). Prints the comparison table and
# the report's path. Running it again reuses the finished runs (faasml bench --force redoes them).
# The simulator is calibrated twice: the runtime alone (faasml calibrate), then the live Lambda run.
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

# Why: the simulator should see what a client of this platform sees, so the live Lambda run comes
# first and calibrates it (the platform's durations, cold-start phases and gateway overhead);
# then the rest of the spec runs, simulated cells included.
echo "== faasml bench examples/quick.yaml --live-only"
"$FAASML" bench examples/quick.yaml --live-only
echo "== calibrating the simulator from the live Lambda run (results/calibration-quick-live.yaml)"
"$FAASML" calibrate --from-db results/quick.db --run quick/lambda/live \
    -o results/calibration-quick-live.yaml
echo "== faasml bench examples/quick.yaml"
"$FAASML" bench examples/quick.yaml
