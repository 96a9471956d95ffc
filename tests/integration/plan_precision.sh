#!/bin/bash
# Precision as a design dimension, end to end on the tiny conv net: `faasml calibrate
# --precision` writes entries under the precision key, `--accuracy` adds the accuracy entry
# measured against FP32, and `faasml plan` sweeps the precisions from those files and applies the
# spec's accuracy floor to the measured figures. Plus calibrate's usage and load errors.
set -euo pipefail
: "${FAASML:?}" "${FM_SOURCE_DIR:?}"
FX="$FM_SOURCE_DIR/tests/fixtures/infer"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
cd "$TMP"
cal=(--batch 1 --runs 5 --cold-runs 1 --max-seconds 5)

timeout 120 "$FAASML" quantize "$FX/conv_net.onnx" -o q.onnx --calib-random 16 >/dev/null
timeout 120 "$FAASML" calibrate --model m="$FX/conv_net.onnx" "${cal[@]}" -o fp32.yaml 2>/dev/null
timeout 120 "$FAASML" calibrate --precision int8 --model m=q.onnx --reference m="$FX/conv_net.onnx" \
    --accuracy 40 "${cal[@]}" -o int8.yaml 2>/dev/null
grep -q "precision: fp32, memory_mb: 1769, batch: 1," fp32.yaml || fail "fp32 entry: $(cat fp32.yaml)"
grep -q "precision: int8, memory_mb: 1769, batch: 1," int8.yaml || fail "int8 entry: $(cat int8.yaml)"
grep -q "^    precision: int8$" int8.yaml || fail "int8 cold-start entry: $(cat int8.yaml)"
grep -q "^accuracy:" fp32.yaml && fail "fp32 without --accuracy has an accuracy section"
acc=$(grep -A1 "^accuracy:" int8.yaml | tail -1)
cos=$(echo "$acc" | sed -n 's/.*cosine_min: \([-0-9.e]*\).*/\1/p')
samples=$(echo "$acc" | sed -n 's/.*samples: \([0-9]*\).*/\1/p')
[ "$samples" = 40 ] || fail "accuracy samples: $acc"
awk -v c="$cos" 'BEGIN { exit !(c > 0.9 && c < 1.0) }' || fail "int8 cosine $cos: $acc"

# plan sweeps both from the two files; a floor below int8's cosine keeps it, one above drops it
spec() {
    cat >spec.yaml <<Y
name: q
mode: sim
slo_ms: 10000
$1
calibration: [fp32.yaml, int8.yaml]
models: {m: {path: $FX/conv_net.onnx, int8_path: q.onnx}}
workloads: {w: {process: poisson, rate: 2, requests: 40}}
platforms: {lam: {profile: lambda, precision: [fp32, int8]}}
Y
}
spec "accuracy: {min_cosine: 0.5}"
out=$(timeout 120 "$FAASML" plan spec.yaml --json)
echo "$out" | grep -q '"run":"q/lam/int8/sim","platform":"lam","runtime":"faasml","precision":"int8"' \
    || fail "no int8 point: $out"
int8=$(echo "$out" | sed 's/},{"run"/}\n{"run"/g' | grep '"precision":"int8"')
echo "$int8" | grep -q "\"cosine_min\":$cos" || fail "plan's int8 cosine is not the calibration's $cos: $int8"
echo "$int8" | grep -q '"meets_accuracy":true' || fail "int8 fails a 0.5 floor: $int8"
spec "accuracy: {min_cosine: 1}"
out=$(timeout 120 "$FAASML" plan spec.yaml)
echo "$out" | grep "m lam faasml int8" | grep -q "below-accuracy" || fail "int8 not below a floor of 1: $out"
echo "$out" | grep -q "cheapest configuration meeting p99 <= 10000 ms and accuracy cosine >= 1: m lam faasml fp32" \
    || fail "the best under a floor of 1 is not fp32: $out"

