#!/usr/bin/env bash
# faasml fn under `faasml serve` (runtime: builtin-onnx): a real ONNX model served through the
# Lambda Invoke API with v2 and base64-image events, the host's options passed as spec `args`, bad
# input surfacing as a Lambda function error (200 + X-Amz-Function-Error) while the instance keeps
# serving, and the host's FAASML_INIT phases recorded by the platform in the results database.
source "$FM_SOURCE_DIR/tests/fixtures/platform/lib.sh"
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3

if ! "$FAASML" serve --help >/dev/null 2>&1; then
    echo "# SKIP: the platform (faasml serve) is not built in this tree"
    exit 0
fi
"$PY" "$SRC/tests/fixtures/fn/make_onnx.py" gap "$TMP/gap.onnx" 4 4
start_serve --db "$TMP/results.db"
cat >"$TMP/colours.yaml" <<EOF
name: colours
runtime: builtin-onnx
model: $TMP/gap.onnx
memory_mb: 512
timeout_s: 10
args: ["--topk", "2", "--mean", "0.5", "--std", "0.5"]
EOF
deploy colours

# a v2 event: the channel means of a batch of 2, as one inference
"$PY" - "$TMP/v2.json" <<'EOF'
import json, sys
json.dump({"inputs": [{"name": "input", "shape": [2, 3, 4, 4], "datatype": "FP32",
                       "data": [float(i) for i in range(96)]}]}, open(sys.argv[1], "w"))
EOF
code=$(invoke colours "@$TMP/v2.json" -H 'X-Amz-Log-Type: Tail')
expect_eq "$code" 200 "v2 invoke: $(body)"
expect_contains "$(tail_log)" "Init Duration:" "cold start REPORT"
"$PY" - "$TMP/body" <<'EOF' || fail "v2 response: $(body)"
import json, sys
out = json.load(open(sys.argv[1]))["outputs"][0]
assert out["shape"] == [2, 3], out
assert out["data"] == [7.5, 23.5, 39.5, 55.5, 71.5, 87.5], out
EOF
ok "v2 event through the Invoke API (real ONNX model)"

# a base64 PNG event: top-2 classes from the spec's args
"$PY" - "$TMP/img.json" <<'EOF'
import base64, json, struct, sys, zlib
raw = b"".join(b"\0" + bytes([20, 240, 120]) * 4 for _ in range(4))
ch = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
png = (b"\x89PNG\r\n\x1a\n" + ch(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0)) +
       ch(b"IDAT", zlib.compress(raw)) + ch(b"IEND", b""))
json.dump({"image": base64.b64encode(png).decode()}, open(sys.argv[1], "w"))
EOF
code=$(invoke colours "@$TMP/img.json")
expect_eq "$code" 200 "image invoke: $(body)"
"$PY" - "$TMP/body" <<'EOF' || fail "image response: $(body)"
import json, sys
p = json.load(open(sys.argv[1]))["predictions"][0]
assert [c["class"] for c in p] == [1, 2], p          # green, then blue
assert abs(p[0]["score"] - (240 / 255 - 0.5) / 0.5) < 1e-4, p
EOF
ok "base64 image event with top-k"

# bad input: a Lambda function error naming the problem; the same instance serves on
code=$(invoke colours '{"inputs":[{"name":"input","shape":[1,3,4,5],"datatype":"FP32","data":[]}]}')
expect_eq "$code" 200 "function error status"
expect_eq "$(hdr X-Amz-Function-Error)" Unhandled "function error header"
expect_contains "$(body)" '"errorType":"Function.InvalidInput"' "error type"
expect_contains "$(body)" "input 'input': shape [1,3,4,5] has 60 elements, data has 0" "error message"
code=$(invoke colours "@$TMP/v2.json" -H 'X-Amz-Log-Type: Tail')
expect_eq "$code" 200 "invoke after a bad one"
expect_not_contains "$(tail_log)" "Init Duration" "warm after the error"
ok "bad input is a function error; the instance keeps serving"

# precision reaches the host: int8 on a float model fails init, naming the model
cat >"$TMP/int8.yaml" <<EOF
name: int8
runtime: builtin-onnx
model: $TMP/gap.onnx
precision: int8
timeout_s: 10
EOF
deploy int8
code=$(invoke int8 "@$TMP/v2.json")
expect_contains "$(body)" "has no quantization nodes" "int8 on a float model: $code $(body)"
ok "precision: int8 reaches the host, which refuses a float model"

# the platform recorded the host's init phases (FAASML_INIT) for the instance
kill -TERM "$SERVE_PID"
for _ in $(seq 100); do kill -0 "$SERVE_PID" 2>/dev/null || break; sleep 0.1; done
"$FAASML" db "$TMP/results.db" --csv instances >"$TMP/instances.csv"
"$PY" - "$TMP/instances.csv" <<'EOF' || fail "instances table: $(cat "$TMP/instances.csv")"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert rows, "no instance recorded"
r = rows[0]
assert float(r["load_ms"]) > 0, r
assert r["warmup_ms"] != "" and float(r["warmup_ms"]) >= 0, r
EOF
ok "init phases recorded by the platform"
