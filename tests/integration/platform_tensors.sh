#!/usr/bin/env bash
# Tensors end to end through the gateway: KServe v2 JSON, the binary extension (binary in and
# out), PNG and JPEG bodies and a function URL with a raw image body, each answered exactly as
# `faasml fn` answers the same request directly (byte for byte); v2 model metadata equal to the
# host's; malformed binary requests refused with a message naming the problem while the platform
# keeps serving; a 600 KB body copied at most once on its way to the instance; and one
# keep-alive Runtime API connection per instance.
source "$FM_SOURCE_DIR/tests/fixtures/platform/lib.sh"

PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
"$PY" "$SRC/tests/fixtures/fn/make_onnx.py" gap "$TMP/gap.onnx" 4 4

# The same model served directly by the function host...
"$FAASML" fn --model "$TMP/gap.onnx" --name gap --listen 127.0.0.1:0 >"$TMP/fn.out" 2>"$TMP/fn.err" &
FN_PID=$!
trap 'rc=$?; kill $FN_PID 2>/dev/null; (exit $rc); cleanup' EXIT
for _ in $(seq 200); do
    [ -s "$TMP/fn.out" ] && break
    kill -0 $FN_PID 2>/dev/null || fail "faasml fn exited: $(cat "$TMP/fn.err")"
    sleep 0.05
done
FN_URL=$(sed -n 's/^listening on //p' "$TMP/fn.out" | head -1)
[ -n "$FN_URL" ] || fail "faasml fn printed no ready line"

# ...and as a function of the platform.
start_serve
printf 'name: gap\nruntime: builtin-onnx\nmodel: %s\nmemory_mb: 512\n' "$TMP/gap.onnx" >"$TMP/gap.yaml"
deploy gap
printf 'name: big\nruntime: builtin-onnx\nmodel: "builtin:identity:FP32:1x153600"\nmemory_mb: 512\n' \
    >"$TMP/big.yaml"
deploy big

"$PY" - "$URL" "$FN_URL" "$SRC/tests/fixtures/fn/gradient8.jpg" <<'EOF' || fail "see above"
import base64, http.client, json, struct, sys, urllib.parse, zlib

gw_url, fn_url, jpg_path = sys.argv[1:4]

def conn_of(url):
    u = urllib.parse.urlparse(url)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=60)

gw, fn = conn_of(gw_url), conn_of(fn_url)

def req(c, method, path, body=None, headers=None):
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()

def check(cond, what):
    if not cond:
        sys.exit("FAIL: " + what)

def same(what, path_gw, path_fn, body, headers):
    """The gateway answers like the function host, to the byte."""
    s1, h1, b1 = req(gw, "POST", path_gw, body, headers)
    s2, h2, b2 = req(fn, "POST", path_fn, body, headers)
    check(s1 == s2 == 200, f"{what}: gateway {s1} {b1[:300]!r}, fn {s2} {b2[:300]!r}")
    check(b1 == b2, f"{what}: bodies differ\n gateway {b1[:300]!r}\n fn      {b2[:300]!r}")
    for k in ("content-type", "inference-header-content-length"):
        check(h1.get(k) == h2.get(k), f"{what}: header {k}: gateway {h1.get(k)}, fn {h2.get(k)}")
    print(f"ok - {what}: {len(b1)} bytes, equal to faasml fn direct")
    return b1, h1

