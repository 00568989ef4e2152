"""Lowering of IR nodes into kernel launches. Geometry, broadcasting strides, batch offsets and resize
tables are all resolved here, in Python, once per plan; a `KOp` then only names its tensors and a
closure that calls one kernel entry point of the native module with their device pointers.

`lower(node, env)` raises `Unsupported(reason)` for a node this backend does not run; that is also how
the backend decides what to claim.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from math import prod
from typing import Callable, Mapping, Optional

import numpy as np

from mnn_core.dtypes import DType
from mnn_core.ir import Node, TensorType
from mnn_core.strides import broadcast_strides, collapse, contiguous_strides
from mnn_core.ops.fused import FUSABLE
from mnn_core.ops.nn import _geometry, _resize_matrix, _resize_plan
from mnn_core.ops.tensor import _slice_args, _slice_bounds

MAX_DIMS = 6  # kMaxDims in csrc/kernels.h
NULL = ""     # tensor name that resolves to a null device pointer (absent bias, scale, ...)

# Codes shared with csrc/kernels.h (UnaryCode, BinaryCode, ReduceKind).
ACTIVATIONS = {"": 0, "Relu": 1, "Clip": 2, "LeakyRelu": 3, "HardSigmoid": 4, "HardSwish": 5,
               "Sigmoid": 6, "SiLU": 7, "Tanh": 8}
assert set(ACTIVATIONS) - {""} == set(FUSABLE), "fused activations changed in mnn_core.ops.fused"
UNARY = {"Relu": 1, "HardSwish": 5, "Sigmoid": 6, "Tanh": 8, "Erf": 20, "Exp": 21, "Sqrt": 22, "Neg": 23,
         "Abs": 24, "Reciprocal": 25, "Log": 27, "Floor": 28, "Ceil": 29, "Softplus": 31}
BINARY = {"Add": 0, "Sub": 1, "Mul": 2, "Div": 3, "Max": 4, "Min": 5, "Pow": 6, "PRelu": 7}
REDUCE = {"ReduceSum": 0, "ReduceMean": 1, "ReduceMax": 2, "ReduceMin": 3}
ALIASES = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout"}


class Unsupported(Exception):
    """The node cannot run on this backend; the message says why."""


Launch = Callable[..., None]
"""launch(native, *pointers) with one device pointer per name of `ins + outs`."""


@dataclass
class KOp:
    kind: str                     # "kernel", "alias" (outs[0] is a view of ins[0]) or "const"
    ins: list[str]
    outs: list[str]
    launch: Optional[Launch] = None
    node: Optional[Node] = None


@dataclass
class Env:
    """Every tensor's type and every value known at plan time; `extra` collects the tables that
    lowering derives (reshaped weights, offsets), uploaded with the weights."""

    types: Mapping[str, TensorType]
    values: Mapping[str, np.ndarray]
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    def type(self, name: str) -> TensorType:
        t = self.types.get(name)
        if t is None or not t.is_static or t.dtype is None:
            raise Unsupported(f"tensor {name!r} has no static type ({t})")
        return t

    def shape(self, name: str) -> tuple[int, ...]:
        return tuple(self.type(name).shape)

    def value(self, name: str, what: str) -> np.ndarray:
        if name not in self.values:
            raise Unsupported(f"{what} ({name!r}) must be known at plan time")
        return np.asarray(self.values[name])

    def f32(self, *names: str) -> None:
        for name in names:
            if name and self.type(name).dtype is not DType.F32:
                raise Unsupported(f"{name!r} is {self.type(name).dtype}; kernels are float32")

    def table(self, node: Node, tag: str, array: np.ndarray) -> str:
        name = f"{node.outputs[0]}::{tag}"
        self.extra[name] = np.ascontiguousarray(array)
        return name


def optional(node: Node, i: int) -> str:
    return node.inputs[i] if len(node.inputs) > i and node.inputs[i] else NULL


def activation(node: Node) -> tuple[int, float, float]:
    name = node.attrs.get("activation", "") or ""
    params = [float(p) for p in node.attrs.get("activation_params", ()) or ()]
    if name not in ACTIVATIONS:
        raise Unsupported(f"fused activation {name!r}")
    if len(params) != (FUSABLE[name][0] if name else 0):
        raise Unsupported(f"fused activation {name} with {len(params)} params")
    params += [0.0] * (2 - len(params))
    return ACTIVATIONS[name], params[0], params[1]


def batch_strides(shape, target, unit: int) -> list[int]:
    """Broadcast strides over batch dims whose elements are `unit`-sized matrices."""
    return [s * unit for s in broadcast_strides(shape, target)]


def collapse_dims(shape, *stride_sets):
    """`mnn_core.strides.collapse`, refusing more dims than the kernels index."""
    dims, strides = collapse(shape, *stride_sets)
    if len(dims) > MAX_DIMS:
        raise Unsupported(f"more than {MAX_DIMS} non-mergeable dims")
    return dims, *strides


def strided_copy(node, src: str, dst: str, elsize: int, shape, in_strides, in_off, out_strides,
                 out_off) -> KOp:
    """Copy of `shape` elements; `dst` may also be written by other pieces (Concat)."""
    n = prod(shape)
    shape, ins, outs = collapse_dims(shape, in_strides, out_strides)
    return KOp("kernel", [src], [dst],
               lambda nat, x, y: nat.copy(x, y, elsize, n, shape, ins, in_off, outs, out_off), node)


def window_attrs(node: Node) -> dict:
    return {"auto_pad": node.attrs.get("auto_pad", "NOTSET"), "strides": node.attrs.get("strides"),
            "dilations": node.attrs.get("dilations"), "pads": node.attrs.get("pads")}


# ---- per-op lowering ----------------------------------------------------------------------------
def lower_conv(node: Node, env: Env) -> list[KOp]:
    x, w, b, y = node.inputs[0], node.inputs[1], optional(node, 2), node.outputs[0]
    env.f32(x, y)
    xs, ys = env.shape(x), env.shape(y)
    if len(xs) not in (3, 4):
        raise Unsupported(f"Conv of rank {len(xs)}")
    weight = env.value(w, "Conv weights").astype(np.float32)
    bias = env.value(b, "Conv bias").astype(np.float32).reshape(-1) if b else None
    kernel = [int(k) for k in weight.shape[2:]]
    begins, _, out = _geometry(window_attrs(node), xs[2:], kernel)
    strides = [int(s) for s in node.attrs.get("strides") or [1] * len(kernel)]
    dilations = [int(d) for d in node.attrs.get("dilations") or [1] * len(kernel)]
    if len(kernel) == 1:  # 1-D: a 2-D convolution over a height of 1
        xs, kernel, out = (*xs[:2], 1, xs[2]), [1, kernel[0]], [1, out[0]]
        strides, dilations, begins = [1, strides[0]], [1, dilations[0]], [0, begins[0]]
    N, C, H, W = xs
    M, group = weight.shape[0], int(node.attrs.get("group", 1))
    if C % group or M % group or weight.shape[1] != C // group:
        raise Unsupported("channels do not match the group count")
    if prod(ys) != N * M * out[0] * out[1]:
        raise Unsupported(f"output shape {ys} disagrees with the conv geometry")
    act, p0, p1 = activation(node)
    wname = env.table(node, "w", weight)
    bname = env.table(node, "b", bias) if bias is not None else NULL
    pointwise = kernel == [1, 1] and strides == [1, 1] and begins == [0, 0] and group == 1
    if pointwise:  # Y[n] (M x HW) = W (M x C) @ X[n] (C x HW): the tiled GEMM, bias per row
        hw = H * W
        offsets = env.table(node, "offsets", np.array([[0, n * C * hw] for n in range(N)], np.int64))
        return [KOp("kernel", [x, wname, bname, offsets], [y],
                    lambda nat, px, pw, pb, po, py: nat.gemm(pw, px, pb, py, po, N, M, hw, C, [C, 1, hw, 1],
                                                             2 if pb else 0, act, 1.0, p0, p1), node)]
    geom = [N, C, H, W, M, out[0], out[1], *kernel, *strides, *dilations, *begins, group]
    return [KOp("kernel", [x, wname, bname], [y],
                lambda nat, px, pw, pb, py: nat.conv2d(px, pw, pb, py, geom, act, p0, p1), node)]


def gemm_kop(node, env: Env, a: str, b: str, y: str, a_shape, b_shape, *, trans_a=False, trans_b=False,
             bias: str = NULL, bias_kind: int = 0, alpha: float = 1.0) -> KOp:
    """One batched product, numpy-broadcasting the batch dims of [..., rows, cols] operands."""
    M, K = (a_shape[-1], a_shape[-2]) if trans_a else (a_shape[-2], a_shape[-1])
    K2, N = (b_shape[-1], b_shape[-2]) if trans_b else (b_shape[-2], b_shape[-1])
    if K != K2:
        raise Unsupported(f"inner dims differ: {a_shape} x {b_shape}")
    try:
        batch_shape = tuple(np.broadcast_shapes(tuple(a_shape[:-2]), tuple(b_shape[:-2])))
    except ValueError:
        raise Unsupported(f"batch dims do not broadcast: {a_shape} x {b_shape}") from None
    batch = prod(batch_shape)
    if batch > 65535:
        raise Unsupported("more than 65535 matrices in one batch")
    sa = batch_strides(a_shape[:-2], batch_shape, M * K)
    sb = batch_strides(b_shape[:-2], batch_shape, K * N)
    index = np.indices(batch_shape).reshape(len(batch_shape), -1).T if batch_shape else np.zeros((1, 0), int)
    offsets = env.table(node, f"offsets:{y}", np.stack([index @ np.array(sa, np.int64).reshape(-1),
                                                        index @ np.array(sb, np.int64).reshape(-1)], 1)
                        .astype(np.int64))
    a_strides = [1, a_shape[-1]] if trans_a else [a_shape[-1], 1]
    b_strides = [1, b_shape[-1]] if trans_b else [b_shape[-1], 1]
    act, p0, p1 = activation(node)
    return KOp("kernel", [a, b, bias, offsets], [y],
               lambda nat, pa, pb, pc, po, py: nat.gemm(pa, pb, pc, py, po, batch, M, N, K,
                                                        a_strides + b_strides, bias_kind, act, alpha, p0, p1),
               node)


def lower_matmul(node: Node, env: Env) -> list[KOp]:
    a, b = node.inputs
    y = node.outputs[0]
    env.f32(a, b, y)
    a_shape, b_shape = list(env.shape(a)), list(env.shape(b))
    if len(a_shape) < 2 or len(b_shape) < 2:
        raise Unsupported("MatMul with a 1-D operand")
    return [gemm_kop(node, env, a, b, y, a_shape, b_shape)]


def lower_gemm(node: Node, env: Env) -> list[KOp]:
    a, b, c, y = node.inputs[0], node.inputs[1], optional(node, 2), node.outputs[0]
    env.f32(a, b, c, y)
    M, N = env.shape(y)
    alpha, beta = float(node.attrs.get("alpha", 1.0)), float(node.attrs.get("beta", 1.0))
    bias, kind = NULL, 0
    if c and beta != 0.0:
        cv = env.value(c, "Gemm C").astype(np.float32) * np.float32(beta)
        cv = cv.reshape((1,) * (2 - cv.ndim) + cv.shape)
        if cv.shape[0] == 1:  # per column (or a scalar)
            bias, kind = env.table(node, "bias", np.broadcast_to(cv, (1, N))), 1
        elif cv.shape[1] == 1:
            bias, kind = env.table(node, "bias", cv.reshape(M)), 2
        else:
            bias, kind = env.table(node, "bias", np.broadcast_to(cv, (M, N))), 3
    return [gemm_kop(node, env, a, b, y, env.shape(a), env.shape(b), trans_a=bool(node.attrs.get("transA", 0)),
                     trans_b=bool(node.attrs.get("transB", 0)), bias=bias, bias_kind=kind, alpha=alpha)]


def lower_pool(node: Node, env: Env) -> list[KOp]:
    x, y = node.inputs[0], node.outputs[0]
    env.f32(x, y)
    if any(node.outputs[1:]):
        raise Unsupported("MaxPool indices output")
    xs, ys = env.shape(x), env.shape(y)
    if len(xs) != 4:
        raise Unsupported("only 2-D pooling")
    kernel = [int(k) for k in node.attrs["kernel_shape"]]
    begins, ends, out = _geometry(window_attrs(node), xs[2:], kernel, bool(node.attrs.get("ceil_mode", 0)))
    if tuple(ys[2:]) != tuple(out):
        raise Unsupported("output shape disagrees with the pool geometry")
    strides = [int(s) for s in node.attrs.get("strides") or [1, 1]]
    dilations = [int(d) for d in node.attrs.get("dilations") or [1, 1]]
    geom = [xs[0] * xs[1], xs[2], xs[3], *out, *kernel, *strides, *dilations, *begins, *ends,
            int(node.op == "MaxPool"), int(node.attrs.get("count_include_pad", 0))]
    return [KOp("kernel", [x], [y], lambda nat, px, py: nat.pool2d(px, py, geom), node)]


def reduce_kop(node, x, y, outer, n, inner, kind) -> KOp:
    return KOp("kernel", [x], [y], lambda nat, px, py: nat.reduce(px, py, outer, n, inner, kind), node)


def lower_global_pool(node: Node, env: Env) -> list[KOp]:
    x, y = node.inputs[0], node.outputs[0]
    env.f32(x, y)
    xs = env.shape(x)
    return [reduce_kop(node, x, y, xs[0] * xs[1], prod(xs[2:]), 1, 1 if node.op == "GlobalAveragePool" else 2)]


def lower_reduce(node: Node, env: Env) -> list[KOp]:
    x, y = node.inputs[0], node.outputs[0]
    env.f32(x, y)
    xs = env.shape(x)
    axes_name = optional(node, 1)
    axes = sorted({int(a) % len(xs) for a in env.value(axes_name, "axes").reshape(-1)}) if axes_name else []
    if not axes:
        if node.attrs.get("noop_with_empty_axes", 0):
            raise Unsupported("empty reduction")
        axes = list(range(len(xs)))
    if axes != list(range(axes[0], axes[-1] + 1)):
        raise Unsupported("reduction over non-adjacent axes")
    return [reduce_kop(node, x, y, prod(xs[:axes[0]]), prod(xs[axes[0]:axes[-1] + 1]), prod(xs[axes[-1] + 1:]),
                       REDUCE[node.op])]


def lower_unary(node: Node, env: Env) -> list[KOp]:
    x, y = node.inputs[0], node.outputs[0]
    env.f32(x, y)
    n, op, a = prod(env.shape(x)), node.op, node.attrs
    if op in UNARY:
        code, p0, p1 = UNARY[op], 0.0, 0.0
    elif op == "LeakyRelu":
        code, p0, p1 = 3, float(a.get("alpha", 0.01)), 0.0
    elif op == "Elu":
        code, p0, p1 = 30, float(a.get("alpha", 1.0)), 0.0
    elif op == "HardSigmoid":
        code, p0, p1 = 4, float(a.get("alpha", 0.2)), float(a.get("beta", 0.5))
    elif op == "Gelu":
        if a.get("approximate", "none") != "none":
            raise Unsupported("tanh-approximated Gelu")
        code, p0, p1 = 26, 0.0, 0.0
    elif op == "Clip":
        lo, hi = (float(env.value(optional(node, i), "Clip bound").reshape(())) if optional(node, i) else d
                  for i, d in ((1, -np.inf), (2, np.inf)))
        code, p0, p1 = 2, lo, hi
    else:
        raise Unsupported(f"unary op {op}")
    return [KOp("kernel", [x], [y], lambda nat, px, py: nat.unary(px, py, n, code, p0, p1), node)]


def lower_binary(node: Node, env: Env) -> list[KOp]:
    if len(node.inputs) != 2:
        raise Unsupported(f"{node.op} with {len(node.inputs)} inputs")
    a, b = node.inputs
    y = node.outputs[0]
    env.f32(a, b, y)
    ys = env.shape(y)
    shape, sa, sb = collapse_dims(ys, broadcast_strides(env.shape(a), ys), broadcast_strides(env.shape(b), ys))
    n, op = prod(ys), BINARY[node.op]
    return [KOp("kernel", [a, b], [y], lambda nat, pa, pb, py: nat.binary(pa, pb, py, n, shape, sa, sb, op), node)]


def lower_alias(node: Node, env: Env) -> list[KOp]:
    if node.op == "Dropout" and (any(node.outputs[1:]) or any(node.inputs[2:3])):
        raise Unsupported("Dropout with a mask output or training mode")
    x, y = node.inputs[0], node.outputs[0]
    if prod(env.shape(x)) != prod(env.shape(y)) or env.type(x).dtype is not env.type(y).dtype:
        raise Unsupported("reshape changes the element count or dtype")
    return [KOp("alias", [x], [y], node=node)]


def lower_transpose(node: Node, env: Env) -> list[KOp]:
    x, y = node.inputs[0], node.outputs[0]
    xs = env.shape(x)
    perm = node.attrs.get("perm")
    perm = list(range(len(xs)))[::-1] if perm is None else [int(p) for p in perm]
    st, out = contiguous_strides(xs), [xs[p] for p in perm]
    return [strided_copy(node, x, y, env.type(x).dtype.itemsize, out, [st[p] for p in perm], 0,
                         contiguous_strides(out), 0)]


def lower_concat(node: Node, env: Env) -> list[KOp]:
    y = node.outputs[0]
    ys = env.shape(y)
    axis = int(node.attrs["axis"]) % len(ys)
    ost, kops, offset = contiguous_strides(ys), [], 0
    for name in node.inputs:
        xs = env.shape(name)
        if xs[axis]:
            kops.append(strided_copy(node, name, y, env.type(y).dtype.itemsize, xs, contiguous_strides(xs), 0,
                                     ost, offset * ost[axis]))
        offset += xs[axis]
    return kops


def lower_split(node: Node, env: Env) -> list[KOp]:
    x = node.inputs[0]
    xs = env.shape(x)
    axis = int(node.attrs.get("axis", 0)) % len(xs)
    st, kops, offset = contiguous_strides(xs), [], 0
    for out in node.outputs:
        if not out:
            raise Unsupported("Split with an omitted output")
        os_ = env.shape(out)
        kops.append(strided_copy(node, x, out, env.type(x).dtype.itemsize, os_, st, offset * st[axis],
                                 contiguous_strides(os_), 0))
        offset += os_[axis]
    return kops


def lower_slice(node: Node, env: Env) -> list[KOp]:
    x, y = node.inputs[0], node.outputs[0]
    xs = env.shape(x)
    args = [env.value(n, "Slice bounds") if n else None for n in (list(node.inputs[1:]) + [""] * 4)[:4]]
    st = contiguous_strides(xs)
    shape, strides, offset = list(xs), list(st), 0
    for axis, start, end, step in _slice_args(len(xs), *args):
        lo, hi = _slice_bounds(xs[axis], start, end, step)
        shape[axis] = max(0, -(-(hi - lo) // step))
        strides[axis] = st[axis] * step
        offset += lo * st[axis]
    if tuple(shape) != env.shape(y):
        raise Unsupported("slice shape disagrees with the inferred type")
    return [strided_copy(node, x, y, env.type(x).dtype.itemsize, shape, strides, offset,
                         contiguous_strides(shape), 0)]


def lower_expand(node: Node, env: Env) -> list[KOp]:
    x, y = node.inputs[0], node.outputs[0]
    ys = env.shape(y)
    return [strided_copy(node, x, y, env.type(x).dtype.itemsize, ys, broadcast_strides(env.shape(x), ys), 0,
                         contiguous_strides(ys), 0)]


def lower_softmax(node: Node, env: Env) -> list[KOp]:
    x, y = node.inputs[0], node.outputs[0]
    env.f32(x, y)
    xs = env.shape(x)
    axis = int(node.attrs.get("axis", -1)) % len(xs)
    outer, n, inner, log = prod(xs[:axis]), xs[axis], prod(xs[axis + 1:]), int(node.op == "LogSoftmax")
    if outer * inner >= 2**31:
        raise Unsupported("too many softmax rows")
    return [KOp("kernel", [x], [y], lambda nat, px, py: nat.softmax(px, py, outer, n, inner, log), node)]


def lower_layernorm(node: Node, env: Env) -> list[KOp]:
    if any(node.outputs[1:]):
        raise Unsupported("LayerNormalization mean/inv-std outputs")
    x, y = node.inputs[0], node.outputs[0]
    env.f32(x, y)
    xs = env.shape(x)
    axis = int(node.attrs.get("axis", -1)) % len(xs)
    rows, n, eps = prod(xs[:axis]), prod(xs[axis:]), float(node.attrs.get("epsilon", 1e-5))
    params = []
    for i, tag in ((1, "scale"), (2, "bias")):
        name = optional(node, i)
        value = env.value(name, f"LayerNormalization {tag}").astype(np.float32) if name else None
        params.append(env.table(node, tag, np.broadcast_to(value, xs[axis:]).reshape(n)) if name else NULL)
    return [KOp("kernel", [x, *params], [y],
                lambda nat, px, ps, pb, py: nat.layernorm(px, ps, pb, py, rows, n, eps), node)]


def _taps(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(out, 2) source indices and weights from a dense (out, in) interpolation matrix."""
    idx, w = np.zeros((len(weights), 2), np.int32), np.zeros((len(weights), 2), np.float32)
    for r, row in enumerate(weights):
        nz = np.flatnonzero(row)
        if len(nz) == 1:  # one source: split the weight over two equal taps (exact for a weight of 1)
            idx[r], w[r] = nz[0], row[nz[0]] / 2
        elif len(nz) == 2:
            idx[r], w[r] = nz, row[nz]
        else:
            raise Unsupported(f"resize row with {len(nz)} taps")
    return idx, w


