#!/usr/bin/env bash
# Coordinated omission: the server stalls once for 500 ms. An open-loop client keeps sending on
# schedule, so every request scheduled during the stall is sent on time and its latency, counted
# from the scheduled time, covers the rest of the stall.
source "$(dirname "$0")/load_lib.bash"
start_server s --stall-at 60 --stall-ms 500
timeout 60 "$FAASML" load -p constant --rate 200 -n 400 --target "$URL_s" --function f \
    --db none --csv "$T/r.csv" -q >"$T/sum.txt"
[ "$(wc -l <"$T/s.log")" = 400 ] || fail "server saw $(wc -l <"$T/s.log") requests"
python3 - "$T/r.csv" <<'PY'
import csv, sys
rows = sorted(csv.DictReader(open(sys.argv[1])), key=lambda r: int(r['id']))
assert len(rows) == 400 and all(r['status'] == 'ok' for r in rows), "all 400 ok"
sched = [int(r['scheduled_ns']) for r in rows]
done = [int(r['done_ns']) for r in rows]
lat = [int(r['latency_sched_ns']) for r in rows]
disp = sorted(int(r['dispatch_error_ns']) for r in rows)
stalled = [i for i, l in enumerate(lat) if l > 100e6]
# 500 ms at 5 ms spacing: about 100 requests fall in the stall (the first ~80 ms after it starts
# are shortened by when request 60 arrives); a client with coordinated omission would show ~1
assert len(stalled) >= 70, "only %d requests show the stall" % len(stalled)
first = stalled[0]
assert lat[first] > 400e6, "first stalled request waited %.0f ms" % (lat[first] / 1e6)
end = max(done[i] for i in stalled)
for i in stalled:
    # each one waits until the stall ends: latency = stall end - its own scheduled time
    assert abs((sched[i] + lat[i]) - end) < 100e6, "request %d done %.1f ms before stall end" % (i, (end - sched[i] - lat[i]) / 1e6)
# latencies decrease along the stall, one step per 5 ms of schedule
assert lat[stalled[0]] - lat[stalled[-1]] > 300e6
# sends were not held back by the outstanding requests (open loop): a client that waits for
# responses would send these up to 500 ms late. The bounds leave room for a busy machine.
sd = sorted(int(rows[i]['dispatch_error_ns']) for i in stalled)
assert sd[len(sd) // 2] < 50e6, "stalled requests: median dispatch error %.1f ms" % (sd[len(sd) // 2] / 1e6)
p99 = disp[int(len(disp) * 0.99)]
assert p99 < 250e6, "dispatch error p99 %.1f ms" % (p99 / 1e6)
print("stalled requests: %d, first waited %.0f ms, dispatch p99 %.0f us" % (len(stalled), lat[first] / 1e6, p99 / 1e3))
PY
echo "load_stall: ok"
