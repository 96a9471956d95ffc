#!/usr/bin/python3
"""Export the test and benchmark models of faasml to ONNX, with reference inputs and outputs.

Every model is built from its architecture with seeded random weights (nothing is downloaded),
BatchNorm running statistics are calibrated on random inputs, and the result is written to
  $FAASML_MODELS (default ${XDG_CACHE_HOME:-$HOME/.cache}/faasml/models)/<name>/
    model.onnx          ONNX, opset 13, dynamic batch axis
    model.opset17.onnx  the same weights at opset 17 (LayerNormalization is one node there)
    model.pt            TorchScript (traced) of the same module, for the PyTorch runtime and bench
    input_b1.npy  output_b1.npy  input_b8.npy  output_b8.npy   (input_b1 = input_b8[0:1])
    meta.json           names, shapes, dtypes, versions, export timings, file sizes
A model whose meta.json carries the current export key (a hash of EXPORT_VERSION and the installed
torch and onnx versions, read without importing them) is skipped, so the command is cheap to run again. Run with Debian's /usr/bin/python3.
"""

import argparse
import fcntl
import hashlib
import json
import os
import shutil
import sys
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
# Bump EXPORT_VERSION whenever a change here or in encoders.py changes what is written: the cache
# key in meta.json is derived from it (and the torch/onnx versions), so stale exports are redone.
EXPORT_VERSION = 1
SEED = 20220612  # base seed; each model's seed is derived from it and the model's name
OPSETS = (13, 17)  # torch 1.13 exports opsets 7..17; 17 is its maximum
CALIB_BATCHES = 4  # BatchNorm calibration: forward passes of CALIB_BATCH random inputs each
CALIB_BATCH = 8
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def log(msg):
    """Progress goes to stderr so stdout stays free for the --json summary."""
    print(f"export: {msg}", file=sys.stderr, flush=True)


def cache_dir():
    """The model cache, shared by make models, the tests and bench/ (see the module docstring)."""
    if os.environ.get("FAASML_MODELS"):
        return os.environ["FAASML_MODELS"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "faasml", "models")


# ---- model constructors (imports are lazy: torch takes seconds to import) -------------------

def tiny_cnn():
    """Conv/BN/ReLU/MaxPool twice, global average pool, Flatten, Gemm: the CNN ops in miniature."""
    from torch import nn
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))


def torchvision_model(arch):
    """A torchvision architecture with its own (seeded) initialisation, no pretrained weights."""
    def build():
        import torchvision
        return getattr(torchvision.models, arch)(weights=None)
    return build


def encoder(cfg_name):
    """A BERT/ALBERT-style encoder from encoders.py (Debian has no python3-transformers)."""
    def build():
        sys.path.insert(0, HERE)
        import encoders
        return encoders.Encoder(getattr(encoders, cfg_name))
    return build


def image_input(shape):
    """ImageNet-normalised uniform noise: the value range a real preprocessed image has."""
    def gen(batch, g):
        import torch
        x = torch.rand((batch, *shape), generator=g)
        mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
        return (x - mean) / std
    return gen


def smooth_image_input(shape, grid=8):
    """Smooth image-like planes: per channel a base level plus a coarse random (grid+1)^2 lattice,
    bilinearly enlarged, then ImageNet-normalised. The same distribution as the samples of
    `faasml infer --accuracy` and `faasml quantize --calib-random/--eval` (infer_sample_input), so
    a model whose BatchNorm is calibrated on it (the *_bncal variants) gives those samples varied,
    confident logits and top-1 agreement means something."""
    def gen(batch, g):
        import torch
        c, h, w = shape
        base = torch.rand((batch, c, 1, 1), generator=g)
        lattice = 0.6 * base + 0.4 * torch.rand((batch, c, grid + 1, grid + 1), generator=g)
        x = torch.nn.functional.interpolate(lattice, size=(h, w), mode="bilinear",
                                            align_corners=True)
        mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
        return (x - mean) / std
    return gen


def token_input(seq, vocab):
    """Uniformly random token ids over the whole vocabulary."""
    def gen(batch, g):
        import torch
        return torch.randint(0, vocab, (batch, seq), generator=g, dtype=torch.int64)
    return gen


