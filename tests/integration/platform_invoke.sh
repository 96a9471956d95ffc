#!/usr/bin/env bash
# faasml serve: the Lambda Invoke API end to end with a custom runtime - cold then warm
# invocations, Lambda's environment and /next headers, Tail logs, function errors, Event and
# DryRun invocations, 404/400/413, /metrics parsed back, and every invocation in the store.
source "$FM_SOURCE_DIR/tests/fixtures/platform/lib.sh"

start_serve --db "$TMP/results.db"
write_spec echo echo "memory_mb: 256" "timeout_s: 5" "environment:" "  GREETING: hello"
deploy echo

# Cold start: the first invocation's REPORT carries Init Duration, the second's does not.
code=$(invoke echo '{"hello":"world"}' -H 'X-Amz-Log-Type: Tail')
expect_eq "$code" 200 "cold invoke status"
expect_eq "$(body)" '{"hello":"world"}' "echo body"
log=$(tail_log)
expect_contains "$log" "START RequestId: $(hdr x-amzn-RequestId) Version: \$LATEST" "START line"
expect_contains "$log" "Init Duration:" "cold REPORT"
expect_contains "$log" "Billed Duration:" "REPORT fields"
expect_eq "$(hdr X-Amz-Executed-Version)" '$LATEST' "executed version"
ok "cold invoke"
code=$(invoke echo '[1,2,3]' -H 'X-Amz-Log-Type: Tail')
expect_eq "$code" 200 "warm invoke status"
expect_eq "$(body)" '[1,2,3]' "warm body"
expect_not_contains "$(tail_log)" "Init Duration" "warm REPORT"
ok "warm invoke (no Init Duration)"

