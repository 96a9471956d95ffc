#!/usr/bin/env bash
# The terminal report: fits 100 columns by default (and --costs with it), --wide gives the wide
# tables; the SLO is stated once; a missing interval and a simulated run's dispatch error are
# words, not blanks or 0.000; runs are compared only within their workload unless --baseline
# names one, and then a different workload is marked; bad input exits 2 naming the problem.
set -euo pipefail
FAASML=${FAASML:?FAASML must name the faasml binary}
SRC=${FM_SOURCE_DIR:?FM_SOURCE_DIR must name the source tree}
T=$(mktemp -d /tmp/faasml-report-text.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok - $*"; }
widest() { awk '{ if (length($0) > w) w = length($0) } END { print w + 0 }' "$1"; }

# Simulated runs only (seconds): two workloads, two platforms each.
cat > "$T/spec.yaml" <<YAML
name: rt
seed: 5
mode: sim
slo_ms: 250
results: $T/r.db
calibration: $SRC/tests/fixtures/sim/calib-cpu.yaml
simulation: {host: cloud, scale: 1}
models:
  mobilenetv2: {path: /nonexistent/model.onnx}
workloads:
  steady: {process: constant, rate: 5, requests: 40}
  busy: {process: poisson, rate: 50, requests: 400}
platforms:
  lambda: {profile: lambda, memory_mb: 1769}
  server: {profile: server, instances: 1, platform: ec2-c5-xlarge, policy: {inst: {workers: 2}}}
YAML
"$FAASML" bench "$T/spec.yaml" --no-html > /dev/null 2> "$T/bench.err" || {
    cat "$T/bench.err" >&2
    fail "bench of the simulated spec"
}
n_runs=$("$FAASML" db "$T/r.db" --json | grep -c '"status":"done"')
[ "$n_runs" = 4 ] || fail "four runs recorded, not $n_runs"

"$FAASML" report "$T/r.db" > "$T/table" || fail "report"
w=$(widest "$T/table")
[ "$w" -le 100 ] || { cat "$T/table" >&2; fail "default report is $w columns wide (at most 100)"; }
ok "default report fits 100 columns ($w)"

"$FAASML" report "$T/r.db" --costs > "$T/costs" || fail "report --costs"
w=$(widest "$T/costs")
[ "$w" -le 100 ] || fail "report --costs is $w columns wide"
grep -q "aws-lambda-x86" "$T/costs" || fail "--costs lists the catalogue entries"
grep -q "aws-lambda-x86" "$T/table" && fail "the per-offer cost table is printed without --costs"
grep -q -- "--costs" "$T/table" || fail "the default report says how to get the cost table"
ok "--costs: per-offer table on request, within 100 columns ($w)"

"$FAASML" report "$T/r.db" --wide > "$T/wide" || fail "report --wide"
[ "$(widest "$T/wide")" -gt 100 ] || fail "--wide gives the wide table"
grep -q "cold starts" "$T/wide" || fail "--wide has the wide table's columns"
ok "--wide"

[ "$(grep -c '^SLO' "$T/table")" = 1 ] || fail "the SLO is stated once"
grep -q "^SLO: 250 ms for every run" "$T/table" || fail "the SLO line names the SLO"
grep -q "load/s" "$T/table" || fail "the summary shows the offered load"
grep -q "simulated: sent on schedule" "$T/table" || fail "simulated dispatch error is words"
grep -Eq '(^| )0\.000( |$)' "$T/table" && fail "a bare 0.000 in the report"
grep -q "cover the sampling of that simulation only" "$T/table" \
    || fail "simulated intervals say what they cover"
grep -q "too few samples" "$T/table" || fail "p99 of 40 requests has no interval, in words"
ok "SLO once, offered load, words for missing intervals and simulated dispatch"

# Comparisons: within a workload only (two groups of two), none across workloads.
[ "$(grep -c '^compared with' "$T/table")" = 2 ] || {
    cat "$T/table" >&2
    fail "one comparison per workload"
}
grep -q "different workload" "$T/table" && fail "runs of different workloads compared unmarked"
"$FAASML" report "$T/r.db" --baseline rt/steady/lambda/sim > "$T/base" || fail "report --baseline"
[ "$(grep -c '^compared with' "$T/base")" = 1 ] || fail "--baseline: one comparison block"
[ "$(grep -c 'different workload' "$T/base")" = 2 ] || {
    cat "$T/base" >&2
    fail "--baseline marks the two runs of the other workload"
}
set +e
"$FAASML" report "$T/r.db" --baseline nosuch > /dev/null 2> "$T/err"
rc=$?
set -e
[ "$rc" = 2 ] && grep -q "baseline 'nosuch' is not one of the reported runs" "$T/err" \
    || fail "unknown baseline: exit 2 with a message ($rc: $(cat "$T/err"))"
ok "comparisons within a workload; --baseline marks other workloads"

"$FAASML" report "$T/r.db" --json > "$T/json" || fail "report --json"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d["runs"]) == 4' "$T/json" \
    || fail "report --json is the JSON report"
set +e
"$FAASML" report "$T/nosuch.db" 2> "$T/err"
rc=$?
set -e
[ "$rc" = 2 ] && grep -q "no such file '$T/nosuch.db'" "$T/err" || fail "missing database: $rc $(cat "$T/err")"
ok "--json; a missing database exits 2 'no such file'"
