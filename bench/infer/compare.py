#!/usr/bin/python3
"""faasml's inference runtime side by side with ONNX Runtime and PyTorch (see README.md here).

For each model and batch size, every runtime runs in a fresh process, RUNS times, interleaved
(ort, torch, faasml, ort, ...): warm latency p50/p99 at 1 thread, cold start (spawn -> model
loaded -> first output) and peak RSS (/usr/bin/time -v). The table shows medians over the runs and
the ratios faasml/ORT and torch/ORT; every run's row goes to bench/results/infer-<stamp>.csv.
--precisions adds INT8 and BF16 rows: int8 runs faasml and ORT on the same quantized file
(model.int8.onnx, written once by `faasml quantize`: static QDQ calibrated on the 8 samples of
input_b8.npy for image models, dynamic for token models), bf16 runs faasml with --precision bf16 (ORT has no BF16 CPU kernels; its ratio is
to ORT FP32). p50/fp32 is the ratio to faasml FP32 of the same model and batch.
Standard library only (numpy for checking faasml's output).
"""

import argparse
import csv
import datetime
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PINNED_ENV = {"OMP_NUM_THREADS": None, "OPENBLAS_NUM_THREADS": None, "MKL_NUM_THREADS": None,
              "OMP_WAIT_POLICY": "PASSIVE"}  # None: set to the thread count
CSV_FIELDS = ["stamp", "host", "model", "precision", "batch", "threads", "runtime", "version", "run",
              "iters", "p50_ms", "p99_ms", "mean_ms", "cold_ms", "import_ms", "load_ms",
              "first_run_ms", "peak_rss_mb", "rel_err", "note"]


def quantile(xs, q):
    """The sorted sample at index floor((n - 1) * q), as `faasml infer --bench` computes it."""
    s = sorted(xs)
    return s[int((len(s) - 1) * q)]


def timed_spawn(cmd, env, timeout):
    """Run cmd under /usr/bin/time -v; returns (rc, stdout, stderr, peak RSS MB, spawn wall ms).

    FM_T0_MS in the child's environment is the wall clock just before the spawn, so a runner can
    report spawn -> first output itself.
    """
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        env = dict(env, FM_T0_MS=repr(time.time() * 1e3))
        t = time.perf_counter()
        p = subprocess.run(["/usr/bin/time", "-v", "-o", tf.name, *cmd], env=env,
                           capture_output=True, text=True, timeout=timeout)
        wall = (time.perf_counter() - t) * 1e3
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", tf.read())
    return p.returncode, p.stdout, p.stderr, (int(m.group(1)) / 1024 if m else None), wall


def quantized_file(d, a, env):
    """<d>/model.int8.onnx, written by faasml quantize when missing or older than the model."""
    src, dst = os.path.join(d, a.onnx), os.path.join(d, "model.int8.onnx")
    if os.path.exists(dst) and os.path.getmtime(dst) >= os.path.getmtime(src):
        return dst
    with open(os.path.join(d, "meta.json")) as fh:
        meta = json.load(fh)
    token = meta["inputs"][0]["datatype"].startswith("int")
    cmd = [a.faasml, "quantize", src, "-o", dst, "--json"]
    td = tempfile.TemporaryDirectory()
    if token:
        cmd += ["--mode", "dynamic"]
    elif a.calib == 0:  # the model's own input distribution: the 8 samples of input_b8.npy
        import numpy as np
        x8 = np.load(os.path.join(d, "input_b8.npy"))
        for i in range(x8.shape[0]):
            np.save(os.path.join(td.name, f"s{i}.npy"), x8[i:i + 1])
        cmd += ["--calib", td.name, "--method", a.method]
    else:
        cmd += ["--calib-random", str(a.calib), "--method", a.method]
    print(f"compare: {' '.join(cmd)}", file=sys.stderr)
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=a.timeout)
    td.cleanup()
    if p.returncode != 0:
        raise RuntimeError(f"faasml quantize exited {p.returncode}: {p.stderr.strip()[-300:]}")
    return dst


