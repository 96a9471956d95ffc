#!/usr/bin/env bash
# Batching where it pays (docs/findings.md, "Batching on CPU"): MobileNetV2 as a server-profile
# function (one instance, one worker) with batch.max_size 1, 2, 4, 8, driven at saturation by
# 2 x max_size closed-loop clients sending v2 tensors through the gateway's KServe route, binary
# (the KServe v2 binary extension, 602 KB a request: the platform merges the requests' tensors as
# bytes) or PAYLOAD=json (1.6 MB of text a request, merged as text and parsed by the host);
# beside each, the runtime's own batch efficiency in-process (`faasml infer --batch B --bench`).
# Throughput is images/s; efficiency is images/s at B over images/s at batch 1. RUNS runs per size,
# sizes interleaved, medians reported.
# usage: bench/platform/batching.sh [path/to/faasml]
#   env: SECS=8 RUNS=3 SIZES="1 2 4 8" THREADS=1 (in-process) DELAY_MS=5 PAYLOAD=binary|json
#        MODEL_DIR=...
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
SECS=${SECS:-8} RUNS=${RUNS:-3} SIZES=${SIZES:-1 2 4 8} THREADS=${THREADS:-1}
DELAY_MS=${DELAY_MS:-5} PAYLOAD=${PAYLOAD:-binary}
[ "$PAYLOAD" = binary ] || [ "$PAYLOAD" = json ] || { echo "PAYLOAD must be binary or json"; exit 2; }
MODEL_DIR=${MODEL_DIR:-$HOME/.cache/faasml/models/mobilenetv2}
MODEL=$MODEL_DIR/model.onnx INPUT=$MODEL_DIR/input_b1.npy
[ -f "$MODEL" ] || { echo "no $MODEL (tools/models/make-models.sh --models mobilenetv2)"; exit 1; }
bench_tmp batching

# One gateway, one function per batch size, each with its own single-worker instance; only the
# function under load runs inferences at a time.
"$FAASML" serve --listen 127.0.0.1:0 --no-cpu-limit --log-dir "$TMP" >"$TMP/serve" \
    2>"$TMP/serve.err" &
PIDS+=($!)
for _ in $(seq 600); do grep -q '^listening on' "$TMP/serve" && break; sleep 0.05; done
GW=$(sed -n 's/^listening on //p' "$TMP/serve" | head -1)
[ -n "$GW" ] || { echo "faasml serve did not start: $(cat "$TMP/serve.err")"; exit 1; }
for b in $SIZES; do
    python3 - "$TMP/b$b.json" "$b" "$DELAY_MS" "$MODEL" <<'PY'
import json, sys
p, b, d, model = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
s = {"name": f"b{b}", "runtime": "builtin-onnx", "model": model, "profile": "server",
     "memory_mb": 1769, "timeout_s": 60,
     "policy": {"inst": {"min": 1, "max": 1, "workers": 1}, "queue": {"capacity": 1000}}}
if b > 1:
    s["batch"] = {"max_size": b, "max_delay_ms": d}
json.dump(s, open(p, "w"))
PY
    code=$(curl -sS -o "$TMP/deploy.out" -w "%{http_code}" -X POST "$GW/admin/functions" \
        -H "Content-Type: application/json" \
        --data-binary "@$TMP/b$b.json")
    [ "${code:0:1}" = 2 ] || { echo "deploy b$b: HTTP $code $(cat "$TMP/deploy.out")"; exit 1; }
done

