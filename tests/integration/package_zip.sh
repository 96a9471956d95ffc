#!/usr/bin/env bash
# faasml package --format lambda-zip: the zip unpacks into an empty directory, and its bootstrap
# serves the platform's Runtime API with no file of the host present: `faasml serve` runs a custom
# runtime whose bootstrap enters a fresh mount namespace and chroots into a root that holds only
# the unpacked zip at /var/task (as Lambda mounts it) and /proc (the kernel's, as Lambda has).
# Invocations cold and warm answer exactly what the builtin-onnx function host answers on the same
# platform. Also: the SAM format writes a template next to the same zip, a model over Lambda's
# 250 MB limit is refused with the excess named (before anything is copied), a missing model is a
# clear error.
source "$FM_SOURCE_DIR/tests/fixtures/platform/lib.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

if [ "$(id -u)" != 0 ] || ! unshare -m true 2>/dev/null; then
    echo "# SKIP: the chroot check needs root and mount namespaces (unshare -m)"
    exit 77
fi
command -v zip >/dev/null || fail "zip is not installed (scripts/install-deps.sh)"

"$PY" "$SRC/tests/fixtures/fn/make_onnx.py" gap "$TMP/gap.onnx" 4 4
cat >"$TMP/fn.yaml" <<EOF
name: zipped
runtime: builtin-onnx
model: gap.onnx
memory_mb: 512
timeout_s: 10
args: ["--threads", "1"]
EOF
"$FAASML" package "$TMP/fn.yaml" -o "$TMP/out" --format lambda-zip >"$TMP/pkg.out" \
    2>"$TMP/pkg.err" || fail "package: $(cat "$TMP/pkg.err")"
expect_eq "$(cat "$TMP/pkg.out")" "$TMP/out/zipped.zip" "artifact path"
expect_contains "$(cat "$TMP/pkg.err")" "under Lambda's 250 MB limit" "size report"

mkdir "$TMP/task"
(cd "$TMP/task" && unzip -q "$TMP/out/zipped.zip")
[ -x "$TMP/task/bootstrap" ] || fail "no executable bootstrap at the zip's root"
if command -v file >/dev/null; then
    file -L "$TMP/task/bootstrap" | grep -q "statically linked" ||
        fail "bootstrap is not static: $(file "$TMP/task/bootstrap")"
fi
top=$(cd "$TMP/task" && ls | tr '\n' ' ')
expect_eq "$top" "bootstrap bootstrap.args faasml gap.onnx lib " "zip contents"
ok "zip unpacks into an empty directory: $top"

# A root with nothing but mount points; the wrapper fills them inside its own mount namespace
# (it needs root's mount rights, so it runs with process isolation).
mkdir -p "$TMP/root/var/task" "$TMP/root/proc"
cat >"$TMP/chroot-bootstrap" <<EOF
#!/bin/sh
exec $(command -v unshare) -m --propagation private /bin/sh -c '
    mount --bind "\$1" "\$2/var/task" && mount -t proc proc "\$2/proc" &&
    exec $(command -v chroot) "\$2" /var/task/bootstrap' sh "$TMP/task" "$TMP/root"
EOF
chmod +x "$TMP/chroot-bootstrap"
cat >"$TMP/zipped.yaml" <<EOF
name: zipped
runtime: custom
bootstrap: $TMP/chroot-bootstrap
isolation: process
memory_mb: 512
timeout_s: 10
EOF
cat >"$TMP/host.yaml" <<EOF
name: host
runtime: builtin-onnx
model: $TMP/gap.onnx
memory_mb: 512
timeout_s: 10
args: ["--threads", "1"]
EOF
start_serve
deploy zipped
deploy host
"$PY" - "$TMP/v2.json" <<'EOF'
import json, sys
json.dump({"inputs": [{"name": "input", "shape": [2, 3, 4, 4], "datatype": "FP32",
                       "data": [float(i) / 3 for i in range(96)]}]}, open(sys.argv[1], "w"))
EOF
for round in cold warm; do
    code=$(invoke host "@$TMP/v2.json" -H 'X-Amz-Log-Type: Tail')
    expect_eq "$code" 200 "host $round: $(body)"
    cp "$TMP/body" "$TMP/host.$round"
    code=$(invoke zipped "@$TMP/v2.json" -H 'X-Amz-Log-Type: Tail')
    expect_eq "$code" 200 "zipped $round: $(body)"
    [ -z "$(hdr X-Amz-Function-Error)" ] || fail "zipped $round: function error $(body)"
    if [ $round = cold ]; then
        expect_contains "$(tail_log)" "Init Duration:" "zipped cold start"
    else
        expect_not_contains "$(tail_log)" "Init Duration:" "zipped warm start"
    fi
    cmp "$TMP/host.$round" "$TMP/body" || fail "zipped $round differs: $(body) vs $(cat "$TMP/host.$round")"
done
expect_contains "$(cat "$TMP/host.cold")" '"outputs"' "a real answer"
ok "the zip's bootstrap serves the Runtime API inside a root holding only the zip: cold and warm equal builtin-onnx"

# sam: the template beside the same zip
"$FAASML" package "$TMP/fn.yaml" -o "$TMP/sam" --format sam >"$TMP/sam.out" 2>"$TMP/sam.err" ||
    fail "sam: $(cat "$TMP/sam.err")"
expect_eq "$(head -1 "$TMP/sam.out")" "$TMP/sam/template.yaml" "template first"
[ -s "$TMP/sam/zipped.zip" ] || fail "sam: no zip"
grep -q 'CodeUri: "zipped.zip"' "$TMP/sam/template.yaml" || fail "sam: $(cat "$TMP/sam/template.yaml")"
ok "sam template with its zip"

# over the limit: a sparse 300 MiB model, refused by size before anything is copied
cp "$TMP/gap.onnx" "$TMP/big.onnx"
truncate -s 300M "$TMP/big.onnx"
sed 's/gap.onnx/big.onnx/; s/name: zipped/name: big/' "$TMP/fn.yaml" >"$TMP/big.yaml"
code=0
"$FAASML" package "$TMP/big.yaml" -o "$TMP/bigout" --format lambda-zip 2>"$TMP/big.err" || code=$?
expect_eq "$code" 2 "over the limit: exit status"
expect_contains "$(cat "$TMP/big.err")" "MB over Lambda's 250 MB limit (model 'big.onnx' 300.0 MB" \
    "over the limit: message"
[ ! -e "$TMP/bigout/big.zip" ] || fail "a zip was written over the limit"
ok "over the limit: $(cat "$TMP/big.err")"

# a missing model
sed 's/gap.onnx/nothere.onnx/' "$TMP/fn.yaml" >"$TMP/gone.yaml"
code=0
"$FAASML" package "$TMP/gone.yaml" -o "$TMP/gone" --format lambda-zip 2>"$TMP/gone.err" || code=$?
expect_eq "$code" 2 "missing model: exit status"
expect_contains "$(cat "$TMP/gone.err")" "zipped: model '$TMP/nothere.onnx': No such file or directory" \
    "missing model: message"
ok "missing model: $(cat "$TMP/gone.err")"

# --json: what was written, machine-readable
"$FAASML" package "$TMP/fn.yaml" -o "$TMP/kn" --format knative --image reg.example/z:1 --json \
    >"$TMP/kn.json" 2>/dev/null || fail "knative --json"
"$PY" - "$TMP/kn.json" "$TMP/kn/zipped.knative.yaml" <<'PYEOF' || fail "--json: $(cat "$TMP/kn.json")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["format"] == "knative" and r["files"] == [sys.argv[2]], r
PYEOF
ok "--json lists the files written"
