#!/usr/bin/env python3
"""One client, warm, one request at a time over a keep-alive connection: the latency of a KServe
v2 request (JSON, binary or JPEG) to each endpoint, N requests per run, RUNS runs interleaved
across endpoints so a busy spell of the shared machine hits every path alike.
usage: tensors_client.py N RUNS INPUT.npy JPEG NAME=URL:KIND... (KIND json|binary|jpeg)
Prints one JSON line per endpoint: the p50/p90 of every run, in ms, and the answer's first bytes."""
import http.client, json, statistics, struct, sys, time, urllib.parse

def npy(path):
    b = open(path, "rb").read()
    hl = b[8] | (b[9] << 8) if b[6] == 1 else int.from_bytes(b[8:12], "little")
    off = (10 if b[6] == 1 else 12) + hl
    return b[off:]

def payloads(raw, jpg):
    n = len(raw) // 4
    vals = struct.unpack(f"<{n}f", raw)
    inp = {"name": "input", "shape": [1, 3, 224, 224], "datatype": "FP32"}
    js = json.dumps({"inputs": [dict(inp, data=[float(v) for v in vals])]}).encode()
    hdr = json.dumps({"inputs": [dict(inp, parameters={"binary_data_size": len(raw)})]}).encode()
    return {
        "json": (js, {"Content-Type": "application/json"}),
        "binary": (hdr + raw, {"Content-Type": "application/octet-stream",
                               "Inference-Header-Content-Length": str(len(hdr))}),
        "jpeg": (jpg, {"Content-Type": "image/jpeg"}),
    }

def main():
    n, runs, inp, jpg = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    bodies = payloads(npy(inp), open(jpg, "rb").read())
    eps = []
    for spec in sys.argv[5:]:
        name, rest = spec.split("=", 1)
        url, kind = rest.rsplit(":", 1)
        u = urllib.parse.urlparse(url)
        eps.append((name, u, kind, http.client.HTTPConnection(u.hostname, u.port, timeout=120)))
    res = {e[0]: [] for e in eps}
    first = {}
    def one(e):
        name, u, kind, c = e
        body, hdrs = bodies[kind]
        t0 = time.perf_counter()
        c.request("POST", u.path, body=body, headers=hdrs)
        r = c.getresponse()
        data = r.read()
        dt = (time.perf_counter() - t0) * 1e3
        if r.status != 200:
            sys.exit(f"{name}: HTTP {r.status}: {data[:300]!r}")
        first.setdefault(name, data[:120].decode(errors="replace"))
        return dt
    for e in eps:            # warm: instance started, model paged in, connection open
        for _ in range(3):
            one(e)
    for _ in range(runs):
        for e in eps:
            lat = sorted(one(e) for _ in range(n))
            res[e[0]].append({"p50": statistics.median(lat), "p90": lat[int(0.9 * (len(lat) - 1))]})
    for name, rs in res.items():
        print(json.dumps({"name": name, "runs": rs, "first": first[name]}))

main()