def run_peer(kind, d, batch, a, env, onnx=None):
    """One ORT (node) or PyTorch process; returns a result dict or {'error': ...}."""
    inp, ref = os.path.join(d, f"input_b{batch}.npy"), os.path.join(d, f"output_b{batch}.npy")
    if kind == "ort":
        cmd = ["node", os.path.join(HERE, "ort_run.js"), onnx or os.path.join(d, a.onnx)]
    else:
        cmd = ["/usr/bin/python3", "-W", "ignore", os.path.join(HERE, "torch_run.py"),
               os.path.join(d, a.onnx if a.torch_mode == "onnx" else "model.pt")]
    cmd += [inp, ref, str(a.threads), str(a.iters), str(a.budget)]
    if kind == "torch":
        cmd.append(a.torch_mode)
    rc, out, err, rss, _ = timed_spawn(cmd, env, a.timeout)
    if rc != 0:
        return {"error": f"{kind} exited {rc}: {err.strip().splitlines()[-1:] or ''}"}
    r = json.loads(out.strip().splitlines()[-1])
    r["peak_rss_mb"] = rss
    if r.get("max_abs_err") is not None and r.get("ref_absmax"):
        r["rel_err"] = r["max_abs_err"] / r["ref_absmax"]
    return r


def flatten(obj, prefix=""):
    """{'a': {'p50_ms': 1}} -> {'a.p50_ms': 1}: lets us read the faasml JSON by key suffix."""
    out = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.update(flatten(v, f"{prefix}{k}."))
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        out[prefix[:-1]] = float(obj)
    return out


def pick_ms(flat, name):
    """The first field named like p50 / p50_ms / p50_us / p50_ns, converted to milliseconds."""
    for k, v in flat.items():
        m = re.search(rf"(^|[._]){name}(_(ms|us|ns))?$", k)
        if m:
            return v * {"ms": 1, "us": 1e-3, "ns": 1e-6, None: 1}[m.group(3)]
    return None


def run_faasml(d, batch, a, env, iters, onnx=None, precision="fp32"):
    """`faasml infer` once for cold start + output check, once with --bench for warm latency."""
    model = onnx or os.path.join(d, a.onnx)
    with tempfile.TemporaryDirectory() as td:
        out_npy = os.path.join(td, "out.npy")
        cmd = [a.faasml, "infer", model, "--input", os.path.join(d, f"input_b{batch}.npy"),
               "--output", out_npy, "--threads", str(a.threads), "--precision", precision]
        rc, _, err, rss_cold, wall = timed_spawn(cmd, env, a.timeout)
        if rc != 0:
            return {"error": f"faasml infer exited {rc}: {err.strip()[-300:]}"}
        r = {"cold_ms": wall, "note": "cold = spawn to exit"}
        try:
            import numpy as np
            y, ref = np.load(out_npy), np.load(os.path.join(d, f"output_b{batch}.npy"))
            if y.shape == ref.shape:
                r["rel_err"] = float(np.abs(y - ref).max() / np.abs(ref).max())
        except (OSError, ValueError, ImportError) as e:
            r["note"] += f"; output not checked: {e}"
    cmd = [a.faasml, "infer", model, "--input", os.path.join(d, f"input_b{batch}.npy"),
           "--threads", str(a.threads), "--bench", str(iters), "--json", "--precision", precision]
    rc, out, err, rss, _ = timed_spawn(cmd, env, a.timeout)
    if rc != 0:
        return {"error": f"faasml infer --bench exited {rc}: {err.strip()[-300:]}"}
    try:
        flat = flatten(json.loads(out))
    except ValueError:
        return {"error": f"faasml infer --json printed no JSON: {out[:200]!r}"}
    load = [pick_ms(flat, k) for k in ("read", "parse", "plan", "pack")]
    r.update(p50_ms=pick_ms(flat, "p50"), p99_ms=pick_ms(flat, "p99"),
             mean_ms=pick_ms(flat, "mean"), first_run_ms=pick_ms(flat, "first_run"),
             load_ms=sum(load) if None not in load else None,
             peak_rss_mb=max(x for x in (rss, rss_cold) if x), iters=iters, version="faasml")
    return r


