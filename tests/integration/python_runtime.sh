#!/usr/bin/env bash
# The Python/PyTorch custom runtime (examples/runtimes/python-torch/bootstrap) against a test
# Runtime API server (rapi_stub.py): v2 requests at batch 1 and 8 match PyTorch's reference outputs,
# bad requests become Lambda function errors and the runtime keeps serving, API Gateway events get
# HTTP-style replies, a passed deadline is refused, a missing or corrupt model is an /init/error,
# the handler (_HANDLER relative to LAMBDA_TASK_ROOT) names the model when FAASML_MODEL is unset,
# the ONNX loader (onnx_torch.py) runs the .onnx files themselves and names unsupported operators,
# and a response over the Runtime API's size limit (413) becomes Function.ResponseSizeTooLarge.
# Every case runs its own stub and runtime; all start at once (each imports torch).
set -euo pipefail
src=${FM_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
py=/usr/bin/python3
boot=$src/examples/runtimes/python-torch/bootstrap
tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in ${pids[@]+"${pids[@]}"}; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

models=${FAASML_MODELS:-${XDG_CACHE_HOME:-$HOME/.cache}/faasml/models}
"$py" -W ignore "$src/tools/models/export.py" --models tiny --out "$models" 2>"$tmp/export.log" \
    || { cat "$tmp/export.log"; exit 1; }

# launch CASE EVENTS.json [VAR=VALUE ...]: a stub serving EVENTS.json, then the runtime against it
# with FAASML_MODEL unset unless given; the runtime's pid goes to $tmp/CASE.pid. $max_response
# (if set) is the stub's response size limit.
launch() {
    local name=$1 events=$2 port=
    shift 2
    : >"$tmp/$name.stub.out"  # exists before the background job opens it
    "$py" "$src/tests/integration/rapi_stub.py" "$events" "$tmp/$name.results.json" \
        ${max_response:-} >"$tmp/$name.stub.out" &
    pids+=($!)
    for _ in $(seq 200); do
        port=$(sed -n 's|^listening on http://127.0.0.1:\([0-9]*\)$|\1|p' "$tmp/$name.stub.out")
        [ -n "$port" ] && break
        sleep 0.05
    done
    [ -n "$port" ] || { echo "stub '$name' did not start"; exit 1; }
    env -u FAASML_MODEL AWS_LAMBDA_RUNTIME_API=127.0.0.1:$port "$@" \
        timeout 120 "$boot" 2>"$tmp/$name.err" &
    pids+=($!)
    echo $! >"$tmp/$name.pid"
}

# wait_results CASE: waits (bounded) until the stub wrote its results
wait_results() {
    for _ in $(seq 1200); do
        [ -s "$tmp/$1.results.json" ] && return 0
        sleep 0.1
    done
    echo "no results from '$1'; runtime stderr:"; cat "$tmp/$1.err"; exit 1
}

# expect_init_error CASE TYPE TEXT: the runtime exited 1 after an /init/error of TYPE naming TEXT
expect_init_error() {
    local rc=0
    wait "$(cat "$tmp/$1.pid")" || rc=$?
    [ "$rc" -eq 1 ] || { echo "case '$1': runtime exited $rc, want 1"; cat "$tmp/$1.err"; exit 1; }
    wait_results "$1"
    "$py" - "$tmp/$1.results.json" "$2" "$3" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))["init_error"]
assert r and r["error_type"] == sys.argv[2] and r["body"]["errorType"] == sys.argv[2], r
assert sys.argv[3] in r["body"]["errorMessage"], (sys.argv[3], r)
EOF
}

# ---- events and bad models for every case --------------------------------------------------
"$py" - "$models" "$tmp" <<'EOF'
import base64, json, sys
import numpy as np
m, tmp = sys.argv[1], sys.argv[2]
def req(x, name="input", dtype="FP32", shape=None, flat=True, **kw):
    r = {"inputs": [{"name": name, "datatype": dtype, "shape": list(shape or x.shape),
                     "data": x.reshape(-1).tolist() if flat else x.tolist()}]}
    r.update(kw)
    return r
def dump(case, events):
    json.dump(events, open(f"{tmp}/{case}.events.json", "w"))
