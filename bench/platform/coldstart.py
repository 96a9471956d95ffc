#!/usr/bin/python3
"""Cold start and batching benchmark of `faasml serve` for a real model (docs/platform.md,
"Benchmarks"). Driven by bench/platform/coldstart.sh; run with Debian's python3 (numpy).

Cold start, scale from zero to first response, interleaved rounds:
  exec    builtin-onnx function, instance = fork + exec of the function host (loads the model)
  zygote  builtin-onnx function, cold_start: zygote (forked from a process that loaded it)
  torch   examples/runtimes/python-torch/bootstrap (python3 + PyTorch, TorchScript model.pt)
  ort     ONNX Runtime session creation in a fresh node process (bench/infer/ort_run.js), the
          model loaded by a peer runtime, no platform around it
Each function has keep_alive 100 ms: before each round the driver waits until it has no
instance, then sends one synchronous invoke and times it end to end on the client; the REPORT
line gives Init Duration. Batching: a server fleet of one instance with one worker and a FIFO
queue, open-loop offered load RATE req/s for SECS s per batch.max_size; throughput = answered / span, latency from each
request's scheduled send time (no coordinated omission).
"""
import json, os, re, subprocess, sys, tempfile, threading, time
import numpy as np
import serve_client
from serve_client import call, instances, invoke_timed

FAASML, SRC, MODEL_DIR = sys.argv[1], sys.argv[2], sys.argv[3]
COLD = int(os.environ.get("COLD", "20"))
RATE = float(os.environ.get("RATE", "8"))
SECS = float(os.environ.get("SECS", "6"))
SIZES = [int(x) for x in os.environ.get("SIZES", "1,2,4,8").split(",")]
DELAY_MS = float(os.environ.get("DELAY_MS", "50"))
SKIP = set(os.environ.get("SKIP", "").split(","))
TMP = tempfile.mkdtemp(prefix="faasml-cold.")
MODEL = os.path.join(MODEL_DIR, "model.onnx")


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100.0 * len(v) + 0.5)) - 1)] if v else float("nan")


def v2_payload():
    x = np.load(os.path.join(MODEL_DIR, "input_b1.npy")).astype(np.float32)
    return json.dumps({"inputs": [{"name": "input", "datatype": "FP32", "shape": list(x.shape),
                                   "data": [float("%.6g" % f) for f in x.ravel()]}]}).encode()


def start_serve():
    err = open(os.path.join(TMP, "serve.err"), "w")
    p = subprocess.Popen([FAASML, "serve", "--listen", "127.0.0.1:0", "--db",
                          os.path.join(TMP, "results.db"), "--keep-alive", "100ms"],
                         stdout=subprocess.PIPE, stderr=err, text=True)
    line = p.stdout.readline()
    m = re.match(r"listening on http://([^:]+):(\d+)", line)
    if not m:
        raise SystemExit("faasml serve did not start: " + line)
    return p, int(m.group(2))


def deploy(port, name, lines):
    serve_client.deploy(FAASML, TMP, port, name, lines)


def cold_round(port, name, payload):
    for _ in range(400):
        if instances(port, name) == 0:
            break
        time.sleep(0.025)
    return invoke_timed(port, name, payload)


def ort_round():
    js = os.path.join(SRC, "bench", "infer", "ort_run.js")
    env = dict(os.environ, FM_T0_MS="%.3f" % (time.time() * 1e3))
    out = subprocess.run(["node", js, MODEL, os.path.join(MODEL_DIR, "input_b1.npy"),
                          os.path.join(MODEL_DIR, "output_b1.npy"), "1", "1", "1"],
                         env=env, capture_output=True, text=True, timeout=120)
    d = json.loads(out.stdout.strip().splitlines()[-1])
    return d["cold_ms"], d["load_ms"], d["first_run_ms"]


def summary(name, v):
    return "%-8s n=%-3d p50 %8.1f ms  p99 %8.1f ms" % (name, len(v), pct(v, 50), pct(v, 99))


