#!/usr/bin/env bash
# Exports faasml's test and benchmark models into the model cache (see docs/models.md).
#   tools/models/make-models.sh            tiny and big models (what `make models` runs)
#   tools/models/make-models.sh --tiny     only the tiny test models (seconds)
#   tools/models/make-models.sh --models mobilenetv2,albert-base [--force] [--out DIR]
# Models already exported by the same script version are skipped. Needs Debian's python3-torch,
# python3-torchvision and python3-onnx (scripts/install-deps.sh installs them); downloads nothing.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
sel=all
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --tiny) sel=tiny ;;
        --all) sel=all ;;
        --models) sel=${2:?--models needs a value}; shift ;;
        --models=*) sel=${1#--models=} ;;
        -h|--help) sed -n '2,7s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) args+=("$1") ;;
    esac
    shift
done
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
exec /usr/bin/python3 -W ignore "$here/export.py" --models "$sel" ${args[@]+"${args[@]}"}
