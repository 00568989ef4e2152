"""Lowerings for the breadth of the vision op set onto the "v_*" native ops (csrc/ops_vision.cpp).

Each entry either extends an existing lowering (tried first; this one runs the forms it refuses,
e.g. Conv with weights fed at run time) or adds an op. Data-movement ops (Pad, Tile, DepthToSpace,
...) are lowered through the reference kernel itself: applied at plan time to the positions of the
data input, it yields an index map that one native gather replays. Resize becomes one sparse
interpolation pass per resized axis, with the weights of the reference's own per-axis matrices.
"""
from __future__ import annotations

from functools import lru_cache
from math import prod
from typing import Callable, Optional

import numpy as np

from mnn_core.dtypes import DType
from mnn_core.ir import Node
from mnn_core.ops.nn import _conv_transpose_geometry, _geometry, _resize_matrix, _resize_plan

from . import lowering as L
from .lowering import (TYPE_CODES, Env, LOp, NeedsValue, Unsupported, _broadcast_strides, collapse,
                       copy_piece, fused_activation, strides_of)


@lru_cache(maxsize=1)
def _ops():
    from mnn_core.ops import standard_ops
    return standard_ops()


def attrs_of(node: Node) -> dict:
    """The node's attributes with the schema's defaults filled in."""
    return _ops().get(node.op).resolve_attrs(node)


def opt(node: Node, i: int) -> Optional[str]:
    return node.inputs[i] if len(node.inputs) > i and node.inputs[i] else None


def tcode(env: Env, name: str) -> int:
    dtype = env.type(name).dtype
    if dtype not in TYPE_CODES:
        raise Unsupported(f"{name!r} is {dtype}")
    return TYPE_CODES[dtype]


def int_weight(values) -> np.ndarray:
    """int32 data carried in a float32 weight (its bits; the native op reads them back as ints)."""
    return np.ascontiguousarray(values, np.int32).reshape(-1).view(np.float32)


def bytes_weight(array: np.ndarray) -> np.ndarray:
    raw = np.ascontiguousarray(array).tobytes()
    raw += b"\0" * (-len(raw) % 4)
    return np.frombuffer(raw, np.float32).copy()


def fill_ints(value, dtype) -> list[int]:
    """A scalar's bytes as the two 32-bit halves v_imap takes."""
    raw = np.asarray(value, dtype).tobytes().ljust(8, b"\0")
    lo, hi = np.frombuffer(raw, np.uint32)
    return [int(lo), int(hi)]


def pad3(values, fill) -> list[int]:
    values = [int(v) for v in values]
    return [fill] * (3 - len(values)) + values


# ---- index maps --------------------------------------------------------------------------------
def index_map(node: Node, env: Env, others: dict[int, np.ndarray]) -> np.ndarray:
    """For each output element, the flat position of the data element (input 0) it copies, or -1
    where it takes a fill value: the reference kernel applied to positions 1..n."""
    x = node.inputs[0]
    positions = np.arange(1, prod(env.shape(x)) + 1, dtype=np.float64).reshape(env.shape(x))
    inputs = [positions] + [others.get(i) for i in range(1, len(node.inputs))]
    from mnn_core.reference import run_node
    single = Node(node.op, list(node.inputs), [node.outputs[0]], dict(node.attrs), name=node.name)
    (y,) = run_node(single, inputs, _ops())
    if tuple(y.shape) != env.shape(node.outputs[0]):
        raise Unsupported("index map disagrees with the output type")
    if y.size >= 2 ** 31:
        raise Unsupported("index maps hold int32 positions")
    return y.reshape(-1).astype(np.int64) - 1


def imap_lop(node, x, y, env, mapping, fill=0) -> LOp:
    dtype = env.type(y).dtype
    return LOp("v_imap", [x], [y], [dtype.itemsize, int(mapping.size), 1, *fill_ints(fill, dtype.numpy)],
               weights=[int_weight(mapping)], node=node)


