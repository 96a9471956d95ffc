#!/usr/bin/env bash
# faasml package --format oci: one image built with buildah/podman from host files (nothing
# pulled), run with podman three ways, each answer equal to `faasml fn` run directly to the byte:
# Knative mode ($PORT, KServe v2 infer), SageMaker mode (`serve`: /ping 200, /invocations) and as a
# Lambda container image (its entrypoint is the Runtime API client; a Runtime API server on the
# host's loopback serves it one event). The image is built once and reused by every mode. Also:
# no builder on PATH is a clear error. Containers get their own network namespace (podman
# --network none) and are reached through it with nsenter; the Lambda mode uses the host's
# loopback only.
set -euo pipefail
FAASML=${FAASML:?FAASML must name the faasml binary}
SRC=${FM_SOURCE_DIR:?FM_SOURCE_DIR must name the source tree}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

if ! command -v podman >/dev/null; then
    echo "# SKIP: podman is not installed (scripts/install-deps.sh installs it)"
    exit 77
fi
if [ "$(id -u)" != 0 ]; then
    echo "# SKIP: this test runs podman rootful and enters container namespaces (needs root)"
    exit 77
fi
TMP=$(mktemp -d /tmp/faasml-pkg-oci.XXXXXX)
TAG=localhost/faasml-test-oci:$$
TAG2=localhost/faasml-test-oci-podman:$$
CIDS=()
PIDS=()
cleanup() {
    local rc=$?
    for c in "${CIDS[@]}"; do podman rm -f -t 0 "$c" >/dev/null 2>&1 || true; done
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    podman rmi -f "$TAG" "$TAG2" >/dev/null 2>&1 || true
    rm -rf "$TMP"
    exit $rc
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
ok() { echo "ok - $*"; }

# the quirks this machine needs, as faasml detects them (--runtime runc on cgroup v1, ulimits)
FLAGS=$("$FAASML" package --podman-flags 2>"$TMP/why")
echo "# podman run flags: ${FLAGS:-none} ($(cat "$TMP/why"))"
"$PY" "$SRC/tests/fixtures/fn/make_onnx.py" gap "$TMP/gap.onnx" 4 4
cat >"$TMP/fn.yaml" <<EOF
name: oci_test
runtime: builtin-onnx
model: gap.onnx
memory_mb: 512
timeout_s: 10
environment: {GREETING: hello}
EOF

# no builder: a clear error, before anything is copied
code=0
PATH=/nonexistent "$FAASML" package "$TMP/fn.yaml" -o "$TMP/none" --format oci 2>"$TMP/nob.err" || code=$?
[ "$code" = 1 ] || fail "no builder: exit $code"
grep -q "no image builder: neither 'buildah' nor 'podman' is on PATH" "$TMP/nob.err" ||
    fail "no builder message: $(cat "$TMP/nob.err")"
ok "no buildah/podman on PATH is a clear error"

"$FAASML" package "$TMP/fn.yaml" -o "$TMP/out" --format oci --image "$TAG" >"$TMP/pkg.out" \
    2>"$TMP/pkg.err" || fail "package oci: $(cat "$TMP/pkg.err")"
grep -q "^image $TAG\$" "$TMP/pkg.out" || fail "no image line: $(cat "$TMP/pkg.out")"
podman image exists "$TAG" || fail "image $TAG was not built"
ok "image built from host files ($(podman image inspect -f '{{.Size}}' "$TAG") bytes)"
"$FAASML" package "$TMP/fn.yaml" -o "$TMP/out2" --format oci --builder podman --image "$TAG2" \
    >/dev/null 2>"$TMP/pkg2.err" || fail "package oci --builder podman: $(cat "$TMP/pkg2.err")"
podman image exists "$TAG2" || fail "podman build made no image"
podman rmi -f "$TAG2" >/dev/null
ok "--builder podman builds the same context"

# the same request, answered by `faasml fn` directly (HTTP mode)
"$PY" - "$TMP/v2.json" <<'EOF'
import json, sys
json.dump({"id": "r1", "inputs": [{"name": "input", "shape": [2, 3, 4, 4], "datatype": "FP32",
                                   "data": [float(i) * 0.25 for i in range(96)]}]},
          open(sys.argv[1], "w"))
EOF
"$FAASML" fn --model "$TMP/gap.onnx" --listen 127.0.0.1:0 >"$TMP/fn.out" 2>"$TMP/fn.err" &
PIDS+=($!)
for _ in $(seq 100); do grep -q '^listening on ' "$TMP/fn.out" 2>/dev/null && break; sleep 0.1; done
FN=$(sed -n 's/^listening on //p' "$TMP/fn.out")
[ -n "$FN" ] || fail "faasml fn did not start: $(cat "$TMP/fn.err")"
curl -sS --max-time 20 -H 'Content-Type: application/json' --data-binary "@$TMP/v2.json" \
    "$FN/v2/models/gap/infer" -o "$TMP/direct.json"
curl -sS --max-time 20 -H 'Content-Type: application/json' --data-binary "@$TMP/v2.json" \
    "$FN/invocations" -o "$TMP/direct_sm.json"
grep -q '"outputs"' "$TMP/direct.json" || fail "direct answer: $(cat "$TMP/direct.json")"

# start_container NAME [podman args...] [-- image args]: runs it detached, waits for $URL_PATH
# to answer 200 inside the container's network namespace; sets NS.
start_container() {
    local name=$1 port=$2
    shift 2
    local cid
    # shellcheck disable=SC2086
    cid=$(podman run -d $FLAGS --network none --name "$name-$$" "$@") ||
        fail "podman run $name failed"
    CIDS+=("$cid")
    local pid
    pid=$(podman inspect -f '{{.State.Pid}}' "$cid")
    NS=/proc/$pid/ns/net
    for _ in $(seq 100); do
        nsenter --net="$NS" curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$port/v2/health/ready" \
            && return 0
        sleep 0.1
    done
    podman logs "$cid" >&2 || true
    fail "$name: not ready on port $port"
}

# Knative / KServe: PORT set (a port other than 8080, so the variable decides)
start_container knative 9090 -e PORT=9090 "$TAG"
nsenter --net="$NS" curl -sS --max-time 20 -H 'Content-Type: application/json' \
    --data-binary "@$TMP/v2.json" http://127.0.0.1:9090/v2/models/gap/infer -o "$TMP/kn.json"
cmp "$TMP/direct.json" "$TMP/kn.json" ||
    fail "knative mode differs: $(cat "$TMP/kn.json") vs $(cat "$TMP/direct.json")"
ok "knative mode: \$PORT=9090, v2 infer equal to faasml fn direct (byte for byte)"

# SageMaker: `docker run IMAGE serve`, port 8080, /ping 200 with an empty body, /invocations
start_container sagemaker 8080 "$TAG" serve
code=$(nsenter --net="$NS" curl -sS --max-time 5 -o "$TMP/ping" -w '%{http_code}' \
    http://127.0.0.1:8080/ping)
[ "$code" = 200 ] || fail "sagemaker /ping: $code"
nsenter --net="$NS" curl -sS --max-time 20 -H 'Content-Type: application/json' \
    --data-binary "@$TMP/v2.json" http://127.0.0.1:8080/invocations -o "$TMP/sm.json"
cmp "$TMP/direct_sm.json" "$TMP/sm.json" ||
    fail "sagemaker mode differs: $(cat "$TMP/sm.json") vs $(cat "$TMP/direct_sm.json")"
ok "sagemaker mode: serve on 8080, /ping 200, /invocations equal to faasml fn direct"
code=0
"$FAASML" fn --model "$TMP/gap.onnx" bogus 2>"$TMP/bogus.err" || code=$?
[ "$code" = 2 ] && grep -q "unknown argument 'bogus'" "$TMP/bogus.err" ||
    fail "fn with an unknown argument: exit $code, $(cat "$TMP/bogus.err")"
ok "fn takes only SageMaker's 'serve' as an argument"

# Lambda container image: AWS_LAMBDA_RUNTIME_API set, no PORT: the entrypoint is the Runtime API
# client. The same event goes to faasml fn directly against a second Runtime API server.
"$PY" - "$TMP/v2.json" "$TMP/events.json" <<'EOF'
import json, sys
json.dump([{"event": open(sys.argv[1]).read(), "deadline_in_ms": 30000, "trace": "t"}],
          open(sys.argv[2], "w"))
EOF
run_api() { # run_api TAG: starts a Runtime API server; sets API (host:port)
    "$PY" "$SRC/tests/integration/runtime_api_server.py" "$TMP/events.json" "$TMP/$1.jsonl" \
        >"$TMP/$1.api.out" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 100); do grep -q '^listening on ' "$TMP/$1.api.out" && break; sleep 0.1; done
    API=$(sed -n 's|^listening on http://||p' "$TMP/$1.api.out")
    [ -n "$API" ] || fail "runtime API server did not start"
}
run_api direct
AWS_LAMBDA_RUNTIME_API=$API timeout 60 "$FAASML" fn --model "$TMP/gap.onnx" --max-events 1 \
    >/dev/null 2>"$TMP/fn_lambda.err" || fail "faasml fn (Runtime API): $(cat "$TMP/fn_lambda.err")"
run_api image
# shellcheck disable=SC2086
timeout 120 podman run --rm $FLAGS --network host -e AWS_LAMBDA_RUNTIME_API="$API" "$TAG" \
    --max-events 1 >/dev/null 2>"$TMP/lambda.err" || fail "lambda mode: $(tail -5 "$TMP/lambda.err")"
"$PY" - "$TMP/direct.jsonl" "$TMP/image.jsonl" <<'EOF' || fail "lambda mode answers differ"
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
assert len(a) == 1 and len(b) == 1, (a, b)
assert a[0]["path"].endswith("/response") and b[0]["path"].endswith("/response"), (a, b)
assert a[0]["body"] == b[0]["body"], (a[0]["body"], b[0]["body"])
assert '"outputs"' in b[0]["body"], b
EOF
ok "lambda container mode: Runtime API client, response equal to faasml fn direct"
