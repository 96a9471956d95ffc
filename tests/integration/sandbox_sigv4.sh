#!/usr/bin/env bash
# serve --credentials: every request is verified with AWS SigV4. aws cli and boto3 signed with
# the right keys succeed; a wrong secret, an unknown key, another region, a clock 16 minutes off
# (a request replayed after 15 minutes) and a missing signature get Lambda's 403 shapes; an
# invoke-only key cannot administer; with credentials a non-loopback listener is allowed.
source "$FM_SOURCE_DIR/tests/fixtures/platform/lib.sh"
[ -x /usr/bin/aws ] && /usr/bin/python3 -c 'import boto3' 2>/dev/null ||
    { echo "# SKIP: aws cli or boto3 missing (scripts/install-deps.sh installs them)"; exit 77; }
cat >"$TMP/creds.yaml" <<'EOC'
credentials:
  - access_key: AKIDINVOKE
    secret_key: invoke-secret-123
    permissions: [invoke]
  - access_key: AKIDADMIN
    secret_key: admin-secret-456
    permissions: [invoke, admin]
EOC
write_spec echo echo "isolation: process"
start_serve --credentials "$TMP/creds.yaml" --deploy "$TMP/echo.yaml"
export AWS_DEFAULT_REGION=us-east-1 AWS_PAGER= AWS_EC2_METADATA_DISABLED=true
awsl() { # $1 key, $2 secret, $3 region, then aws lambda args
    local k=$1 s=$2 r=$3
    shift 3
    AWS_ACCESS_KEY_ID=$k AWS_SECRET_ACCESS_KEY=$s /usr/bin/aws --region "$r" \
        --endpoint-url "$URL" lambda "$@"
}
awsl AKIDINVOKE invoke-secret-123 us-east-1 invoke --function-name echo \
    --cli-binary-format raw-in-base64-out --payload '{"signed":"cli"}' "$TMP/out.json" \
    >/dev/null 2>"$TMP/cli.err" || fail "aws cli with the right key: $(cat "$TMP/cli.err")"
expect_eq "$(cat "$TMP/out.json")" '{"signed":"cli"}' "aws cli invoke body"
ok "aws cli, right key: invoked"
cli_refused() { # $1 label, $2 expected error type, then awsl args
    local label=$1 want=$2
    shift 2
    if awsl "$@" invoke --function-name echo --payload '{}' "$TMP/out.json" >/dev/null \
        2>"$TMP/cli.err"; then
        fail "$label: aws cli succeeded"
    fi
    expect_contains "$(cat "$TMP/cli.err")" "$want" "$label"
    ok "$label: $want"
}
cli_refused "aws cli, wrong secret" InvalidSignatureException AKIDINVOKE wrong-secret us-east-1
cli_refused "aws cli, unknown key" UnrecognizedClientException AKIDNOBODY x us-east-1
cli_refused "aws cli, wrong region" InvalidSignatureException AKIDINVOKE invoke-secret-123 eu-west-1
code=$(invoke echo '{}')
expect_eq "$code" 403 "unsigned request"
expect_eq "$(hdr x-amzn-ErrorType)" UnrecognizedClientException "unsigned request type"
ok "unsigned: 403 UnrecognizedClientException"

/usr/bin/python3 - "$URL" <<'PY' || fail "boto3 checks failed"
import datetime, json, sys, urllib.request, urllib.error
from unittest import mock
import boto3, botocore.auth, botocore.awsrequest, botocore.credentials

url = sys.argv[1]
ok_key = ("AKIDINVOKE", "invoke-secret-123")
client = boto3.client("lambda", endpoint_url=url, region_name="us-east-1",
                      aws_access_key_id=ok_key[0], aws_secret_access_key=ok_key[1])
r = client.invoke(FunctionName="echo", Payload=b'{"signed":"boto3"}')
assert r["StatusCode"] == 200 and json.loads(r["Payload"].read()) == {"signed": "boto3"}, r
print("ok - boto3, right key: invoked")

def signed(method, path, body, key, when=None):
    """A request signed by botocore's own SigV4Auth, optionally at another time."""
    req = botocore.awsrequest.AWSRequest(method=method, url=url + path, data=body,
                                         headers={"Content-Type": "application/json"})
    auth = botocore.auth.SigV4Auth(botocore.credentials.Credentials(*key), "lambda", "us-east-1")
    if when is None:
        auth.add_auth(req)
    else:
        class Fake(datetime.datetime):
            @classmethod
            def utcnow(cls):
                return when
            @classmethod
            def now(cls, tz=None):
                return when.replace(tzinfo=tz) if tz else when
        with mock.patch.object(botocore.auth.datetime, "datetime", Fake):
            auth.add_auth(req)
    p = req.prepare()
    return urllib.request.Request(p.url, data=p.body, headers=dict(p.headers), method=method)

def send(rq):
    try:
        with urllib.request.urlopen(rq, timeout=20) as resp:
            return resp.status, resp.headers.get("x-amzn-ErrorType"), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("x-amzn-ErrorType"), e.read()

