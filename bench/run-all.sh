#!/usr/bin/env bash
# `make bench`: every benchmark script in bench/, one after the other, each against its peer as
# the script itself defines (see its header). Long or heavy ones (inference against ONNX Runtime
# and PyTorch, cold starts of MobileNetV2, simulator validation, the findings runs) need models or
# peers a default machine may lack; they run only when named in BENCH.
#   bench/run-all.sh [path/to/faasml]      env: BENCH="policy fn-json ..." (default: the quick set)
# Each benchmark's output goes to stdout and to results/bench/<name>.log; a failing benchmark is
# reported and the rest still run; the exit status is 1 when any failed.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
faasml=$(realpath "${1:-$root/build/faasml}")
build=$(dirname "$faasml")
[ -x "$faasml" ] || { echo "run-all.sh: no faasml binary at '$faasml' (make build first)" >&2; exit 2; }

# name | command (the quick set first, then the ones that need models, peers or a quiet hour)
declare -A cmd=(
    [policy]="$here/policy/run.sh $build"
    [fn-json]="$here/fn/json.sh $build"
    [sim-speed]="$here/sim/speed.sh $faasml"
    [report]="$here/report/run.sh $faasml"
    [load]="$here/load/run.sh $faasml"
    [platform]="$here/platform/run.sh $faasml"
    [infer]="$here/infer/compare.sh --faasml $faasml"
    [platform-coldstart]="$here/platform/coldstart.sh $faasml"
    [sim-validate]="$here/sim/validate.sh $faasml"
    [findings]="$here/findings.sh $faasml"
)
quick="policy fn-json sim-speed report load platform"
want=${BENCH:-$quick}
for name in $want; do
    [ -n "${cmd[$name]:-}" ] || { echo "run-all.sh: unknown benchmark '$name' (known: ${!cmd[*]})" >&2; exit 2; }
done

mkdir -p "$root/results/bench"
failed=()
for name in $want; do
    echo "== $name: ${cmd[$name]}"
    if ! (cd "$root" && ${cmd[$name]}) 2>&1 | tee "$root/results/bench/$name.log"; then
        failed+=("$name")
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "run-all.sh: failed: ${failed[*]} (logs in results/bench/)" >&2
    exit 1
fi
echo "run-all.sh: all done: $want (logs in results/bench/)"
