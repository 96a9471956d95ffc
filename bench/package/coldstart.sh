#!/usr/bin/env bash
# What packaging costs at a cold start: the Lambda zip's bootstrap (static launcher -> bundled
# loader -> faasml, inside a mount namespace + chroot holding only the unpacked zip and /proc) vs
# the same function host started directly by the platform (runtime: builtin-onnx), side by side on
# one `faasml serve`, alternating, every invocation cold (keep_alive: 0s). A third variant runs the
# unpacked bootstrap with no namespace or chroot, which separates the launcher and bundled loader
# from the wrapper's unshare + mounts. Reports the medians of the REPORT line's Init Duration and
# Duration and the ratios to direct.
#
# usage: bench/package/coldstart.sh [--faasml build/faasml] [--model PATH.onnx] [--runs 15]
#        [--payload V2.json]   (default model: the 4x4 channel-mean fixture and its v2 payload)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
FAASML=$ROOT/build/faasml
MODEL=
RUNS=15
PAYLOAD=
while [ $# -gt 0 ]; do
    case $1 in
    --faasml) FAASML=$(realpath "$2"); shift 2 ;;
    --model) MODEL=$(realpath "$2"); shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --payload) PAYLOAD=$(realpath "$2"); shift 2 ;;
    *) echo "usage: $0 [--faasml BIN] [--model M.onnx --payload V2.json] [--runs N]" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" = 0 ] || { echo "coldstart: needs root (mount namespace + chroot)" >&2; exit 2; }
TMP=$(mktemp -d /tmp/faasml-bench-pkg.XXXXXX)
SERVE_PID=
trap '[ -n "$SERVE_PID" ] && kill $SERVE_PID 2>/dev/null; rm -rf "$TMP"' EXIT
if [ -z "$MODEL" ]; then
    python3 "$ROOT/tests/fixtures/fn/make_onnx.py" gap "$TMP/model.onnx" 4 4
    MODEL=$TMP/model.onnx
    python3 -c 'import json; json.dump({"inputs":[{"name":"input","shape":[1,3,4,4],"datatype":"FP32","data":[0.5]*48}]}, open("'"$TMP"'/v2.json","w"))'
    PAYLOAD=$TMP/v2.json
fi
[ -n "$PAYLOAD" ] || { echo "coldstart: --model needs --payload" >&2; exit 2; }

cat >"$TMP/fn.yaml" <<EOF
name: zipped
runtime: builtin-onnx
model: $MODEL
memory_mb: 1769
timeout_s: 60
args: ["--threads", "1"]
EOF
t0=$(date +%s%N)
"$FAASML" package "$TMP/fn.yaml" -o "$TMP/out" --format lambda-zip >/dev/null 2>"$TMP/pkg.err"
t1=$(date +%s%N)
mkdir -p "$TMP/task" "$TMP/root/var/task" "$TMP/root/proc"
(cd "$TMP/task" && unzip -q "$TMP/out/zipped.zip")
cat >"$TMP/chroot-bootstrap" <<EOF
#!/bin/sh
exec $(command -v unshare) -m --propagation private /bin/sh -c '
    mount --bind "\$1" "\$2/var/task" && mount -t proc proc "\$2/proc" &&
    exec $(command -v chroot) "\$2" /var/task/bootstrap' sh "$TMP/task" "$TMP/root"
EOF
chmod +x "$TMP/chroot-bootstrap"
printf 'name: zipped\nruntime: custom\nbootstrap: %s\nmemory_mb: 1769\ntimeout_s: 60\nkeep_alive: 0s\n' \
    "$TMP/chroot-bootstrap" >"$TMP/zipped.yaml"
printf 'name: unpacked\nruntime: custom\nbootstrap: %s\nmemory_mb: 1769\ntimeout_s: 60\nkeep_alive: 0s\n' \
    "$TMP/task/bootstrap" >"$TMP/unpacked.yaml"
printf 'name: direct\nruntime: builtin-onnx\nmodel: %s\nmemory_mb: 1769\ntimeout_s: 60\nkeep_alive: 0s\nargs: ["--threads", "1"]\n' \
    "$MODEL" >"$TMP/direct.yaml"

"$FAASML" serve --listen 127.0.0.1:0 >"$TMP/serve.out" 2>"$TMP/serve.err" &
SERVE_PID=$!
for _ in $(seq 100); do grep -q '^listening on ' "$TMP/serve.out" && break; sleep 0.1; done
URL=$(sed -n 's/^listening on //p' "$TMP/serve.out")
"$FAASML" deploy "$TMP/zipped.yaml" --gateway "$URL" >/dev/null
"$FAASML" deploy "$TMP/direct.yaml" --gateway "$URL" >/dev/null
"$FAASML" deploy "$TMP/unpacked.yaml" --gateway "$URL" >/dev/null

echo "run,variant,init_ms,duration_ms" >"$TMP/runs.csv"
for run in $(seq "$RUNS"); do
    for v in direct unpacked zipped; do
        sleep 0.3 # the previous instance is stopped (keep_alive 0s) before the next arrives
        curl -sS --max-time 60 -o "$TMP/body" -D "$TMP/hdr" -H 'X-Amz-Log-Type: Tail' \
            -X POST "$URL/2015-03-31/functions/$v/invocations" --data-binary "@$PAYLOAD"
        log=$(grep -i '^X-Amz-Log-Result:' "$TMP/hdr" | cut -d' ' -f2 | tr -d '\r' | base64 -d)
        init=$(sed -n 's/.*Init Duration: \([0-9.]*\) ms.*/\1/p' <<<"$log")
        dur=$(sed -n 's/.*\tDuration: \([0-9.]*\) ms.*/\1/p' <<<"$log")
        [ -n "$init" ] || { echo "run $run $v: not a cold start: $log" >&2; continue; }
        echo "$run,$v,$init,$dur" >>"$TMP/runs.csv"
    done
done
python3 - "$TMP/runs.csv" "$((( t1 - t0 ) / 1000000))" "$(du -b "$TMP/out/zipped.zip" | cut -f1)" \
    "$(du -sb "$TMP/task" | cut -f1)" <<'EOF'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
med = {}
for v in ("direct", "unpacked", "zipped"):
    r = [x for x in rows if x["variant"] == v]
    med[v] = (statistics.median(float(x["init_ms"]) for x in r),
              statistics.median(float(x["duration_ms"]) for x in r), len(r))
print(f"package time {sys.argv[2]} ms; zip {int(sys.argv[3]) / 2**20:.1f} MB, "
      f"unzipped {int(sys.argv[4]) / 2**20:.1f} MB")
for v, (i, d, n) in med.items():
    print(f"{v:8s} cold starts: {n:3d}  median Init Duration {i:8.2f} ms  median Duration {d:7.2f} ms")
for v in ("unpacked", "zipped"):
    print(f"ratio {v}/direct: Init Duration {med[v][0] / med['direct'][0]:.2f}, "
          f"Duration {med[v][1] / med['direct'][1]:.2f}")
EOF
