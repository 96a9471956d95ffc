#!/usr/bin/env bash
# The main job end to end on a tiny model: calibrate, then `faasml bench` on a spec with live and
# simulated cells, the report, re-running (complete runs are skipped), and `faasml plan` twice
# giving the same answer.
set -euo pipefail
FAASML=${FAASML:?FAASML must name the faasml binary}
SRC=${FM_SOURCE_DIR:?FM_SOURCE_DIR must name the source tree}
T=$(mktemp -d /tmp/faasml-bench.XXXXXX)
trap 'pkill -P $$ 2>/dev/null || true; rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$T/results.db.platform.log" ] && tail -30 "$T/results.db.platform.log" >&2; exit 1; }
ok() { echo "ok - $*"; }

MODEL=$SRC/tests/fixtures/infer/conv_net.onnx
"$FAASML" calibrate -m convnet="$MODEL" -b 1,4 --runs 5 --cold-runs 2 -o "$T/cal.yaml" 2>/dev/null \
    || fail "calibrate"
grep -q "model: convnet" "$T/cal.yaml" || fail "calibration names the model"
ok "calibrate"

cat > "$T/spec.yaml" <<YAML
name: tiny
seed: 11
mode: both
slo_ms: 2000
results: $T/results.db
report: $T/report
calibration: $T/cal.yaml
simulation: {host: cloud, scale: 3}
models:
  convnet: {path: $MODEL, input: x, shape: [1, 3, 16, 16]}
workloads:
  steady: {process: constant, rate: 10, requests: 20}
platforms:
  lambda: {profile: lambda, memory_mb: 1769, policy: {inst: {keep_alive: 30s}}}
  fleet: {profile: server, instances: 1, modes: sim, policy: {inst: {workers: 2}}}
YAML

"$FAASML" bench "$T/spec.yaml" > "$T/out1" 2> "$T/err1" || { cat "$T/err1" >&2; fail "bench"; }
grep -q "tiny/lambda/live" "$T/out1" || fail "table lists the live run"
grep -q "tiny/lambda/sim" "$T/out1" || fail "table lists the simulated run"
grep -q "tiny/fleet/sim" "$T/out1" || fail "table lists the server run"
[ -s "$T/report/index.html" ] || fail "HTML report written"
ok "bench live and sim, report"

"$FAASML" db "$T/results.db" --json > "$T/runs"
[ "$(grep -c '"status":"done"' "$T/runs")" = 3 ] || { cat "$T/runs" >&2; fail "three complete runs"; }
live_id=$(grep '"name":"tiny/lambda/live"' "$T/runs" | sed 's/.*"id":\([0-9]*\).*/\1/')
n_live=$("$FAASML" db "$T/results.db" --csv requests --run "$live_id" | tail -n +2 | wc -l)
[ "$n_live" = 20 ] || fail "live run recorded 20 requests, not $n_live"
ok_live=$("$FAASML" db "$T/results.db" --csv requests --run "$live_id" | grep -c ',ok,200,' || true)
[ "$ok_live" = 20 ] || fail "every live request answered 200 ($ok_live)"
with_inst=$("$FAASML" db "$T/results.db" --csv requests --run "$live_id" | grep -cE ',ok,200,,[01],[0-9]+,' || true)
[ "$with_inst" = 20 ] || fail "every live request records the instance that served it ($with_inst)"
n_inst=$("$FAASML" db "$T/results.db" --csv instances --run "$live_id" | tail -n +2 | wc -l)
[ "$n_inst" -ge 1 ] || fail "the platform's instances joined the live run"
sim_id=$(grep '"name":"tiny/lambda/sim"' "$T/runs" | sed 's/.*"id":\([0-9]*\).*/\1/')
n_sim=$("$FAASML" db "$T/results.db" --csv requests --run "$sim_id" | tail -n +2 | wc -l)
[ "$n_sim" = 60 ] || fail "simulated run at scale 3 recorded 60 requests, not $n_sim"
ok "records: 20 live requests, $n_inst instance(s), 60 simulated requests"

# The live run's function is named after the run, and its instance log is found from the results.
"$FAASML" logs tiny-lambda-live --db "$T/results.db" > "$T/logs" 2> "$T/logs.err" \
    || fail "faasml logs tiny-lambda-live --db: $(cat "$T/logs.err")"
