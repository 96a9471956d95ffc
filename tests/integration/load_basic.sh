#!/usr/bin/env bash
# faasml load against a local server: counts, recorded rows (store and CSV), the platform headers,
# Lambda/KServe/SageMaker paths, payloads, SigV4 header presence, statuses, and schedule
# determinism.
source "$(dirname "$0")/load_lib.bash"
start_server s

# 1. Lambda Invoke path, Poisson 200/s, 300 requests, store + CSV + JSON summary
timeout 60 "$FAASML" load --rate 200 -n 300 --seed 5 --target "$URL_s" --function f1 \
    --db "$T/r.db" --name basic --csv "$T/r.csv" --json -q --lambda-log-tail >"$T/sum.json"
[ "$(json_get "$T/sum.json" "j['scheduled']")" = 300 ] || fail "scheduled != 300"
[ "$(json_get "$T/sum.json" "j['counts']['ok']")" = 300 ] || fail "ok != 300: $(cat "$T/sum.json")"
[ "$(json_get "$T/sum.json" "j['latency_from_scheduled_ms']['count']")" = 300 ] || fail "hist count"
[ "$(grep -c ' POST /2015-03-31/functions/f1/invocations ' "$T/s.log")" = 300 ] || fail "server saw $(wc -l <"$T/s.log")"
[ "$(grep -c ' Tail$' "$T/s.log")" = 300 ] || fail "X-Amz-Log-Type: Tail not sent"
[ "$(wc -l <"$T/r.csv")" = 301 ] || fail "csv rows"
"$FAASML" db "$T/r.db" --csv requests >"$T/req.csv"
[ "$(wc -l <"$T/req.csv")" = 301 ] || fail "store rows: $(wc -l <"$T/req.csv")"
python3 - "$T/r.csv" "$T/req.csv" "$T/s.log" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert sorted(int(r['id']) for r in rows) == list(range(1, 301)), "ids"
for r in rows:
    s, d, sent, fb, done = (int(r[k]) for k in ('scheduled_ns', 'dispatch_ns', 'sent_ns', 'first_byte_ns', 'done_ns'))
    assert 0 < s <= d <= sent <= fb <= done, r
    assert int(r['latency_sched_ns']) == done - s and int(r['latency_sent_ns']) == done - sent, r
    assert int(r['dispatch_error_ns']) == sent - s, r
    assert r['status'] == 'ok' and r['http_code'] == '200', r
    assert r['billed_ms'] == '13.000' and r['memory_mb'] == '1024', r
cold = [r for r in rows if r['cold'] == '1']
assert len(cold) == 1 and cold[0]['init_ms'] == '250.250', "exactly one cold start with its init"
assert {r['instance'] for r in rows} == {'0', '1', '2'}, "instance ids from X-Faasml-Instance"
# the store holds wall-clock times; the server logged its receive wall time for each request
st = list(csv.DictReader(open(sys.argv[2])))
sent = sorted(int(r['sent_ns']) for r in st)
recv = sorted(int(l.split()[0]) for l in open(sys.argv[3]))
assert len(sent) == len(recv) == 300
lag = sorted(b - a for a, b in zip(sent, recv))
assert -5e6 < lag[150] < 50e6, "server receive vs client send (median) %d ns" % lag[150]
assert all(r['status'] == 'ok' and r['function'] == 'f1' for r in st)
PY
"$FAASML" db "$T/r.db" | grep -q 'basic .* done' || fail "run not recorded as done"

# 2. KServe v2 path with a generated tensor; SageMaker path; plain URL with GET
timeout 60 "$FAASML" load --constant --rate 100 -n 20 --target "$URL_s/" --kserve m1 \
    --tensor input:1x3x4x4:FP32 --db none -q >/dev/null 2>&1 && fail "--constant is not an option"
timeout 60 "$FAASML" load -p constant --rate 100 -n 20 --target "$URL_s/" --kserve m1 \
    --tensor input:1x3x4x4:FP32 --db none -q >/dev/null
[ "$(grep -c ' POST /v2/models/m1/infer ' "$T/s.log")" = 20 ] || fail "kserve path"
grep ' /v2/models/m1/infer ' "$T/s.log" | awk '$4 < 100 { exit 1 }' || fail "tensor body too small"
timeout 60 "$FAASML" load -p constant --rate 100 -n 10 --target "$URL_s" --sagemaker --db none -q >/dev/null
[ "$(grep -c ' POST /invocations ' "$T/s.log")" = 10 ] || fail "sagemaker path"
timeout 60 "$FAASML" load -p constant --rate 100 -n 10 --url "$URL_s/plain" --db none -q >/dev/null
[ "$(grep -c ' GET /plain ' "$T/s.log")" = 10 ] || fail "plain GET"

# 2b. --save-body writes the body the run sends (request 1's), alone it sends nothing;
#     -t is --threads (wrk's meaning); the lean client refuses what it cannot speak
n_before=$(wc -l <"$T/s.log")
"$FAASML" load --tensor input:1x3x2x2:FP32 --seed 3 --save-body "$T/body.json"
[ "$(wc -l <"$T/s.log")" = "$n_before" ] || fail "--save-body alone sent requests"
python3 - "$T/body.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
t = j['inputs'][0]
assert t['name'] == 'input' and t['shape'] == [1, 3, 2, 2] and t['datatype'] == 'FP32', t
assert len(t['data']) == 12, len(t['data'])
PY
timeout 60 "$FAASML" load -p constant --rate 100 -n 4 -t 2 --seed 3 --target "$URL_s" --kserve sb \
    --tensor input:1x3x2x2:FP32 --db none -q >/dev/null
