#!/usr/bin/env bash
# Keep-alive policies on a production trace (docs/findings.md, "keep-alive on a production trace"):
# bench/sim/keepalive.yaml (200 functions x one day of the Azure Functions 2019 trace) under fixed
# 10/20/60 min, the hybrid histogram and greedy-dual at three memory budgets. Writes OUT/table.md,
# OUT/keepalive.csv, the Pareto figure OUT/pareto.svg (gnuplot; the front drawn, named in
# OUT/front.txt) and OUT/index.html; then times
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
# Pareto fronts (fewer cold starts for less wasted memory): a policy is on a panel's front when
# no other policy is at least as good on both axes and better on one. pareto.dat: index 0 every
# policy (on_front flags per panel), index 1 and 2 each panel's front by wasted memory.
def front(key):
    pts = [(r["wasted_gb_s"], r[key], r["variant"]) for r in rows]
    on = [p for p in pts if not any(q[0] <= p[0] and q[1] <= p[1] and (q[0] < p[0] or q[1] < p[1])
                                    for q in pts)]
    return sorted(on)
f75, fall = front("cold_pct_p75_fn"), front("cold_pct")
with open(f"{out}/pareto.dat", "w") as f:
    for r in rows:
        v = r["variant"]
        f.write(f'"{v}" {r["wasted_gb_s"]/1e6:.4f} {r["cold_pct_p75_fn"]:.4f} {r["cold_pct"]:.4f} '
                f'{int(any(p[2] == v for p in f75))} {int(any(p[2] == v for p in fall))}\n')
    for fr in (f75, fall):
        f.write("\n\n")
        for w, c, v in fr:
            f.write(f'"{v}" {w/1e6:.4f} {c:.4f}\n')
names = lambda fr: ", ".join(v for _, _, v in fr)
head = (f"Pareto front, 75th-percentile function: {names(f75)}; all invocations: {names(fall)}")
open(f"{out}/front.txt", "w").write(head + "\n")
print(head)
PY
cat > "$OUT/pareto.gp" <<'GP'
# Wasted memory against cold starts, one point per keep-alive policy; the staircase is the Pareto
# front (no policy has fewer cold starts for less memory than a point on it), grey points are
# dominated. Keys sit outside the plots, under them.
set terminal svg size 1000,500 noenhanced font "sans,11" background rgb "white"
set output "pareto.svg"
set multiplot layout 1,2 title "Keep-alive policies, Azure 2019 sample (200 functions, one day): fewer cold starts cost memory" margins 0.07,0.98,0.25,0.88 spacing 0.08,0
set xlabel "wasted memory (million GB-s of idle instances)"
set grid lc rgb "#e6e6e6"
set key outside bottom center horizontal
set offsets graph 0.05, graph 0.12, graph 0.1, graph 0.1
set ylabel "cold starts, 75th-percentile function (%)"
plot "pareto.dat" index 1 using 2:3 with steps lc rgb "#59a14f" lw 2 title "Pareto front", \
     "" index 0 using 2:($5 == 1 ? $3 : 1/0) with points pt 7 ps 1.3 lc rgb "#4e79a7" title "on the front", \
     "" index 0 using 2:($5 == 0 ? $3 : 1/0) with points pt 7 ps 1.2 lc rgb "#9aa3ad" title "dominated", \
     "" index 0 using 2:3:1 with labels offset 0,1 font ",9" notitle
set ylabel "cold starts, all invocations (%)"
plot "pareto.dat" index 2 using 2:3 with steps lc rgb "#59a14f" lw 2 title "Pareto front", \
     "" index 0 using 2:($6 == 1 ? $4 : 1/0) with points pt 7 ps 1.3 lc rgb "#4e79a7" title "on the front", \
     "" index 0 using 2:($6 == 0 ? $4 : 1/0) with points pt 7 ps 1.2 lc rgb "#9aa3ad" title "dominated", \
     "" index 0 using 2:4:1 with labels offset 0,1 font ",9" notitle
unset multiplot
GP
(cd "$OUT" && gnuplot pareto.gp)
{
    echo "<!doctype html><meta charset=utf-8><title>keep-alive policies</title>"
    echo "<h1>Keep-alive policies on the Azure 2019 sample</h1><pre>"
    sed 's/&/\&amp;/g; s/</\&lt;/g' "$OUT/table.md"
    echo; cat "$OUT/front.txt"; echo; cat "$OUT/speed.txt"
    echo "</pre><img src=pareto.svg alt='Pareto: wasted memory against cold starts'>"
} > "$OUT/index.html"
echo "wrote $OUT/index.html"
