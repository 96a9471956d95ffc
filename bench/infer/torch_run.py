#!/usr/bin/python3
"""One PyTorch measurement in a fresh process (driven by bench/infer/compare.py).

usage: torch_run.py MODEL.pt INPUT.npy REF_OUTPUT.npy THREADS MAX_ITERS BUDGET_S [MODE]
MODE: plain (torch.jit.load), freeze (+ torch.jit.freeze, the default: folds BatchNorm and
constants; MobileNetV2 12 ms instead of 18 ms here, ALBERT unchanged), optimize
(+ torch.jit.optimize_for_inference: MobileNetV2 8 ms, but ALBERT 20 % slower), or onnx (MODEL is
an .onnx file, run by the interpreter of examples/runtimes/python-torch/onnx_torch.py).
Loads the TorchScript file tools/models/export.py saved beside model.onnx (torch 1.13 cannot read
ONNX), as the Python runtime in examples/runtimes/python-torch does. Prints one JSON line like
ort_run.js: load phases, cold start from FM_T0_MS (wall-clock ms when the driver spawned this
process) to the first output, warm latencies in ms, max abs error against the reference output.
The driver sets OMP_NUM_THREADS, OPENBLAS_NUM_THREADS and OMP_WAIT_POLICY=PASSIVE.
"""

import json
import os
import sys
import time

t0 = time.perf_counter()
import numpy as np  # noqa: E402
import torch  # noqa: E402

t_import = time.perf_counter()


def main():
    """Load, run once (cold), then time warm runs until MAX_ITERS or BUDGET_S (at least 5)."""
    model, inp, ref_file, threads, max_iters, budget_s = sys.argv[1:7]
    mode = sys.argv[7] if len(sys.argv) > 7 else "freeze"
    torch.set_num_threads(int(threads))
    torch.set_num_interop_threads(1)
    x = torch.from_numpy(np.load(inp))
    if mode == "onnx":
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                        "examples", "runtimes", "python-torch"))
        import onnx_torch
        m = onnx_torch.OnnxModule(model)
    else:
        m = torch.jit.load(model, map_location="cpu").eval()
    if mode in ("freeze", "optimize"):
        m = torch.jit.freeze(m)
    if mode == "optimize":
        m = torch.jit.optimize_for_inference(m)
    t_load = time.perf_counter()
    with torch.inference_mode():
        y = m(x)
        t_first = time.perf_counter()
        cold_ms = (time.time() * 1e3 - float(os.environ["FM_T0_MS"])
                   if os.environ.get("FM_T0_MS") else None)
        ref = np.load(ref_file)
        y = y.numpy()
        err = float(np.abs(y - ref).max()) if y.shape == ref.shape else None
        m(x)  # one more warm-up after the cold run
        lat = []
        end = time.perf_counter() + float(budget_s)
        while len(lat) < int(max_iters) and (len(lat) < 5 or time.perf_counter() < end):
            s = time.perf_counter()
            m(x)
            lat.append((time.perf_counter() - s) * 1e3)
    print(json.dumps({
        "runtime": "torch", "version": f"{torch.__version__} {mode}",
        "import_ms": (t_import - t0) * 1e3, "load_ms": (t_load - t_import) * 1e3,
        "first_run_ms": (t_first - t_load) * 1e3, "cold_ms": cold_ms, "lat_ms": lat,
        "max_abs_err": err, "ref_absmax": float(np.abs(ref).max())}))


if __name__ == "__main__":
    main()