RESIZE_DEFAULTS = {"antialias": 0, "axes": None, "coordinate_transformation_mode": "half_pixel",
                   "cubic_coeff_a": -0.75, "exclude_outside": 0, "keep_aspect_ratio_policy": "stretch",
                   "mode": "nearest", "nearest_mode": "round_prefer_floor"}


def lower_resize(node: Node, env: Env) -> list[KOp]:
    x, y = node.inputs[0], node.outputs[0]
    env.f32(x, y)
    a = {**RESIZE_DEFAULTS, **node.attrs}
    if a["mode"] not in ("nearest", "linear") or a["antialias"] or a["exclude_outside"]:
        raise Unsupported(f"Resize mode {a['mode']} (antialias/exclude_outside)")
    if a["coordinate_transformation_mode"] == "tf_crop_and_resize":
        raise Unsupported("tf_crop_and_resize")
    xs, ys = env.shape(x), env.shape(y)
    if len(xs) < 2 or xs[:-2] != ys[:-2]:
        raise Unsupported("Resize of other axes than the two innermost")
    scales, sizes = (env.value(optional(node, i), "Resize scales/sizes") if optional(node, i) else None
                     for i in (2, 3))
    out, factors, _ = _resize_plan(xs, a, scales, sizes)
    if tuple(out) != ys:
        raise Unsupported("Resize output disagrees with the inferred type")
    tables = []
    for axis in (len(xs) - 2, len(xs) - 1):
        weights, _ = _resize_matrix(a, ys[axis], xs[axis], factors[axis], (0.0, 1.0))
        tables += [env.table(node, f"{t}{axis}", v) for t, v in zip("iw", _taps(weights))]
    planes, (H, W), (OH, OW) = prod(xs[:-2]), xs[-2:], ys[-2:]
    return [KOp("kernel", [x, *tables], [y],
                lambda nat, px, iy, wy, ix, wx, py: nat.resize2d(px, py, planes, H, W, OH, OW, iy, wy, ix, wx),
                node)]


