#!/usr/bin/env bash
# faasml load against a real `faasml serve` gateway: every request ok, cold starts, billed
# duration and memory read from Lambda's REPORT line in the log tail, all rows in the store.
source "$FM_SOURCE_DIR/tests/fixtures/platform/lib.sh"
start_serve --db "$TMP/serve.db"
write_spec echo echo "memory_mb: 256" "timeout_s: 60"
deploy echo
timeout 120 "$FAASML" load -p constant --rate 5 -n 20 --target "$URL" --function echo \
    --timeout 90s --body '{"hello":"load"}' --db "$TMP/load.db" --name plat --csv "$TMP/r.csv" --json -q \
    >"$TMP/sum.json" || fail "faasml load failed"
python3 - "$TMP/sum.json" "$TMP/r.csv" <<'PY' || fail "load against the gateway: $(cat "$TMP/sum.json")"
import csv, json, sys
j = json.load(open(sys.argv[1]))
assert j["scheduled"] == 20 and j["counts"]["ok"] == 20, j["counts"]
rows = list(csv.DictReader(open(sys.argv[2])))
assert len(rows) == 20
assert all(r["memory_mb"] == "256" and float(r["billed_ms"]) >= 1 for r in rows), rows[0]
cold = [r for r in rows if r["cold"] == "1"]
assert 1 <= len(cold) <= 20 and all(float(r["init_ms"]) > 0 for r in cold), "cold starts"
assert all(r["cold"] == "0" for r in rows if r not in cold)
PY
[ "$("$FAASML" db "$TMP/load.db" --csv requests | grep -c ',ok,')" = 20 ] || fail "store rows"
ok "faasml load against faasml serve"