# name -> (group, constructor, input name, input dtype, input shape without batch, generator,
#          output name, description)
MODELS = {
    "tiny-cnn": ("tiny", tiny_cnn, "input", "float32", [3, 32, 32], image_input((3, 32, 32)),
                 "output", "Conv/BatchNorm/ReLU/MaxPool/GlobalAveragePool/Gemm, 10 classes"),
    "tiny-transformer": ("tiny", encoder("TINY"), "input_ids", "int64", [16],
                         token_input(16, 100), "last_hidden_state",
                         "one post-LN Transformer block: Gather, LayerNorm, MatMul, Softmax, GELU;"
                         " vocab 100, hidden 32, 2 heads, FFN 64, seq 16"),
    "mobilenetv2": ("big", torchvision_model("mobilenet_v2"), "input", "float32", [3, 224, 224],
                    image_input((3, 224, 224)), "output", "torchvision mobilenet_v2, 1000 classes"),
    "mobilenetv2_bncal": ("big", torchvision_model("mobilenet_v2"), "input", "float32",
                          [3, 224, 224], smooth_image_input((3, 224, 224)), "output",
                          "torchvision mobilenet_v2, BatchNorm calibrated on smooth image-like"
                          " inputs (the accuracy samples' distribution), 1000 classes"),
    "resnet50": ("big", torchvision_model("resnet50"), "input", "float32", [3, 224, 224],
                 image_input((3, 224, 224)), "output", "torchvision resnet50, 1000 classes"),
    "vgg16": ("big", torchvision_model("vgg16"), "input", "float32", [3, 224, 224],
              image_input((3, 224, 224)), "output",
              "torchvision vgg16 (no BatchNorm), 1000 classes"),
    "bert-base": ("big", encoder("BERT_BASE"), "input_ids", "int64", [128],
                  token_input(128, 30522), "last_hidden_state",
                  "BERT-base encoder: hidden 768, 12 layers, 12 heads, FFN 3072, vocab 30522,"
                  " seq 128"),
    "albert-base": ("big", encoder("ALBERT_BASE"), "input_ids", "int64", [128],
                    token_input(128, 30000), "last_hidden_state",
                    "ALBERT-base encoder: hidden 768, embedding 128, 12 layers sharing weights,"
                    " 12 heads, FFN 3072, vocab 30000, seq 128"),
}


def package_version(name):
    """An installed package's version from its metadata: no import (torch takes ~1 s of CPU).

    The local part is dropped ('1.13.0a0+gitunknown' -> '1.13.0a0'), which makes it equal to the
    module's __version__ that earlier versions of this script hashed, so their exports stay current.
    """
    import importlib.metadata
    try:
        return importlib.metadata.version(name).split("+")[0]
    except importlib.metadata.PackageNotFoundError:
        return __import__(name).__version__


def export_key():
    """Changes with EXPORT_VERSION or the torch/onnx versions: stale exports are redone."""
    s = (f"faasml-models v{EXPORT_VERSION} torch={package_version('torch')} "
         f"onnx={package_version('onnx')}")
    return hashlib.sha256(s.encode()).hexdigest()[:16]


def is_current(out, key):
    """True when <out>/meta.json has this export key and every file it lists is present."""
    try:
        with open(os.path.join(out, "meta.json")) as fh:
            meta = json.load(fh)
    except (OSError, ValueError):
        return False
    return meta.get("export_key") == key and all(
        os.path.exists(os.path.join(out, f)) for f in meta.get("files", {}))


def calibrate_batchnorm(model, gen, g):
    """Replace BatchNorm running statistics with the exact averages over random inputs.

    Freshly initialised BatchNorm layers have mean 0 / variance 1, which does not match what the
    preceding random convolutions produce: activations then shrink or blow up layer by layer and
    the final output is near-constant, which would hide numeric errors in a runtime under test.
    momentum=None makes PyTorch keep a cumulative average over all calibration batches.
    Returns the number of BatchNorm layers calibrated.
    """
    import torch
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return 0
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    with torch.no_grad():
        for _ in range(CALIB_BATCHES):
            model(gen(CALIB_BATCH, g))
    return len(bns)


