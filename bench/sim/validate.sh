#!/usr/bin/env bash
# Simulator validation (issue: simulated vs live within p50 15 %, p99 30 %, cold starts 10 %,
# cost 10 %). Runs bench/sim/validate.yaml: every scenario live on this machine; then calibrates
# the simulator from the live steady-load lambda run (whole invocations as the platform billed
# them, and the instances' recorded start-up phases); then simulates every scenario on the same
# arrivals with this machine's 2 cores, and prints the simulation's relative error against each
# live run. Measure on a quiet machine.
#   bench/sim/validate.sh [build/faasml]        (about 10 minutes)
# Another spec of the same shape (scale 1, host {cores: 2}, its last calibration file written
# here) is validated the same way, e.g. the demo's load (target: p50 within 1.5x):
#   bench/sim/demo.sh (examples/quick.yaml at scale 1: SPEC, CALIBRATE_RUN, P50_RATIO=1.5)
set -euo pipefail
FAASML=$(realpath "${1:-build/faasml}")
cd "$(dirname "$0")/../.."
spec=${SPEC:-bench/sim/validate.yaml}
name=$(sed -n 's/^name: *\([A-Za-z0-9_-]*\).*/\1/p' "$spec")
db=results/$(sed -n 's/^results: *results\/\([^ ]*\)\.db.*/\1/p' "$spec").db
calibration=results/calibration-$name.yaml
grep -q "$calibration" "$spec" || { echo "validate: $spec does not list $calibration" >&2; exit 2; }
models=${FAASML_MODELS:-${XDG_CACHE_HOME:-$HOME/.cache}/faasml/models}
mkdir -p results
tools/models/make-models.sh --models mobilenetv2 >/dev/null
"$FAASML" bench "$spec" --live-only --force --no-html >/dev/null
"$FAASML" calibrate --from-db "$db" --run "${CALIBRATE_RUN:-$name/steady/lambda/live}" \
    -o "$calibration"
"$FAASML" bench "$spec" --sim-only --force --no-html >/dev/null
"$FAASML" report "$db" --format json > "results/$name.json"
P50_RATIO=${P50_RATIO:-} /usr/bin/python3 - "results/$name.json" <<'PY'
import json, os, sys
runs = json.load(open(sys.argv[1]))["runs"]
ratio = float(os.environ["P50_RATIO"]) if os.environ.get("P50_RATIO") else None
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
    out = [name.split("/", 1)[1][:-5].ljust(18)]
    for label, key, limit in (("p50", "latency_p50_ms", 15), ("p99", "latency_p99_ms", 30),
                              ("cold", "cold_starts", 10), ("cost", "cost", 10)):
        a, b = metric(live, key), metric(sim, key)
        if a is None or b is None:
            out.append(f"{label} n/a")
        elif a == 0:
            out.append(f"{label} live 0 sim {b:.4g}")
        elif label == "p50" and ratio:
            r = b / a
            miss = "" if 1 / ratio <= r <= ratio else " MISS"
            out.append(f"{label} {a:.4g}->{b:.4g} (sim/live {r:.2f}x{miss})")
        else:
            e = 100 * (b - a) / a
            out.append(f"{label} {a:.4g}->{b:.4g} ({e:+.0f}%{'' if abs(e) <= limit else ' MISS'})")
    rows.append("  ".join(out))
print("scenario  metric live->sim (relative error; MISS past the target)")
print("\n".join(rows))
PY
