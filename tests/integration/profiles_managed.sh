#!/usr/bin/env bash
# The managed profile live: an instance runs inst.workers runtime processes (two requests run at
# once on one instance), target tracking scales out when invocations per instance exceed the
# target, the new instance serves only after the provisioning delay, and scale-in follows after
# the cooldown once traffic stops. Short delays come from the spec's policy overrides.
source "$FM_SOURCE_DIR/tests/fixtures/platform/lib.sh"

start_serve --db "$TMP/results.db"
write_spec ep echo "profile: managed" "platform: sagemaker-m5-large" "timeout_s: 10" \
    "policy:" \
    "  inst: {min: 1, max: 2, workers: 2, provision_delay: 1500ms}" \
    "  scale: {target_per_min: 150, period: 1s, out_datapoints: 1, in_datapoints: 2," \
    "          out_cooldown: 1s, in_cooldown: 2s}"
deploy ep

inst() { # instances of ep in a state
    local v
    v=$(metric "faasml_instances{function=\"ep\",state=\"$1\"}")
    echo "${v:-0}"
}
# min 1: one instance at deploy, before any request.
for _ in $(seq 100); do [ "$(inst idle)" = 1 ] && break; sleep 0.05; done
expect_eq "$(inst idle)" 1 "inst.min instance ready at deploy"

# Two workers: two 2-second requests on the one instance finish together, not one after another.
t0=$(date +%s%N)
curl -sS --max-time 20 -o "$TMP/a" -X POST "$URL/2015-03-31/functions/ep/invocations" \
    --data-binary '{"op":"sleep","s":2}' &
a=$!
curl -sS --max-time 20 -o "$TMP/b" -X POST "$URL/2015-03-31/functions/ep/invocations" \
    --data-binary '{"op":"sleep","s":2}' &
b=$!
wait $a $b || fail "a concurrent request failed"
t1=$(date +%s%N)
expect_contains "$(cat "$TMP/a")$(cat "$TMP/b")" '"slept": 2}{"slept": 2' "both answered"
el=$(((t1 - t0) / 1000000))
[ "$el" -lt 3600 ] || fail "two requests on a 2-worker instance took ${el} ms (serialised?)"
expect_eq "$(inst starting)" 0 "no scale-out for one burst"
ok "managed instance with 2 workers serves 2 requests at once (${el} ms)"

# Offered load ~8/s against a target of 2.5/s per instance: scale-out after one datapoint.
(for _ in $(seq 60); do
    curl -sS --max-time 10 -o /dev/null -X POST "$URL/2015-03-31/functions/ep/invocations" \
        --data-binary '{}' &
    sleep 0.125
done; wait) &
LOAD=$!
t_start=
for _ in $(seq 120); do
    [ "$(inst starting)" = 1 ] && { t_start=1; break; }
    sleep 0.05
done
[ -n "$t_start" ] || fail "no scale-out under load"
t_ready=
for _ in $(seq 200); do
    s=$(($(inst idle) + $(inst busy)))
    [ "$s" = 2 ] && { t_ready=1; break; }
    sleep 0.05
done
[ -n "$t_ready" ] || fail "the scaled-out instance never served"
ok "scale-out under load; the new instance joins after its provisioning (seen as starting first)"
wait $LOAD || true

# Traffic stopped: low datapoints, cooldown, then back to inst.min.
for _ in $(seq 150); do
    s=$(($(inst idle) + $(inst busy) + $(inst starting)))
    [ "$s" = 1 ] && break
    sleep 0.1
done
expect_eq "$(($(inst idle) + $(inst busy) + $(inst starting)))" 1 "scale-in to inst.min"
ok "scale-in to inst.min after the cooldown"
sleep 1.5 # one more per-second point after the scale-in

# Records: the instances-by-state series shows the starting instance and two in service; the
# instances were billed per instance-second, requests carry no per-request billing.
kill -TERM "$SERVE_PID"
wait "$SERVE_PID" || true
SERVE_PID=
"$FAASML" db "$TMP/results.db" --csv points >"$TMP/points.csv"
python3 - "$TMP/points.csv" <<'PY' || fail "the points do not show scale-out then scale-in"
import csv, sys
by_t = {}
for r in csv.DictReader(open(sys.argv[1])):
    if r["function"] == "ep" and r["metric"].startswith("instances_"):
        by_t.setdefault(int(r["t_ns"]), {})[r["metric"]] = float(r["value"])
ts = sorted(by_t)
serving = [by_t[t].get("instances_idle", 0) + by_t[t].get("instances_busy", 0) for t in ts]
starting = [by_t[t].get("instances_starting", 0) for t in ts]
first_start = next(i for i, v in enumerate(starting) if v >= 1 and serving[i] >= 1)
first_two = next(i for i, v in enumerate(serving) if v >= 2)
assert first_start < first_two, (starting, serving)       # provisioning, then in service
assert any(v == 1 for v in serving[first_two:]), serving  # and back to inst.min
PY
# The provisioning delay, from the records: the scaled-out instance's process was ready long
# before 1.5 s, yet no request ran on it earlier than 1.5 s after it was created.
"$FAASML" db "$TMP/results.db" --csv instances >"$TMP/inst.csv"
"$FAASML" db "$TMP/results.db" --csv requests >"$TMP/req.csv"
python3 - "$TMP/inst.csv" "$TMP/req.csv" <<'PY' || fail "a scaled-out instance served inside its provisioning delay"
import csv, sys
insts = [r for r in csv.DictReader(open(sys.argv[1])) if r["function"] == "ep"]
reqs = [r for r in csv.DictReader(open(sys.argv[2])) if r["function"] == "ep" and r["status"] == "ok"]
new = sorted(insts, key=lambda r: int(r["created_ns"]))[1]  # the first scale-out
created, ready = int(new["created_ns"]), int(new["ready_ns"])
first = min(int(r["done_ns"]) - float(r["duration_ms"]) * 1e6 for r in reqs if r["instance"] == new["id"])
print("process ready after %.0f ms, first request after %.0f ms" % ((ready - created) / 1e6, (first - created) / 1e6))
assert first - created >= 1.5e9, (first - created) / 1e6
PY
"$FAASML" db "$TMP/results.db" --csv costs >"$TMP/costs.csv"
grep -q 'managed.instance_s:ep' "$TMP/costs.csv" || fail "no instance-seconds billed"
grep -q 'managed.gb_s:ep' "$TMP/costs.csv" && fail "a managed endpoint billed per request GB-s"
n=$("$FAASML" db "$TMP/results.db" --csv instances | grep -c ',ep,' || true)
[ "$n" -ge 2 ] || fail "expected >= 2 instance rows, got $n"
ok "points, instances and instance-second costs recorded"
