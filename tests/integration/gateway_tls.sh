#!/usr/bin/env bash
# serve --tls-cert/--tls-key: the gateway speaks HTTPS (TLS 1.2+). A client that trusts the
# certificate invokes and deploys; plain HTTP on the TLS port gets no HTTP answer; TLS 1.1 is
# refused; a key that does not match its certificate, or a certificate without its key, stops
# serve at start with a message naming the file.
source "$FM_SOURCE_DIR/tests/fixtures/platform/lib.sh"
command -v openssl >/dev/null || { echo "# SKIP: openssl missing (scripts/install-deps.sh)"; exit 77; }
mkcert() { # $1 name: a self-signed certificate for localhost and 127.0.0.1
    openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
        -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
        -keyout "$TMP/$1.key" -out "$TMP/$1.crt" 2>/dev/null || fail "openssl req failed"
}
mkcert a
mkcert b
write_spec echo echo "isolation: process"
start_serve --tls-cert "$TMP/a.crt" --tls-key "$TMP/a.key"
case $URL in https://*) ;; *) fail "ready line is not https: $URL" ;; esac
ok "serve prints an https URL: $URL"

code=$(curl -sS --cacert "$TMP/a.crt" -o "$TMP/body" -w '%{http_code}' "$URL/v2/health/live")
expect_eq "$code" 200 "health over TLS"
"$FAASML" deploy "$TMP/echo.yaml" --gateway "$URL" >/dev/null 2>"$TMP/dep.err" &&
    fail "faasml deploy trusted an unknown certificate"
expect_contains "$(cat "$TMP/dep.err")" "certificate" "deploy refused for the certificate, not another cause"
# The admin API takes the JSON form; faasml deploy resolves paths, so build it with python.
python3 - "$TMP/echo.yaml" >"$TMP/echo.json" <<'PY'
import json, sys
d = {}
for line in open(sys.argv[1]):
    k, v = line.rstrip("\n").split(": ", 1)
    d[k] = v
print(json.dumps(d))
PY
code=$(curl -sS --cacert "$TMP/a.crt" -o "$TMP/body" -w '%{http_code}' -X POST \
    -H 'Content-Type: application/json' --data-binary @"$TMP/echo.json" "$URL/admin/functions")
expect_eq "$code" 201 "deploy over TLS: $(body)"
code=$(curl -sS --cacert "$TMP/a.crt" -o "$TMP/body" -w '%{http_code}' -X POST \
    -d '{"over":"tls"}' "$URL/2015-03-31/functions/echo/invocations")
expect_eq "$code" 200 "invoke over TLS"
expect_eq "$(body)" '{"over":"tls"}' "invoke body over TLS"
ok "health, deploy and invoke over TLS"

if curl -sS --cacert "$TMP/b.crt" -o /dev/null "$URL/v2/health/live" 2>"$TMP/curl.err"; then
    fail "a client trusting another certificate connected"
fi
plain=${URL/https:/http:}
code=$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "$plain/v2/health/live" 2>/dev/null ||
    true)
[ "$code" = 200 ] && fail "plain HTTP answered on the TLS port"
if curl -sS --cacert "$TMP/a.crt" --tlsv1.1 --tls-max 1.1 -o /dev/null "$URL/v2/health/live" \
    2>/dev/null; then
    fail "TLS 1.1 accepted"
fi
code=$(curl -sS --cacert "$TMP/a.crt" -o "$TMP/body" -w '%{http_code}' "$URL/v2/health/live")
expect_eq "$code" 200 "still serving after refused handshakes"
ok "wrong trust, plain HTTP and TLS 1.1 get no answer; serving goes on"
kill -TERM "$SERVE_PID"
wait "$SERVE_PID" || true
SERVE_PID=

refused() { # $1 label, $2 expected text, then serve args
    local label=$1 want=$2
    shift 2
    if "$FAASML" serve --listen 127.0.0.1:0 "$@" >"$TMP/x.out" 2>"$TMP/x.err"; then
        fail "$label: serve started"
    fi
    expect_contains "$(cat "$TMP/x.err")" "$want" "$label"
    ok "$label: $want"
}
refused "key of another certificate" "key values mismatch" \
    --tls-cert "$TMP/a.crt" --tls-key "$TMP/b.key"
refused "certificate without key" "both a certificate and its key" --tls-cert "$TMP/a.crt"
printf 'not a certificate\n' >"$TMP/junk.crt"
refused "not PEM" "junk.crt" --tls-cert "$TMP/junk.crt" --tls-key "$TMP/a.key"
