#!/usr/bin/python3
"""Writes the tiny quantized ONNX models that tests/unit/test_infer_quant.c and the fuzz corpus use.

Run with Debian's python3-onnx: /usr/bin/python3 tools/gen_quant_fixtures.py
Output: tests/fixtures/infer/q_*.onnx and q_*.npy (small, committed). Values are seeded, so the
files are reproducible. Expected outputs are computed here with numpy, independently of faasml.
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "infer")
rng = np.random.default_rng(16)
n = helper.make_node


def arr(name, a):
    return numpy_helper.from_array(np.asarray(a), name)


def save(nodes, inits, ins, outs, name, ms=False, check=True):
    g = helper.make_graph(nodes, name, ins, outs, inits)
    opsets = [helper.make_opsetid("", 13)]
    if ms:
        opsets.append(helper.make_opsetid("com.microsoft", 1))
    m = helper.make_model(g, opset_imports=opsets, producer_name="faasml-fixtures")
    m.ir_version = 7
    if check:
        onnx.checker.check_model(m)
    onnx.save(m, os.path.join(OUT, name + ".onnx"))


def fvi(name, shape, t=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, t, shape)


def bad_models():
    """Each loads with an error naming the node: scale 0/NaN/Inf, zero point type, range, axis."""
    x = [fvi("x", [1, 4])]
    y = [fvi("y", [1, 4], TensorProto.UINT8)]
    for tag, s in (("scale0", 0.0), ("scale_nan", float("nan")), ("scale_inf", float("inf")),
                   ("scale_neg", -0.5)):
        save([n("QuantizeLinear", ["x", "s", "z"], ["y"], name="q1")],
             [arr("s", np.float32(s)), arr("z", np.uint8(3))], x, y, "q_bad_" + tag)
    # zero point of another type than the data
    save([n("DequantizeLinear", ["w", "s", "z"], ["y"], name="dq_type")],
         [arr("w", np.arange(4, dtype=np.uint8).reshape(1, 4)), arr("s", np.float32(0.1)),
          arr("z", np.int8(1))], [], [fvi("y", [1, 4])], "q_bad_zp_type", check=False)
    # INT32 data with a non-zero zero point (only 0 is in range for INT32 dequantization)
    save([n("DequantizeLinear", ["b", "s", "z"], ["y"], name="dq_i32")],
         [arr("b", np.arange(4, dtype=np.int32)), arr("s", np.float32(0.1)), arr("z", np.int32(5))],
         [], [fvi("y", [4])], "q_bad_zp_range", check=False)
    # per-channel scale whose length does not match the axis
    save([n("DequantizeLinear", ["w", "s", "z"], ["y"], name="dq_axis", axis=0)],
         [arr("w", rng.integers(-127, 127, (4, 3, 3, 3)).astype(np.int8)),
          arr("s", np.full(3, 0.02, np.float32)), arr("z", np.zeros(3, np.int8))],
         [], [fvi("y", [4, 3, 3, 3])], "q_bad_axis_len")
    # QLinearConv with a per-channel weight scale of the wrong length
    save([n("QLinearConv", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz"], ["y"], name="qconv")],
         [arr("xs", np.float32(0.1)), arr("xz", np.uint8(128)),
          arr("w", rng.integers(-127, 127, (4, 2, 1, 1)).astype(np.int8)),
          arr("ws", np.full(5, 0.01, np.float32)), arr("wz", np.zeros(5, np.int8)),
          arr("ys", np.float32(0.2)), arr("yz", np.uint8(128))],
         [fvi("x", [1, 2, 3, 3], TensorProto.UINT8)], [fvi("y", [1, 4, 3, 3], TensorProto.UINT8)],
         "q_bad_conv_chan")


def sat(v, lo=0, hi=255):
    return np.clip(v, lo, hi)


def q(f, s, z):
    return sat(np.rint(f / np.float32(s)) + z).astype(np.uint8)


def ms_ops():
    """com.microsoft QLinearAdd -> QLinearSigmoid -> QLinearGlobalAveragePool -> DequantizeLinear."""
    xs, xz, bs, bz, as_, az, ss, sz, ps, pz = 0.05, 120, 0.03, 100, 0.08, 128, 1 / 256, 0, 0.004, 10
    x = rng.integers(0, 256, (2, 3, 4, 4)).astype(np.uint8)
    b = rng.integers(0, 256, (1, 3, 1, 1)).astype(np.uint8)
    nodes = [
        n("QLinearAdd", ["x", "xs", "xz", "b", "bs", "bz", "as", "az"], ["a"], domain="com.microsoft"),
        n("QLinearSigmoid", ["a", "as", "az", "ss", "sz"], ["sg"], domain="com.microsoft"),
        n("QLinearGlobalAveragePool", ["sg", "ss", "sz", "ps", "pz"], ["p"], domain="com.microsoft",
          channels_last=0),
        n("DequantizeLinear", ["p", "ps", "pz"], ["y"]),
    ]
    f32 = np.float32
    inits = [arr("xs", f32(xs)), arr("xz", np.uint8(xz)), arr("b", b), arr("bs", f32(bs)),
             arr("bz", np.uint8(bz)), arr("as", f32(as_)), arr("az", np.uint8(az)),
             arr("ss", f32(ss)), arr("sz", np.uint8(sz)), arr("ps", f32(ps)), arr("pz", np.uint8(pz))]
    save(nodes, inits, [fvi("x", [2, 3, 4, 4], TensorProto.UINT8)], [fvi("y", [2, 3, 1, 1])],
         "q_ms_ops", ms=True, check=False)
    fa = (x.astype(f32) - xz) * f32(xs) + (b.astype(f32) - bz) * f32(bs)
    a = q(fa, as_, az)
    sg = q(1 / (1 + np.exp(-(a.astype(f32) - az) * f32(as_))), ss, sz)
    mean = sg.astype(f32).mean(axis=(2, 3), keepdims=True)
    p = q((mean - sz) * f32(ss), ps, pz)
    y = ((p.astype(f32) - pz) * f32(ps)).astype(f32)
    np.save(os.path.join(OUT, "q_ms_ops_in.npy"), x)
    np.save(os.path.join(OUT, "q_ms_ops_out.npy"), y)


def residual():
    """Two QDQ residual joins (DequantizeLinear x2 -> Add [-> Relu] -> QuantizeLinear), which the
    runtime plans as QLinearAdd steps: one with a Relu, one without, on [2, 8, 6, 6] activations."""
    nodes = [
        n("QuantizeLinear", ["a", "sa", "za"], ["qa"]), n("QuantizeLinear", ["b", "sb", "zb"], ["qb"]),
        n("DequantizeLinear", ["qa", "sa", "za"], ["da"]),
        n("DequantizeLinear", ["qb", "sb", "zb"], ["db"]),
        n("Add", ["da", "db"], ["s1"]), n("Relu", ["s1"], ["r1"]),
        n("QuantizeLinear", ["r1", "s1s", "s1z"], ["q1"]),
        n("DequantizeLinear", ["q1", "s1s", "s1z"], ["d1"]),
        n("DequantizeLinear", ["qb", "sb", "zb"], ["db2"]),
        n("Add", ["d1", "db2"], ["s2"]),
        n("QuantizeLinear", ["s2", "s2s", "s2z"], ["q2"]),
        n("DequantizeLinear", ["q2", "s2s", "s2z"], ["y"]),
    ]
    inits = [arr("sa", np.float32(0.05)), arr("za", np.uint8(120)), arr("sb", np.float32(0.04)),
             arr("zb", np.uint8(100)), arr("s1s", np.float32(0.06)), arr("s1z", np.uint8(0)),
             arr("s2s", np.float32(0.07)), arr("s2z", np.uint8(128))]
    shape = [2, 8, 6, 6]
    save(nodes, inits, [fvi("a", shape), fvi("b", shape)], [fvi("y", shape)], "q_residual")


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    bad_models()
    ms_ops()
    residual()
