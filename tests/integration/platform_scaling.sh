#!/usr/bin/env bash
# faasml serve scaling through the lambda policy: reserved concurrency -> 429 with Retry-After and
# Reason, provisioned concurrency -> no cold start on the first request, keep-alive expiry ->
# scale to zero and a cold start again.
source "$FM_SOURCE_DIR/tests/fixtures/platform/lib.sh"

start_serve
write_spec one echo "reserved_concurrency: 1" "timeout_s: 10"
write_spec pc echo "provisioned_concurrency: 1" "reserved_concurrency: 2"
write_spec short echo "keep_alive: 1s"
for f in one pc short; do deploy $f; done

# Reserved concurrency 1: a second request while the first runs is throttled.
curl -sS --max-time 20 -o "$TMP/slow.body" -X POST "$URL/2015-03-31/functions/one/invocations" \
    --data-binary '{"op":"sleep","s":2}' &
slow=$!
for _ in $(seq 100); do
    [ "$(metric 'faasml_instances{function="one",state="busy"}')" = 1 ] && break
    sleep 0.05
done
code=$(invoke one '{}')
expect_eq "$code" 429 "throttle status"
expect_eq "$(hdr x-amzn-ErrorType)" TooManyRequestsException "throttle type"
[ -n "$(hdr Retry-After)" ] || fail "429 without Retry-After"
expect_contains "$(body)" '"Reason":"ReservedFunctionConcurrentInvocationLimitExceeded"' "throttle reason"
wait $slow || fail "the running request failed"
expect_contains "$(cat "$TMP/slow.body")" '"slept"' "the running request completed"
code=$(invoke one '{}')
expect_eq "$code" 200 "after the throttle"
expect_eq "$(metric 'faasml_throttles_total{function="one",reason="reserved"}')" 1 "throttle counted"
ok "reserved concurrency 1 -> 429 TooManyRequestsException with Retry-After and Reason"

# Provisioned concurrency: started at deploy, so the first request is warm.
for _ in $(seq 100); do
    [ "$(metric 'faasml_instances{function="pc",state="idle"}')" = 1 ] && break
    sleep 0.05
done
expect_eq "$(metric 'faasml_instances{function="pc",state="idle"}')" 1 "provisioned instance ready"
code=$(invoke pc '{"op":"env"}' -H 'X-Amz-Log-Type: Tail')
expect_eq "$code" 200 "pc invoke"
expect_not_contains "$(tail_log)" "Init Duration" "first request on provisioned concurrency"
expect_contains "$(body)" '"AWS_LAMBDA_INITIALIZATION_TYPE": "provisioned-concurrency"' "init type"
expect_eq "$(metric 'faasml_cold_starts_total{function="pc"}')" 0 "no cold start"
ok "provisioned concurrency -> no cold start on the first request"

# Keep-alive 1 s: the idle instance is stopped, the next request is cold again.
code=$(invoke short '{}' -H 'X-Amz-Log-Type: Tail')
expect_eq "$code" 200 "first short"
expect_contains "$(tail_log)" "Init Duration" "first short is cold"
code=$(invoke short '{}' -H 'X-Amz-Log-Type: Tail')
expect_not_contains "$(tail_log)" "Init Duration" "second short is warm"
for _ in $(seq 60); do
    [ "$(metric 'faasml_instances{function="short",state="idle"}')" = 0 ] && break
    sleep 0.1
done
expect_eq "$(metric 'faasml_instances{function="short",state="idle"}')" 0 "scaled to zero"
code=$(invoke short '{}' -H 'X-Amz-Log-Type: Tail')
expect_eq "$code" 200 "after keep-alive"
expect_contains "$(tail_log)" "Init Duration" "cold again after keep-alive"
expect_eq "$(metric 'faasml_cold_starts_total{function="short"}')" 2 "two cold starts"
ok "keep-alive expiry -> scale to zero -> cold start again"
