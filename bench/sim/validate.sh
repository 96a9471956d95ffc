#!/usr/bin/env bash
# Simulator validation (issue: simulated vs live within p50 15 %, p99 30 %, cold starts 10 %,
# cost 10 %). Runs bench/sim/validate.yaml: every scenario live on this machine; then calibrates
# the simulator from the live steady-load lambda run (whole invocations as the platform billed
# them, and the instances' recorded start-up phases); then simulates every scenario on the same
# arrivals with this machine's 2 cores, and prints the simulation's relative error against each
# live run. Measure on a quiet machine.
#   bench/sim/validate.sh [build/faasml]        (about 10 minutes)
set -euo pipefail
FAASML=$(realpath "${1:-build/faasml}")
cd "$(dirname "$0")/../.."
models=${FAASML_MODELS:-${XDG_CACHE_HOME:-$HOME/.cache}/faasml/models}
mkdir -p results
tools/models/make-models.sh --models mobilenetv2 >/dev/null
"$FAASML" bench bench/sim/validate.yaml --live-only --no-html >/dev/null
"$FAASML" calibrate --from-db results/validate.db --run validate/steady/lambda/live \
    -o results/calibration-validate.yaml
"$FAASML" bench bench/sim/validate.yaml --sim-only --force --no-html >/dev/null
"$FAASML" report results/validate.db --format json > results/validate.json
/usr/bin/python3 - results/validate.json <<'PY'
import json, sys
runs = json.load(open(sys.argv[1]))["runs"]
def metric(r, key):
    if key == "cost":
        c = r.get("cost") or {}
        return c.get("usd")
    m = r["metrics"].get(key)
    return m.get("value") if isinstance(m, dict) else m
by = {r["name"]: r for r in runs}
rows = []
for name, live in sorted(by.items()):
    if not name.endswith("/live"):
        continue
    sim = by.get(name[:-5] + "/sim")
    if not sim:
        continue
    out = [name[len("validate/"):-5].ljust(18)]
    for label, key, limit in (("p50", "latency_p50_ms", 15), ("p99", "latency_p99_ms", 30),
                              ("cold", "cold_starts", 10), ("cost", "cost", 10)):
        a, b = metric(live, key), metric(sim, key)
        if a is None or b is None:
            out.append(f"{label} n/a")
        elif a == 0:
            out.append(f"{label} live 0 sim {b:.4g}")
        else:
            e = 100 * (b - a) / a
            out.append(f"{label} {a:.4g}->{b:.4g} ({e:+.0f}%{'' if abs(e) <= limit else ' MISS'})")
    rows.append("  ".join(out))
print("scenario  metric live->sim (relative error; MISS past the target)")
print("\n".join(rows))
PY
