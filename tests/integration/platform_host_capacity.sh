#!/usr/bin/env bash
# Admission against the host: with host_capacity 384 MB and 128 MB instances, three instances run
# at once; the fourth start (of either function: the host is shared) is refused with 429
# TooManyRequestsException, Reason HostCapacityExceeded, counted by reason in
# faasml_throttles_total and recorded as a throttled requests row, while the platform keeps
# answering /metrics and the running invocations, and serves again once memory is free.
source "$FM_SOURCE_DIR/tests/fixtures/platform/lib.sh"

printf '%s\n' "host_capacity: {memory_mb: 384, reserve_mb: 0, overcommit: 1.0}" >"$TMP/platform.yaml"
start_serve --config "$TMP/platform.yaml" --db "$TMP/run.db"
grep -q "host capacity 384 MB" "$TMP/serve.err" || fail "the start-up log does not report the capacity"
write_spec e echo "memory_mb: 128" "keep_alive: 3s" "timeout_s: 20"
write_spec other echo "memory_mb: 128"
deploy e
deploy other

pids=()
for i in 1 2 3; do
    curl -sS --max-time 40 -o "$TMP/slow$i.body" -w '%{http_code}' -X POST \
        "$URL/2015-03-31/functions/e/invocations" --data-binary '{"op":"sleep","s":6}' \
        >"$TMP/slow$i.code" &
    pids+=($!)
done
for _ in $(seq 600); do
    [ "$(metric 'faasml_instances{function="e",state="busy"}')" = 3 ] && break
    sleep 0.05
done
expect_eq "$(metric 'faasml_instances{function="e",state="busy"}')" 3 "three instances busy"

code=$(invoke e '{"n":4}')
expect_eq "$code" 429 "the fourth instance of e"
expect_eq "$(hdr x-amzn-ErrorType)" TooManyRequestsException "throttle type"
expect_contains "$(body)" '"Reason":"HostCapacityExceeded"' "throttle reason"
code=$(invoke other '{}')
expect_eq "$code" 429 "another function on the full host"
expect_contains "$(body)" '"Reason":"HostCapacityExceeded"' "the other's reason"
code=$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "$URL/metrics")
expect_eq "$code" 200 "/metrics while the host is full"
ok "the fourth 128 MB instance on a 384 MB host is refused with host_capacity"

for i in 1 2 3; do
    wait "${pids[$((i - 1))]}" || fail "running invocation $i failed"
    expect_eq "$(cat "$TMP/slow$i.code")" 200 "running invocation $i"
    expect_contains "$(cat "$TMP/slow$i.body")" '"slept"' "running invocation $i completed"
done
code=$(invoke e '{"after":"full"}' -H 'X-Amz-Log-Type: Tail')
expect_eq "$code" 200 "e on its warm instance"
expect_not_contains "$(tail_log)" "Init Duration" "e reuses an idle instance (no start needed)"
for _ in $(seq 150); do # keep-alive 3 s: e's idle instances stop and give their memory back
    [ "$(metric 'faasml_instances{function="e",state="idle"}')" = 0 ] && break
    sleep 0.1
done
expect_eq "$(metric 'faasml_instances{function="e",state="idle"}')" 0 "e scaled to zero"
code=$(invoke other '{"after":"free"}')
expect_eq "$code" 200 "other once memory is free"
expect_eq "$(body)" '{"after":"free"}' "other's answer"
expect_eq "$(metric 'faasml_throttles_total{function="e",reason="host_capacity"}')" 1 "e's refusal counted"
expect_eq "$(metric 'faasml_throttles_total{function="other",reason="host_capacity"}')" 1 "other's refusal counted"
expect_eq "$(metric 'faasml_throttles_total{function="e",reason="reserved"}')" 0 "no other reason"
ok "the running invocations finished, and the host serves again once memory is free"

kill -TERM "$SERVE_PID"
wait "$SERVE_PID" 2>/dev/null || true
n=$(python3 -c 'import sqlite3,sys
c = sqlite3.connect(sys.argv[1])
print(c.execute("select count(*) from requests where status=? and http_code=429",
                ("throttled",)).fetchone()[0])' "$TMP/run.db")
expect_eq "$n" 2 "two throttled requests rows"
ok "each refusal left a requests row"