def bench_cold(port, payload):
    torch_boot = os.path.join(SRC, "examples", "runtimes", "python-torch", "bootstrap")
    fns = {"exec": ["runtime: builtin-onnx", "model: " + MODEL, "memory_mb: 2048",
                    "timeout_s: 60", "keep_alive: 100ms"],
           "zygote": ["runtime: builtin-onnx", "model: " + MODEL, "memory_mb: 2048",
                      "timeout_s: 60", "keep_alive: 100ms", "cold_start: zygote"],
           "torch": ["runtime: custom", "bootstrap: " + torch_boot, "memory_mb: 2048",
                     "timeout_s: 60", "keep_alive: 100ms",
                     "environment: {FAASML_MODEL: %s}" % MODEL_DIR]}
    fns = {k: v for k, v in fns.items() if k not in SKIP}
    for name, lines in fns.items():
        deploy(port, "cs-" + name, lines)
    e2e = {k: [] for k in fns}
    init = {k: [] for k in fns}
    ort = []
    ref = None
    for r in range(COLD):
        for name in fns:
            ok, ms, ini, body = cold_round(port, "cs-" + name, payload)
            if not ok:
                print("  %s round %d failed: %s" % (name, r, body[:200]), file=sys.stderr)
                continue
            e2e[name].append(ms)
            if ini is not None:
                init[name].append(ini)
            if name != "torch":  # exec and zygote must answer identically
                out = json.loads(body)["outputs"][0]["data"]
                if ref is None:
                    ref = out
                elif out != ref:
                    raise SystemExit("%s answered differently from the first cold start" % name)
        if "ort" not in SKIP:
            try:
                ort.append(ort_round())
            except Exception as e:  # noqa: BLE001 (a missing peer is reported, not fatal)
                print("  ort: %s" % e, file=sys.stderr)
                SKIP.add("ort")
    print("cold start to first response (client end to end), MobileNetV2, %d rounds:" % COLD)
    for name in fns:
        print("  " + summary(name, e2e[name]) + "   Init Duration p50 %.1f ms" % pct(init[name], 50))
    if ort:
        print("  " + summary("ort", [o[0] for o in ort]) +
              "   (node start to first output; session creation p50 %.1f ms, first run p50 %.1f ms)"
              % (pct([o[1] for o in ort], 50), pct([o[2] for o in ort], 50)))


def bench_batch(port, payload):
    print("batching: server profile, 1 instance x 1 worker, FIFO; offered %.1f req/s for %.0f s, max_delay %.0f ms:"
          % (RATE, SECS, DELAY_MS))
    for size in SIZES:
        name = "b%d" % size
        # A server fleet of one instance with one worker and a FIFO queue: requests wait while it
        # is busy (lambda would throttle them), which is where a dynamic batch forms.
        lines = ["runtime: builtin-onnx", "model: " + MODEL, "memory_mb: 2048", "timeout_s: 60",
                 "profile: server",
                 "policy: {inst: {min: 1, max: 1, workers: 1}, queue: {capacity: 1000}}"]
        if size > 1:
            lines.append("batch: {max_size: %d, max_delay_ms: %g}" % (size, DELAY_MS))
        deploy(port, name, lines)
        for _ in range(400):
            _, _, m = call(port, "GET", "/metrics")
            if ('faasml_instances{function="%s",state="idle"} 1' % name) in m.decode():
                break
            time.sleep(0.05)
        call(port, "POST", "/v2/models/%s/infer" % name, payload)  # warm
        n = int(RATE * SECS)
        lat, done = [None] * n, [None] * n
        t0 = time.perf_counter() + 0.05

        def one(i):
            sched = t0 + i / RATE
            d = sched - time.perf_counter()
            if d > 0:
                time.sleep(d)
            try:
                st, _, _ = call(port, "POST", "/v2/models/%s/infer" % name, payload)
            except Exception:  # noqa: BLE001
                st = 0
            end = time.perf_counter()
            if st == 200:
                lat[i] = (end - sched) * 1e3
                done[i] = end
        th = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for t in th:
            t.start()
        for t in th:
            t.join()
        ok = [x for x in lat if x is not None]
        ends = [x for x in done if x is not None]
        span = max(ends) - t0 if ends else float("nan")
        print("  max_size %-2d answered %3d/%d  throughput %6.2f req/s  p50 %8.1f ms  p99 %8.1f ms"
              % (size, len(ok), n, len(ok) / span, pct(ok, 50), pct(ok, 99)))
        subprocess.run([FAASML, "functions", "--delete", name, "--gateway",
                        "http://127.0.0.1:%d" % port], stdout=subprocess.DEVNULL)


def main():
    payload = v2_payload()
    serve, port = start_serve()
    try:
        print("load average before: %s" % open("/proc/loadavg").read().strip())
        if "cold" not in SKIP:
            bench_cold(port, payload)
        if "batch" not in SKIP:
            bench_batch(port, payload)
        print("load average after: %s" % open("/proc/loadavg").read().strip())
    finally:
        serve.terminate()
        serve.wait(timeout=30)
    db = os.path.join(TMP, "results.db")
    out = subprocess.run([FAASML, "db", db, "--csv", "instances"], capture_output=True, text=True)
    rows = [l.split(",") for l in out.stdout.splitlines()]
    if rows:
        hdr = rows[0]
        col = {k: i for i, k in enumerate(hdr)}
        phases = {}
        for r in rows[1:]:
            if len(r) != len(hdr) or not r[col["function"]].startswith("cs-"):
                continue
            ph = phases.setdefault(r[col["function"]], {"spawn": [], "init": [], "load": []})
            for k, c in (("spawn", "spawn_ms"), ("init", "runtime_init_ms"), ("load", "load_ms")):
                try:
                    ph[k].append(float(r[col[c]] or 0))
                except ValueError:
                    pass
        for f, ph in sorted(phases.items()):
            print("  phases %-10s spawn p50 %6.1f ms  runtime_init p50 %6.1f ms  load p50 %6.1f ms"
                  % (f, pct(ph["spawn"], 50), pct(ph["init"], 50), pct(ph["load"], 50)))
    print("results: %s" % db)


main()