inv = "/2015-03-31/functions/echo/invocations"
now = datetime.datetime.utcnow()
st, t, b = send(signed("POST", inv, b"{}", ok_key))
assert st == 200, (st, t, b)
for label, when in (("clock 16 minutes behind (a replay after 15 minutes)",
                     now - datetime.timedelta(minutes=16)),
                    ("clock 16 minutes ahead", now + datetime.timedelta(minutes=16))):
    st, t, b = send(signed("POST", inv, b"{}", ok_key, when))
    assert st == 403 and t == "InvalidSignatureException" and b"Signature expired" in b, (st, t, b)
    print("ok - boto3 signer, %s: 403 %s" % (label, t))
st, t, b = send(signed("POST", inv, b"{}", ok_key, now - datetime.timedelta(minutes=14)))
assert st == 200, (st, t, b)
print("ok - boto3 signer, 14 minutes old: still accepted (SigV4's window)")
rq = signed("POST", inv, b"{}", ok_key)
tampered = urllib.request.Request(rq.full_url, data=b'{"x":1}', headers=rq.headers, method="POST")
st, t, b = send(tampered)
assert st == 403 and t == "InvalidSignatureException", (st, t, b)
print("ok - body changed after signing: 403 InvalidSignatureException")
st, t, b = send(signed("GET", "/admin/functions", None, ok_key))
assert st == 403 and t == "AccessDeniedException", (st, t, b)
print("ok - invoke-only key on the admin API: 403 AccessDeniedException")
st, t, b = send(signed("GET", "/admin/functions", None, ("AKIDADMIN", "admin-secret-456")))
assert st == 200 and b"echo" in b, (st, t, b)
print("ok - admin key on the admin API: 200")
PY

# faasml's own client commands sign with the AWS SDKs' environment variables.
write_spec echo2 echo "isolation: process"
if "$FAASML" deploy "$TMP/echo2.yaml" --gateway "$URL" >/dev/null 2>"$TMP/dep.err"; then
    fail "faasml deploy without credentials succeeded"
fi
expect_contains "$(cat "$TMP/dep.err")" "not signed" "unsigned faasml deploy"
if AWS_ACCESS_KEY_ID=AKIDINVOKE AWS_SECRET_ACCESS_KEY=invoke-secret-123 \
    "$FAASML" deploy "$TMP/echo2.yaml" --gateway "$URL" >/dev/null 2>"$TMP/dep.err"; then
    fail "faasml deploy with an invoke-only key succeeded"
fi
expect_contains "$(cat "$TMP/dep.err")" "needs the admin permission" "faasml deploy, invoke-only key"
AWS_ACCESS_KEY_ID=AKIDADMIN AWS_SECRET_ACCESS_KEY=admin-secret-456 \
    "$FAASML" deploy "$TMP/echo2.yaml" --gateway "$URL" >/dev/null 2>"$TMP/dep.err" ||
    fail "faasml deploy with the admin key: $(cat "$TMP/dep.err")"
printf '%s' '{"signed":"faasml"}' >"$TMP/payload.json"
out=$(AWS_ACCESS_KEY_ID=AKIDINVOKE AWS_SECRET_ACCESS_KEY=invoke-secret-123 \
    "$FAASML" invoke echo2 --gateway "$URL" --payload "$TMP/payload.json" 2>"$TMP/inv.err") ||
    fail "faasml invoke with the invoke key: $(cat "$TMP/inv.err")"
expect_contains "$out" '"signed":"faasml"' "faasml invoke, signed"
if AWS_ACCESS_KEY_ID=AKIDINVOKE AWS_SECRET_ACCESS_KEY=invoke-secret-123 AWS_REGION=eu-west-1 \
    "$FAASML" invoke echo2 --gateway "$URL" --payload "$TMP/payload.json" >/dev/null \
    2>"$TMP/inv.err"; then
    fail "faasml invoke signed for another region succeeded"
fi
expect_contains "$(cat "$TMP/inv.err")" "scoped to a valid region" "faasml invoke, wrong region"
ok "faasml deploy and invoke sign with AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (admin key deploys)"
kill -TERM "$SERVE_PID"
wait "$SERVE_PID" || true
SERVE_PID=

# With credentials, a listener beyond loopback starts (requests still come from 127.0.0.1 here).
"$FAASML" serve --listen 0.0.0.0:0 --credentials "$TMP/creds.yaml" >"$TMP/any.out" \
    2>"$TMP/any.err" &
SERVE_PID=$!
for _ in $(seq 100); do grep -q '^listening on ' "$TMP/any.out" 2>/dev/null && break; sleep 0.05; done
grep -q '^listening on ' "$TMP/any.out" || fail "serve --listen 0.0.0.0 with credentials did not start: $(cat "$TMP/any.err")"
port=$(sed -n 's/^listening on http:\/\/.*:\([0-9]*\)$/\1/p' "$TMP/any.out")
code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$port/2015-03-31/functions/echo/invocations" -d '{}')
expect_eq "$code" 403 "non-loopback listener: unsigned request refused"
ok "--listen 0.0.0.0 with --credentials: starts, and verifies"
