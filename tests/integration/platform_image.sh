#!/usr/bin/env bash
# runtime: image under `faasml serve`: the OCI image `faasml package --format oci` builds runs as a
# Lambda container image (podman, host network, the instance's Runtime API on 127.0.0.1). Cold and
# warm invocations answer byte for byte what the same model answers through `faasml fn` exec'd by
# the platform (runtime builtin-onnx); a hung runtime (its container frozen with podman pause)
# times out and its container is removed; a runtime killed mid-invocation is a Runtime.ExitError
# and the next request starts a new container; the serve log names the podman quirks chosen;
# deleting the function and stopping the platform leave no container behind. Bad specs: a missing
# image is a deploy error naming it. The image is built once per faasml binary and kept (tagged
# with the binary's hash) so later runs skip the build.
source "$FM_SOURCE_DIR/tests/fixtures/platform/lib.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

if ! command -v podman >/dev/null; then
    echo "# SKIP: podman is not installed (scripts/install-deps.sh installs it)"
    exit 77
fi
if [ "$(id -u)" != 0 ]; then
    echo "# SKIP: this test freezes and kills containers from outside (rootful podman, needs root)"
    exit 77
fi
if ! timeout 30 podman info >/dev/null 2>"$TMP/info.err"; then
    echo "# SKIP: podman cannot run here: $(tail -1 "$TMP/info.err")"
    exit 77
fi

# containers this test's platform made: label faasml.function=pimg-* (names are per test run)
SUF=$$
containers() { podman ps -a -q --filter "label=faasml.function=$1"; }
cleanup_containers() {
    for f in "pimg_$SUF" "pimgslow_$SUF"; do
        for c in $(containers "$f"); do podman rm -f -t 0 "$c" >/dev/null 2>&1 || true; done
    done
}
trap 'rc=$?; cleanup_containers; (exit $rc); cleanup' EXIT

"$PY" "$SRC/tests/fixtures/fn/make_onnx.py" gap "$TMP/gap.onnx" 4 4
cat >"$TMP/pkg.yaml" <<EOF
name: pimg
runtime: builtin-onnx
model: gap.onnx
memory_mb: 512
EOF
# one image per (faasml binary, model): built on the first run, reused after
REPO=localhost/faasml-test-platform-image-$(basename "${FM_BUILD_DIR:-build}")
HASH=$(cat "$FAASML" "$TMP/gap.onnx" | sha256sum | cut -c1-16)
TAG=$REPO:$HASH
if ! podman image exists "$TAG"; then
    for old in $(podman images --format '{{.Repository}}:{{.Tag}}' --filter "reference=$REPO"); do
        podman rmi -f "$old" >/dev/null 2>&1 || true
    done
    timeout 120 "$FAASML" package "$TMP/pkg.yaml" -o "$TMP/pkg" --format oci --image "$TAG" \
        >/dev/null 2>"$TMP/pkg.err" || fail "package oci: $(tail -3 "$TMP/pkg.err")"
    ok "image $TAG built by faasml package --format oci"
else
    ok "image $TAG reused (built by an earlier run)"
fi

start_serve
# a missing image: the deploy fails naming it, nothing starts
cat >"$TMP/missing.yaml" <<EOF
name: pimgmissing_$SUF
runtime: image
image: localhost/faasml-no-such-image:$SUF
EOF
code=0
"$FAASML" deploy "$TMP/missing.yaml" --gateway "$URL" >/dev/null 2>"$TMP/missing.err" || code=$?
[ "$code" != 0 ] || fail "a missing image deployed"
grep -q "image 'localhost/faasml-no-such-image:$SUF' is not in podman's local storage" \
    "$TMP/missing.err" || fail "missing image message: $(cat "$TMP/missing.err")"
ok "a missing image is a deploy error naming it"

