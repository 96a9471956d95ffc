#!/usr/bin/env bash
# A hostile custom runtime in `isolation: sandbox` tries every escape of docs/security.md's threat
# model, one by one; each must fail, and the platform keeps serving another function. Then: a
# runtime that daemonizes leaves nothing behind once its instance stops (process isolation: the
# cgroup kill), and where the kernel refuses the sandbox, serve says so at start-up and in
# /metrics and falls back only as configured.
source "$FM_SOURCE_DIR/tests/fixtures/platform/lib.sh"
command -v unshare >/dev/null || { echo "# unshare missing"; exit 77; }

start_serve --db "$TMP/results.db" --pids-max 64 --keep-alive 2s
iso=$(sed -n 's/^faasml serve: isolation: //p' "$TMP/serve.err")
echo "# isolation: $iso"
case "$iso" in
sandbox*) ;;
*) echo "# the kernel refuses the sandbox here: skipped"; exit 77 ;;
esac
expect_contains "$(curl -sS "$URL/metrics")" 'faasml_isolation_info{isolation="sandbox"' \
    "/metrics names the isolation"
GW_PORT=${URL##*:}
MARK="victim-secret-$RANDOM$RANDOM"
write_spec victim echo "environment:" "  GREETING: \"$MARK\""
write_spec hostile hostile "code_dir: $RT/hostile" "memory_mb: 128" "timeout_s: 30" "environment:" \
    "  FM_PLATFORM_PID: \"$SERVE_PID\"" "  FM_GATEWAY_PORT: \"$GW_PORT\"" \
    "  FM_DB: \"$TMP/results.db\"" "  FM_SECRET_MARK: \"$(echo "$MARK" | rev)\""
deploy victim
deploy hostile
code=$(invoke victim '{"warm":1}')
expect_eq "$code" 200 "victim is up (its secret is in an instance's environment)"
code=$(invoke hostile '{"op":"escape"}')
expect_eq "$code" 200 "hostile runtime answered"
[ -z "$(hdr X-Amz-Function-Error)" ] || fail "hostile runtime failed: $(body)"
cat "$TMP/body"; echo
res() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$TMP/body" "$1"; }
blocked() { # $1 attempt, $2 expected reason (a prefix)
    local r
    r=$(res "$1")
    case "$r" in
    "blocked: $2"*) ok "$1: $r" ;;
    *) fail "$1: expected 'blocked: $2', got '$r'" ;;
    esac
}
blocked read_etc_shadow EACCES
blocked open_results_db ENOENT
blocked read_platform_environ ENOENT
blocked write_etc EROFS
blocked write_root E          # EROFS or EACCES: /root is not even in the sandbox's root
blocked write_code_dir EROFS
expect_eq "$(res write_tmp)" allowed "write_tmp: /tmp is the instance's own tmpfs"
blocked signal_platform ESRCH
blocked signal_host_init ESRCH
blocked read_other_environ ENOENT
blocked read_platform_mem ENOENT
blocked connect_gateway ECONNREFUSED
blocked outbound_socket ENETUNREACH
blocked fork_past_pids_max EAGAIN
blocked ptrace EPERM
blocked mount EPERM
blocked load_kernel_module EPERM
blocked raw_socket EPERM
blocked packet_socket E       # ENOSYS (seccomp) or EPERM
blocked write_cgroup_limits ENOENT
blocked new_user_namespace EPERM
blocked capabilities EPERM    # CapEff 0
blocked uid EPERM             # an unprivileged uid
code=$(invoke hostile '{"op":"alloc","mb":400}')
expect_eq "$code" 200 "allocation past memory_mb answered"
expect_contains "$(body)" '"alloc": "blocked: ' "alloc: allocating past memory_mb fails"
ok "alloc: $(body)"
code=$(invoke victim '{"after":"hostile"}')
expect_eq "$code" 200 "the platform still serves the victim"
expect_eq "$(body)" '{"after":"hostile"}' "victim body"
ok "the platform keeps serving other functions"

