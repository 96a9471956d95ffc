#!/usr/bin/env bash
# The AWS documents `faasml package` writes, checked against AWS's own machine-readable API
# reference: botocore's service models (the definitions the AWS CLI and boto3 send requests from).
# Each SageMaker file is validated as the input of the call docs/deploy.md feeds it to
# (CreateModel, CreateEndpointConfig, CreateEndpoint, RegisterScalableTarget, PutScalingPolicy):
# required members present, no unknown member, types and ranges right. The SAM template's function
# properties are validated as Lambda CreateFunction, PutFunctionConcurrency and
# PutProvisionedConcurrencyConfig inputs. Both a lambda-profile spec (serverless endpoint) and a
# managed-profile spec (instance-backed, autoscaling) are checked.
set -euo pipefail
FAASML=${FAASML:?FAASML must name the faasml binary}
SRC=${FM_SOURCE_DIR:?FM_SOURCE_DIR must name the source tree}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
if ! "$PY" -c 'import botocore.session, botocore.validate, yaml' 2>/dev/null; then
    echo "# SKIP: botocore and PyYAML are needed (scripts/install-deps.sh installs python3-boto3)"
    exit 77
fi
TMP=$(mktemp -d /tmp/faasml-pkg-man.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
fail() {
    echo "FAIL: $*" >&2
    exit 1
}

"$PY" "$SRC/tests/fixtures/fn/make_onnx.py" gap "$TMP/gap.onnx" 4 4
cat >"$TMP/lam.yaml" <<EOF
name: lam
runtime: builtin-onnx
model: gap.onnx
memory_mb: 3000
timeout_s: 12.5
reserved_concurrency: 40
provisioned_concurrency: 2
environment: {MODE: "fast"}
EOF
cat >"$TMP/ep.yaml" <<EOF
name: ep
runtime: builtin-onnx
model: gap.onnx
profile: managed
policy: {inst: {min: 2, max: 5}}
EOF
ROLE=arn:aws:iam::123456789012:role/faasml
IMG=123456789012.dkr.ecr.us-east-1.amazonaws.com/lam:1
for f in lam ep; do
    "$FAASML" package "$TMP/$f.yaml" -o "$TMP/$f-sm" --format sagemaker --image "$IMG" \
        --role "$ROLE" >/dev/null 2>"$TMP/$f.err" || fail "sagemaker $f: $(cat "$TMP/$f.err")"
done
"$FAASML" package "$TMP/lam.yaml" -o "$TMP/sam" --format sam >/dev/null 2>"$TMP/sam.err" ||
    fail "sam: $(cat "$TMP/sam.err")"

"$PY" - "$TMP" <<'EOF' || fail "an AWS document does not validate"
import json, os, sys
import botocore, botocore.session, botocore.validate, yaml

tmp = sys.argv[1]
session = botocore.session.get_session()
validator = botocore.validate.ParamValidator()

def check(service, op, params, what):
    shape = session.get_service_model(service).operation_model(op).input_shape
    report = validator.validate(params, shape)
    if report.has_errors():
        print(f"{what} as {service} {op}:\n{report.generate_report()}", file=sys.stderr)
        sys.exit(1)
    print(f"ok - {what} is a valid {service} {op} input")

calls = {"sagemaker-model.json": ("sagemaker", "CreateModel"),
         "sagemaker-endpoint-config.json": ("sagemaker", "CreateEndpointConfig"),
         "sagemaker-endpoint.json": ("sagemaker", "CreateEndpoint"),
         "sagemaker-scalable-target.json": ("application-autoscaling", "RegisterScalableTarget"),
         "sagemaker-scaling-policy.json": ("application-autoscaling", "PutScalingPolicy")}
# Members newer than the botocore this machine has (Debian's lags the service): the published API
# reference names them (docs/deploy.md field lists); a model without them cannot check them, so
# they are set aside for the validation and said so, never silently.
sm = session.get_service_model("sagemaker")
newer = []
if "ProvisionedConcurrency" not in sm.shape_for("ProductionVariantServerlessConfig").members:
    newer.append("ProvisionedConcurrency")
    print(f"# botocore {botocore.__version__} predates ServerlessConfig.ProvisionedConcurrency "
          "(API_ProductionVariantServerlessConfig, 1-200, <= MaxConcurrency): not validated here")

def known_only(doc):
    for v in doc.get("ProductionVariants", []):
        for m in newer:
            v.get("ServerlessConfig", {}).pop(m, None)
    return doc

for spec, expect in (("lam", 3), ("ep", 5)):
    d = os.path.join(tmp, spec + "-sm")
    files = sorted(os.listdir(d))
    assert len(files) == expect, (spec, files)
    for f in files:
        service, op = calls[f]
        check(service, op, known_only(json.load(open(os.path.join(d, f)))), f"{spec}/{f}")

# the numbers landed where the engines read them
ec = json.load(open(os.path.join(tmp, "lam-sm", "sagemaker-endpoint-config.json")))
sc = ec["ProductionVariants"][0]["ServerlessConfig"]
assert sc == {"MemorySizeInMB": 3072, "MaxConcurrency": 40, "ProvisionedConcurrency": 2}, sc
pol = json.load(open(os.path.join(tmp, "ep-sm", "sagemaker-scaling-policy.json")))
assert pol["TargetTrackingScalingPolicyConfiguration"]["PredefinedMetricSpecification"] == \
    {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}, pol
tg = json.load(open(os.path.join(tmp, "ep-sm", "sagemaker-scalable-target.json")))
assert (tg["MinCapacity"], tg["MaxCapacity"]) == (2, 5), tg

# SAM: the function's properties as the Lambda calls CloudFormation makes from them
t = yaml.safe_load(open(os.path.join(tmp, "sam", "template.yaml")))
assert t["Transform"] == "AWS::Serverless-2016-10-31", t
(fn,) = t["Resources"].values()
assert fn["Type"] == "AWS::Serverless::Function", fn
p = fn["Properties"]
zip_path = os.path.join(tmp, "sam", p["CodeUri"])
assert os.path.getsize(zip_path) > 0
check("lambda", "CreateFunction",
      {"FunctionName": p["FunctionName"], "Runtime": p["Runtime"], "Role": "arn:aws:iam::123456789012:role/l",
       "Handler": p["Handler"], "Code": {"ZipFile": b"PK"}, "PackageType": p["PackageType"],
       "Architectures": p["Architectures"], "MemorySize": p["MemorySize"], "Timeout": p["Timeout"],
       "Environment": p["Environment"]}, "sam/template.yaml properties")
check("lambda", "PutFunctionConcurrency",
      {"FunctionName": p["FunctionName"],
       "ReservedConcurrentExecutions": p["ReservedConcurrentExecutions"]}, "sam reserved concurrency")
check("lambda", "PutProvisionedConcurrencyConfig",
      {"FunctionName": p["FunctionName"], "Qualifier": p["AutoPublishAlias"],
       "ProvisionedConcurrentExecutions":
           p["ProvisionedConcurrencyConfig"]["ProvisionedConcurrentExecutions"]},
      "sam provisioned concurrency")
assert (p["MemorySize"], p["Timeout"], p["ReservedConcurrentExecutions"]) == (3000, 13, 40), p
EOF

# a validator that can fail: a document with an unknown member is refused
"$PY" - <<'EOF' || fail "botocore accepted an unknown member"
import sys
import botocore.session, botocore.validate
shape = botocore.session.get_session().get_service_model("sagemaker").operation_model(
    "CreateEndpoint").input_shape
r = botocore.validate.ParamValidator().validate(
    {"EndpointName": "x", "EndpointConfigName": "y", "Bogus": 1}, shape)
sys.exit(0 if r.has_errors() else 1)
EOF
echo "ok - the validator refuses an unknown member"