def lower_mapped(node: Node, env: Env) -> list[LOp]:
    """Single-data-input layout ops; structural inputs must be known (or are specialised on)."""
    x, y = node.inputs[0], node.outputs[0]
    others, fill = {}, 0
    for i, name in enumerate(node.inputs[1:], 1):
        if not name:
            continue
        value = env.value(name, f"{node.op} input {i}")
        if node.op == "Pad" and i == 2:  # the pad value: a fill, positions see 0
            fill = value.reshape(-1)[0] if value.size else 0
            value = np.zeros_like(value, np.float64)
        others[i] = value
    if node.op == "Pad" and (node.attrs.get("mode", "constant") or "constant") != "constant":
        fill = 0
    return [imap_lop(node, x, y, env, index_map(node, env, others), fill)]


def lower_fill(node: Node, env: Env) -> list[LOp]:
    """ConstantOfShape (shape fed at run time) and Size: the output type says it all."""
    y = node.outputs[0]
    dtype = env.type(y).dtype
    if node.op == "Size":
        value = prod(env.shape(node.inputs[0]))
    else:
        value = node.attrs.get("value")
        value = np.asarray(value).reshape(-1)[0] if value is not None else 0.0
    if dtype.itemsize > 8:
        raise Unsupported(f"{dtype} fill")
    return [LOp("v_imap", [], [y], [dtype.itemsize, prod(env.shape(y)), 0,
                                    *fill_ints(value, dtype.numpy)], node=node)]


# ---- elementwise -------------------------------------------------------------------------------
V_UNARY = {"Elu": 0, "Selu": 1, "Celu": 2, "Softplus": 3, "Softsign": 4, "Mish": 5, "Ceil": 7,
           "Floor": 8, "Round": 9, "Sign": 10, "ThresholdedRelu": 11, "Sin": 12, "Cos": 13, "Tan": 14,
           "Asin": 15, "Acos": 16, "Atan": 17, "Sinh": 18, "Cosh": 19, "Asinh": 20, "Acosh": 21,
           "Atanh": 22, "Shrink": 23, "HardSigmoid": 25, "LeakyRelu": 26, "Relu": 27, "Identity": 28,
           "Erf": 29, "Exp": 30, "Log": 31, "Sqrt": 32, "Neg": 33, "Abs": 34, "Reciprocal": 35,
           "Sigmoid": 36, "Tanh": 37}
VU_GELU_TANH, VU_SCALE = 6, 24
INT_UNARY = {"Neg", "Abs", "Relu", "Sign", "Identity"}


def unary_lop(node, x, y, env, code, params=()) -> LOp:
    return LOp("v_unary", [x], [y], [prod(env.shape(x)), code, tcode(env, x)], [float(p) for p in params],
               node=node)


def lower_vunary(node: Node, env: Env) -> list[LOp]:
    x, y = node.inputs[0], node.outputs[0]
    dtype = env.type(x).dtype
    if dtype is not DType.F32 and not (dtype in (DType.I32, DType.I64) and node.op in INT_UNARY):
        raise Unsupported(f"{node.op} of {dtype}")
    a = attrs_of(node)
    params = {"Elu": ("alpha",), "Celu": ("alpha",), "Selu": ("alpha", "gamma"),
              "ThresholdedRelu": ("alpha",), "Shrink": ("lambd", "bias"),
              "HardSigmoid": ("alpha", "beta"), "LeakyRelu": ("alpha",)}.get(node.op, ())
    if node.op == "Gelu":
        if a["approximate"] != "tanh":
            raise Unsupported("Gelu approximation")
        return [unary_lop(node, x, y, env, VU_GELU_TANH)]
    return [unary_lop(node, x, y, env, V_UNARY[node.op], [a[p] for p in params])]


V_BINARY = {"Add": 0, "Sub": 1, "Mul": 2, "Div": 3, "Max": 4, "Min": 5, "Pow": 6, "Mod": 7,
            "PRelu": 9, "Sum": 0, "Mean": 0}


def binary_lop(node, code, a, b, y, env, alpha=None, beta=None, b_const=None) -> LOp:
    ys = env.shape(y)
    b_shape = b_const.shape if b_const is not None else env.shape(b)
    shape, (sa, sb) = collapse(ys, _broadcast_strides(env.shape(a), ys, 1), _broadcast_strides(b_shape, ys, 1))
    tb = TYPE_CODES[DType.from_numpy(b_const.dtype)] if b_const is not None else tcode(env, b)
    ints = [code, tcode(env, a), tb, tcode(env, y), len(shape), *shape, *sa, *sb, int(b_const is not None)]
    floats = [] if alpha is None else [float(alpha), float(beta)]
    weights = [bytes_weight(b_const)] if b_const is not None else []
    return LOp("v_binary", [a] if b_const is not None else [a, b], [y], ints, floats, weights, node)