n_report=$(grep -c '^[0-9T:.-]*Z tiny-lambda-live\[[0-9]*\] REPORT RequestId: ' "$T/logs" || true)
[ "$n_report" = 20 ] || fail "the live run's log holds $n_report REPORT lines, not 20"
grep -q 'bench-[0-9]' "$T/results.db.platform.log" && fail "a function is still named after a pid"
ok "bench names its function after the run; faasml logs finds its 20 REPORT lines"

"$FAASML" calibrate --from-db "$T/results.db" --run tiny/lambda/live -o "$T/from-run.yaml" \
    || fail "calibrate from the live run"
grep -q "model: convnet, runtime: faasml, device: cpu, precision: fp32, memory_mb: 1769, batch: 1" \
    "$T/from-run.yaml" || fail "calibration from the run has the warm service time"
grep -q "spawn_ms:" "$T/from-run.yaml" || fail "calibration from the run has cold-start phases"
ok "calibrate from a recorded live run"

"$FAASML" bench "$T/spec.yaml" --no-html > "$T/out2" 2> "$T/err2" || fail "second bench"
[ "$(grep -c '] skip ' "$T/err2")" = 3 ] || { cat "$T/err2" >&2; fail "re-run skips complete runs"; }
ok "re-run skips complete runs"

"$FAASML" plan "$T/spec.yaml" --json > "$T/plan1" || fail "plan"
"$FAASML" plan "$T/spec.yaml" --json > "$T/plan2" || fail "plan again"
cmp -s "$T/plan1" "$T/plan2" || fail "plan gives the same answer twice"
grep -q '"best":' "$T/plan1" || fail "plan names a best configuration"
ok "plan is deterministic"

# payload: binary sends the same tensor as KServe v2's binary extension on /v2/models/NAME/infer;
# the Tail log still comes back, so the requests record billing and the instance as before (a
# binary body on the Invoke route would be refused as not JSON, a v2 JSON reader would refuse it)
sed -e 's/shape: \[1, 3, 16, 16\]}/shape: [1, 3, 16, 16], payload: binary}/' -e 's/^name: tiny/name: tinybin/' \
    -e "s#results: .*#results: $T/bin.db#" -e 's/^mode: both/mode: live/' "$T/spec.yaml" > "$T/bin.yaml"
grep -q 'payload: binary' "$T/bin.yaml" || fail "the binary spec was not written"
"$FAASML" bench "$T/bin.yaml" --no-html > "$T/outb" 2> "$T/errb" || { cat "$T/errb" >&2; fail "bench, binary payload"; }
bin_reqs=$("$FAASML" db "$T/bin.db" --csv requests --run tinybin/lambda/live | tail -n +2)
[ "$(grep -cE ',ok,200,,[01],[0-9]+,' <<<"$bin_reqs")" = 20 ] \
    || { echo "$bin_reqs" | head -3 >&2; fail "20 binary requests answered 200 with their instance"; }
header=$("$FAASML" db "$T/bin.db" --csv requests --run tinybin/lambda/live | head -1)
col=$(tr ',' '\n' <<<"$header" | grep -nx 'billed_ms' | cut -d: -f1)
[ -n "$col" ] || fail "requests CSV has no billed_ms column: $header"
billed=$(cut -d, -f"$col" <<<"$bin_reqs" | awk '$1 > 0' | wc -l)
[ "$billed" = 20 ] || fail "every binary request records its billed duration ($billed of 20)"
sed 's/payload: binary}/payload: protobuf}/' "$T/bin.yaml" > "$T/badpl.yaml"
if "$FAASML" bench "$T/badpl.yaml" --no-html > /dev/null 2> "$T/badpl.err"; then fail "payload: protobuf accepted"; fi
grep -q "payload must be json or binary, got 'protobuf'" "$T/badpl.err" || fail "bad payload: $(cat "$T/badpl.err")"
ok "payload: binary (20 v2 binary requests, billed and attributed); a bad payload is named"

# a bad spec is a usage error naming the key
sed 's/memory_mb: 1769/memroy_mb: 1769/' "$T/spec.yaml" > "$T/bad.yaml"
set +e
"$FAASML" bench "$T/bad.yaml" > /dev/null 2> "$T/bad.err"
rc=$?
set -e
[ "$rc" = 2 ] || fail "bad spec exits 2, not $rc"
grep -q "unknown key 'memroy_mb'" "$T/bad.err" || fail "bad spec names the key"
ok "bad spec"
echo "bench_tiny: all passed"