# Lambda's environment and the Runtime API headers, as the runtime saw them.
ctx=$(printf '{"custom":{"k":"v"}}' | base64 -w0)
code=$(invoke echo '{"op":"env"}' -H "X-Amz-Client-Context: $ctx")
expect_eq "$code" 200 "env invoke"
python3 - "$TMP/body" <<'PY' || fail "environment or headers wrong: $(body)"
import json, sys
d = json.load(open(sys.argv[1]))
e, h = d["env"], d["headers"]
assert e["AWS_LAMBDA_FUNCTION_NAME"] == "echo", e
assert e["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256", e
assert e["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST", e
assert e["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand", e
assert e["AWS_LAMBDA_RUNTIME_API"].startswith("127.0.0.1:"), e
assert e["_HANDLER"] and e["LAMBDA_TASK_ROOT"] and e["AWS_REGION"] == "us-east-1", e
assert e["TZ"] == "UTC" and e["LANG"] == "en_US.UTF-8" and e["GREETING"] == "hello", e
assert len(h["Lambda-Runtime-Aws-Request-Id"]) == 36, h
assert int(h["Lambda-Runtime-Deadline-Ms"]) > 1.6e12, h
assert h["Lambda-Runtime-Invoked-Function-Arn"].endswith(":function:echo"), h
assert h["Lambda-Runtime-Trace-Id"].startswith("Root=1-"), h
assert json.loads(h["Lambda-Runtime-Client-Context"]) == {"custom": {"k": "v"}}, h
PY
ok "Lambda environment and /next headers"

# Function error: 200 + X-Amz-Function-Error with the runtime's error JSON.
code=$(invoke echo '{"op":"error"}')
expect_eq "$code" 200 "function error status"
expect_eq "$(hdr X-Amz-Function-Error)" Unhandled "function error header"
expect_contains "$(body)" '"errorType": "Function.AskedToFail"' "error body"
ok "function error"

# Tail: the last 4 KB only.
code=$(invoke echo '{"op":"log","lines":2000}' -H 'X-Amz-Log-Type: Tail')
expect_eq "$code" 200 "log invoke"
n=$(hdr X-Amz-Log-Result | base64 -d | wc -c)
[ "$n" -le 4096 ] && [ "$n" -gt 3000 ] || fail "log tail is $n bytes, want (3000, 4096]"
expect_contains "$(tail_log)" "REPORT RequestId" "tail ends with REPORT"
ok "X-Amz-Log-Result is the last 4 KB"

# DryRun, unknown function, invalid JSON, oversized payload, bad invocation type.
code=$(invoke echo '{}' -H 'X-Amz-Invocation-Type: DryRun')
expect_eq "$code" 204 "DryRun"
code=$(invoke nosuch '{}')
expect_eq "$code" 404 "unknown function"
expect_eq "$(hdr x-amzn-ErrorType)" ResourceNotFoundException "404 type"
expect_contains "$(body)" "Function not found" "404 body"
code=$(invoke echo '{"broken":')
expect_eq "$code" 400 "invalid JSON"
expect_eq "$(hdr x-amzn-ErrorType)" InvalidRequestContentException "400 type"
head -c 6291457 /dev/zero | tr '\0' 'a' | sed 's/^/"/; s/$/"/' >"$TMP/big.json"
code=$(invoke echo "@$TMP/big.json")
expect_eq "$code" 413 "oversized payload"
expect_eq "$(hdr x-amzn-ErrorType)" RequestTooLargeException "413 type"
code=$(invoke echo '{}' -H 'X-Amz-Invocation-Type: Sometimes')
expect_eq "$code" 400 "bad invocation type"
ok "DryRun 204, 404, 400, 413"

# Event: 202 at once, runs in the background.
before=$(metric 'faasml_invocation_success_total{function="echo"}')
code=$(invoke echo '{"op":"sleep","s":0.2}' -H 'X-Amz-Invocation-Type: Event')
expect_eq "$code" 202 "Event status"
[ -n "$(hdr x-amzn-RequestId)" ] || fail "Event reply has no request id"
for _ in $(seq 50); do
    after=$(metric 'faasml_invocation_success_total{function="echo"}')
    [ "$after" -gt "$before" ] && break
    sleep 0.1
done
[ "$after" -gt "$before" ] || fail "the Event invocation never ran"
expect_eq "$(metric 'faasml_invocations_total{function="echo",type="Event"}')" 1 "Event counter"
ok "Event invocation (202, then ran)"

# /metrics parses as Prometheus text and agrees with what happened.
curl -sS "$URL/metrics" >"$TMP/metrics"
python3 - "$TMP/metrics" <<'PY' || fail "metrics wrong"
import re, sys
txt = open(sys.argv[1]).read()
assert txt.endswith("\n")
samples, types = {}, {}
for line in txt.splitlines():
    if line.startswith("# TYPE "):
        _, _, name, kind = line.split(" ")
        assert name not in types, "duplicate TYPE " + name
        types[name] = kind
        continue
    if line.startswith("#"):
        continue
    m = re.fullmatch(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)', line)
    assert m, "bad sample line: " + line
    key = m.group(1) + (m.group(2) or "")
    assert key not in samples, "duplicate series " + key
    samples[key] = float(m.group(3))
f = '{function="echo"}'
assert samples["faasml_invocations_total" + '{function="echo",type="RequestResponse"}'] == 5
assert samples["faasml_cold_starts_total" + f] == 1, samples["faasml_cold_starts_total" + f]
assert samples["faasml_errors_total" + f] >= 1
assert samples["faasml_billed_gb_seconds_total" + f] > 0
assert samples["faasml_duration_seconds_count" + f] == samples['faasml_duration_seconds_bucket{function="echo",le="+Inf"}']
assert samples["faasml_init_duration_seconds_count" + f] == 1
assert samples['faasml_instances{function="echo",state="idle"}'] == 1
assert types["faasml_duration_seconds"] == "histogram"
PY
ok "/metrics parsed back"

# Graceful stop flushes the store: every invocation and the instance are recorded.
kill -TERM "$SERVE_PID"
for _ in $(seq 100); do kill -0 "$SERVE_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$SERVE_PID" 2>/dev/null && fail "serve did not stop on SIGTERM"
wait "$SERVE_PID" || fail "serve exited non-zero"
SERVE_PID=
reqs=$("$FAASML" db "$TMP/results.db" --csv requests | tail -n +2 | wc -l)
[ "$reqs" -ge 6 ] || fail "store holds $reqs requests, want >= 6"
"$FAASML" db "$TMP/results.db" --csv instances >"$TMP/inst.csv"
grep -q ',echo,' "$TMP/inst.csv" || fail "no instance row: $(cat "$TMP/inst.csv")"
grep -q 'shutdown' "$TMP/inst.csv" || fail "instance not stopped by shutdown: $(cat "$TMP/inst.csv")"
"$FAASML" db "$TMP/results.db" --csv points | grep instances_idle >/dev/null || fail "no points"
"$FAASML" db "$TMP/results.db" --csv costs | grep 'lambda.gb_s:echo' >/dev/null || fail "no billed GB-s"
ok "store: requests, instances, points, costs after SIGTERM"
