#!/usr/bin/env bash
# Who set the pace. (1) Asked for far more than it can send, the generator says it was the
# limit (summary, --json and a warning). (2) A target that stalls does not slow the sending
# schedule: the requests it holds fill --max-in-flight, every later one is counted as dropped at
# its scheduled time, and the generator does not blame itself. (3) A generator the machine holds
# back (stopped for 400 ms: a backlog of 200 arrivals, more than one batch of 64) says so, and does
# not blame its own loop for the backlog it works off.
source "$(dirname "$0")/load_lib.bash"
start_server s
start_server stall --stall-at 1 --stall-ms 4000

# 1. 3 million requests per second for 0.2 s: no loop on any machine keeps that
timeout 60 "$FAASML" load -p constant --rate 3000000 -d 200ms --url "$URL_s/fast" -c 32 \
    --db none -q --json >"$T/gen.json" 2>"$T/gen.err"
python3 - "$T/gen.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
assert j['scheduled'] == 600000, j['scheduled']
assert j['generator_limited'] is True and j['host_delayed'] in (True, False), "generator_limited: %s" % j['generator_limited']
sent = sum(j['per_second']['sent'])
assert j['per_second']['planned'][0] == 600000 == sum(j['per_second']['planned']), j['per_second']
assert sent < 0.98 * 600000, "sent %d of 600000" % sent
assert j['counts']['ok'] + j['counts']['dropped'] + j['counts']['error'] + j['counts']['conn_error'] \
    + j['counts']['timeout'] == 600000, j['counts']
PY
grep -q 'warning: the generator was the limit, not the target' "$T/gen.err" \
    || fail "no warning: $(cat "$T/gen.err")"
"$FAASML" load -p constant --rate 3000000 -d 50ms --url "$URL_s/fast" -c 32 --db none -q \
    >"$T/gen.txt" 2>/dev/null
grep -q 'sent / planned per second' "$T/gen.txt" || fail "summary lacks the per-second rates"
grep -q 'late sends (> 1 ms)' "$T/gen.txt" || fail "summary lacks the late sends"

# 2. the target holds every response for 4 s; 400 requests at 200/s with at most 20 in flight
timeout 60 "$FAASML" load -p constant --rate 200 -n 400 --url "$URL_stall/slow" -c 20 --timeout 10s \
    --db none -q --json --csv "$T/stall.csv" >"$T/stall.json" 2>"$T/stall.err"
python3 - "$T/stall.json" "$T/stall.csv" <<'PY'
import csv, json, sys
j = json.load(open(sys.argv[1]))
rows = sorted(csv.DictReader(open(sys.argv[2])), key=lambda r: int(r['id']))
c = j['counts']
assert c['ok'] == 20 and c['dropped'] == 380, c
# the first 20 were sent at once; the 380 others were dropped at their scheduled time, not later
sent = [r for r in rows if r['status'] == 'ok']
assert [int(r['id']) for r in sent] == list(range(1, 21)), [r['id'] for r in sent][:30]
disp = sorted(int(r['dispatch_error_ns']) for r in sent)
assert disp[len(disp) // 2] < 20e6, "median dispatch error %.1f ms" % (disp[len(disp) // 2] / 1e6)
# the schedule kept its pace: 400 arrivals over 2 s, planned and sent per second as planned
assert j['per_second']['planned'] == [200, 200], j['per_second']
assert sum(j['per_second']['sent']) == 20, j['per_second']
assert j['generator_limited'] is False, "a stalled target is not the generator's limit: %s" % {k: j[k] for k in ('behind', 'late_sends', 'loop_busy_fraction')}
# (arrivals picked up late because the kernel ran the loop late are the machine's, not counted)
# every dropped request says why
drops = [r for r in rows if r['status'] == 'dropped']
assert all(r['error'] == 'max in flight (20) reached' for r in drops), drops[0]
PY
grep -q 'generator was the limit' "$T/stall.err" && fail "warned for a stalled target"
# 3. 1000 requests at 500/s; the whole process is stopped for 400 ms once it is under way
BASE=$(wc -l <"$T/s.log")
timeout 60 "$FAASML" load -p constant --rate 500 -n 1000 --url "$URL_s/fast" -c 256 \
    --db none -q --json >"$T/held.json" 2>"$T/held.err" &
LOADPID=$!
# stop it once the schedule runs (the server has seen 100 requests), not during start-up
for _ in $(seq 200); do [ "$(wc -l <"$T/s.log")" -ge $((BASE + 100)) ] && break; sleep 0.02; done
GEN=$(pgrep -P "$LOADPID") || fail "no faasml under timeout"
kill -STOP "$GEN"
sleep 0.4
kill -CONT "$GEN"
wait "$LOADPID" || fail "load exited $?: $(cat "$T/held.err")"
python3 - "$T/held.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
late = j['late_sends']
assert j['counts']['ok'] == 1000, j['counts']
# the arrivals due while it was stopped, at least 150 of about 200, are the kernel's
assert late['woken_late'] >= 150, late
assert j['behind']['loop_busy'] < 50, "the held-back backlog was blamed on the loop: %s" % j['behind']
assert j['generator_limited'] is False and j['host_delayed'] is True, j
PY
grep -q 'generator was the limit' "$T/held.err" && fail "warned that the generator was the limit"
echo "load_limits: ok"
