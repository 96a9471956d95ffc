#!/usr/bin/env bash
# faasml logs: an echo function invoked twice shows both START/END/REPORT triples, read through
# the running platform, the results database and the log directory alike; --since filters by the
# lines' stamps; --follow prints a line written after it started; a function that does not exist
# is exit 2; a log on stderr redirected to a file is found; one on a pipe is named as unreadable.
source "$FM_SOURCE_DIR/tests/fixtures/platform/lib.sh"

mkdir -p "$TMP/logs"
start_serve --db "$TMP/results.db" --log-dir "$TMP/logs"
write_spec echo echo "memory_mb: 256" "timeout_s: 5"
deploy echo

expect_eq "$(invoke echo '{"n":1}')" 200 "first invoke"
rid1=$(hdr x-amzn-RequestId)
sleep 0.3 # the platform flushes its log every 100 ms
mid=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
sleep 0.3
expect_eq "$(invoke echo '{"n":2}')" 200 "second invoke"
rid2=$(hdr x-amzn-RequestId)
[ -n "$rid1" ] && [ -n "$rid2" ] && [ "$rid1" != "$rid2" ] || fail "request ids '$rid1' '$rid2'"

# wait_lines FILE PATTERN COUNT: until FILE has COUNT lines matching PATTERN (5 s at most)
wait_lines() {
    for _ in $(seq 50); do
        [ "$(grep -c -- "$2" "$1" 2>/dev/null || true)" -ge "$3" ] && return 0
        sleep 0.1
    done
    fail "$1 has no $3 lines matching '$2': $(cat "$1" 2>/dev/null | head -20)"
}
wait_lines "$TMP/logs/instances.log" "REPORT RequestId: $rid2" 1

# check_triples FILE RID...: START, END, REPORT of each request in order, each line stamped and
# named echo[N]
check_triples() {
    local f=$1
    shift
    python3 - "$f" "$@" <<'PY' || fail "triples in $f: $(cat "$f")"
import re, sys
lines = open(sys.argv[1]).read().splitlines()
stamp = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z echo\[\d+\] ")
for l in lines:
    assert stamp.match(l), f"unstamped or foreign line: {l!r}"
for rid in sys.argv[2:]:
    want = [f"START RequestId: {rid} Version: $LATEST", f"END RequestId: {rid}",
            f"REPORT RequestId: {rid}\tDuration: "]
    at = [next((i for i, l in enumerate(lines) if w in l), -1) for w in want]
    assert -1 not in at and at == sorted(at), f"{rid}: positions {at}"
PY
}

"$FAASML" logs echo --gateway "$URL" >"$TMP/gw.out" 2>"$TMP/gw.err" || fail "logs via gateway: $(cat "$TMP/gw.err")"
check_triples "$TMP/gw.out" "$rid1" "$rid2"
expect_eq "$(grep -c 'REPORT RequestId' "$TMP/gw.out")" 2 "two REPORT lines"
expect_contains "$(grep "REPORT RequestId: $rid1" "$TMP/gw.out")" "Init Duration" "cold REPORT"
expect_not_contains "$(grep "REPORT RequestId: $rid2" "$TMP/gw.out")" "Init Duration" "warm REPORT"
ok "logs NAME (through the running platform): both START/END/REPORT triples"

"$FAASML" logs echo --log-dir "$TMP/logs" >"$TMP/dir.out" || fail "logs --log-dir"
cmp -s "$TMP/gw.out" "$TMP/dir.out" || fail "--log-dir differs from the gateway's answer"
"$FAASML" logs echo --db "$TMP/results.db" >"$TMP/db.out" 2>"$TMP/db.err" || fail "logs --db: $(cat "$TMP/db.err")"
cmp -s "$TMP/gw.out" "$TMP/db.out" || fail "--db differs from the gateway's answer"
ok "logs --log-dir and --db read the same lines"

"$FAASML" logs echo --gateway "$URL" --since "$mid" >"$TMP/since.out" || fail "--since TIME"
check_triples "$TMP/since.out" "$rid2"
expect_not_contains "$(cat "$TMP/since.out")" "$rid1" "--since TIME drops the first request"
"$FAASML" logs echo --gateway "$URL" --since 1h >"$TMP/since1h.out" || fail "--since 1h"
cmp -s "$TMP/gw.out" "$TMP/since1h.out" || fail "--since 1h dropped lines"
"$FAASML" logs echo --gateway "$URL" --since 2099-01-01T00:00:00Z >"$TMP/future.out" || fail "--since future"
[ ! -s "$TMP/future.out" ] || fail "--since in the future printed $(cat "$TMP/future.out")"
set +e
"$FAASML" logs echo --gateway "$URL" --since yesterday 2>"$TMP/bad.err"
rc=$?
set -e
expect_eq "$rc" 2 "--since yesterday exit"
expect_contains "$(cat "$TMP/bad.err")" "--since takes a duration (10m) or a time" "--since error"
ok "--since TIME, --since DUR and a bad --since"