def faasml_ready(a):
    """True when the faasml binary exists and has the `infer` command (built in src/infer)."""
    if not (a.faasml and os.access(a.faasml, os.X_OK)):
        return False, f"no faasml binary at '{a.faasml}'"
    p = subprocess.run([a.faasml, "infer", "--help"], capture_output=True, text=True)
    if p.returncode != 0 or "--bench" not in p.stdout + p.stderr:
        return False, "'faasml infer' is not built yet"
    return True, ""


def median(rows, key):
    """Median of one field over the runs of a cell, ignoring runs that lack it."""
    xs = [r[key] for r in rows if r.get(key) is not None]
    return statistics.median(xs) if xs else None


def fmt(v, nd=1):
    """A number for the table, '-' when missing."""
    return "-" if v is None else f"{v:.{nd}f}"


def main():
    """Parse flags, run the matrix, print the table, write the CSV."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="mobilenetv2,resnet50,vgg16,albert-base")
    ap.add_argument("--runtimes", default="faasml,ort,torch")
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=3, help="processes per cell (median taken)")
    ap.add_argument("--iters", type=int, default=30, help="max warm iterations per process")
    ap.add_argument("--budget", type=float, default=5.0,
                    help="seconds of warm iterations per process (at least 5 iterations)")
    ap.add_argument("--onnx", default="model.onnx",
                    help="ONNX file in the model directory (model.opset17.onnx for opset 17)")
    ap.add_argument("--torch-mode", default="freeze",
                    choices=("plain", "freeze", "optimize", "onnx"),
                    help="TorchScript preparation, or onnx to interpret the .onnx file "
                    "(see torch_run.py; default freeze)")
    ap.add_argument("--precisions", default="fp32",
                    help="comma list of fp32, int8, bf16 (see the module docstring)")
    ap.add_argument("--calib", type=int, default=0,
                    help="int8 of image models: N synthetic calibration samples (smooth image-like"
                    " planes); 0 (default): the 8 samples of the model's input_b8.npy")
    ap.add_argument("--method", default="minmax", help="int8 calibration: minmax or percentile")
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--faasml", default=os.path.join(ROOT, "build", "faasml"))
    ap.add_argument("--models-dir", default=None)
    ap.add_argument("--csv", default=None, help="default bench/results/infer-<stamp>.csv")
    a = ap.parse_args()

    mdir = a.models_dir or os.environ.get("FAASML_MODELS") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "faasml", "models")
    runtimes = a.runtimes.split(",")
    if "faasml" in runtimes:
        ok, why = faasml_ready(a)
        if not ok:
            print(f"compare: skipping faasml: {why}", file=sys.stderr)
            runtimes.remove("faasml")
    env = dict(os.environ)
    for k, v in PINNED_ENV.items():
        env[k] = v or str(a.threads)

    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = a.csv or os.path.join(ROOT, "bench", "results", f"infer-{stamp}.csv")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    rows = []
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, CSV_FIELDS, extrasaction="ignore")
        w.writeheader()
        for model in a.models.split(","):
            d = os.path.join(mdir, model)
            if not os.path.exists(os.path.join(d, "meta.json")):
                print(f"compare: model '{model}' not in '{mdir}' (run tools/models/make-models.sh"
                      f" --models {model})", file=sys.stderr)
                continue
            for prec, batch in [(p, b) for p in a.precisions.split(",")
                                for b in map(int, a.batches.split(","))]:
                onnx = None
                if prec == "int8":
                    try:
                        onnx = quantized_file(d, a, env)
                    except (RuntimeError, OSError, ValueError) as e:
                        print(f"compare: {model} int8: {e}", file=sys.stderr)
                        continue
                rts = [rt for rt in runtimes if prec == "fp32" or rt == "faasml" or
                       (prec == "int8" and rt == "ort")]
                for run in range(a.runs):
                    iters = a.iters
                    for rt in rts:
                        r = (run_faasml(d, batch, a, env, iters, onnx, "bf16" if prec == "bf16" else "fp32")
                             if rt == "faasml" else run_peer(rt, d, batch, a, env, onnx))
                        if rt == "ort" and r.get("lat_ms"):
                            iters = len(r["lat_ms"])  # faasml runs as many iterations as ORT did
                        if r.get("lat_ms"):
                            lat = r["lat_ms"]
                            r.update(iters=len(lat), p50_ms=quantile(lat, .5),
                                     p99_ms=quantile(lat, .99), mean_ms=statistics.mean(lat))
                        r.update(stamp=stamp, host=socket.gethostname(), model=model,
                                 precision=prec, batch=batch, threads=a.threads, runtime=rt,
                                 run=run)
                        if "error" in r:
                            r["note"] = r["error"]
                            print(f"compare: {model} b{batch} {rt}: {r['error']}",
                                  file=sys.stderr)
                        w.writerow(r)
                        fh.flush()
                        rows.append(r)
                        print(f"compare: {model} {prec} b{batch} {rt} run {run}: p50 "
                              f"{fmt(r.get('p50_ms'), 2)} ms, cold {fmt(r.get('cold_ms'))} ms, "
                              f"rss {fmt(r.get('peak_rss_mb'))} MB", file=sys.stderr)
    print_table(rows, runtimes)
    print(f"\ncsv: {os.path.relpath(path, os.getcwd())}")
    return 0


def print_table(rows, runtimes):
    """Medians per (model, precision, batch, runtime), then ratios to ORT (ORT FP32 for bf16)
    and to faasml FP32."""
    cells = {}
    for r in rows:
        if "error" not in r:
            cells.setdefault((r["model"], r["precision"], r["batch"]), {}).setdefault(
                r["runtime"], []).append(r)
    print(f"\n{'model':12} {'prec':4} {'b':>2} {'runtime':7} {'runs':>4} {'p50 ms':>9} {'p99 ms':>9} "
          f"{'cold ms':>8} {'load ms':>8} {'RSS MB':>7} {'rel err':>8} | "
          f"{'p50/ORT':>7} {'p99/ORT':>7} {'cold/ORT':>8} {'RSS/ORT':>7} {'p50/fp32':>8}")
    for (model, prec, batch), by_rt in cells.items():
        peers = by_rt if "ort" in by_rt else cells.get((model, "fp32", batch), {})
        base = {k: median(peers.get("ort", []), k) for k in
                ("p50_ms", "p99_ms", "cold_ms", "peak_rss_mb")}
        fp32 = median(cells.get((model, "fp32", batch), {}).get("faasml", []), "p50_ms")
        for rt in runtimes:
            rs = by_rt.get(rt)
            if not rs:
                continue
            m = {k: median(rs, k) for k in ("p50_ms", "p99_ms", "cold_ms", "load_ms",
                                             "peak_rss_mb", "rel_err")}
            ratio = [fmt(m[k] / base[k], 2) if m[k] and base[k] else "-"
                     for k in ("p50_ms", "p99_ms", "cold_ms", "peak_rss_mb")]
            rel = "-" if m["rel_err"] is None else f"{m['rel_err']:.1e}"
            vs32 = fmt(m["p50_ms"] / fp32, 2) if m["p50_ms"] and fp32 and rt == "faasml" else "-"
            print(f"{model:12} {prec:4} {batch:>2} {rt:7} {len(rs):>4} {fmt(m['p50_ms'], 2):>9} "
                  f"{fmt(m['p99_ms'], 2):>9} {fmt(m['cold_ms']):>8} {fmt(m['load_ms']):>8} "
                  f"{fmt(m['peak_rss_mb']):>7} "
                  f"{rel:>8} | "
                  f"{ratio[0]:>7} {ratio[1]:>7} {ratio[2]:>8} {ratio[3]:>7} {vs32:>8}")


if __name__ == "__main__":
    sys.exit(main())