def export_one(name, root, key, opsets):
    """Build, calibrate, run and export one model into <root>/<name>; returns its meta dict."""
    import numpy as np
    import onnx
    import torch

    group, build, in_name, in_dtype, in_shape, gen, out_name, desc = MODELS[name]
    seed = (SEED + zlib.crc32(name.encode())) & 0x7FFFFFFF
    times = {}
    t = time.perf_counter()
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed + 1)
    model = build()
    n_bn = calibrate_batchnorm(model, gen, g)
    model.eval()
    times["build_calibrate_s"] = time.perf_counter() - t

    t = time.perf_counter()
    x8 = gen(8, g)
    x1 = x8[0:1].clone()
    with torch.no_grad():
        y1, y8 = model(x1), model(x8)
    times["reference_s"] = time.perf_counter() - t

    tmp = os.path.join(root, f".{name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    files = {}
    for op in opsets:
        fname = "model.onnx" if op == opsets[0] else f"model.opset{op}.onnx"
        t = time.perf_counter()
        torch.onnx.export(model, (x1,), os.path.join(tmp, fname), opset_version=op,
                          input_names=[in_name], output_names=[out_name],
                          dynamic_axes={in_name: {0: "batch"}, out_name: {0: "batch"}},
                          do_constant_folding=True)
        onnx.checker.check_model(os.path.join(tmp, fname))
        times[f"onnx_opset{op}_s"] = time.perf_counter() - t
        files[fname] = {"opset": op}

    t = time.perf_counter()
    with torch.no_grad():
        traced = torch.jit.trace(model, (x1,), check_trace=False)
        err = (traced(x8) - y8).abs().max().item()
    if err > 1e-4 * max(y8.abs().max().item(), 1e-6):
        raise RuntimeError(f"torchscript of '{name}' differs from eager at batch 8 by {err}")
    traced.save(os.path.join(tmp, "model.pt"))
    times["torchscript_s"] = time.perf_counter() - t
    files["model.pt"] = {}

    for fname, arr in (("input_b1.npy", x1), ("output_b1.npy", y1),
                       ("input_b8.npy", x8), ("output_b8.npy", y8)):
        np.save(os.path.join(tmp, fname), arr.numpy())
        files[fname] = {}
    for fname in files:
        files[fname]["bytes"] = os.path.getsize(os.path.join(tmp, fname))

    meta = {
        "name": name, "description": desc, "group": group, "export_key": key, "seed": seed,
        "torch": torch.__version__, "onnx": onnx.__version__,
        "inputs": [{"name": in_name, "datatype": in_dtype, "shape": ["batch", *in_shape]}],
        "outputs": [{"name": out_name, "datatype": "float32",
                     "shape": ["batch", *list(y1.shape[1:])]}],
        "parameters": sum(p.numel() for p in model.parameters()),
        "batchnorm_calibrated": {"layers": n_bn, "batches": CALIB_BATCHES if n_bn else 0,
                                 "batch_size": CALIB_BATCH if n_bn else 0},
        "reference_output_absmax": {"b1": y1.abs().max().item(), "b8": y8.abs().max().item()},
        "reference_output_std": {"b1": y1.std().item(), "b8": y8.std().item()},
        "export_seconds": {k: round(v, 3) for k, v in times.items()},
        "files": files,
    }
    with open(os.path.join(tmp, "meta.json"), "w") as fh:
        json.dump(meta, fh, indent=1)
        fh.write("\n")
    out = os.path.join(root, name)
    shutil.rmtree(out, ignore_errors=True)  # stale (the caller holds the model's lock)
    os.rename(tmp, out)
    return meta


def select(spec):
    """'tiny', 'big', 'all' or a comma list of model names -> list of names (table order)."""
    names = []
    for part in spec.split(","):
        part = part.strip()
        if part == "all":
            names += list(MODELS)
        elif part in ("tiny", "big"):
            names += [n for n, m in MODELS.items() if m[0] == part]
        elif part in MODELS:
            names.append(part)
        else:
            raise SystemExit(f"export: unknown model '{part}' (known: tiny, big, all, "
                             f"{', '.join(MODELS)})")
    return list(dict.fromkeys(names))


def main():
    """Parse flags, export what is missing or stale, print one summary line per model."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="tiny",
                    help="tiny, big, all, or comma-separated names (default: tiny)")
    ap.add_argument("--out", default=None, help="cache directory (default: $FAASML_MODELS or "
                    "${XDG_CACHE_HOME:-$HOME/.cache}/faasml/models)")
    ap.add_argument("--force", action="store_true", help="export even if current")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument("--list", action="store_true", help="list the models and exit")
    ap.add_argument("--json", action="store_true", help="print each model's meta.json on stdout")
    args = ap.parse_args()
    if args.list:
        for n, m in MODELS.items():
            print(f"{n:18} {m[0]:5} {m[7]}")
        return 0
    names = select(args.models)
    root = args.out or cache_dir()
    os.makedirs(root, exist_ok=True)

    key = export_key()
    log(f"key {key}, into {root}")
    torch = None
    for name in names:
        out = os.path.join(root, name)
        with open(os.path.join(root, f".{name}.lock"), "w") as lock:
            # parallel tests export the same models: one exports, the others wait and skip it,
            # and nobody replaces a current model while another process reads it
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not args.force and is_current(out, key):
                log(f"{name}: current, skipped")
                continue
            if torch is None:  # imported only when something is to be exported
                t = time.perf_counter()
                import torch
                torch.set_num_threads(args.threads)
                log(f"import torch+onnx {time.perf_counter() - t:.2f}s")
            t = time.perf_counter()
            meta = export_one(name, root, key, OPSETS)
            sizes = " ".join(f"{f}={v['bytes'] / 1e6:.1f}MB" for f, v in meta["files"].items())
            log(f"{name}: {time.perf_counter() - t:.1f}s ({meta['export_seconds']}) {sizes}")
            if args.json:
                print(json.dumps(meta))
    return 0


if __name__ == "__main__":
    sys.exit(main())