LOWERINGS: dict[str, Callable[[Node, Env], list[KOp]]] = {
    "Conv": lower_conv, "MatMul": lower_matmul, "Gemm": lower_gemm,
    "MaxPool": lower_pool, "AveragePool": lower_pool,
    "GlobalAveragePool": lower_global_pool, "GlobalMaxPool": lower_global_pool,
    **{op: lower_reduce for op in REDUCE},
    **{op: lower_unary for op in (*UNARY, "LeakyRelu", "Elu", "HardSigmoid", "Gelu", "Clip")},
    **{op: lower_binary for op in BINARY},
    **{op: lower_alias for op in ALIASES},
    "Transpose": lower_transpose, "Concat": lower_concat, "Split": lower_split, "Slice": lower_slice,
    "Expand": lower_expand, "Softmax": lower_softmax, "LogSoftmax": lower_softmax,
    "LayerNormalization": lower_layernorm, "Resize": lower_resize,
}


def lower(node: Node, env: Env) -> list[KOp]:
    """Kernel launches for `node`; a node whose outputs are all known at plan time lowers to a const."""
    outs = [o for o in node.outputs if o]
    if outs and all(o in env.values for o in outs) and not any(True for _ in node.subgraphs()):
        return [KOp("const", [], outs, node=node)]
    if node.domain not in ("", "ai.onnx"):
        raise Unsupported(f"op domain {node.domain!r}")
    fn = LOWERINGS.get(node.op)
    if fn is None:
        raise Unsupported(f"no CUDA kernel for {node.op}")
    for name in outs:
        if prod(env.shape(name)) == 0:
            raise Unsupported(f"{name!r} is empty")
    for name in node.inputs:
        if name:
            env.type(name)
    return fn(node, env)
