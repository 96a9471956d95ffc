#!/usr/bin/env bash
# Gateway benchmark (docs/platform.md, "Benchmarks"):
#  1. added latency of the gateway with a warm echo runtime at RATE req/s, side by side with nginx
#     as a reverse proxy to the same echo backend, both against calling the backend directly;
#  2. peak requests/s at CONC=64 connections (wrk, closed loop) through the gateway and nginx to
#     the same echo backend, and to the backend directly;
#  3. cold start of an echo custom runtime from scale-to-zero to response (C and Python runtimes).
# usage: bench/platform/run.sh [path/to/faasml]   env: RATE=1000 SECS=5 RUNS=5 COLD=30 CONC=64
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
RATE=${RATE:-1000} SECS=${SECS:-5} RUNS=${RUNS:-5} COLD=${COLD:-30} CONNS=${CONNS:-8}
CONC=${CONC:-64}
bench_tmp bench
command -v nginx >/dev/null || { echo "nginx is not installed (scripts/install-deps.sh)"; exit 1; }

cc -O2 -D_GNU_SOURCE -o "$TMP/echo_backend" "$HERE/echo_backend.c"
cc -O2 -D_GNU_SOURCE -o "$TMP/openloop" "$HERE/openloop.c"
ready_port() { # FILE: waits for "listening on http://H:P" and prints P
    for _ in $(seq 200); do
        grep -q '^listening on' "$1" 2>/dev/null && break
        sleep 0.05
    done
    sed -n 's/^listening on http:\/\/[^:]*:\([0-9]*\).*/\1/p' "$1" | head -1
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The echo backend, called directly (baseline) and through nginx.
"$TMP/echo_backend" http >"$TMP/backend.out" &
PIDS+=($!)
BPORT=$(ready_port "$TMP/backend.out")
NPORT=$(free_port)
mkdir -p "$TMP/nginx"
cat >"$TMP/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log;
events { worker_connections 1024; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path $TMP/nginx/body;
    proxy_temp_path $TMP/nginx/proxy;
    upstream echo { server 127.0.0.1:$BPORT; keepalive 32; keepalive_requests 1000000; }
    server {
        listen 127.0.0.1:$NPORT;
        location / {
            proxy_pass http://echo;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
CONF
nginx -c "$TMP/nginx.conf" -p "$TMP/nginx" 2>"$TMP/nginx.stderr" &
NGINX_PID=$!
PIDS+=($NGINX_PID)

# faasml with the same backend as its runtime, kept warm (provisioned, long keep-alive).
cat >"$TMP/echo.yaml" <<SPEC
name: echo
bootstrap: $TMP/echo_backend
args: [runtime]
memory_mb: 1769
provisioned_concurrency: $CONNS
keep_alive: 1h
SPEC
cat >"$TMP/cold.yaml" <<SPEC
name: cold
bootstrap: $TMP/echo_backend
args: [runtime]
memory_mb: 1769
keep_alive: 100ms
SPEC
cat >"$TMP/coldpy.yaml" <<SPEC
name: coldpy
bootstrap: $SRC/tests/fixtures/runtimes/echo/bootstrap
memory_mb: 1769
keep_alive: 100ms
SPEC
# The echo backend uses ~2 MB of its 1769 MB: at CONC connections the peak runs up to CONC
# instances, which host-capacity admission (24 GB here) would refuse with 429s that wrk counts as
# answers. The bench measures the gateway, so it lets the host promise that memory.
printf 'host_capacity:\n  overcommit: 8\n' >"$TMP/platform.yaml"
"$FAASML" serve --config "$TMP/platform.yaml" --listen 127.0.0.1:0 --log-dir "$TMP" --deploy "$TMP/echo.yaml" \
    --deploy "$TMP/cold.yaml" --deploy "$TMP/coldpy.yaml" >"$TMP/serve.out" 2>"$TMP/serve.err" &
SERVE_PID=$!
PIDS+=($SERVE_PID)
FPORT=$(ready_port "$TMP/serve.out")
# The same with the memory limit only (no CPU quota or CPU group), like the nginx backend's CPU.
mkdir -p "$TMP/nocg"
"$FAASML" serve --config "$TMP/platform.yaml" --listen 127.0.0.1:0 --no-cpu-limit --log-dir "$TMP/nocg" --deploy "$TMP/echo.yaml" \
    >"$TMP/serve-nocg.out" 2>"$TMP/serve-nocg.err" &
SERVE2_PID=$!
PIDS+=($SERVE2_PID)
GPORT=$(ready_port "$TMP/serve-nocg.out")
sleep 1
INV=/2015-03-31/functions/echo/invocations
PAYLOAD='{"message":"hello","n":1}'

load() { "$TMP/openloop" 127.0.0.1 "$1" "$2" "$RATE" "$SECS" "$CONNS" "$PAYLOAD"; }
# CPU time a process spent on the CPU (ns, /proc/PID/schedstat): the proxy's own cost per
# request, which host load does not inflate the way it inflates latency.
cpu_ns() { awk '{print $1}' "/proc/$1/schedstat"; }
NGINX_WORKER=$(ps -o pid= --ppid "$NGINX_PID" | head -1 | tr -d ' ')
measure() { # NAME PORT PATH PROXY_PID
    local c0 c1 out
    c0=$(cpu_ns "$4")
    out=$(load "$2" "$3") || exit 1
    c1=$(cpu_ns "$4")
    echo "$1 $out" >>"$TMP/lat.txt"
    echo "$1 $(( (c1 - c0) / (RATE * ${SECS%.*}) ))" >>"$TMP/cpu.txt"
}
# every listener accepts before the first request (nginx prints no ready line)
for port in "$BPORT" "$NPORT" "$FPORT" "$GPORT"; do
    for _ in $(seq 100); do (: <"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
done
# warm up every path
for t in "$BPORT /" "$NPORT /" "$FPORT $INV" "$GPORT $INV"; do
    "$TMP/openloop" 127.0.0.1 ${t% *} ${t#* } "$RATE" 1 "$CONNS" "$PAYLOAD" >/dev/null
done
: >"$TMP/lat.txt"
: >"$TMP/cpu.txt"
for r in $(seq "$RUNS"); do
    out=$(load "$BPORT" /) || exit 1
    echo "direct $out" >>"$TMP/lat.txt"
    measure nginx "$NPORT" / "$NGINX_WORKER"
    measure faasml "$FPORT" "$INV" "$SERVE_PID"
    measure faasml-nocpulimit "$GPORT" "$INV" "$SERVE2_PID"
done

# Peak: closed loop at CONC connections, the same payload, each path in turn, RUNS times.
: >"$TMP/peak.txt"
if command -v wrk >/dev/null; then
    printf 'wrk.method = "POST"\nwrk.body = %s\nwrk.headers["Content-Type"] = "application/json"\n' \
        "'$PAYLOAD'" >"$TMP/post.lua"
    # warm: at CONC connections the Lambda profile runs up to CONC instances (one request each);
    # their cold starts belong to the cold-start table, not to the peak
    for port in "$FPORT" "$GPORT"; do
        wrk -t2 -c"$CONC" -d2s -s "$TMP/post.lua" "http://127.0.0.1:$port$INV" >/dev/null || true
    done
    for r in $(seq "$RUNS"); do
        for t in "direct $BPORT /" "nginx $NPORT /" "faasml $FPORT $INV" \
            "faasml-nocpulimit $GPORT $INV"; do
            set -- $t
            wrk -t2 -c"$CONC" -d"${SECS}s" -s "$TMP/post.lua" "http://127.0.0.1:$2$3" >"$TMP/wrk.out"
            rps=$(awk '/^Requests\/sec/ {print $2}' "$TMP/wrk.out")
            # wrk counts error answers (a 429, a 503) as requests: a peak of errors is no peak
            if grep -q 'Non-2xx' "$TMP/wrk.out"; then
                echo "peak of $1: $(grep 'Non-2xx' "$TMP/wrk.out" | tr -s ' ')" >&2
                exit 1
            fi
            echo "$1 ${rps:-0}" >>"$TMP/peak.txt"
        done
    done
fi

# Cold starts from scale-to-zero: wait for the instance to be stopped, then one request.
cold() { # NAME
    local name=$1
    for i in $(seq "$COLD"); do
        for _ in $(seq 100); do
            n=$(curl -s "http://127.0.0.1:$FPORT/metrics" |
                awk -v k="faasml_instances{function=\"$name\",state=\"idle\"}" '$1 == k {print $2}')
            [ "$n" = 0 ] && break
            sleep 0.05
        done
        curl -s -o /dev/null -D "$TMP/h" -w "%{time_total}" -H 'X-Amz-Log-Type: Tail' \
            -X POST "http://127.0.0.1:$FPORT/2015-03-31/functions/$name/invocations" -d '{}' \
            >"$TMP/t"
        init=$(grep -i '^X-Amz-Log-Result:' "$TMP/h" | cut -d' ' -f2 | tr -d '\r' | base64 -d |
            sed -n 's/.*Init Duration: \([0-9.]*\) ms.*/\1/p')
        echo "$name $(cat "$TMP/t") ${init:-warm}" >>"$TMP/cold.txt"
    done
}
: >"$TMP/cold.txt"
cold cold
cold coldpy

python3 - "$TMP/lat.txt" "$TMP/cold.txt" "$RATE" "$SECS" "$RUNS" "$TMP/cpu.txt" "$TMP/peak.txt" "$CONC" <<'PY'
import json, statistics as st, sys
runs = {}
for line in open(sys.argv[1]):
    name, js = line.split(" ", 1)
    d = json.loads(js)
    assert d["errors"] == 0 and d["ok"] == d["sent"], (name, d)
    runs.setdefault(name, []).append(d)
rate, secs, nruns = sys.argv[3], sys.argv[4], sys.argv[5]
print(f"## gateway latency at {rate} req/s, {secs} s x {nruns} runs (median of runs, microseconds)")
print("| path | p50 | p99 | added p50 | added p99 |")
print("|---|---|---|---|---|")
med = {k: {q: st.median(r[q] for r in v) for q in ("p50_us", "p99_us")} for k, v in runs.items()}
for k in ("direct", "nginx", "faasml", "faasml-nocpulimit"):
    a50 = med[k]["p50_us"] - med["direct"]["p50_us"]
    a99 = med[k]["p99_us"] - med["direct"]["p99_us"]
    print(f"| {k} | {med[k]['p50_us']:.0f} | {med[k]['p99_us']:.0f} | {a50:.0f} | {a99:.0f} |")
n50 = med["nginx"]["p50_us"] - med["direct"]["p50_us"]
f50 = med["faasml"]["p50_us"] - med["direct"]["p50_us"]
n99 = med["nginx"]["p99_us"] - med["direct"]["p99_us"]
f99 = med["faasml"]["p99_us"] - med["direct"]["p99_us"]
g50 = med["faasml-nocpulimit"]["p50_us"] - med["direct"]["p50_us"]
g99 = med["faasml-nocpulimit"]["p99_us"] - med["direct"]["p99_us"]
# Each ratio needs its own positive denominator: nginx may add latency at p50 and none at p99
# (or the reverse) on a busy machine; say which, with the numbers, instead of dropping both.
print()
for q, n, f, g in (("p50", n50, f50, g50), ("p99", n99, f99, g99)):
    if n > 0:
        ratio = lambda x: f"{x / n:.2f}x" if x > 0 else f"none measurable ({x:.0f} us)"
        print(f"{q}: faasml added / nginx added {ratio(f)}; without CPU limit {ratio(g)} "
              f"(nginx added {n:.0f} us, faasml {f:.0f} us, without CPU limit {g:.0f} us)")
    else:
        print(f"{q}: nginx added {n:.0f} us over direct (not positive), so no ratio; "
              f"faasml added {f:.0f} us")
cpu = {}
for line in open(sys.argv[6]):
    name, ns = line.split()
    cpu.setdefault(name, []).append(int(ns))
print("\n## proxy CPU time per request (median of runs; nginx worker vs the faasml serve process)")
print("| proxy | CPU us/request |")
print("|---|---|")
for k, v in cpu.items():
    print(f"| {k} | {st.median(v) / 1000:.1f} |")
if cpu.get("nginx") and st.median(cpu["nginx"]) > 0:
    print(f"\nfaasml gateway CPU / nginx CPU per request: {st.median(cpu['faasml']) / st.median(cpu['nginx']):.2f}x")
peak = {}
for line in open(sys.argv[7]):
    name, rps = line.split()
    peak.setdefault(name, []).append(float(rps))
if peak:
    print(f"\n## peak requests/s at {sys.argv[8]} connections (wrk, closed loop, median of runs)")
    print("| path | req/s | runs |")
    print("|---|---|---|")
    for k, v in peak.items():
        print(f"| {k} | {st.median(v):.0f} | {', '.join(f'{x:.0f}' for x in v)} |")
    if st.median(peak.get("nginx", [0])) > 0:
        n = st.median(peak["nginx"])
        print(f"\nfaasml / nginx peak req/s: {st.median(peak['faasml']) / n:.2f}x; without CPU "
              f"limit {st.median(peak.get('faasml-nocpulimit', [0])) / n:.2f}x")
cold = {}
for line in open(sys.argv[2]):
    name, t, init = line.split()
    cold.setdefault(name, []).append((float(t) * 1000, init))
print("\n## cold start from scale-to-zero (end-to-end ms, Init Duration ms)")
print("| runtime | n | cold | e2e p50 | e2e p99 | init p50 | init p99 |")
print("|---|---|---|---|---|---|---|")
def q(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p * (len(xs) - 1))))]
for name, xs in cold.items():
    e2e = [t for t, i in xs if i != "warm"]
    ini = [float(i) for t, i in xs if i != "warm"]
    label = {"cold": "C echo (bench/platform/echo_backend.c)", "coldpy": "Python echo (tests/fixtures)"}[name]
    if e2e:
        print(f"| {label} | {len(xs)} | {len(e2e)} | {q(e2e, .5):.1f} | {q(e2e, .99):.1f} | {q(ini, .5):.1f} | {q(ini, .99):.1f} |")
PY
echo
bench_loadavg
