#!/usr/bin/env bash
# faasml fn in HTTP mode under exhaustion: a 64 MB header line is refused at once and its memory
# given back; with the soft open-files limit at 1024 (systemd's default) and 1,100 idle
# connections it raises the limit and stays responsive without spinning or flooding its log; with
# the hard limit at 1024 too it pauses accepting on EMFILE (a few log lines, not megabytes) and
# recovers; past --max-connections a client gets 503; idle and slowloris connections are closed
# after --header-timeout.
set -euo pipefail
FAASML=${FAASML:?}
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3   # stdlib only
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT

# start_server NAME ULIMIT_ARGS ARGS...: faasml fn under `ulimit ULIMIT_ARGS` ("": none); sets
# $url and $pid
start_server() {
    local out=$tmp/$1 lim=$2; shift 2
    ( if [ -n "$lim" ]; then ulimit $lim; fi; exec "$FAASML" fn --model builtin:identity:FP32:1x4 --name m \
        --listen 127.0.0.1:0 --log-level info "$@" ) >"$out" 2>"$out.err" &
    pid=$!
    pids+=($pid)
    for _ in $(seq 200); do
        if [ -s "$out" ]; then url=$(head -1 "$out" | sed -n 's/^listening on //p'); return 0; fi
        kill -0 "$pid" 2>/dev/null || { cat "$out.err" >&2; return 1; }
        sleep 0.05
    done
    echo "server did not become ready" >&2; return 1
}

# the probe (big headers, idle connections, EMFILE, cap, slowloris) is shared with the other limits test
export PROBE_PATH=/v2/health/live

start_server header ""
"$PY" "$FM_SOURCE_DIR/tests/fixtures/http_limits_probe.py" header "$url" "$pid" "$tmp/header.err"
kill "$pid"; wait "$pid" 2>/dev/null || true

start_server idle "-Sn 1024" --header-timeout 60s
grep -q "open files: soft limit raised from 1024 to" "$tmp/idle.err" || {
    echo "FAIL: the soft open-files limit was not raised" >&2; cat "$tmp/idle.err" >&2; exit 1; }
"$PY" "$FM_SOURCE_DIR/tests/fixtures/http_limits_probe.py" idle "$url" "$pid" "$tmp/idle.err"
kill "$pid"; wait "$pid" 2>/dev/null || true

start_server emfile "-n 1024" --max-connections 5000 --header-timeout 60s
"$PY" "$FM_SOURCE_DIR/tests/fixtures/http_limits_probe.py" emfile "$url" "$pid" "$tmp/emfile.err"
kill "$pid"; wait "$pid" 2>/dev/null || true
[ "$(wc -c <"$tmp/emfile.err")" -lt 20000 ] || { echo "FAIL: log too big" >&2; exit 1; }

start_server cap "" --max-connections 8
"$PY" "$FM_SOURCE_DIR/tests/fixtures/http_limits_probe.py" cap "$url" "$pid" "$tmp/cap.err"
kill "$pid"; wait "$pid" 2>/dev/null || true

start_server slow "" --header-timeout 1s
"$PY" "$FM_SOURCE_DIR/tests/fixtures/http_limits_probe.py" slow "$url" "$pid" "$tmp/slow.err"
kill "$pid"; wait "$pid" 2>/dev/null || true
echo "ok"
