"""A small ONNX interpreter on PyTorch tensors, so PyTorch 1.13 (which cannot read ONNX) can run
the very .onnx file faasml serves.

The graph is executed node by node in file order (ONNX requires topological order) with one torch
function per operator: eager PyTorch, no fusion. It covers the operators that PyTorch's exports of
MobileNetV2, ResNet-50, VGG-16, BERT and ALBERT use at opsets 13 to 17, plus common neighbours.
An operator, datatype or opset it does not know is reported by name when the model is loaded.
"""

import math

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper

MIN_OPSET, MAX_OPSET = 13, 17  # axes/split as inputs (13); LayerNormalization (17)
ONNX_TO_TORCH = {1: torch.float32, 2: torch.uint8, 3: torch.int8, 5: torch.int16,
                 6: torch.int32, 7: torch.int64, 9: torch.bool, 10: torch.float16,
                 11: torch.float64}


class OnnxError(Exception):
    """A model this interpreter cannot run; the message names the node, operator or attribute."""


def _pads2d(a):
    """ONNX pads [top, left, bottom, right] -> torch padding (h, w) or an explicit F.pad list."""
    p = a.get("pads", [0, 0, 0, 0])
    if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise OnnxError("auto_pad is not supported")
    if p[0] == p[2] and p[1] == p[3]:
        return (p[0], p[1]), None
    return (0, 0), [p[1], p[3], p[0], p[2]]


def _conv(a, x, w, b=None):
    if w.dim() != 4:
        raise OnnxError("only 2-D Conv is supported")
    pad, explicit = _pads2d(a)
    if explicit:
        x = F.pad(x, explicit)
    return F.conv2d(x, w, b, stride=a.get("strides", [1, 1]), padding=pad,
                    dilation=a.get("dilations", [1, 1]), groups=a.get("group", 1))


def _pool(kind):
    def run(a, x):
        pad, explicit = _pads2d(a)
        if explicit:
            x = F.pad(x, explicit, value=-math.inf if kind == "max" else 0.0)
        k, s = a["kernel_shape"], a.get("strides", [1, 1])
        ceil = bool(a.get("ceil_mode", 0))
        if kind == "max":
            return F.max_pool2d(x, k, s, pad, a.get("dilations", [1, 1]), ceil_mode=ceil)
        return F.avg_pool2d(x, k, s, pad, ceil_mode=ceil,
                            count_include_pad=bool(a.get("count_include_pad", 0)))
    return run


def _gemm(a, x, w, c=None):
    x = x.t() if a.get("transA", 0) else x
    w = w.t() if a.get("transB", 0) else w
    y = a.get("alpha", 1.0) * (x @ w)
    return y if c is None else y + a.get("beta", 1.0) * c


def _div(a, x, y):
    if x.dtype.is_floating_point:
        return x / y
    return torch.div(x, y, rounding_mode="trunc")


def _reshape(a, x, shape):
    s = shape.tolist()
    if not a.get("allowzero", 0):
        s = [x.shape[i] if d == 0 else d for i, d in enumerate(s)]
    return x.reshape(s)


def _slice(a, x, starts, ends, axes=None, steps=None):
    axes = range(len(starts)) if axes is None else axes.tolist()
    steps = [1] * len(starts) if steps is None else steps.tolist()
    idx = [slice(None)] * x.dim()
    for st, en, ax, sp in zip(starts.tolist(), ends.tolist(), axes, steps):
        if sp <= 0:
            raise OnnxError("Slice with a non-positive step is not supported")
        n = x.shape[ax]
        st = max(0, min(n, st + n if st < 0 else st))
        en = max(0, min(n, en + n if en < 0 else en))
        idx[ax] = slice(st, en, sp)
    return x[tuple(idx)]


def _gather(a, x, i):
    axis = a.get("axis", 0)
    i = torch.where(i < 0, i + x.shape[axis], i)
    out = torch.index_select(x, axis, i.reshape(-1))
    return out.reshape(x.shape[:axis] + i.shape + x.shape[axis + 1:])