def lower_vbinary(node: Node, env: Env) -> list[LOp]:
    y = node.outputs[0]
    inputs = list(node.inputs)
    if not inputs or not all(inputs):
        raise Unsupported(f"{node.op} with omitted inputs")
    code = V_BINARY[node.op]
    if node.op == "Mod" and int(node.attrs.get("fmod", 0)):
        code = 8
    if node.op == "Pow" and env.type(y).dtype is not env.type(inputs[0]).dtype:
        raise Unsupported("Pow output dtype differs from the base")
    if len(inputs) == 1:
        return [LOp("copy", [inputs[0]], [y], [env.type(y).dtype.itemsize, 1,
                                              *copy_piece([prod(env.shape(y))], [1], 0, [1], 0)], node=node)]
    if node.op == "Mean" and env.type(y).dtype is not DType.F32:
        raise Unsupported("Mean of integers")
    lops = [binary_lop(node, code, inputs[0], inputs[1], y, env)]
    for extra in inputs[2:]:  # variadic Sum/Max/Min/Mean: fold into y in place
        if env.shape(y) != tuple(np.broadcast_shapes(env.shape(y), env.shape(extra))):
            raise Unsupported("variadic operand broadens the output")
        lops.append(binary_lop(node, code, y, extra, y, env))
    if node.op == "Mean":
        lops.append(unary_lop(node, y, y, env, VU_SCALE, [1.0 / len(inputs)]))
    return lops


def lower_vclip(node: Node, env: Env) -> list[LOp]:
    """Clip with bounds fed at run time (or of integer type): max with min, then min with max."""
    x, y = node.inputs[0], node.outputs[0]
    lo, hi = opt(node, 1), opt(node, 2)
    if not lo and not hi:
        return [LOp("copy", [x], [y], [env.type(y).dtype.itemsize, 1,
                                       *copy_piece([prod(env.shape(y))], [1], 0, [1], 0)], node=node)]
    lops, src = [], x
    if lo:
        lops.append(binary_lop(node, 4, src, lo, y, env))
        src = y
    if hi:
        lops.append(binary_lop(node, 5, src, hi, y, env))
    return lops


def lower_castlike(node: Node, env: Env) -> list[LOp]:
    return L.lower_cast(Node("Cast", [node.inputs[0]], list(node.outputs), {}, name=node.name), env)


# ---- contractions ------------------------------------------------------------------------------
def lower_vconv(node: Node, env: Env) -> list[LOp]:
    """Conv / ConvTranspose over 1 to 3 spatial dims with weights known only at run time."""
    x, w, b = node.inputs[0], node.inputs[1], opt(node, 2)
    y = node.outputs[0]
    env.f32(x, w, y, *([b] if b else []))
    xs, ws, ys = env.shape(x), env.shape(w), env.shape(y)
    nd = len(xs) - 2
    if not 1 <= nd <= 3:
        raise Unsupported(f"{node.op} with {nd} spatial dims")
    a = attrs_of(node)
    kernel = ws[2:]
    transpose = node.op == "ConvTranspose"
    if transpose:
        begins, out = _conv_transpose_geometry(a, xs[2:], kernel)
        cout = ws[1] * int(a["group"])
    else:
        begins, _, out = _geometry(a, xs[2:], kernel)
        cout = ws[0]
    if tuple(ys) != (xs[0], cout, *out):
        raise Unsupported(f"output shape {ys} disagrees with the {node.op} geometry")
    strides = a["strides"] or [1] * nd
    dilations = a["dilations"] or [1] * nd
    act, params = fused_activation(node)
    ints = [int(transpose), xs[0], xs[1], cout, int(a["group"]),
            *pad3(xs[2:], 1), *pad3(out, 1), *pad3(kernel, 1), *pad3(strides, 1), *pad3(dilations, 1),
            *pad3(begins, 0), int(b is not None), act]
    return [LOp("v_conv", [x, w] + ([b] if b else []), [y], ints, params, node=node,
                cost=2.0 * prod(ys) * prod(kernel) * xs[1] / int(a["group"]))]