x1, x8 = np.load(f"{m}/tiny-cnn/input_b1.npy"), np.load(f"{m}/tiny-cnn/input_b8.npy")
good = json.dumps(req(x1, id="abc"))
dump("main", [
    {"id": "b1", "body": req(x1, flat=False, id="abc"),
     "trace_id": "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700"},
    {"id": "b8", "body": req(x8)},
    {"id": "bad-name", "body": req(x1, name="nope")},
    {"id": "bad-shape", "body": req(x1[:, :, :31], shape=[1, 3, 31, 32])},
    {"id": "bad-count", "body": req(x1[:, :1, :1, :5], shape=[1, 3, 32, 32])},
    {"id": "bad-dtype", "body": req(x1, dtype="FP64")},
    {"id": "bad-json", "body": "{not json"},
    {"id": "no-inputs", "body": {"inputs": []}},
    {"id": "late", "body": req(x1), "deadline_in_ms": -1000},
    {"id": "apigw", "body": {"body": base64.b64encode(good.encode()).decode(),
                             "isBase64Encoded": True}},
    {"id": "apigw-bad", "body": {"body": "{}"}},
    {"id": "after", "body": req(x1)},
])
tok = np.load(f"{m}/tiny-transformer/input_b8.npy")
# batch 8 answers ~80 kB, over the 20 kB limit this case's stub gets; batch 1 ~10 kB
dump("handler", [{"id": "b8", "body": req(tok, name="input_ids", dtype="INT64")},
                 {"id": "b1", "body": req(tok[:1], name="input_ids", dtype="INT64")}])
for name, inp, dt in (("tiny-cnn", "input", "FP32"), ("tiny-transformer", "input_ids", "INT64")):
    dump(f"onnx-{name}", [{"id": f"b{b}", "body": req(np.load(f"{m}/{name}/input_b{b}.npy"),
                                                         name=inp, dtype=dt)} for b in (1, 8)])
for case in ("noinit", "corrupt", "unsup"):
    dump(case, [])

from onnx import TensorProto, helper, save  # a valid ONNX model with an operator we lack
g = helper.make_graph([helper.make_node("Det", ["x"], ["y"])], "g",
                      [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 2])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [])])
import os
os.makedirs(f"{tmp}/unsup")
save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), f"{tmp}/unsup/model.onnx")
os.makedirs(f"{tmp}/corrupt")
open(f"{tmp}/corrupt/model.pt", "wb").write(os.urandom(1000))
EOF

# ---- start every case ----------------------------------------------------------------------
launch main "$tmp/main.events.json" FAASML_MODEL="$models/tiny-cnn"
if [ "${FM_SANITIZED:-0}" = 1 ]; then
    # no C code runs here, so the sanitizer pass repeats nothing but the main case
    wait_results main
    grep -q '^faasml-init runtime=python-torch ' "$tmp/main.err" || { cat "$tmp/main.err"; exit 1; }
    "$py" - "$models/tiny-cnn/output_b1.npy" "$tmp/main.results.json" <<'EOF'
import json, sys
import numpy as np
ref, a = np.load(sys.argv[1]), json.load(open(sys.argv[2]))["answers"]
y = np.array(a["b1"]["body"]["outputs"][0]["data"], dtype=np.float32).reshape(ref.shape)
assert np.abs(y - ref).max() <= 1e-4 * np.abs(ref).max()
assert a["bad-name"]["error_type"] == "Function.BadRequest" and len(a) == 12, a
EOF
    echo "python_runtime: ok (main case only under FM_SANITIZED=1)"
    exit 0
fi
launch noinit "$tmp/noinit.events.json" FAASML_MODEL="$tmp/missing-model"
launch corrupt "$tmp/corrupt.events.json" FAASML_MODEL="$tmp/corrupt"
max_response=20000 launch handler "$tmp/handler.events.json" LAMBDA_TASK_ROOT="$models" \
    _HANDLER=tiny-transformer/model.onnx
launch onnx-tiny-cnn "$tmp/onnx-tiny-cnn.events.json" FAASML_TORCH_LOADER=onnx \
    FAASML_MODEL="$models/tiny-cnn/model.onnx"
launch onnx-tiny-transformer "$tmp/onnx-tiny-transformer.events.json" FAASML_TORCH_LOADER=onnx \
    FAASML_MODEL="$models/tiny-transformer/model.opset17.onnx"
launch unsup "$tmp/unsup.events.json" FAASML_TORCH_LOADER=onnx FAASML_MODEL="$tmp/unsup"

# ---- 1. serving tiny-cnn: good, bad and API Gateway events ------------------------------------
wait_results main
grep -q '^faasml-init runtime=python-torch .*import_ms=[0-9.]* load_ms=[0-9.]*' "$tmp/main.err" \
    || { echo "no init timing line on stderr:"; cat "$tmp/main.err"; exit 1; }
