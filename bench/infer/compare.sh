#!/usr/bin/env bash
# faasml's inference runtime vs ONNX Runtime (onnxruntime-node) vs PyTorch, side by side.
# usage: bench/infer/compare.sh [--models mobilenetv2,albert-base] [--runtimes faasml,ort,torch]
#        [--batches 1,8] [--runs 3] [--iters 30] [--budget 5] [--faasml build/faasml]
# Installs onnxruntime-node into bench/node_modules if missing (ONNXRUNTIME_NODE_INSTALL=skip: the
# CPU build ships in the package) and exports missing models; see bench/infer/README.md.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
models=mobilenetv2,resnet50,vgg16,albert-base  # compare.py's default
args=("$@")
out=()
for ((i = 0; i < ${#args[@]}; i++)); do
    case "${args[i]}" in
        --models) models=${args[i+1]:-$models} ;;
        --models=*) models=${args[i]#--models=} ;;
        --models-dir) out=(--out "${args[i+1]:-}") ;;
        --models-dir=*) out=(--out "${args[i]#--models-dir=}") ;;
        -h|--help) exec /usr/bin/python3 "$here/compare.py" --help ;;
    esac
done
if [ ! -d "$root/bench/node_modules/onnxruntime-node" ]; then
    echo "compare: installing onnxruntime-node into bench/node_modules" >&2
    (cd "$root/bench" && ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund >&2)
fi
"$root/tools/models/make-models.sh" --models "$models" ${out[@]+"${out[@]}"}
exec /usr/bin/python3 "$here/compare.py" ${args[@]+"${args[@]}"}
