#!/usr/bin/env bash
# faasml serve with the hybrid histogram keep-alive policy, chosen in the function spec's
# `policy:` section: after one regular idle time the instance is unloaded when its work ends and a
# new one pre-warmed ahead of the next arrival, which is then warm. Bins of 1 s over 10 s so the
# test takes seconds, and a 30 % margin so a slow (sanitized) start still lands inside the window:
# one idle time of about 4.5 s (bin 4) gives pre-warm 4 s x 0.7 = 2.8 s after the end of an
# invocation, kept until 5 s x 1.3 = 6.5 s (docs/policies.md).
source "$FM_SOURCE_DIR/tests/fixtures/platform/lib.sh"

start_serve
write_spec h echo "timeout_s: 10" \
    "policy: {inst: {keep_alive_policy: histogram}, histogram: {bin: 1s, range: 10s, margin: 0.3}}"
deploy h

code=$(invoke h '{}' -H 'X-Amz-Log-Type: Tail')
expect_eq "$code" 200 "first"
expect_contains "$(tail_log)" "Init Duration" "the first is cold"
sleep 4.5
code=$(invoke h '{}' -H 'X-Amz-Log-Type: Tail')
expect_eq "$code" 200 "second"
expect_not_contains "$(tail_log)" "Init Duration" "an empty histogram keeps the instance (range)"
# now the histogram has one idle time in bin 4: unloaded at once...
for _ in $(seq 30); do
    [ "$(metric 'faasml_instances{function="h",state="idle"}')" = 0 ] && break
    sleep 0.1
done
expect_eq "$(metric 'faasml_instances{function="h",state="idle"}')" 0 "unloaded after its work"
ok "histogram: the instance is unloaded when the pre-warm window is > 0"
# ...and pre-warmed 2.8 s after the end, before the next arrival
for _ in $(seq 50); do
    [ "$(metric 'faasml_instances{function="h",state="idle"}')" = 1 ] && break
    sleep 0.1
done
expect_eq "$(metric 'faasml_instances{function="h",state="idle"}')" 1 "pre-warmed"
code=$(invoke h '{}' -H 'X-Amz-Log-Type: Tail')
expect_eq "$code" 200 "third"
expect_eq "$(metric 'faasml_cold_starts_total{function="h"}')" 1 \
    "one cold start in all: the third found the pre-warmed instance"
ok "histogram: pre-warmed ahead of the next arrival, which is warm"
