#!/usr/bin/env bash
# Cold start of a runtime: image instance (podman run of the image faasml package builds) vs the
# exec path (builtin-onnx), MobileNetV2 under one `faasml serve`, interleaved (docs/deploy.md).
# usage: bench/platform/image_coldstart.sh [path/to/faasml]
# env: COLD=10 (cold starts per path), WARM=20, MODEL_DIR (default ~/.cache/faasml/models/
#      mobilenetv2, written by tools/models/make-models.sh --models mobilenetv2)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
FAASML=$(realpath "${1:-$SRC/build/faasml}")
MODEL_DIR=${MODEL_DIR:-$HOME/.cache/faasml/models/mobilenetv2}
[ -f "$MODEL_DIR/model.onnx" ] || { echo "no model in $MODEL_DIR: run tools/models/make-models.sh --models mobilenetv2"; exit 1; }
command -v podman >/dev/null || { echo "podman is not installed (scripts/install-deps.sh)"; exit 1; }
TMP=$(mktemp -d /tmp/faasml-imgcold-req.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
"$FAASML" request "$MODEL_DIR/model.onnx" --seed 1 -o "$TMP/req.json"
/usr/bin/python3 "$HERE/image_coldstart.py" "$FAASML" "$MODEL_DIR/model.onnx" "$TMP/req.json"
