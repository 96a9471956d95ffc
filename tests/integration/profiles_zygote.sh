#!/usr/bin/env bash
# Zygote cold starts: a builtin-onnx function with cold_start: zygote forks each new instance from
# a process that loaded the model at deploy. The child's outputs equal an exec-started instance's,
# the records say which path served each cold start (instances.cold_path), and the children are
# real instances: reaped, scaled to zero and started again.
source "$FM_SOURCE_DIR/tests/fixtures/platform/lib.sh"

if ! "$FAASML" fn --help >/dev/null 2>&1; then
    echo "# SKIP: the function host (faasml fn) is not built in this tree"
    exit 0
fi
MODEL=$SRC/tests/fixtures/infer/conv_net.onnx
start_serve --db "$TMP/results.db"
for f in ex zy; do
    {
        echo "name: $f"
        echo "runtime: builtin-onnx"
        echo "model: $MODEL"
        echo "memory_mb: 512"
        echo "timeout_s: 20"
        echo "keep_alive: 300ms"
        [ $f = zy ] && echo "cold_start: zygote"
    } >"$TMP/$f.yaml"
    deploy $f
done
grep -q "'zy': zygote [0-9]* ready" "$TMP/serve.err" || fail "the zygote did not report ready"

python3 - "$TMP/req.json" <<'PY'
import json, random, sys
random.seed(3)
data = [round(random.uniform(-2, 2), 4) for _ in range(2 * 3 * 16 * 16)]
json.dump({"inputs": [{"name": "x", "datatype": "FP32", "shape": [2, 3, 16, 16], "data": data}]},
          open(sys.argv[1], "w"))
PY
for round in 1 2; do
    for f in ex zy; do
        code=$(invoke $f "@$TMP/req.json" -H 'X-Amz-Log-Type: Tail')
        expect_eq "$code" 200 "$f round $round: $(body | head -c 300)"
        expect_contains "$(tail_log)" "Init Duration" "$f round $round is a cold start"
        cp "$TMP/body" "$TMP/$f$round.json"
    done
    cmp -s "$TMP/ex$round.json" "$TMP/zy$round.json" || fail "zygote output differs from exec output"
    # keep_alive 300 ms: wait until both are scaled to zero, so round 2 is cold again
    for _ in $(seq 100); do
        a=$(metric 'faasml_instances{function="zy",state="idle"}')
        b=$(metric 'faasml_instances{function="ex",state="idle"}')
        [ "${a:-0}" = 0 ] && [ "${b:-0}" = 0 ] && break
        sleep 0.05
    done
done
ok "zygote-forked instances answer exactly as exec-started ones (2 cold starts each)"

# A warm request on a zygote child, and a client that sends a 2nd request while the first runs.
code=$(invoke zy "@$TMP/req.json")
expect_eq "$code" 200 "zygote child, cold again"
code=$(invoke zy "@$TMP/req.json" -H 'X-Amz-Log-Type: Tail')
expect_eq "$code" 200 "zygote child, warm"
expect_not_contains "$(tail_log)" "Init Duration" "warm request on a zygote child"
cmp -s "$TMP/body" "$TMP/ex1.json" || fail "warm zygote output differs"
ok "warm requests on a zygote child"

kill -TERM "$SERVE_PID"
wait "$SERVE_PID" || true
SERVE_PID=
"$FAASML" db "$TMP/results.db" --csv instances >"$TMP/inst.csv"
python3 - "$TMP/inst.csv" <<'PY' || fail "instance records: $(cat "$TMP/inst.csv")"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
zy = [r for r in rows if r["function"] == "zy"]
ex = [r for r in rows if r["function"] == "ex"]
assert len(zy) >= 3 and all(r["cold_path"] == "zygote" for r in zy), [(r["cold_path"]) for r in zy]
assert len(ex) >= 2 and all(r["cold_path"] == "exec" for r in ex), [(r["cold_path"]) for r in ex]
# the zygote did the loading: its children report no load phase, exec instances do
assert all(float(r["load_ms"] or 0) == 0 for r in zy), [r["load_ms"] for r in zy]
assert all(float(r["load_ms"] or 0) > 0 for r in ex), [r["load_ms"] for r in ex]
assert all(r["stop_reason"] for r in zy), [r["stop_reason"] for r in zy]
print("zygote spawn_ms", [r["spawn_ms"] for r in zy], "runtime_init_ms", [r["runtime_init_ms"] for r in zy])
print("exec   spawn_ms", [r["spawn_ms"] for r in ex], "runtime_init_ms", [r["runtime_init_ms"] for r in ex])
PY
ok "instances record cold_path zygote / exec with their phases"
