#!/usr/bin/env bash
# Fault and overload figures of `faasml serve` with the echo runtime (tests/fixtures/runtimes/echo):
#   kill      N requests (3000) at RATE/s to a function with 4 provisioned instances (warm from
#             the start: on 2 cores a stampede of cold Python starts takes seconds each) while one live instance is SIGKILLed every second: how many
#             are answered ok, how many get the documented Runtime.ExitError, and how many hang
#             (a client timeout) or get anything else.
#   overload  a function of reserved concurrency C whose requests each sleep S seconds (capacity
#             C/S per second) driven at 10x that for a while: the 429 share, the ok throughput
#             against the capacity, the server's resident memory before/peak/after, and whether
#             the next requests at a tenth of the capacity are all served (recovery).
# usage: bench/platform/faults.sh [path/to/faasml]
# Instances get 256 MB and no CPU quota (platform.yaml cpu_limits: false): at 128 MB the quota (7 %
# of a core) stretches a Python runtime's start to many seconds on a busy host, and the figures
# would measure that; at 1769 MB (one vCPU) the starts that pile up meanwhile fill the host's
# capacity (host_capacity 429s) instead.
# env: N=3000 RATE=20 (kill; on this 2-core machine 50/s spirals: a replacement start slows the
#      warm instances, arrivals then start more Python runtimes, each slowing the rest), C=4 S=0.1 SECS=10 (overload), ONLY=kill|overload
# Prints one `faults:` line per figure; the requests are in $OUT (default a temp dir) as SQLite:
# client.db (faasml load, what the client saw) and serve.db (the platform's requests rows).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
FAASML=$(realpath "${1:-$SRC/build/faasml}")
N=${N:-3000} RATE=${RATE:-20} C=${C:-4} S=${S:-0.1} SECS=${SECS:-10}
OUT=${OUT:-$(mktemp -d /tmp/faasml-faults.XXXXXX)}
mkdir -p "$OUT"
SERVE_PID= KILLER_PID= SAMPLER_PID=
cleanup() {
    for p in $KILLER_PID $SAMPLER_PID; do kill "$p" 2>/dev/null || true; done
    if [ -n "$SERVE_PID" ]; then kill -TERM "$SERVE_PID" 2>/dev/null || true; wait "$SERVE_PID" 2>/dev/null || true; fi
}
trap cleanup EXIT

