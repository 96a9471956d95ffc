#!/usr/bin/python3
"""Cold start and warm latency of Lambda custom runtimes, side by side: faasml's function host
(`faasml fn`, as `bootstrap`) vs the Python/PyTorch runtime (examples/runtimes/python-torch).

This script is the Lambda Runtime API: for each run it starts a runtime process with
AWS_LAMBDA_RUNTIME_API pointing at itself, hands it events, and times
  cold start = process start (just before exec) -> the first /response received,
  warm latency = /next reply sent -> /response received, for the following events.
Runs alternate between runtimes so both see the same machine state. Both runtimes get the same
KServe v2 event (JSON; the model's input_b1.npy from the model cache), 1 thread, warm-up at init.
Output: one CSV row per run and a summary of medians with the ratio python-torch / faasml.

usage: bench/fn/coldstart.py [--models mobilenetv2,albert-base] [--runs 5] [--warm 20]
       [--faasml build/faasml] [--python-runtime examples/runtimes/python-torch/bootstrap]
       [--csv bench/results/fn-coldstart-<time>.csv]
"""
import argparse
import csv
import json
import os
import queue
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
NPY_TO_V2 = {"<f4": ("FP32", "f"), "<i8": ("INT64", "q"), "<i4": ("INT32", "i"),
             "<f8": ("FP64", "d"), "|u1": ("UINT8", "B")}


def model_dir(name):
    base = os.environ.get("FAASML_MODELS") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "faasml", "models")
    return os.path.join(base, name)


