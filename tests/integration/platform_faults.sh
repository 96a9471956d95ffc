#!/usr/bin/env bash
# faasml serve under faults: timeout, crash mid-request, a runtime that exits at init, one that
# reports /init/error, one that never calls /next, malformed HTTP, bad specs and Runtime API misuse.
# Each gets its Lambda-shaped answer and the platform keeps serving the others.
source "$FM_SOURCE_DIR/tests/fixtures/platform/lib.sh"

printf 'event_retry_delay: 200ms\n' >"$TMP/platform.yaml"
start_serve --init-timeout 2s --config "$TMP/platform.yaml"
# 1769 MB = one vCPU: at the default 128 MB the CPU quota (7% of a core) can stretch a Python
# runtime's start past the 1 s timeout on a busy host, and the replacement would time out in init.
write_spec echo echo "timeout_s: 1" "memory_mb: 1769"
write_spec exiter exit-at-init "memory_mb: 1769"
write_spec initerr init-error "memory_mb: 1769"
write_spec hung never-next "timeout_s: 1"
# A sandboxed instance's Runtime API is 127.0.0.1:9001 inside its own network namespace, out of
# this script's reach (sandbox_hostile.sh checks that); the misuse checks below need a process.
write_spec rapi echo "isolation: process"
for f in echo exiter initerr hung rapi; do deploy $f; done

# Timeout: "Task timed out after 1.00 seconds", the instance is replaced (next call is cold).
code=$(invoke echo '{"op":"sleep","s":5}')
expect_eq "$code" 200 "timeout status"
expect_eq "$(hdr X-Amz-Function-Error)" Unhandled "timeout header"
expect_contains "$(body)" "Task timed out after 1.00 seconds" "timeout body"
code=$(invoke echo '{"after":"timeout"}' -H 'X-Amz-Log-Type: Tail')
expect_eq "$code" 200 "invoke after timeout"
expect_eq "$(body)" '{"after":"timeout"}' "body after timeout"
expect_contains "$(tail_log)" "Init Duration" "a new instance after the timeout"
ok "timeout answered and the instance replaced"

# Crash mid-request: Runtime.ExitError, then a fresh instance.
code=$(invoke echo '{"op":"crash","code":7}')
expect_eq "$code" 200 "crash status"
expect_eq "$(hdr X-Amz-Function-Error)" Unhandled "crash header"
expect_contains "$(body)" "Runtime.ExitError" "crash type"
expect_contains "$(body)" "exit status 7" "crash reason"
code=$(invoke echo '{"after":"crash"}')
expect_eq "$code" 200 "invoke after crash"
ok "crash mid-request answered Runtime.ExitError"

# Exit at init, /init/error, never calls /next.
code=$(invoke exiter '{}')
expect_eq "$code" 200 "exit-at-init status"
expect_eq "$(hdr X-Amz-Function-Error)" Unhandled "exit-at-init header"
expect_contains "$(body)" "Runtime.ExitError" "exit-at-init body"
code=$(invoke initerr '{}')
expect_eq "$code" 200 "init-error status"
expect_contains "$(body)" "Runtime.ImportModuleError" "init-error body"
code=$(invoke hung '{}')
expect_eq "$code" 200 "never-next status"
expect_contains "$(body)" "Task timed out after 1.00 seconds" "never-next body"
ok "exit at init, /init/error and a runtime that never calls /next"

