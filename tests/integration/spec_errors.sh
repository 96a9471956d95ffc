#!/usr/bin/env bash
# Bad simulation specs, calibration files and experiment specs: `faasml simulate`, `bench` and
# `plan` exit 2 with a message naming FILE:LINE:COL and the problem, and create no results.
set -euo pipefail
FAASML=$(readlink -f "${FAASML:-build/faasml}")
T=$(mktemp -d /tmp/fm_spec_errors_XXXXXX)
trap 'rm -rf "$T"' EXIT
cd "$T"
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

# expect CMD FILE MESSAGE: `faasml CMD FILE` exits 2 and its stderr holds MESSAGE
expect() {
    local cmd=$1 file=$2 msg=$3 rc=0
    local extra=()
    [ "$cmd" = simulate ] && extra=(--db "$T/out.db")
    timeout 30 "$FAASML" "$cmd" "$file" "${extra[@]}" >"$T/out" 2>"$T/err" || rc=$?
    [ "$rc" -eq 2 ] || fail "$cmd $file: exit $rc, expected 2: $(head -c 300 "$T/err")"
    grep -qF -- "$msg" "$T/err" || fail "$cmd $file: '$msg' not in: $(head -c 300 "$T/err")"
}

cat >calib.yaml <<'Y'
service:
  - {model: m, batch: 1, latency_ms: {p50: 10, p99: 12}}
cold_start:
  - {model: m, load_ms: 50}
Y
printf 'service:\n  - {model: m, batch: 1, latency_ms: {p50: 10, p99: 5}}\n' >calib-p99.yaml
printf 'service:\n  - {model: m, batch: 1, latency_ms: 1e308}\n' >calib-huge.yaml
printf 'service:\n  - {model: m, batch: 1, latency_ms: {quantiles: {0.9: 2, 0.5: 1}}}\n' >calib-q.yaml
fn='functions:\n  - {name: f, model: m, workload: {process: poisson, rate: 5, requests: 10}}\n'

# simulation specs
printf 'name: x\nseed: [1\n' >sim-syntax.yaml
expect simulate sim-syntax.yaml "sim-syntax.yaml:3:1: did not find expected ',' or ']'"
printf "name: x\nbogus: 1\ncalibration: calib.yaml\n$fn" >sim-key.yaml
expect simulate sim-key.yaml "sim-key.yaml:2:1: unknown key 'bogus'"
printf 'name: x\ncalibration: calib.yaml\nfunctions:\n  - {name: f, model: m, workload: {process: poisson, rate: -1, duration: 1s}}\n' >sim-rate.yaml
expect simulate sim-rate.yaml "sim-rate.yaml:4:35: rate is -1: must be > 0"
printf "name: x\ncalibration: nosuch.yaml\n$fn" >sim-nocal.yaml
expect simulate sim-nocal.yaml "sim-nocal.yaml:2:14: calibration: cannot open"
printf "name: x\ncalibration: calib-p99.yaml\n$fn" >sim-p99.yaml
expect simulate sim-p99.yaml "sim-p99.yaml:2:14: calibration: ./calib-p99.yaml:2:38: 'latency_ms': p99 5 is below p50 10"
printf "name: x\ncalibration: calib-huge.yaml\n$fn" >sim-huge.yaml
expect simulate sim-huge.yaml "calib-huge.yaml:2:38: 'latency_ms' must be a duration in ms in [0, 1e+09]"
printf "name: x\ncalibration: calib-q.yaml\n$fn" >sim-q.yaml
expect simulate sim-q.yaml "calib-q.yaml:2:59: quantiles must be increasing"
printf 'name: x\ncalibration: calib.yaml\nfunctions: []\n' >sim-nofn.yaml
expect simulate sim-nofn.yaml "sim-nofn.yaml:3:12: 'functions' must be a non-empty list"
printf 'name: x\ncalibration: calib.yaml\nfunctions:\n  - {name: f, model: m, workload: {process: constant, rate: 1, requests: 3}}\n  - {name: f, model: m, workload: {process: constant, rate: 1, requests: 3}}\n' >sim-dup.yaml
expect simulate sim-dup.yaml "sim-dup.yaml:5:5: duplicate function name 'f'"
printf "name: x\ncalibration: calib.yaml\nfunctions:\n  - {name: f, model: m, profile: nosuch, workload: {process: constant, rate: 1, requests: 3}}\n" >sim-prof.yaml
expect simulate sim-prof.yaml "sim-prof.yaml:4:34: unknown profile 'nosuch'"
printf "name: x\ncalibration: []\n$fn" >sim-nocal2.yaml
expect simulate sim-nocal2.yaml "sim-nocal2.yaml:2:14: 'calibration' must name at least one file"
printf 'name: x\ncalibration: calib.yaml\nfunctions:\n  - {name: f, model: nosuch, workload: {process: constant, rate: 1, requests: 3}}\n' >sim-model.yaml
expect simulate sim-model.yaml "sim-model.yaml:4:5: function 'f': no cold-start calibration for model 'nosuch'"
: >sim-empty.yaml
expect simulate sim-empty.yaml "empty simulation spec"
[ -e "$T/out.db" ] && fail "a bad simulation spec created a results database"

