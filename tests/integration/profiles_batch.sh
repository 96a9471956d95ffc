#!/usr/bin/env bash
# Dynamic batching live: requests queued for a builtin-onnx function are merged along the batch
# dimension into one invocation, and each caller gets its own rows. Checked against an unbatched
# function of the same model: outputs equal (the same text), batch sizes recorded per request
# (batch_kind server), a client-side batch recorded as "client", mismatched shapes refused. Binary
# tensors (the KServe v2 binary extension) batch too, alone or mixed with JSON callers.
source "$FM_SOURCE_DIR/tests/fixtures/platform/lib.sh"

if ! "$FAASML" fn --help >/dev/null 2>&1; then
    echo "# SKIP: the function host (faasml fn) is not built in this tree"
    exit 0
fi
MODEL=$SRC/tests/fixtures/infer/conv_net.onnx # x [batch,3,16,16] -> prob [batch,10], c4
start_serve --db "$TMP/results.db"
cat >"$TMP/one.yaml" <<EOY
name: one
runtime: builtin-onnx
model: $MODEL
memory_mb: 512
timeout_s: 20
provisioned_concurrency: 1
EOY
# One instance (reserved 1) and a long max delay: four concurrent requests wait and go as one.
cat >"$TMP/bat.yaml" <<EOY
name: bat
runtime: builtin-onnx
model: $MODEL
memory_mb: 512
timeout_s: 20
reserved_concurrency: 1
provisioned_concurrency: 1
batch: {max_size: 4, max_delay_ms: 1500}
EOY
deploy one
deploy bat
for f in one bat; do
    for _ in $(seq 200); do
        [ "$(metric "faasml_instances{function=\"$f\",state=\"idle\"}")" = 1 ] && break
        sleep 0.05
    done
done

python3 - "$TMP" <<'PY'
import json, random, sys
random.seed(7)
for i in range(5):
    n = 2 if i == 4 else 1  # request 4 is a client-side batch of 2
    data = [round(random.uniform(-2, 2), 4) for _ in range(n * 3 * 16 * 16)]
    req = {"id": "r%d" % i, "inputs": [{"name": "x", "datatype": "FP32",
                                        "shape": [n, 3, 16, 16], "data": data}],
           "outputs": [{"name": "prob"}]}
    open("%s/req%d.json" % (sys.argv[1], i), "w").write(json.dumps(req))
    # the same values as a binary tensor: JSON header, then the float32 bytes
    import struct
    raw = struct.pack("<%df" % len(data), *data)
    del req["inputs"][0]["data"]
    req["inputs"][0]["parameters"] = {"binary_data_size": len(raw)}
    hdr = json.dumps(req).encode()
    open("%s/bin%d.body" % (sys.argv[1], i), "wb").write(hdr + raw)
    open("%s/bin%d.hl" % (sys.argv[1], i), "w").write(str(len(hdr)))
PY

# Four single requests at once through KServe and the Invoke API: one batch of 4.
pids=()
for i in 0 1 2 3; do
    if [ $((i % 2)) = 0 ]; then
        curl -sS --max-time 30 -o "$TMP/bat$i.json" -X POST "$URL/v2/models/bat/infer" \
            --data-binary "@$TMP/req$i.json" &
    else
        curl -sS --max-time 30 -o "$TMP/bat$i.json" -H 'X-Amz-Log-Type: Tail' -D "$TMP/h$i" \
            -X POST "$URL/2015-03-31/functions/bat/invocations" --data-binary "@$TMP/req$i.json" &
    fi
    pids+=($!)
done
wait "${pids[@]}" || fail "a batched request failed"
for i in 0 1 2 3 4; do
    code=$(curl -sS --max-time 30 -o "$TMP/one$i.json" -w '%{http_code}' -X POST \
        "$URL/v2/models/one/infer" --data-binary "@$TMP/req$i.json")
    expect_eq "$code" 200 "unbatched request $i: $(cat "$TMP/one$i.json")"
done
# The client-side batch alone (the batch function sees one request carrying 2).
code=$(curl -sS --max-time 30 -o "$TMP/bat4.json" -w '%{http_code}' -X POST \
    "$URL/v2/models/bat/infer" --data-binary "@$TMP/req4.json")
expect_eq "$code" 200 "client batch: $(cat "$TMP/bat4.json")"

python3 - "$TMP" <<'PY' || fail "batched outputs differ from unbatched ones"
import json, sys
t = sys.argv[1]
for i in range(5):
    b = json.load(open("%s/bat%d.json" % (t, i)))
    u = json.load(open("%s/one%d.json" % (t, i)))
    assert b["id"] == "r%d" % i, (i, b.get("id"))
    bo = {o["name"]: o for o in b["outputs"]}
    uo = {o["name"]: o for o in u["outputs"]}
    assert list(bo) == ["prob"] and list(uo) == ["prob"], (i, list(bo), list(uo))
    assert bo["prob"]["shape"] == uo["prob"]["shape"], (i, bo["prob"]["shape"])
    assert bo["prob"]["data"] == uo["prob"]["data"], (i, bo["prob"]["data"][:3], uo["prob"]["data"][:3])
print("ok")
PY
ok "4 concurrent requests merged into one invocation; each caller's rows equal unbatched output"
grep -qi '^X-Amz-Log-Result' "$TMP/h1" || fail "no log tail for a batched Invoke request"
grep -i '^X-Amz-Log-Result' "$TMP/h1" | cut -d' ' -f2 | tr -d '\r' | base64 -d | grep -q '^REPORT' \
    || fail "the batched request's log tail has no REPORT line"
ok "a batched Invoke request keeps its own X-Amz-Log-Result REPORT line"

# Binary callers: four at once (merged as bytes), then two binary and two JSON at once (merged as
# JSON). Each answer is the unbatched JSON answer to the same values.
post_bin() { # i out: request i as a binary tensor to the batching function
    curl -sS --max-time 30 -o "$2" -X POST "$URL/v2/models/bat/infer" \
        -H "Inference-Header-Content-Length: $(cat "$TMP/bin$1.hl")" \
        -H 'Content-Type: application/octet-stream' --data-binary "@$TMP/bin$1.body"
}
pids=()
for i in 0 1 2 3; do
    post_bin "$i" "$TMP/bbin$i.json" &
    pids+=($!)
done
wait "${pids[@]}" || fail "a batched binary request failed"
pids=()
for i in 0 1 2 3; do
    if [ "$i" -lt 2 ]; then
        post_bin "$i" "$TMP/bmix$i.json" &
    else
        curl -sS --max-time 30 -o "$TMP/bmix$i.json" -X POST "$URL/v2/models/bat/infer" \
            --data-binary "@$TMP/req$i.json" &
    fi
    pids+=($!)
done
wait "${pids[@]}" || fail "a mixed batched request failed"
python3 - "$TMP" <<'PY' || fail "batched binary outputs differ from unbatched ones"
import json, sys
t = sys.argv[1]
for kind in ("bbin", "bmix"):
    for i in range(4):
        b = json.load(open("%s/%s%d.json" % (t, kind, i)))
        u = json.load(open("%s/one%d.json" % (t, i)))
        assert b.get("id") == "r%d" % i, (kind, i, b)
        assert b["outputs"][0]["data"] == u["outputs"][0]["data"], (kind, i, b["outputs"][0]["data"][:3])
print("ok")
PY
ok "4 binary requests, then 2 binary + 2 JSON, batched; each caller's rows equal unbatched output"
printf '{"inputs":[{"name":"x","datatype":"FP32","shape":[1,3,16,16],"parameters":{"binary_data_size":3072}}],"parameters":{"binary_data_output":true}}' >"$TMP/bo.hdr"
head -c 3072 /dev/zero | cat "$TMP/bo.hdr" - >"$TMP/bo.body"
code=$(curl -sS --max-time 30 -o "$TMP/bo.json" -w '%{http_code}' -X POST \
    "$URL/v2/models/bat/infer" -H "Inference-Header-Content-Length: $(wc -c <"$TMP/bo.hdr")" \
    -H 'Content-Type: application/octet-stream' --data-binary "@$TMP/bo.body")
expect_eq "$code" 400 "binary outputs from a batching function"
expect_contains "$(cat "$TMP/bo.json")" "binary_data_output cannot be batched" "error names it"
ok "binary outputs asked of a batching function: 400 naming binary_data_output"

# Shapes that cannot be merged with the model are refused at arrival with a clear error.
code=$(curl -sS --max-time 30 -o "$TMP/bad.json" -w '%{http_code}' -X POST \
    "$URL/v2/models/bat/infer" --data-binary '{"inputs":[{"name":"x","datatype":"FP32","shape":[],"data":[1]}]}')
expect_eq "$code" 400 "a scalar input to a batching function"
expect_contains "$(cat "$TMP/bad.json")" "batch dimension" "error names the problem"
ok "bad input to a batching function answered 400"

kill -TERM "$SERVE_PID"
wait "$SERVE_PID" || true
SERVE_PID=
"$FAASML" db "$TMP/results.db" --csv requests >"$TMP/req.csv"
python3 - "$TMP/req.csv" <<'PY' || fail "batch sizes not recorded: $(cat "$TMP/req.csv")"
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["function"] == "bat"]
ok = [r for r in rows if r["status"] == "ok"]
server = [r for r in ok if r["batch_kind"] == "server"]
client = [r for r in ok if r["batch_kind"] == "client"]
assert len(server) == 12 and all(r["batch_size"] == "4" for r in server), [(r["batch_size"], r["batch_kind"]) for r in ok]
assert len(client) == 1 and client[0]["batch_size"] == "2", client
# the unbatched function sees the same client batch in its response and records it too
one = [r for r in csv.DictReader(open(sys.argv[1])) if r["function"] == "one" and r["status"] == "ok"]
kinds = sorted((r["batch_size"], r["batch_kind"]) for r in one)
assert kinds == [("1", "")] * 4 + [("2", "client")], kinds
print("ok")
PY
ok "records: batch_size 4 / server for the 12 merged requests, 2 / client for client batches"
