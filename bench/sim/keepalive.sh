#!/usr/bin/env bash
# Keep-alive policies on a production trace (docs/findings.md, "keep-alive on a production trace"):
# bench/sim/keepalive.yaml (200 functions x one day of the Azure Functions 2019 trace) under fixed
# 10/20/60 min, the hybrid histogram and greedy-dual at three memory budgets. Writes OUT/table.md,
# OUT/keepalive.csv, the Pareto figure OUT/pareto.svg (gnuplot) and OUT/index.html; then times
# the whole day under fixed 10 min, RUNS times, and prints the median wall and CPU seconds.
#   bench/sim/keepalive.sh [build/faasml] [OUT] [RUNS]
set -euo pipefail
FAASML=$(realpath "${1:-build/faasml}")
OUT=${2:-out/keepalive}
RUNS=${3:-3}
cd "$(dirname "$0")/../.."
mkdir -p "$OUT"
"$FAASML" simulate bench/sim/keepalive.yaml --record none --json > "$OUT/keepalive.json"
for i in $(seq "$RUNS"); do
    /usr/bin/time -f "%e %U %S" -o "$OUT/time.$i" "$FAASML" simulate bench/sim/keepalive.yaml \
        --record none --variant fixed-10m --json > /dev/null
done
/usr/bin/python3 - "$OUT" "$RUNS" <<'PY'
import json, statistics, sys, html
out, runs = sys.argv[1], int(sys.argv[2])
d = json.load(open(f"{out}/keepalive.json"))
rows = d["variants"]
with open(f"{out}/keepalive.csv", "w") as f:
    f.write("variant,invocations,cold_starts,cold_pct,cold_pct_p75_fn,wasted_gb_s,starts\n")
    for r in rows:
        f.write(f'{r["variant"]},{r["invocations"]},{r["cold_starts"]},{r["cold_pct"]:.4f},'
                f'{r["cold_pct_p75_fn"]:.4f},{r["wasted_gb_s"]:.1f},{r["instances_started"]}\n')
base = next(r for r in rows if r["variant"] == "fixed-10m")
lines = ["| policy | cold starts | cold % (all) | cold % (75th-pct function) | wasted GB-s | vs fixed 10 min |",
         "|---|---:|---:|---:|---:|---:|"]
for r in rows:
    lines.append(f'| {r["variant"]} | {r["cold_starts"]} | {r["cold_pct"]:.2f} | '
                 f'{r["cold_pct_p75_fn"]:.1f} | {r["wasted_gb_s"]/1e6:.2f} M | '
                 f'{r["wasted_gb_s"]/base["wasted_gb_s"]:.2f}x memory |')
open(f"{out}/table.md", "w").write("\n".join(lines) + "\n")
wall, cpu = [], []
for i in range(1, runs + 1):
    w, u, s = map(float, open(f"{out}/time.{i}").read().split())
    wall.append(w); cpu.append(u + s)
speed = (f"whole day, 200 functions, {base['invocations']} invocations, fixed 10 min: "
         f"median {statistics.median(wall):.2f} s wall, {statistics.median(cpu):.2f} s CPU "
         f"(user+sys) over {runs} runs, trace parsing included")
open(f"{out}/speed.txt", "w").write(speed + "\n")
print("\n".join(lines)); print(); print(speed)
with open(f"{out}/pareto.dat", "w") as f:
    for r in rows:
        f.write(f'"{r["variant"]}" {r["wasted_gb_s"]/1e6:.4f} {r["cold_pct_p75_fn"]:.4f} {r["cold_pct"]:.4f}\n')
PY
cat > "$OUT/pareto.gp" <<'GP'
set terminal svg size 900,420 font "sans,11"
set output "pareto.svg"
set multiplot layout 1,2 title "Keep-alive policies, Azure 2019 sample (200 functions, one day)"
set xlabel "wasted memory (million GB-s of idle instances)"
set grid
set key off
set ylabel "cold starts, 75th-percentile function (%)"
plot "pareto.dat" using 2:3 with points pt 7 ps 1.2, "" using 2:3:1 with labels offset 0,1 font ",9"
set ylabel "cold starts, all invocations (%)"
plot "pareto.dat" using 2:4 with points pt 7 ps 1.2, "" using 2:4:1 with labels offset 0,1 font ",9"
unset multiplot
GP
(cd "$OUT" && gnuplot pareto.gp)
{
    echo "<!doctype html><meta charset=utf-8><title>keep-alive policies</title>"
    echo "<h1>Keep-alive policies on the Azure 2019 sample</h1><pre>"
    sed 's/&/\&amp;/g; s/</\&lt;/g' "$OUT/table.md"
    echo; cat "$OUT/speed.txt"
    echo "</pre><img src=pareto.svg alt='Pareto: wasted memory against cold starts'>"
} > "$OUT/index.html"
echo "wrote $OUT/index.html"
