#!/usr/bin/env bash
# faasml serve enforces memory_mb: a function that allocates past its memory is killed and
# answered Runtime.OutOfMemory (cgroup limit) or fails its allocation (RLIMIT_AS fallback), and the
# platform keeps serving. Also checks that `serve` reports which enforcement is active.
source "$FM_SOURCE_DIR/tests/fixtures/platform/lib.sh"

check() { # $1: label for the enforcement in use
    write_spec small echo "memory_mb: 128" "timeout_s: 20"
    deploy small
    code=$(invoke small '{"op":"alloc","mb":16}')
    expect_eq "$code" 200 "$1: small allocation"
    expect_contains "$(body)" '"allocated_mb"' "$1: small allocation body"
    code=$(invoke small '{"op":"alloc","mb":400}')
    expect_eq "$code" 200 "$1: allocation past the limit"
    expect_eq "$(hdr X-Amz-Function-Error)" Unhandled "$1: function error header"
    case "$1" in
    cgroup) expect_contains "$(body)" "Runtime.OutOfMemory" "$1: error type" ;;
    *) expect_contains "$(body)" "Runtime.ExitError" "$1: error type" ;;
    esac
    code=$(invoke small '{"after":"oom"}')
    expect_eq "$code" 200 "$1: served after the kill"
}

start_serve
enforcement=$(sed -n 's/^faasml serve: memory\/CPU enforcement: //p' "$TMP/serve.err")
[ -n "$enforcement" ] || fail "serve did not report its memory enforcement"
echo "# enforcement: $enforcement"
case "$enforcement" in
cgroup*)
    check cgroup
    expect_eq "$(metric 'faasml_oom_kills_total{function="small"}')" 1 "oom counted"
    ok "cgroup memory limit -> Runtime.OutOfMemory"
    ;;
*) echo "# cgroups are not writable here: the cgroup case is skipped (RLIMIT_AS below)" ;;
esac
kill -TERM "$SERVE_PID"
wait "$SERVE_PID" || true
SERVE_PID=

start_serve --no-cgroups
expect_contains "$(cat "$TMP/serve.err")" "RLIMIT_AS" "--no-cgroups reports the fallback"
check rlimit
ok "RLIMIT_AS fallback -> the allocation fails, Runtime.ExitError"