"$py" - "$models/tiny-cnn" "$tmp/main.results.json" <<'EOF'
import json, sys
import numpy as np
d, res = sys.argv[1], json.load(open(sys.argv[2]))
a = res["answers"]
def check_out(resp, ref, what):
    o = resp["outputs"][0]
    assert o["name"] == "output" and o["datatype"] == "FP32", (what, o["name"], o["datatype"])
    assert o["shape"] == list(ref.shape), (what, o["shape"], ref.shape)
    y = np.array(o["data"], dtype=np.float32).reshape(ref.shape)
    err, tol = np.abs(y - ref).max(), 1e-4 * np.abs(ref).max()
    assert err <= tol, f"{what}: max abs error {err} > {tol}"
    assert (y.argmax(-1) == ref.argmax(-1)).all(), what
ref1, ref8 = np.load(f"{d}/output_b1.npy"), np.load(f"{d}/output_b8.npy")
for k in ("b1", "after"):
    assert a[k]["kind"] == "response", (k, a[k])
    check_out(a[k]["body"], ref1, k)
assert a["b1"]["body"]["id"] == "abc" and a["b1"]["body"]["model_name"] == "tiny-cnn"
check_out(a["b8"]["body"], ref8, "b8")
expect = {"bad-name": ("Function.BadRequest", "unknown input 'nope'"),
          "bad-shape": ("Function.BadRequest", "shape [1, 3, 31, 32], model wants"),
          "bad-count": ("Function.BadRequest", "needs 3072 values, got 5"),
          "bad-dtype": ("Function.BadRequest", "datatype 'FP64', model wants 'FP32'"),
          "bad-json": ("Function.BadRequest", "event is not JSON"),
          "no-inputs": ("Function.BadRequest", "exactly one tensor"),
          "late": ("Runtime.DeadlineExceeded", "deadline")}
for k, (etype, msg) in expect.items():
    r = a[k]
    assert r["kind"] == "error" and r["error_type"] == etype, (k, r)
    assert r["body"]["errorType"] == etype and msg in r["body"]["errorMessage"], (k, r)
assert a["apigw"]["kind"] == "response" and a["apigw"]["body"]["statusCode"] == 200
check_out(json.loads(a["apigw"]["body"]["body"]), ref1, "apigw")
assert a["apigw-bad"]["body"]["statusCode"] == 400, a["apigw-bad"]
assert "exactly one tensor" in json.loads(a["apigw-bad"]["body"]["body"])["error"]
assert len(a) == 12 and res["init_error"] is None
EOF

# ---- 2. a missing model, a corrupt TorchScript file, an unsupported ONNX op: /init/error -------
expect_init_error noinit Runtime.ModelNotFound missing-model
expect_init_error corrupt Runtime.ModelLoadFailed "cannot load model '$tmp/corrupt/model.pt'"
expect_init_error unsup Runtime.ModelLoadFailed "unsupported operators: Det"

# ---- 2b. a response over the Runtime API's size limit (413): a function error, then serving on
wait_results handler
"$py" - "$tmp/handler.results.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))["answers"]["b8"]
assert r["kind"] == "error" and r["error_type"] == "Function.ResponseSizeTooLarge", r
assert "over the limit" in r["body"]["errorMessage"], r
EOF

# ---- 3. model named by the handler, the ONNX loader on both opsets: outputs match PyTorch -----
for case in handler:tiny-transformer:torchscript onnx-tiny-cnn:tiny-cnn:onnx \
            onnx-tiny-transformer:tiny-transformer:onnx; do
    IFS=: read -r name model loader <<<"$case"
    wait_results "$name"
    grep -q "loader=$loader " "$tmp/$name.err" \
        || { echo "case '$name': loader $loader not used:"; cat "$tmp/$name.err"; exit 1; }
    "$py" - "$models/$model" "$tmp/$name.results.json" "$name" <<'EOF'
import json, sys
import numpy as np
d, name = sys.argv[1], sys.argv[3]
a = json.load(open(sys.argv[2]))["answers"]
if name == "handler":
    del a["b8"]  # checked above: over the response size limit
for rid, r in a.items():
    assert r["kind"] == "response", (name, rid, r)
    ref = np.load(f"{d}/output_b{1 if rid == 'b1' else 8}.npy")
    o = r["body"]["outputs"][0]
    y = np.array(o["data"], dtype=np.float32).reshape(o["shape"])
    assert y.shape == ref.shape, (name, rid, y.shape, ref.shape)
    err = np.abs(y - ref).max()
    assert err <= 1e-4 * np.abs(ref).max(), (name, rid, err)
assert len(a) == (1 if name == "handler" else 2), (name, list(a))
EOF
done
echo "python_runtime: ok"
