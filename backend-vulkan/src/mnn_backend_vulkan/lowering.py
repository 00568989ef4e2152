"""Lowering of IR nodes into shader dispatches. Every geometry is resolved here, once per plan.

`lower(node, b)` appends `Step`s (a shader, the tensors it binds, push constants and a grid size) to
a `Builder`, or raises `Unsupported(reason)`, which is also how the backend decides what to claim.
Tensors on the device are arrays of 32-bit words: float32/int32 one word per element, int64 two,
bool one (0/1); see `words_of`.
"""
from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from math import prod
from typing import Callable, Mapping, Optional, Sequence

import numpy as np

from mnn_core.dtypes import DType
from mnn_core.strides import broadcast_strides, collapse
from mnn_core.strides import contiguous_strides as strides_of
from mnn_core.ir import Node, TensorType
from mnn_core.ops.fused import FUSABLE
from mnn_core.ops.nn import _conv_transpose_geometry, _geometry, _resize_matrix, _resize_plan
from mnn_core.ops.tensor import _slice_args, _slice_bounds

from .elementwise import BINARY, BOOL_UNARY, UNARY


class Unsupported(Exception):
    """The node cannot run on the Vulkan backend; the message says why."""


WORDS = {DType.F32: 1, DType.I32: 1, DType.BOOL: 1, DType.I64: 2}
TYPE_TAG = {DType.F32: "f32", DType.I32: "i32", DType.I64: "i64", DType.BOOL: "bool"}
ACT_CODES = {"": 0, "Relu": 1, "Clip": 2, "LeakyRelu": 3, "HardSigmoid": 4, "HardSwish": 5,
             "Sigmoid": 6, "SiLU": 7, "Tanh": 8}
assert set(ACT_CODES) - {""} == set(FUSABLE), "fused activations changed in mnn_core.ops.fused"
ALIASES = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout"}
MAX_RANK = 6


def words_of(dtype: DType) -> int:
    if dtype not in WORDS:
        raise Unsupported(f"dtype {dtype} is not supported on the device")
    return WORDS[dtype]


def u32(*values: int) -> bytes:
    return struct.pack(f"<{len(values)}I", *[int(v) & 0xFFFFFFFF for v in values])


def f32(*values: float) -> bytes:
    return struct.pack(f"<{len(values)}f", *[float(v) for v in values])


@dataclass
class Step:
    shader: str
    ins: list[Optional[str]]
    """Bound first, in binding order; None binds a dummy buffer (an absent optional operand)."""
    outs: list[Optional[str]]
    push: bytes
    invocations: int
    rows: bool = False
    """One workgroup per row (softmax, norm): `invocations` counts workgroups."""
    node: Optional[Node] = None
    split: Optional[str] = None
    """"flat" when the step may be cut into chunks of elements (elementwise over whole tensors)."""
    modes: tuple = ()


@dataclass
class Builder:
    """Collects the steps of one segment; knows types, plan-time values and device limits."""

    types: Mapping[str, TensorType]
    values: Mapping[str, np.ndarray]
    max_range: int = 1 << 62
    steps: list[Step] = field(default_factory=list)
    consts: dict[str, np.ndarray] = field(default_factory=dict)
    """Arrays made by lowering (tables, reshaped weights), by name; words as uint32/int32/float32."""
    temps: dict[str, int] = field(default_factory=dict)
    """Scratch tensors: name -> bytes."""
    aliases: dict[str, str] = field(default_factory=dict)
    const_nodes: list[str] = field(default_factory=list)
    low_precision: bool = False

    # ---- queries ----
    def __post_init__(self) -> None:
        self.values = dict(self.values)  # lowering may add values it computes (Shape, Size)

    def type(self, name: str) -> TensorType:
        t = self.types.get(name)
        if t is not None and not t.is_static and name in self.values:
            t = None
        if name in self.values and (t is None or not t.is_static):
            t = TensorType.of(np.asarray(self.values[name]))
        if t is None or not t.is_static or t.dtype is None:
            raise Unsupported(f"tensor {name!r} has no static type ({t})")
        return t

    def shape(self, name: str) -> tuple[int, ...]:
        if name in self.consts:
            return tuple(self.consts[name].shape)
        return tuple(self.type(name).shape)

    def dtype(self, name: str) -> DType:
        return self.type(name).dtype

    def value(self, name: str, what: str) -> np.ndarray:
        if name not in self.values:
            raise Unsupported(f"{what} ({name!r}) must be known at plan time")
        return np.asarray(self.values[name])

    def f32(self, *names: str) -> None:
        for name in names:
            if self.dtype(name) is not DType.F32:
                raise Unsupported(f"{name!r} is {self.dtype(name)}; only float32 is supported")

    def nbytes(self, name: str) -> int:
        if name in self.temps:
            return self.temps[name]
        if name in self.consts:
            return self.consts[name].nbytes
        t = self.type(name)
        return prod(t.shape) * 4 * words_of(t.dtype)

    # ---- building ----
    def const(self, base: str, array: np.ndarray) -> str:
        name = f"{base}::c{len(self.consts)}"
        self.consts[name] = np.ascontiguousarray(array)
        return name

    def temp(self, base: str, nbytes: int) -> str:
        name = f"{base}::t{len(self.temps)}"
        self.temps[name] = int(nbytes)
        return name

    def add(self, step: Step) -> None:
        if step.split is None:  # only flat elementwise steps can be cut to fit the binding limit
            for name in (*step.ins, *step.outs):
                if name is not None and self.nbytes(name) > self.max_range:
                    raise Unsupported(f"{name!r} ({self.nbytes(name)} bytes) exceeds the device's "
                                      f"maxStorageBufferRange ({self.max_range})")
        self.steps.append(step)