cat >"$TMP/direct.yaml" <<EOF
name: pimgdirect_$SUF
runtime: builtin-onnx
model: $TMP/gap.onnx
memory_mb: 512
timeout_s: 20
EOF
cat >"$TMP/img.yaml" <<EOF
name: pimg_$SUF
runtime: image
image: $TAG
memory_mb: 512
timeout_s: 20
EOF
"$FAASML" deploy "$TMP/direct.yaml" --gateway "$URL" >/dev/null || fail "cannot deploy direct"
"$FAASML" deploy "$TMP/img.yaml" --gateway "$URL" >/dev/null || fail "cannot deploy image"
grep -q 'runtime image: .*podman.* network host .*podman run flags: ' "$TMP/serve.err" ||
    fail "no runtime image line in the serve log"
echo "# $(grep -o 'runtime image: .*' "$TMP/serve.err" | head -1)"
ok "the serve log names podman, rootful/rootless, the limits and the quirk flags"

"$PY" - "$TMP/v2.json" <<'EOF'
import json, sys
json.dump({"inputs": [{"name": "input", "shape": [2, 3, 4, 4], "datatype": "FP32",
                       "data": [float(i) * 0.37 - 5 for i in range(96)]}]}, open(sys.argv[1], "w"))
EOF
code=$(invoke "pimgdirect_$SUF" "@$TMP/v2.json")
expect_eq "$code" 200 "direct invoke: $(body)"
cp "$TMP/body" "$TMP/direct.body"
expect_contains "$(body)" '"outputs"' "direct answer"

code=$(invoke "pimg_$SUF" "@$TMP/v2.json" -H 'X-Amz-Log-Type: Tail')
expect_eq "$code" 200 "cold image invoke: $(body)"
expect_contains "$(tail_log)" "Init Duration:" "cold start REPORT"
cmp -s "$TMP/direct.body" "$TMP/body" || fail "cold answer differs: $(body) vs $(cat "$TMP/direct.body")"
ok "cold invoke of the image equals faasml fn (exec) byte for byte"
code=$(invoke "pimg_$SUF" "@$TMP/v2.json" -H 'X-Amz-Log-Type: Tail')
expect_eq "$code" 200 "warm image invoke"
expect_not_contains "$(tail_log)" "Init Duration" "warm invoke"
used=$(tail_log | sed -n 's/.*Max Memory Used: \([0-9]*\) MB.*/\1/p')
[ -n "$used" ] && [ "$used" -ge 1 ] && [ "$used" -lt 512 ] ||
    fail "Max Memory Used should be the container's cgroup peak (1-511 MB): $(tail_log)"
cmp -s "$TMP/direct.body" "$TMP/body" || fail "warm answer differs: $(body)"
ok "warm invoke of the same container, equal again (Max Memory Used ${used} MB, its cgroup peak)"

C=$(containers "pimg_$SUF")
[ "$(echo "$C" | wc -w)" = 1 ] || fail "expected one container, got: $C"
mem=$(podman inspect -f '{{.HostConfig.Memory}}' "$C")
expect_eq "$mem" $((512 * 1024 * 1024)) "container memory limit"
cpus=$(podman inspect -f '{{.HostConfig.NanoCpus}}' "$C")
[ "$cpus" -gt 288000000 ] && [ "$cpus" -lt 290000000 ] ||
    fail "container CPUs: expected 512/1769 vCPU (0.289e9 nano-CPUs), got $cpus"
net=$(podman inspect -f '{{.HostConfig.NetworkMode}}' "$C")
expect_eq "$net" host "network mode"
expect_eq "$(podman inspect -f '{{.Config.User}}' "$C")" 65534:65534 "container user"
expect_eq "$(podman inspect -f '{{.HostConfig.ReadonlyRootfs}}' "$C")" true "read-only root"
ok "podman got --memory 512m, --cpus 0.289 (memory/1769), the host network, user 65534, a read-only root"