[ "$(grep ' /v2/models/sb/infer ' "$T/s.log" | awk '{print $4}' | sort -u)" = "$(wc -c <"$T/body.json")" ] \
    || fail "saved body length differs from the sent one"
timeout 10 "$FAASML" load --rate 1 -n 1 --url "https://127.0.0.1:1/" --client lean --no-check \
    --db none 2>"$T/e" && fail "lean client accepted https"
grep -q 'the lean client speaks plain HTTP/1.1 only' "$T/e" || fail "lean https message: $(cat "$T/e")"

# 3. payload directory, round robin
mkdir "$T/p"; printf 'a' >"$T/p/1"; printf 'bb' >"$T/p/2"; printf 'ccc' >"$T/p/3"
timeout 60 "$FAASML" load -p constant --rate 100 -n 6 --url "$URL_s/dir" --payload "$T/p" --db none -q >/dev/null
[ "$(grep ' /dir ' "$T/s.log" | awk '{print $4}' | sort | uniq -c | awk '{print $1}' | tr -d '\n')" = 222 ] \
    || fail "round robin payloads"

# 4. SigV4: the Authorization header is AWS4-HMAC-SHA256 and X-Amz-Date is present
AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=secret AWS_SESSION_TOKEN=tok \
    timeout 60 "$FAASML" load -p constant --rate 100 -n 5 --url "$URL_s/2015-03-31/functions/g/invocations" \
    --body '{"x":1}' --sigv4 --aws-region us-east-1 --db none -q >/dev/null
[ "$(grep ' /2015-03-31/functions/g/invocations ' "$T/s.log" | grep -c 'AWS4-HMAC-SHA256 1 ')" = 5 ] \
    || fail "sigv4 headers: $(grep '/functions/g/' "$T/s.log" | head -2)"
AWS_ACCESS_KEY_ID= timeout 10 "$FAASML" load --rate 1 -n 1 --url "$URL_s/" --sigv4 --db none 2>"$T/e" \
    && fail "sigv4 without credentials accepted"
grep -q 'needs AWS_ACCESS_KEY_ID' "$T/e" || fail "sigv4 message"

# 5. statuses: throttled, http error, function error
for p in throttle:throttled fail:error fnerror:error; do
    timeout 60 "$FAASML" load -p constant --rate 100 -n 5 --url "$URL_s/${p%%:*}" --body '{}' \
        --db none -q --json >"$T/st.json"
    [ "$(json_get "$T/st.json" "j['counts']['${p##*:}']")" = 5 ] || fail "status ${p}: $(cat "$T/st.json")"
done

# 5b. the libcurl client on the same target gives the same records' shape
timeout 60 "$FAASML" load -p constant --rate 100 -n 20 --client libcurl --target "$URL_s" \
    --function fc --db none -q --json --csv "$T/curl.csv" >"$T/curl.json"
[ "$(json_get "$T/curl.json" "j['client'] + ':' + str(j['counts']['ok'])")" = "libcurl:20" ] \
    || fail "libcurl client: $(cat "$T/curl.json")"
python3 - "$T/curl.csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert len(rows) == 20 and all(r['billed_ms'] == '13.000' for r in rows), rows[0]
assert all(0 < int(r['sent_ns']) <= int(r['first_byte_ns']) <= int(r['done_ns']) for r in rows)
PY

# 6. same seed, same schedule, byte for byte; another seed differs
for s in 1 1 2; do
    "$FAASML" load --mmpp-rates 5,80 --mmpp-sojourn 2s,500ms --mmpp-transition '0,1;1,0' -d 60s \
        --seed $s --schedule-out "$T/sched.$s.$RANDOM"
done
set -- "$T"/sched.1.*
cmp "$1" "$2" || fail "schedules with the same seed differ"
cmp -s "$1" "$T"/sched.2.* && fail "schedules with different seeds are equal"
[ "$(grep -vc '^#' "$1")" -gt 100 ] || fail "schedule too short"

# 7. two timing loops share one schedule exactly: request k is the k-th arrival (+1 ns: run times
#    start at 1), whichever loop sent it
"$FAASML" load --rate 300 -n 200 --seed 4 --schedule-out "$T/sched4"
timeout 60 "$FAASML" load --rate 300 -n 200 --seed 4 --threads 2 --url "$URL_s/two" --db none -q \
    --csv "$T/two.csv" >/dev/null
python3 - "$T/sched4" "$T/two.csv" <<'PY'
import csv, sys
sched = [int(l) for l in open(sys.argv[1]) if not l.startswith('#')]
rows = sorted(csv.DictReader(open(sys.argv[2])), key=lambda r: int(r['id']))
assert [int(r['id']) for r in rows] == list(range(1, 201)), "ids"
assert [int(r['scheduled_ns']) - 1 for r in rows] == sched, "scheduled times differ from the schedule"
assert all(r['status'] == 'ok' for r in rows)
PY
[ "$(grep -c ' GET /two ' "$T/s.log")" = 200 ] || fail "two loops: server count"

# 8. dry run prints statistics and sends nothing
n_before=$(wc -l <"$T/s.log")
"$FAASML" load --rate 50 -d 20s --dry-run --json --url "$URL_s/" >"$T/dry.json"
[ "$(json_get "$T/dry.json" "abs(j['mean_rate'] - 50) < 10")" = True ] || fail "dry-run mean rate"
[ "$(wc -l <"$T/s.log")" = "$n_before" ] || fail "dry run sent requests"
"$FAASML" load --mmpp-rates 5,80 --mmpp-sojourn 2s,500ms --mmpp-transition '0,1;1,0' -d 600s \
    --dry-run | grep -q 'IDC(inf)=' || fail "dry run mmpp theory"
echo "load_basic: ok"