# ---- helpers ------------------------------------------------------------------------------------
def pad6(values, fill) -> list[int]:
    """Left-pad to MAX_RANK entries (shaders walk axes from the last one)."""
    values = list(values)
    if len(values) > MAX_RANK:
        raise Unsupported(f"more than {MAX_RANK} non-trivial dims")
    return [fill] * (MAX_RANK - len(values)) + values


def fused_activation(node: Node) -> tuple[int, list[float]]:
    name = node.attrs.get("activation", "") or ""
    params = [float(p) for p in node.attrs.get("activation_params", ()) or ()]
    if name not in ACT_CODES:
        raise Unsupported(f"fused activation {name!r} is not supported")
    want = FUSABLE[name][0] if name else 0
    if len(params) != want:
        raise Unsupported(f"fused activation {name} takes {want} params, got {len(params)}")
    return ACT_CODES[name], (params + [0.0, 0.0])[:2]


FILL = -(1 << 31)  # table entry of an output coordinate that takes the fill value


def gather_map(b: Builder, node, src: str, dst: str, shape, tables, width: int, fill=(0, 0),
               out_base: int = 0, out_strides=None) -> None:
    """out[k...] = src[sum(tables[d][k_d])] (fill when an entry is negative)."""
    out_strides = list(out_strides if out_strides is not None else strides_of(shape))
    tables = [np.asarray(t, np.int64) for t in tables]
    # size-1 axes without fill fold into a constant added to the first kept axis
    keep = [i for i, d in enumerate(shape) if d != 1 or tables[i][0] == FILL]
    shift = sum(int(tables[i][0]) for i, d in enumerate(shape) if i not in keep)
    if not keep:
        shape, tables, out_strides = [1], [np.array([shift], np.int64)], [0]
    else:
        shape = [shape[i] for i in keep]
        tables = [tables[i] for i in keep]
        tables[0] = np.where(tables[0] == FILL, FILL, tables[0] + shift)
        out_strides = [out_strides[i] for i in keep]
    if len(shape) > MAX_RANK:
        raise Unsupported(f"data movement over more than {MAX_RANK} non-trivial dims")
    offs, acc = [], 0
    for t in tables:
        offs.append(acc)
        acc += len(t)
    flat = np.concatenate(tables + [np.zeros(1, np.int64)])  # the last entry serves padded axes
    if flat.size and (flat.max() >= 2 ** 31 or (flat[flat != FILL] < -(2 ** 31)).any()):
        raise Unsupported("tensor too large for 32-bit indexing")
    table = b.const(f"{dst}/map", flat.astype(np.int32))
    push = u32(prod(shape), width, fill[0], fill[1], out_base, *pad6(shape, 1), *pad6(offs, acc),
               *pad6(out_strides, 0))
    b.add(Step("gather_map", [src, table], [dst], push, prod(shape), node=node))


def strided_copy(b: Builder, node, src: str, dst: str, shape, in_strides, offset: int, width: int,
                 out_base: int = 0, out_strides=None) -> None:
    out_strides = out_strides if out_strides is not None else strides_of(shape)
    cshape, (ins, outs) = collapse(shape, in_strides, out_strides)
    tables = [np.arange(d, dtype=np.int64) * s for d, s in zip(cshape, ins)]
    tables[0] = tables[0] + offset
    gather_map(b, node, src, dst, cshape, tables, width, out_base=out_base, out_strides=outs)


def copy_all(b: Builder, node, src: str, dst: str, dtype: DType) -> None:
    n = b.nbytes(src) // 4
    strided_copy(b, node, src, dst, [n], [1], 0, 1)


# ---- elementwise --------------------------------------------------------------------------------
def unary_step(b: Builder, node, op: str, x: str, y: str, params=(0.0, 0.0)) -> None:
    n = prod(b.shape(y)) if y in b.types else b.nbytes(y) // 4
    b.add(Step(f"unary_{op}", [x], [y], u32(n) + f32(*params), n, node=node, split="flat",
               modes=(1,)))


def binary_step(b: Builder, node, op: str, x: str, y: str, out: str, xs, ys, os_, dtype: DType) -> None:
    tag = TYPE_TAG.get(dtype)
    if op not in BINARY or tag not in BINARY[op][1]:
        raise Unsupported(f"{op} on {dtype}")
    modes, strides = [], []
    for s in (xs, ys):
        if tuple(s) == tuple(os_) or prod(s) == prod(os_):
            modes.append(1)
        elif prod(s) == 1:
            modes.append(2)
        else:
            modes.append(0)
        strides.append(broadcast_strides(s, os_))
    shape, (sa, sb) = collapse(os_, *strides)
    n = prod(os_)
    push = u32(n, modes[0], modes[1], *pad6(shape, 1), *pad6(sa, 0), *pad6(sb, 0))
    b.add(Step(f"binary_{op}_{tag}", [x, y], [out], push, n, node=node,
               split="flat" if 0 not in modes else None, modes=tuple(modes)))


def lower_unary(node: Node, b: Builder) -> None:
    x, y = node.inputs[0], node.outputs[0]
    op = node.op
    if op == "Not":
        if b.dtype(x) is not DType.BOOL:
            raise Unsupported("Not of a non-bool tensor")
        n = prod(b.shape(y))
        b.add(Step("unary_Not", [x], [y], u32(n), n, node=node, split="flat", modes=(1,)))
        return
    b.f32(x, y)
    if op == "Gelu":
        approx = node.attrs.get("approximate", "none")
        if approx not in ("none", "tanh"):
            raise Unsupported(f"Gelu approximate={approx!r}")
        op = "GeluTanh" if approx == "tanh" else "Gelu"
    if op == "Clip":
        lo = node.inputs[1] if len(node.inputs) > 1 and node.inputs[1] else None
        hi = node.inputs[2] if len(node.inputs) > 2 and node.inputs[2] else None
        if (lo and lo not in b.values) or (hi and hi not in b.values):
            return lower_clip_runtime(node, b, lo, hi)
        params = [float(b.value(lo, "min").reshape(-1)[0]) if lo else -3.4028234663852886e38,
                  float(b.value(hi, "max").reshape(-1)[0]) if hi else 3.4028234663852886e38]
    else:
        _, names, defaults = UNARY[op]
        params = [float(node.attrs.get(n, d)) for n, d in zip(names, defaults)]
    unary_step(b, node, op, x, y, (params + [0.0, 0.0])[:2])


