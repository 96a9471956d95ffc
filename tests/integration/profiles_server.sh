#!/usr/bin/env bash
# The server profile live: a fixed fleet started at deploy (inst.min), FIFO queue bounded by
# queue.capacity, overflow answered 503, queued requests served in arrival order.
source "$FM_SOURCE_DIR/tests/fixtures/platform/lib.sh"

start_serve --db "$TMP/results.db"
write_spec srv echo "profile: server" "platform: ec2-c5-xlarge" "timeout_s: 10" \
    "policy: {inst: {min: 1, max: 1, workers: 1}, queue: {capacity: 2}}"
deploy srv
inst() {
    local v
    v=$(metric "faasml_instances{function=\"srv\",state=\"$1\"}")
    echo "${v:-0}"
}
for _ in $(seq 100); do [ "$(inst idle)" = 1 ] && break; sleep 0.05; done
expect_eq "$(inst idle)" 1 "the fleet runs before any request"
ok "fleet of 1 started at deploy"

send() { # send N BODY: background request, body in $TMP/rN, status in $TMP/cN
    curl -sS --max-time 20 -o "$TMP/r$1" -w '%{http_code}' -X POST \
        "$URL/2015-03-31/functions/srv/invocations" --data-binary "$2" >"$TMP/c$1"
    date +%s%N >"$TMP/t$1"
}
send 1 '{"op":"sleep","s":1.5}' &
p1=$!
for _ in $(seq 100); do [ "$(inst busy)" = 1 ] && break; sleep 0.02; done
send 2 '{"n":2}' &
p2=$!
# request 3 is sent only once request 2 waits in the queue, and it takes 0.4 s: served in order,
# it finishes 0.4 s after request 2, far more than the clients' own scheduling noise
for _ in $(seq 100); do
    [ "$(metric 'faasml_queue_depth{function="srv"}')" = 1 ] && break
    sleep 0.02
done
send 3 '{"op":"sleep","s":0.4}' &
p3=$!
for _ in $(seq 100); do
    [ "$(metric 'faasml_queue_depth{function="srv"}')" = 2 ] && break
    sleep 0.02
done
expect_eq "$(metric 'faasml_queue_depth{function="srv"}')" 2 "two requests queued"
code=$(invoke srv '{"n":4}')
expect_eq "$code" 503 "past the queue bound"
expect_eq "$(hdr x-amzn-ErrorType)" ServiceException "503 type"
ok "queue bound 2: the fourth request is answered 503 at once"
wait $p1 $p2 $p3 || fail "a queued request failed"
for i in 1 2 3; do expect_eq "$(cat "$TMP/c$i")" 200 "request $i"; done
expect_contains "$(cat "$TMP/r2")" '"n":2' "request 2 answered with its own body"
expect_contains "$(cat "$TMP/r3")" '"slept": 0.4' "request 3 answered with its own body"
[ "$(cat "$TMP/t2")" -le "$(cat "$TMP/t3")" ] || fail "request 3 finished before request 2 (not FIFO)"
expect_eq "$(inst idle)" 1 "the fleet stays (no scale-to-zero)"
ok "queued requests served in order after the busy one; the fleet stays"

kill -TERM "$SERVE_PID"
wait "$SERVE_PID" || true
SERVE_PID=
"$FAASML" db "$TMP/results.db" --csv requests >"$TMP/req.csv"
grep -q ',rejected,503,\|,503,' "$TMP/req.csv" || fail "the 503 is not recorded"
t2=$(awk -F, 'NR>1 && /srv/ {print}' "$TMP/req.csv" | wc -l)
[ "$t2" -ge 4 ] || fail "expected 4 request rows, got $t2"
ok "requests recorded, the 503 included"
