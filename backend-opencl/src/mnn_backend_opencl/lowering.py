"""Lowering of IR nodes into OpenCL kernel launches; every geometry is resolved here, once per plan.

`lower(node, env)` returns `Launch`es (kernel name, arguments, global size), `Alias`es (reshapes share
the producer's buffer) or nothing for nodes whose outputs are known at plan time. It raises
`Unsupported(reason)` for what this backend does not run, which is also how claiming works, and
`NeedsValue(name)` when a structural input (axes, scales, pads, ...) is known only at run time: the
executable then specialises its plan on that input's value, read back before the run.

Layout ops are lowered through the reference kernel itself: applied at plan time to the positions
1..n of the data input, it yields an index map (0 = fill) that one gather kernel replays on the device.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from math import isclose, prod
from typing import Any, Callable, Mapping, Optional

import numpy as np

from mnn_core.dtypes import DType
from mnn_core.ir import Node, TensorType
from mnn_core.ops.fused import FUSABLE
from mnn_core.ops.nn import _conv_transpose_geometry, _geometry, _resize_matrix, _resize_plan
from mnn_core.reference import run_node


class Unsupported(Exception):
    """The node cannot run on the OpenCL backend; the message says why."""


class NeedsValue(Unsupported):
    """A structural input is known only at run time; `name` says which."""

    def __init__(self, name: str, what: str) -> None:
        super().__init__(f"{what} ({name!r}) must be known at plan time")
        self.name = name


@dataclass
class Launch:
    kernel: str
    args: list  # ("t", tensor) | ("c", constant) | ("m", raw int32 ndarray) | ("i"|"l", int) | ("f", float)
    grid: tuple
    node: Optional[Node] = None
    tunable: bool = True
    temps: dict = field(default_factory=dict)  # launch-private tensors: name -> (shape, dtype)


@dataclass
class Alias:
    src: str
    dst: str


@dataclass
class Env:
    types: Mapping[str, TensorType]
    values: Mapping[str, np.ndarray]
    ops: Any
    half: bool = False

    def type(self, name: str) -> TensorType:
        t = self.types.get(name)
        if t is None or not t.is_static or t.dtype is None:
            raise Unsupported(f"tensor {name!r} has no static type ({t})")
        return t

    def shape(self, name: str) -> tuple:
        return tuple(int(d) for d in self.type(name).shape)

    def dtype(self, name: str) -> DType:
        return self.type(name).dtype

    def value(self, name: str, what: str) -> np.ndarray:
        if name not in self.values:
            raise NeedsValue(name, what)
        return np.asarray(self.values[name])

    def itemsize(self, name: str) -> int:
        dt = self.dtype(name)
        return 2 if (dt is DType.F32 and self.half) else dt.itemsize

    def f32(self, *names: str) -> None:
        for name in names:
            if name and self.dtype(name) is not DType.F32:
                raise Unsupported(f"{name!r} is {self.dtype(name)}; this kernel takes f32")


def T(name: str):
    return ("t", name)


def meta(ints) -> tuple:
    return ("m", np.asarray(ints, np.int32).reshape(-1))


def opt(node: Node, i: int) -> Optional[str]:
    return node.inputs[i] if len(node.inputs) > i and node.inputs[i] else None


ACT_CODES = {"": 0, "Relu": 1, "Clip": 2, "LeakyRelu": 3, "HardSigmoid": 4, "HardSwish": 5,
             "Sigmoid": 6, "SiLU": 7, "Tanh": 8}
assert set(ACT_CODES) - {""} == set(FUSABLE), "fused activations changed in mnn_core.ops.fused"


def fused_activation(node: Node) -> tuple[int, list[float]]:
    name = node.attrs.get("activation", "") or ""
    params = [float(p) for p in node.attrs.get("activation_params", ()) or ()]
    if name not in ACT_CODES:
        raise Unsupported(f"fused activation {name!r}")
    if len(params) != (FUSABLE[name][0] if name else 0):
        raise Unsupported(f"fused activation {name} with {len(params)} params")
    params = (params + [0.0, 0.0])[:2]
    return ACT_CODES[name], params


def strides_of(shape) -> list[int]:
    out, acc = [], 1
    for d in reversed(shape):
        out.append(acc)
        acc *= d
    return out[::-1]


def bcast_strides(shape, target) -> list[int]:
    shape = (1,) * (len(target) - len(shape)) + tuple(shape)
    return [0 if d == 1 else s for d, s in zip(shape, strides_of(shape))]


def bcast_meta(out_shape, *in_shapes) -> tuple:
    """meta for `bcast` in common.cl: dims of size 1 dropped, contiguous neighbours merged."""
    sets = [bcast_strides(s, out_shape) for s in in_shapes] + [[0] * len(out_shape)] * (3 - len(in_shapes))
    dims = [(d, [s[i] for s in sets]) for i, d in enumerate(out_shape) if d != 1] or [(1, [0, 0, 0])]
    merged = [dims[0]]
    for d, ss in dims[1:]:
        pd, pss = merged[-1]
        if all(p == s * d for p, s in zip(pss, ss)):
            merged[-1] = (pd * d, ss)
        else:
            merged.append((d, ss))
    ints = [len(merged), *[d for d, _ in merged]]
    for k in range(3):
        ints += [ss[k] for _, ss in merged]
    return meta(ints)


# ---- elementwise -------------------------------------------------------------------------------
UNARY = {"Identity": "identity", "Relu": "relu", "Abs": "abs", "Neg": "neg", "Exp": "exp", "Log": "log",
         "Sqrt": "sqrt", "Reciprocal": "reciprocal", "Floor": "floor", "Ceil": "ceil", "Round": "round",
         "Sign": "sign", "Sigmoid": "sigmoid", "Tanh": "tanh", "Erf": "erf", "Sin": "sin", "Cos": "cos",
         "Tan": "tan", "Asin": "asin", "Acos": "acos", "Atan": "atan", "Sinh": "sinh", "Cosh": "cosh",
         "Asinh": "asinh", "Acosh": "acosh", "Atanh": "atanh", "Softplus": "softplus",
         "Softsign": "softsign", "Mish": "mish", "HardSwish": "hard_swish"}
# op -> (kernel, attribute defaults for a and b)
UNARY_ATTRS = {"LeakyRelu": ("leaky_relu", ("alpha", 0.01), None), "Elu": ("elu", ("alpha", 1.0), None),
               "Selu": ("selu", ("alpha", 1.67326319217681884765625), ("gamma", 1.05070102214813232421875)),
               "Celu": ("celu", ("alpha", 1.0), None), "ThresholdedRelu": ("thresholded_relu", ("alpha", 1.0), None),
               "HardSigmoid": ("hard_sigmoid", ("alpha", 0.2), ("beta", 0.5)),
               "Shrink": ("shrink", ("lambd", 0.5), ("bias", 0.0))}
BINARY = {"Add": "add", "Sub": "sub", "Mul": "mul", "Div": "div", "Pow": "pow", "Max": "max", "Min": "min",
          "PRelu": "prelu", "Mod": "mod"}
COMPARE = {"Equal": "equal", "Less": "less", "Greater": "greater", "LessOrEqual": "less_equal",
           "GreaterOrEqual": "greater_equal"}
LOGIC = {"And": "logic_and", "Or": "logic_or", "Xor": "logic_xor"}
INT_SUFFIX = {DType.I32: "i32", DType.I64: "i64"}


def unary(x, y, kernel, n, a=0.0, b=0.0, node=None) -> Launch:
    return Launch(f"unary_{kernel}", [T(x), T(y), ("i", n), ("f", a), ("f", b)], (n,), node)


def lower_unary(node: Node, env: Env) -> list:
    x, y = node.inputs[0], node.outputs[0]
    env.f32(x, y)
    n = prod(env.shape(x))
    if node.op in UNARY:
        return [unary(x, y, UNARY[node.op], n, node=node)]
    if node.op == "Gelu":
        kind = node.attrs.get("approximate", "none")
        return [unary(x, y, "gelu" if kind == "none" else "gelu_tanh", n, node=node)]
    kernel, pa, pb = UNARY_ATTRS[node.op]
    a = float(node.attrs.get(pa[0], pa[1]) if node.attrs.get(pa[0]) is not None else pa[1])
    b = float(node.attrs.get(pb[0], pb[1]) if pb and node.attrs.get(pb[0]) is not None else (pb[1] if pb else 0))
    return [unary(x, y, kernel, n, a, b, node)]


def lower_clip(node: Node, env: Env) -> list:
    x, y = node.inputs[0], node.outputs[0]
    env.f32(x, y)
    bounds = []
    for i, default in ((1, -np.inf), (2, np.inf)):
        name = opt(node, i)
        bounds.append(float(env.value(name, "Clip bound").reshape(-1)[0]) if name else default)
    lo, hi = bounds
    if lo > hi:  # ONNX: min > max gives max everywhere
        lo = hi
    return [unary(x, y, "clip", prod(env.shape(x)), lo, hi, node)]


def lower_binary(node: Node, env: Env) -> list:
    inputs = [n for n in node.inputs]
    y = node.outputs[0]
    if node.op in ("Sum", "Mean") or (node.op in ("Max", "Min") and len(inputs) != 2):
        return lower_variadic(node, env)
    if len(inputs) != 2 or not all(inputs):
        raise Unsupported(f"{node.op} with {len(inputs)} inputs")
    a, b = inputs
    ys = env.shape(y)
    grid = (prod(ys),)
    tensors = [T(a), T(b), T(y), bcast_meta(ys, env.shape(a), env.shape(b)), ("i", prod(ys))]
    da, db = env.dtype(a), env.dtype(b)
    if node.op == "Pow" and da is not db:
        names = {DType.F32: "f", DType.I32: "i32", DType.I64: "i64"}
        if da not in names or db not in names:
            raise Unsupported(f"Pow of {da} and {db}")
        return [Launch(f"pow_{names[da]}_{names[db]}", tensors, grid, node)]
    if da is not db:
        raise Unsupported(f"{node.op} of {da} and {db}")
    if node.op in LOGIC:
        if da is not DType.BOOL:
            raise Unsupported(f"{node.op} on {da}")
        return [Launch(LOGIC[node.op], tensors, grid, node)]
    if node.op in COMPARE:
        if da is DType.F32:
            return [Launch(f"compare_{COMPARE[node.op]}", tensors, grid, node)]
        suffix = INT_SUFFIX.get(da) or ("bool" if da is DType.BOOL and node.op == "Equal" else None)
        if suffix is None:
            raise Unsupported(f"{node.op} on {da}")
        return [Launch(f"{COMPARE[node.op]}_{suffix}", tensors, grid, node)]
    if node.op == "Mod" and da is DType.F32 and not node.attrs.get("fmod", 0):
        return [Launch("binary_mod", tensors, grid, node)]
    if node.op == "Mod" and da in INT_SUFFIX:
        return [Launch(f"{'fmod' if node.attrs.get('fmod', 0) else 'mod'}_{INT_SUFFIX[da]}", tensors, grid, node)]
    if node.op == "Mod":
        if da is not DType.F32:
            raise Unsupported(f"Mod on {da}")
        return [Launch("binary_fmod", tensors, grid, node)]
    if da in INT_SUFFIX and node.op in ("Add", "Sub", "Mul", "Max", "Min", "Div", "Pow"):
        return [Launch(f"{BINARY[node.op]}_{INT_SUFFIX[da]}", tensors, grid, node)]
    env.f32(a, b, y)
    return [Launch(f"binary_{BINARY[node.op]}", tensors, grid, node)]


def lower_variadic(node: Node, env: Env) -> list:
    """Sum/Mean/Max/Min of 1 or 3+ inputs: a chain of binary launches through temporaries."""
    y = node.outputs[0]
    env.f32(*node.inputs, y)
    ys, n = env.shape(y), prod(env.shape(y))
    kernel = "binary_" + BINARY[{"Sum": "Add", "Mean": "Add", "Max": "Max", "Min": "Min"}[node.op]]
    if len(node.inputs) == 1:
        steps = [unary(node.inputs[0], y, "identity", n, node=node)]
    else:
        steps, acc, acc_shape = [], node.inputs[0], env.shape(node.inputs[0])
        for i, name in enumerate(node.inputs[1:]):
            last = i == len(node.inputs) - 2
            shape = ys if last else tuple(np.broadcast_shapes(acc_shape, env.shape(name)))
            out = y if last else f"{y}::acc{i}"
            launch = Launch(kernel, [T(acc), T(name), T(out), bcast_meta(shape, acc_shape, env.shape(name)),
                                     ("i", prod(shape))], (prod(shape),), node)
            if not last:
                launch.temps = {out: (shape, DType.F32)}
            steps.append(launch)
            acc, acc_shape = out, shape
    if node.op == "Mean":
        scale = ("c", np.full((), 1.0 / len(node.inputs), np.float32))
        steps.append(Launch("binary_mul", [T(y), scale, T(y), bcast_meta(ys, ys, ()), ("i", n)], (n,), node))
    return steps


def lower_not(node: Node, env: Env) -> list:
    x, y = node.inputs[0], node.outputs[0]
    if env.dtype(x) is not DType.BOOL:
        raise Unsupported("Not of a non-bool")
    n = prod(env.shape(x))
    return [Launch("logic_not", [T(x), T(y), ("i", n)], (n,), node)]


def lower_where(node: Node, env: Env) -> list:
    c, a, b = node.inputs
    y = node.outputs[0]
    if env.dtype(c) is not DType.BOOL or env.dtype(a) is not env.dtype(b):
        raise Unsupported("Where needs a bool condition and operands of one dtype")
    ys = env.shape(y)
    return [Launch(f"where_{env.itemsize(y)}", [T(c), T(a), T(b), T(y),
                                                bcast_meta(ys, env.shape(c), env.shape(a), env.shape(b)),
                                                ("i", prod(ys))], (prod(ys),), node)]


CAST_KERNELS = {(DType.F32, DType.I32): "cast_f_i32", (DType.F32, DType.I64): "cast_f_i64",
                (DType.F32, DType.BOOL): "cast_f_bool", (DType.I32, DType.F32): "cast_i32_f",
                (DType.I64, DType.F32): "cast_i64_f", (DType.BOOL, DType.F32): "cast_bool_f"}


def lower_cast(node: Node, env: Env) -> list:
    x, y = node.inputs[0], node.outputs[0]
    src, dst = env.dtype(x), env.dtype(y)
    if src is dst:
        return [Alias(x, y)]
    kernel = CAST_KERNELS.get((src, dst))
    if kernel is None:
        raise Unsupported(f"Cast from {src} to {dst}")
    n = prod(env.shape(x))
    return [Launch(kernel, [T(x), T(y), ("i", n)], (n,), node)]


# ---- layout ops through index maps ---------------------------------------------------------------
def index_map(node: Node, env: Env, data: int = 0, others_zero: bool = False, fill_inputs=()) -> np.ndarray:
    """Apply the reference kernel of `node` to the positions 1..n of input `data`; returns for each
    element of the first output the source position, or -1 where the op fills."""
    inputs = []
    for i, name in enumerate(node.inputs):
        if not name:
            inputs.append(None)
        elif i == data:
            inputs.append(np.arange(1, prod(env.shape(name)) + 1, dtype=np.float64).reshape(env.shape(name)))
        elif others_zero and env.dtype(name) is env.dtype(node.inputs[data]):
            inputs.append(np.zeros(env.shape(name), np.float64))
        elif i in fill_inputs:
            inputs.append(np.zeros(env.shape(name), np.float64))
        else:
            inputs.append(env.value(name, f"{node.op} input"))
    plain = Node(node.op, list(node.inputs), list(node.outputs), dict(node.attrs), name=node.name)
    outs = run_node(plain, inputs, env.ops)
    return [np.asarray(o).astype(np.int64) - 1 for o in outs]


def fill_bits(value: float, name: str, env: Env) -> int:
    dt = env.dtype(name)
    if dt is DType.F32:
        return int(np.array([value], np.float16 if env.half else np.float32).view(np.uint16 if env.half else np.uint32)[0])
    return int(np.array([value]).astype(dt.numpy).view({1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.int64}[dt.itemsize])[0])


def gather_map(x, y, mapping: np.ndarray, env: Env, node, fill: int = 0, mode: int = 0,
               itemsize: Optional[int] = None) -> Launch:
    n = int(mapping.size)
    if n >= 2**31 - 1:
        raise Unsupported("tensor too large for an index map")
    return Launch(f"gather_map_{itemsize or env.itemsize(y)}", [T(x), T(y), meta(mapping), ("i", n), ("l", fill), ("i", mode)],
                  (n,), node)


def check_map_dtypes(node: Node, env: Env, data: int = 0) -> None:
    dt = env.dtype(node.inputs[data])
    if dt.itemsize not in (1, 2, 4, 8) or dt is DType.STRING:
        raise Unsupported(f"{node.op} on {dt}")
    for out in node.outputs:
        if out and env.dtype(out) is not dt:
            raise Unsupported(f"{node.op} changes the dtype")


def lower_mapped(node: Node, env: Env) -> list:
    """Single-data-input layout ops: y[i] = x[map[i]] (or a fill value)."""
    check_map_dtypes(node, env)
    fill, fills = 0.0, ()
    if node.op == "Pad":
        cv = opt(node, 2)
        fill = float(env.value(cv, "Pad value").reshape(-1)[0]) if cv else 0.0
        fills = (2,)
    if node.op == "Resize":
        if node.attrs.get("mode", "nearest") != "nearest":
            return lower_resize(node, env)
        if node.attrs.get("coordinate_transformation_mode") == "tf_crop_and_resize":
            fill = float(node.attrs.get("extrapolation_value", 0.0))
    maps = index_map(node, env, fill_inputs=fills)
    lops = []
    for out, mapping in zip(node.outputs, maps):
        if out:
            if mapping.shape != env.shape(out):
                raise Unsupported("index map shape disagrees with the inferred type")
            lops.append(gather_map(node.inputs[0], out, mapping.reshape(-1), env, node, fill_bits(fill, out, env)))
    return lops


def lower_resize(node: Node, env: Env) -> list:
    """Linear / cubic Resize: one `resample_axis` pass per resized axis, with tap tables built here
    from the reference's own per-axis weight matrices (so every coordinate mode, exclude_outside and
    antialias agree with it by construction)."""
    x, y = node.inputs[0], node.outputs[0]
    env.f32(x, y)
    attrs = env.ops.get("Resize").resolve_attrs(node)
    xs = env.shape(x)
    roi, scales, sizes = (opt(node, i) for i in (1, 2, 3))
    scales = env.value(scales, "Resize scales") if scales and not sizes else None
    sizes = env.value(sizes, "Resize sizes") if sizes else None
    out, factors, axes = _resize_plan(xs, attrs, scales, sizes)
    if tuple(out) != env.shape(y):
        raise Unsupported("Resize output shape disagrees with the inferred type")
    starts, ends = {}, {}
    values = env.value(roi, "Resize roi").astype(np.float64).reshape(-1) if roi else np.zeros(0)
    if values.size:
        k = len(values) // 2
        where = axes if k == len(axes) else range(len(xs))
        starts, ends = dict(zip(where, values[:k])), dict(zip(where, values[k:]))
    passes = []
    for axis in axes:
        axis_roi = (starts.get(axis, 0.0), ends.get(axis, 1.0))
        if isclose(factors[axis], 1.0) and out[axis] == xs[axis] and np.allclose(axis_roi, (0.0, 1.0)):
            continue  # the reference leaves such axes untouched
        weights, extrapolated = _resize_matrix(attrs, out[axis], xs[axis], factors[axis], axis_roi)
        passes.append((axis, weights, extrapolated))
    if not passes:
        return [unary(x, y, "identity", prod(xs), node=node)]
    lops, src, shape = [], x, list(xs)
    fill = float(attrs["extrapolation_value"])
    for step, (axis, weights, extrapolated) in enumerate(passes):
        n_out, n_in = weights.shape
        taps = max(1, int((weights != 0).sum(axis=1).max()))
        idx = np.zeros((n_out, taps), np.int32)
        wts = np.zeros((n_out, taps + 1), np.float32)
        for j, row in enumerate(weights):
            cols = np.flatnonzero(row)
            idx[j, :len(cols)], wts[j, :len(cols)] = cols, row[cols]
        if extrapolated is not None:
            wts[extrapolated] = 0.0
            wts[extrapolated, taps] = fill
        outer, inner = prod(shape[:axis]), prod(shape[axis + 1:])
        shape[axis] = n_out
        dst = y if step == len(passes) - 1 else f"{y}::resize{step}"
        lop = Launch("resample_axis", [T(src), T(dst), meta(np.concatenate([idx.reshape(-1), wts.reshape(-1).view(np.int32)])),
                                       ("i", outer), ("i", n_in), ("i", n_out), ("i", inner), ("i", taps)],
                     (outer * n_out * inner,), node)
        if dst != y:
            lop.temps = {dst: (tuple(shape), DType.F32)}
        lops.append(lop)
        src = dst
    return lops


GRID_MODES = {"nearest": 0, "linear": 1, "bilinear": 1, "cubic": 2, "bicubic": 2}
GRID_PADDING = {"zeros": 0, "border": 1, "reflection": 2}


def lower_grid_sample(node: Node, env: Env) -> list:
    x, grid = node.inputs
    y = node.outputs[0]
    env.f32(x, grid, y)
    attrs = env.ops.get("GridSample").resolve_attrs(node)
    xs, gs = env.shape(x), env.shape(grid)
    nsp = len(xs) - 2
    if nsp not in (2, 3) or gs[-1] != nsp or len(gs) != nsp + 2 or gs[0] != xs[0]:
        raise Unsupported(f"GridSample of input {xs} with grid {gs}")
    if attrs["mode"] not in GRID_MODES or attrs["padding_mode"] not in GRID_PADDING:
        raise Unsupported(f"GridSample mode {attrs['mode']} / padding {attrs['padding_mode']}")
    if attrs["mode"] in ("cubic", "bicubic") and nsp != 2:
        raise Unsupported("bicubic GridSample is 2-D only")
    spatial = [1] * (3 - nsp) + list(xs[2:])
    P = prod(gs[1:-1])
    ints = [xs[0], xs[1], *spatial, P, nsp, GRID_MODES[attrs["mode"]], GRID_PADDING[attrs["padding_mode"]],
            int(bool(attrs["align_corners"]))]
    return [Launch("grid_sample", [T(x), T(grid), T(y), meta(ints)], (P, xs[0]), node)]


def lower_concat(node: Node, env: Env) -> list:
    y = node.outputs[0]
    check_map_dtypes(node, env)
    lops = []
    for k, name in enumerate(node.inputs):
        if prod(env.shape(name)) == 0:
            continue
        inputs = [np.arange(1, prod(env.shape(n)) + 1, dtype=np.float64).reshape(env.shape(n)) if i == k
                  else np.zeros(env.shape(n), np.float64) for i, n in enumerate(node.inputs)]
        plain = Node(node.op, list(node.inputs), [y], dict(node.attrs))
        mapping = np.asarray(run_node(plain, inputs, env.ops)[0]).astype(np.int64) - 1
        lops.append(gather_map(name, y, mapping.reshape(-1), env, node, mode=1))
    return lops


def lower_gather(node: Node, env: Env) -> list:
    data, idx = node.inputs
    y = node.outputs[0]
    if idx in env.values:
        return lower_mapped(node, env)
    check_map_dtypes(node, env)
    if env.dtype(idx) not in INT_SUFFIX:
        raise Unsupported("Gather indices must be int32 or int64")
    ds = env.shape(data)
    axis = int(node.attrs.get("axis", 0)) % len(ds)
    count, outer, inner = prod(env.shape(idx)), prod(ds[:axis]), prod(ds[axis + 1:])
    n = outer * count * inner
    return [Launch(f"gather_{env.itemsize(y)}_{INT_SUFFIX[env.dtype(idx)]}",
                   [T(data), T(idx), T(y), ("i", outer), ("i", ds[axis]), ("i", inner), ("i", count)], (n,), node)]


def fill(y: str, value: float, env: Env, node: Node) -> Launch:
    """y = value everywhere: an index map of nothing but fills."""
    return gather_map(y, y, np.full(prod(env.shape(y)), -1, np.int64), env, node, fill_bits(value, y, env))


def lower_constant_fill(node: Node, env: Env) -> list:
    """ConstantOfShape / Size whose shape input is fed at run time: the output type says it all."""
    y = node.outputs[0]
    if node.op == "Size":
        value = float(prod(env.shape(node.inputs[0])))
    else:
        v = node.attrs.get("value")
        value = float(np.asarray(v).reshape(-1)[0]) if v is not None else 0.0
    return [fill(y, value, env, node)]


def lower_alias(node: Node, env: Env) -> list:
    extra = []
    if node.op == "Dropout":
        if opt(node, 2) and bool(env.value(node.inputs[2], "Dropout training_mode").reshape(-1)[0]):
            raise Unsupported("Dropout in training mode")
        if len(node.outputs) > 1 and node.outputs[1]:  # inference: the mask keeps everything
            extra.append(fill(node.outputs[1], 1.0, env, node))
    x, y = node.inputs[0], node.outputs[0]
    if prod(env.shape(x)) != prod(env.shape(y)) or env.dtype(x) is not env.dtype(y):
        raise Unsupported("reshape changes the element count or dtype")
    return [Alias(x, y), *extra]


# ---- nn ----------------------------------------------------------------------------------------
def _conv_common(node: Node, env: Env, transpose: bool):
    x, w = node.inputs[0], node.inputs[1]
    b = opt(node, 2)
    y = node.outputs[0]
    env.f32(x, w, b, y)
    xs, ws, ys = env.shape(x), env.shape(w), env.shape(y)
    if len(xs) not in (3, 4, 5):
        raise Unsupported(f"{node.op} of rank {len(xs)}; 1-D, 2-D and 3-D are supported")
    kernel = list(ws[2:])
    group = int(node.attrs.get("group", 1))
    n = len(kernel)
    attrs = {k: node.attrs.get(k) for k in ("auto_pad", "strides", "dilations", "pads", "output_padding", "output_shape")}
    attrs["auto_pad"] = attrs["auto_pad"] or "NOTSET"
    strides = [int(s) for s in (attrs["strides"] or [1] * n)]
    dilations = [int(d) for d in (attrs["dilations"] or [1] * n)]
    if transpose:
        begins, _ = _conv_transpose_geometry(attrs, xs[2:], kernel)
        M = ws[1] * group
    else:
        begins, _, _ = _geometry(attrs, xs[2:], kernel)
        M = ws[0]
    if n == 3:
        if xs[1] % group or M % group or ys[1] != M:
            raise Unsupported("channels do not match the group count")
        act, params = fused_activation(node)
        ints = [xs[0], xs[1], *xs[2:], M, *ys[2:], *kernel, *strides, *dilations, *begins, group, act, int(b is not None)]
        return [Launch("conv3d", [T(x), T(w), T(b or x), T(y), meta(ints), ("f", params[0]), ("f", params[1]),
                                  ("i", int(transpose))], (prod(ys[2:]), M, xs[0]), node)]
    if n == 1:
        xs, ys = (*xs[:2], 1, xs[2]), (*ys[:2], 1, ys[2])
        kernel, strides, dilations, begins = [1, kernel[0]], [1, strides[0]], [1, dilations[0]], [0, begins[0]]
    N, C, H, W = xs
    if C % group or M % group or ys[1] != M:
        raise Unsupported("channels do not match the group count")
    act, params = fused_activation(node)
    ints = [N, C, H, W, M, ys[2], ys[3], kernel[0], kernel[1], strides[0], strides[1], dilations[0],
            dilations[1], begins[0], begins[1], group, act, int(b is not None)]
    kname = "conv_transpose2d" if transpose else "conv2d"
    return [Launch(kname, [T(x), T(w), T(b or x), T(y), meta(ints), ("f", params[0]), ("f", params[1])],
                   (ys[2] * ys[3], M, N), node)]


def lower_conv(node, env):
    return _conv_common(node, env, False)


def lower_conv_transpose(node, env):
    return _conv_common(node, env, True)


def matmul_launch(node, a, b, c, y, a_shape, b_shape, c_shape, y_shape, trans_a=False, trans_b=False,
                  alpha=1.0, beta=1.0, act=0, params=(0.0, 0.0)) -> Launch:
    batch_a, batch_b = a_shape[:-2], b_shape[:-2]
    M, K = (a_shape[-1], a_shape[-2]) if trans_a else (a_shape[-2], a_shape[-1])
    K2, N = (b_shape[-1], b_shape[-2]) if trans_b else (b_shape[-2], b_shape[-1])
    if K != K2:
        raise Unsupported(f"inner dims differ: {a_shape} x {b_shape}")
    try:
        batch = tuple(np.broadcast_shapes(tuple(batch_a), tuple(batch_b)))
    except ValueError:
        raise Unsupported("batch dims do not broadcast") from None
    if tuple(y_shape) != (*batch, M, N):
        raise Unsupported(f"output shape {y_shape} is not {(*batch, M, N)}")
    a_rs, a_cs = (1, a_shape[-1]) if trans_a else (a_shape[-1], 1)
    b_rs, b_cs = (1, b_shape[-1]) if trans_b else (b_shape[-1], 1)
    sa = bcast_strides(tuple(batch_a) + (1, 1), batch + (1, 1))[:-2]
    sb = bcast_strides(tuple(batch_b) + (1, 1), batch + (1, 1))[:-2]
    sa = [s * M * K for s in sa]
    sb = [s * K * N for s in sb]
    c_rs = c_cs = 0
    if c is not None:
        cs = (1,) * (2 - len(c_shape)) + tuple(c_shape)
        c_rs = 0 if cs[0] == 1 else cs[1]
        c_cs = 0 if cs[1] == 1 else 1
    offsets = []
    for index in np.ndindex(*batch) if batch else [()]:
        offsets += [sum(i * s for i, s in zip(index, sa)), sum(i * s for i, s in zip(index, sb)), 0]
    ints = [M, N, K, a_rs, a_cs, b_rs, b_cs, c_rs, c_cs, act, int(c is not None), *offsets]
    nb = max(1, prod(batch))
    return Launch("matmul", [T(a), T(b), T(c or a), T(y), meta(ints), ("f", alpha), ("f", beta),
                             ("f", params[0]), ("f", params[1])], ((N + 3) // 4, M, nb), node)


def lower_matmul(node: Node, env: Env) -> list:
    a, b = node.inputs
    y = node.outputs[0]
    env.f32(a, b, y)
    a_shape, b_shape, y_shape = env.shape(a), env.shape(b), env.shape(y)
    # 1-D operands are a row (A) or a column (B) whose unit dim the output drops: same memory layout
    if len(a_shape) == 1:
        a_shape, y_shape = (1, *a_shape), (*y_shape[:-1], 1, y_shape[-1]) if len(b_shape) > 1 else (1, *y_shape)
    if len(b_shape) == 1:
        b_shape, y_shape = (*b_shape, 1), (*y_shape, 1)
    act, params = fused_activation(node)
    return [matmul_launch(node, a, b, None, y, a_shape, b_shape, None, y_shape, act=act, params=params)]


def lower_gemm(node: Node, env: Env) -> list:
    a, b = node.inputs[:2]
    c = opt(node, 2)
    y = node.outputs[0]
    env.f32(a, b, c, y)
    beta = float(node.attrs.get("beta", 1.0))
    if c is not None and len(env.shape(c)) > 2:
        raise Unsupported("Gemm C of rank > 2")
    act, params = fused_activation(node)
    return [matmul_launch(node, a, b, c if beta != 0.0 else None, y, env.shape(a), env.shape(b),
                          env.shape(c) if c else None, env.shape(y),
                          bool(node.attrs.get("transA", 0)), bool(node.attrs.get("transB", 0)),
                          float(node.attrs.get("alpha", 1.0)), beta, act, params)]


def lower_pool(node: Node, env: Env) -> list:
    x, y = node.inputs[0], node.outputs[0]
    env.f32(x, y)
    indices = node.outputs[1] if node.op == "MaxPool" and len(node.outputs) > 1 and node.outputs[1] else None
    xs, ys = env.shape(x), env.shape(y)
    n = len(xs) - 2
    if not 1 <= n <= 3:
        raise Unsupported(f"{n}-D pooling")
    kernel = [int(k) for k in node.attrs["kernel_shape"]]
    attrs = {"auto_pad": node.attrs.get("auto_pad") or "NOTSET", "strides": node.attrs.get("strides"),
             "dilations": node.attrs.get("dilations"), "pads": node.attrs.get("pads")}
    begins, ends, out = _geometry(attrs, xs[2:], kernel, bool(node.attrs.get("ceil_mode", 0)))
    if tuple(ys[2:]) != tuple(out):
        raise Unsupported("output shape disagrees with the pool geometry")
    strides = [int(s) for s in (attrs["strides"] or [1] * n)]
    dilations = [int(d) for d in (attrs["dilations"] or [1] * n)]
    pad = lambda v, fill: [fill] * (3 - n) + list(v)
    ints = [xs[0] * xs[1], *pad(xs[2:], 1), *pad(out, 1), *pad(kernel, 1), *pad(strides, 1),
            *pad(dilations, 1), *pad(begins, 0), *pad(ends, 0), int(node.op == "MaxPool"),
            int(node.attrs.get("count_include_pad", 0)), int(indices is not None),
            int(bool(node.attrs.get("storage_order", 0)))]
    return [Launch("pool", [T(x), T(y), T(indices or y), meta(ints)], (prod(out), xs[0] * xs[1]), node)]


REDUCE_KINDS = {"ReduceSum": 0, "ReduceMean": 1, "ReduceMax": 2, "ReduceMin": 3, "ReduceProd": 4,
                "ReduceL1": 5, "ReduceL2": 6, "ReduceLogSum": 7, "ReduceLogSumExp": 8, "ReduceSumSquare": 9,
                "GlobalAveragePool": 1, "GlobalMaxPool": 2}


def _reduce_axes(node: Node, env: Env, xs) -> Optional[list]:
    if node.op.startswith("Global"):
        return list(range(2, len(xs)))
    name = opt(node, 1)
    axes = node.attrs.get("axes")
    if name:
        axes = env.value(name, "axes").reshape(-1)
    if axes is None or len(axes) == 0:
        return None if node.attrs.get("noop_with_empty_axes", 0) else list(range(len(xs)))
    return sorted({int(a) % len(xs) for a in axes})


def _to_reduce_view(node, env, x, xs, axes, lops):
    """Move the reduced axes to the back (a transpose when they are not adjacent): (outer, n, inner)."""
    if axes == list(range(axes[0], axes[-1] + 1)):
        return x, prod(xs[:axes[0]]), prod(xs[axes[0]:axes[-1] + 1]), prod(xs[axes[-1] + 1:])
    keep = [i for i in range(len(xs)) if i not in axes]
    perm = keep + axes
    tmp = f"{node.outputs[0]}::perm"
    mapping = np.arange(prod(xs)).reshape(xs).transpose(perm).reshape(-1)
    lop = gather_map(x, tmp, mapping, env, node, itemsize=env.itemsize(x))
    lop.temps = {tmp: (tuple(xs[p] for p in perm), env.dtype(x))}
    lops.append(lop)
    return tmp, prod(xs[i] for i in keep), prod(xs[i] for i in axes), 1


def lower_reduce(node: Node, env: Env) -> list:
    x, y = node.inputs[0], node.outputs[0]
    env.f32(x, y)
    xs = env.shape(x)
    axes = _reduce_axes(node, env, xs)
    if axes is None or not xs:
        n = prod(xs)
        return [unary(x, y, "identity", n, node=node)] if node.op in ("ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd") else _reduce_noop(node, env)
    if any(xs[a] == 0 for a in axes):  # every output is the reduction's identity: ask the reference
        value = run_node(Node(node.op, [x], [y], dict(node.attrs)), [np.zeros(xs, np.float32)], env.ops)[0]
        return [fill(y, float(np.asarray(value).reshape(-1)[0]), env, node)]
    lops: list = []
    src, outer, n, inner = _to_reduce_view(node, env, x, xs, axes, lops)
    lops.append(Launch("reduce", [T(src), T(y), ("i", outer), ("i", n), ("i", inner), ("i", REDUCE_KINDS[node.op])],
                       (outer * inner,), node))
    return lops


def _reduce_noop(node, env):
    raise Unsupported(f"{node.op} with empty axes and noop_with_empty_axes")


def lower_arg(node: Node, env: Env) -> list:
    x, y = node.inputs[0], node.outputs[0]
    env.f32(x)
    xs = env.shape(x)
    axis = int(node.attrs.get("axis", 0)) % len(xs)
    outer, n, inner = prod(xs[:axis]), xs[axis], prod(xs[axis + 1:])
    return [Launch("arg_reduce", [T(x), T(y), ("i", outer), ("i", n), ("i", inner), ("i", int(node.op == "ArgMin")),
                                  ("i", int(node.attrs.get("select_last_index", 0)))], (outer * inner,), node)]


def lower_softmax(node: Node, env: Env) -> list:
    x, y = node.inputs[0], node.outputs[0]
    env.f32(x, y)
    xs = env.shape(x)
    axis = int(node.attrs.get("axis", -1)) % len(xs)
    outer, n, inner = prod(xs[:axis]), xs[axis], prod(xs[axis + 1:])
    return [Launch("softmax", [T(x), T(y), ("i", outer), ("i", n), ("i", inner), ("i", int(node.op == "LogSoftmax"))],
                   (outer * inner,), node)]


def _norm_launch(node, env, x, scale, bias, rows, n, R, Q, S, eps, rms=False, stats=()):
    y = node.outputs[0]
    mean_out = stats[0] if len(stats) > 0 and stats[0] else None
    istd_out = stats[1] if len(stats) > 1 and stats[1] else None
    flags = (1 if scale else 0) | (2 if bias else 0) | (4 if mean_out else 0) | (8 if istd_out else 0) | (16 if rms else 0)
    return Launch("norm_rows", [T(x), T(scale or x), T(bias or x), T(y), T(mean_out or y), T(istd_out or y),
                                ("i", rows), ("i", n), ("i", R), ("i", Q), ("i", S), ("f", eps), ("i", flags)],
                  (rows,), node)


def _param_shape_ok(env, name, shape) -> None:
    if name is None:
        return
    s = env.shape(name)
    while s and s[0] == 1 and len(s) > len(shape):
        s = s[1:]
    if tuple(s) != tuple(shape):
        raise Unsupported(f"scale/bias of shape {env.shape(name)} for normalized shape {shape}")


def lower_layernorm(node: Node, env: Env) -> list:
    x = node.inputs[0]
    env.f32(x, *node.outputs)
    xs = env.shape(x)
    axis = int(node.attrs.get("axis", -1)) % len(xs)
    scale, bias = opt(node, 1), opt(node, 2)
    for p in (scale, bias):
        _param_shape_ok(env, p, xs[axis:])
    return [_norm_launch(node, env, x, scale, bias, prod(xs[:axis]), prod(xs[axis:]), 1, 0, 1,
                         float(node.attrs.get("epsilon", 1e-5)), node.op == "RMSNormalization", node.outputs[1:])]


def lower_instancenorm(node: Node, env: Env) -> list:
    x, scale, bias = node.inputs
    env.f32(x, scale, bias, node.outputs[0])
    xs = env.shape(x)
    C, S = xs[1], prod(xs[2:])
    return [_norm_launch(node, env, x, scale, bias, xs[0] * C, S, C, 1, S, float(node.attrs.get("epsilon", 1e-5)))]


def lower_groupnorm(node: Node, env: Env) -> list:
    x, scale, bias = node.inputs
    env.f32(x, scale, bias, node.outputs[0])
    xs = env.shape(x)
    G, C, S = int(node.attrs["num_groups"]), xs[1], prod(xs[2:])
    if C % G or env.shape(scale) != (C,):
        raise Unsupported("GroupNormalization scale must be per channel")
    return [_norm_launch(node, env, x, scale, bias, xs[0] * G, C // G * S, G, C // G, S,
                         float(node.attrs.get("epsilon", 1e-5)))]


def lower_batchnorm(node: Node, env: Env) -> list:
    if len([o for o in node.outputs if o]) > 1 or node.attrs.get("training_mode", 0):
        raise Unsupported("BatchNormalization in training mode")
    x, scale, bias, mean, var = node.inputs
    y = node.outputs[0]
    env.f32(x, scale, bias, mean, var, y)
    xs = env.shape(x)
    C = xs[1] if len(xs) > 1 else 1
    total = prod(xs)
    return [Launch("batch_norm", [T(x), T(scale), T(bias), T(mean), T(var), T(y), ("i", total), ("i", C),
                                  ("i", prod(xs[2:])), ("f", float(node.attrs.get("epsilon", 1e-5)))], (total,), node)]


def lower_lrn(node: Node, env: Env) -> list:
    x, y = node.inputs[0], node.outputs[0]
    env.f32(x, y)
    xs = env.shape(x)
    total = prod(xs)
    return [Launch("lrn", [T(x), T(y), ("i", total), ("i", xs[1]), ("i", prod(xs[2:])), ("i", int(node.attrs["size"])),
                           ("f", float(node.attrs.get("alpha", 1e-4))), ("f", float(node.attrs.get("beta", 0.75))),
                           ("f", float(node.attrs.get("bias", 1.0)))], (total,), node)]


# ---- ordering, scattering, detection -------------------------------------------------------------
def lower_topk(node: Node, env: Env) -> list:
    x = node.inputs[0]
    values, indices = node.outputs
    dt = env.dtype(x)
    suffix = "f" if dt is DType.F32 else INT_SUFFIX.get(dt)
    if suffix is None or env.dtype(values) is not dt:
        raise Unsupported(f"TopK on {dt}")
    xs = env.shape(x)
    axis = int(node.attrs.get("axis", -1)) % len(xs)
    k = env.shape(values)[axis]  # the declared output says k, even when the k input is fed at run time
    if env.dtype(indices) is not DType.I64:
        raise Unsupported("TopK indices must be int64")
    outer, n, inner = prod(xs[:axis]), xs[axis], prod(xs[axis + 1:])
    return [Launch(f"topk_{suffix}", [T(x), T(values), T(indices), ("i", outer), ("i", n), ("i", inner), ("i", k),
                            ("i", int(node.attrs.get("largest", 1)))], (outer * n * inner,), node)]


SCATTER_REDUCTIONS = {"none": 0, "add": 1, "mul": 2, "max": 3, "min": 4}


def lower_scatter_nd(node: Node, env: Env) -> list:
    data, idx, upd = node.inputs
    y = node.outputs[0]
    env.f32(data, upd, y)
    if env.dtype(idx) is not DType.I64:
        raise Unsupported("ScatterND indices must be int64")
    reduction = node.attrs.get("reduction", "none") or "none"
    if reduction not in SCATTER_REDUCTIONS:
        raise Unsupported(f"ScatterND reduction {reduction}")
    ds, ids = env.shape(data), env.shape(idx)
    k = ids[-1]
    slice_ = prod(ds[k:])
    ints = [prod(ids[:-1]), k, slice_, *ds[:k], *strides_of(ds)[:k]]
    return [unary(data, y, "identity", prod(ds), node=node),
            Launch("scatter_nd", [T(idx), T(upd), T(y), meta(ints), ("i", SCATTER_REDUCTIONS[reduction])],
                   (slice_,), node, tunable=False)]


def lower_range(node: Node, env: Env) -> list:
    start, _, delta = node.inputs
    y = node.outputs[0]
    dt = env.dtype(y)
    suffix = "f" if dt is DType.F32 else INT_SUFFIX.get(dt)
    if suffix is None or any(env.dtype(n) is not dt for n in node.inputs):
        raise Unsupported(f"Range of {dt}")
    n = prod(env.shape(y))  # the length comes from the (declared or inferred) output type
    return [Launch(f"range_{suffix}", [T(start), T(delta), T(y), ("i", n)], (n,), node)]


def lower_roi_align(node: Node, env: Env) -> list:
    x, rois, bidx = node.inputs
    y = node.outputs[0]
    env.f32(x, rois, y)
    attrs = env.ops.get("RoiAlign").resolve_attrs(node)
    if env.dtype(bidx) is not DType.I64 or attrs["mode"] not in ("avg", "max"):
        raise Unsupported("RoiAlign needs int64 batch indices and avg/max mode")
    xs, ys = env.shape(x), env.shape(y)
    if len(xs) != 4:
        raise Unsupported("RoiAlign on a non-4-D input")
    ints = [xs[1], xs[2], xs[3], ys[2], ys[3], int(attrs["sampling_ratio"]),
            int(attrs["coordinate_transformation_mode"] == "half_pixel"), int(attrs["mode"] == "max")]
    return [Launch("roi_align", [T(x), T(rois), T(bidx), T(y), meta(ints), ("f", float(attrs["spatial_scale"]))],
                   (ys[2] * ys[3], ys[1], ys[0]), node)]


def lower_nms(node: Node, env: Env) -> list:
    boxes, scores = node.inputs[:2]
    limit, iou, floor = (opt(node, i) for i in (2, 3, 4))
    y = node.outputs[0]
    env.f32(boxes, scores, iou, floor)
    if limit and env.dtype(limit) is not DType.I64:
        raise Unsupported("NonMaxSuppression max_output_boxes_per_class must be int64")
    N, B, _ = env.shape(boxes)
    C = env.shape(scores)[1]
    rows = env.shape(y)[0]  # the selection's size is data-dependent: only a declared type gives it
    state = f"{y}::state"
    ints = [N, B, C, rows, int(node.attrs.get("center_point_box", 0)), int(bool(limit)), int(bool(iou)),
            int(bool(floor))]
    lop = Launch("nms", [T(boxes), T(scores), T(limit or y), T(iou or boxes), T(floor or boxes), T(y), T(state),
                         meta(ints)], (1,), node, tunable=False)
    lop.temps = {state: ((B,), DType.I32)}
    return [lop]


def lower_attention(node: Node, env: Env) -> list:
    """The ONNX Attention op without KV cache: 3-D or 4-D Q/K/V, GQA, mask, causal, windows, softcap."""
    q, k, v = node.inputs[:3]
    mask = opt(node, 3)
    y = node.outputs[0]
    if any(n for n in node.inputs[4:]) or any(n for n in node.outputs[1:]):
        raise Unsupported("Attention with a KV cache, nonpad lengths or extra outputs")
    env.f32(q, k, v, y)
    a = env.ops.get("Attention").resolve_attrs(node)
    qs, ks, vs = env.shape(q), env.shape(k), env.shape(v)
    if len(qs) == 4:
        B, Hq, S, D = qs
        Hkv, L, Dv = ks[1], ks[2], vs[3]
        st = lambda shape: [shape[1] * shape[2] * shape[3], shape[2] * shape[3], shape[3]]
        q_st, k_st, v_st, y_st = st(qs), st(ks), st(vs), st(env.shape(y))
    elif len(qs) == 3:
        Hq, Hkv = int(a["q_num_heads"] or 0), int(a["kv_num_heads"] or 0)
        if not Hq or not Hkv:
            raise Unsupported("3-D Attention without head counts")
        B, S, L = qs[0], qs[1], ks[1]
        D, Dv = qs[2] // Hq, vs[2] // Hkv
        st = lambda shape, heads: [shape[1] * shape[2], shape[2] // heads, shape[2]]
        q_st, k_st, v_st, y_st = st(qs, Hq), st(ks, Hkv), st(vs, Hkv), st(env.shape(y), Hq)
    else:
        raise Unsupported(f"Attention of rank {len(qs)}")
    if Hq % Hkv or Dv > 256:
        raise Unsupported("Attention head counts must divide; value heads up to 256 wide")
    kind, m_st, mlen = "none", [0, 0, 0, 0], L
    if mask:
        dt = env.dtype(mask)
        if dt not in (DType.BOOL, DType.F32):
            raise Unsupported(f"Attention mask of {dt}")
        kind = "bool" if dt is DType.BOOL else "float"
        ms = env.shape(mask)
        if len(ms) > 4:
            raise Unsupported("Attention mask of rank > 4")
        full = (1,) * (4 - len(ms)) + tuple(ms)
        m_st = bcast_strides(full, (B, Hq, S, full[3]))
        mlen = min(full[3], L)
    scale = a["scale"] if a["scale"] is not None else 1 / np.sqrt(D)
    ints = [B, Hq, Hkv, S, L, D, Dv, *q_st, *k_st, *v_st, *y_st, *m_st, mlen, int(a["is_causal"]),
            int(a["left_window_size"]), int(a["right_window_size"])]
    return [Launch(f"attention_{kind}", [T(q), T(k), T(v), T(mask or q), T(y), meta(ints), ("f", float(scale)),
                                         ("f", float(a["softcap"] or 0.0))], (S, Hq, B), node)]


MAPPED = ("Transpose", "Slice", "Expand", "Tile", "Pad", "DepthToSpace", "SpaceToDepth", "Resize", "Upsample",
          "GatherElements", "Split", "Trilu", "ReverseSequence")
LOWERINGS: dict[str, Callable[[Node, Env], list]] = {
    **{op: lower_unary for op in (*UNARY, *UNARY_ATTRS, "Gelu")},
    **{op: lower_binary for op in (*BINARY, *COMPARE, *LOGIC, "Sum", "Mean")},
    "ConstantOfShape": lower_constant_fill, "Size": lower_constant_fill,
    "Clip": lower_clip, "Not": lower_not, "Where": lower_where, "Cast": lower_cast, "CastLike": lower_cast,
    **{op: lower_alias for op in ("Reshape", "Flatten", "Squeeze", "Unsqueeze", "Dropout")},
    **{op: lower_mapped for op in MAPPED}, "Concat": lower_concat, "Gather": lower_gather,
    "Conv": lower_conv, "ConvTranspose": lower_conv_transpose, "MatMul": lower_matmul, "Gemm": lower_gemm,
    "MaxPool": lower_pool, "AveragePool": lower_pool,
    **{op: lower_reduce for op in REDUCE_KINDS}, "ArgMax": lower_arg, "ArgMin": lower_arg,
    "Softmax": lower_softmax, "LogSoftmax": lower_softmax, "LayerNormalization": lower_layernorm,
    "RMSNormalization": lower_layernorm, "InstanceNormalization": lower_instancenorm,
    "TopK": lower_topk, "ScatterND": lower_scatter_nd, "Range": lower_range, "RoiAlign": lower_roi_align,
    "NonMaxSuppression": lower_nms, "Attention": lower_attention, "GroupNormalization": lower_groupnorm, "GridSample": lower_grid_sample, "BatchNormalization": lower_batchnorm, "LRN": lower_lrn,
}
SUPPORTED_DTYPES = {DType.F32, DType.I64, DType.I32, DType.BOOL}


def lower(node: Node, env: Env) -> list:
    """Launches for `node`; nodes whose outputs are all known at plan time lower to nothing."""
    outs = [o for o in node.outputs if o]
    if outs and all(o in env.values for o in outs) and not any(True for _ in node.subgraphs()):
        return []
    if node.domain not in ("", "ai.onnx"):
        raise Unsupported(f"op domain {node.domain!r}")
    fn = LOWERINGS.get(node.op)
    if fn is None:
        raise Unsupported(f"no OpenCL kernel for {node.op}")
    for name in [*outs, *(n for n in node.inputs if n)]:
        t = env.type(name)
        if t.dtype not in SUPPORTED_DTYPES:
            raise Unsupported(f"{name!r} is {t.dtype}; f32, i64, i32 and bool are supported")
    if outs and all(prod(env.shape(name)) == 0 for name in outs):
        return []  # nothing to compute; the plan drops launches over empty ranges
    return fn(node, env)
