#!/usr/bin/python3
"""Writes the tiny ONNX models that tests/unit/test_infer.c and the fuzz corpus use.

Run with Debian's python3-onnx: /usr/bin/python3 tools/gen_infer_fixtures.py
Output: tests/fixtures/infer/*.onnx (small, committed). Weights are seeded, so the files are
reproducible.
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "infer")
rng = np.random.default_rng(7)


def init(name, shape, scale=0.3):
    return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name)


def save(model, name, opset=13):
    model.opset_import[0].version = opset
    model.producer_name = "faasml-fixtures"
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(OUT, name))


def conv_net():
    """Conv + Relu, depthwise Conv + Clip, 1x1 Conv, residual Add, BatchNorm, pools, Gemm, Softmax."""
    n = helper.make_node
    nodes = [
        n("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        n("Relu", ["c1"], ["r1"]),
        n("Conv", ["r1", "wd", "bd"], ["c2"], pads=[1, 1, 1, 1], group=8, strides=[2, 2]),
        n("Clip", ["c2", "lo", "hi"], ["r2"]),
        n("Conv", ["r2", "w3", "b3"], ["c3"]),
        n("Conv", ["c3", "w4"], ["c4"], pads=[1, 1, 1, 1]),
        n("Add", ["c3", "c4"], ["a1"]),
        n("BatchNormalization", ["a1", "bn_s", "bn_b", "bn_m", "bn_v"], ["bn"]),
        n("MaxPool", ["bn"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
        n("AveragePool", ["p1"], ["p2"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        n("GlobalAveragePool", ["p2"], ["g"]),
        n("Flatten", ["g"], ["f"]),
        n("Gemm", ["f", "fc_w", "fc_b"], ["logits"], transB=1),
        n("Softmax", ["logits"], ["prob"], axis=1),
    ]
    inits = [
        init("w1", [8, 3, 3, 3]), init("b1", [8]), init("wd", [8, 1, 3, 3]), init("bd", [8]),
        numpy_helper.from_array(np.array(0.0, np.float32), "lo"),
        numpy_helper.from_array(np.array(6.0, np.float32), "hi"),
        init("w3", [16, 8, 1, 1]), init("b3", [16]), init("w4", [16, 16, 3, 3], 0.1),
        init("bn_s", [16]), init("bn_b", [16]),
        init("bn_m", [16], 0.1),
        numpy_helper.from_array((rng.random(16) + 0.5).astype(np.float32), "bn_v"),
        init("fc_w", [10, 16]), init("fc_b", [10]),
    ]
    g = helper.make_graph(
        nodes, "conv_net",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 16, 16])],
        [helper.make_tensor_value_info("prob", TensorProto.FLOAT, ["batch", 10]),
         helper.make_tensor_value_info("c4", TensorProto.FLOAT, ["batch", 16, 8, 8])],
        inits)
    save(helper.make_model(g), "conv_net.onnx")


def pointwise():
    """Wide 1x1 convolutions between NHWC tensors (the sgemm path), fused Clip, residual Add."""
    n = helper.make_node
    nodes = [
        n("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        n("Relu", ["c1"], ["r1"]),
        n("Conv", ["r1", "w2", "b2"], ["c2"]),
        n("Clip", ["c2", "lo", "hi"], ["r2"]),
        n("Conv", ["r2", "w3"], ["c3"]),
        n("Add", ["c3", "r1"], ["a"]),
        n("Relu", ["a"], ["ar"]),
        n("GlobalAveragePool", ["ar"], ["g"]),
        n("Flatten", ["g"], ["y"]),
    ]
    inits = [init("w1", [64, 64, 3, 3], 0.05), init("b1", [64]), init("w2", [96, 64, 1, 1], 0.15),
             init("b2", [96]), numpy_helper.from_array(np.array(0.0, np.float32), "lo"),
             numpy_helper.from_array(np.array(6.0, np.float32), "hi"), init("w3", [64, 96, 1, 1], 0.1)]
    g = helper.make_graph(
        nodes, "pointwise",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 64, 6, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 64])], inits)
    save(helper.make_model(g), "pointwise.onnx")


def transformer():
    """Embedding Gather, shape chain (Shape/Gather/Unsqueeze/Concat -> Reshape), MatMul+Add,
    attention (MatMul of activations, Softmax), decomposed LayerNorm and Erf-GELU."""
    n = helper.make_node
    h, heads, ff, vocab = 16, 2, 32, 50
    c = lambda name, v, t=np.int64: numpy_helper.from_array(np.array(v, t), name)
    nodes = [
        n("Gather", ["emb", "ids"], ["e"]),
        n("Shape", ["e"], ["shp"]),
        n("Gather", ["shp", "i0"], ["bsz"], axis=0),
        n("Gather", ["shp", "i1"], ["seq"], axis=0),
        n("Unsqueeze", ["bsz", "ax0"], ["bsz1"]),
        n("Unsqueeze", ["seq", "ax0"], ["seq1"]),
        n("Concat", ["bsz1", "seq1", "nh", "hd"], ["split_shape"], axis=0),
        n("MatMul", ["e", "wq"], ["q0"]), n("Add", ["q0", "bq"], ["q"]),
        n("MatMul", ["e", "wk"], ["k0"]), n("Add", ["k0", "bk"], ["k"]),
        n("MatMul", ["e", "wv"], ["v0"]), n("Add", ["v0", "bv"], ["v"]),
        n("Reshape", ["q", "split_shape"], ["qh"]), n("Transpose", ["qh"], ["qt"], perm=[0, 2, 1, 3]),
        n("Reshape", ["k", "split_shape"], ["kh"]), n("Transpose", ["kh"], ["kt"], perm=[0, 2, 3, 1]),
        n("Reshape", ["v", "split_shape"], ["vh"]), n("Transpose", ["vh"], ["vt"], perm=[0, 2, 1, 3]),
        n("MatMul", ["qt", "kt"], ["sc0"]), n("Div", ["sc0", "sqrt_d"], ["sc"]),
        n("Softmax", ["sc"], ["att"], axis=-1),
        n("MatMul", ["att", "vt"], ["ctx0"]), n("Transpose", ["ctx0"], ["ctx1"], perm=[0, 2, 1, 3]),
        n("Concat", ["bsz1", "seq1", "hid"], ["merge_shape"], axis=0),
        n("Reshape", ["ctx1", "merge_shape"], ["ctx"]),
        n("Add", ["ctx", "e"], ["res"]),
        # LayerNorm, decomposed as exporters write it
        n("ReduceMean", ["res"], ["mu"], axes=[-1]), n("Sub", ["res", "mu"], ["xc"]),
        n("Pow", ["xc", "two"], ["sq"]), n("ReduceMean", ["sq"], ["var"], axes=[-1]),
        n("Add", ["var", "eps"], ["ve"]), n("Sqrt", ["ve"], ["sd"]), n("Div", ["xc", "sd"], ["xn"]),
        n("Mul", ["xn", "ln_g"], ["xg"]), n("Add", ["xg", "ln_b"], ["ln"]),
        # FFN with Erf GELU
        n("MatMul", ["ln", "w1"], ["f0"]), n("Add", ["f0", "b1"], ["f1"]),
        n("Div", ["f1", "sqrt2"], ["g0"]), n("Erf", ["g0"], ["g1"]), n("Add", ["g1", "one"], ["g2"]),
        n("Mul", ["f1", "g2"], ["g3"]), n("Mul", ["g3", "half"], ["g4"]),
        n("MatMul", ["g4", "w2"], ["f2"]), n("Add", ["f2", "b2"], ["out0"]),
        n("Cast", ["ids"], ["idsf"], to=TensorProto.FLOAT),
        n("ReduceSum", ["idsf", "ax1"], ["idsum"], keepdims=0),
    ]
    inits = [
        init("emb", [vocab, h], 1.0), c("ax1", [1]), c("i0", 0), c("i1", 1), c("ax0", [0]), c("nh", [heads]),
        c("hd", [h // heads]), c("hid", [h]),
        init("wq", [h, h]), init("bq", [h]), init("wk", [h, h]), init("bk", [h]),
        init("wv", [h, h]), init("bv", [h]), c("sqrt_d", np.sqrt(h // heads), np.float32),
        c("two", 2.0, np.float32), c("eps", 1e-5, np.float32), init("ln_g", [h]), init("ln_b", [h]),
        init("w1", [h, ff]), init("b1", [ff]), c("sqrt2", np.sqrt(2.0), np.float32),
        c("one", 1.0, np.float32), c("half", 0.5, np.float32), init("w2", [ff, h]), init("b2", [h]),
    ]
    g = helper.make_graph(
        nodes, "transformer",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", "seq"])],
        [helper.make_tensor_value_info("out0", TensorProto.FLOAT, ["batch", "seq", h]),
         helper.make_tensor_value_info("idsum", TensorProto.FLOAT, ["batch"])],
        inits)
    save(helper.make_model(g), "transformer.onnx")


def tiny(name, op, opset=13, **kw):
    """One-node models for error paths."""
    g = helper.make_graph(
        [helper.make_node(op, ["x"], ["y"], **kw)], name,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])])
    m = helper.make_model(g)
    m.opset_import[0].version = opset
    onnx.save(m, os.path.join(OUT, name))


def bad_models():
    tiny("relu.onnx", "Relu")
    tiny("unsupported_op.onnx", "Hardmax")
    tiny("bad_opset.onnx", "Relu", opset=4)
    tiny("bad_attr.onnx", "Relu", foo=1)
    # a cycle: y = Relu(z), z = Relu(y)
    g = helper.make_graph(
        [helper.make_node("Relu", ["z"], ["y"]), helper.make_node("Relu", ["y"], ["z"])], "cycle",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    onnx.save(helper.make_model(g), os.path.join(OUT, "cycle.onnx"))
    # an input nobody defines
    g = helper.make_graph(
        [helper.make_node("Add", ["x", "missing_w"], ["y"])], "missing",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    onnx.save(helper.make_model(g), os.path.join(OUT, "missing_init.onnx"))
    # raw_data shorter than dims say
    t = numpy_helper.from_array(np.zeros(4, np.float32), "w")
    t.raw_data = t.raw_data[:8]
    g = helper.make_graph(
        [helper.make_node("Add", ["x", "w"], ["y"])], "short",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])], [t])
    onnx.save(helper.make_model(g), os.path.join(OUT, "short_raw.onnx"))
    # absurd dims (2^62 elements)
    t = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[1 << 31, 1 << 31], raw_data=b"")
    g = helper.make_graph(
        [helper.make_node("Add", ["x", "w"], ["y"])], "huge",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])], [t])
    onnx.save(helper.make_model(g), os.path.join(OUT, "huge_dims.onnx"))


def external_data():
    """y = x + w with w (0, 1, ..., 255) in ext_weights.bin beside the model; and a model whose
    external data path leaves its directory."""
    w = numpy_helper.from_array(np.arange(256, dtype=np.float32), "w")
    g = helper.make_graph(
        [helper.make_node("Add", ["x", "w"], ["y"])], "external",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [256])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [256])], [w])
    m = helper.make_model(g)
    m.opset_import[0].version = 13
    onnx.save(m, os.path.join(OUT, "external.onnx"), save_as_external_data=True,
              all_tensors_to_one_file=True, location="ext_weights.bin", size_threshold=0)
    m = onnx.load(os.path.join(OUT, "external.onnx"), load_external_data=False)
    for e in m.graph.initializer[0].external_data:
        if e.key == "location":
            e.value = "../ext_weights.bin"
    onnx.save(m, os.path.join(OUT, "external_escape.onnx"))


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    conv_net()
    pointwise()
    transformer()
    bad_models()
    external_data()
    for f in sorted(os.listdir(OUT)):
        print(f, os.path.getsize(os.path.join(OUT, f)))
