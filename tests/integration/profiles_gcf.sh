#!/usr/bin/env bash
# The gcf profile live: Google Cloud Functions gen1 bills in 100 ms steps without INIT (the
# catalogue entry gcf-gen1 in data/prices.yaml: granularity_ms 100, bills_init false), visible in
# the REPORT line of X-Amz-Log-Result and the store.
source "$FM_SOURCE_DIR/tests/fixtures/platform/lib.sh"

start_serve --db "$TMP/results.db"
write_spec g echo "profile: gcf" "timeout_s: 10"
deploy g
# field NAME: a "NAME: X ms" field of the REPORT line (tab-separated)
field() { tail_log | grep '^REPORT' | tr '\t' '\n' | sed -n "s/^$1: \\([0-9.]*\\) ms$/\\1/p"; }
for payload in '{"op":"sleep","s":0.02}' '{"op":"sleep","s":0.15}' '{}'; do
    code=$(invoke g "$payload" -H 'X-Amz-Log-Type: Tail')
    expect_eq "$code" 200 "gcf invoke"
    d=$(field Duration)
    b=$(field "Billed Duration")
    i=$(field "Init Duration")
    [ -n "$d" ] && [ -n "$b" ] || fail "no REPORT line: $(tail_log)"
    # billed = ceil(duration / 100 ms) * 100 ms: gen1 does not bill a cold start's INIT
    want=$(awk -v d="$d" 'BEGIN { x = d / 100; c = int(x); if (c < x - 1e-9) c++; print c * 100 }')
    expect_eq "$b" "$want" "billed duration for duration $d ms, init ${i:-0} ms"
done
ok "gcf bills duration (not INIT) in 100 ms steps"
kill -TERM "$SERVE_PID"
wait "$SERVE_PID" || true
SERVE_PID=
"$FAASML" db "$TMP/results.db" --csv requests >"$TMP/req.csv"
head -1 "$TMP/req.csv" | tr ',' '\n' | grep -n '^billed_ms$' >/dev/null || fail "no billed_ms column"
col=$(head -1 "$TMP/req.csv" | tr ',' '\n' | grep -n '^billed_ms$' | cut -d: -f1)
bad=$(awk -F, -v c="$col" 'NR>1 && $c != "" && ($c % 100) != 0' "$TMP/req.csv" | wc -l)
expect_eq "$bad" 0 "every billed_ms in the store is a multiple of 100"
ok "store rows billed in 100 ms steps"