def lower_clip_runtime(node, b, lo, hi) -> None:
    x, y = node.inputs[0], node.outputs[0]
    shape = b.shape(x)
    cur = x
    for op, bound in (("Max", lo), ("Min", hi)):
        if not bound:
            continue
        last = bound == hi or not hi
        out = y if last else b.temp(y, b.nbytes(y))
        binary_step(b, node, op, cur, bound, out, shape, b.shape(bound), shape, DType.F32)
        cur = out
    if cur == x:
        copy_all(b, node, x, y, DType.F32)


CAST_CODES = {DType.F32: 0, DType.I32: 1, DType.I64: 2, DType.BOOL: 3}


def cast_step(b: Builder, node, x: str, y: str, src: DType, dst: DType) -> None:
    if src not in CAST_CODES or dst not in CAST_CODES:
        raise Unsupported(f"Cast from {src} to {dst}")
    n = prod(b.shape(x))
    b.add(Step("cast", [x], [y], u32(n, CAST_CODES[src], CAST_CODES[dst]), n, node=node))


def lower_cast(node: Node, b: Builder) -> None:
    x, y = node.inputs[0], node.outputs[0]
    cast_step(b, node, x, y, b.dtype(x), b.dtype(y))


def lower_binary(node: Node, b: Builder) -> None:
    x, y = node.inputs[:2]
    out = node.outputs[0]
    dtype = b.dtype(x)
    if node.op == "Pow" and dtype is DType.F32 and b.dtype(y) in (DType.I32, DType.I64):
        tmp = b.temp(y, prod(b.shape(y)) * 4)  # the exponent as float
        cast_step(b, node, y, tmp, b.dtype(y), DType.F32)
        return binary_step(b, node, "Pow", x, tmp, out, b.shape(x), b.shape(y),
                           b.shape(out), dtype)
    if b.dtype(y) is not dtype:
        raise Unsupported(f"{node.op} of {dtype} and {b.dtype(y)}")
    op = node.op
    if op == "Mod" and not node.attrs.get("fmod", 0):
        raise Unsupported("Mod with fmod=0")
    binary_step(b, node, op, x, y, out, b.shape(x), b.shape(y), b.shape(out), dtype)


def lower_variadic(node: Node, b: Builder) -> None:
    ins = [n for n in node.inputs if n]
    out = node.outputs[0]
    dtype = b.dtype(ins[0])
    if any(b.dtype(n) is not dtype for n in ins):
        raise Unsupported("mixed input dtypes")
    op = {"Sum": "Add", "Mean": "Add", "Max": "Max", "Min": "Min"}[node.op]
    os_ = b.shape(out)
    if node.op == "Mean" and dtype is not DType.F32:
        raise Unsupported("Mean of integers")
    steps = len(ins) - 1 + (node.op == "Mean")
    if steps == 0:
        if b.shape(ins[0]) != os_:
            raise Unsupported("single input with another shape")
        return copy_all(b, node, ins[0], out, dtype)
    others = ins[1:] + ([b.const(out + "/n", np.array([1.0 / len(ins)], np.float32))]
                        if node.op == "Mean" else [])
    cur, cur_shape = ins[0], b.shape(ins[0])
    for k, other in enumerate(others):
        last = k == steps - 1
        oshape = os_ if last else tuple(np.broadcast_shapes(cur_shape, b.shape(other)))
        dst = out if last else b.temp(out, prod(oshape) * 4 * words_of(dtype))
        binary_step(b, node, "Mul" if node.op == "Mean" and last else op, cur, other, dst, cur_shape,
                    b.shape(other), oshape, dtype)
        cur, cur_shape = dst, oshape


def lower_where(node: Node, b: Builder) -> None:
    c, x, y = node.inputs
    out = node.outputs[0]
    if b.dtype(c) is not DType.BOOL or b.dtype(x) is not b.dtype(y):
        raise Unsupported("Where needs a bool condition and equal branch dtypes")
    os_ = b.shape(out)
    shape, strides = collapse(os_, *(broadcast_strides(b.shape(n), os_) for n in (c, x, y)))
    push = u32(prod(os_), words_of(b.dtype(x)), *pad6(shape, 1), *(v for s in strides for v in pad6(s, 0)))
    b.add(Step("where", [c, x, y], [out], push, prod(os_), node=node))


