#!/usr/bin/env bash
# faasml serve's gateway under exhaustion, with the same guard as faasml fn: with the soft
# open-files limit at 1024 and 1,100 idle connections it raises the limit and /metrics still
# answers fast without spinning or flooding the log; past max_connections a client gets 503;
# idle and slowloris connections are closed after header_timeout.
set -euo pipefail
FAASML=${FAASML:?}
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3   # stdlib only
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT

# start_server NAME ULIMIT_ARGS [platform.yaml lines...]: faasml serve under `ulimit ULIMIT_ARGS`
# ("": none); sets $url and $pid
start_server() {
    local out=$tmp/$1 lim=$2; shift 2
    printf '%s\n' "listen: 127.0.0.1:0" "$@" >"$out.yaml"
    ( if [ -n "$lim" ]; then ulimit $lim; fi; exec "$FAASML" serve --config "$out.yaml" \
        --db "$out.db" --log-level info ) >"$out" 2>"$out.err" &
    pid=$!
    pids+=($pid)
    for _ in $(seq 200); do
        if grep -q '^listening on ' "$out" 2>/dev/null; then
            url=$(sed -n 's/^listening on //p' "$out" | head -1); return 0; fi
        kill -0 "$pid" 2>/dev/null || { cat "$out.err" >&2; return 1; }
        sleep 0.05
    done
    echo "server did not become ready" >&2; return 1
}

# the probe (big headers, idle connections, EMFILE, cap, slowloris) is shared with the other limits test

start_server idle "-Sn 1024" "header_timeout: 60s"
grep -q "open files: soft limit raised from 1024 to" "$tmp/idle.err" || {
    echo "FAIL: the soft open-files limit was not raised" >&2; cat "$tmp/idle.err" >&2; exit 1; }
"$PY" "$FM_SOURCE_DIR/tests/fixtures/http_limits_probe.py" idle "$url" "$pid" "$tmp/idle.err"
kill "$pid"; wait "$pid" 2>/dev/null || true

start_server cap "" "max_connections: 8"
"$PY" "$FM_SOURCE_DIR/tests/fixtures/http_limits_probe.py" cap "$url" "$pid" "$tmp/cap.err"
kill "$pid"; wait "$pid" 2>/dev/null || true

start_server slow "" "header_timeout: 1s"
"$PY" "$FM_SOURCE_DIR/tests/fixtures/http_limits_probe.py" slow "$url" "$pid" "$tmp/slow.err"
kill "$pid"; wait "$pid" 2>/dev/null || true
echo "ok"
