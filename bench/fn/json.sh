#!/usr/bin/env bash
# JSON number parsing of the function host against strtod, in one process (bench_json.c).
# Usage: bench/fn/json.sh [build-dir] [runs]. Builds against the release library of build-dir.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-$root/build}
runs=${2:-9}
[ -f "$build/libfaasml_lib.a" ] || { echo "json.sh: no $build/libfaasml_lib.a (cmake --build first)" >&2; exit 2; }
out=$build/bench_json
cc -std=gnu11 -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE -I"$root/src" "$here/bench_json.c" \
   "$build/libfaasml_lib.a" $(pkg-config --libs yaml-0.1 libcjson openblas libpng libjpeg) \
   -ldnnl -lXNNPACK -lpthreadpool -lgomp -lpthread -lm -ldl -o "$out"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "one KServe v2 request of 150,528 FP32 numbers; medians of $runs runs; GB/s of request text"
echo "(strtod: of the numbers' text); fj/strtod = how many times faster fn's reader is"
"$out" "$runs"