def read_npy(path):
    """A C-order little-endian .npy as (v2 datatype, shape, flat list); stdlib only."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:6] != b"\x93NUMPY":
        raise ValueError(f"{path}: not an .npy file")
    major = data[6]
    hlen = struct.unpack("<H", data[8:10])[0] if major == 1 else struct.unpack("<I", data[8:12])[0]
    start = 10 if major == 1 else 12
    header = eval(data[start:start + hlen].decode("latin1"), {"__builtins__": {}})  # dict literal
    dt, code = NPY_TO_V2[header["descr"]]
    shape = list(header["shape"])
    n = 1
    for d in shape:
        n *= d
    vals = struct.unpack(f"<{n}{code}", data[start + hlen:start + hlen + n * struct.calcsize(code)])
    return dt, shape, list(vals)


def v2_event(model):
    meta = json.load(open(os.path.join(model_dir(model), "meta.json")))
    dt, shape, vals = read_npy(os.path.join(model_dir(model), "input_b1.npy"))
    name = meta["inputs"][0]["name"]
    return json.dumps({"inputs": [{"name": name, "shape": shape, "datatype": dt, "data": vals}]})


class RuntimeAPI:
    """A Runtime API that serves a queue of events and timestamps replies (monotonic ns)."""

    def __init__(self):
        self.events = queue.Queue()
        self.sent = {}      # request id -> ns when the /next reply was written
        self.done = {}      # request id -> (ns when /response or /error arrived, ok?)
        self.cond = threading.Condition()
        api = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def setup(self):
                super().setup()  # headers and body go out as separate writes: no Nagle delay
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_GET(self):
                rid, body = api.events.get()
                if rid is None:  # end of run: the runtime is killed while waiting
                    return
                data = body.encode()
                self.send_response(200)
                self.send_header("Lambda-Runtime-Aws-Request-Id", rid)
                self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 600000))
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                api.sent[rid] = time.monotonic_ns()
                self.wfile.write(data)

            def do_POST(self):
                t = time.monotonic_ns()
                n = int(self.headers.get("Content-Length", "0"))
                self.rfile.read(n)
                parts = self.path.split("/")
                rid = parts[-2] if len(parts) >= 2 else ""
                self.send_response(202)
                self.send_header("Content-Length", "15")
                self.end_headers()
                self.wfile.write(b'{"status":"OK"}')
                with api.cond:
                    api.done[rid] = (t, self.path.endswith("/response"))
                    api.cond.notify_all()

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # a killed runtime resets its connection: expected, not worth a trace

        self.srv = Server(("127.0.0.1", 0), H)
        self.srv.daemon_threads = True
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        self.addr = f"127.0.0.1:{self.srv.server_address[1]}"

    def close(self):
        self.events.put((None, None))  # release a GET the runtime was blocked on
        self.srv.shutdown()
        self.srv.server_close()

    def wait(self, rid, timeout):
        with self.cond:
            if not self.cond.wait_for(lambda: rid in self.done, timeout):
                raise TimeoutError(f"no reply to {rid} in {timeout} s")
            return self.done[rid]


def one_run(runtime, model, event, warm, args, run):
    """Starts a Runtime API and the runtime, sends 1 + warm events, returns the measurements."""
    api = RuntimeAPI()  # one per run, so a killed runtime's pending GET cannot take an event
    env = dict(os.environ, AWS_LAMBDA_RUNTIME_API=api.addr, FAASML_THREADS="1",
               OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    if runtime == "faasml":
        cmd = [args.faasml_bootstrap, "--model", os.path.join(model_dir(model), "model.onnx"),
               "--threads", "1"]
    else:
        cmd = ["/usr/bin/python3", args.python_runtime]
        env.update(FAASML_MODEL=model_dir(model), FAASML_WARMUP="1")
    ids = [f"{runtime}-{model}-{run}-{i}" for i in range(1 + warm)]
    for rid in ids:
        api.events.put((rid, event))
    t0 = time.monotonic_ns()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        t_first, ok = api.wait(ids[0], args.timeout)
        if not ok:
            raise RuntimeError(f"{runtime} answered an error to the first event")
        lat = []
        for rid in ids[1:]:
            t, ok = api.wait(rid, args.timeout)
            if not ok:
                raise RuntimeError(f"{runtime} answered an error to {rid}")
            lat.append((t - api.sent[rid]) / 1e6)
    finally:
        proc.kill()
        _, err = proc.communicate()
        api.close()
    init = ""
    for line in err.decode("utf-8", "replace").splitlines():
        if line.startswith("FAASML_INIT ") or line.startswith("faasml-init "):
            init = line
    return {"runtime": runtime, "model": model, "run": run,
            "cold_start_ms": round((t_first - t0) / 1e6, 3),
            "first_latency_ms": round((t_first - api.sent[ids[0]]) / 1e6, 3),
            "warm_p50_ms": round(statistics.median(lat), 3) if lat else "",
            "warm_min_ms": round(min(lat), 3) if lat else "",
            "init_line": init}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="mobilenetv2,albert-base")
    ap.add_argument("--runtimes", default="faasml,python-torch")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--warm", type=int, default=20)
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--faasml", default=os.path.join(ROOT, "build", "faasml"))
    ap.add_argument("--python-runtime", default=os.path.join(ROOT, "examples", "runtimes",
                                                             "python-torch", "bootstrap"))
    ap.add_argument("--csv", default=os.path.join(ROOT, "bench", "results",
                                                  time.strftime("fn-coldstart-%Y%m%dT%H%M%SZ.csv", time.gmtime())))
    args = ap.parse_args()
    runtimes = args.runtimes.split(",")
    for path, what in [(args.faasml, "--faasml"), (args.python_runtime, "--python-runtime")]:
        if not os.path.exists(path) and (what == "--faasml" or "python-torch" in runtimes):
            sys.exit(f"coldstart: {what} '{path}' does not exist")
    # faasml runs as a custom runtime named bootstrap, exactly as on Lambda
    bdir = os.path.join(os.path.dirname(args.csv), ".fn-bootstrap")
    os.makedirs(bdir, exist_ok=True)
    args.faasml_bootstrap = os.path.join(bdir, "bootstrap")
    if os.path.lexists(args.faasml_bootstrap):
        os.remove(args.faasml_bootstrap)
    os.symlink(os.path.abspath(args.faasml), args.faasml_bootstrap)

    rows = []
    for model in args.models.split(","):
        event = v2_event(model)
        for run in range(args.runs):
            for rt in runtimes:  # interleaved, so both see the same machine state
                r = one_run(rt, model, event, args.warm, args, run)
                rows.append(r)
                print(f"coldstart: {model} {rt} run {run}: cold {r['cold_start_ms']} ms, "
                      f"warm p50 {r['warm_p50_ms']} ms", file=sys.stderr, flush=True)
    os.makedirs(os.path.dirname(args.csv), exist_ok=True)
    with open(args.csv, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f"{'model':<14}{'runtime':<14}{'cold start ms':>15}{'warm p50 ms':>13}")
    med = {}
    for model in args.models.split(","):
        for rt in runtimes:
            rs = [r for r in rows if r["model"] == model and r["runtime"] == rt]
            c = statistics.median(r["cold_start_ms"] for r in rs)
            wl = statistics.median(r["warm_p50_ms"] for r in rs if r["warm_p50_ms"] != "")
            med[model, rt] = (c, wl)
            print(f"{model:<14}{rt:<14}{c:>15.1f}{wl:>13.2f}")
        if len(runtimes) == 2:
            (c0, w0), (c1, w1) = med[model, runtimes[0]], med[model, runtimes[1]]
            print(f"{model:<14}{'ratio ' + runtimes[1][:6] + '/' + runtimes[0][:6]:<14}"
                  f"{c1 / c0:>14.1f}x{w1 / w0:>12.2f}x")
    print(f"csv: {args.csv} (medians of {args.runs} runs; warm = median of {args.warm} events)")


if __name__ == "__main__":
    main()
