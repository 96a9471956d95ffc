#!/usr/bin/env bash
# The Python/PyTorch custom runtime (examples/runtimes/python-torch/bootstrap) against a test
# Runtime API server (rapi_stub.py): v2 requests at batch 1 and 8 match PyTorch's reference outputs,
# bad requests become Lambda function errors and the runtime keeps serving, API Gateway events get
# HTTP-style replies, a passed deadline is refused, a missing or corrupt model is an /init/error, and the
# handler (_HANDLER relative to LAMBDA_TASK_ROOT) names the model when FAASML_MODEL is unset, and
# the ONNX loader (onnx_torch.py) runs the .onnx files themselves and names unsupported operators.
set -euo pipefail
src=${FM_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
py=/usr/bin/python3
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

# start_stub NAME EVENTS: starts a stub, sets $port
start_stub() {
    : >"$tmp/$1.stub.out"  # exists before the background job opens it
    "$py" "$src/tests/integration/rapi_stub.py" "$2" "$tmp/$1.results.json" >"$tmp/$1.stub.out" &
    pids+=($!)
    for _ in $(seq 100); do
        port=$(sed -n 's|^listening on http://127.0.0.1:\([0-9]*\)$|\1|p' "$tmp/$1.stub.out")
        [ -n "$port" ] && return 0
        sleep 0.1
    done
    echo "stub '$1' did not start"; exit 1
}

# wait_results NAME: waits (bounded) until the stub wrote its results
wait_results() {
    for _ in $(seq 600); do
        [ -s "$tmp/$1.results.json" ] && return 0
        sleep 0.1
    done
    echo "no results from '$1'; runtime stderr:"; cat "$tmp/$1.err"; exit 1
}

# --- 1. serving tiny-cnn: good, bad and API Gateway events ------------------------------------
"$py" - "$models/tiny-cnn" "$tmp/main.events.json" <<'EOF'
import base64, json, sys
import numpy as np
d, out = sys.argv[1], sys.argv[2]
x1, x8 = np.load(f"{d}/input_b1.npy"), np.load(f"{d}/input_b8.npy")
def req(x, name="input", dtype="FP32", shape=None, flat=True, **kw):
    r = {"inputs": [{"name": name, "datatype": dtype, "shape": list(shape or x.shape),
                     "data": x.reshape(-1).tolist() if flat else x.tolist()}]}
    r.update(kw)
    return r
good = json.dumps(req(x1, id="abc"))
events = [
    {"id": "b1", "body": req(x1, flat=False, id="abc"), "trace_id": "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700"},
    {"id": "b8", "body": req(x8)},
    {"id": "bad-name", "body": req(x1, name="nope")},
    {"id": "bad-shape", "body": req(x1[:, :, :31], shape=[1, 3, 31, 32])},
    {"id": "bad-count", "body": req(x1[:, :1, :1, :5], shape=[1, 3, 32, 32])},
    {"id": "bad-dtype", "body": req(x1, dtype="FP64")},
    {"id": "bad-json", "body": "{not json"},
    {"id": "no-inputs", "body": {"inputs": []}},
    {"id": "late", "body": req(x1), "deadline_in_ms": -1000},
    {"id": "apigw", "body": {"body": base64.b64encode(good.encode()).decode(), "isBase64Encoded": True}},
    {"id": "apigw-bad", "body": {"body": "{}"}},
    {"id": "after", "body": req(x1)},
]
json.dump(events, open(out, "w"))
EOF
start_stub main "$tmp/main.events.json"
AWS_LAMBDA_RUNTIME_API=127.0.0.1:$port FAASML_MODEL=$models/tiny-cnn \
    "$src/examples/runtimes/python-torch/bootstrap" 2>"$tmp/main.err" &
pids+=($!)
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
print("python_runtime: serving checks passed")
EOF

# --- 2. a model that cannot be found: /init/error, then exit -----------------------------------
echo '[]' >"$tmp/noinit.events.json"
start_stub noinit "$tmp/noinit.events.json"
rc=0
AWS_LAMBDA_RUNTIME_API=127.0.0.1:$port FAASML_MODEL=$tmp/missing-model \
    timeout 60 "$src/examples/runtimes/python-torch/bootstrap" 2>"$tmp/noinit.err" || rc=$?
[ "$rc" -eq 1 ] || { echo "runtime with a missing model exited $rc, want 1"; exit 1; }
wait_results noinit
"$py" - "$tmp/noinit.results.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))["init_error"]
assert r and r["error_type"] == "Runtime.ModelNotFound", r
assert "missing-model" in r["body"]["errorMessage"] and r["body"]["errorType"] == r["error_type"], r
EOF

# --- 2b. a corrupt TorchScript file: /init/error naming the file ------------------------------
mkdir -p "$tmp/corrupt" && head -c 1000 /dev/urandom >"$tmp/corrupt/model.pt"
echo '[]' >"$tmp/corrupt.events.json"
start_stub corrupt "$tmp/corrupt.events.json"
rc=0
AWS_LAMBDA_RUNTIME_API=127.0.0.1:$port FAASML_MODEL=$tmp/corrupt \
    timeout 60 "$src/examples/runtimes/python-torch/bootstrap" 2>"$tmp/corrupt.err" || rc=$?
[ "$rc" -eq 1 ] || { echo "runtime with a corrupt model exited $rc, want 1"; exit 1; }
wait_results corrupt
"$py" - "$tmp/corrupt.results.json" <<'EOF2'
import json, sys
r = json.load(open(sys.argv[1]))["init_error"]
assert r and r["error_type"] == "Runtime.ModelLoadFailed", r
assert "cannot load model" in r["body"]["errorMessage"] and "model.pt" in r["body"]["errorMessage"], r
EOF2

# --- 3. model named by the handler, relative to LAMBDA_TASK_ROOT; int64 input --------------------
"$py" - "$models/tiny-transformer" "$tmp/handler.events.json" <<'EOF'
import json, sys
import numpy as np
x = np.load(f"{sys.argv[1]}/input_b8.npy")
json.dump([{"id": "tok", "body": {"inputs": [{"name": "input_ids", "datatype": "INT64",
            "shape": list(x.shape), "data": x.reshape(-1).tolist()}]}}], open(sys.argv[2], "w"))
EOF
start_stub handler "$tmp/handler.events.json"
env -u FAASML_MODEL AWS_LAMBDA_RUNTIME_API=127.0.0.1:$port LAMBDA_TASK_ROOT=$models \
    _HANDLER=tiny-transformer/model.onnx \
    "$src/examples/runtimes/python-torch/bootstrap" 2>"$tmp/handler.err" &
pids+=($!)
wait_results handler
"$py" - "$models/tiny-transformer" "$tmp/handler.results.json" <<'EOF'
import json, sys
import numpy as np
ref = np.load(f"{sys.argv[1]}/output_b8.npy")
r = json.load(open(sys.argv[2]))["answers"]["tok"]
assert r["kind"] == "response", r
o = r["body"]["outputs"][0]
assert o["name"] == "last_hidden_state" and o["shape"] == list(ref.shape), o["shape"]
err = np.abs(np.array(o["data"], dtype=np.float32).reshape(ref.shape) - ref).max()
assert err <= 1e-4 * np.abs(ref).max(), err
EOF
# --- 4. the ONNX loader: the .onnx files themselves, interpreted on PyTorch tensors -------------
# tiny-cnn at opset 13 (Conv, MaxPool, Gemm, ...), tiny-transformer at opset 17 (LayerNormalization)
"$py" - "$models" "$tmp/onnx.events.json" <<'EOF2'
import json, sys
import numpy as np
m = sys.argv[1]
ev = []
for name, inp, dt in (("tiny-cnn", "input", "FP32"), ("tiny-transformer", "input_ids", "INT64")):
    for b in (1, 8):
        x = np.load(f"{m}/{name}/input_b{b}.npy")
        ev.append({"id": f"{name}-b{b}", "body": {"inputs": [{"name": inp, "datatype": dt,
                   "shape": list(x.shape), "data": x.reshape(-1).tolist()}]}})
json.dump(ev, open(sys.argv[2], "w"))
EOF2
for case in "tiny-cnn model.onnx" "tiny-transformer model.opset17.onnx"; do
    set -- $case
    "$py" -c "import json,sys; e=json.load(open(sys.argv[1])); json.dump([x for x in e if x['id'].startswith(sys.argv[2]+'-')], open(sys.argv[3],'w'))" \
        "$tmp/onnx.events.json" "$1" "$tmp/onnx-$1.events.json"
    start_stub "onnx-$1" "$tmp/onnx-$1.events.json"
    AWS_LAMBDA_RUNTIME_API=127.0.0.1:$port FAASML_TORCH_LOADER=onnx FAASML_MODEL=$models/$1/$2 \
        "$src/examples/runtimes/python-torch/bootstrap" 2>"$tmp/onnx-$1.err" &
    pids+=($!)
    wait_results "onnx-$1"
    grep -q "loader=onnx .*model=$models/$1/$2" "$tmp/onnx-$1.err" \
        || { echo "onnx loader not used:"; cat "$tmp/onnx-$1.err"; exit 1; }
    "$py" - "$models/$1" "$tmp/onnx-$1.results.json" "$1" <<'EOF2'
import json, sys
import numpy as np
d, a, name = sys.argv[1], json.load(open(sys.argv[2]))["answers"], sys.argv[3]
for b in (1, 8):
    r = a[f"{name}-b{b}"]
    assert r["kind"] == "response", r
    ref = np.load(f"{d}/output_b{b}.npy")
    o = r["body"]["outputs"][0]
    y = np.array(o["data"], dtype=np.float32).reshape(o["shape"])
    assert y.shape == ref.shape, (y.shape, ref.shape)
    err = np.abs(y - ref).max()
    assert err <= 1e-4 * np.abs(ref).max(), (name, b, err)
EOF2
done

# --- 5. an ONNX operator the interpreter lacks: /init/error naming it -------------------------
mkdir -p "$tmp/unsup"
"$py" - "$tmp/unsup/model.onnx" <<'EOF2'
import sys
from onnx import TensorProto, helper, save
g = helper.make_graph([helper.make_node("Det", ["x"], ["y"])], "g",
                      [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 2])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [])])
save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), sys.argv[1])
EOF2
echo '[]' >"$tmp/unsup.events.json"
start_stub unsup "$tmp/unsup.events.json"
rc=0
AWS_LAMBDA_RUNTIME_API=127.0.0.1:$port FAASML_TORCH_LOADER=onnx FAASML_MODEL=$tmp/unsup \
    timeout 60 "$src/examples/runtimes/python-torch/bootstrap" 2>"$tmp/unsup.err" || rc=$?
[ "$rc" -eq 1 ] || { echo "runtime with an unsupported op exited $rc, want 1"; exit 1; }
wait_results unsup
"$py" - "$tmp/unsup.results.json" <<'EOF2'
import json, sys
r = json.load(open(sys.argv[1]))["init_error"]
assert r and r["error_type"] == "Runtime.ModelLoadFailed", r
assert "unsupported operators: Det" in r["body"]["errorMessage"], r
EOF2
echo "python_runtime: ok"
