"""Lowering of IR nodes into native ops: every geometry is resolved here, in Python, once per plan.

A node lowers to a list of `LOp`s (kind, tensor names, integer and float parameters, weights that
the C++ op packs at creation). `lower(node, env)` raises `Unsupported(reason)` for a node the CPU
backend does not run, which is also how `CpuBackend.capability` decides what to claim.

Native op kinds and their integer layouts are documented next to the C++ classes in csrc/ops.cpp.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from math import prod
from typing import Callable, Mapping, Optional

import numpy as np

from mnn_core.dtypes import DType
from mnn_core.ir import Node, TensorType
from mnn_core.ops.fused import FUSABLE
from mnn_core.ops.nn import _geometry
from mnn_core.ops.tensor import _slice_args, _slice_bounds


class Unsupported(Exception):
    """The node cannot run on the CPU backend; the message says why."""


class NeedsValue(Unsupported):
    """A structural input (axes, pads, scales, ...) is known only at run time; the executable can
    specialise its plan on the value of `name` (backend.py)."""

    def __init__(self, name: str, what: str) -> None:
        super().__init__(f"{what} ({name!r}) must be known at plan time")
        self.name = name


@dataclass
class LOp:
    kind: str
    inputs: list[str]
    outputs: list[str]
    ints: list[int] = field(default_factory=list)
    floats: list[float] = field(default_factory=list)
    weights: list[np.ndarray] = field(default_factory=list)
    node: Optional[Node] = None
    # Packed-weight sharing across plans: ints[pack_slot] receives a token unique to pack_key
    # within one executable, so re-planning for new shapes reuses the packed buffer.
    pack_key: Optional[tuple] = None
    pack_slot: int = -1
    # Tuning: alternative lowerings of the same computation (name -> LOp with the same tensors),
    # measured at plan time when the op costs at least `cost` flops worth measuring (tuning.py).
    variants: dict = field(default_factory=dict)
    cost: float = 0.0
    # Concat only: (input name, byte offset) of each piece that is one contiguous block of the
    # output, in the order of the copy pieces (None where it is not); the plan may let the producer
    # write there directly (backend.py, concat views).
    views: Optional[list] = None


@dataclass
class Env:
    """What lowering may look at: every tensor's static type and the values known at plan time."""

    types: Mapping[str, TensorType]
    values: Mapping[str, np.ndarray]

    def type(self, name: str) -> TensorType:
        t = self.types.get(name)
        if t is None or not t.is_static or t.dtype is None:
            raise Unsupported(f"tensor {name!r} has no static type ({t})")
        return t

    def shape(self, name: str) -> tuple[int, ...]:
        return tuple(self.type(name).shape)

    def value(self, name: str, what: str) -> np.ndarray:
        if name not in self.values:
            raise NeedsValue(name, what)
        return np.asarray(self.values[name])

    def f32(self, *names: str) -> None:
        for name in names:
            if self.type(name).dtype is not DType.F32:
                raise Unsupported(f"{name!r} is {self.type(name).dtype}; only f32 is supported")


ACT_CODES = {"": 0, "Relu": 1, "Clip": 2, "LeakyRelu": 3, "HardSigmoid": 4, "HardSwish": 5,
             "Sigmoid": 6, "SiLU": 7, "Tanh": 8}
assert set(ACT_CODES) - {""} == set(FUSABLE), "fused activations changed in mnn_core.ops.fused"
UNARY_CODES = {"Relu": 1, "HardSwish": 5, "Sigmoid": 6, "Tanh": 8, "Erf": 20, "Exp": 21, "Sqrt": 22,
               "Neg": 23, "Abs": 24, "Reciprocal": 25, "Log": 27}
BINARY_CODES = {"Add": 0, "Sub": 1, "Mul": 2, "Div": 3, "Max": 4, "Min": 5, "Pow": 6}
ALIASES = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout"}


def fused_activation(node: Node) -> tuple[int, list[float]]:
    name = node.attrs.get("activation", "") or ""
    params = [float(p) for p in node.attrs.get("activation_params", ()) or ()]
    if name not in ACT_CODES:
        raise Unsupported(f"fused activation {name!r} is not supported")
    want = FUSABLE[name][0] if name else 0
    if len(params) != want:
        raise Unsupported(f"fused activation {name} takes {want} params, got {len(params)}")
    return ACT_CODES[name], params


def strides_of(shape) -> list[int]:
    out, acc = [], 1
    for d in reversed(shape):
        out.append(acc)
        acc *= d
    return out[::-1]


