#!/bin/bash
# faasml infer end to end on the tiny fixtures: summary, .npy output, --expect, --bench --json,
# and the exit codes for bad models and bad usage.
set -euo pipefail
: "${FAASML:?}" "${FM_SOURCE_DIR:?}"
FX="$FM_SOURCE_DIR/tests/fixtures/infer"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$FAASML" infer --help | grep -- "--bench" >/dev/null || fail "--help lacks --bench"

out=$(timeout 60 "$FAASML" infer "$FX/conv_net.onnx" --random --batch 2)
echo "$out" | grep -q "^prob FP32 \[2,10\]" || fail "summary: $out"
echo "$out" | grep -q "^c4 FP32 \[2,16,8,8\]" || fail "summary: $out"

timeout 60 "$FAASML" infer "$FX/conv_net.onnx" --random --seed 3 --output prob="$TMP/p.npy" --output c4="$TMP/c4.npy"
head -c 6 "$TMP/p.npy" | grep -q "NUMPY" || fail "no .npy written"
# same seed, same result; --expect compares
timeout 60 "$FAASML" infer "$FX/conv_net.onnx" --random --seed 3 --threads 2 --expect prob="$TMP/p.npy" | grep ": ok$" >/dev/null \
    || fail "--expect against its own output"
# different seed: the outputs differ, --expect fails with exit 1
set +e
timeout 60 "$FAASML" infer "$FX/conv_net.onnx" --random --seed 4 --expect c4="$TMP/c4.npy" >/dev/null
rc=$?
set -e
[ $rc -eq 1 ] || fail "--expect mismatch exit $rc"

# an .npy of the wrong shape as input: exit 1 with an error naming the input
set +e
msg=$(timeout 60 "$FAASML" infer "$FX/conv_net.onnx" --input x="$TMP/p.npy" 2>&1)
rc=$?
set -e
[ $rc -eq 1 ] || fail "wrong input shape exit $rc: $msg"
echo "$msg" | grep -q "input 'x' must have rank 4" || fail "wrong input shape message: $msg"

json=$(timeout 60 "$FAASML" infer "$FX/conv_net.onnx" --random --bench 3 --json)
echo "$json" | grep -q '"p50_ms":' || fail "bench json: $json"
echo "$json" | grep -q '"parse_ms":' || fail "bench json: $json"

set +e
msg=$("$FAASML" infer "$FX/unsupported_op.onnx" --random 2>&1)
rc=$?
set -e
[ $rc -eq 1 ] || fail "unsupported model exit $rc"
echo "$msg" | grep -q "(Hardmax): unsupported operator" || fail "message: $msg"

set +e
"$FAASML" infer "$FX/conv_net.onnx" >/dev/null 2>&1
rc=$?
set -e
[ $rc -eq 2 ] || fail "no input exit $rc"
echo ok
