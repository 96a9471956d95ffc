# Shared helpers for the load_*.sh integration tests (sourced, not a test itself).
set -euo pipefail
FAASML=${FAASML:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/faasml}
FM_SOURCE_DIR=${FM_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
T=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$T"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

# start_server NAME [server options]: starts the test server, sets URL_<NAME> and PID_<NAME>
start_server() {
    local name=$1; shift
    : >"$T/$name.out" # exists before the background shell opens it, so sed below can read it
    python3 "$FM_SOURCE_DIR/tests/integration/load_server.py" --log "$T/$name.log" "$@" \
        >"$T/$name.out" 2>"$T/$name.err" &
    local pid=$!
    PIDS+=("$pid")
    local url=""
    for _ in $(seq 100); do
        url=$(sed -n 's/^listening on //p' "$T/$name.out" 2>/dev/null | head -1 || true)
        [ -n "$url" ] && break
        sleep 0.05
    done
    [ -n "$url" ] || fail "server $name did not start: $(cat "$T/$name.err")"
    printf -v "URL_$name" '%s' "$url"
    printf -v "PID_$name" '%s' "$pid"
}

# json_get FILE EXPR: evaluates a Python expression on the parsed JSON as `j`
json_get() { python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$1"; }