# Malformed HTTP and junk on the gateway: errors, and the server still answers.
port=${URL##*:}
exec 3<>/dev/tcp/127.0.0.1/"$port"
printf 'THIS IS NOT HTTP\r\n\r\n' >&3
reply=$(timeout 5 head -c 200 <&3 || true)
exec 3>&-
expect_contains "$reply" "400" "malformed request line"
exec 3<>/dev/tcp/127.0.0.1/"$port"
printf 'POST /2015-03-31/functions/echo/invocations HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n' >&3
reply=$(timeout 5 head -c 200 <&3 || true)
exec 3>&-
expect_contains "$reply" "HTTP/1.1 4" "absurd Content-Length"
code=$(curl -sS -o /dev/null -w '%{http_code}' "$URL/no/such/path")
expect_eq "$code" 404 "unknown path"
code=$(invoke echo '{"still":"serving"}')
expect_eq "$code" 200 "serving after junk"
ok "malformed HTTP answered 4xx while others are served"

# A client that gives up mid-invocation: the function still finishes, the platform serves on.
curl -sS --max-time 0.3 -o /dev/null -X POST "$URL/2015-03-31/functions/echo/invocations" \
    --data-binary '{"op":"sleep","s":0.6}' 2>/dev/null && fail "the slow request should have been cut"
sleep 0.6
code=$(invoke echo '{"after":"hangup"}')
expect_eq "$code" 200 "serving after a client hung up"
expect_eq "$(body)" '{"after":"hangup"}' "body after a client hung up"
ok "a client that hangs up mid-invocation"

# Bad specs, through the CLI and the admin API.
printf 'name: bad\nruntime: custom\nbootstrap: /bin/true\nmemroy_mb: 5\n' >"$TMP/bad.yaml"
set +e
out=$("$FAASML" deploy "$TMP/bad.yaml" --gateway "$URL" 2>&1)
rc=$?
set -e
expect_eq "$rc" 2 "deploy exit code for a bad spec"
expect_contains "$out" "bad.yaml:4:1: unknown key 'memroy_mb'" "deploy error names file:line:col"
adm() { curl -sS -o "$TMP/body" -w '%{http_code}' -X "$1" "$URL/admin/functions$2" -H 'Content-Type: application/json' --data-binary "$3"; }
expect_eq "$(adm POST '' '{"name":"x","runtime":"custom","bootstrap":"/bin/true","memory_mb":64}')" 400 "memory below 128"
expect_contains "$(body)" "memory_mb" "memory error message"
expect_eq "$(adm POST '' '{"name":"x y","runtime":"custom","bootstrap":"/bin/true"}')" 400 "bad name"
expect_eq "$(adm POST '' 'not json')" 400 "not JSON"
expect_eq "$(adm POST '' '{"name":"x","runtime":"custom","bootstrap":"rel/path"}')" 400 "relative path"
expect_eq "$(adm POST '' '{"name":"x","runtime":"custom","bootstrap":"/bin/true","environment":{"AWS_REGION":"x"}}')" 400 "reserved env"
expect_eq "$(adm POST '' '{"name":"echo","runtime":"custom","bootstrap":"/bin/true"}')" 409 "POST of an existing name"
expect_eq "$(adm DELETE /nosuch '')" 404 "delete unknown"
ok "bad specs refused with a message naming the problem"

# The Runtime API refuses misuse: wrong request id (400), /init/error after init (403).
api=$(invoke rapi '{"op":"env"}' >/dev/null; python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["env"]["AWS_LAMBDA_RUNTIME_API"])' "$TMP/body")
code=$(curl -sS -o "$TMP/body" -w '%{http_code}' -X POST "http://$api/2018-06-01/runtime/invocation/not-a-request/response" -d '{}')
expect_eq "$code" 400 "response with an unknown id"
expect_contains "$(body)" "InvalidRequestID" "400 body"
code=$(curl -sS -o "$TMP/body" -w '%{http_code}' -X POST "http://$api/2018-06-01/runtime/init/error" -d '{}')
expect_eq "$code" 403 "init/error after init"
code=$(invoke echo '{"still":"fine"}')
expect_eq "$code" 200 "serving after Runtime API misuse"
ok "Runtime API answers 400 and 403"

# An Event invocation that fails is retried twice (Lambda's default), here 200 ms then 400 ms later.
errors_before=$(metric 'faasml_errors_total{function="echo"}')
code=$(invoke echo '{"op":"error"}' -H 'X-Amz-Invocation-Type: Event')
expect_eq "$code" 202 "failing Event accepted"
for _ in $(seq 40); do
    [ "$(metric 'faasml_errors_total{function="echo"}')" -ge $((errors_before + 3)) ] && break
    sleep 0.1
done
sleep 0.8
expect_eq "$(metric 'faasml_errors_total{function="echo"}')" $((errors_before + 3)) "first try + 2 retries"
ok "a failing Event invocation is retried twice"

code=$(curl -sS -o /dev/null -w '%{http_code}' "$URL/metrics")
expect_eq "$code" 200 "metrics after faults"
expect_eq "$(metric 'faasml_timeouts_total{function="echo"}')" 1 "timeouts counted"
expect_eq "$(metric 'faasml_crashes_total{function="echo"}')" 1 "crashes counted"
ok "faults counted in /metrics"
