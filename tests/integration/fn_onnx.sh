#!/usr/bin/env bash
# faasml fn with real ONNX models through the inference runtime: a tiny generated classifier
# (GlobalAveragePool: class scores are the channel means) fetched from file:// and http:// URLs
# into the task directory, v2 JSON/binary batches, images with top-k and labels, a two-input
# model from Debian's ONNX test data, the Runtime API with a model, and models that fail to load.
set -euo pipefail
FAASML=${FAASML:?} ; SRC=${FM_SOURCE_DIR:?}
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3   # stdlib only
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT

start_server() { # OUTFILE ARGS...: sets $url and $pid once the ready line is out
    local out=$1; shift
    "$FAASML" fn "$@" >"$out" 2>"$out.err" &
    pid=$!; pids+=($pid)
    for _ in $(seq 200); do
        if [ -s "$out" ]; then url=$(head -1 "$out" | sed -n 's/^listening on //p'); return 0; fi
        kill -0 "$pid" 2>/dev/null || { cat "$out.err" >&2; return 1; }
        sleep 0.05
    done
    echo "server did not become ready" >&2; return 1
}

mkdir -p "$tmp/models" "$tmp/task"
"$PY" "$SRC/tests/fixtures/fn/make_onnx.py" gap "$tmp/models/gap.onnx" 4 4
printf 'red\ngreen\nblue\n' >"$tmp/labels.txt"
cat >"$tmp/fn.yaml" <<EOF
name: colours
model: file://$tmp/models/gap.onnx
task_dir: $tmp/task
threads: 1
memory: 512          # the platform's key: ignored by the host
preprocess:
  size: [4, 4]
  mean: 0.5
  std: 0.5
postprocess:
  topk: 2
  labels: labels.txt
EOF

# file:// URL copied into the task directory at init (the download phase)
start_server "$tmp/out" --spec "$tmp/fn.yaml" --listen 127.0.0.1:0
[ -f "$tmp/task/gap.onnx" ] || { echo "FAIL: model not copied into the task dir" >&2; exit 1; }
grep -q '^FAASML_INIT {"runtime_ms":' "$tmp/out.err"

"$PY" - "$url" <<'EOF'
import http.client, json, struct, sys, urllib.parse, zlib
u = urllib.parse.urlparse(sys.argv[1])
conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
def req(method, path, body=None, headers=None):
    conn.request(method, path, body=body, headers=headers or {})
    r = conn.getresponse()
    return r.status, dict(r.getheaders()), r.read()
def check(cond, what):
    if not cond:
        sys.exit("FAIL: " + what)