def lower_vgemm(node: Node, env: Env) -> list[LOp]:
    """Gemm with a variable B and alpha != 1, or a C fed at run time: the product, then a scaled
    add of C (broadcast) in place."""
    a_name, b_name, c = node.inputs[0], node.inputs[1], opt(node, 2)
    y = node.outputs[0]
    env.f32(a_name, b_name, y)
    at = attrs_of(node)
    alpha, beta = float(at["alpha"]), float(at["beta"])
    if at.get("activation"):
        raise Unsupported("Gemm with a fused activation and a run-time C")
    b_value = env.values.get(b_name)
    lop = L._matmul_lop(node, a_name, b_name, y, env.shape(a_name), env.shape(b_name),
                        trans_a=bool(at["transA"]), trans_b=bool(at["transB"]),
                        b_value=None if b_value is None else np.asarray(b_value, np.float32) * np.float32(alpha),
                        b_scale=alpha)
    lop.variants = {}
    lops = [lop]
    scale = 1.0 if b_value is not None else alpha
    if c and beta != 0.0:
        env.f32(c)
        lops.append(binary_lop(node, 0, y, c, y, env, scale, beta))
    elif scale != 1.0:
        lops.append(unary_lop(node, y, y, env, VU_SCALE, [scale]))
    return lops


def lower_vmatmul(node: Node, env: Env) -> list[LOp]:
    """MatMul with a 1-D operand: as a [1, K] row or a [K, 1] column (same bytes in and out)."""
    a, b = node.inputs
    env.f32(a, b, node.outputs[0])
    sa, sb = env.shape(a), env.shape(b)
    if len(sa) >= 2 and len(sb) >= 2:
        raise Unsupported("MatMul form")
    sa = (1, *sa) if len(sa) == 1 else sa
    sb = (*sb, 1) if len(sb) == 1 else sb
    b_value = env.values.get(b)
    lop = L._matmul_lop(node, a, b, node.outputs[0], sa, sb,
                        b_value=None if b_value is None else np.asarray(b_value, np.float32).reshape(sb))
    lop.variants = {}
    return [lop]


# ---- pooling, reductions, normalisation --------------------------------------------------------
def lower_vpool(node: Node, env: Env) -> list[LOp]:
    x, y = node.inputs[0], node.outputs[0]
    env.f32(x, y)
    xs, ys = env.shape(x), env.shape(y)
    nd = len(xs) - 2
    if not 1 <= nd <= 3:
        raise Unsupported(f"pooling over {nd} dims")
    a = attrs_of(node)
    kernel = [int(k) for k in a["kernel_shape"]]
    begins, ends, out = _geometry(a, xs[2:], kernel, bool(a.get("ceil_mode", 0)))
    if tuple(ys[2:]) != tuple(out):
        raise Unsupported("output shape disagrees with the pool geometry")
    kind = {"AveragePool": 0, "MaxPool": 1, "LpPool": 2}[node.op]
    outs = [o for o in node.outputs if o]
    ints = [xs[0] * xs[1], *pad3(xs[2:], 1), *pad3(out, 1), *pad3(kernel, 1),
            *pad3(a["strides"] or [1] * nd, 1), *pad3(a["dilations"] or [1] * nd, 1),
            *pad3(begins, 0), *pad3(ends, 0), kind, int(a.get("count_include_pad", 0)),
            int(a.get("p", 2)), int(a.get("storage_order", 0) or 0)]
    return [LOp("v_pool", [x], outs, ints, node=node)]


REDUCE_KINDS = {"ReduceSum": 0, "ReduceMean": 1, "ReduceMax": 2, "ReduceMin": 3, "ReduceProd": 4,
                "ReduceL1": 5, "ReduceL2": 6, "ReduceSumSquare": 7, "ReduceLogSum": 8,
                "ReduceLogSumExp": 9}


