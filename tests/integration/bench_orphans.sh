#!/usr/bin/env bash
# `faasml bench` owns the platform it starts: SIGKILL of the bench takes the platform and its
# instances with it within a second or two, and a rerun stops a stale platform still writing
# into the same results database.
set -euo pipefail
FAASML=${FAASML:?FAASML must name the faasml binary}
SRC=${FM_SOURCE_DIR:?FM_SOURCE_DIR must name the source tree}
T=$(mktemp -d /tmp/faasml-orphans.XXXXXX)
bench_pid=
cleanup() {
    [ -n "$bench_pid" ] && kill -9 "$bench_pid" 2>/dev/null || true
    for p in ${tree:-} ${stale:-}; do kill -9 "$p" 2>/dev/null || true; done
    rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$T/results.db.platform.log" ] && tail -20 "$T/results.db.platform.log" >&2; exit 1; }

# descendants PID: PID and every process below it
descendants() {
    local p=$1 c
    echo "$p"
    for c in $(pgrep -P "$p" || true); do descendants "$c"; done
}
alive() { local p n=0; for p in "$@"; do kill -0 "$p" 2>/dev/null && n=$((n + 1)); done; echo $n; }

spec() { # spec REQUESTS
cat > "$T/spec.yaml" <<YAML
name: orphans
seed: 3
mode: live
slo_ms: 2000
results: $T/results.db
models:
  convnet: {path: $SRC/tests/fixtures/infer/conv_net.onnx, input: x, shape: [1, 3, 16, 16]}
workloads:
  steady: {process: constant, rate: 5, requests: $1}
platforms:
  lambda: {profile: lambda, memory_mb: 512, provisioned: 1, policy: {inst: {keep_alive: 60s}}}
YAML
}

spec 400
"$FAASML" bench "$T/spec.yaml" >"$T/out1" 2>"$T/err1" &
bench_pid=$!
# instances PID...: how many of these processes are function instances ('faasml fn'). Not any
# child: at start the platform forks short-lived probes (user namespaces, the sandbox).
instances() {
    local p n=0
    for p in "$@"; do
        tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q ' fn ' && n=$((n + 1))
    done
    echo $n
}
# wait until the platform runs an instance for the bench (the provisioned one)
tree=
for _ in $(seq 300); do
    serve=$(pgrep -P "$bench_pid" || true)
    [ -n "$serve" ] && tree=$(descendants "$serve") && [ "$(instances $tree)" -ge 1 ] && break
    kill -0 "$bench_pid" 2>/dev/null || { cat "$T/err1" >&2; fail "bench exited early"; }
    sleep 0.1
done
[ -n "$serve" ] || fail "the bench started no platform"
[ "$(instances $tree)" -ge 1 ] || fail "the platform started no instance"
kill -9 "$bench_pid"
wait "$bench_pid" 2>/dev/null || true
bench_pid=
left=
for i in $(seq 30); do
    left=$(alive $tree)
    [ "$left" = 0 ] && break
    sleep 0.1
done
[ "$left" = 0 ] || { ps -o pid,ppid,pgid,cmd -p $(echo $tree | tr ' ' ,) >&2 || true; fail "$left of $(echo $tree | wc -w) platform processes outlived the bench by 3 s"; }
echo "ok - SIGKILL of the bench took its platform and instances (${i}00 ms)"

# a stale platform on the same database (as an older bench, killed, would leave) is stopped
"$FAASML" serve --listen 127.0.0.1:0 --db "$T/results.db.platform.db" >"$T/stale.out" 2>"$T/stale.err" &
stale=$!
for _ in $(seq 100); do [ -s "$T/stale.out" ] && break; sleep 0.1; done
echo "$stale" >"$T/results.db.platform.pid"
spec 5
timeout 120 "$FAASML" bench "$T/spec.yaml" --force >"$T/out2" 2>"$T/err2" || { cat "$T/err2" >&2; fail "rerun"; }
sleep 0.2
[ "$(alive $stale)" = 0 ] || fail "the stale platform still runs after a rerun"
grep -q "stopping a stale platform" "$T/err2" || fail "the rerun did not say it stopped a stale platform"
[ ! -e "$T/results.db.platform.pid" ] || fail "the pid file outlived the bench"
echo "ok - a rerun stops a stale platform"