def _squeeze(a, x, axes=None):
    if axes is None:
        return x.squeeze()
    for ax in sorted((d % x.dim() for d in axes.tolist()), reverse=True):
        x = x.squeeze(ax)
    return x


def _unsqueeze(a, x, axes):
    rank = x.dim() + axes.numel()
    for ax in sorted(d % rank for d in axes.tolist()):
        x = x.unsqueeze(ax)
    return x


def _reduce_mean(a, x, axes=None):
    axes = a.get("axes") if axes is None else axes.tolist()
    if axes is None:
        axes = list(range(x.dim()))
    return x.mean(dim=axes, keepdim=bool(a.get("keepdims", 1)))


def _layer_norm(a, x, scale, bias=None):
    axis = a.get("axis", -1) % x.dim()
    return F.layer_norm(x, x.shape[axis:], scale, bias, a.get("epsilon", 1e-5))


def _batch_norm(a, x, scale, bias, mean, var):
    return F.batch_norm(x, mean, var, scale, bias, False, 0.0, a.get("epsilon", 1e-5))


def _constant(a):
    if "value" in a:
        return a["value"]
    for k, dt in (("value_float", torch.float32), ("value_int", torch.int64)):
        if k in a:
            return torch.tensor(a[k], dtype=dt)
    for k, dt in (("value_floats", torch.float32), ("value_ints", torch.int64)):
        if k in a:
            return torch.tensor(list(a[k]), dtype=dt)
    raise OnnxError("Constant without a supported value attribute")


def _constant_of_shape(a, shape):
    v = a.get("value", torch.zeros(1, dtype=torch.float32))
    return torch.full(shape.tolist(), v.reshape(-1)[0].item(), dtype=v.dtype)


def _expand(a, x, shape):
    return x.expand(torch.broadcast_shapes(x.shape, tuple(shape.tolist())))


def _cast(a, x):
    if a["to"] not in ONNX_TO_TORCH:
        raise OnnxError(f"Cast to ONNX type {a['to']} is not supported")
    return x.to(ONNX_TO_TORCH[a["to"]])


# operator -> function(attributes, *inputs) returning one tensor (all these ops have one output)
OPS = {
    "Conv": _conv, "MaxPool": _pool("max"), "AveragePool": _pool("avg"),
    "GlobalAveragePool": lambda a, x: x.mean(dim=tuple(range(2, x.dim())), keepdim=True),
    "BatchNormalization": _batch_norm, "LayerNormalization": _layer_norm,
    "Relu": lambda a, x: torch.relu(x), "Sigmoid": lambda a, x: torch.sigmoid(x),
    "Tanh": lambda a, x: torch.tanh(x), "Erf": lambda a, x: torch.erf(x),
    "Sqrt": lambda a, x: torch.sqrt(x), "HardSwish": lambda a, x: F.hardswish(x),
    "Clip": lambda a, x, lo=None, hi=None: torch.clamp(x, lo, hi),
    "Add": lambda a, x, y: x + y, "Sub": lambda a, x, y: x - y, "Mul": lambda a, x, y: x * y,
    "Div": _div, "Pow": lambda a, x, y: torch.pow(x, y),
    "MatMul": lambda a, x, y: torch.matmul(x, y), "Gemm": _gemm,
    "Softmax": lambda a, x: torch.softmax(x, dim=a.get("axis", -1)),
    "ReduceMean": _reduce_mean,
    "Flatten": lambda a, x: x.reshape(math.prod(x.shape[:a.get("axis", 1) % max(x.dim(), 1)]),
                                      -1),
    "Reshape": _reshape, "Transpose": lambda a, x: x.permute(
        a.get("perm", list(range(x.dim() - 1, -1, -1)))),
    "Squeeze": _squeeze, "Unsqueeze": _unsqueeze, "Slice": _slice, "Gather": _gather,
    "Concat": lambda a, *xs: torch.cat(xs, dim=a["axis"]),
    "Shape": lambda a, x: torch.tensor(x.shape[a.get("start", 0):a.get("end", x.dim())],
                                       dtype=torch.int64),
    "Cast": _cast, "Constant": _constant, "ConstantOfShape": _constant_of_shape,
    "Where": lambda a, c, x, y: torch.where(c, x, y), "Equal": lambda a, x, y: x == y,
    "Expand": _expand, "Identity": lambda a, x: x, "Dropout": lambda a, x, *rest: x,
    "Range": lambda a, s, e, d: torch.arange(s.item(), e.item(), d.item(), dtype=s.dtype),
}