# ---- conv / matmul / pool -------------------------------------------------------------------------
def lower_conv(node: Node, b: Builder) -> None:
    x, w = node.inputs[0], node.inputs[1]
    bias = node.inputs[2] if len(node.inputs) > 2 and node.inputs[2] else None
    y = node.outputs[0]
    b.f32(x, w, y, *([bias] if bias else []))
    xs, ws, ys = b.shape(x), b.shape(w), b.shape(y)
    if len(xs) not in (3, 4):
        raise Unsupported(f"Conv of rank {len(xs)}; 1-D and 2-D convolutions are supported")
    kernel = ws[2:]
    if node.attrs.get("kernel_shape") not in (None, ()) and tuple(node.attrs["kernel_shape"]) != tuple(kernel):
        raise Unsupported("kernel_shape disagrees with the weights")
    transpose = node.op == "ConvTranspose"
    attrs = dict(node.attrs)
    n = len(kernel)
    strides = [int(s) for s in (attrs.get("strides") or [1] * n)]
    dilations = [int(d) for d in (attrs.get("dilations") or [1] * n)]
    group = int(attrs.get("group", 1))
    if transpose:
        for key in ("output_padding", "output_shape", "pads", "strides", "dilations"):
            attrs.setdefault(key, None)
        attrs.setdefault("auto_pad", "NOTSET")
        begins, out = _conv_transpose_geometry(attrs, xs[2:], kernel)
        M = ws[1] * group
    else:
        geo = {"auto_pad": attrs.get("auto_pad", "NOTSET"), "strides": attrs.get("strides"),
               "dilations": attrs.get("dilations"), "pads": attrs.get("pads")}
        begins, _, out = _geometry(geo, xs[2:], kernel)
        M = ws[0]
    C = xs[1]
    if C % group or M % group or (not transpose and ws[1] != C // group) or (transpose and ws[0] != C):
        raise Unsupported("channels do not match the group count")
    if tuple(ys) != (xs[0], M, *[int(o) for o in out]):
        raise Unsupported(f"output shape {ys} disagrees with the conv geometry")
    if n == 1:
        H, W, OH, OW, KH, KW = 1, xs[2], 1, out[0], 1, kernel[0]
        SH, SW, DH, DW, PH, PW = 1, strides[0], 1, dilations[0], 0, begins[0]
    else:
        H, W, OH, OW, KH, KW = xs[2], xs[3], out[0], out[1], kernel[0], kernel[1]
        SH, SW, DH, DW, PH, PW = *strides, *dilations, *begins
    act, params = fused_activation(node)
    push = u32(xs[0], C, H, W, M, OH, OW, KH, KW, SH, SW, DH, DW, PH, PW, group, act, int(bias is not None)) \
        + f32(*params)
    mg = M // group
    if not transpose and w in b.values and mg >= 4:
        # register-tiled shader: weights packed as [group][C/group*KH*KW][ceil(mg/4)] vec4
        mq = -(-mg // 4)
        wv = b.value(w, "weights").astype(np.float32).reshape(group, mg, -1)
        packed = np.zeros((group, wv.shape[2], mq * 4), np.float32)
        packed[:, :, :mg] = wv.transpose(0, 2, 1)
        wname = b.const(w + "/packed", packed.reshape(-1))
        invocations = xs[0] * group * mq * -(-(OH * OW) // 4)
        b.add(Step("conv2d_tiled", [x, wname, bias], [y], push + u32(mq), invocations, node=node))
        return
    b.add(Step("conv_transpose2d" if transpose else "conv2d", [x, w, bias], [y], push, prod(ys), node=node))


def _matmul(b: Builder, node, a, bm, c, out, a_shape, b_shape, *, trans_a=False, trans_b=False,
            c_shape=None, alpha=1.0, beta=1.0) -> None:
    M, K = (a_shape[-1], a_shape[-2]) if trans_a else (a_shape[-2], a_shape[-1])
    K2, N = (b_shape[-1], b_shape[-2]) if trans_b else (b_shape[-2], b_shape[-1])
    if K != K2:
        raise Unsupported(f"inner dims differ: {a_shape} x {b_shape}")
    a_rs, a_cs = (1, a_shape[-1]) if trans_a else (a_shape[-1], 1)
    b_rs, b_cs = (1, b_shape[-1]) if trans_b else (b_shape[-1], 1)
    batch_a, batch_b = tuple(a_shape[:-2]), tuple(b_shape[:-2])
    try:
        batch = tuple(np.broadcast_shapes(batch_a, batch_b))
    except ValueError:
        raise Unsupported(f"batch dims do not broadcast: {a_shape} x {b_shape}") from None
    sa = [s * M * K for s in broadcast_strides(batch_a, batch)] if batch else []
    sb = [s * K * N for s in broadcast_strides(batch_b, batch)] if batch else []
    shape, (sa, sb) = collapse(batch, sa, sb) if batch else ([1], [[0], [0]])
    if len(shape) > 3:
        raise Unsupported("more than 3 non-trivial batch dims")
    pad3 = lambda v, f: [f] * (3 - len(v)) + list(v)
    c_rs = c_cs = 0
    if c is not None:
        cs = (1,) * (2 - len(c_shape)) + tuple(c_shape)
        if len(c_shape) > 2:
            raise Unsupported("Gemm C of rank > 2")
        c_rs = 0 if cs[0] == 1 else cs[1]
        c_cs = 0 if cs[1] == 1 else 1
    act, params = fused_activation(node)
    push = u32(*pad3(shape, 1), *pad3(sa, 0), *pad3(sb, 0), M, N, K, a_rs, a_cs, b_rs, b_cs, c_rs, c_cs,
               int(c is not None), act) + f32(alpha, beta, *params)
    b.add(Step("matmul", [a, bm, c], [out], push, prod(shape) * -(-M // 4) * -(-N // 4), node=node))


def lower_matmul(node: Node, b: Builder) -> None:
    a, bm = node.inputs[:2]
    out = node.outputs[0]
    b.f32(a, bm, out)
    a_shape, b_shape = b.shape(a), b.shape(bm)
    if len(a_shape) == 1:
        a_shape = (1, *a_shape)
    if len(b_shape) == 1:
        b_shape = (*b_shape, 1)
    _matmul(b, node, a, bm, None, out, a_shape, b_shape)


def lower_gemm(node: Node, b: Builder) -> None:
    a, bm = node.inputs[:2]
    c = node.inputs[2] if len(node.inputs) > 2 and node.inputs[2] else None
    out = node.outputs[0]
    b.f32(a, bm, out, *([c] if c else []))
    beta = float(node.attrs.get("beta", 1.0))
    _matmul(b, node, a, bm, c, out, b.shape(a), b.shape(bm), trans_a=bool(node.attrs.get("transA", 0)),
            trans_b=bool(node.attrs.get("transB", 0)), c_shape=b.shape(c) if c else None,
            alpha=float(node.attrs.get("alpha", 1.0)), beta=beta)


def lower_pool(node: Node, b: Builder) -> None:
    x, y = node.inputs[0], node.outputs[0]
    b.f32(x, y)
    if len([o for o in node.outputs if o]) > 1:
        raise Unsupported("MaxPool indices output")
    xs, ys = b.shape(x), b.shape(y)
    if len(xs) not in (3, 4):
        raise Unsupported("only 1-D and 2-D pooling is supported")
    kernel = [int(k) for k in node.attrs["kernel_shape"]]
    n = len(kernel)
    geo = {"auto_pad": node.attrs.get("auto_pad", "NOTSET"), "strides": node.attrs.get("strides"),
           "dilations": node.attrs.get("dilations"), "pads": node.attrs.get("pads")}
    begins, ends, out = _geometry(geo, xs[2:], kernel, bool(node.attrs.get("ceil_mode", 0)))
    strides = [int(s) for s in (geo["strides"] or [1] * n)]
    dilations = [int(d) for d in (geo["dilations"] or [1] * n)]
    if tuple(ys[2:]) != tuple(out):
        raise Unsupported("output shape disagrees with the pool geometry")
    if n == 1:
        kernel, strides, dilations = [1, *kernel], [1, *strides], [1, *dilations]
        begins, ends, out, hw = [0, *begins], [0, *ends], [1, *out], [1, xs[2]]
    else:
        hw = list(xs[2:])
    is_max = node.op == "MaxPool"
    push = u32(xs[0] * xs[1], *hw, *out, *kernel, *strides, *dilations, *begins, *ends, int(is_max),
               int(node.attrs.get("count_include_pad", 0)))
    b.add(Step("pool2d", [x], [y], push, prod(ys), node=node))


# ---- reductions and normalisation ---------------------------------------------------------------
REDUCE_KINDS = {"ReduceSum": 0, "ReduceMean": 1, "ReduceMax": 2, "ReduceMin": 3, "ReduceProd": 4,
                "ReduceL1": 5, "ReduceL2": 6, "ReduceLogSum": 7, "ReduceLogSumExp": 8,
                "ReduceSumSquare": 9, "ArgMax": 10, "ArgMin": 11, "GlobalAveragePool": 1,
                "GlobalMaxPool": 2}


def _move_axes_last(b: Builder, node, x: str, xs, axes) -> tuple[str, int, int, int]:
    """(tensor, outer, R, inner) with the reduced axes contiguous; transposes when they are not."""
    axes = sorted(axes)
    if axes == list(range(axes[0], axes[-1] + 1)):
        return x, prod(xs[:axes[0]]), prod(xs[axes[0]:axes[-1] + 1]), prod(xs[axes[-1] + 1:])
    keep = [i for i in range(len(xs)) if i not in axes]
    perm = keep + axes
    st = strides_of(xs)
    tmp = b.temp(x, prod(xs) * 4)
    strided_copy(b, node, x, tmp, [xs[i] for i in perm], [st[i] for i in perm], 0, 1)
    return tmp, prod(xs[i] for i in keep), prod(xs[i] for i in axes), 1


def lower_reduce(node: Node, b: Builder) -> None:
    x, y = node.inputs[0], node.outputs[0]
    b.f32(x)
    xs = b.shape(x)
    kind = REDUCE_KINDS[node.op]
    if node.op in ("ArgMax", "ArgMin"):
        if b.dtype(y) is not DType.I64:
            raise Unsupported("ArgMax/ArgMin output must be int64")
        axes = [int(node.attrs.get("axis", 0)) % len(xs)]
    elif node.op.startswith("Global"):
        axes = list(range(2, len(xs)))
    else:
        b.f32(y)
        name = node.inputs[1] if len(node.inputs) > 1 and node.inputs[1] else None
        attr_axes = node.attrs.get("axes")
        if name:
            axes = [int(a) % len(xs) for a in b.value(name, "axes").reshape(-1)]
        elif attr_axes is not None:
            axes = [int(a) % len(xs) for a in attr_axes]
        else:
            axes = []
        if not axes:
            if node.attrs.get("noop_with_empty_axes", 0):
                if kind in (0, 1, 2, 3, 4):
                    return copy_all(b, node, x, y, DType.F32)
                raise Unsupported("noop reduction with a transform")
            axes = list(range(len(xs)))
    if prod(xs) == 0 or any(xs[a] == 0 for a in axes):
        raise Unsupported("empty reduction")
    if not xs:
        axes = []
    src, outer, R, inner = _move_axes_last(b, node, x, xs, axes) if axes else (x, 1, 1, 1)
    push = u32(outer, R, inner, kind, int(node.attrs.get("select_last_index", 0)))
    b.add(Step("reduce", [src], [y], push, outer * inner, node=node))


def lower_softmax(node: Node, b: Builder) -> None:
    x, y = node.inputs[0], node.outputs[0]
    b.f32(x, y)
    xs = b.shape(x)
    if not xs:
        raise Unsupported("Softmax of a scalar")
    axis = int(node.attrs.get("axis", -1)) % len(xs)
    outer, R, inner = prod(xs[:axis]), xs[axis], prod(xs[axis + 1:])
    push = u32(outer * inner, R, inner, int(node.op == "LogSoftmax"))
    b.add(Step("softmax", [x], [y], push, outer * inner, rows=True, node=node))


def _row_param(b: Builder, node, name: Optional[str], shape) -> Optional[str]:
    """A scale/bias operand as a contiguous array of `shape` (broadcast on the device if needed)."""
    if not name:
        return None
    b.f32(name)
    ps = b.shape(name)
    if tuple(ps) == tuple(shape) or prod(ps) == prod(shape):
        return name
    tmp = b.temp(name, prod(shape) * 4)
    strided_copy(b, node, name, tmp, list(shape), broadcast_strides(ps, shape), 0, 1)
    return tmp


def lower_layernorm(node: Node, b: Builder) -> None:
    x, y = node.inputs[0], node.outputs[0]
    b.f32(x, y)
    xs = b.shape(x)
    axis = int(node.attrs.get("axis", -1)) % len(xs)
    rms = node.op == "RMSNormalization"
    norm_shape = xs[axis:]
    scale = _row_param(b, node, node.inputs[1] if len(node.inputs) > 1 else None, norm_shape)
    bias = None if rms else _row_param(b, node, node.inputs[2] if len(node.inputs) > 2 else None, norm_shape)
    outs = list(node.outputs) + [""] * (3 - len(node.outputs))
    mean, inv = outs[1] or None, outs[2] or None
    stats = mean is not None or inv is not None
    if stats:
        for o in (mean, inv):
            if o:
                b.f32(o)
        rows = prod(xs[:axis])
        mean = mean or b.temp(y + "/mean", rows * 4)
        inv = inv or b.temp(y + "/inv", rows * 4)
    rows, n = prod(xs[:axis]), prod(norm_shape)
    push = u32(rows, n, 1, 2 if rms else 0, int(scale is not None), int(bias is not None), int(stats)) \
        + f32(float(node.attrs.get("epsilon", 1e-5)))
    b.add(Step("norm", [x, scale, bias], [y, mean, inv], push, rows, rows=True, node=node))


def lower_instancenorm(node: Node, b: Builder) -> None:
    x, s, bias = node.inputs[:3]
    y = node.outputs[0]
    b.f32(x, s, bias, y)
    xs = b.shape(x)
    if len(xs) < 3:
        raise Unsupported("InstanceNormalization needs spatial dims")
    rows, n = xs[0] * xs[1], prod(xs[2:])
    push = u32(rows, n, xs[1], 1, 1, 1, 0) + f32(float(node.attrs.get("epsilon", 1e-5)))
    b.add(Step("norm", [x, s, bias], [y, None, None], push, rows, rows=True, node=node))


def lower_batchnorm(node: Node, b: Builder) -> None:
    if node.attrs.get("training_mode", 0) or any(node.outputs[1:]):
        raise Unsupported("BatchNormalization in training mode")
    x, s, bias, mean, var = node.inputs[:5]
    y = node.outputs[0]
    b.f32(x, s, bias, mean, var, y)
    xs = b.shape(x)
    C = xs[1] if len(xs) > 1 else 1
    push = u32(prod(xs), C, prod(xs[2:])) + f32(float(node.attrs.get("epsilon", 1e-5)))
    b.add(Step("batchnorm", [x, s, bias, mean, var], [y], push, prod(xs), node=node))


# ---- data movement ------------------------------------------------------------------------------
def lower_alias(node: Node, b: Builder) -> None:
    x, y = node.inputs[0], node.outputs[0]
    if node.op == "Dropout" and len(node.inputs) > 2 and node.inputs[2]:
        mode = b.values.get(node.inputs[2])
        if mode is None or bool(np.asarray(mode).reshape(-1)[0]):
            raise Unsupported("Dropout in training mode")
    if any(node.outputs[1:]):
        raise Unsupported(f"{node.op} with a mask output")
    words_of(b.dtype(x))
    b.aliases[y] = b.aliases.get(x, x)


def lower_transpose(node: Node, b: Builder) -> None:
    x, y = node.inputs[0], node.outputs[0]
    xs = b.shape(x)
    perm = node.attrs.get("perm") or list(range(len(xs)))[::-1]
    st = strides_of(xs)
    strided_copy(b, node, x, y, [xs[p] for p in perm], [st[p] for p in perm], 0, words_of(b.dtype(x)))


def lower_slice(node: Node, b: Builder) -> None:
    x, y = node.inputs[0], node.outputs[0]
    xs = b.shape(x)
    args = [b.value(n, "Slice bounds") if n else None
            for n in (list(node.inputs[1:]) + [""] * (5 - len(node.inputs)))]
    st = strides_of(xs)
    shape, strides, offset = list(xs), list(st), 0
    for axis, start, end, step in _slice_args(len(xs), *args):
        lo, hi = _slice_bounds(xs[axis], start, end, step)
        shape[axis] = max(0, -(-(hi - lo) // step))
        strides[axis] = st[axis] * step
        offset += lo * st[axis]
    if tuple(shape) != b.shape(y):
        raise Unsupported("slice shape disagrees with the inferred type")
    strided_copy(b, node, x, y, shape, strides, offset, words_of(b.dtype(x)))


def lower_expand(node: Node, b: Builder) -> None:
    x, y = node.inputs[0], node.outputs[0]
    ys = b.shape(y)
    strided_copy(b, node, x, y, list(ys), broadcast_strides(b.shape(x), ys), 0, words_of(b.dtype(x)))


def lower_tile(node: Node, b: Builder) -> None:
    x, y = node.inputs[0], node.outputs[0]
    xs, ys = b.shape(x), b.shape(y)
    st = strides_of(xs)
    tables = [(np.arange(o) % d) * s for o, d, s in zip(ys, xs, st)]
    gather_map(b, node, x, y, list(ys), tables, words_of(b.dtype(x)))


def lower_concat(node: Node, b: Builder) -> None:
    y = node.outputs[0]
    ys = b.shape(y)
    axis = int(node.attrs["axis"]) % len(ys)
    ost = strides_of(ys)
    at = 0
    for name in node.inputs:
        if not name:
            continue
        xs = b.shape(name)
        if prod(xs):
            strided_copy(b, node, name, y, list(xs), strides_of(xs), 0, words_of(b.dtype(y)),
                         out_base=at * ost[axis], out_strides=ost)
        at += xs[axis]


def lower_split(node: Node, b: Builder) -> None:
    x = node.inputs[0]
    xs = b.shape(x)
    axis = int(node.attrs.get("axis", 0)) % len(xs)
    st = strides_of(xs)
    at = 0
    for out in node.outputs:
        if not out:
            continue
        os_ = b.shape(out)
        if prod(os_):
            strided_copy(b, node, x, out, list(os_), st, at * st[axis], words_of(b.dtype(x)))
        at += os_[axis]


def lower_gather(node: Node, b: Builder) -> None:
    data, idx = node.inputs
    y = node.outputs[0]
    ds = b.shape(data)
    axis = int(node.attrs.get("axis", 0)) % len(ds)
    width = words_of(b.dtype(data))
    if b.dtype(idx) not in (DType.I64, DType.I32):
        raise Unsupported("Gather indices must be int32 or int64")
    st = strides_of(ds)
    if idx in b.values:
        index = b.value(idx, "indices").reshape(-1).astype(np.int64)
        index = np.where(index < 0, index + ds[axis], index)
        shape = [*ds[:axis], index.size, *ds[axis + 1:]]
        tables = [np.arange(d) * s for d, s in zip(ds, st)]
        tables[axis] = index * st[axis]
        return gather_map(b, node, data, y, shape, tables, width)
    count = prod(b.shape(idx))
    push = u32(prod(ds[:axis]), ds[axis], prod(ds[axis + 1:]), count, width, int(b.dtype(idx) is DType.I64))
    b.add(Step("gather", [data, idx], [y], push, prod(b.shape(y)), node=node))


def lower_pad(node: Node, b: Builder) -> None:
    x, y = node.inputs[0], node.outputs[0]
    xs, ys = b.shape(x), b.shape(y)
    mode = node.attrs.get("mode", "constant")
    pads = [int(p) for p in b.value(node.inputs[1], "pads").reshape(-1)]
    axes_name = node.inputs[3] if len(node.inputs) > 3 and node.inputs[3] else None
    axes = list(range(len(xs))) if axes_name is None else \
        [int(a) % len(xs) for a in b.value(axes_name, "axes").reshape(-1)]
    begin = [0] * len(xs)
    for i, a in enumerate(axes):
        begin[a] = pads[i]
    fill = 0.0
    if len(node.inputs) > 2 and node.inputs[2]:
        fill = b.value(node.inputs[2], "constant_value").reshape(-1)
        fill = fill[0] if fill.size else 0
    dtype = b.dtype(x)
    raw = np.array([fill], dtype=dtype.numpy if dtype is not DType.BOOL else np.uint32)
    words = raw.astype(np.uint32 if dtype is DType.BOOL else raw.dtype).view(np.uint32).tolist() + [0]
    st = strides_of(xs)
    tables = []
    for d, (n_in, n_out, lo, s) in enumerate(zip(xs, ys, begin, st)):
        k = np.arange(n_out) - lo
        if mode == "constant":
            src = np.where((k >= 0) & (k < n_in), k, -1)
        elif mode == "edge":
            src = np.clip(k, 0, n_in - 1)
        elif mode == "wrap":
            src = k % n_in
        elif mode == "reflect":
            if n_in == 1:
                src = np.zeros_like(k)
            else:
                period = 2 * (n_in - 1)
                r = np.abs(k) % period
                src = np.where(r < n_in, r, period - r)
        else:
            raise Unsupported(f"Pad mode {mode!r}")
        tables.append(np.where(src < 0, FILL, src * s))
    gather_map(b, node, x, y, list(ys), tables, words_of(dtype), fill=(words[0], words[1]))


def lower_depth_space(node: Node, b: Builder) -> None:
    x, y = node.inputs[0], node.outputs[0]
    n, c, h, w = b.shape(x)
    bs = int(node.attrs["blocksize"])
    dcr = node.attrs.get("mode", "DCR") == "DCR"
    if node.op == "DepthToSpace":
        shape6 = (n, bs, bs, c // (bs * bs), h, w) if dcr else (n, c // (bs * bs), bs, bs, h, w)
        perm = (0, 3, 4, 1, 5, 2) if dcr else (0, 1, 4, 2, 5, 3)
    else:
        shape6 = (n, c, h // bs, bs, w // bs, bs)
        perm = (0, 3, 5, 1, 2, 4) if dcr else (0, 1, 3, 5, 2, 4)
    st = strides_of(shape6)
    strided_copy(b, node, x, y, [shape6[p] for p in perm], [st[p] for p in perm], 0, words_of(b.dtype(x)))


def lower_resize(node: Node, b: Builder) -> None:
    x, y = node.inputs[0], node.outputs[0]
    b.f32(x, y)
    xs, ys = b.shape(x), b.shape(y)
    names = list(node.inputs) + [""] * (4 - len(node.inputs))
    roi = b.value(names[1], "roi") if names[1] else None
    scales = b.value(names[2], "scales") if names[2] else None
    sizes = b.value(names[3], "sizes") if names[3] else None
    attrs = {"antialias": 0, "axes": None, "coordinate_transformation_mode": "half_pixel",
             "cubic_coeff_a": -0.75, "exclude_outside": 0, "extrapolation_value": 0.0,
             "keep_aspect_ratio_policy": "stretch", "mode": "nearest",
             "nearest_mode": "round_prefer_floor", **node.attrs}
    out, factors, axes = _resize_plan(xs, attrs, scales, sizes)
    if tuple(out) != tuple(ys):
        raise Unsupported("output shape disagrees with the resize plan")
    if roi is not None and roi.size:
        roi = np.asarray(roi, np.float64).reshape(-1)
        k = len(roi) // 2
        keys = axes if k == len(axes) else range(len(xs))
        starts, ends = dict(zip(keys, roi[:k])), dict(zip(keys, roi[k:]))
    else:
        starts, ends = {}, {}
    passes = []
    for axis in axes:
        axis_roi = (starts.get(axis, 0.0), ends.get(axis, 1.0))
        if math.isclose(factors[axis], 1.0) and out[axis] == xs[axis] and np.allclose(axis_roi, (0.0, 1.0)):
            continue
        weights, extrap = _resize_matrix(attrs, out[axis], xs[axis], factors[axis], axis_roi)
        passes.append((axis, weights, extrap))
    if not passes:
        return copy_all(b, node, x, y, DType.F32)
    cur, shape = x, list(xs)
    for k, (axis, weights, extrap) in enumerate(passes):
        taps = max(1, int((weights != 0).sum(axis=1).max()))
        table = np.zeros((weights.shape[0], taps, 2), np.int32)
        for o in range(weights.shape[0]):
            nz = np.nonzero(weights[o])[0]
            table[o, :len(nz), 0] = nz
            table[o, :len(nz), 1] = np.asarray(weights[o, nz], np.float32).view(np.int32)
            if extrap is not None and extrap[o]:
                table[o, 0, 0] = -1
        shape[axis] = out[axis]
        dst = y if k == len(passes) - 1 else b.temp(y, prod(shape) * 4)
        tname = b.const(y + "/taps", table.reshape(-1))
        push = u32(prod(xs[:axis]) if k == 0 else prod(shape[:axis]), weights.shape[1], weights.shape[0],
                   prod(shape[axis + 1:]), taps) + f32(float(attrs["extrapolation_value"]))
        b.add(Step("resize1d", [cur, tname], [dst], push, prod(shape), node=node))
        cur = dst


LOWERINGS: dict[str, Callable[[Node, Builder], None]] = {
    "Conv": lower_conv, "ConvTranspose": lower_conv, "MatMul": lower_matmul, "Gemm": lower_gemm,
    "MaxPool": lower_pool, "AveragePool": lower_pool,
    **{op: lower_reduce for op in REDUCE_KINDS},
    **{op: lower_unary for op in (*UNARY, *BOOL_UNARY)},
    **{op: lower_binary for op in BINARY},
    "Sum": lower_variadic, "Mean": lower_variadic, "Max": lower_variadic, "Min": lower_variadic,
    "Where": lower_where,
    "Softmax": lower_softmax, "LogSoftmax": lower_softmax,
    "LayerNormalization": lower_layernorm, "RMSNormalization": lower_layernorm,
    "InstanceNormalization": lower_instancenorm, "BatchNormalization": lower_batchnorm,
    **{op: lower_alias for op in ALIASES},
    "Transpose": lower_transpose, "Slice": lower_slice, "Expand": lower_expand, "Tile": lower_tile,
    "Concat": lower_concat, "Split": lower_split, "Gather": lower_gather, "Pad": lower_pad,
    "Cast": lower_cast, "CastLike": lower_cast, "DepthToSpace": lower_depth_space, "SpaceToDepth": lower_depth_space, "Resize": lower_resize,
}


# Inputs that parameterise an op (their values shape the dispatches) rather than feed it data.
PARAM_INPUTS = {"Resize": (1, 2, 3), "Slice": (1, 2, 3, 4), "Pad": (1, 2, 3), "Reshape": (1,),
                "Squeeze": (1,), "Unsqueeze": (1,), "Split": (1,), "Tile": (1,), "Expand": (1,),
                "ConstantOfShape": (0,), "Range": (0, 1, 2), "Dropout": (1, 2),
                **{op: (1,) for op in REDUCE_KINDS if op.startswith("Reduce")}}
VALUE_OPS = {"Shape", "Size", "ConstantOfShape", "Range"}
"""Ops whose outputs are computed at plan time from shapes or parameter values (no dispatch)."""


def lower(node: Node, b: Builder) -> None:
    """Append the steps of `node`; nodes whose outputs are all known at plan time need none."""
    outs = [o for o in node.outputs if o]
    if node.op in ("Shape", "Size") and node.inputs and outs[0] not in b.values:
        shape = b.shape(node.inputs[0])
        if node.op == "Size":
            b.values[outs[0]] = np.array(prod(shape), np.int64)
        else:
            start, end = node.attrs.get("start", 0) or 0, node.attrs.get("end")
            b.values[outs[0]] = np.array(shape[start:end], np.int64)
    if outs and all(o in b.values for o in outs) and not any(True for _ in node.subgraphs()):
        b.const_nodes.extend(outs)
        return
    if node.op in VALUE_OPS:
        raise Unsupported(f"{node.op} needs its inputs' values at plan time")
    if node.domain not in ("", "ai.onnx"):
        raise Unsupported(f"op domain {node.domain!r}")
    fn = LOWERINGS.get(node.op)
    if fn is None:
        raise Unsupported(f"no Vulkan shader for {node.op}")
    for name in outs:
        words_of(b.dtype(name))
        if prod(b.shape(name)) == 0:
            raise Unsupported(f"{name!r} is empty")
    for name in node.inputs:
        if name and name not in b.values:
            words_of(b.dtype(name))
            if prod(b.shape(name)) == 0:
                raise Unsupported(f"{name!r} is empty")
    fn(node, b)
