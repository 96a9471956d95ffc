#!/usr/bin/env bash
# faasml fn in HTTP mode: KServe v2 (JSON and binary), SageMaker /ping + /invocations, images,
# every bad input -> 400 with a message naming the problem while the server keeps serving,
# $PORT (Knative) and SIGTERM drain. Uses the identity handler so results are exact; the ONNX
# path is covered by fn_onnx.sh.
set -euo pipefail
FAASML=${FAASML:?} ; SRC=${FM_SOURCE_DIR:?}
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3   # stdlib only
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT

# start_server OUTFILE ARGS...: starts faasml fn, waits for the ready line, sets $url and $pid
start_server() {
    local out=$1; shift
    "$FAASML" fn "$@" >"$out" 2>"$out.err" &
    pid=$!
    pids+=($pid)
    for _ in $(seq 100); do
        if [ -s "$out" ]; then url=$(head -1 "$out" | sed -n 's/^listening on //p'); return 0; fi
        kill -0 "${pids[-1]}" 2>/dev/null || { cat "$out.err" >&2; return 1; }
        sleep 0.05
    done
    echo "server did not become ready" >&2; return 1
}

start_server "$tmp/out" --model builtin:identity:FP32:-1x3x4x4 --name img \
    --listen 127.0.0.1:0 --topk 2 --mean 0.5 --std 0.25
[[ "$(head -1 "$tmp/out")" =~ ^listening\ on\ http://127\.0\.0\.1:[0-9]+$ ]]
grep -q '^FAASML_INIT {"runtime_ms":[0-9.]*,"download_ms":[0-9.]*,"load_ms":[0-9.]*,"plan_ms":[0-9.]*,"warmup_ms":[0-9.]*,"init_ms":[0-9.]*}$' "$tmp/out.err"

"$PY" - "$url" "$SRC/tests/fixtures/fn/gradient8.jpg" <<'EOF'
import base64, http.client, json, struct, sys, urllib.parse, zlib
url, jpg_path = sys.argv[1], sys.argv[2]
u = urllib.parse.urlparse(url)
conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)  # one keep-alive connection

def req(method, path, body=None, headers=None):
    conn.request(method, path, body=body, headers=headers or {})
    r = conn.getresponse()
    return r.status, dict(r.getheaders()), r.read()

def check(cond, what):
    if not cond:
        sys.exit("FAIL: " + what)

def png(w, h, rgb):
    raw = b"".join(b"\0" + b"".join(bytes(rgb(x, y)) for x in range(w)) for y in range(h))
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))

# health, metadata
for path, status in [("/v2/health/live", 200), ("/v2/health/ready", 200), ("/v2/models/img/ready", 200),
                     ("/v2/models/img/versions/1/ready", 200), ("/ping", 200),
                     ("/v2/models/nope", 404), ("/v2/models/nope/ready", 404), ("/nowhere", 404)]:
    s, _, b = req("GET", path)
    check(s == status, f"GET {path}: {s} {b!r}, want {status}")