def _attr(at):
    """An AttributeProto as a Python value (tensors become torch tensors)."""
    v = onnx.helper.get_attribute_value(at)
    if isinstance(v, onnx.TensorProto):
        return torch.from_numpy(numpy_helper.to_array(v).copy())
    return list(v) if isinstance(v, (list, tuple)) or type(v).__name__.startswith("Repeated") \
        else v


class OnnxModule:
    """A loaded ONNX graph callable like a torch module: module(x) -> first output tensor."""

    def __init__(self, path):
        try:
            m = onnx.load(path)
        except Exception as e:  # protobuf DecodeError, OSError, ...
            raise OnnxError(f"cannot parse '{path}': {e}") from e
        opset = {o.domain: o.version for o in m.opset_import}.get("", 0)
        if not MIN_OPSET <= opset <= MAX_OPSET:
            raise OnnxError(f"unsupported opset {opset} (this interpreter runs "
                            f"{MIN_OPSET} to {MAX_OPSET})")
        bad = sorted({n.op_type for n in m.graph.node if n.domain not in ("", "ai.onnx")}
                     | ({n.op_type for n in m.graph.node} - OPS.keys()))
        if bad:
            raise OnnxError(f"unsupported operators: {', '.join(bad)}")
        self.consts = {}
        for t in m.graph.initializer:
            a = numpy_helper.to_array(t)
            if a.dtype not in (np.float32, np.float64, np.float16, np.int64, np.int32,
                               np.int8, np.uint8, np.bool_):
                raise OnnxError(f"initializer '{t.name}': unsupported dtype {a.dtype}")
            self.consts[t.name] = torch.from_numpy(a.copy())
        self.nodes = [(n.op_type, OPS[n.op_type], list(n.input), list(n.output),
                       {at.name: _attr(at) for at in n.attribute}, n.name)
                      for n in m.graph.node]
        self.nodes = [self._specialise(*n) for n in self.nodes]
        self.input = next(i.name for i in m.graph.input if i.name not in self.consts)
        self.outputs = [o.name for o in m.graph.output]

    def _specialise(self, op, fn, ins, outs, attrs, name):
        """Bind constant operands once at load where eager PyTorch has a faster call for them.

        MatMul by a 2-D weight becomes F.linear on the weight transposed once (2.5x faster than
        torch.matmul with Debian's PyTorch); Clip with constant bounds clamps with Python floats.
        """
        c = self.consts
        if op == "MatMul" and len(ins) == 2 and ins[1] in c and c[ins[1]].dim() == 2:
            wt = c[ins[1]].t().contiguous()
            return op, (lambda a, x, _w: F.linear(x, wt)), ins, outs, attrs, name
        if op == "Clip" and all(i in c for i in ins[1:] if i):
            lo, hi = [c[i].item() if i else None for i in (ins[1:] + ["", ""])[:2]]
            return op, (lambda a, x, *_: torch.clamp(x, lo, hi)), ins, outs, attrs, name
        return op, fn, ins, outs, attrs, name

    def eval(self):
        return self

    def __call__(self, x):
        env = dict(self.consts)
        env[self.input] = x
        for op, fn, ins, outs, attrs, name in self.nodes:
            try:
                y = fn(attrs, *[env[i] if i else None for i in ins])
            except OnnxError:
                raise
            except Exception as e:  # a shape the graph cannot take, etc.
                raise OnnxError(f"node '{name}' ({op}): {str(e).splitlines()[0]}") from e
            env[outs[0]] = y
        ys = tuple(env[o] for o in self.outputs)
        return ys[0] if len(ys) == 1 else ys
