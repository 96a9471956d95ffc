#!/usr/bin/env bash
# Simulator speed: one day at 1000 requests/s on the lambda profile (86.4 M requests), nothing
# recorded but the summary, median of RUNS runs. Prints simulated requests per second of wall and
# of CPU time next to SimFaaS's published ~21 k requests/s (the anchor for this class of tool).
#   bench/sim/speed.sh [build/faasml] [RUNS]
set -euo pipefail
FAASML=$(realpath "${1:-build/faasml}")
RUNS=${2:-3}
cd "$(dirname "$0")/../.."
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
# the engine's speed does not depend on the numbers in the calibration, only on its shape
cat > "$T/cal.yaml" <<'YAML'
source: synthetic, for the speed benchmark only (service and start times do not change its cost)
service:
  - {model: m, memory_mb: 1769, batch: 1, latency_ms: {p50: 8, p99: 15}}
cold_start:
  - {model: m, memory_mb: 1769, spawn_ms: 5, load_ms: {p50: 40, p99: 80}, warmup_ms: 8}
YAML
cat > "$T/day.yaml" <<'YAML'
name: speed
seed: 1
calibration: cal.yaml
functions:
  - {name: f, model: m, profile: lambda, policy: {fn: {memory_mb: 1769}},
     workload: {process: poisson, rate: 1000, duration: 24h}}
YAML
for i in $(seq "$RUNS"); do
    /usr/bin/time -f "%e %U" -o "$T/time.$i" "$FAASML" simulate "$T/day.yaml" --record none --json \
        > "$T/out.$i"
done
/usr/bin/python3 - "$T" "$RUNS" <<'PY'
import json, statistics, sys
d, n = sys.argv[1], int(sys.argv[2])
wall, cpu, reqs = [], [], None
for i in range(1, n + 1):
    w, u = map(float, open(f"{d}/time.{i}").read().split())
    out = json.load(open(f"{d}/out.{i}"))
    reqs = out["functions"][0]["arrivals"]
    wall.append(w); cpu.append(u)
mw, mc = statistics.median(wall), statistics.median(cpu)
print(f"requests simulated: {reqs} (one day at 1000 req/s, lambda profile)")
print(f"median wall {mw:.1f} s, CPU {mc:.1f} s over {n} runs")
print(f"simulated requests/s: {reqs/mw:,.0f} (wall), {reqs/mc:,.0f} (CPU)")
print(f"vs SimFaaS ~21,000 req/s: x{reqs/mw/21000:.0f} (wall), x{reqs/mc/21000:.0f} (CPU)")
PY
