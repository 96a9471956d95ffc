#!/usr/bin/env bash
# Decision cost of `policy` (events/s per profile), next to a binary-heap push+pop in the same
# process. Usage: bench/policy/run.sh [build-dir] [requests-per-scenario] [runs]
# Builds bench_policy against the release library of build-dir (default: build).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-$root/build}
nreq=${2:-1000000}
runs=${3:-5}
[ -f "$build/libfaasml_lib.a" ] || { echo "run.sh: no $build/libfaasml_lib.a (cmake --build first)" >&2; exit 2; }
out=$build/bench_policy
cc -std=gnu11 -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE -I"$root/src" "$here/bench_policy.c" \
   "$build/libfaasml_lib.a" $(pkg-config --libs yaml-0.1 libcjson) -lm -o "$out"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
"$out" "$nreq" "$runs"
