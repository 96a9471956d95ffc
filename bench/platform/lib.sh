# Sourced by the platform benchmarks after `set -euo pipefail`: SRC and FAASML (argument 1 or
# build/faasml), LOAD0 (the load average at the start), TMP (removed at exit unless KEEP is set)
# and PIDS (background processes to stop at exit). bench_tmp NAME makes TMP and the exit trap.
SRC=$(cd "$HERE/../.." && pwd)
FAASML=$(realpath "${1:-$SRC/build/faasml}")
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
PIDS=()
bench_cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [ -n "${KEEP:-}" ] || rm -rf "$TMP"
}
bench_tmp() {
    TMP=$(mktemp -d "/tmp/faasml-$1.XXXXXX")
    trap bench_cleanup EXIT
}
bench_loadavg() { echo "load average before the run: $LOAD0; after: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"; }