# crash: freeze the runtime, hand it an invocation, SIGKILL its process, thaw it
pid=$(podman inspect -f '{{.State.Pid}}' "$C")
podman pause "$C" >/dev/null
invoke "pimg_$SUF" "@$TMP/v2.json" >"$TMP/crash.code" &
ipid=$!
sleep 0.5
kill -KILL "$pid"
podman unpause "$C" >/dev/null 2>&1 || true
wait "$ipid" || true
expect_eq "$(cat "$TMP/crash.code")" 200 "crash invoke"
expect_eq "$(hdr X-Amz-Function-Error)" Unhandled "crash error header"
expect_contains "$(body)" '"errorType":"Runtime.ExitError"' "crash error type"
expect_contains "$(body)" "Runtime exited with error: signal: killed" "crash message"
code=$(invoke "pimg_$SUF" "@$TMP/v2.json" -H 'X-Amz-Log-Type: Tail')
expect_eq "$code" 200 "invoke after the crash"
expect_contains "$(tail_log)" "Init Duration:" "a new container after the crash"
cmp -s "$TMP/direct.body" "$TMP/body" || fail "answer after the crash differs: $(body)"
ok "a runtime killed mid-invocation is a Runtime.ExitError; the next request starts a new one"

# timeout: a frozen runtime never answers; the platform answers Sandbox.Timedout and removes it
cat >"$TMP/slow.yaml" <<EOF
name: pimgslow_$SUF
runtime: image
image: $TAG
memory_mb: 256
timeout_s: 2
provisioned_concurrency: 1
EOF
"$FAASML" deploy "$TMP/slow.yaml" --gateway "$URL" >/dev/null || fail "cannot deploy slow"
# the provisioned instance is ready (it asked /next) before anything is sent: one container
for _ in $(seq 300); do
    [ "$(metric "faasml_instances{function=\"pimgslow_$SUF\",state=\"idle\"}")" = 1 ] && break
    sleep 0.1
done
expect_eq "$(metric "faasml_instances{function=\"pimgslow_$SUF\",state=\"idle\"}")" 1 \
    "provisioned instance ready"
code=$(invoke "pimgslow_$SUF" "@$TMP/v2.json")
expect_eq "$code" 200 "slow warm-up invoke: $(body)"
S=$(containers "pimgslow_$SUF")
[ "$(echo "$S" | wc -w)" = 1 ] || fail "expected one container for the provisioned instance: $S"
podman pause "$S" >/dev/null
code=$(invoke "pimgslow_$SUF" "@$TMP/v2.json")
expect_eq "$code" 200 "timeout invoke"
expect_eq "$(hdr X-Amz-Function-Error)" Unhandled "timeout error header"
expect_contains "$(body)" '"errorType":"Sandbox.Timedout"' "timeout error type"
expect_contains "$(body)" "Task timed out after 2.00 seconds" "timeout message"
for _ in $(seq 100); do podman container exists "$S" || break; sleep 0.1; done
podman container exists "$S" && fail "the timed-out container $S is still there"
ok "a hung runtime times out; its (frozen) container is removed"

# DELETE: the function's container goes; shutdown: every container of this platform goes
C=$(containers "pimg_$SUF")
[ -n "$C" ] || fail "no container before DELETE"
"$FAASML" functions --delete "pimg_$SUF" --gateway "$URL" >/dev/null || fail "delete"
for _ in $(seq 100); do [ -z "$(containers "pimg_$SUF")" ] && break; sleep 0.1; done
[ -z "$(containers "pimg_$SUF")" ] || fail "container left after DELETE: $(containers "pimg_$SUF")"
ok "DELETE removes the function's container"
for _ in $(seq 100); do [ -n "$(containers "pimgslow_$SUF")" ] && break; sleep 0.1; done
[ -n "$(containers "pimgslow_$SUF")" ] || fail "the provisioned instance was not replaced"
kill -TERM "$SERVE_PID"
for _ in $(seq 300); do kill -0 "$SERVE_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$SERVE_PID" 2>/dev/null && fail "faasml serve did not stop"
[ -z "$(containers "pimgslow_$SUF")" ] ||
    fail "container left after shutdown: $(containers "pimgslow_$SUF")"
ok "shutdown leaves no container"
