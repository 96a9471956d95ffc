#!/usr/bin/env bash
# The real AWS CLI (Debian's awscli, installed by scripts/install-deps.sh) drives faasml serve
# through --endpoint-url: a successful invoke, a function error and an unknown function; then
# boto3 (python3-boto3) the same way, including a throttle surfacing as TooManyRequestsException.
source "$FM_SOURCE_DIR/tests/fixtures/platform/lib.sh"

AWS=/usr/bin/aws
if [ ! -x "$AWS" ]; then
    echo "# SKIP: /usr/bin/aws is not installed (scripts/install-deps.sh installs awscli)"
    exit 0
fi
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_PAGER=
export AWS_EC2_METADATA_DISABLED=true AWS_MAX_ATTEMPTS=1 AWS_RETRY_MODE=standard
export HOME="$TMP"

start_serve
write_spec echo echo
deploy echo

lambda() { timeout 60 "$AWS" lambda --endpoint-url "$URL" --region us-east-1 "$@"; }

lambda invoke --function-name echo --cli-binary-format raw-in-base64-out \
    --payload '{"from":"awscli"}' "$TMP/out.json" >"$TMP/meta.json" || fail "aws lambda invoke failed"
expect_eq "$(cat "$TMP/out.json")" '{"from":"awscli"}' "awscli payload"
expect_contains "$(cat "$TMP/meta.json")" '"StatusCode": 200' "awscli status"
expect_contains "$(cat "$TMP/meta.json")" '"ExecutedVersion": "$LATEST"' "awscli version"
ok "aws lambda invoke"

lambda invoke --function-name echo --cli-binary-format raw-in-base64-out --log-type Tail \
    --payload '{"op":"error"}' "$TMP/out.json" >"$TMP/meta.json" || fail "aws lambda invoke (error) failed"
expect_contains "$(cat "$TMP/meta.json")" '"FunctionError": "Unhandled"' "awscli FunctionError"
python3 -c 'import base64,json,sys; print(base64.b64decode(json.load(open(sys.argv[1]))["LogResult"]).decode())' \
    "$TMP/meta.json" >"$TMP/log.txt" || fail "no LogResult"
grep -q '^REPORT RequestId' "$TMP/log.txt" || fail "LogResult without REPORT: $(cat "$TMP/log.txt")"
ok "aws lambda invoke: FunctionError and LogResult"

set +e
lambda invoke --function-name nosuch --cli-binary-format raw-in-base64-out --payload '{}' \
    "$TMP/out.json" >"$TMP/meta.json" 2>"$TMP/err.txt"
rc=$?
set -e
[ "$rc" -ne 0 ] || fail "invoking an unknown function succeeded"
expect_contains "$(cat "$TMP/err.txt")" "ResourceNotFoundException" "awscli 404"
ok "aws lambda invoke: ResourceNotFoundException"

if ! /usr/bin/python3 -c 'import boto3' 2>/dev/null; then
    echo "# SKIP boto3: python3-boto3 is not installed (scripts/install-deps.sh installs it)"
    exit 0
fi
write_spec one echo "reserved_concurrency: 1" "timeout_s: 10"
deploy one
/usr/bin/python3 - "$URL" <<'PY' || fail "boto3 checks failed"
import json, sys, threading, time
import boto3, botocore.config, botocore.exceptions
c = boto3.client("lambda", endpoint_url=sys.argv[1], region_name="us-east-1",
                 config=botocore.config.Config(retries={"max_attempts": 0}))
r = c.invoke(FunctionName="echo", Payload=b'{"from":"boto3"}', LogType="Tail")
assert r["StatusCode"] == 200 and json.load(r["Payload"]) == {"from": "boto3"}, r
assert r["ExecutedVersion"] == "$LATEST" and "LogResult" in r, r
r = c.invoke(FunctionName="echo", InvocationType="Event", Payload=b'{}')
assert r["StatusCode"] == 202, r
r = c.invoke(FunctionName="echo", InvocationType="DryRun", Payload=b'{}')
assert r["StatusCode"] == 204, r
slow = threading.Thread(target=lambda: c.invoke(FunctionName="one", Payload=b'{"op":"sleep","s":1.5}'))
slow.start()
time.sleep(0.7)
try:
    c.invoke(FunctionName="one", Payload=b'{}')
    raise SystemExit("expected a throttle")
except c.exceptions.TooManyRequestsException as e:
    assert e.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded", e.response
slow.join()
try:
    c.invoke(FunctionName="nosuch", Payload=b'{}')
    raise SystemExit("expected ResourceNotFoundException")
except c.exceptions.ResourceNotFoundException:
    pass
PY
ok "boto3: RequestResponse, Event, DryRun, TooManyRequestsException with Reason, ResourceNotFound"
