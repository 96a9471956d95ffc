#!/usr/bin/env bash
# A full asynchronous event queue: the Event invocation refused with 429 EventQueueFull is a
# throttle like the others (faasml_throttles_total, a `requests` row with status throttled), and
# the events waiting in the queue count in faasml_queue_depth and the admin API's queue_depth.
source "$FM_SOURCE_DIR/tests/fixtures/platform/lib.sh"

printf '%s\n' "event_queue_max: 2" >"$TMP/platform.yaml"
start_serve --config "$TMP/platform.yaml" --db "$TMP/run.db"
write_spec q echo "memory_mb: 128" "reserved_concurrency: 1" "timeout_s: 12"
deploy q
ev=(-H 'X-Amz-Invocation-Type: Event')
# One runs (reserved concurrency 1), the next is throttled back into the queue, one more waits.
# Event 1 runs long enough that the checks below finish while it runs, even on a loaded host.
expect_eq "$(invoke q '{"op":"sleep","s":10}' "${ev[@]}")" 202 "Event 1 accepted"
for _ in $(seq 100); do   # until its cold start is over and it runs
    [ "$(metric 'faasml_queue_depth{function="q"}')" = 0 ] && break
    sleep 0.05
done
expect_eq "$(metric 'faasml_queue_depth{function="q"}')" 0 "queue depth with one event running"
for i in 2 3; do
    expect_eq "$(invoke q '{"op":"sleep","s":0.1}' "${ev[@]}")" 202 "Event $i accepted"
    sleep 0.3
done
expect_eq "$(metric 'faasml_queue_depth{function="q"}')" 2 "queue depth with 2 pending events"
code=$(curl -sS --max-time 10 -o "$TMP/body" -w '%{http_code}' "$URL/admin/functions/q")
expect_eq "$code" 200 "admin describe"
depth=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["queue_depth"])' "$TMP/body")
expect_eq "$depth" 2 "admin queue_depth with 2 pending events"
before=$(metric 'faasml_throttles_total{function="q",reason="event_queue_full"}')
expect_eq "$(invoke q '{}' "${ev[@]}")" 429 "Event past event_queue_max"
expect_contains "$(body)" "EventQueueFull" "429 names the reason"
rid=$(hdr x-amzn-RequestId)
[ -n "$rid" ] || fail "the 429 has no request id"
after=$(metric 'faasml_throttles_total{function="q",reason="event_queue_full"}')
expect_eq "$after" "$((${before:-0} + 1))" "EventQueueFull counted in faasml_throttles_total"
ok "EventQueueFull is a counted throttle; pending events count in the queue depth"

kill -TERM "$SERVE_PID"
wait "$SERVE_PID" 2>/dev/null || true
n=$(python3 -c 'import sqlite3,sys
c = sqlite3.connect(sys.argv[1])
print(c.execute("select count(*) from requests where function=? and status=? and http_code=429",
                ("q", "throttled")).fetchone()[0])' "$TMP/run.db")
expect_eq "$n" 1 "one throttled requests row for the EventQueueFull refusal"
ok "the refusal left a requests row"