def lower_vreduce(node: Node, env: Env) -> list[LOp]:
    x, y = node.inputs[0], node.outputs[0]
    xs = env.shape(x)
    dtype = env.type(x).dtype
    kind = REDUCE_KINDS[node.op]
    if dtype not in (DType.F32, DType.I32, DType.I64) and not (dtype is DType.BOOL and kind in (2, 3)):
        raise Unsupported(f"{node.op} of {dtype}")
    axes_name = opt(node, 1)
    if axes_name:
        axes = [int(v) for v in env.value(axes_name, "axes").reshape(-1)]
    else:
        axes = [int(v) for v in (node.attrs.get("axes") or ())]
    if not axes:
        if int(node.attrs.get("noop_with_empty_axes", 0)):
            return [LOp("copy", [x], [y], [dtype.itemsize, 1, *copy_piece([max(prod(xs), 1)], [1], 0, [1], 0)],
                        node=node)]
        axes = list(range(len(xs)))
    axes = sorted({a % len(xs) for a in axes})
    st = strides_of(xs)
    kept = [(d, s) for i, (d, s) in enumerate(zip(xs, st)) if i not in axes] or [(1, 0)]
    red = [(xs[i], st[i]) for i in axes]
    ints = [kind, TYPE_CODES[dtype], prod(env.shape(y)), len(kept), *[d for d, _ in kept],
            *[s for _, s in kept], len(red), *[d for d, _ in red], *[s for _, s in red]]
    return [LOp("v_reduce", [x], [y], ints, node=node)]


def lower_arg(node: Node, env: Env) -> list[LOp]:
    x, y = node.inputs[0], node.outputs[0]
    xs = env.shape(x)
    a = attrs_of(node)
    axis = int(a["axis"]) % len(xs)
    return [LOp("v_arg", [x], [y], [prod(xs[:axis]), xs[axis], prod(xs[axis + 1:]),
                                    int(node.op == "ArgMax"), int(a["select_last_index"]), tcode(env, x)],
                node=node)]


def lower_vsoftmax(node: Node, env: Env) -> list[LOp]:
    x, y = node.inputs[0], node.outputs[0]
    env.f32(x, y)
    xs = env.shape(x)
    axis = int(node.attrs.get("axis", -1)) % len(xs)
    mode = {"Softmax": 0, "LogSoftmax": 1, "Hardmax": 2}[node.op]
    return [LOp("v_softmax", [x], [y], [prod(xs[:axis]), xs[axis], prod(xs[axis + 1:]), mode], node=node)]


def _norm_lop(node, env, rows, n, inner, channels, rms, eps, outs) -> LOp:
    x = node.inputs[0]
    scale, bias = opt(node, 1), opt(node, 2)
    for name in (scale, bias):
        if name:
            env.f32(name)
            if prod(env.shape(name)) != channels:
                raise Unsupported(f"{node.op} scale/bias of {prod(env.shape(name))} values, want {channels}")
    ints = [rows, n, inner, channels, int(rms), int(bool(scale)), int(bool(bias)), len(outs) - 1]
    return LOp("v_norm", [x] + [v for v in (scale, bias) if v], outs, ints, [float(eps)], node=node)


