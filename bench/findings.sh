#!/usr/bin/env bash
# Every run behind docs/findings.md, in order, logged to results/findings.log:
#   1. make demo's experiment (examples/quick.yaml): live and cloud-scale comparison
#   2. the memory axis measured live under CPU quotas (examples/calibrate-memory.yaml)
#   3. the study's design-space questions in simulation (faasml plan examples/findings.yaml)
#   4. simulator validation against live runs (bench/sim/validate.sh)
#   5. simulator speed (bench/sim/speed.sh)
# About 20 minutes on a 2-core machine; run it on a quiet machine.
#   bench/findings.sh [build/faasml]
set -euo pipefail
FAASML=$(realpath "${1:-build/faasml}")
cd "$(dirname "$0")/.."
mkdir -p results
log=results/findings.log
: > "$log"
step() { echo "== $*" | tee -a "$log"; }
step "1. faasml bench examples/quick.yaml"
scripts/demo.sh "$FAASML" 2>&1 | tee -a "$log"
step "2. memory sizes live under CPU quotas"
"$FAASML" bench examples/calibrate-memory.yaml --no-html 2>&1 | tee -a "$log"
"$FAASML" calibrate --from-db results/calibrate-memory.db -o results/calibration-memory.yaml \
    2>&1 | tee -a "$log"
step "3. faasml plan examples/findings.yaml --slo-ms 300"
"$FAASML" plan examples/findings.yaml --slo-ms 300 2>&1 | tee -a "$log"
step "4. bench/sim/validate.sh"
bench/sim/validate.sh "$FAASML" 2>&1 | tee -a "$log"
step "5. bench/sim/speed.sh"
bench/sim/speed.sh "$FAASML" 3 2>&1 | tee -a "$log"
echo "log: $log"
