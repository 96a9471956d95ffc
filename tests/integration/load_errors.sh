#!/usr/bin/env bash
# Bad input is refused before anything is sent; an unreachable target is an error before the run;
# a target that goes away mid-run gives recorded failures and a summary, never a hang.
source "$(dirname "$0")/load_lib.bash"
start_server s

expect_err() { # expect_err CODE MESSAGE args...
    local code=$1 msg=$2; shift 2
    set +e
    timeout 20 "$FAASML" load "$@" --db "$T/bad.db" >"$T/out" 2>"$T/err"
    local rc=$?
    set -e
    [ "$rc" = "$code" ] || fail "exit $rc (want $code) for $*: $(cat "$T/err")"
    grep -qF -- "$msg" "$T/err" || fail "message '$msg' not in: $(cat "$T/err")"
}
printf '0.1\n0.2\nzero\n' >"$T/bad1.txt"
printf '0.1\n0.3\n0.2\n' >"$T/bad2.txt"
printf 'HashOwner,HashApp,HashFunction,Trigger,1,2\no,a,f,http,1\n' >"$T/bad.csv"
expect_err 2 "rate is 0: must be > 0" --rate 0 -n 5 --url "$URL_s/"
expect_err 2 "rate is -3" --rate -3 -n 5 --url "$URL_s/"
expect_err 2 "transition matrix row 1 sums to 0.7, not 1" --mmpp-rates 1,2 --mmpp-sojourn 1s,1s \
    --mmpp-transition '0,1;0.7,0' -n 5 --url "$URL_s/"
expect_err 2 "generator row 0 sums to" --mmpp-rates 1,2 --mmpp-generator '-1,2;1,-1' -n 5 --url "$URL_s/"
expect_err 2 "bad1.txt' line 3: malformed time 'zero'" --trace "$T/bad1.txt" --url "$URL_s/"
expect_err 2 "bad2.txt' line 3: time '0.2' is before the previous line's" --trace "$T/bad2.txt" --url "$URL_s/"
expect_err 2 "line 2: 5 fields, expected 6" --azure "$T/bad.csv" --url "$URL_s/"
expect_err 2 "never ends" --rate 5 --url "$URL_s/"
expect_err 2 "no target" --rate 5 -n 1
expect_err 2 "segment 'ramp:1:2': expected ramp:FROM:TO:DURATION" --segment ramp:1:2 --url "$URL_s/"
[ -s "$T/s.log" ] && fail "bad input reached the server"
[ -e "$T/bad.db" ] && fail "bad input created a results database"

# unreachable: a port nobody listens on (taken from a server that then exits)
start_server gone
kill "$PID_gone"; wait "$PID_gone" 2>/dev/null || true
expect_err 1 "cannot connect to '$URL_gone/2015-03-31/functions/f/invocations'" --rate 5 -n 5 \
    --target "$URL_gone" --function f
grep -qF "nothing was sent" "$T/err" || fail "unreachable message"

# timestamp trace replay: 50 arrivals over 0.49 s
python3 -c "print('\n'.join('%.3f' % (i * 0.01 + 1000) for i in range(50)))" >"$T/t.txt"
timeout 30 "$FAASML" load --trace "$T/t.txt" --url "$URL_s/trace" --db none -q --json >"$T/tr.json"
[ "$(json_get "$T/tr.json" "j['counts']['ok']")" = 50 ] || fail "trace replay"
[ "$(grep -c ' /trace ' "$T/s.log")" = 50 ] || fail "trace replay server count"

# azure trace statistics: counts are kept exactly with uniform and equal spreads
printf 'HashOwner,HashApp,HashFunction,Trigger,1,2,3\no,a,f1,http,30,0,12\no,a,f2,timer,5,5,5\n' >"$T/az.csv"
for sp in uniform equal; do
    "$FAASML" load --azure "$T/az.csv" --spread $sp --dry-run --json >"$T/az.json"
    [ "$(json_get "$T/az.json" "j['count']")" = 57 ] || fail "azure $sp count"
done
"$FAASML" load --azure "$T/az.csv" --azure-function f2 --dry-run --json >"$T/az.json"
[ "$(json_get "$T/az.json" "j['count']")" = 15 ] || fail "azure function filter"

# the target goes away after 40 requests: failures are recorded, the run ends with a summary
start_server die --die-at 40
timeout 60 "$FAASML" load -p constant --rate 200 -n 200 --url "$URL_die/x" --timeout 2s \
    --db "$T/die.db" --json -q >"$T/die.json" || fail "run against a dying target failed"
ok=$(json_get "$T/die.json" "j['counts']['ok']")
bad=$(json_get "$T/die.json" "j['counts']['conn_error'] + j['counts']['timeout']")
[ "$ok" -ge 30 ] && [ "$ok" -le 40 ] || fail "ok=$ok"
[ "$((ok + bad))" = 200 ] || fail "ok+failed = $((ok + bad)) of 200: $(cat "$T/die.json")"
[ "$("$FAASML" db "$T/die.db" --csv requests | grep -c ',conn_error,')" -ge 150 ] || fail "failures not stored"
echo "load_errors: ok"

# Ctrl-C: scheduling stops, outstanding requests finish, the run is recorded as interrupted
"$FAASML" load -p constant --rate 100 -d 60s --url "$URL_s/int" --db "$T/int.db" --json \
    --progress 200ms >"$T/int.json" 2>"$T/int.err" &
LP=$!
PIDS+=("$LP")
sleep 1.5
kill -INT "$LP"
for _ in $(seq 100); do kill -0 "$LP" 2>/dev/null || break; sleep 0.1; done
kill -0 "$LP" 2>/dev/null && fail "faasml load did not stop on SIGINT"
wait "$LP" || fail "interrupted run exited $?"
[ "$(json_get "$T/int.json" "j['interrupted']")" = True ] || fail "not marked interrupted"
n=$(json_get "$T/int.json" "j['scheduled']")
[ "$n" -ge 50 ] && [ "$n" -le 300 ] || fail "interrupted after $n requests"
"$FAASML" db "$T/int.db" | grep -q ' interrupted ' || fail "store status: $("$FAASML" db "$T/int.db")"
grep -q '^progress: .* sent [0-9]* in-flight' "$T/int.err" || fail "no progress lines: $(cat "$T/int.err")"

# a YAML workload, with a flag overriding its seed
cat >"$T/w.yaml" <<'YAML'
process: piecewise
spacing: even
segments:
  - {kind: step, rate: 100, duration: 2s}
  - {kind: ramp, from: 100, to: 0, duration: 2s}
YAML
"$FAASML" load --spec "$T/w.yaml" --dry-run --json >"$T/w.json"
[ "$(json_get "$T/w.json" "j['count']")" = 300 ] || fail "yaml workload count: $(cat "$T/w.json")"
"$FAASML" load --spec "$T/w.yaml" --seed 9 --dry-run --json | grep -q '"seed":9' || fail "seed override"
printf 'process: poisson\nrate: -1\nrequests: 5\n' >"$T/w2.yaml"
expect_err 2 "w2.yaml:1:1: rate is -1: must be > 0" --spec "$T/w2.yaml" --url "$URL_s/"
echo "load_errors (signals, yaml): ok"