def collapse(shape, *stride_sets):
    """Drop size-1 dims and merge neighbours that are contiguous in every stride set."""
    dims = [(d, [s[i] for s in stride_sets]) for i, d in enumerate(shape) if d != 1]
    if not dims:
        return [1], [[0] for _ in stride_sets]
    merged = [dims[0]]
    for d, ss in dims[1:]:
        pd, pss = merged[-1]
        if all(p == s * d for p, s in zip(pss, ss)):
            merged[-1] = (pd * d, ss)
        else:
            merged.append((d, ss))
    return [d for d, _ in merged], [[ss[k] for _, ss in merged] for k in range(len(stride_sets))]


def copy_piece(shape, in_strides, in_off, out_strides, out_off) -> list[int]:
    shape, (ins, outs) = collapse(shape, in_strides, out_strides)
    if len(shape) > 8:
        raise Unsupported("copies of more than 8 non-trivial dims")
    return [len(shape), *shape, *ins, in_off, *outs, out_off]


def copy_op(node, inputs, output, elsize, pieces) -> LOp:
    ints = [elsize, len(pieces)]
    for p in pieces:
        ints += p
    return LOp("copy", list(inputs), [output], ints, node=node)


# ---- per-op lowering ----------------------------------------------------------------------------
def lower_conv(node: Node, env: Env) -> list[LOp]:
    x, w = node.inputs[0], node.inputs[1]
    b = node.inputs[2] if len(node.inputs) > 2 and node.inputs[2] else None
    env.f32(x, node.outputs[0])
    xs, ys = env.shape(x), env.shape(node.outputs[0])
    if len(xs) not in (3, 4):
        raise Unsupported(f"Conv of rank {len(xs)}; 1-D and 2-D convolutions are supported")
    weight = env.value(w, "Conv weights").astype(np.float32, copy=False)
    bias = env.value(b, "Conv bias").astype(np.float32, copy=False) if b else None
    kernel = tuple(int(k) for k in weight.shape[2:])
    if node.attrs.get("kernel_shape") not in (None, ()) and tuple(node.attrs["kernel_shape"]) != kernel:
        raise Unsupported("kernel_shape disagrees with the weights")
    attrs = {"auto_pad": node.attrs.get("auto_pad", "NOTSET"), "strides": node.attrs.get("strides"),
             "dilations": node.attrs.get("dilations"), "pads": node.attrs.get("pads")}
    begins, _, out = _geometry(attrs, xs[2:], kernel)
    n = len(kernel)
    strides = [int(s) for s in (attrs["strides"] or [1] * n)]
    dilations = [int(d) for d in (attrs["dilations"] or [1] * n)]
    if n == 1:  # a 1-D conv is a 2-D conv over a height of 1
        xs, kernel, out = (*xs[:2], 1, xs[2]), (1, kernel[0]), [1, out[0]]
        strides, dilations, begins = [1, strides[0]], [1, dilations[0]], [0, begins[0]]
    N, C, H, W = xs
    M, group = weight.shape[0], int(node.attrs.get("group", 1))
    if C % group or M % group or weight.shape[1] != C // group:
        raise Unsupported("channels do not match the group count")
    if tuple(ys) != (N, M, *[int(o) for o in (out if n == 2 else out[1:])]):
        raise Unsupported(f"output shape {ys} disagrees with the conv geometry")
    act, params = fused_activation(node)
    ints = [N, C, H, W, M, out[0], out[1], kernel[0], kernel[1], strides[0], strides[1],
            dilations[0], dilations[1], begins[0], begins[1], group, act, int(bias is not None)]
    weights = [weight.reshape(M, -1)] + ([bias.reshape(-1)] if bias is not None else [])
    forced = os.environ.get("MNN_CPU_CONV_ALGO", "auto")
    if forced not in CONV_ALGOS and forced != "pwplanar":
        raise Unsupported(f"MNN_CPU_CONV_ALGO={forced!r} is not one of {', '.join(CONV_ALGOS)}, pwplanar")
    cost = 2.0 * N * M * out[0] * out[1] * (C // group) * kernel[0] * kernel[1]
    lop = LOp("conv", [x], [node.outputs[0]], ints + [CONV_ALGOS.get(forced, 0)], params, weights, node, cost=cost)
    # A planar 1x1 conv may also run through the channel-blocked tile (csrc/blocked.cpp PwPlanarOp).
    planar_pw = None
    if (kernel == (1, 1) and group == 1 and act <= 5 and (strides[0], strides[1], begins[0], begins[1]) == (1, 1, 0, 0)
            and tuple(out) == (H, W)):
        planar_pw = LOp("pw_planar", [x], [node.outputs[0]], [N, C, M, H * W, act, int(bias is not None)],
                        params, weights, node, cost=cost)
    if forced == "pwplanar":
        return [planar_pw or lop]
    if forced != "auto":
        return [lop]
    variants = {name: replace(lop, ints=ints + [CONV_ALGOS[name]]) for name in conv_candidates(ints)}
    if planar_pw is not None:
        variants["pwplanar"] = planar_pw
    return [replace(lop, variants=variants)]  # blocked.py may make pwplanar the default


# Conv algorithms (csrc/conv.h ConvAlgo); "auto" lets the op pick by its cost model. A choice the
# geometry does not allow falls back to "auto" in the op.
CONV_ALGOS = {"auto": 0, "gemm": 1, "depthwise": 2, "winograd2": 3, "winograd4": 4, "winograd6": 5,
              "dwblock": 6, "direct": 7, "dwrow": 8}


def conv_candidates(ints: list[int]) -> list[str]:
    """Algorithms that can run a conv op with these ints (mirrors conv_candidates in conv.cpp)."""
    C, M, KH, KW, SH, SW, DH, DW, G = (ints[i] for i in (1, 4, 7, 8, 9, 10, 11, 12, 15))
    names = ["gemm"]
    if G == C == M and SH <= 2 and SW <= 2:
        names.append("depthwise")
    if G == C == M:
        names.append("dwblock")
    if G == C == M and SW <= 2:
        names.append("dwrow")
    if G == 1 and SW <= 2 and DW == 1 and KH * KW > 1 and (C * KH * KW <= 64 or (C <= 4 and C * KH * KW <= 160)):
        names.append("direct")
    if G == 1 and (KH, KW, SH, SW, DH, DW) == (3, 3, 1, 1, 1, 1):
        names += ["winograd2", "winograd4", "winograd6"]
    return names


def _matmul_lop(node, a_name, b_name, out, a_shape, b_shape, *, trans_a=False, trans_b=False,
                b_value=None, bias=None, bias_kind=0, act=0, params=(), b_scale=1.0) -> LOp:
    """One (batched) product; A and B shapes are [..., rows, cols] before transposition."""
    batch_a, batch_b = a_shape[:-2], b_shape[:-2]
    M, K = (a_shape[-1], a_shape[-2]) if trans_a else (a_shape[-2], a_shape[-1])
    K2, N = (b_shape[-1], b_shape[-2]) if trans_b else (b_shape[-2], b_shape[-1])
    if K != K2:
        raise Unsupported(f"inner dims differ: {a_shape} x {b_shape}")
    a_rs, a_cs = (1, a_shape[-1]) if trans_a else (a_shape[-1], 1)
    b_rs, b_cs = (1, b_shape[-1]) if trans_b else (b_shape[-1], 1)
    inputs, weights = [a_name], []
    if b_value is not None and not batch_b:
        if not trans_a and batch_a:  # a constant 2-D B: fold A's batch dims into its rows
            M, batch_a = M * prod(batch_a), ()
        batch, offsets, b_const = 1, [0, 0], 1
        weights.append(np.ascontiguousarray(b_value, np.float32))
        if batch_a:
            batch = prod(batch_a)
            offsets = [v for i in range(batch) for v in (i * M * K, 0)]
    else:
        b_const = 0
        inputs.append(b_name)
        try:
            batch_shape = tuple(np.broadcast_shapes(tuple(batch_a), tuple(batch_b)))
        except ValueError:
            raise Unsupported(f"batch dims do not broadcast: {a_shape} x {b_shape}") from None
        batch = prod(batch_shape)
        sa = _broadcast_strides(batch_a, batch_shape, M * K)
        sb = _broadcast_strides(batch_b, batch_shape, K * N)
        offsets = []
        for index in np.ndindex(*batch_shape) if batch_shape else [()]:
            offsets += [sum(i * s for i, s in zip(index, sa)), sum(i * s for i, s in zip(index, sb))]
    if bias is not None:
        weights.append(np.ascontiguousarray(bias, np.float32).reshape(-1))
    ints = [batch, M, N, K, a_rs, a_cs, b_rs, b_cs, b_const, bias_kind, act, 0, 0, *offsets]
    lop = LOp("matmul", inputs, [out], ints, list(params), weights, node,
              cost=2.0 * batch * M * N * K)
    if b_const:
        lop.pack_key, lop.pack_slot = ("matmul", b_name, b_rs, b_cs, K, N, b_scale), 11
    # Column-tile candidates for the tuner (ints[12]: 0 = the built-in heuristic).
    for nc in MATMUL_TILES:
        if nc < N:
            lop.variants[f"nc{nc}"] = replace(lop, ints=ints[:12] + [nc] + ints[13:], variants={})
    return lop


MATMUL_TILES = (64, 128, 256, 512)


def _broadcast_strides(shape, target, matrix) -> list[int]:
    """Element strides of a batch of matrices `shape` read as `target` (0 where broadcast)."""
    shape = (1,) * (len(target) - len(shape)) + tuple(shape)
    strides, acc = [], matrix
    for d in reversed(shape):
        strides.append(acc if d != 1 else 0)
        acc *= d
    return strides[::-1]


def lower_matmul(node: Node, env: Env) -> list[LOp]:
    a, b = node.inputs
    env.f32(a, b, node.outputs[0])
    a_shape, b_shape = env.shape(a), env.shape(b)
    if len(a_shape) < 2 or len(b_shape) < 2:
        raise Unsupported("MatMul with a 1-D operand")
    if a in env.values and b not in env.values:
        raise Unsupported("MatMul with a constant A and a variable B")
    act, params = fused_activation(node)
    b_value = env.values.get(b)
    return [_matmul_lop(node, a, b, node.outputs[0], a_shape, b_shape,
                        b_value=None if b_value is None else np.asarray(b_value, np.float32),
                        act=act, params=params)]


def lower_gemm(node: Node, env: Env) -> list[LOp]:
    a, b = node.inputs[:2]
    c = node.inputs[2] if len(node.inputs) > 2 and node.inputs[2] else None
    out = node.outputs[0]
    env.f32(a, b, out)
    alpha, beta = float(node.attrs.get("alpha", 1.0)), float(node.attrs.get("beta", 1.0))
    trans_a, trans_b = bool(node.attrs.get("transA", 0)), bool(node.attrs.get("transB", 0))
    M, N = env.shape(out)
    b_value = env.values.get(b)
    if b_value is None and alpha != 1.0:
        raise Unsupported("Gemm with alpha != 1 and a variable B")
    if b_value is not None and alpha != 1.0:
        b_value = np.asarray(b_value, np.float32) * np.float32(alpha)
    bias, bias_kind = None, 0
    if c is not None and beta != 0.0:
        cv = env.value(c, "Gemm C").astype(np.float32)
        if beta != 1.0:
            cv = cv * np.float32(beta)
        cshape = (1,) * (2 - cv.ndim) + cv.shape
        if cshape[0] == 1:
            bias, bias_kind = np.broadcast_to(cv.reshape(cshape), (1, N)), 1
        elif cshape[1] == 1:
            bias, bias_kind = cv.reshape(M), 2
        else:
            bias, bias_kind = np.broadcast_to(cv, (M, N)), 3
    act, params = fused_activation(node)
    return [_matmul_lop(node, a, b, out, env.shape(a), env.shape(b), trans_a=trans_a, trans_b=trans_b,
                        b_value=None if b_value is None else np.asarray(b_value, np.float32),
                        bias=bias, bias_kind=bias_kind, act=act, params=params, b_scale=alpha)]


def lower_pool(node: Node, env: Env) -> list[LOp]:
    x, y = node.inputs[0], node.outputs[0]
    env.f32(x, y)
    if len([o for o in node.outputs if o]) > 1:
        raise Unsupported("MaxPool indices output")
    xs, ys = env.shape(x), env.shape(y)
    if len(xs) != 4:
        raise Unsupported("only 2-D pooling is supported")
    kernel = [int(k) for k in node.attrs["kernel_shape"]]
    attrs = {"auto_pad": node.attrs.get("auto_pad", "NOTSET"), "strides": node.attrs.get("strides"),
             "dilations": node.attrs.get("dilations"), "pads": node.attrs.get("pads")}
    begins, ends, out = _geometry(attrs, xs[2:], kernel, bool(node.attrs.get("ceil_mode", 0)))
    strides = [int(s) for s in (attrs["strides"] or [1, 1])]
    dilations = [int(d) for d in (attrs["dilations"] or [1, 1])]
    if tuple(ys[2:]) != tuple(out):
        raise Unsupported("output shape disagrees with the pool geometry")
    is_max = node.op == "MaxPool"
    ints = [xs[0] * xs[1], xs[2], xs[3], out[0], out[1], *kernel, *strides, *dilations,
            begins[0], begins[1], ends[0], ends[1], int(is_max),
            int(node.attrs.get("count_include_pad", 0))]
    return [LOp("pool", [x], [y], ints, node=node)]


def lower_global_pool(node: Node, env: Env) -> list[LOp]:
    x, y = node.inputs[0], node.outputs[0]
    env.f32(x, y)
    xs = env.shape(x)
    kind = 1 if node.op == "GlobalAveragePool" else 2
    return [LOp("reduce", [x], [y], [xs[0] * xs[1], prod(xs[2:]), 1, kind], node=node)]


def lower_reduce(node: Node, env: Env) -> list[LOp]:
    x, y = node.inputs[0], node.outputs[0]
    env.f32(x, y)
    xs = env.shape(x)
    axes_name = node.inputs[1] if len(node.inputs) > 1 and node.inputs[1] else None
    axes = [] if axes_name is None else [int(a) % len(xs) for a in env.value(axes_name, "axes").reshape(-1)]
    if not axes:
        if node.attrs.get("noop_with_empty_axes", 0):
            raise Unsupported("empty reduction")
        axes = list(range(len(xs)))
    axes = sorted(set(axes))
    if axes != list(range(axes[0], axes[-1] + 1)):
        raise Unsupported("reduction over non-adjacent axes")
    kind = {"ReduceSum": 0, "ReduceMean": 1, "ReduceMax": 2, "ReduceMin": 3}[node.op]
    outer, n, inner = prod(xs[:axes[0]]), prod(xs[axes[0]:axes[-1] + 1]), prod(xs[axes[-1] + 1:])
    return [LOp("reduce", [x], [y], [outer, n, inner, kind], node=node)]


def lower_unary(node: Node, env: Env) -> list[LOp]:
    x, y = node.inputs[0], node.outputs[0]
    env.f32(x, y)
    n = prod(env.shape(x))
    op = node.op
    if op in UNARY_CODES:
        return [LOp("unary", [x], [y], [n, UNARY_CODES[op]], node=node)]
    if op == "LeakyRelu":
        return [LOp("unary", [x], [y], [n, 3], [float(node.attrs.get("alpha", 0.01))], node=node)]
    if op == "HardSigmoid":
        return [LOp("unary", [x], [y], [n, 4], [float(node.attrs.get("alpha", 0.2)),
                                                 float(node.attrs.get("beta", 0.5))], node=node)]
    if op == "Gelu":
        if node.attrs.get("approximate", "none") != "none":
            raise Unsupported("tanh-approximated Gelu")
        return [LOp("unary", [x], [y], [n, 26], node=node)]
    if op == "Clip":
        bounds = []
        for i, default in ((1, -np.inf), (2, np.inf)):
            name = node.inputs[i] if len(node.inputs) > i and node.inputs[i] else None
            bounds.append(float(env.value(name, "Clip bound").reshape(())) if name else default)
        lo = bounds[0] if np.isfinite(bounds[0]) else -np.inf
        hi = bounds[1] if np.isfinite(bounds[1]) else np.inf
        return [LOp("unary", [x], [y], [n, 2], [lo, hi], node=node)]
    raise Unsupported(f"unary op {op}")


def lower_binary(node: Node, env: Env) -> list[LOp]:
    if len(node.inputs) != 2:
        raise Unsupported(f"{node.op} with {len(node.inputs)} inputs")
    a, b = node.inputs
    y = node.outputs[0]
    env.f32(a, b, y)
    ys = env.shape(y)
    sa = _broadcast_strides(env.shape(a), ys, 1)
    sb = _broadcast_strides(env.shape(b), ys, 1)
    shape, (sa, sb) = collapse(ys, sa, sb)
    if sa[-1] not in (0, 1) or sb[-1] not in (0, 1):
        raise Unsupported("unexpected innermost strides")
    return [LOp("binary", [a, b], [y], [BINARY_CODES[node.op], len(shape), *shape, *sa, *sb], node=node)]


def lower_alias(node: Node, env: Env) -> list[LOp]:
    outs = [o for o in node.outputs if o]
    if node.op == "Dropout" and (len(outs) > 1 or any(node.inputs[2:3])):
        raise Unsupported("Dropout with a mask output or training mode")
    x, y = node.inputs[0], node.outputs[0]
    if prod(env.shape(x)) != prod(env.shape(y)) or env.type(x).dtype is not env.type(y).dtype:
        raise Unsupported("reshape changes the element count or dtype")
    return [LOp("alias", [x], [y], node=node)]


def lower_transpose(node: Node, env: Env) -> list[LOp]:
    x, y = node.inputs[0], node.outputs[0]
    xs = env.shape(x)
    perm = node.attrs.get("perm")
    perm = list(range(len(xs)))[::-1] if perm is None else [int(p) for p in perm]
    st = strides_of(xs)
    out_shape = [xs[p] for p in perm]
    piece = copy_piece(out_shape, [st[p] for p in perm], 0, strides_of(out_shape), 0)
    return [copy_op(node, [x], y, env.type(x).dtype.itemsize, [piece])]


def lower_concat(node: Node, env: Env) -> list[LOp]:
    y = node.outputs[0]
    ys = env.shape(y)
    axis = int(node.attrs["axis"]) % len(ys)
    ost = strides_of(ys)
    pieces, inputs, views, offset = [], [], [], 0
    elsize = env.type(y).dtype.itemsize
    contiguous = prod(ys[:axis]) == 1  # each input is then one block of the output
    for name in node.inputs:
        xs = env.shape(name)
        if xs[axis] == 0:
            continue
        pieces.append(copy_piece(xs, strides_of(xs), 0, ost, offset * ost[axis]))
        inputs.append(name)
        same = env.type(name).dtype is env.type(y).dtype
        views.append((name, offset * ost[axis] * elsize) if contiguous and same else None)
        offset += xs[axis]
    return [replace(copy_op(node, inputs, y, elsize, pieces), views=views)]


def lower_split(node: Node, env: Env) -> list[LOp]:
    x = node.inputs[0]
    xs = env.shape(x)
    axis = int(node.attrs.get("axis", 0)) % len(xs)
    st = strides_of(xs)
    lops, offset = [], 0
    for out in node.outputs:
        if not out:
            raise Unsupported("Split with an omitted output")
        os_ = env.shape(out)
        lops.append(copy_op(node, [x], out, env.type(x).dtype.itemsize,
                            [copy_piece(os_, st, offset * st[axis], strides_of(os_), 0)]))
        offset += os_[axis]
    return lops


def lower_slice(node: Node, env: Env) -> list[LOp]:
    x, y = node.inputs[0], node.outputs[0]
    xs = env.shape(x)
    args = [env.value(n, "Slice bounds") if n else None
            for n in (list(node.inputs[1:]) + [""] * (5 - len(node.inputs)))]
    st = strides_of(xs)
    shape, strides, offset = list(xs), list(st), 0
    for axis, start, end, step in _slice_args(len(xs), *args):
        lo, hi = _slice_bounds(xs[axis], start, end, step)
        shape[axis] = max(0, -(-(hi - lo) // step))
        strides[axis] = st[axis] * step
        offset += lo * st[axis]
    if tuple(shape) != env.shape(y):
        raise Unsupported("slice shape disagrees with the inferred type")
    if prod(shape) == 0:
        raise Unsupported("empty slice")
    return [copy_op(node, [x], y, env.type(x).dtype.itemsize,
                    [copy_piece(shape, strides, offset, strides_of(shape), 0)])]


def lower_expand(node: Node, env: Env) -> list[LOp]:
    x, y = node.inputs[0], node.outputs[0]
    ys = env.shape(y)
    return [copy_op(node, [x], y, env.type(x).dtype.itemsize,
                    [copy_piece(ys, _broadcast_strides(env.shape(x), ys, 1), 0, strides_of(ys), 0)])]


def lower_gather(node: Node, env: Env) -> list[LOp]:
    data, idx = node.inputs
    y = node.outputs[0]
    ds = env.shape(data)
    if env.type(idx).dtype not in (DType.I64, DType.I32):
        raise Unsupported("Gather indices must be int32 or int64")
    axis = int(node.attrs.get("axis", 0)) % len(ds)
    ints = [env.type(data).dtype.itemsize, prod(ds[:axis]), ds[axis], prod(ds[axis + 1:]),
            prod(env.shape(idx)), int(env.type(idx).dtype is DType.I64)]
    return [LOp("gather", [data, idx], [y], ints, node=node)]


def lower_softmax(node: Node, env: Env) -> list[LOp]:
    x, y = node.inputs[0], node.outputs[0]
    env.f32(x, y)
    xs = env.shape(x)
    axis = int(node.attrs.get("axis", -1)) % len(xs)
    return [LOp("softmax", [x], [y], [prod(xs[:axis]), xs[axis], prod(xs[axis + 1:])], node=node)]


def lower_layernorm(node: Node, env: Env) -> list[LOp]:
    if any(node.outputs[1:]):
        raise Unsupported("LayerNormalization mean/inv-std outputs")
    x, y = node.inputs[0], node.outputs[0]
    env.f32(x, y)
    xs = env.shape(x)
    axis = int(node.attrs.get("axis", -1)) % len(xs)
    n = prod(xs[axis:])
    weights, flags = [], []
    for i in (1, 2):
        name = node.inputs[i] if len(node.inputs) > i and node.inputs[i] else None
        flags.append(int(name is not None))
        if name:
            v = env.value(name, "LayerNormalization scale/bias").astype(np.float32)
            weights.append(np.broadcast_to(v, xs[axis:]).reshape(n))
    return [LOp("layernorm", [x], [y], [prod(xs[:axis]), n, *flags],
                [float(node.attrs.get("epsilon", 1e-5))], weights, node)]


LOWERINGS: dict[str, Callable[[Node, Env], list[LOp]]] = {
    "Conv": lower_conv, "MatMul": lower_matmul, "Gemm": lower_gemm,
    "MaxPool": lower_pool, "AveragePool": lower_pool,
    "GlobalAveragePool": lower_global_pool, "GlobalMaxPool": lower_global_pool,
    "ReduceMean": lower_reduce, "ReduceSum": lower_reduce, "ReduceMax": lower_reduce,
    "ReduceMin": lower_reduce,
    **{op: lower_unary for op in (*UNARY_CODES, "LeakyRelu", "HardSigmoid", "Gelu", "Clip")},
    **{op: lower_binary for op in BINARY_CODES},
    **{op: lower_alias for op in ALIASES},
    "Transpose": lower_transpose, "Concat": lower_concat, "Split": lower_split, "Slice": lower_slice,
    "Expand": lower_expand, "Gather": lower_gather, "Softmax": lower_softmax,
    "LayerNormalization": lower_layernorm,
}


# ---- typed elementwise (masks, indices) and attention -----------------------------------------
TYPE_CODES = {DType.F32: 0, DType.F64: 1, DType.I32: 2, DType.I64: 3, DType.U8: 4, DType.I8: 5,
              DType.BOOL: 6}
COMPARE_CODES = {"Equal": 0, "Less": 1, "LessOrEqual": 2, "Greater": 3, "GreaterOrEqual": 4}
LOGIC_CODES = {"And": 0, "Or": 1, "Xor": 2, "Not": 3}


def _type_code(env: Env, name: str) -> int:
    dtype = env.type(name).dtype
    if dtype not in TYPE_CODES:
        raise Unsupported(f"{name!r} is {dtype}; typed ops take {', '.join(d.value for d in TYPE_CODES)}")
    return TYPE_CODES[dtype]


def _typed_lop(node: Node, env: Env, kind: int, code: int, in_type: int, inputs) -> LOp:
    y = node.outputs[0]
    ys = env.shape(y)
    strides = [_broadcast_strides(env.shape(n), ys, 1) for n in inputs]
    shape, strides = collapse(ys, *strides)
    ints = [kind, code, in_type, _type_code(env, y), len(inputs), len(shape), *shape]
    for st in strides:
        ints += st
    return LOp("typed", list(inputs), [y], ints, node=node)


def lower_cast(node: Node, env: Env) -> list[LOp]:
    x = node.inputs[0]
    return [_typed_lop(node, env, 0, 0, _type_code(env, x), [x])]


def lower_compare(node: Node, env: Env) -> list[LOp]:
    a, b = node.inputs
    if env.type(a).dtype is not env.type(b).dtype:
        raise Unsupported("comparison of different dtypes")
    return [_typed_lop(node, env, 1, COMPARE_CODES[node.op], _type_code(env, a), [a, b])]


def lower_logic(node: Node, env: Env) -> list[LOp]:
    for name in node.inputs:
        if env.type(name).dtype is not DType.BOOL:
            raise Unsupported(f"{node.op} of {env.type(name).dtype}")
    return [_typed_lop(node, env, 2, LOGIC_CODES[node.op], TYPE_CODES[DType.BOOL], node.inputs)]


def lower_where(node: Node, env: Env) -> list[LOp]:
    cond, x, y = node.inputs
    if env.type(cond).dtype is not DType.BOOL or env.type(x).dtype is not env.type(y).dtype:
        raise Unsupported("Where needs a bool condition and values of one dtype")
    _type_code(env, x)
    return [_typed_lop(node, env, 3, 0, TYPE_CODES[DType.BOOL], [cond, x, y])]


def lower_attention(node: Node, env: Env) -> list[LOp]:
    """4-D Q/K/V (GQA allowed), optional additive or bool mask spanning the keys, is_causal."""
    q, k, v = node.inputs[:3]
    mask = node.inputs[3] if len(node.inputs) > 3 and node.inputs[3] else None
    a = node.attrs
    if any(node.inputs[4:]) or any(node.outputs[1:]):
        raise Unsupported("Attention with a KV cache, nonpad lengths or extra outputs")
    if a.get("softcap") or int(a.get("left_window_size", -1)) >= 0 or int(a.get("right_window_size", -1)) >= 0:
        raise Unsupported("Attention softcap or sliding window")
    y = node.outputs[0]
    env.f32(q, k, v, y)
    qs, ks, vs = env.shape(q), env.shape(k), env.shape(v)
    if not len(qs) == len(ks) == len(vs) == 4:
        raise Unsupported("3-D (B, S, H*D) Attention")
    B, Hq, Lq, D = qs
    _, Hkv, Lkv, Dk = ks
    if Dk != D or vs[:3] != ks[:3] or ks[0] != B or Hq % Hkv:
        raise Unsupported(f"Attention shapes {qs} {ks} {vs}")
    inputs, mask_kind, mstrides = [q, k, v], 0, [0, 0, 0]
    if mask:
        ms = env.shape(mask)
        dtype = env.type(mask).dtype
        if dtype not in (DType.F32, DType.BOOL) or len(ms) < 2 or ms[-1] != Lkv:
            raise Unsupported(f"Attention mask {dtype} {ms} (want f32/bool spanning {Lkv} keys)")
        full = _broadcast_strides(ms, (B, Hq, Lq, Lkv), 1)
        if len(ms) == 4 and ms[1] not in (1, Hq):
            raise Unsupported("Attention mask with a head count other than 1 or Hq")
        inputs.append(mask)
        mask_kind, mstrides = (1 if dtype is DType.F32 else 2), full[:3]
    scale = a.get("scale")
    scale = float(scale) if scale is not None else 1.0 / float(np.sqrt(D))
    ints = [B, Hq, Hkv, Lq, Lkv, D, vs[3], int(a.get("is_causal", 0)), mask_kind, *mstrides, 0]
    lop = LOp("attention", inputs, [y], ints, [scale], node=node,
              cost=2.0 * B * Hq * Lq * Lkv * (D + vs[3]))
    for block in ATTENTION_BLOCKS:  # query rows per score block, for the tuner
        if block < Lq:
            lop.variants[f"rows{block}"] = replace(lop, ints=ints[:-1] + [block], variants={})
    return [lop]


ATTENTION_BLOCKS = (12, 48, 96)

LOWERINGS.update({
    "Cast": lower_cast, **{op: lower_compare for op in COMPARE_CODES},
    **{op: lower_logic for op in LOGIC_CODES}, "Where": lower_where, "Attention": lower_attention,
})


def lower(node: Node, env: Env) -> list[LOp]:
    """Native ops for `node`; nodes whose outputs are all known at plan time lower to nothing."""
    outs = [o for o in node.outputs if o]
    if outs and all(o in env.values for o in outs) and not any(True for _ in node.subgraphs()):
        return [LOp("const", [], outs, node=node)]
    if node.domain not in ("", "ai.onnx"):
        raise Unsupported(f"op domain {node.domain!r}")
    fn = LOWERINGS.get(node.op)
    if fn is None:
        raise Unsupported(f"no CPU kernel for {node.op}")
    empty = [name for name in outs if prod(env.shape(name)) == 0]
    if empty and len(empty) == len(outs):  # nothing to compute; the ops only give them a slot
        return [LOp("v_imap", [], [name], [env.type(name).dtype.itemsize, 0, 0, 0, 0], node=node)
                for name in empty]
    if empty and node.op != "Split":  # Split copies zero elements into its empty parts
        raise Unsupported(f"{empty[0]!r} is empty")
    for name in node.inputs:
        if name:
            env.type(name)
    return fn(node, env)


from .lowering_vision import register as _register_vision  # noqa: E402 (needs the names above)

_register_vision(LOWERINGS)
