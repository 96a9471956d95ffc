#!/usr/bin/env bash
# What isolation costs: cold start (Init Duration of the REPORT line, median of N fresh functions)
# and warm p50 (client-side latency of W requests to one warm instance) for `isolation: process`
# and `isolation: sandbox`, side by side on one `faasml serve`, for the Python echo runtime and
# the bash+curl runtime. Prints medians and the sandbox/process ratio.
#   bench/platform/isolation.sh [N cold functions per cell, default 7] [W warm requests, 50]
# Not built here: MobileNetV2 and zygote cells, `isolation: request` (not built), sandboxes
# started per second per core.
set -euo pipefail
FAASML=$(realpath "${FAASML:-build/faasml}")
RT=$(cd "${FM_SOURCE_DIR:-.}" && pwd)/tests/fixtures/runtimes
N=${1:-7}
W=${2:-50}
TMP=$(mktemp -d /tmp/faasml-iso.XXXXXX)
trap 'kill $SP 2>/dev/null; wait $SP 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$TMP"' EXIT
"$FAASML" serve --listen 127.0.0.1:0 --keep-alive 10m >"$TMP/out" 2>"$TMP/err" &
SP=$!
for _ in $(seq 100); do grep -q '^listening on ' "$TMP/out" && break; sleep 0.05; done
URL=$(sed -n 's/^listening on //p' "$TMP/out")
grep '^faasml serve: isolation:' "$TMP/err"
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
printf '%-8s %-8s %14s %14s\n' runtime iso cold_init_ms warm_p50_ms
for rt in echo echo-sh; do
    for iso in process sandbox; do
        for i in $(seq "$N"); do # interleaved would be better; cells are short and adjacent
            name="${rt//-/}${iso}$i"
            printf 'name: %s\nruntime: custom\nisolation: %s\nbootstrap: %s\nmemory_mb: 1769\ntimeout_s: 60\n' \
                "$name" "$iso" "$RT/$rt/bootstrap" >"$TMP/$name.yaml"
            "$FAASML" deploy "$TMP/$name.yaml" --gateway "$URL" >/dev/null
            curl -sS -o /dev/null -D "$TMP/h" -H 'X-Amz-Log-Type: Tail' -X POST \
                "$URL/2015-03-31/functions/$name/invocations" -d '{}'
            tr -d '\r' <"$TMP/h" | sed -n 's/^[Xx]-[Aa]mz-[Ll]og-[Rr]esult: //p' | base64 -d |
                sed -n 's/.*Init Duration: \([0-9.]*\) ms.*/\1/p' >>"$TMP/cold.$rt.$iso"
        done
        cold=$(median <"$TMP/cold.$rt.$iso")
        warm=$(for _ in $(seq "$W"); do
            curl -sS -o /dev/null -w '%{time_total}\n' -X POST \
                "$URL/2015-03-31/functions/${rt//-/}${iso}1/invocations" -d '{}'
        done | awk '{print $1*1000}' | median)
        printf '%-8s %-8s %14.2f %14.2f\n' "$rt" "$iso" "$cold" "$warm"
        echo "$rt $iso $cold $warm" >>"$TMP/cells"
    done
done
awk '{c[$1" "$2]=$3; w[$1" "$2]=$4} END {
  for (r in c) { split(r, k, " "); if (k[2] == "sandbox") {
    p = k[1] " process"; printf "%-8s sandbox/process: cold %.2fx (%+.1f ms), warm %.2fx (%+.2f ms)\n",
      k[1], c[r]/c[p], c[r]-c[p], w[r]/w[p], w[r]-w[p] } } }' "$TMP/cells"