set +e
"$FAASML" logs nosuch --gateway "$URL" 2>"$TMP/nf.err"
rc1=$?
"$FAASML" logs nosuch --log-dir "$TMP/logs" 2>"$TMP/nf2.err"
rc2=$?
"$FAASML" logs echo --log-dir "$TMP/nothere" 2>"$TMP/nf3.err"
rc3=$?
"$FAASML" logs echo --db "$TMP/typo.db" 2>"$TMP/nf4.err"
rc4=$?
set -e
expect_eq "$rc1" 2 "unknown function (gateway) exit"
expect_contains "$(cat "$TMP/nf.err")" "faasml logs: no function 'nosuch' on $URL" "unknown function message"
expect_eq "$rc2" 2 "unknown function (file) exit"
expect_contains "$(cat "$TMP/nf2.err")" "no function 'nosuch' in '$TMP/logs/instances.log'" "unknown function in file"
expect_eq "$rc3" 2 "missing log dir exit"
expect_contains "$(cat "$TMP/nf3.err")" "no such file '$TMP/nothere/instances.log'" "missing log dir message"
expect_eq "$rc4" 2 "missing database exit"
expect_contains "$(cat "$TMP/nf4.err")" "no such file '$TMP/typo.db'" "missing database message"
[ ! -e "$TMP/typo.db" ] || fail "logs --db created a database"
ok "a function or file that does not exist is exit 2, named"

"$FAASML" logs echo --follow --since 0s --log-dir "$TMP/logs" >"$TMP/follow.out" 2>"$TMP/follow.err" &
fpid=$!
sleep 0.5
expect_eq "$(invoke echo '{"n":3}')" 200 "third invoke"
rid3=$(hdr x-amzn-RequestId)
wait_lines "$TMP/follow.out" "REPORT RequestId: $rid3" 1
kill -INT "$fpid"
wait "$fpid" || fail "logs --follow exited $? on SIGINT"
check_triples "$TMP/follow.out" "$rid3"
expect_not_contains "$(cat "$TMP/follow.out")" "$rid1" "--follow --since 0s printed an old line"
ok "--follow prints lines written after it started, ends on SIGINT"

# Without --log-dir the lines go to serve's stderr; here that is a file, which the platform names.
start_serve
deploy echo
expect_eq "$(invoke echo '{"n":4}')" 200 "invoke (stderr log)"
rid4=$(hdr x-amzn-RequestId)
wait_lines "$TMP/serve.err" "REPORT RequestId: $rid4" 1
"$FAASML" logs echo --gateway "$URL" >"$TMP/err.out" 2>"$TMP/err.err" || fail "logs from stderr: $(cat "$TMP/err.err")"
check_triples "$TMP/err.out" "$rid4"
ok "a log on serve's stderr redirected to a file is found through the platform"

# stderr on a pipe: nothing to read, and the message says how to get a file
kill -TERM "$SERVE_PID"
wait "$SERVE_PID" 2>/dev/null || true
"$FAASML" serve --listen 127.0.0.1:0 >"$TMP/serve.out" 2> >(cat >"$TMP/serve_pipe.err") &
SERVE_PID=$!
for _ in $(seq 200); do grep -q '^listening on ' "$TMP/serve.out" 2>/dev/null && break; sleep 0.05; done
URL=$(sed -n 's/^listening on //p' "$TMP/serve.out" | head -1)
[ -n "$URL" ] || fail "serve with a piped stderr did not start"
deploy echo
set +e
"$FAASML" logs echo --gateway "$URL" 2>"$TMP/pipe.msg"
rc=$?
set -e
expect_eq "$rc" 1 "logs of a platform logging to a pipe"
expect_contains "$(cat "$TMP/pipe.msg")" "writes instance logs to a terminal or pipe, not a file: start it with --log-dir DIR" "pipe message"
ok "a log on a pipe is named as unreadable, with the way to a file"
