"""Lowering of IR nodes into Metal compute dispatches, resolved once per plan.

A `Dispatch` names a kernel of shaders/*.metal, the tensors bound to its buffer slots in order, the
packed bytes of its parameter struct (bound after the tensors) and its grid. `PARAMS` gives each
struct's layout as a `struct` format; tests check it against the MSL structs (all 4-byte fields, so C++
and MSL agree on the layout). Pure Python: it runs, and is tested, without Metal.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from math import prod
from typing import Callable, Mapping, Optional

import numpy as np

from mnn_core.dtypes import DType
from mnn_core.ir import Node, TensorType
from mnn_core.strides import broadcast_strides
from mnn_core.ops.fused import FUSABLE
from mnn_core.ops.nn import _geometry

MAX_DIMS = 6
ROW_THREADS = 256  # kRowThreads in normalization.metal
TILE = 16          # kTile in gemm.metal
NONE = ""          # an unbound optional buffer (bias, scale): a 4-byte dummy is bound instead

PARAMS = {  # struct name -> (kernel, format); field order as in the .metal file
    "UnaryParams": ("unary", "=Iiff"),
    "BinaryParams": ("binary", f"=Iii{MAX_DIMS}i{MAX_DIMS}i{MAX_DIMS}i"),
    "ConvParams": ("conv2d", "=18i2f"),
    "GemmParams": ("gemm", "=12i3f"),
    "PoolParams": ("pool2d", "=17i"),
    "ReduceParams": ("reduce_axis", "=4i"),
    "SoftmaxParams": ("softmax", "=3i"),
    "LayerNormParams": ("layernorm", "=3if"),
}
ACTIVATIONS = {"": 0, "Relu": 1, "Clip": 2, "LeakyRelu": 3, "HardSigmoid": 4, "HardSwish": 5,
               "Sigmoid": 6, "SiLU": 7, "Tanh": 8}
assert set(ACTIVATIONS) - {""} == set(FUSABLE), "fused activations changed in mnn_core.ops.fused"
UNARY = {"Relu": 1, "HardSwish": 5, "Sigmoid": 6, "Tanh": 8, "Erf": 20, "Exp": 21, "Sqrt": 22, "Neg": 23,
         "Abs": 24, "Reciprocal": 25, "Gelu": 26, "Log": 27}
BINARY = {"Add": 0, "Sub": 1, "Mul": 2, "Div": 3, "Max": 4, "Min": 5, "Pow": 6, "PRelu": 7}
REDUCE = {"ReduceSum": 0, "ReduceMean": 1, "ReduceMax": 2, "ReduceMin": 3}
ALIASES = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout"}
INT_MAX = 2**31 - 1


class Unsupported(Exception):
    """The node cannot run on the Metal backend; the message says why."""


@dataclass
class Dispatch:
    kernel: str                   # "alias" for a view of buffers[0] named by outputs[0]
    buffers: list[str]            # inputs then outputs, in buffer-slot order
    outputs: list[str]
    params: bytes = b""
    grid: tuple[int, int, int] = (1, 1, 1)
    group: tuple[int, int, int] = (1, 1, 1)
    per_group: bool = False       # grid counts threadgroups (dispatchThreadgroups) instead of threads
    node: Optional[Node] = None


@dataclass
class Env:
    types: Mapping[str, TensorType]
    values: Mapping[str, np.ndarray]
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    def shape(self, name: str) -> tuple[int, ...]:
        t = self.types.get(name)
        if t is None or not t.is_static or t.dtype is None:
            raise Unsupported(f"tensor {name!r} has no static type ({t})")
        if t.dtype is not DType.F32:
            raise Unsupported(f"{name!r} is {t.dtype}; kernels are float32")
        return tuple(t.shape)

    def value(self, name: str, what: str) -> np.ndarray:
        if name not in self.values:
            raise Unsupported(f"{what} ({name!r}) must be known at plan time")
        return np.asarray(self.values[name])

    def table(self, node: Node, tag: str, array: np.ndarray) -> str:
        name = f"{node.outputs[0]}::{tag}"
        self.extra[name] = np.ascontiguousarray(array, np.float32)
        return name


def pack(struct_name: str, *fields) -> bytes:
    return struct.pack(PARAMS[struct_name][1], *fields)


def optional(node: Node, i: int) -> str:
    return node.inputs[i] if len(node.inputs) > i and node.inputs[i] else NONE


def activation(node: Node) -> tuple[int, float, float]:
    name = node.attrs.get("activation", "") or ""
    params = [float(p) for p in node.attrs.get("activation_params", ()) or ()]
    if name not in ACTIVATIONS or len(params) != (FUSABLE[name][0] if name else 0):
        raise Unsupported(f"fused activation {name!r} with {len(params)} params")
    params += [0.0] * (2 - len(params))
    return ACTIVATIONS[name], params[0], params[1]


def threads(n: int) -> dict:
    if n > INT_MAX:
        raise Unsupported("more than 2^31 elements")
    return {"grid": (n, 1, 1), "group": (min(n, 256), 1, 1)}


# ---- per-op lowering ----------------------------------------------------------------------------
def lower_unary(node: Node, env: Env) -> list[Dispatch]:
    x, y = node.inputs[0], node.outputs[0]
    n = prod(env.shape(x))
    env.shape(y)
    a = node.attrs
    if node.op in UNARY:
        if node.op == "Gelu" and a.get("approximate", "none") != "none":
            raise Unsupported("tanh-approximated Gelu")
        code, p0, p1 = UNARY[node.op], 0.0, 0.0
    elif node.op == "LeakyRelu":
        code, p0, p1 = 3, float(a.get("alpha", 0.01)), 0.0
    elif node.op == "HardSigmoid":
        code, p0, p1 = 4, float(a.get("alpha", 0.2)), float(a.get("beta", 0.5))
    else:  # Clip
        lo, hi = (float(env.value(optional(node, i), "Clip bound").reshape(())) if optional(node, i) else d
                  for i, d in ((1, -np.inf), (2, np.inf)))
        code, p0, p1 = 2, lo, hi
    return [Dispatch("unary", [x, y], [y], pack("UnaryParams", n, code, p0, p1), node=node, **threads(n))]


def lower_binary(node: Node, env: Env) -> list[Dispatch]:
    a, b = node.inputs
    y = node.outputs[0]
    ys = env.shape(y)
    if len(ys) > MAX_DIMS:
        raise Unsupported(f"rank above {MAX_DIMS}")
    pad = [1] * (MAX_DIMS - len(ys))
    shape = list(ys) + pad
    sa = broadcast_strides(env.shape(a), ys) + [0] * len(pad)
    sb = broadcast_strides(env.shape(b), ys) + [0] * len(pad)
    n = prod(ys)
    return [Dispatch("binary", [a, b, y], [y], pack("BinaryParams", n, BINARY[node.op], len(ys), *shape, *sa, *sb),
                     node=node, **threads(n))]


def lower_conv(node: Node, env: Env) -> list[Dispatch]:
    x, w, b, y = node.inputs[0], node.inputs[1], optional(node, 2), node.outputs[0]
    xs, ys = env.shape(x), env.shape(y)
    if len(xs) != 4:
        raise Unsupported("only 2-D convolutions")
    weight = env.value(w, "Conv weights")
    kernel = [int(k) for k in weight.shape[2:]]
    attrs = {k: node.attrs.get(k) for k in ("strides", "dilations", "pads")}
    attrs["auto_pad"] = node.attrs.get("auto_pad", "NOTSET")
    begins, _, out = _geometry(attrs, xs[2:], kernel)
    strides = [int(s) for s in attrs["strides"] or [1, 1]]
    dilations = [int(d) for d in attrs["dilations"] or [1, 1]]
    N, C, H, W = xs
    M, group = weight.shape[0], int(node.attrs.get("group", 1))
    if C % group or M % group or weight.shape[1] != C // group or tuple(ys) != (N, M, *out):
        raise Unsupported("inconsistent Conv geometry")
    act, p0, p1 = activation(node)
    wname = env.table(node, "w", weight)
    bname = env.table(node, "b", env.value(b, "Conv bias").reshape(-1)) if b else NONE
    params = pack("ConvParams", N, C, H, W, M, *out, *kernel, *strides, *dilations, *begins, group, act,
                  int(bool(b)), p0, p1)
    return [Dispatch("conv2d", [x, wname, bname, y], [y], params, (out[1], out[0], N * M), (8, 8, 1), node=node)]


def gemm_dispatch(node, a, b, y, a_shape, b_shape, *, trans_a=False, trans_b=False, bias=NONE, bias_kind=0,
                  alpha=1.0) -> Dispatch:
    M, K = (a_shape[-1], a_shape[-2]) if trans_a else (a_shape[-2], a_shape[-1])
    K2, N = (b_shape[-1], b_shape[-2]) if trans_b else (b_shape[-2], b_shape[-1])
    if K != K2:
        raise Unsupported(f"inner dims differ: {a_shape} x {b_shape}")
    ba, bb = prod(a_shape[:-2]), prod(b_shape[:-2])
    # Batch dims must match, or one operand has none (broadcast with a batch stride of 0).
    if tuple(a_shape[:-2]) != tuple(b_shape[:-2]) and min(ba, bb) != 1:
        raise Unsupported(f"batch dims {a_shape[:-2]} x {b_shape[:-2]}")
    batch = max(ba, bb)
    act, p0, p1 = activation(node)
    a_rs, a_cs = (1, a_shape[-1]) if trans_a else (a_shape[-1], 1)
    b_rs, b_cs = (1, b_shape[-1]) if trans_b else (b_shape[-1], 1)
    params = pack("GemmParams", M, N, K, batch, a_rs, a_cs, b_rs, b_cs, M * K if ba > 1 else 0,
                  K * N if bb > 1 else 0, bias_kind, act, alpha, p0, p1)
    grid = (-(-N // TILE), -(-M // TILE), batch)
    return Dispatch("gemm", [a, b, bias, y], [y], params, grid, (TILE, TILE, 1), per_group=True, node=node)


def lower_matmul(node: Node, env: Env) -> list[Dispatch]:
    a, b = node.inputs
    a_shape, b_shape = env.shape(a), env.shape(b)
    env.shape(node.outputs[0])
    if len(a_shape) < 2 or len(b_shape) < 2:
        raise Unsupported("MatMul with a 1-D operand")
    return [gemm_dispatch(node, a, b, node.outputs[0], a_shape, b_shape)]


def lower_gemm(node: Node, env: Env) -> list[Dispatch]:
    a, b, c, y = node.inputs[0], node.inputs[1], optional(node, 2), node.outputs[0]
    M, N = env.shape(y)
    beta = float(node.attrs.get("beta", 1.0))
    bias, kind = NONE, 0
    if c and beta != 0.0:
        cv = env.value(c, "Gemm C").astype(np.float32) * np.float32(beta)
        cv = cv.reshape((1,) * (2 - cv.ndim) + cv.shape)
        kind = 1 if cv.shape[0] == 1 else (2 if cv.shape[1] == 1 else 3)
        full = {1: (1, N), 2: (M, 1), 3: (M, N)}[kind]
        bias = env.table(node, "bias", np.broadcast_to(cv, full))
    return [gemm_dispatch(node, a, b, y, env.shape(a), env.shape(b), trans_a=bool(node.attrs.get("transA", 0)),
                          trans_b=bool(node.attrs.get("transB", 0)), bias=bias, bias_kind=kind,
                          alpha=float(node.attrs.get("alpha", 1.0)))]


def lower_pool(node: Node, env: Env) -> list[Dispatch]:
    x, y = node.inputs[0], node.outputs[0]
    xs, ys = env.shape(x), env.shape(y)
    if len(xs) != 4 or any(node.outputs[1:]):
        raise Unsupported("only 2-D pooling without indices")
    kernel = [int(k) for k in node.attrs["kernel_shape"]]
    attrs = {k: node.attrs.get(k) for k in ("strides", "dilations", "pads")}
    attrs["auto_pad"] = node.attrs.get("auto_pad", "NOTSET")
    begins, ends, out = _geometry(attrs, xs[2:], kernel, bool(node.attrs.get("ceil_mode", 0)))
    if tuple(ys[2:]) != tuple(out):
        raise Unsupported("output shape disagrees with the pool geometry")
    strides = [int(s) for s in attrs["strides"] or [1, 1]]
    dilations = [int(d) for d in attrs["dilations"] or [1, 1]]
    params = pack("PoolParams", xs[0] * xs[1], xs[2], xs[3], *out, *kernel, *strides, *dilations, *begins,
                  *ends, int(node.op == "MaxPool"), int(node.attrs.get("count_include_pad", 0)))
    return [Dispatch("pool2d", [x, y], [y], params, (out[1], out[0], xs[0] * xs[1]), (8, 8, 1), node=node)]


def reduce_dispatch(node, x, y, outer, n, inner, kind) -> Dispatch:
    return Dispatch("reduce_axis", [x, y], [y], pack("ReduceParams", outer, n, inner, kind), node=node,
                    **threads(outer * inner))


def lower_global_pool(node: Node, env: Env) -> list[Dispatch]:
    xs = env.shape(node.inputs[0])
    return [reduce_dispatch(node, node.inputs[0], node.outputs[0], xs[0] * xs[1], prod(xs[2:]), 1,
                            1 if node.op == "GlobalAveragePool" else 2)]


def lower_reduce(node: Node, env: Env) -> list[Dispatch]:
    x, y = node.inputs[0], node.outputs[0]
    xs = env.shape(x)
    axes_name = optional(node, 1)
    axes = sorted({int(a) % len(xs) for a in env.value(axes_name, "axes").reshape(-1)}) if axes_name else []
    if not axes:
        if node.attrs.get("noop_with_empty_axes", 0):
            raise Unsupported("empty reduction")
        axes = list(range(len(xs)))
    if axes != list(range(axes[0], axes[-1] + 1)):
        raise Unsupported("reduction over non-adjacent axes")
    return [reduce_dispatch(node, x, y, prod(xs[:axes[0]]), prod(xs[axes[0]:axes[-1] + 1]),
                            prod(xs[axes[-1] + 1:]), REDUCE[node.op])]


def lower_softmax(node: Node, env: Env) -> list[Dispatch]:
    x, y = node.inputs[0], node.outputs[0]
    xs = env.shape(x)
    axis = int(node.attrs.get("axis", -1)) % len(xs)
    rows, inner = prod(xs[:axis]) * prod(xs[axis + 1:]), prod(xs[axis + 1:])
    params = pack("SoftmaxParams", xs[axis], inner, int(node.op == "LogSoftmax"))
    return [Dispatch("softmax", [x, y], [y], params, (rows, 1, 1), (ROW_THREADS, 1, 1), per_group=True, node=node)]


def lower_layernorm(node: Node, env: Env) -> list[Dispatch]:
    if any(node.outputs[1:]):
        raise Unsupported("LayerNormalization mean/inv-std outputs")
    x, y = node.inputs[0], node.outputs[0]
    xs = env.shape(x)
    axis = int(node.attrs.get("axis", -1)) % len(xs)
    n = prod(xs[axis:])
    names = []
    for i, tag in ((1, "scale"), (2, "bias")):
        name = optional(node, i)
        names.append(env.table(node, tag, np.broadcast_to(env.value(name, tag), xs[axis:]).reshape(n))
                     if name else NONE)
    params = pack("LayerNormParams", n, int(bool(names[0])), int(bool(names[1])),
                  float(node.attrs.get("epsilon", 1e-5)))
    return [Dispatch("layernorm", [x, *names, y], [y], params, (prod(xs[:axis]), 1, 1), (ROW_THREADS, 1, 1),
                     per_group=True, node=node)]


def lower_alias(node: Node, env: Env) -> list[Dispatch]:
    if node.op == "Dropout" and (any(node.outputs[1:]) or any(node.inputs[2:3])):
        raise Unsupported("Dropout with a mask output or training mode")
    x, y = node.inputs[0], node.outputs[0]
    if prod(env.shape(x)) != prod(env.shape(y)):
        raise Unsupported("reshape changes the element count")
    return [Dispatch("alias", [x], [y], node=node)]


LOWERINGS: dict[str, Callable[[Node, Env], list[Dispatch]]] = {
    "Conv": lower_conv, "MatMul": lower_matmul, "Gemm": lower_gemm,
    "MaxPool": lower_pool, "AveragePool": lower_pool,
    "GlobalAveragePool": lower_global_pool, "GlobalMaxPool": lower_global_pool,
    **{op: lower_reduce for op in REDUCE},
    **{op: lower_unary for op in (*UNARY, "LeakyRelu", "HardSigmoid", "Clip")},
    **{op: lower_binary for op in BINARY},
    **{op: lower_alias for op in ALIASES},
    "Softmax": lower_softmax, "LogSoftmax": lower_softmax, "LayerNormalization": lower_layernorm,
}


def lower(node: Node, env: Env) -> list[Dispatch]:
    """Dispatches for `node`; a node whose outputs are all known at plan time lowers to none."""
    outs = [o for o in node.outputs if o]
    if outs and all(o in env.values for o in outs):
        return []
    if node.domain not in ("", "ai.onnx"):
        raise Unsupported(f"op domain {node.domain!r}")
    fn = LOWERINGS.get(node.op)
    if fn is None:
        raise Unsupported(f"no Metal kernel for {node.op}")
    for name in outs:
        if prod(env.shape(name)) == 0:
            raise Unsupported(f"{name!r} is empty")
    return fn(node, env)
