#!/usr/bin/env bash
# The gateway refuses callers nobody invited: a web page (Origin, text/plain POST), a DNS-rebound
# page (foreign Host), and anyone at all on a non-loopback listener unless the operator says
# --insecure-listen. Each case is checked one by one, with a well-formed request as the control.
source "$FM_SOURCE_DIR/tests/fixtures/platform/lib.sh"

start_serve
spec='{"name":"g","runtime":"custom","bootstrap":"'"$RT"'/echo/bootstrap","memory_mb":128}'
# adm METHOD PATH BODY [curl options...]: prints the status; body in $TMP/body.
adm() {
    local m=$1 path=$2 data=$3
    shift 3
    curl -sS --max-time 10 -o "$TMP/body" -w '%{http_code}' -X "$m" "$URL/admin/functions$path" \
        --data-binary "$data" "$@"
}
JSON=(-H 'Content-Type: application/json')

# A cross-origin text/plain POST (no CORS preflight) must not deploy.
expect_eq "$(adm POST '' "$spec" -H 'Content-Type: text/plain' -H 'Origin: http://evil.example')" 403 "cross-origin text/plain deploy"
expect_contains "$(body)" "cross-origin" "Origin refusal names the cause"
# Origin alone, even with the right type.
expect_eq "$(adm POST '' "$spec" "${JSON[@]}" -H 'Origin: http://evil.example')" 403 "deploy with Origin"
# A GET of the admin API from a page (it would list environments).
expect_eq "$(curl -sS -o "$TMP/body" -w '%{http_code}' "$URL/admin/functions" -H 'Origin: null')" 403 "admin GET with Origin"
# Not application/json, no Origin (a form or a plain curl -d).
expect_eq "$(adm POST '' "$spec" -H 'Content-Type: text/plain')" 415 "text/plain deploy"
expect_contains "$(body)" "application/json" "415 names the required type"
expect_eq "$(adm POST '' "$spec")" 415 "form-encoded deploy (curl's default type)"
# DNS rebinding: a foreign Host, to admin and to invoke.
expect_eq "$(adm POST '' "$spec" "${JSON[@]}" -H 'Host: rebind.evil.example:9000')" 403 "deploy with a foreign Host"
expect_contains "$(body)" "DNS rebinding" "Host refusal names the cause"
code=$(curl -sS -o "$TMP/body" -w '%{http_code}' "$URL/admin/functions" -H 'Host: rebind.evil.example')
expect_eq "$code" 403 "admin GET with a foreign Host"
# Nothing of the above was deployed.
code=$(curl -sS -o "$TMP/body" -w '%{http_code}' "$URL/admin/functions")
expect_eq "$code" 200 "admin list"
expect_eq "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["functions"]))' "$TMP/body")" 0 "no function deployed by refused requests"
ok "cross-origin, non-JSON and rebinding admin requests are refused"

# The control: a well-formed local deploy, with each allowed Host spelling.
expect_eq "$(adm POST '' "$spec" "${JSON[@]}")" 201 "JSON deploy without Origin"
expect_eq "$(adm PUT /g "$spec" -H 'Content-Type: application/json; charset=utf-8' -H "Host: localhost:1")" 200 "PUT with charset and Host localhost"
port=${URL##*:}
for h in "127.0.0.1:$port" "localhost" "127.0.0.2" "[::1]:$port"; do
    code=$(curl -sS -o "$TMP/body" -w '%{http_code}' "$URL/admin/functions/g" -H "Host: $h")
    expect_eq "$code" 200 "admin GET with Host $h"
done
ok "local JSON deploys and loopback Host names are accepted"

# Invocations: a page may not POST one (Origin), nor a rebound page; curl and SDKs may.
code=$(invoke g '{"a":1}' -H 'Origin: http://evil.example' -H 'Content-Type: text/plain')
expect_eq "$code" 403 "invoke with Origin"
expect_eq "$(hdr x-amzn-ErrorType)" "AccessDeniedException" "Lambda error shape"
code=$(invoke g '{"a":1}' -H 'Host: evil.example')
expect_eq "$code" 403 "invoke with a foreign Host"
code=$(curl -sS -o "$TMP/body" -w '%{http_code}' -X POST "$URL/v2/models/g/infer" -H 'Host: evil.example' --data-binary '{}')
expect_eq "$code" 403 "KServe infer with a foreign Host"
code=$(invoke g '{"a":1}')
expect_eq "$code" 200 "invoke from curl"
expect_eq "$(body)" '{"a":1}' "invoke answer"
code=$(curl -sS -o /dev/null -w '%{http_code}' "$URL/metrics" -H 'Origin: http://evil.example')
expect_eq "$code" 200 "metrics GET with Origin (a page cannot read it without CORS)"
ok "invocations from pages and rebound names are refused, curl's are served"

# Non-loopback listeners: refused without --insecure-listen (exit 2, a message naming the risk).
set +e
"$FAASML" serve --listen 0.0.0.0:0 >"$TMP/o" 2>"$TMP/e" &
pid=$!
for _ in $(seq 100); do kill -0 $pid 2>/dev/null || break; sleep 0.05; done
kill -KILL $pid 2>/dev/null
wait $pid
rc=$?
set -e
expect_eq "$rc" 2 "serve --listen 0.0.0.0 exit code"
expect_contains "$(cat "$TMP/e")" "refusing to listen on '0.0.0.0' without authentication" "refusal message"
expect_contains "$(cat "$TMP/e")" "--insecure-listen" "refusal names the override"
grep -q '^listening on' "$TMP/o" && fail "a refused serve printed its ready line"
printf 'listen: "0.0.0.0:0"\n' >"$TMP/platform.yaml"
set +e
"$FAASML" serve --config "$TMP/platform.yaml" >"$TMP/o" 2>"$TMP/e"
rc=$?
set -e
expect_eq "$rc" 2 "listen from platform.yaml is refused too"
ok "a non-loopback listener without authentication is refused"

kill -TERM "$SERVE_PID"; wait "$SERVE_PID" || true; SERVE_PID=
"$FAASML" serve --listen 0.0.0.0:0 --insecure-listen >"$TMP/serve.out" 2>"$TMP/serve.err" &
SERVE_PID=$!
for _ in $(seq 200); do grep -q '^listening on ' "$TMP/serve.out" 2>/dev/null && break; sleep 0.05; done
grep -q '^listening on ' "$TMP/serve.out" || fail "serve --insecure-listen did not start"
expect_contains "$(cat "$TMP/serve.err")" "without authentication (--insecure-listen)" "warning at start"
port=$(sed -n 's/^listening on http:\/\/[^:]*://p' "$TMP/serve.out")
code=$(curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v2/health/live")
expect_eq "$code" 200 "the insecure listener serves"
ok "--insecure-listen starts with a warning"