s, _, b = req("GET", "/v2")
check(s == 200 and "binary_tensor_data" in json.loads(b)["extensions"], f"server metadata {b!r}")
s, _, b = req("GET", "/v2/models/img")
meta = json.loads(b)
check(meta["name"] == "img" and meta["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, 3, 4, 4]}],
      f"model metadata {meta}")
s, _, b = req("GET", "/v2/models/img/infer")
check(s == 405, f"GET infer: {s}")

# v2 JSON: batch of 2, nested data, id echoed, requested output
vals = [float(i) / 8 for i in range(96)]
nested = [[[vals[b*48 + c*16 + y*4: b*48 + c*16 + y*4 + 4] for y in range(4)] for c in range(3)] for b in range(2)]
body = json.dumps({"id": "q1", "inputs": [{"name": "input", "shape": [2, 3, 4, 4], "datatype": "FP32", "data": nested}],
                   "outputs": [{"name": "output"}]})
s, h, b = req("POST", "/v2/models/img/infer", body, {"Content-Type": "application/json"})
check(s == 200, f"infer json: {s} {b!r}")
r = json.loads(b)
check(r["id"] == "q1" and r["model_name"] == "img", f"id/model {r}")
check(r["outputs"][0]["shape"] == [2, 3, 4, 4] and r["outputs"][0]["data"] == vals, "identity data")

# v2 binary: binary input, binary output, header length
data = struct.pack("<48f", *vals[:48])
hdr = json.dumps({"inputs": [{"name": "input", "shape": [1, 3, 4, 4], "datatype": "FP32",
                              "parameters": {"binary_data_size": len(data)}}],
                  "outputs": [{"name": "output", "parameters": {"binary_data": True}}]}).encode()
s, h, b = req("POST", "/v2/models/img/infer", hdr + data,
              {"Content-Type": "application/octet-stream", "Inference-Header-Content-Length": str(len(hdr))})
check(s == 200, f"infer binary: {s} {b!r}")
hl = int(h["Inference-Header-Content-Length"])
out_hdr = json.loads(b[:hl])
check(out_hdr["outputs"][0]["parameters"]["binary_data_size"] == len(data), f"binary header {out_hdr}")
check(b[hl:] == data, "binary output bytes")

# SageMaker /invocations: v2 JSON, PNG, JPEG, base64 image JSON
s, _, b = req("POST", "/invocations", body, {"Content-Type": "application/json"})
check(s == 200 and json.loads(b)["outputs"][0]["data"] == vals, f"invocations v2: {s}")
img = png(4, 4, lambda x, y: (40 * x, 40 * y, 255))
s, _, b = req("POST", "/invocations", img, {"Content-Type": "image/png"})
preds = json.loads(b)["predictions"]
# blue = 255 -> (1.0 - 0.5) / 0.25 = 2.0 at the first blue pixel (class 32)
check(s == 200 and preds[0][0] == {"class": 32, "score": 2}, f"invocations png: {s} {b!r}")
jpg = open(jpg_path, "rb").read()
s, _, b = req("POST", "/invocations", jpg, {"Content-Type": "image/jpeg"})
check(s == 200 and len(json.loads(b)["predictions"][0]) == 2, f"invocations jpeg: {s} {b!r}")
s, _, b = req("POST", "/invocations", json.dumps({"images": [base64.b64encode(img).decode()] * 3}),
              {"Content-Type": "application/json"})
check(s == 200 and len(json.loads(b)["predictions"]) == 3, f"invocations base64 batch: {s} {b!r}")

# every bad input: a 4xx naming the problem, and the server keeps serving
def v2(inputs, **kw):
    return json.dumps(dict(inputs=inputs, **kw))
good_in = {"name": "input", "shape": [1, 3, 4, 4], "datatype": "FP32", "data": vals[:48]}
bad = [
    ("/v2/models/img/infer", v2([dict(good_in, name="pixels")]), {}, 400, "unknown input 'pixels' (the model's inputs are: input)"),
    ("/v2/models/img/infer", v2([dict(good_in, shape=[1, 3, 2, 8])]), {}, 400, "input 'input': expected shape [-1,3,4,4], got [1,3,2,8]"),
    ("/v2/models/img/infer", v2([dict(good_in, datatype="INT32", data=[1] * 48)]), {}, 400, "expected datatype FP32, got INT32"),
    ("/v2/models/img/infer", v2([dict(good_in, data=vals[:47])]), {}, 400, "has 48 elements, data has 47"),
    ("/v2/models/img/infer", v2([dict(good_in, datatype="FP33")]), {}, 400, "unknown datatype 'FP33'"),
    ("/v2/models/img/infer", v2([good_in], outputs=[{"name": "probs"}]), {}, 400, "unknown output 'probs'"),
    ("/v2/models/img/infer", '{"inputs": [', {}, 400, "invalid JSON"),
    ("/v2/models/img/infer", hdr + data[:100], {"Inference-Header-Content-Length": str(len(hdr))}, 400,
     "input 'input': binary data truncated: needs 192 bytes at offset 0, the body has 100 bytes after the header"),
    ("/v2/models/img/infer", hdr + data, {"Inference-Header-Content-Length": str(len(hdr) + len(data) + 1)}, 400,
     "is past the end of the body"),
    ("/v2/models/img/infer", hdr + data, {"Inference-Header-Content-Length": "twelve"}, 400,
     "invalid Inference-Header-Content-Length 'twelve'"),
    ("/v2/models/other/infer", v2([good_in]), {}, 404, "model 'other' is not served here"),
    ("/invocations", b"\x89PNG\r\n\x1a\nbroken", {"Content-Type": "image/png"}, 400, "cannot decode PNG image"),
    ("/invocations", jpg[:60], {"Content-Type": "image/jpeg"}, 400, "cannot decode JPEG image"),
    ("/invocations", b"GIF89a....", {"Content-Type": "image/gif"}, 400, "not a PNG or JPEG file"),
    ("/invocations", b"a,b", {"Content-Type": "text/csv"}, 415, "unsupported content type 'text/csv'"),
    ("/invocations", '{"image": "!!"}', {"Content-Type": "application/json"}, 400, "image 0: invalid base64"),
    ("/invocations", '{"picture": 1}', {"Content-Type": "application/json"}, 400, "event has none of"),
]
for path, body, headers, status, msg in bad:
    s, _, b = req("POST", path, body, headers)
    err = json.loads(b).get("error", "") if b else ""
    check(s == status and msg in err, f"POST {path}: {s} {b!r}, want {status} '{msg}'")
    s, _, _ = req("GET", "/v2/health/ready")
    check(s == 200, "server stopped answering after a bad request")
print("http checks passed")
EOF

# SIGTERM drains: a 16 MiB reply still being written when SIGTERM arrives is delivered whole
"$PY" - "$url" "$tmp/sent" >"$tmp/drain.out" 2>&1 <<'EOF' &
import http.client, json, os, sys, time, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
n = 4 * 1024 * 1024 // 48 * 48
data = os.urandom(n * 4)
hdr = json.dumps({"inputs": [{"name": "input", "shape": [n // 48, 3, 4, 4], "datatype": "FP32",
                              "parameters": {"binary_data_size": len(data)}}],
                  "parameters": {"binary_data_output": True}}).encode()
c = http.client.HTTPConnection(u.hostname, u.port, timeout=20)
c.request("POST", "/v2/models/img/infer", hdr + data, {"Inference-Header-Content-Length": str(len(hdr))})
open(sys.argv[2], "w").close()
time.sleep(1.0)  # the server is blocked writing the reply; SIGTERM arrives now
r = c.getresponse()
body = r.read()
hl = int(r.getheader("Inference-Header-Content-Length"))
assert r.status == 200 and body[hl:] == data, (r.status, len(body))
print("drained reply complete")
EOF
client=$!
for _ in $(seq 200); do [ -f "$tmp/sent" ] && break; sleep 0.05; done
sleep 0.3
# SIGTERM: stops accepting, finishes the reply in flight, exits 0
kill -TERM "$pid"
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
if kill -0 "$pid" 2>/dev/null; then echo "FAIL: still running after SIGTERM" >&2; exit 1; fi
wait "$pid" && rc=0 || rc=$?
[ "$rc" -eq 0 ] || { echo "FAIL: exit $rc after SIGTERM" >&2; exit 1; }
if curl -s -m 2 "$url/v2/health/live" >/dev/null; then echo "FAIL: still listening" >&2; exit 1; fi
wait "$client" || { cat "$tmp/drain.out" >&2; echo "FAIL: reply in flight lost at SIGTERM" >&2; exit 1; }
grep -q "drained reply complete" "$tmp/drain.out"
grep -q "draining 1 in-flight requests" "$tmp/out.err"

# Knative: $PORT (0 here: any free port) on 127.0.0.1
PORT=0 start_server "$tmp/out2" --model builtin:identity --max-body 1000
[[ "$url" =~ ^http://127\.0\.0\.1:[0-9]+$ ]]
curl -sf "$url/v2/health/ready" | grep -q '"ready":true'
# a body over --max-body: 413, and the server still serves
code=$(head -c 2000 /dev/zero | curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary @- \
       -H 'Content-Type: application/json' "$url/invocations")
[ "$code" = 413 ] || { echo "FAIL: oversized body got $code, want 413" >&2; exit 1; }
curl -sf "$url/v2/health/ready" | grep -q '"ready":true'

# a model that fails to load: exit 1 with a message naming it, before listening
if "$FAASML" fn --model "$tmp/missing.onnx" --listen 127.0.0.1:0 >"$tmp/out3" 2>"$tmp/err3"; then
    echo "FAIL: started without a model" >&2; exit 1
fi
grep -q "missing.onnx" "$tmp/err3"
[ ! -s "$tmp/out3" ]
# usage errors exit 2
set +e
"$FAASML" fn --model builtin:identity --listen nowhere >/dev/null 2>&1; [ $? -eq 2 ] || exit 1
env -u AWS_LAMBDA_RUNTIME_API -u PORT "$FAASML" fn --model builtin:identity >/dev/null 2>&1; [ $? -eq 2 ] || exit 1
set -e
# a sanitizer report from any faasml process of this test fails it (ASan build)
if grep -rlE --include='*err*' 'Sanitizer|runtime error:' "$tmp" >/dev/null; then
    echo "FAIL: sanitizer report:" >&2
    grep -rE --include='*err*' -A20 'Sanitizer|runtime error:' "$tmp" | head -40 >&2; exit 1
fi
echo "fn_http: ok"