# A runtime that daemonizes (fork, setsid, exec sleep): once its instance stops, nothing is left,
# in both isolation levels (process: the cgroup is killed; sandbox: also its pid namespace).
for iso in process sandbox; do
    write_spec "d$iso" hostile "isolation: $iso" "keep_alive: 2s" "environment:" \
        "  FM_PLATFORM_PID: \"1\"" "  FM_GATEWAY_PORT: \"1\"" "  FM_DB: \"/x\"" \
        "  FM_SECRET_MARK: \"x\""
    deploy "d$iso"
    code=$(invoke "d$iso" '{"op":"daemon"}')
    expect_eq "$code" 200 "$iso: daemon started"
    expect_contains "$(body)" "daemon started" "$iso: daemon body"
    for _ in $(seq 50); do pgrep -f 'sleep 31337.25' >/dev/null && break; sleep 0.02; done
    pgrep -f 'sleep 31337.25' >/dev/null || fail "$iso: the daemon is not running: $(body)"
    for _ in $(seq 100); do pgrep -f 'sleep 31337.25' >/dev/null || break; sleep 0.1; done
    if pgrep -f 'sleep 31337.25' >/dev/null; then fail "$iso: the daemon outlived its instance"; fi
    ok "$iso: a daemonized child dies with its instance"
done

# A spec that asks for what is not built is refused by name.
write_spec req echo "isolation: request"
if "$FAASML" deploy "$TMP/req.yaml" --gateway "$URL" 2>"$TMP/req.err"; then
    fail "isolation: request was accepted"
fi
expect_contains "$(cat "$TMP/req.err")" "'request' is not built yet" "isolation: request refused"
ok "isolation: request is refused by name"
kill -TERM "$SERVE_PID"
wait "$SERVE_PID" || true
SERVE_PID=
expect_not_contains "$(cat "$TMP/serve.err")" "not empty" "shutdown finds every cgroup empty"
ok "shutdown: every instance cgroup was empty"

# Where the kernel refuses: a user namespace that allows no nested one (and maps only root).
cat >"$TMP/refusing" <<EOS
#!/bin/sh
exec unshare --user --map-root-user sh -c 'echo 0 > /proc/sys/user/max_user_namespaces && exec "\$0" "\$@"' "$FAASML" "\$@"
EOS
chmod +x "$TMP/refusing"
REAL=$FAASML
FAASML=$TMP/refusing
start_serve
iso=$(sed -n 's/^faasml serve: isolation: //p' "$TMP/serve.err")
expect_contains "$iso" "process (the kernel refused the sandbox at" "fallback named at start-up"
expect_contains "$iso" "fall back to process isolation, as configured" "fallback is the configured one"
expect_contains "$(curl -sS "$URL/metrics")" 'faasml_isolation_info{isolation="process"' \
    "/metrics names the fallback"
FAASML=$REAL
write_spec fb echo
deploy fb
code=$(invoke fb '{"fallback":1}')
expect_eq "$code" 200 "a default function runs as a process"
write_spec strict echo "isolation: sandbox"
deploy strict
code=$(invoke strict '{}')
expect_contains "$(body)" "isolation 'sandbox' is not available here" "an explicit sandbox never falls back"
ok "fallback: '$iso'"
kill -TERM "$SERVE_PID"
wait "$SERVE_PID" || true
SERVE_PID=
FAASML=$TMP/refusing
start_serve --sandbox-fallback refuse
FAASML=$REAL
expect_contains "$(sed -n 's/^faasml serve: isolation: //p' "$TMP/serve.err")" \
    "sandboxed instances are refused, as configured" "--sandbox-fallback refuse named"
write_spec fb2 echo
deploy fb2
code=$(invoke fb2 '{}')
expect_contains "$(body)" "not available here" "--sandbox-fallback refuse: the default is refused"
ok "--sandbox-fallback refuse refuses"
kill -TERM "$SERVE_PID"
wait "$SERVE_PID" || true
SERVE_PID=

# The operator confines bootstraps to directories they control.
start_serve --allow-bootstrap "$RT/echo"
write_spec inside echo
deploy inside
write_spec outside hostile
if "$FAASML" deploy "$TMP/outside.yaml" --gateway "$URL" 2>"$TMP/out.err"; then
    fail "a bootstrap outside --allow-bootstrap was deployed"
fi
expect_contains "$(cat "$TMP/out.err")" "is outside the directories the operator allows" \
    "bootstrap outside the allowed dirs refused"
ln -s "$RT/hostile/bootstrap" "$TMP/sneaky"
printf 'name: sneaky\nruntime: custom\nbootstrap: %s\n' "$RT/echo/../hostile/bootstrap" \
    >"$TMP/sneaky.yaml"
if "$FAASML" deploy "$TMP/sneaky.yaml" --gateway "$URL" 2>/dev/null; then
    fail "a bootstrap reaching outside through '..' was deployed"
fi
ok "--allow-bootstrap: inside deployed, outside (and ../) refused"