python3 - "$GW" "$INPUT" "$SECS" "$RUNS" "$PAYLOAD" $SIZES >"$TMP/live.jsonl" <<'PY'
import http.client, json, struct, sys, threading, time, urllib.parse
gw, inp, secs, runs = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
payload, sizes = sys.argv[5], [int(x) for x in sys.argv[6:]]
b = open(inp, "rb").read()
hl = b[8] | (b[9] << 8) if b[6] == 1 else int.from_bytes(b[8:12], "little")
raw = b[(10 if b[6] == 1 else 12) + hl:]
vals = struct.unpack(f"<{len(raw) // 4}f", raw)
tensor = {"name": "input", "shape": [1, 3, 224, 224], "datatype": "FP32"}
if payload == "binary":
    header = json.dumps({"inputs": [dict(tensor, parameters={"binary_data_size": len(raw)})]},
                        separators=(",", ":")).encode()
    body = header + raw
    headers = {"Content-Type": "application/octet-stream",
               "Inference-Header-Content-Length": str(len(header))}
else:
    body = json.dumps({"inputs": [dict(tensor, data=[float(v) for v in vals])]}).encode()
    headers = {"Content-Type": "application/json"}
u = urllib.parse.urlparse(gw)

def client(path, until, out, errs):
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    n = 0
    while time.perf_counter() < until:
        c.request("POST", path, body=body, headers=headers)
        r = c.getresponse()
        r.read()
        if r.status == 200:
            n += 1
        else:
            errs.append(r.status)
    out.append(n)

def run(size, secs):
    path = f"/v2/models/b{size}/infer"
    out, errs = [], []
    t0 = time.perf_counter()
    ts = [threading.Thread(target=client, args=(path, t0 + secs, out, errs))
          for _ in range(2 * size)]
    for t in ts: t.start()
    for t in ts: t.join()
    el = time.perf_counter() - t0
    if errs:
        sys.exit(f"b{size}: {len(errs)} failed requests (HTTP {sorted(set(errs))})")
    return sum(out) / el

for s in sizes:                      # warm: instance started, model paged in
    run(s, 1.5)
for r in range(runs):
    for s in sizes:
        print(json.dumps({"size": s, "run": r, "rps": run(s, secs)}), flush=True)
PY

# The runtime's own batch efficiency, in-process, interleaved the same way.
: >"$TMP/inproc.jsonl"
for r in $(seq "$RUNS"); do
    for b in $SIZES; do
        "$FAASML" infer "$MODEL" --random --batch "$b" --threads "$THREADS" --bench 20 --json |
            python3 -c 'import json,sys; d=json.load(sys.stdin); print(json.dumps({"size": '"$b"', "p50_ms": d["p50_ms"]}))' \
            >>"$TMP/inproc.jsonl"
    done
done

python3 - "$TMP/live.jsonl" "$TMP/inproc.jsonl" "$SECS" "$RUNS" "$THREADS" "$DELAY_MS" \
    "$PAYLOAD" <<'PY'
import json, statistics as st, sys
live, inproc = {}, {}
for l in open(sys.argv[1]):
    d = json.loads(l); live.setdefault(d["size"], []).append(d["rps"])
for l in open(sys.argv[2]):
    d = json.loads(l); inproc.setdefault(d["size"], []).append(d["p50_ms"])
secs, runs, threads, delay, payload = sys.argv[3:8]
print(f"## MobileNetV2 batching at saturation (server profile, 1 instance x 1 worker, {threads} "
      f"thread(s), v2 {payload} tensors through the gateway, 2 x max_size closed-loop clients, "
      f"max_delay {delay} ms; {runs} runs x {secs} s, medians)")
print("| batch.max_size | live images/s | live vs size 1 | in-process batch p50 ms | "
      "in-process images/s | in-process vs batch 1 | live runs |")
print("|---|---|---|---|---|---|---|")
l1 = st.median(live[min(live)])
i1 = 1000 / st.median(inproc[min(inproc)])
for s in sorted(live):
    lv = st.median(live[s])
    ip = st.median(inproc[s])
    ips = s * 1000 / ip
    print(f"| {s} | {lv:.1f} | {lv / l1:.2f}x | {ip:.1f} | {ips:.1f} | {ips / i1:.2f}x | "
          f"{', '.join(f'{x:.1f}' for x in live[s])} |")
PY
echo
bench_loadavg
