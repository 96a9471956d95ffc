#!/bin/bash
# faasml quantize end to end on the tiny fixtures: static QDQ (min-max and percentile, calibration
# from random samples and from a directory of .npy files), dynamic, the accuracy figures of
# --eval, that the output is a valid ONNX model (onnx.checker, when python3-onnx is installed),
# and the usage and load errors.
set -euo pipefail
: "${FAASML:?}" "${FM_SOURCE_DIR:?}"
FX="$FM_SOURCE_DIR/tests/fixtures/infer"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
num() { sed -n "s/.*\"$1\":\([-0-9.e]*\).*/\1/p"; }

"$FAASML" quantize --help | grep -- "--calib" >/dev/null || fail "--help lacks --calib"

out=$(timeout 120 "$FAASML" quantize "$FX/conv_net.onnx" -o "$TMP/s.onnx" --calib-random 16 --eval 100 --json)
[ "$(echo "$out" | num nodes)" = 5 ] || fail "static: nodes: $out"
cos=$(echo "$out" | num cosine_mean)
awk -v c="$cos" 'BEGIN { exit !(c > 0.99 && c <= 1.0) }' || fail "static: cosine $cos: $out"
timeout 60 "$FAASML" infer "$TMP/s.onnx" --random --batch 2 | grep "^prob FP32 \[2,10\]" >/dev/null || fail "static model does not run"

# percentile calibration from a directory of .npy samples
mkdir "$TMP/calib"
if /usr/bin/python3 -c 'import numpy' 2>/dev/null; then
    /usr/bin/python3 -c "
import numpy as np
for i in range(4): np.save('$TMP/calib/s%d.npy' % i, np.random.default_rng(i).standard_normal((1, 3, 16, 16)).astype(np.float32))"
    out=$(timeout 120 "$FAASML" quantize "$FX/conv_net.onnx" -o "$TMP/p.onnx" --calib "$TMP/calib" --method percentile --percentile 99.9 --json)
    [ "$(echo "$out" | num calibration_samples)" = 4 ] || fail "calib dir: $out"
fi

# dynamic: MatMul weights INT8 on the tiny transformer
out=$(timeout 120 "$FAASML" quantize "$FX/transformer.onnx" -o "$TMP/d.onnx" --mode dynamic --eval 20 --vocab 50 --json)
cos=$(echo "$out" | num cosine_mean)
awk -v c="$cos" 'BEGIN { exit !(c > 0.98 && c <= 1.0) }' || fail "dynamic: cosine $cos: $out"

if /usr/bin/python3 -c 'import onnx' 2>/dev/null; then
    for f in s d; do
        /usr/bin/python3 -c "import onnx, sys; onnx.checker.check_model(onnx.load(sys.argv[1]))" "$TMP/$f.onnx" \
            || fail "$f.onnx fails onnx.checker"
    done
    /usr/bin/python3 -c "
import onnx, sys
ops = {n.op_type for n in onnx.load(sys.argv[1]).graph.node}
assert {'QuantizeLinear', 'DequantizeLinear'} <= ops, ops
ops = {n.op_type for n in onnx.load(sys.argv[2]).graph.node}
assert {'DynamicQuantizeLinear', 'MatMulInteger'} <= ops, ops
" "$TMP/s.onnx" "$TMP/d.onnx" || fail "quantized ops missing"
fi

# --precision bf16 and --accuracy (the quantized file against its FP32 original)
out=$(timeout 120 "$FAASML" infer "$FX/conv_net.onnx" --precision bf16 --accuracy 20 --json)
cos=$(echo "$out" | num cosine_mean)
awk -v c="$cos" 'BEGIN { exit !(c > 0.99 && c <= 1.0) }' || fail "bf16: cosine $cos: $out"
out=$(timeout 120 "$FAASML" infer "$TMP/s.onnx" --reference "$FX/conv_net.onnx" --accuracy 20 --json)
[ "$(echo "$out" | num samples)" = 20 ] || fail "--accuracy --reference: $out"
set +e
err=$("$FAASML" infer "$FX/conv_net.onnx" --random --precision fp8 2>&1); rc=$?
set -e
[ $rc -eq 2 ] && echo "$err" | grep -q "unknown --precision 'fp8'" || fail "bad precision: rc $rc: $err"

# usage and load errors: exit 2 / 1 with a message naming the problem
set +e
err=$("$FAASML" quantize "$FX/conv_net.onnx" -o "$TMP/x.onnx" 2>&1); rc=$?
[ $rc -eq 2 ] && echo "$err" | grep -q "needs --calib" || fail "no calibration: rc $rc: $err"
err=$("$FAASML" quantize "$FX/conv_net.onnx" -o "$TMP/x.onnx" --mode fast 2>&1); rc=$?
[ $rc -eq 2 ] && echo "$err" | grep -q "unknown --mode 'fast'" || fail "bad mode: rc $rc: $err"
err=$("$FAASML" quantize "$FX/conv_net.onnx" -o "$TMP/x.onnx" --calib-random 2 --method percentile --percentile 40 2>&1); rc=$?
[ $rc -eq 2 ] && echo "$err" | grep -q -- "--percentile 40 out of range" || fail "bad percentile: rc $rc: $err"
err=$("$FAASML" quantize "$FX/relu.onnx" -o "$TMP/x.onnx" --calib-random 2 2>&1); rc=$?
[ $rc -eq 1 ] && echo "$err" | grep -q "no Conv, MatMul or Gemm" || fail "nothing to quantize: rc $rc: $err"
err=$("$FAASML" quantize "$FX/q_bad_scale0.onnx" -o "$TMP/x.onnx" --calib-random 2 2>&1); rc=$?
[ $rc -eq 1 ] && echo "$err" | grep -q "node 'q1' (QuantizeLinear): scale 0" || fail "bad model: rc $rc: $err"
set -e
echo ok