# experiment specs (bench and plan read the same parser)
printf 'name: x\nseed: [1\n' >exp-syntax.yaml
printf 'name: x\nbogus: 1\n' >exp-key.yaml
printf 'name: x\nmodels: {m: {}}\nworkloads: {w: {process: constant, rate: 0, requests: 3}}\nplatforms: {p: {profile: lambda}}\n' >exp-rate.yaml
printf 'name: x\nmodels: {m: {}}\nworkloads: {w: {process: constant, rate: 1, requests: 3}}\nplatforms: {p: {profile: lambda, memory_mb: [128, 99999]}}\n' >exp-mem.yaml
printf 'name: x\nmodels: {m: {}}\nworkloads: {w: {process: constant, rate: 1, requests: 3}}\nplatforms: {p: {profile: nosuch}}\n' >exp-prof.yaml
printf 'name: x\ncalibration: calib-p99.yaml\nmodels: {m: {}}\nworkloads: {w: {process: constant, rate: 1, requests: 3}}\nplatforms: {p: {profile: lambda}}\n' >exp-cal.yaml
printf 'name: x\nmodels: {}\nworkloads: {w: {process: constant, rate: 1, requests: 3}}\nplatforms: {p: {profile: lambda}}\n' >exp-empty.yaml
printf 'name: x\nmodels: {m: {}, m: {}}\nworkloads: {w: {process: constant, rate: 1, requests: 3}}\nplatforms: {p: {profile: lambda}}\n' >exp-dup.yaml
printf 'name: x\nmodels: {m: {}}\nworkloads: {w: {process: constant, rate: 1, requests: 3}}\nplatforms: {a/b: {profile: lambda}}\n' >exp-slash.yaml
printf 'name: %s\nmodels: {m: {}}\nworkloads: {w: {process: constant, rate: 1, requests: 3}}\nplatforms: {p: {profile: lambda}}\n' "$(printf 'n%.0s' $(seq 200))" >exp-long.yaml
printf 'name: x\nmodels: {m: {}}\nworkloads: {w: {process: constant, rate: 1, requests: 3}}\nplatforms: {p: {profile: lambda, provisioned: [0, 5], policy: {inst: {max: 2}}}}\n' >exp-cell.yaml
for cmd in bench plan; do
    expect $cmd exp-cell.yaml "exp-cell.yaml:4:12: run 'x/p/pc5/live': policy 'lambda': inst.provisioned must be 0..inst.max"
    expect $cmd exp-dup.yaml "exp-dup.yaml:2:17: duplicate name 'm' in 'models'"
    expect $cmd exp-slash.yaml "exp-slash.yaml:4:13: 'platforms' names must be non-empty strings without '/'"
    expect $cmd exp-long.yaml "exp-long.yaml:4:12: run name 'nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn...' is longer than 199 characters: shorten the names"
    expect $cmd exp-syntax.yaml "exp-syntax.yaml:3:1: did not find expected ',' or ']'"
    expect $cmd exp-key.yaml "exp-key.yaml:2:1: unknown key 'bogus'"
    expect $cmd exp-rate.yaml "exp-rate.yaml:3:16: rate is 0: must be > 0"
    expect $cmd exp-mem.yaml "exp-mem.yaml:4:51: 'memory_mb' values must be integers in [128, 10240]"
    expect $cmd exp-prof.yaml "exp-prof.yaml:4:26: unknown profile 'nosuch'"
    expect $cmd exp-cal.yaml "calib-p99.yaml:2:38: 'latency_ms': p99 5 is below p50 10"
    expect $cmd exp-empty.yaml "exp-empty.yaml:2:9: 'models' must map names to entries"
done
[ -e "$T/results" ] && fail "a bad experiment spec created results"

[ "$fails" -eq 0 ] || { echo "$fails failure(s)" >&2; exit 1; }
echo "spec errors: ok"