def png(w, h, rgb):
    raw = b"".join(b"\0" + b"".join(bytes(rgb(x, y)) for x in range(w)) for y in range(h))
    ch = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    return (b"\x89PNG\r\n\x1a\n" + ch(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
            ch(b"IDAT", zlib.compress(raw)) + ch(b"IEND", b""))

s, _, b = req("GET", "/v2/models/colours")
meta = json.loads(b)
check(meta["platform"] == "onnx_onnxv1" and meta["outputs"] == [{"name": "output", "datatype": "FP32", "shape": [-1, 3]}], f"meta {meta}")
# v2 JSON, batch of 2 in one inference: outputs are the channel means
x = [float(i) for i in range(96)]
body = json.dumps({"inputs": [{"name": "input", "shape": [2, 3, 4, 4], "datatype": "FP32", "data": x}]})
s, _, b = req("POST", "/v2/models/colours/infer", body)
want = [sum(x[i * 16:(i + 1) * 16]) / 16 for i in range(6)]
out = json.loads(b)["outputs"][0]
check(s == 200 and out["shape"] == [2, 3] and out["data"] == want, f"json infer {s} {b!r}")
# v2 binary in and out
data = struct.pack("<96f", *x)
hdr = json.dumps({"inputs": [{"name": "input", "shape": [2, 3, 4, 4], "datatype": "FP32",
                              "parameters": {"binary_data_size": len(data)}}],
                  "parameters": {"binary_data_output": True}}).encode()
s, h, b = req("POST", "/v2/models/colours/infer", hdr + data, {"Inference-Header-Content-Length": str(len(hdr))})
hl = int(h["Inference-Header-Content-Length"])
check(s == 200 and list(struct.unpack("<6f", b[hl:])) == want, f"binary infer {s} {b!r}")
# images: green > blue > red after normalisation, with labels
img = png(6, 5, lambda x, y: (20, 240, 120))
s, _, b = req("POST", "/invocations", img, {"Content-Type": "image/png"})
p = json.loads(b)["predictions"][0]
check(s == 200 and [c["label"] for c in p] == ["green", "blue"], f"image top-k {b!r}")
check(abs(p[0]["score"] - (240 / 255 - 0.5) / 0.5) < 1e-4, f"image score {p}")
# bad inputs through the real runtime, then it still serves
s, _, b = req("POST", "/v2/models/colours/infer", json.dumps({"inputs": [{"name": "input", "shape": [1, 3, 5, 4], "datatype": "FP32", "data": [0] * 60}]}))
check(s == 400 and "expected shape [-1,3,4,4], got [1,3,5,4]" in json.loads(b)["error"], f"bad shape {b!r}")
s, _, b = req("POST", "/v2/models/colours/infer", hdr + data[:8], {"Inference-Header-Content-Length": str(len(hdr))})
check(s == 400 and "binary data truncated" in json.loads(b)["error"], f"truncated {b!r}")
s, _, _ = req("GET", "/v2/health/ready")
check(s == 200, "still serving")
print("onnx http checks passed")
EOF
kill "$pid"; wait "$pid" || true

# http:// URL from a local web server; a missing URL fails init with a message naming it
(cd "$tmp/models" && exec "$PY" -m http.server 0 --bind 127.0.0.1 >"$tmp/web.out" 2>&1) &
pids+=($!)
for _ in $(seq 100); do grep -q "port" "$tmp/web.out" 2>/dev/null && break; sleep 0.05; done
wport=$(sed -n 's/.*port \([0-9]*\).*/\1/p' "$tmp/web.out" | head -1)
start_server "$tmp/out2" --model "http://127.0.0.1:$wport/gap.onnx" --task-dir "$tmp/task2" \
    --listen 127.0.0.1:0
curl -sf "$url/v2/models/gap/ready" | grep -q '"ready":true'
[ -f "$tmp/task2/gap.onnx" ]
kill "$pid"; wait "$pid" || true
if "$FAASML" fn --model "http://127.0.0.1:$wport/absent.onnx" --task-dir "$tmp/task3" \
    --listen 127.0.0.1:0 >/dev/null 2>"$tmp/err3"; then echo "FAIL: started" >&2; exit 1; fi
grep -q "cannot download model 'http://127.0.0.1:$wport/absent.onnx'" "$tmp/err3"

# a corrupt model: exit 1, the runtime's message names the file
head -c 20 "$tmp/models/gap.onnx" >"$tmp/models/bad.onnx"
if "$FAASML" fn --model "$tmp/models/bad.onnx" --listen 127.0.0.1:0 >/dev/null 2>"$tmp/err4"; then
    echo "FAIL: started with a corrupt model" >&2; exit 1
fi
grep -q "bad.onnx" "$tmp/err4"

# two inputs (Debian's ONNX test data: Add over [3,4,5]) as a Lambda event
add=/usr/share/libonnx-testdata/data/node/test_add/model.onnx
if [ -f "$add" ]; then
    "$PY" -c '
import json, sys
x = [float(i) for i in range(60)]
ev = {"inputs": [{"name": "y", "shape": [3, 4, 5], "datatype": "FP32", "data": x},
                 {"name": "x", "shape": [3, 4, 5], "datatype": "FP32", "data": [1.0] * 60}]}
json.dump([{"event": json.dumps(ev)}], open(sys.argv[1], "w"))' "$tmp/ev.json"
    "$PY" "$SRC/tests/integration/runtime_api_server.py" "$tmp/ev.json" "$tmp/log.jsonl" >"$tmp/api.out" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do [ -s "$tmp/api.out" ] && break; sleep 0.05; done
    api=$(head -1 "$tmp/api.out" | sed -n 's|^listening on http://||p')
    AWS_LAMBDA_RUNTIME_API=$api timeout 30 "$FAASML" fn --model "$add" --max-events 1 2>"$tmp/add.err"
    "$PY" - "$tmp/log.jsonl" <<'EOF'
import json, sys
r = [json.loads(l) for l in open(sys.argv[1])]
assert len(r) == 1 and r[0]["path"].endswith("/response"), r
out = json.loads(r[0]["body"])["outputs"][0]
assert out["name"] == "sum" and out["data"] == [float(i) + 1 for i in range(60)], out
EOF
fi
# a sanitizer report from any faasml process of this test fails it (ASan build)
if grep -rlE --include='*err*' 'Sanitizer|runtime error:' "$tmp" >/dev/null; then
    echo "FAIL: sanitizer report:" >&2
    grep -rE --include='*err*' -A20 'Sanitizer|runtime error:' "$tmp" | head -40 >&2; exit 1
fi
echo "fn_onnx: ok"
