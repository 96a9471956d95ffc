#!/usr/bin/env bash
# KServe v2 through the gateway for a builtin-onnx function: the gateway wraps the v2 request as the
# invocation event, the function host (faasml fn, in Runtime API mode) answers it with the v2
# response. Uses the host's identity handler and, when present, the tiny ONNX test model.
source "$FM_SOURCE_DIR/tests/fixtures/platform/lib.sh"

if ! "$FAASML" fn --help >/dev/null 2>&1; then
    echo "# SKIP: the function host (faasml fn) is not built in this tree"
    exit 0
fi
start_serve --db "$TMP/db.sqlite"
printf 'name: ident\nruntime: builtin-onnx\nmodel: "builtin:identity:FP32:1x3"\nmemory_mb: 512\n' \
    >"$TMP/ident.yaml"
deploy ident

v2() { curl -sS --max-time 30 -o "$TMP/body" -w '%{http_code}' "$@"; }
expect_eq "$(v2 "$URL/v2/health/live")" 200 "live"
expect_eq "$(v2 "$URL/v2/health/ready")" 200 "ready"
expect_eq "$(v2 "$URL/v2/models/ident/ready")" 200 "model ready"
expect_eq "$(v2 "$URL/v2/models/ident")" 200 "model metadata"
expect_contains "$(body)" '"name":"ident"' "metadata name"
expect_eq "$(v2 "$URL/v2/models/nosuch/ready")" 404 "unknown model"
req='{"id":"r1","inputs":[{"name":"input","shape":[1,3],"datatype":"FP32","data":[1.5,2,3]}]}'
code=$(v2 -X POST "$URL/v2/models/ident/infer" --data-binary "$req")
expect_eq "$code" 200 "infer status: $(body)"
python3 - "$TMP/body" <<'PY' || fail "infer response: $(body)"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["id"] == "r1", d
out = d["outputs"][0]
assert out["shape"] == [1, 3] and out["datatype"] == "FP32", out
assert [float(x) for x in out["data"]] == [1.5, 2.0, 3.0], out
PY
ok "KServe v2 infer through the gateway (identity handler)"

code=$(v2 -X POST "$URL/v2/models/ident/infer" --data-binary '{"inputs":[{"name":"input","shape":[1,3],"datatype":"FP32","data":[1]}]}')
expect_eq "$code" 400 "a tensor whose data does not fit its shape"
expect_contains "$(body)" '"error"' "v2 error body"
code=$(v2 -X POST "$URL/v2/models/ident/infer" --data-binary 'not json')
expect_eq "$code" 400 "infer with invalid JSON"
ok "KServe v2 errors"

# A real ONNX model (a one-node Relu graph from the ONNX corpus) through the same path.
printf 'name: relu\nruntime: builtin-onnx\nmodel: %s\n' "$SRC/fuzz/corpus/onnx/relu.onnx" >"$TMP/relu.yaml"
deploy relu
req='{"inputs":[{"name":"x","shape":[2,3],"datatype":"FP32","data":[-1,2,-3,4,-5,6]}]}'
code=$(v2 -X POST "$URL/v2/models/relu/infer" --data-binary "$req")
expect_eq "$code" 200 "relu infer: $(body)"
python3 - "$TMP/body" <<'PY' || fail "relu response: $(body)"
import json, sys
out = json.load(open(sys.argv[1]))["outputs"][0]
assert out["name"] == "y" and out["shape"] == [2, 3], out
assert [float(v) for v in out["data"]] == [0, 2, 0, 4, 0, 6], out
PY
ok "KServe v2 infer on a small ONNX model (Relu)"

grep -q 'FAASML_INIT' "$TMP/serve.err" || fail "the function host's init phases were not captured"
ok "function host init phases captured"

# The function host's init phases land in the instance's row.
kill -TERM "$SERVE_PID"
wait "$SERVE_PID" || fail "serve exited non-zero"
SERVE_PID=
"$FAASML" db "$TMP/db.sqlite" --csv instances >"$TMP/inst.csv"
python3 - "$TMP/inst.csv" <<'PY' || fail "instance rows: $(cat "$TMP/inst.csv")"
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["function"] == "relu"]
assert rows and float(rows[0]["load_ms"]) > 0 and float(rows[0]["runtime_init_ms"]) > 0, rows
PY
ok "cold-start phases (function host load_ms) recorded per instance"