def lower_vnorm(node: Node, env: Env) -> list[LOp]:
    x = node.inputs[0]
    env.f32(x, node.outputs[0])
    xs = env.shape(x)
    a = attrs_of(node)
    outs = list(node.outputs)
    while outs and not outs[-1]:
        outs.pop()
    if not all(outs):
        raise Unsupported(f"{node.op} with an omitted middle output")
    if node.op in ("LayerNormalization", "RMSNormalization"):
        axis = int(a["axis"]) % len(xs)
        n = prod(xs[axis:])
        if node.op == "RMSNormalization" and len(outs) > 1:
            raise Unsupported("RMSNormalization extra outputs")
        return [_norm_lop(node, env, prod(xs[:axis]), n, 1, n, node.op == "RMSNormalization",
                          a["epsilon"], outs)]
    if len(outs) > 1 or len(xs) < 3:
        raise Unsupported(f"{node.op} form")
    N, C, S = xs[0], xs[1], prod(xs[2:])
    if node.op == "InstanceNormalization":
        return [_norm_lop(node, env, N * C, S, S, C, False, a["epsilon"], outs)]
    G = int(a["num_groups"])
    if C % G:
        raise Unsupported("channels not divisible by groups")
    params = prod(env.shape(node.inputs[1]))
    inner, channels = (S, C) if params == C else ((C // G) * S, G)
    return [_norm_lop(node, env, N * G, (C // G) * S, inner, channels, False, a["epsilon"], outs)]


def lower_batchnorm(node: Node, env: Env) -> list[LOp]:
    outs = [o for o in node.outputs if o]
    a = attrs_of(node)
    training = int(a.get("training_mode", 0) or 0)
    if len(outs) != (3 if training else 1) or len(outs) != len(node.outputs):
        raise Unsupported("BatchNormalization outputs (training mode: y, running mean and var)")
    env.f32(*node.inputs, *outs)
    xs = env.shape(node.inputs[0])
    if len(xs) < 2 or any(prod(env.shape(n)) != xs[1] for n in node.inputs[1:5]):
        raise Unsupported("BatchNormalization shapes")
    return [LOp("v_batchnorm", list(node.inputs[:5]), outs, [xs[0], xs[1], prod(xs[2:]), training],
                [float(a["epsilon"]), float(a["momentum"])], node=node)]


def lower_nonzero(node: Node, env: Env) -> list[LOp]:
    x, y = node.inputs[0], node.outputs[0]
    xs = env.shape(x)
    return [LOp("v_nonzero", [x], [y], [tcode(env, x), prod(xs), len(xs), env.shape(y)[1], *xs], node=node)]


def nonempty(fn: Callable[[Node, Env], list[LOp]]) -> Callable[[Node, Env], list[LOp]]:
    """`fn` only for non-empty inputs (the original kernels assume at least one element)."""
    def lower(node: Node, env: Env) -> list[LOp]:
        if any(prod(env.shape(n)) == 0 for n in node.inputs[:1] if n):
            raise Unsupported("empty input")
        return fn(node, env)
    return lower


def lower_lrn(node: Node, env: Env) -> list[LOp]:
    x, y = node.inputs[0], node.outputs[0]
    env.f32(x, y)
    xs = env.shape(x)
    a = attrs_of(node)
    return [LOp("v_lrn", [x], [y], [xs[0], xs[1], prod(xs[2:]), int(a["size"])],
                [float(a["alpha"]), float(a["beta"]), float(a["bias"])], node=node)]


# ---- resampling --------------------------------------------------------------------------------
def lower_resize(node: Node, env: Env) -> list[LOp]:
    x, y = node.inputs[0], node.outputs[0]
    env.f32(x, y)
    xs, ys = env.shape(x), env.shape(y)
    a = attrs_of(node)
    roi, scales, sizes = (env.value(n, f"Resize {w}") if n else None
                          for n, w in ((opt(node, 1), "roi"), (opt(node, 2), "scales"), (opt(node, 3), "sizes")))
    out, factors, axes = _resize_plan(xs, a, scales, sizes if sizes is not None and sizes.size else None)
    if tuple(out) != ys:
        raise Unsupported(f"Resize output {ys} disagrees with {tuple(out)}")
    starts, ends = {}, {}
    if roi is not None and roi.size:
        roi = np.asarray(roi, np.float64).reshape(-1)
        k = len(roi) // 2
        names = axes if k == len(axes) else range(len(xs))
        starts, ends = dict(zip(names, roi[:k])), dict(zip(names, roi[k:]))
    ints, weights, shape = [], [], list(xs)
    for axis in axes:
        axis_roi = (starts.get(axis, 0.0), ends.get(axis, 1.0))
        if np.isclose(factors[axis], 1.0) and out[axis] == xs[axis] and np.allclose(axis_roi, (0.0, 1.0)):
            continue
        matrix, extrapolated = _resize_matrix(a, out[axis], xs[axis], factors[axis], axis_roi)
        taps = max(1, int((matrix != 0).sum(axis=1).max()))
        idx = np.zeros((out[axis], taps), np.int64)
        w = np.zeros((out[axis], taps), np.float32)
        for row in range(out[axis]):
            cols = np.nonzero(matrix[row])[0]
            idx[row, :len(cols)], w[row, :len(cols)] = cols, matrix[row, cols]
        if extrapolated is not None:
            idx[extrapolated, 0] = -1
        ints += [prod(shape[:axis]), xs[axis], out[axis], prod(shape[axis + 1:]), taps]
        weights += [int_weight(idx), w.reshape(-1)]
        shape[axis] = out[axis]
    if not weights:
        return [LOp("copy", [x], [y], [4, 1, *copy_piece([prod(xs)], [1], 0, [1], 0)], node=node)]
    return [LOp("v_resample", [x], [y], [len(weights) // 2, *ints], [float(a["extrapolation_value"])],
                weights, node=node)]


def lower_gridsample(node: Node, env: Env) -> list[LOp]:
    x, grid, y = node.inputs[0], node.inputs[1], node.outputs[0]
    env.f32(x, grid, y)
    xs, ys = env.shape(x), env.shape(y)
    nd = len(xs) - 2
    if nd not in (2, 3):
        raise Unsupported(f"GridSample over {nd} dims")
    a = attrs_of(node)
    mode = {"linear": 0, "bilinear": 0, "nearest": 1, "cubic": 2, "bicubic": 2}.get(a["mode"])
    padding = {"zeros": 0, "border": 1, "reflection": 2}.get(a["padding_mode"])
    if mode is None or padding is None or (mode == 2 and nd != 2):
        raise Unsupported(f"GridSample mode {a['mode']} / {a['padding_mode']}")
    return [LOp("v_gridsample", [x, grid], [y], [xs[0], xs[1], nd, *pad3(xs[2:], 1), *pad3(ys[2:], 1),
                                                 mode, padding, int(a["align_corners"])], node=node)]


# ---- indexing and selection --------------------------------------------------------------------
def _index_dtype(env, name) -> int:
    dtype = env.type(name).dtype
    if dtype not in (DType.I32, DType.I64):
        raise Unsupported("indices must be int32 or int64")
    return int(dtype is DType.I64)


def lower_gather_elements(node: Node, env: Env) -> list[LOp]:
    data, idx = node.inputs
    y = node.outputs[0]
    ds, ys = env.shape(data), env.shape(y)
    axis = int(node.attrs.get("axis", 0)) % len(ds)
    return [LOp("v_gather_elements", [data, idx], [y],
                [env.type(data).dtype.itemsize, len(ds), axis, _index_dtype(env, idx), *ys, *ds], node=node)]


def lower_scatternd(node: Node, env: Env) -> list[LOp]:
    data, idx, upd = node.inputs
    y = node.outputs[0]
    ds, ish = env.shape(data), env.shape(idx)
    red = {"none": 0, "add": 1, "mul": 2, "max": 3, "min": 4}.get(node.attrs.get("reduction", "none") or "none")
    if red is None or (red and env.type(data).dtype is not DType.F32):
        raise Unsupported("ScatterND reduction")
    depth = ish[-1]
    return [LOp("v_scatternd", [data, idx, upd], [y],
                [tcode(env, data), prod(ds), prod(ish[:-1]), depth, prod(ds[depth:]), red,
                 _index_dtype(env, idx), *ds[:depth]], node=node)]


def lower_topk(node: Node, env: Env) -> list[LOp]:
    x, k_name = node.inputs
    if env.type(x).dtype not in (DType.F32, DType.I32, DType.I64):
        raise Unsupported(f"TopK of {env.type(x).dtype}")
    xs = env.shape(x)
    axis = int(node.attrs.get("axis", -1)) % len(xs)
    k = int(env.value(k_name, "TopK K").reshape(-1)[0])
    if not 0 < k <= xs[axis] or len([o for o in node.outputs if o]) != 2:
        raise Unsupported("TopK form")
    return [LOp("v_topk", [x], list(node.outputs), [prod(xs[:axis]), xs[axis], prod(xs[axis + 1:]), k,
                                                    int(node.attrs.get("largest", 1)), tcode(env, x)],
                node=node)]


def lower_nms(node: Node, env: Env) -> list[LOp]:
    boxes, scores = node.inputs[:2]
    env.f32(boxes, scores)
    B, nb, _ = env.shape(boxes)
    C = env.shape(scores)[1]
    extra = [opt(node, i) for i in (2, 3, 4)]
    nsel = env.shape(node.outputs[0])[0]
    ints = [B, C, nb, int(node.attrs.get("center_point_box", 0)), nsel, *[int(bool(e)) for e in extra]]
    return [LOp("v_nms", [boxes, scores] + [e for e in extra if e], [node.outputs[0]], ints, node=node)]


def lower_roialign(node: Node, env: Env) -> list[LOp]:
    x, rois, bidx = node.inputs
    y = node.outputs[0]
    env.f32(x, rois, y)
    a = attrs_of(node)
    N, C, H, W = env.shape(x)
    R, _, OH, OW = env.shape(y)
    ints = [C, H, W, R, OH, OW, int(a["sampling_ratio"]), int(a["mode"] == "max"),
            int(a["coordinate_transformation_mode"] == "half_pixel"), _index_dtype(env, bidx)]
    return [LOp("v_roialign", [x, rois, bidx], [y], ints, [float(a["spatial_scale"])], node=node)]


def lower_range(node: Node, env: Env) -> list[LOp]:
    start, _, delta = node.inputs
    y = node.outputs[0]
    return [LOp("v_range", [start, delta], [y], [prod(env.shape(y)), tcode(env, y)], node=node)]


def lower_dropout(node: Node, env: Env) -> list[LOp]:
    """Inference: identity (mask all true). Training mode: the reference's seeded mask, which
    depends only on the seed and the shape, so it is a plan-time constant."""
    x, y = node.inputs[0], node.outputs[0]
    mask = node.outputs[1] if len(node.outputs) > 1 and node.outputs[1] else None
    ratio = float(env.value(opt(node, 1), "Dropout ratio").reshape(-1)[0]) if opt(node, 1) else 0.5
    training = bool(env.value(opt(node, 2), "Dropout training_mode").reshape(-1)[0]) if opt(node, 2) else False
    xs = env.shape(x)
    if not training or ratio == 0:
        lops = [LOp("alias", [x], [y], node=node)]
        keep = np.ones(xs, bool)
    else:
        env.f32(x)
        rng = np.random.RandomState(int(node.attrs.get("seed") or 0))
        keep = rng.uniform(0, 1.0, xs) >= ratio
        factor = (keep / np.float32(1 - ratio)).astype(np.float32)
        lops = [binary_lop(node, 2, x, None, y, env, b_const=factor)]
    if mask:
        lops.append(LOp("v_const", [], [mask], [keep.nbytes], weights=[bytes_weight(keep)], node=node))
    return lops


# ---- registration ------------------------------------------------------------------------------
def first_of(*fns: Callable[[Node, Env], list[LOp]]) -> Callable[[Node, Env], list[LOp]]:
    """The first lowering that accepts the node; the first refusal's reason when none does (a
    structural value needed at plan time wins, so the plan can be specialised on it)."""
    def lower(node: Node, env: Env) -> list[LOp]:
        errors = []
        for fn in fns:
            try:
                return fn(node, env)
            except Unsupported as why:
                errors.append(why)
        needs = [e for e in errors if isinstance(e, NeedsValue)]
        raise (needs[0] if needs else errors[0])
    return lower


def register(table: dict) -> None:
    orig = dict(table)
    extend = lambda op, fn: first_of(orig[op], fn) if op in orig else fn
    for op in ("Conv", "ConvTranspose"):
        table[op] = extend(op, lower_vconv)
    table["Gemm"] = extend("Gemm", lower_vgemm)
    table["MatMul"] = extend("MatMul", lower_vmatmul)
    for op in ("MaxPool", "AveragePool", "LpPool"):
        table[op] = extend(op, lower_vpool)
    for op in REDUCE_KINDS:
        table[op] = first_of(nonempty(orig[op]), lower_vreduce) if op in orig else lower_vreduce
    for op in (*V_UNARY, "Gelu"):
        table[op] = extend(op, lower_vunary)
    for op in V_BINARY:
        table[op] = extend(op, lower_vbinary)
    table["Clip"] = extend("Clip", lower_vclip)
    for op in ("Softmax", "LogSoftmax", "Hardmax"):
        table[op] = extend(op, lower_vsoftmax)
    for op in ("LayerNormalization", "RMSNormalization", "InstanceNormalization", "GroupNormalization"):
        table[op] = extend(op, lower_vnorm)
    table["Dropout"] = first_of(lower_dropout)
    for op in ("Pad", "Tile", "DepthToSpace", "SpaceToDepth", "Trilu", "ReverseSequence"):
        table[op] = lower_mapped
    table.update({
        "ConstantOfShape": lower_fill, "Size": lower_fill, "CastLike": lower_castlike,
        "ArgMax": lower_arg, "ArgMin": lower_arg, "BatchNormalization": lower_batchnorm, "LRN": lower_lrn,
        "Resize": lower_resize, "GridSample": lower_gridsample, "GatherElements": lower_gather_elements,
        "ScatterND": lower_scatternd, "TopK": lower_topk, "NonMaxSuppression": lower_nms,
        "RoiAlign": lower_roialign, "Range": lower_range, "NonZero": lower_nonzero,
    })