def png(w, h, rgb):
    raw = b"".join(b"\0" + b"".join(bytes(rgb(x, y)) for x in range(w)) for y in range(h))
    ch = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    return (b"\x89PNG\r\n\x1a\n" + ch(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
            ch(b"IDAT", zlib.compress(raw)) + ch(b"IEND", b""))

def metric(name, fn_name):
    s, _, b = req(gw, "GET", "/metrics")
    for line in b.decode().splitlines():
        if line.startswith(f'{name}{{function="{fn_name}"}} '):
            return float(line.split()[-1])
    sys.exit(f"FAIL: no metric {name} for {fn_name}")

# v2 model metadata: what the function host answers for the same model
s1, _, m1 = req(gw, "GET", "/v2/models/gap")
s2, _, m2 = req(fn, "GET", "/v2/models/gap")
check(s1 == s2 == 200 and json.loads(m1) == json.loads(m2), f"metadata: gateway {m1!r}, fn {m2!r}")
check(json.loads(m1)["inputs"][0]["shape"] == [-1, 3, 4, 4], f"metadata inputs {m1!r}")
print("ok - v2 model metadata with inputs and outputs, as faasml fn answers")

x = [float(i) / 7 for i in range(48)]
js = json.dumps({"id": "j1", "inputs": [{"name": "input", "shape": [1, 3, 4, 4],
                                           "datatype": "FP32", "data": x}]}).encode()
same("v2 JSON", "/v2/models/gap/infer", "/v2/models/gap/infer", js, {"Content-Type": "application/json"})
jsb = json.dumps({"inputs": [{"name": "input", "shape": [1, 3, 4, 4], "datatype": "FP32", "data": x}],
                  "outputs": [{"name": "output", "parameters": {"binary_data": True}}]}).encode()
same("v2 JSON in, binary out", "/v2/models/gap/infer", "/v2/models/gap/infer", jsb, {})

data = struct.pack("<48f", *x)
hdr = json.dumps({"inputs": [{"name": "input", "shape": [1, 3, 4, 4], "datatype": "FP32",
                              "parameters": {"binary_data_size": len(data)}}],
                  "outputs": [{"name": "output", "parameters": {"binary_data": True}}]}).encode()
binh = {"Content-Type": "application/octet-stream", "Inference-Header-Content-Length": str(len(hdr))}
b, h = same("v2 binary in and out", "/v2/models/gap/infer", "/v2/models/gap/infer", hdr + data, binh)
hl = int(h["inference-header-content-length"])
want = [sum(x[i * 16:(i + 1) * 16]) / 16 for i in range(3)]
got = struct.unpack("<3f", b[hl:])
check(all(abs(a - w) < 1e-5 for a, w in zip(got, want)), f"binary output {got} != {want}")

img = png(4, 4, lambda x, y: (10 * x, 20 * y, 200))
same("PNG body on the KServe route", "/v2/models/gap/infer", "/invocations", img, {"Content-Type": "image/png"})
jpg = open(jpg_path, "rb").read()
same("JPEG body on the KServe route", "/v2/models/gap/infer", "/invocations", jpg, {"Content-Type": "image/jpeg"})
s, h, b = req(gw, "POST", "/lambda-url/gap/classify", jpg, {"Content-Type": "image/jpeg"})
s2, _, b2 = req(fn, "POST", "/invocations", jpg, {"Content-Type": "image/jpeg"})
check(s == 200 and b == b2, f"function URL with a raw JPEG: {s} {b[:300]!r} vs {b2[:300]!r}")
print("ok - function URL: a raw JPEG body reaches the function base64-encoded, answer as fn direct")

# The Lambda Invoke route keeps Lambda's rule: JSON only.
s, h, b = req(gw, "POST", "/2015-03-31/functions/gap/invocations", jpg)
check(s == 400 and h.get("x-amzn-errortype") == "InvalidRequestContentException", f"invoke jpg {s} {h} {b!r}")
print("ok - Invoke API refuses a non-JSON payload (InvalidRequestContentException)")

# Malformed binary requests: 400/413 naming the problem; the platform keeps serving.
bad = [
    ("header length past the body", hdr + data, {"Inference-Header-Content-Length": str(len(hdr) + len(data) + 1)}, 400, "past the end of the body"),
    ("negative header length", hdr + data, {"Inference-Header-Content-Length": "-5"}, 400, "is negative"),
    ("size that disagrees with shape x dtype",
     json.dumps({"inputs": [{"name": "input", "shape": [1, 3, 4, 4], "datatype": "FP32",
                             "parameters": {"binary_data_size": 100}}]}).encode() + data[:100], None, 400,
     "does not match shape"),
    ("truncated body", hdr + data[:8], None, 400, "binary data truncated"),
    ("7 MB body", b"\0" * (7 << 20), {"Inference-Header-Content-Length": "0"}, 413, "larger than the limit"),
]
for what, body, extra, code, needle in bad:
    hh = dict(binh)
    if extra:
        hh.update(extra)
    if what.startswith("size"):
        hh["Inference-Header-Content-Length"] = str(len(body) - 100)
    if what.startswith("truncated"):
        hh["Inference-Header-Content-Length"] = str(len(hdr))
    s, _, b = req(gw, "POST", "/v2/models/gap/infer", body, hh)
    msg = json.loads(b).get("error", "") if b.startswith(b"{") else b.decode(errors="replace")
    check(s == code and needle in msg, f"{what}: {s} {msg!r}, want {code} with '{needle}'")
    s, _, b = req(gw, "POST", "/v2/models/gap/infer", hdr + data, binh)
    check(s == 200, f"after {what}: the platform answered {s} {b[:200]!r}")
    print(f"ok - {what}: {code} '{msg}', and the next request is served")

# A 600 KB tensor is moved, not copied, between the client's socket and the instance's.
big = struct.pack("<153600f", *([0.5] * 153600))
bhdr = json.dumps({"inputs": [{"name": "input", "shape": [1, 153600], "datatype": "FP32",
                               "parameters": {"binary_data_size": len(big)}}],
                   "outputs": [{"name": "output", "parameters": {"binary_data": True}}]}).encode()
before = metric("faasml_request_bytes_copied_total", "big")
s, h, b = req(gw, "POST", "/v2/models/big/infer", bhdr + big,
              {"Content-Type": "application/octet-stream", "Inference-Header-Content-Length": str(len(bhdr))})
check(s == 200 and b[int(h["inference-header-content-length"]):] == big, f"600 KB binary: {s} {b[:200]!r}")
copied = metric("faasml_request_bytes_copied_total", "big") - before
check(copied <= len(big), f"a {len(bhdr) + len(big)} byte request was copied {copied} bytes")
print(f"ok - 600 KB binary request: {copied:.0f} bytes copied between client and instance (at most once)")
before = metric("faasml_request_bytes_copied_total", "big")
ev = json.dumps({"inputs": [{"name": "input", "shape": [1, 153600], "datatype": "FP32",
                             "data": [0.5] * 153600}]}).encode()
s, _, b = req(gw, "POST", "/2015-03-31/functions/big/invocations", ev)
copied = metric("faasml_request_bytes_copied_total", "big") - before
check(s == 200 and copied <= len(ev), f"{len(ev)} byte JSON invoke: {s}, copied {copied}")
print(f"ok - {len(ev)} byte JSON invoke: {copied:.0f} bytes copied (at most once)")

# Keep-alive on the Runtime API: one connection for many requests.
for _ in range(10):
    s, _, _ = req(gw, "POST", "/v2/models/gap/infer", js)
    check(s == 200, "repeated infer")
conns = metric("faasml_runtime_api_connections_total", "gap")
check(1 <= conns <= 2, f"{conns} Runtime API connections for one instance and 20+ requests")
print(f"ok - Runtime API keep-alive: {conns:.0f} connection(s) for the instance's requests")
EOF
ok "tensors end to end through the gateway"
