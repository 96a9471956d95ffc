#!/usr/bin/env bash
# The demo's live load, simulated at the same scale (issue "The request path": simulated p50
# within 1.5x the live p50). Takes examples/quick.yaml as it is (model, binary payload, bursty
# workload, the three live platforms; the GPU cell, simulated only, is dropped) and changes only
# what a check at the live scale needs: its own name and database, the simulation at scale 1 on
# this machine's 2 cores, and the calibration make demo uses (the runtime alone, then the live
# Lambda run with the platform's overhead). Then bench/sim/validate.sh runs it: live, calibrate
# from the live Lambda run, simulate, print each platform's sim/live p50.
#   bench/sim/demo.sh [build/faasml]       (about 90 s; make demo first, for calibration-local)
set -euo pipefail
FAASML=$(realpath "${1:-build/faasml}")
cd "$(dirname "$0")/../.."
mkdir -p results
spec=results/demo-sim.yaml
/usr/bin/python3 - examples/quick.yaml "$spec" <<'PY'
import re, sys
src, out = sys.argv[1], sys.argv[2]
blocks, key = {}, None                      # top-level key -> its lines, in order
for line in open(src):
    m = re.match(r"([a-z_]+):", line)
    if m:
        key = m.group(1)
        blocks[key] = []
    if key:
        blocks[key].append(line)
need = ("name", "results", "report", "calibration", "simulation", "models", "platforms")
missing = [k for k in need if k not in blocks]
if missing:
    sys.exit(f"demo.sh: {src} has no top-level {', '.join(missing)}: update this script")
blocks["name"] = ["name: demo\n"]
blocks["results"] = ["results: results/demo-sim.db\n"]
blocks["report"] = ["report: results/demo-sim\n"]
blocks["calibration"] = ["calibration:\n", "  - results/calibration-local.yaml\n",
                         "  - results/calibration-demo.yaml\n"]
blocks["simulation"] = ["simulation:\n", "  host: {cores: 2}\n", "  scale: 1\n"]
plat, keep = [], True                       # every platform but the simulated-only GPU one
for line in blocks["platforms"]:
    m = re.match(r"  ([a-z_]+):", line)
    if m:
        keep = m.group(1) != "gpu"
    if keep:
        plat.append(line)
blocks["platforms"] = plat
with open(out, "w") as f:
    f.write(f"# Written by bench/sim/demo.sh from {src}; do not edit.\n")
    for lines in blocks.values():
        f.writelines(lines)
PY
SPEC=$spec CALIBRATE_RUN=demo/lambda/live P50_RATIO=${P50_RATIO:-1.5} bench/sim/validate.sh "$FAASML"
