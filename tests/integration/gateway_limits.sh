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

cat >"$tmp/probe.py" <<'EOF'
import os, resource, socket, statistics, sys, time, urllib.parse
mode, url, pid, errlog = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
u = urllib.parse.urlparse(url)
addr = (u.hostname, u.port)
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

def fail(msg):
    sys.exit("FAIL: " + msg)

def get(path="/metrics", timeout=2.0):
    """One request on a new connection: (status, body, seconds)."""
    t0 = time.monotonic()
    s = socket.create_connection(addr, timeout=timeout)
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
    data = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
    s.close()
    dt = time.monotonic() - t0
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
    return status, data.split(b"\r\n\r\n", 1)[-1], dt

def cpu_s():
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")

def rss_mb():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0

def log_lines():
    return sum(1 for _ in open(errlog, "rb"))

def server_fds():
    return len(os.listdir(f"/proc/{pid}/fd"))

def hold(n, fd_limit=None):
    """Opens n idle connections, 50 at a time so that the listen backlog never overflows (the
    kernel would retry dropped SYNs only after 1, 3, 7 s); returns once the server holds them,
    or all the fds it may have."""
    import select
    conns = []
    fds0 = server_fds()
    while len(conns) < n:
        batch = []
        for _ in range(min(50, n - len(conns))):
            c = socket.socket()
            c.setblocking(False)
            c.connect_ex(addr)
            batch.append(c)
        poll = select.poll()
        for c in batch:
            poll.register(c, select.POLLOUT)
        left, deadline = len(batch), time.monotonic() + 3
        while left and time.monotonic() < deadline:
            for fd, _ in poll.poll(100):
                poll.unregister(fd)
                left -= 1
        conns += batch
    want = min(fds0 + n, fd_limit - 2) if fd_limit else fds0 + n
    deadline = time.monotonic() + 10
    while server_fds() < want and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.3)
    return conns

if mode == "header":
    base = rss_mb()
    s = socket.create_connection(addr, timeout=10)
    t0 = time.monotonic()
    refused = False
    try:
        s.sendall(b"GET /v2/health/live HTTP/1.1\r\nX-Big: ")
        chunk = b"a" * (1 << 20)
        for _ in range(64):
            s.sendall(chunk)
        s.sendall(b"\r\n\r\n")
        refused = not s.recv(4096).startswith(b"HTTP/1.1 200")
    except (BrokenPipeError, ConnectionResetError):
        refused = True
    dt = time.monotonic() - t0
    s.close()
    if not refused:
        fail("a 64 MB header line was accepted")
    if dt > 5:
        fail(f"a 64 MB header line took {dt:.1f} s to refuse")
    time.sleep(0.3)
    grown = rss_mb() - base
    if grown > 16:
        fail(f"the server kept {grown:.0f} MB after refusing the header")
    st, _, _ = get()
    if st != 200:
        fail(f"/metrics after the big header: {st}")
    print(f"64 MB header line refused in {dt * 1000:.0f} ms; RSS {grown:+.1f} MB")

elif mode == "idle":   # soft limit 1024, hard higher: the server raised it and serves everyone
    conns = hold(1100)
    lines0, cpu0, t0 = log_lines(), cpu_s(), time.monotonic()
    times = []
    for _ in range(15):
        st, _, dt = get()
        if st != 200:
            fail(f"/metrics with 1,100 idle connections: status {st}")
        times.append(dt)
        time.sleep(0.2)
    wall = time.monotonic() - t0
    cpu = (cpu_s() - cpu0) / wall * 100
    grew = log_lines() - lines0
    med = statistics.median(times)
    print(f"1,100 idle connections: /metrics p50 {med * 1000:.1f} ms, max {max(times) * 1000:.1f} ms; "
          f"server CPU {cpu:.1f} %; log +{grew} lines in {wall:.1f} s")
    if med > 0.1:
        fail(f"/metrics p50 {med * 1000:.0f} ms with 1,100 idle connections (want < 100 ms)")
    if grew > 3 * wall:
        fail(f"the log grew by {grew} lines in {wall:.1f} s")
    for c in conns:
        c.close()

elif mode == "emfile":  # hard limit 1024 as well: EMFILE, paused accepts, then recovery
    conns = hold(1100, fd_limit=1024)
    lines0, cpu0, t0 = log_lines(), cpu_s(), time.monotonic()
    time.sleep(3)
    wall = time.monotonic() - t0
    cpu = (cpu_s() - cpu0) / wall * 100
    grew = log_lines() - lines0
    print(f"EMFILE with 1,100 idle connections: server CPU {cpu:.1f} %; log +{grew} lines in "
          f"{wall:.1f} s")
    if grew > 3 * wall + 2:
        fail(f"the log grew by {grew} lines in {wall:.1f} s under EMFILE")
    if not any("Too many open files" in l for l in open(errlog, errors="replace")):
        fail("no warning about the open-files limit")
    for c in conns:
        c.close()
    time.sleep(0.5)
    st, _, dt = get(timeout=5)
    if st != 200:
        fail(f"no recovery after the connections closed: status {st}")

elif mode == "cap":    # --max-connections 8
    conns = hold(8)
    st, body, _ = get()
    if st != 503 or b"too many connections" not in body:
        fail(f"9th connection: {st} {body!r}, want 503 naming the cap")
    for c in conns:
        c.close()
    time.sleep(1.2)
    st, _, _ = get()
    if st != 200:
        fail(f"after the connections closed: {st}")

elif mode == "slow":   # --header-timeout 1s
    idle = socket.create_connection(addr, timeout=5)
    slow = socket.create_connection(addr, timeout=5)
    slow.sendall(b"GET /v2/health/live HTTP/1.1\r\nX-Slow: ")
    t0 = time.monotonic()
    closed_at = None
    while time.monotonic() - t0 < 4:
        try:
            slow.sendall(b"a")
        except (BrokenPipeError, ConnectionResetError):
            closed_at = time.monotonic() - t0
            break
        slow.settimeout(0.2)
        try:
            if slow.recv(1) == b"":
                closed_at = time.monotonic() - t0
                break
        except socket.timeout:
            pass
        except ConnectionResetError:
            closed_at = time.monotonic() - t0
            break
    if closed_at is None or closed_at > 3:
        fail(f"a slowloris connection was not closed after 4 s")
    idle.settimeout(3)
    try:
        got = idle.recv(1)
    except socket.timeout:
        fail("an idle connection was not closed")
    except ConnectionResetError:
        got = b""
    if got != b"":
        fail("an idle connection got data")
    print(f"slowloris connection closed after {closed_at:.1f} s")
EOF

start_server idle "-Sn 1024" "header_timeout: 60s"
grep -q "open files: soft limit raised from 1024 to" "$tmp/idle.err" || {
    echo "FAIL: the soft open-files limit was not raised" >&2; cat "$tmp/idle.err" >&2; exit 1; }
"$PY" "$tmp/probe.py" idle "$url" "$pid" "$tmp/idle.err"
kill "$pid"; wait "$pid" 2>/dev/null || true

start_server cap "" "max_connections: 8"
"$PY" "$tmp/probe.py" cap "$url" "$pid" "$tmp/cap.err"
kill "$pid"; wait "$pid" 2>/dev/null || true

start_server slow "" "header_timeout: 1s"
"$PY" "$tmp/probe.py" slow "$url" "$pid" "$tmp/slow.err"
kill "$pid"; wait "$pid" 2>/dev/null || true
echo "ok"