# errors: usage (exit 2) and a float model labelled int8
rc=0; "$FAASML" calibrate --precision int4 --model m=q.onnx 2>err || rc=$?
[ "$rc" = 2 ] && grep -q "unknown --precision 'int4'" err || fail "int4: rc $rc: $(cat err)"
rc=0; "$FAASML" calibrate --precision int8 --accuracy 5 --model m=q.onnx 2>err || rc=$?
[ "$rc" = 2 ] && grep -q -- "needs --reference m=PATH" err || fail "no reference: rc $rc: $(cat err)"
rc=0; timeout 60 "$FAASML" calibrate --precision int8 --model m="$FX/conv_net.onnx" "${cal[@]}" 2>err || rc=$?
[ "$rc" = 2 ] && grep -q "has no quantization nodes" err || fail "float model as int8: rc $rc: $(cat err)"
rc=0; "$FAASML" calibrate --model m=q.onnx --reference m 2>err || rc=$?
[ "$rc" = 2 ] && grep -q "invalid --reference 'm'" err || fail "bad --reference: rc $rc: $(cat err)"

# live: an int8 cell deploys the model's int8_path at precision int8, its run records the
# precision, and calibrating from that run keys the entries by it
cat >live.yaml <<Y
name: ql
seed: 3
mode: live
slo_ms: 5000
results: $TMP/live.db
models: {m: {path: $FX/conv_net.onnx, int8_path: $TMP/q.onnx, input: x, shape: [1, 3, 16, 16]}}
workloads: {w: {process: constant, rate: 5, requests: 12}}
platforms: {lam: {profile: lambda, precision: [fp32, int8], policy: {inst: {keep_alive: 30s}}}}
Y
timeout 300 "$FAASML" bench live.yaml --no-html >bench.out 2>bench.err || fail "live bench: $(tail -5 bench.err)"
"$FAASML" db live.db --json >runs.json
[ "$(grep -c '"status":"done"' runs.json)" = 2 ] || fail "two complete live runs: $(cat runs.json)"
timeout 60 "$FAASML" calibrate --from-db live.db --run ql/lam/int8/live -o from-run.yaml 2>err \
    || fail "calibrate from the int8 run: $(cat err)"
grep -q "precision: int8, memory_mb: 1769, batch: 1," from-run.yaml || fail "from-run key: $(cat from-run.yaml)"
rm -f "$TMP/q-missing.onnx"
sed "s|int8_path: $TMP/q.onnx|int8_path: $TMP/q-missing.onnx|; s|name: ql|name: qm|" live.yaml >missing.yaml
rc=0; timeout 120 "$FAASML" bench missing.yaml --no-html >/dev/null 2>err || rc=$?
grep -q "q-missing.onnx' not found" err || fail "a missing int8_path is not named: rc $rc: $(tail -3 err)"
# the precision reaches the instance: a float file labelled int8 is refused by the function host
sed "s|int8_path: $TMP/q.onnx|int8_path: $FX/conv_net.onnx|; s|name: ql|name: qf|; s|live.db|float.db|; s|\[fp32, int8\]|int8|" \
    live.yaml >float.yaml
timeout 300 "$FAASML" bench float.yaml --no-html >/dev/null 2>&1 || true
grep -q "precision 'int8' needs a quantized model" float.db.platform.log \
    || fail "the int8 cell of a float file was not refused by its instances"

# the shipped example plans on the shipped calibration: every int8 point measured below its
# cosine floor of 0.99, and the choice is one that keeps it
cd "$FM_SOURCE_DIR"
out=$(timeout 300 "$FAASML" plan examples/precision.yaml --json)
echo "$out" | grep -q '"best":-1' && fail "examples/precision.yaml: no choice: $out"
pts=$(echo "$out" | sed 's/},{"run"/}\n{"run"/g')
[ "$(echo "$pts" | grep -c '"precision":"int8"')" = 4 ] || fail "example: not 4 int8 points: $out"
echo "$pts" | grep '"precision":"int8"' | grep -q '"meets_accuracy":true' && fail "example: int8 meets 0.99: $out"
best=$(echo "$out" | sed -n 's/.*"best":\([0-9]*\).*/\1/p')
echo "$pts" | sed -n "$((best + 1))p" | grep -q '"meets_accuracy":true' || fail "example: best breaks the floor"
echo ok