serve() { # serve NAME: starts faasml serve with its own db, sets URL and SERVE_PID
    printf 'cpu_limits: false\n' >"$OUT/platform.yaml"
    "$FAASML" serve --listen 127.0.0.1:0 --config "$OUT/platform.yaml" --db "$OUT/$1-serve.db" >"$OUT/$1-serve.out" 2>"$OUT/$1-serve.err" &
    SERVE_PID=$!
    for _ in $(seq 200); do grep -q '^listening on ' "$OUT/$1-serve.out" 2>/dev/null && break; sleep 0.05; done
    URL=$(sed -n 's/^listening on //p' "$OUT/$1-serve.out" | head -1)
    [ -n "$URL" ] || { echo "faults: faasml serve did not start" >&2; cat "$OUT/$1-serve.err" >&2; exit 1; }
}
stop_serve() { kill -TERM "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null || true; SERVE_PID=; }
spec() { # spec NAME [extra YAML lines]
    local name=$1; shift
    { echo "name: $name"; echo "runtime: custom"; echo "bootstrap: $SRC/tests/fixtures/runtimes/echo/bootstrap"
      for l in "$@"; do echo "$l"; done; } >"$OUT/$name.yaml"
    "$FAASML" deploy "$OUT/$name.yaml" --gateway "$URL" >/dev/null
}
q() { python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(c.execute(sys.argv[2]).fetchone()[0])' "$@"; }

if [ "${ONLY:-kill}" = kill ] || [ -z "${ONLY:-}" ]; then
    serve kill
    spec k "memory_mb: 256" "timeout_s: 10" "provisioned_concurrency: 4"
    sleep 3 # the provisioned instances start
    # every second, SIGKILL one live instance (a child process of the platform)
    ( while sleep 1; do
          pid=$(pgrep -P "$SERVE_PID" | shuf -n 1 || true)
          [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null && echo "$pid" >>"$OUT/killed.txt"
      done ) &
    KILLER_PID=$!
    "$FAASML" load --target "$URL" --function k -p constant --rate "$RATE" -n "$N" --body '{"x":1}' \
        --timeout 30s --db "$OUT/kill-client.db" --name kill -q >"$OUT/kill-load.out" 2>&1 || true
    kill "$KILLER_PID" 2>/dev/null || true; wait "$KILLER_PID" 2>/dev/null || true; KILLER_PID=
    curl -sS "$URL/metrics" | grep '^faasml_throttles_total{function="k"' | grep -v ' 0$' >"$OUT/kill-throttles.txt" || true
    stop_serve
    db=$OUT/kill-client.db sdb=$OUT/kill-serve.db
    sent=$(q "$db" "select count(*) from requests")
    ok=$(q "$db" "select count(*) from requests where status='ok'")
    fnerr=$(q "$db" "select count(*) from requests where status='error' and http_code=200")
    timeouts=$(q "$db" "select count(*) from requests where status in ('timeout','dropped','conn_error')")
    other=$((sent - ok - fnerr - timeouts))
    exitd=$(q "$sdb" "select count(*) from requests where status='crash'") # answered Runtime.ExitError
    kinds=$(q "$sdb" "select group_concat(s, ', ') from (select status || '/' || coalesce(error,'-') || ' ' || count(*) as s from requests where status != 'ok' group by status, error)")
    echo "faults: kill: $sent requests at $RATE/s, $(wc -l <"$OUT/killed.txt" 2>/dev/null || echo 0) instances SIGKILLed (1/s): ok $ok, function error $fnerr (platform: crash = Runtime.ExitError $exitd), hung/timeout $timeouts, other $other; platform rows not ok: ${kinds:-none}; throttles: $(tr '\n' ' ' <"$OUT/kill-throttles.txt")"
fi

if [ "${ONLY:-overload}" = overload ] || [ -z "${ONLY:-}" ]; then
    serve overload
    spec o "memory_mb: 256" "reserved_concurrency: $C" "timeout_s: 10" "keep_alive: 10m"
    cap=$(python3 -c "print($C / $S)")
    rate=$(python3 -c "print(int(10 * $C / $S))")
    # warm C instances first, so the figure is about overload, not cold starts
    warm=()
    for i in $(seq "$C"); do
        curl -sS -o /dev/null -X POST "$URL/2015-03-31/functions/o/invocations" --data-binary '{"op":"sleep","s":1}' &
        warm+=($!)
    done
    wait "${warm[@]}"
    rss() { awk '/VmRSS/ {print $2}' "/proc/$SERVE_PID/status"; }
    rss0=$(rss)
    ( peak=0; while sleep 0.2; do r=$(rss 2>/dev/null || echo 0); [ "$r" -gt "$peak" ] && peak=$r && echo "$peak" >"$OUT/peak.txt"; done ) &
    SAMPLER_PID=$!
    "$FAASML" load --target "$URL" --function o -p constant --rate "$rate" -d "${SECS}s" \
        --body "{\"op\":\"sleep\",\"s\":$S}" --timeout 30s --db "$OUT/overload-client.db" --name overload -q \
        >"$OUT/overload-load.out" 2>&1 || true
    kill "$SAMPLER_PID" 2>/dev/null || true; wait "$SAMPLER_PID" 2>/dev/null || true; SAMPLER_PID=
    rss1=$(rss)
    rrate=$(python3 -c "print(max(1, int($C / $S / 10)))")
    "$FAASML" load --target "$URL" --function o -p constant --rate "$rrate" -d 5s \
        --body "{\"op\":\"sleep\",\"s\":$S}" --timeout 30s --db "$OUT/overload-client.db" --name recovery -q \
        >"$OUT/recovery-load.out" 2>&1 || true
    stop_serve
    db=$OUT/overload-client.db
    run() { q "$db" "select id from runs where name='$1' order by id desc limit 1"; }
    ro=$(run overload) rr=$(run recovery)
    sent=$(q "$db" "select count(*) from requests where run=$ro")
    ok=$(q "$db" "select count(*) from requests where run=$ro and status='ok'")
    thr=$(q "$db" "select count(*) from requests where run=$ro and status='throttled'")
    bad=$((sent - ok - thr))
    rsent=$(q "$db" "select count(*) from requests where run=$rr")
    rok=$(q "$db" "select count(*) from requests where run=$rr and status='ok'")
    okps=$(python3 -c "print(round($ok / $SECS, 1))")
    echo "faults: overload: $rate/s for ${SECS}s against capacity $cap/s (reserved $C x ${S}s): $sent sent, ok $ok ($okps/s), 429 $thr ($(python3 -c "print(round(100 * $thr / max(1, $sent), 1))") %), other $bad; serve RSS ${rss0} kB before, $(cat "$OUT/peak.txt" 2>/dev/null || echo "$rss0") kB peak, ${rss1} kB after; recovery at $rrate/s: $rok of $rsent ok"
fi
echo "faults: results in $OUT"
