#!/usr/bin/env bash
# faasml fn refuses, with a 400 naming the problem, what KServe v2 forbids and a lenient reader
# would take: a duplicated or signed Inference-Header-Content-Length, duplicate JSON member names,
# and numbers beyond the datatype's range (-1e999 as FP32). It keeps serving afterwards.
set -euo pipefail
FAASML=${FAASML:?}
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3   # stdlib only
tmp=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

"$FAASML" fn --model builtin:identity:FP32:1x2 --name m --listen 127.0.0.1:0 >"$tmp/out" 2>"$tmp/err" &
pid=$!
for _ in $(seq 100); do [ -s "$tmp/out" ] && break; sleep 0.05; done
url=$(sed -n 's/^listening on //p' "$tmp/out")
[ -n "$url" ] || { cat "$tmp/err" >&2; exit 1; }

"$PY" - "$url" <<'EOF2'
import json, socket, struct, sys, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])

def post(headers, body):
    """Raw HTTP/1.1 so that headers can be repeated and spelled as a client may spell them."""
    s = socket.create_connection((u.hostname, u.port), timeout=10)
    head = "POST /v2/models/m/infer HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers) + f"Content-Length: {len(body)}\r\n\r\n"
    s.sendall(head.encode() + body)
    data = b""
    while (b := s.recv(65536)):
        data += b
    s.close()
    status = int(data.split(b" ", 2)[1])
    return status, data.split(b"\r\n\r\n", 1)[1]

def check(cond, what):
    if not cond:
        sys.exit("FAIL: " + what)

hdr = json.dumps({"inputs": [{"name": "input", "shape": [1, 2], "datatype": "FP32",
                              "parameters": {"binary_data_size": 8}}]}).encode()
binary = hdr + struct.pack("<2f", 1.5, -2.0)
st, b = post([("Inference-Header-Content-Length", len(hdr))], binary)
check(st == 200, f"binary request: {st} {b!r}")

cases = [
    ([("Inference-Header-Content-Length", len(hdr)), ("Inference-Header-Content-Length", len(hdr))],
     binary, b"Inference-Header-Content-Length given 2 times"),
    ([("Inference-Header-Content-Length", len(hdr)), ("inference-header-content-length", 0)],
     binary, b"given 2 times"),
    ([("Inference-Header-Content-Length", f"+{len(hdr)}")], binary,
     b"invalid Inference-Header-Content-Length '+%d'" % len(hdr)),
    ([("Inference-Header-Content-Length", f"-{len(hdr)}")], binary, b"digits only"),
    ([("Inference-Header-Content-Length", f"0x{len(hdr):x}")], binary, b"digits only"),
    ([], b'{"inputs":[{"name":"input","shape":[1,2],"datatype":"FP32","data":[1,2]}],"inputs":[]}',
     b"duplicate member name 'inputs'"),
    ([], b'{"inputs":[{"name":"input","shape":[1,2],"datatype":"FP32","datatype":"FP64","data":[1,2]}]}',
     b"duplicate member name 'datatype'"),
    ([], b'{"inputs":[{"name":"input","shape":[1,2],"datatype":"FP32","data":[1,-1e999]}]}',
     b"element 1 (-1e999) is out of range for FP32"),
]
for i, (h, body, want) in enumerate(cases):
    st, b = post(h, body)
    check(st == 400 and want in b, f"case {i}: {st} {b!r}, want 400 with {want!r}")
st, b = post([], b'{"inputs":[{"name":"input","shape":[1,2],"datatype":"FP32","data":[1,-3.4e38]}]}')
check(st == 200, f"the largest floats are in range: {st} {b!r}")
print("ok")
EOF2
