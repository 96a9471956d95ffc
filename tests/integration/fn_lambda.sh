#!/usr/bin/env bash
# faasml fn in Runtime API mode against a test Runtime API server: next -> response and
# next -> error flows with Lambda's error JSON and Lambda-Runtime-Function-Error-Type, the
# X-Faasml-Init header on the first POST only, _X_AMZN_TRACE_ID, deadlines, API Gateway events,
# `bootstrap` with $_HANDLER, and /init/error when the model cannot load.
set -euo pipefail
FAASML=${FAASML:?} ; SRC=${FM_SOURCE_DIR:?}
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3   # stdlib only
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT

# start_api EVENTS LOG [args]: starts the test Runtime API server, sets $api (host:port)
start_api() {
    "$PY" "$SRC/tests/integration/runtime_api_server.py" "$@" >"$tmp/api.out" 2>"$tmp/api.err" &
    pids+=($!)
    for _ in $(seq 100); do
        if [ -s "$tmp/api.out" ]; then
            api=$(head -1 "$tmp/api.out" | sed -n 's|^listening on http://||p'); return 0
        fi
        sleep 0.05
    done
    cat "$tmp/api.err" >&2; return 1
}

# events: good v2, bad shape, base64 image, API Gateway (PNG, base64), API Gateway bad, expired
# deadline, not JSON, good v2 again
"$PY" - "$tmp/events.json" <<'EOF'
import base64, json, struct, sys, zlib
def png(w, h):
    raw = b"".join(b"\0" + b"".join(bytes([10 * x, 10 * y, 250]) for x in range(w)) for y in range(h))
    ch = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    return b"\x89PNG\r\n\x1a\n" + ch(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + ch(b"IDAT", zlib.compress(raw)) + ch(b"IEND", b"")
good = json.dumps({"inputs": [{"name": "input", "shape": [1, 3, 2, 2], "datatype": "FP32", "data": list(range(12))}]})
b64 = base64.b64encode(png(2, 2)).decode()
events = [
    {"event": good, "trace": "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1"},
    {"event": json.dumps({"inputs": [{"name": "input", "shape": [1, 12], "datatype": "FP32", "data": list(range(12))}]})},
    {"event": json.dumps({"image": b64})},
    {"event": json.dumps({"httpMethod": "POST", "body": b64, "isBase64Encoded": True})},
    {"event": json.dumps({"httpMethod": "POST", "body": "{\"inputs\": 3}", "isBase64Encoded": False})},
    {"event": good, "deadline_in_ms": -1000},
    {"event": "this is not json"},
    {"event": good},
]
json.dump(events, open(sys.argv[1], "w"))
EOF

start_api "$tmp/events.json" "$tmp/log.jsonl"
AWS_LAMBDA_RUNTIME_API=$api timeout 30 "$FAASML" fn --model builtin:identity:FP32:-1x3x2x2 \
    --topk 1 --max-events 8 --log-level debug 2>"$tmp/fn.err"
grep -q '_X_AMZN_TRACE_ID=Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1' "$tmp/fn.err"
grep -q '^FAASML_INIT {"runtime_ms":' "$tmp/fn.err"

"$PY" - "$tmp/log.jsonl" <<'EOF'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
def check(cond, what):
    if not cond:
        sys.exit("FAIL: " + what + "\n" + "\n".join(map(str, recs)))
check(len(recs) == 8, f"{len(recs)} posts, want 8")
paths = [r["path"] for r in recs]
want = ["/invocation/req-0/response", "/invocation/req-1/error", "/invocation/req-2/response",
        "/invocation/req-3/response", "/invocation/req-4/response", "/invocation/req-5/error",
        "/invocation/req-6/error", "/invocation/req-7/response"]
check(paths == want, f"paths {paths}")
# init phases on the first POST only
init = json.loads(recs[0]["headers"]["x-faasml-init"])
check(set(init) == {"runtime_ms", "download_ms", "load_ms", "plan_ms", "warmup_ms", "init_ms"}, f"init {init}")
check(all("x-faasml-init" not in r["headers"] for r in recs[1:]), "X-Faasml-Init after the first POST")
out = json.loads(recs[0]["body"])["outputs"][0]
check(out["data"] == list(range(12)) and out["shape"] == [1, 3, 2, 2], f"response {out}")
# errors: Lambda's error document and header
e = json.loads(recs[1]["body"])
check(e == {"errorMessage": "input 'input': expected shape [-1,3,2,2], got [1,12]",
            "errorType": "Function.InvalidInput"}, f"error body {e}")
check(recs[1]["headers"]["lambda-runtime-function-error-type"] == "Function.InvalidInput", "error header")
check("predictions" in json.loads(recs[2]["body"]), "image event")
gw = json.loads(recs[3]["body"])
check(gw["statusCode"] == 200 and "predictions" in json.loads(gw["body"]), f"api gateway {gw}")
gw = json.loads(recs[4]["body"])
check(gw["statusCode"] == 400 and "inputs" in json.loads(gw["body"])["error"], f"api gateway bad {gw}")
e = json.loads(recs[5]["body"])
check(e["errorType"] == "Function.DeadlineExceeded" and
      recs[5]["headers"]["lambda-runtime-function-error-type"] == "Function.DeadlineExceeded", f"deadline {e}")
e = json.loads(recs[6]["body"])
check(e["errorType"] == "Function.InvalidInput" and
      e["errorMessage"].startswith("event is not valid JSON: invalid JSON at byte 0"), f"not json {e}")
print("runtime api checks passed")
EOF

# `bootstrap` (argv[0]) with $_HANDLER naming a spec relative to $LAMBDA_TASK_ROOT
kill "${pids[-1]}"; rm -f "$tmp/log.jsonl" "$tmp/api.out"
mkdir "$tmp/task"
printf 'name: echo\nmodel: builtin:identity:FP32:-1x3x2x2\nmemory: 1024\n' >"$tmp/task/fn.yaml"
ln -s "$(command -v "$FAASML" || echo "$FAASML")" "$tmp/bootstrap"
"$PY" -c 'import json,sys; json.dump([{"event": json.dumps({"inputs": [{"name": "input", "shape": [1, 3, 2, 2], "datatype": "FP32", "data": [0.5] * 12}]})}], open(sys.argv[1], "w"))' "$tmp/one.json"
start_api "$tmp/one.json" "$tmp/log.jsonl"
AWS_LAMBDA_RUNTIME_API=$api LAMBDA_TASK_ROOT=$tmp/task _HANDLER=fn.yaml timeout 30 "$tmp/bootstrap" \
    --max-events 1 2>"$tmp/boot.err"
"$PY" - "$tmp/log.jsonl" <<'EOF'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert len(recs) == 1 and recs[0]["path"] == "/invocation/req-0/response", recs
body = json.loads(recs[0]["body"])
assert body["model_name"] == "echo" and body["outputs"][0]["data"] == [0.5] * 12, body
EOF

# init failure: POST /init/error with Lambda's error JSON, then exit 1
kill "${pids[-1]}"; rm -f "$tmp/log.jsonl" "$tmp/api.out"
start_api "$tmp/one.json" "$tmp/log.jsonl"
set +e
AWS_LAMBDA_RUNTIME_API=$api timeout 30 "$FAASML" fn --model "$tmp/task/absent.onnx" 2>"$tmp/init.err"
rc=$?
set -e
[ "$rc" -eq 1 ] || { echo "FAIL: exit $rc after an init error, want 1" >&2; exit 1; }
"$PY" - "$tmp/log.jsonl" <<'EOF'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert len(recs) == 1 and recs[0]["path"] == "/init/error", recs
assert recs[0]["headers"]["lambda-runtime-function-error-type"] == "Runtime.InitError", recs
e = json.loads(recs[0]["body"])
assert e["errorType"] == "Runtime.InitError" and "absent.onnx" in e["errorMessage"], e
EOF

# a bad spec is a configuration error: it too goes to /init/error (exit 1), naming file:line:col
kill "${pids[-1]}"; rm -f "$tmp/log.jsonl" "$tmp/api.out"
start_api "$tmp/one.json" "$tmp/log.jsonl"
printf 'model: builtin:identity\npreprocess:\n  sise: 3\n' >"$tmp/bad.yaml"
set +e
AWS_LAMBDA_RUNTIME_API=$api FAASML_SPEC=$tmp/bad.yaml timeout 30 "$FAASML" fn 2>"$tmp/spec.err"
rc=$?
set -e
[ "$rc" -eq 1 ] || { echo "FAIL: exit $rc after a spec error, want 1" >&2; exit 1; }
"$PY" - "$tmp/log.jsonl" "$tmp/bad.yaml" <<'EOF'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert len(recs) == 1 and recs[0]["path"] == "/init/error", recs
e = json.loads(recs[0]["body"])
assert e["errorType"] == "Runtime.InitError", e
assert e["errorMessage"] == sys.argv[2] + ":3:3: unknown key 'sise'", e
EOF

# a Runtime API that answers 500 ("container error") makes the runtime exit 1
kill "${pids[-1]}"; rm -f "$tmp/log.jsonl" "$tmp/api.out"
start_api "$tmp/one.json" "$tmp/log.jsonl" --status-on-response 500
set +e
AWS_LAMBDA_RUNTIME_API=$api timeout 30 "$FAASML" fn --model builtin:identity:FP32:-1x3x2x2 2>"$tmp/500.err"
rc=$?
set -e
[ "$rc" -eq 1 ] && grep -q "answered 500" "$tmp/500.err" || { echo "FAIL: 500 -> exit $rc" >&2; exit 1; }
# a sanitizer report from any faasml process of this test fails it (ASan build)
if grep -rlE --include='*err*' 'Sanitizer|runtime error:' "$tmp" >/dev/null; then
    echo "FAIL: sanitizer report:" >&2
    grep -rE --include='*err*' -A20 'Sanitizer|runtime error:' "$tmp" | head -40 >&2; exit 1
fi
echo "fn_lambda: ok"
