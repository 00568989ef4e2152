"""Tensor manipulation ops: reshaping, indexing, gathering and scattering, padding, sorting.

Type inference here carries shapes through models, so each op uses the plan-time values of its
shape-like inputs (`ctx.const`) to give exact shapes, and falls back to unknown dims (None) or an
unknown rank where the values are only known at run time.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np

from ..dtypes import DType
from ..ir import Dim, TensorType
from .infer import UNKNOWN, broadcast_dims, normalize_axis, same_as_input
from .schema import REQUIRED, InferContext, OpSet

OPS = OpSet()
I64 = DType.I64


# ---- helpers ------------------------------------------------------------------------------------
def _in(ctx: InferContext, index: int = 0) -> TensorType:
    return ctx.input(index) or UNKNOWN


def _ints(value) -> Optional[list[int]]:
    return None if value is None else [int(v) for v in np.asarray(value).reshape(-1)]


def _dim_product(dims: Sequence[Dim]) -> Dim:
    """Product of dims; a symbolic dim survives only when every other factor is 1."""
    if all(isinstance(d, int) for d in dims):
        return int(np.prod(dims, dtype=np.int64))
    rest = [d for d in dims if d != 1]
    return rest[0] if len(rest) == 1 and isinstance(rest[0], str) else None


def _axes_arg(ctx: InferContext, index: int, rank: int) -> Optional[list[int]]:
    """Normalised axes from an optional input; None when given but unknown at plan time."""
    axes = _ints(ctx.const(index))
    return None if axes is None else [normalize_axis(a, rank, ctx) for a in axes]


def _has(ctx: InferContext, index: int) -> bool:
    return index < len(ctx.node.inputs) and bool(ctx.node.inputs[index])


def _norm_axes(axes, rank: int) -> list[int]:
    return [int(a) % rank if rank else 0 for a in axes]


# ---- reshaping ----------------------------------------------------------------------------------
def _reshape_dims(in_shape, target: list[int], allowzero: int) -> list[Dim]:
    """Target dims with 0 (copy) and -1 (inferred) resolved as far as the input dims allow."""
    copy = [i for i, t in enumerate(target) if t == 0 and not allowzero]
    dims: list[Dim] = list(target)
    for i in copy:
        dims[i] = in_shape[i] if in_shape is not None and i < len(in_shape) else None
    if -1 not in dims:
        return dims
    if in_shape is None:
        return [None if d == -1 else d for d in dims]
    # copied dims and symbolic dims present on both sides cancel, whatever their value
    known_in = [d for i, d in enumerate(in_shape) if i not in copy]
    known_out = [d for i, d in enumerate(dims) if i not in copy and d != -1]
    for d in list(known_out):
        if isinstance(d, str) and d in known_in:
            known_in.remove(d)
            known_out.remove(d)
    sym_in = [d for d in known_in if not isinstance(d, int)]
    sym_out = [d for d in known_out if not isinstance(d, int)]
    p_in = math.prod(d for d in known_in if isinstance(d, int))
    p_out = math.prod(d for d in known_out if isinstance(d, int))
    inferred: Dim = None
    if not sym_in and not sym_out:
        inferred = p_in // p_out if p_out else 0
    elif not sym_out and len(sym_in) == 1 and isinstance(sym_in[0], str) and p_in == p_out:
        inferred = sym_in[0]
    return [inferred if d == -1 else d for d in dims]


def _infer_reshape(ctx):
    t, target = _in(ctx), _ints(ctx.const(1))
    if target is None:
        shape_t = _in(ctx, 1)
        n = shape_t.shape[0] if shape_t.shape and len(shape_t.shape) == 1 else None
        return [TensorType(t.dtype, (None,) * n if isinstance(n, int) else None)]
    return [TensorType(t.dtype, tuple(_reshape_dims(t.shape, target, ctx.attrs["allowzero"])))]


@OPS.define("Reshape", infer=_infer_reshape, attrs={"allowzero": 0}, inputs=(2, 2))
def reshape(ctx, x, shape):
    target = [int(s) for s in shape]
    if not ctx.attrs["allowzero"]:
        target = [x.shape[i] if s == 0 else s for i, s in enumerate(target)]
    return x.reshape(target)


def _infer_flatten(ctx):
    t = _in(ctx)
    if t.shape is None:
        return [TensorType(t.dtype, (None, None))]
    axis = ctx.attrs["axis"]
    axis = axis + t.rank if axis < 0 else axis
    return [TensorType(t.dtype, (_dim_product(t.shape[:axis]), _dim_product(t.shape[axis:])))]


@OPS.define("Flatten", infer=_infer_flatten, attrs={"axis": 1}, inputs=(1, 1))
def flatten(ctx, x):
    axis = ctx.attrs["axis"]
    axis = axis + x.ndim if axis < 0 else axis
    return x.reshape(math.prod(x.shape[:axis]), math.prod(x.shape[axis:]))


def _infer_transpose(ctx):
    t, perm = _in(ctx), ctx.attrs["perm"]
    if t.shape is None:
        return [TensorType(t.dtype, None if perm is None else (None,) * len(perm))]
    perm = range(t.rank - 1, -1, -1) if perm is None else perm
    return [TensorType(t.dtype, tuple(t.shape[p] for p in perm))]


@OPS.define("Transpose", infer=_infer_transpose, attrs={"perm": None}, inputs=(1, 1))
def transpose(ctx, x):
    perm = ctx.attrs["perm"]
    return np.transpose(x, None if perm is None else [int(p) for p in perm])


def _infer_squeeze(ctx):
    t = _in(ctx)
    if t.shape is None:
        return [TensorType(t.dtype, None)]
    if not _has(ctx, 1):
        if any(not isinstance(d, int) for d in t.shape):
            return [TensorType(t.dtype, None)]
        return [TensorType(t.dtype, tuple(d for d in t.shape if d != 1))]
    axes = _axes_arg(ctx, 1, t.rank)
    if axes is None:
        n = _in(ctx, 1).shape
        rank = t.rank - n[0] if n and isinstance(n[0], int) else None
        return [TensorType(t.dtype, None if rank is None else (None,) * rank)]
    return [TensorType(t.dtype, tuple(d for i, d in enumerate(t.shape) if i not in axes))]


@OPS.define("Squeeze", infer=_infer_squeeze, inputs=(1, 2))
def squeeze(ctx, x, axes=None):
    return np.squeeze(x, axis=None if axes is None else tuple(_norm_axes(axes, x.ndim)))


def _infer_unsqueeze(ctx):
    t, axes = _in(ctx), _ints(ctx.const(1))
    if t.shape is None or axes is None:
        n = _in(ctx, 1).shape
        if t.shape is not None and n and isinstance(n[0], int):
            return [TensorType(t.dtype, (None,) * (t.rank + n[0]))]
        return [TensorType(t.dtype, None)]
    rank = t.rank + len(axes)
    axes = {normalize_axis(a, rank, ctx) for a in axes}
    rest = iter(t.shape)
    return [TensorType(t.dtype, tuple(1 if i in axes else next(rest) for i in range(rank)))]


@OPS.define("Unsqueeze", infer=_infer_unsqueeze, inputs=(2, 2))
def unsqueeze(ctx, x, axes):
    rank = x.ndim + axes.size
    return np.expand_dims(x, tuple(sorted(_norm_axes(axes.reshape(-1), rank))))


def _infer_concat(ctx):
    ts = [t or UNKNOWN for t in ctx.inputs]
    dtype = next((t.dtype for t in ts if t.dtype is not None), None)
    shapes = [t.shape for t in ts if t.shape is not None]
    if not shapes:
        return [TensorType(dtype, None)]
    rank = len(shapes[0])
    axis = normalize_axis(ctx.attrs["axis"], rank, ctx)
    dims: list[Dim] = []
    for i in range(rank):
        column = [s[i] for s in shapes]
        if i == axis:
            known = len(shapes) == len(ts) and all(isinstance(d, int) for d in column)
            dims.append(sum(column) if known else None)
        else:
            dims.append(next((d for d in column if isinstance(d, int)),
                             next((d for d in column if d is not None), None)))
    return [TensorType(dtype, tuple(dims))]


@OPS.define("Concat", infer=_infer_concat, attrs={"axis": REQUIRED}, inputs=(1, 1 << 30))
def concat(ctx, *xs):
    return np.concatenate(xs, axis=ctx.attrs["axis"])


def _split_sizes(dim: int, parts: int) -> list[int]:
    """ONNX even split: ceil-sized chunks, the last one smaller when `dim` doesn't divide."""
    chunk = -(-dim // parts)
    return [min(chunk, max(dim - chunk * i, 0)) for i in range(parts)]


def _infer_split(ctx):
    t, n = _in(ctx), ctx.num_outputs
    if t.shape is None:
        return [TensorType(t.dtype, None)] * n
    axis = normalize_axis(ctx.attrs["axis"], t.rank, ctx)
    dim = t.shape[axis]
    sizes: list[Dim]
    if _has(ctx, 1):
        sizes = _ints(ctx.const(1)) or [None] * n
    elif isinstance(dim, int):
        sizes = _split_sizes(dim, ctx.attrs["num_outputs"] or n)
    else:
        sizes = [None] * n
    return [TensorType(t.dtype, t.shape[:axis] + (s,) + t.shape[axis + 1:]) for s in sizes]


@OPS.define("Split", infer=_infer_split, attrs={"axis": 0, "num_outputs": None}, inputs=(1, 2))
def split(ctx, x, sizes=None):
    axis = ctx.attrs["axis"] % x.ndim
    if sizes is None:
        sizes = _split_sizes(x.shape[axis], ctx.attrs["num_outputs"] or ctx.num_outputs)
    return tuple(np.split(x, np.cumsum(sizes)[:-1], axis=axis))


def _slice_bounds(dim: int, start: int, end: int, step: int) -> tuple[int, int]:
    """Clamp start/end as ONNX specifies; end -1 with a negative step means 'before index 0'."""
    if start < 0:
        start += dim
    if end < 0:
        end += dim
    if step > 0:
        return min(max(start, 0), dim), min(max(end, 0), dim)
    return min(max(start, 0), dim - 1), min(max(end, -1), dim - 1)


def _slice_args(rank, starts, ends, axes, steps):
    axes = list(range(len(starts))) if axes is None else _norm_axes(axes, rank)
    steps = [1] * len(starts) if steps is None else [int(s) for s in steps]
    return list(zip(axes, [int(s) for s in starts], [int(e) for e in ends], steps))


def _infer_slice(ctx):
    t = _in(ctx)
    if t.shape is None:
        return [TensorType(t.dtype, None)]
    values = [ctx.const(i) if _has(ctx, i) else None for i in range(1, 5)]
    if values[0] is None or values[1] is None or any(
            _has(ctx, i) and values[i - 1] is None for i in (3, 4)):
        return [TensorType(t.dtype, (None,) * t.rank)]  # which axes change is unknown
    dims = list(t.shape)
    for axis, start, end, step in _slice_args(t.rank, *values):
        dim = dims[axis]
        if isinstance(dim, int):
            lo, hi = _slice_bounds(dim, start, end, step)
            dims[axis] = max(0, -(-(hi - lo) // step))
        elif not (start == 0 and step == 1 and end >= 2**31 - 1):
            dims[axis] = None
    return [TensorType(t.dtype, tuple(dims))]


@OPS.define("Slice", infer=_infer_slice, inputs=(3, 5))
def slice_(ctx, x, starts, ends, axes=None, steps=None):
    index = [slice(None)] * x.ndim
    for axis, start, end, step in _slice_args(x.ndim, starts, ends, axes, steps):
        lo, hi = _slice_bounds(x.shape[axis], start, end, step)
        index[axis] = slice(lo, None if hi < 0 else hi, step)
    return x[tuple(index)]


# ---- indexing -----------------------------------------------------------------------------------
def _infer_gather(ctx):
    t, idx = _in(ctx), _in(ctx, 1)
    if t.shape is None or idx.shape is None:
        return [TensorType(t.dtype, None)]
    axis = normalize_axis(ctx.attrs["axis"], t.rank, ctx)
    return [TensorType(t.dtype, t.shape[:axis] + idx.shape + t.shape[axis + 1:])]


@OPS.define("Gather", infer=_infer_gather, attrs={"axis": 0}, inputs=(2, 2))
def gather(ctx, x, indices):
    return np.take(x, indices.astype(np.int64), axis=ctx.attrs["axis"])


def _infer_gather_elements(ctx):
    return [TensorType(_in(ctx).dtype, _in(ctx, 1).shape)]


@OPS.define("GatherElements", infer=_infer_gather_elements, attrs={"axis": 0}, inputs=(2, 2))
def gather_elements(ctx, x, indices):
    axis = ctx.attrs["axis"] % x.ndim
    indices = np.where(indices < 0, indices + x.shape[axis], indices)
    return np.take_along_axis(x, indices.astype(np.int64), axis=axis)


def _infer_gather_nd(ctx):
    t, idx, b = _in(ctx), _in(ctx, 1), ctx.attrs["batch_dims"]
    if t.shape is None or idx.shape is None or not isinstance(idx.shape[-1], int):
        return [TensorType(t.dtype, None)]
    return [TensorType(t.dtype, idx.shape[:-1] + t.shape[b + idx.shape[-1]:])]


@OPS.define("GatherND", infer=_infer_gather_nd, attrs={"batch_dims": 0}, inputs=(2, 2))
def gather_nd(ctx, x, indices):
    b, k = ctx.attrs["batch_dims"], indices.shape[-1]
    batch = x.shape[:b]
    xs = x.reshape((-1,) + x.shape[b:])
    ids = indices.reshape((-1,) + indices.shape[b:]).astype(np.int64)
    ids = np.where(ids < 0, ids + np.array(x.shape[b:b + k]), ids)
    out = [xb[tuple(np.moveaxis(ib, -1, 0))] for xb, ib in zip(xs, ids)]
    tail = indices.shape[b:-1] + x.shape[b + k:]
    return np.stack(out).reshape(batch + tail) if out else np.zeros(batch + tail, x.dtype)


_REDUCERS = {"add": np.add, "mul": np.multiply, "max": np.maximum, "min": np.minimum}


def _scatter(out: np.ndarray, index: tuple, updates: np.ndarray, reduction: str) -> np.ndarray:
    if reduction == "none":
        out[index] = updates
    else:
        _REDUCERS[reduction].at(out, index, updates)
    return out


@OPS.define("ScatterND", infer=same_as_input(0), attrs={"reduction": "none"}, inputs=(3, 3))
def scatter_nd(ctx, x, indices, updates):
    k = indices.shape[-1]
    ids = indices.reshape(-1, k).astype(np.int64)
    ids = np.where(ids < 0, ids + np.array(x.shape[:k]), ids)
    updates = updates.reshape((len(ids),) + x.shape[k:])
    return _scatter(x.copy(), tuple(ids.T), updates, ctx.attrs["reduction"])


@OPS.define("ScatterElements", infer=same_as_input(0), attrs={"axis": 0, "reduction": "none"},
            inputs=(3, 3))
def scatter_elements(ctx, x, indices, updates):
    axis = ctx.attrs["axis"] % x.ndim
    index = list(np.indices(indices.shape, sparse=True))
    index[axis] = np.where(indices < 0, indices + x.shape[axis], indices).astype(np.int64)
    return _scatter(x.copy(), tuple(index), updates, ctx.attrs["reduction"])



# ---- padding, broadcasting, repetition ----------------------------------------------------------
def _pad_widths(rank: int, pads: list[int], axes: Optional[list[int]]) -> list[tuple[int, int]]:
    axes = list(range(rank)) if axes is None else _norm_axes(axes, rank)
    widths = [(0, 0)] * rank
    for i, axis in enumerate(axes):
        widths[axis] = (pads[i], pads[i + len(axes)])
    return widths


def _infer_pad(ctx):
    t, pads = _in(ctx), _ints(ctx.const(1))
    if t.shape is None:
        return [TensorType(t.dtype, None)]
    axes = _ints(ctx.const(3)) if _has(ctx, 3) else None
    if pads is None or (_has(ctx, 3) and axes is None):
        return [TensorType(t.dtype, (None,) * t.rank)]
    dims = tuple(d + lo + hi if isinstance(d, int) else (d if lo == hi == 0 else None)
                 for d, (lo, hi) in zip(t.shape, _pad_widths(t.rank, pads, axes)))
    return [TensorType(t.dtype, dims)]


@OPS.define("Pad", infer=_infer_pad, attrs={"mode": "constant"}, inputs=(2, 4))
def pad(ctx, x, pads, constant_value=None, axes=None):
    widths = _pad_widths(x.ndim, _ints(pads), axes)
    crop = tuple(slice(max(-lo, 0), d - max(-hi, 0)) for d, (lo, hi) in zip(x.shape, widths))
    x = x[crop]  # negative pads remove elements
    widths = [(max(lo, 0), max(hi, 0)) for lo, hi in widths]
    mode = ctx.attrs["mode"]
    if mode == "constant":
        value = 0 if constant_value is None or constant_value.size == 0 else constant_value.reshape(-1)[0]
        return np.pad(x, widths, mode="constant", constant_values=value).astype(x.dtype, copy=False)
    return np.pad(x, widths, mode=mode)


def _infer_expand(ctx):
    t, shape = _in(ctx), _ints(ctx.const(1))
    if shape is None:
        n = _in(ctx, 1).shape
        if t.shape is None or not n or not isinstance(n[0], int):
            return [TensorType(t.dtype, None)]
        target: list[Dim] = [None] * n[0]
    else:
        target = shape
    if t.shape is None:
        return [TensorType(t.dtype, (None,) * max(len(target), 0))]
    return [TensorType(t.dtype, broadcast_dims([t.shape, tuple(target)]))]


@OPS.define("Expand", infer=_infer_expand, inputs=(2, 2))
def expand(ctx, x, shape):
    return np.broadcast_to(x, np.broadcast_shapes(x.shape, tuple(_ints(shape)))).copy()


def _infer_tile(ctx):
    t, reps = _in(ctx), _ints(ctx.const(1))
    if t.shape is None or reps is None:
        return [TensorType(t.dtype, None if t.shape is None else (None,) * t.rank)]
    return [TensorType(t.dtype, tuple(d * r if isinstance(d, int) else (d if r == 1 else None)
                                      for d, r in zip(t.shape, reps)))]


@OPS.define("Tile", infer=_infer_tile, inputs=(2, 2))
def tile(ctx, x, repeats):
    return np.tile(x, _ints(repeats))


def _range_length(start, limit, delta) -> int:
    return max(int(math.ceil((float(limit) - float(start)) / float(delta))), 0)


def _infer_range(ctx):
    dtype = _in(ctx).dtype
    values = [ctx.const(i) for i in range(3)]
    if any(v is None for v in values):
        return [TensorType(dtype, (None,))]
    return [TensorType(dtype, (_range_length(*(np.asarray(v).reshape(-1)[0] for v in values)),))]


@OPS.define("Range", infer=_infer_range, attrs={"stash_type": "f32"}, inputs=(3, 3))
def range_(ctx, start, limit, delta):
    """Integers step exactly; floats accumulate in f64 (in `stash_type` for f16/bf16) like ONNX."""
    start, limit, delta = (np.asarray(v).reshape(-1)[0] for v in (start, limit, delta))
    n = _range_length(start, limit, delta)
    dtype = np.asarray(start).dtype
    if dtype.kind in "iu":
        return (start + np.arange(n, dtype=dtype) * delta).astype(dtype)
    compute = np.float64
    if dtype.itemsize == 2:
        stash = ctx.attrs["stash_type"]
        compute = np.float64 if stash in ("f64", DType.F64, 11) else np.float32
    return (compute(start) + np.arange(n, dtype=compute) * compute(delta)).astype(dtype)


# ---- shape queries and constants ----------------------------------------------------------------
def _shape_bounds(rank: int, start: int, end: Optional[int]) -> tuple[int, int]:
    def clamp(v):
        return min(max(v + rank if v < 0 else v, 0), rank)
    return clamp(start), clamp(rank if end is None else end)


def _infer_shape(ctx):
    t = _in(ctx)
    if t.shape is None:
        return [TensorType(I64, (None,))]
    lo, hi = _shape_bounds(t.rank, ctx.attrs["start"], ctx.attrs["end"])
    return [TensorType(I64, (max(hi - lo, 0),))]


@OPS.define("Shape", infer=_infer_shape, attrs={"start": 0, "end": None}, inputs=(1, 1))
def shape(ctx, x):
    lo, hi = _shape_bounds(x.ndim, ctx.attrs["start"], ctx.attrs["end"])
    return np.array(x.shape[lo:hi], dtype=np.int64)


@OPS.define("Size", infer=lambda ctx: [TensorType(I64, ())], inputs=(1, 1))
def size(ctx, x):
    return np.array(x.size, dtype=np.int64)


def _fill_value(value) -> np.ndarray:
    return np.zeros(1, np.float32) if value is None else np.asarray(value).reshape(-1)[:1]


def _infer_constant_of_shape(ctx):
    dtype = DType.from_numpy(_fill_value(ctx.attrs["value"]).dtype)
    shape = _ints(ctx.const(0))
    if shape is None:
        n = _in(ctx).shape
        return [TensorType(dtype, (None,) * n[0] if n and isinstance(n[0], int) else None)]
    return [TensorType(dtype, tuple(shape))]


@OPS.define("ConstantOfShape", infer=_infer_constant_of_shape, attrs={"value": None}, inputs=(1, 1))
def constant_of_shape(ctx, shape):
    value = _fill_value(ctx.attrs["value"])
    return np.full(_ints(shape), value[0], dtype=value.dtype)


_CONSTANT_ATTRS = {"value": None, "value_float": None, "value_floats": None, "value_int": None,
                   "value_ints": None, "value_string": None, "value_strings": None,
                   "sparse_value": None}


def _constant_value(attrs) -> np.ndarray:
    given = [k for k, v in attrs.items() if v is not None]
    if len(given) != 1:
        raise ValueError(f"Constant needs exactly one value attribute, got {given}")
    key, value = given[0], attrs[given[0]]
    if key == "value":
        return np.asarray(value)
    if key in ("value_float", "value_floats"):
        return np.asarray(value, dtype=np.float32)
    if key in ("value_int", "value_ints"):
        return np.asarray(value, dtype=np.int64)
    if key in ("value_string", "value_strings"):
        return np.asarray(value, dtype=object)
    raise ValueError("sparse Constant values are not supported; the frontend densifies them")


@OPS.define("Constant", infer=lambda ctx: [TensorType.of(_constant_value(ctx.attrs))],
            attrs=_CONSTANT_ATTRS, inputs=(0, 0))
def constant(ctx):
    return _constant_value(ctx.attrs).copy()


def _infer_eye_like(ctx):
    t = _in(ctx)
    dtype = DType.parse(ctx.attrs["dtype"]) if ctx.attrs["dtype"] else t.dtype
    return [TensorType(dtype, t.shape)]


@OPS.define("EyeLike", infer=_infer_eye_like, attrs={"dtype": None, "k": 0}, inputs=(1, 1))
def eye_like(ctx, x):
    dtype = DType.parse(ctx.attrs["dtype"]).numpy if ctx.attrs["dtype"] else x.dtype
    return np.eye(x.shape[0], x.shape[1], ctx.attrs["k"], dtype=dtype)


def _infer_one_hot(ctx):
    idx, depth = _in(ctx), ctx.const(1)
    dtype = _in(ctx, 2).dtype
    if idx.shape is None:
        return [TensorType(dtype, None)]
    axis = normalize_axis(ctx.attrs["axis"], idx.rank + 1, ctx)
    d = None if depth is None else int(np.asarray(depth).reshape(-1)[0])
    return [TensorType(dtype, idx.shape[:axis] + (d,) + idx.shape[axis:])]


@OPS.define("OneHot", infer=_infer_one_hot, attrs={"axis": -1}, inputs=(3, 3))
def one_hot(ctx, indices, depth, values):
    depth = int(np.asarray(depth).reshape(-1)[0])
    axis = ctx.attrs["axis"] % (indices.ndim + 1)
    idx = indices.astype(np.int64)
    idx = np.where(idx < 0, idx + depth, idx)
    classes = np.arange(depth).reshape((-1,) + (1,) * (indices.ndim - axis))
    hot = np.expand_dims(idx, axis) == classes
    off, on = values.reshape(-1)[:2]
    return np.where(hot, on, off).astype(values.dtype)


# ---- data-dependent shapes ----------------------------------------------------------------------
def _infer_nonzero(ctx):
    rank = _in(ctx).rank
    return [TensorType(I64, (None if rank is None else max(rank, 1), None))]


@OPS.define("NonZero", infer=_infer_nonzero, inputs=(1, 1))
def nonzero(ctx, x):
    """A scalar counts as a one-element vector, as onnxruntime treats it."""
    x = x.reshape(-1) if x.ndim == 0 else x
    return np.array(np.nonzero(x), dtype=np.int64).reshape(x.ndim, -1)


def _infer_topk(ctx):
    t, k = _in(ctx), ctx.const(1)
    if t.shape is None:
        shape = None
    else:
        axis = normalize_axis(ctx.attrs["axis"], t.rank, ctx)
        kk = None if k is None else int(np.asarray(k).reshape(-1)[0])
        shape = t.shape[:axis] + (kk,) + t.shape[axis + 1:]
    return [TensorType(t.dtype, shape), TensorType(I64, shape)]


@OPS.define("TopK", infer=_infer_topk, attrs={"axis": -1, "largest": 1, "sorted": 1}, inputs=(2, 2))
def topk(ctx, x, k):
    """Ties keep the lower index first, as ONNX specifies, for largest and smallest alike."""
    k = int(np.asarray(k).reshape(-1)[0])
    axis = ctx.attrs["axis"] % x.ndim
    if ctx.attrs["largest"]:
        n = x.shape[axis]
        flipped = np.flip(x, axis)
        order = n - 1 - np.flip(np.argsort(flipped, axis=axis, kind="stable"), axis)
    else:
        order = np.argsort(x, axis=axis, kind="stable")
    indices = np.take(order, np.arange(k), axis=axis)
    return np.take_along_axis(x, indices, axis=axis), indices.astype(np.int64)


def _infer_compress(ctx):
    t, axis = _in(ctx), ctx.attrs["axis"]
    cond = ctx.const(1)
    count = None if cond is None else int(np.count_nonzero(cond))
    if axis is None or t.shape is None:
        return [TensorType(t.dtype, (count,) if axis is None else None)]
    axis = normalize_axis(axis, t.rank, ctx)
    return [TensorType(t.dtype, t.shape[:axis] + (count,) + t.shape[axis + 1:])]


@OPS.define("Compress", infer=_infer_compress, attrs={"axis": None}, inputs=(2, 2))
def compress(ctx, x, condition):
    return np.compress(condition.astype(bool).reshape(-1), x, axis=ctx.attrs["axis"])


def _infer_unique(ctx):
    t, axis = _in(ctx), ctx.attrs["axis"]
    if axis is None or t.shape is None:
        y = (None,) if axis is None else (None if t.shape is None else (None,) * t.rank)
    else:
        axis = normalize_axis(axis, t.rank, ctx)
        y = t.shape[:axis] + (None,) + t.shape[axis + 1:]
    if axis is None:
        n = t.numel if t.shape is not None and t.is_static else None
    else:
        n = t.shape[axis] if t.shape is not None else None
    return [TensorType(t.dtype, y), TensorType(I64, (None,)), TensorType(I64, (n,)),
            TensorType(I64, (None,))][: max(ctx.num_outputs, 1)]


@OPS.define("Unique", infer=_infer_unique, attrs={"axis": None, "sorted": 1}, inputs=(1, 1))
def unique(ctx, x):
    axis = ctx.attrs["axis"]
    data = x.reshape(-1) if axis is None else x
    y, first, inverse, counts = np.unique(data, return_index=True, return_inverse=True,
                                          return_counts=True, axis=axis)
    inverse = inverse.reshape(-1)
    if not ctx.attrs["sorted"]:  # order of first occurrence
        order = np.argsort(first, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        y = np.take(y, order, axis=0 if axis is None else axis)
        first, counts, inverse = first[order], counts[order], rank[inverse]
    as_i64 = [a.astype(np.int64) for a in (first, inverse, counts)]
    return (y.astype(x.dtype), *as_i64)[: max(ctx.num_outputs, 1)]


# ---- layout and structure -----------------------------------------------------------------------
def _infer_depth_to_space(ctx):
    t, b = _in(ctx), ctx.attrs["blocksize"]
    if t.shape is None:
        return [TensorType(t.dtype, (None,) * 4)]
    n, c, h, w = t.shape
    scale = (lambda d: d * b if isinstance(d, int) else None)
    return [TensorType(t.dtype, (n, c // (b * b) if isinstance(c, int) else None, scale(h), scale(w)))]


@OPS.define("DepthToSpace", infer=_infer_depth_to_space, attrs={"blocksize": REQUIRED, "mode": "DCR"},
            inputs=(1, 1))
def depth_to_space(ctx, x):
    b = ctx.attrs["blocksize"]
    n, c, h, w = x.shape
    if ctx.attrs["mode"] == "DCR":
        y = x.reshape(n, b, b, c // (b * b), h, w).transpose(0, 3, 4, 1, 5, 2)
    else:
        y = x.reshape(n, c // (b * b), b, b, h, w).transpose(0, 1, 4, 2, 5, 3)
    return y.reshape(n, c // (b * b), h * b, w * b)


def _infer_space_to_depth(ctx):
    t, b = _in(ctx), ctx.attrs["blocksize"]
    if t.shape is None:
        return [TensorType(t.dtype, (None,) * 4)]
    n, c, h, w = t.shape
    shrink = (lambda d: d // b if isinstance(d, int) else None)
    return [TensorType(t.dtype, (n, c * b * b if isinstance(c, int) else None, shrink(h), shrink(w)))]


@OPS.define("SpaceToDepth", infer=_infer_space_to_depth,
            attrs={"blocksize": REQUIRED, "mode": "DCR"}, inputs=(1, 1))
def space_to_depth(ctx, x):
    b = ctx.attrs["blocksize"]
    n, c, h, w = x.shape
    y = x.reshape(n, c, h // b, b, w // b, b)
    y = y.transpose(0, 3, 5, 1, 2, 4) if ctx.attrs["mode"] == "DCR" else y.transpose(0, 1, 3, 5, 2, 4)
    return y.reshape(n, c * b * b, h // b, w // b)


@OPS.define("Trilu", infer=same_as_input(0), attrs={"upper": 1}, inputs=(1, 2))
def trilu(ctx, x, k=None):
    k = 0 if k is None else int(np.asarray(k).reshape(-1)[0])
    return (np.triu if ctx.attrs["upper"] else np.tril)(x, k)


@OPS.define("ReverseSequence", infer=same_as_input(0), attrs={"batch_axis": 1, "time_axis": 0},
            inputs=(2, 2))
def reverse_sequence(ctx, x, lengths):
    batch_axis, time_axis = ctx.attrs["batch_axis"], ctx.attrs["time_axis"]
    y = x.copy()
    for b, n in enumerate(_ints(lengths)):
        index = [slice(None)] * x.ndim
        index[batch_axis], index[time_axis] = b, slice(0, n)
        y[tuple(index)] = np.flip(x[tuple(index)], axis=time_axis - (batch_axis < time_axis))
    return y


def _infer_center_crop_pad(ctx):
    t, target = _in(ctx), _ints(ctx.const(1))
    if t.shape is None:
        return [TensorType(t.dtype, None)]
    axes = list(range(t.rank)) if ctx.attrs["axes"] is None else \
        [normalize_axis(a, t.rank, ctx) for a in ctx.attrs["axes"]]
    dims = list(t.shape)
    for i, axis in enumerate(axes):
        dims[axis] = None if target is None else target[i]
    return [TensorType(t.dtype, tuple(dims))]


@OPS.define("CenterCropPad", infer=_infer_center_crop_pad, attrs={"axes": None}, inputs=(2, 2))
def center_crop_pad(ctx, x, target):
    """Crops or zero-pads each axis around its centre; odd surplus goes to the end."""
    axes = range(x.ndim) if ctx.attrs["axes"] is None else _norm_axes(ctx.attrs["axes"], x.ndim)
    src = [slice(None)] * x.ndim
    dst = [slice(None)] * x.ndim
    out_shape = list(x.shape)
    for axis, size in zip(axes, _ints(target)):
        dim = x.shape[axis]
        offset = abs(dim - size) // 2
        window = slice(offset, offset + min(dim, size))
        (src if size < dim else dst)[axis] = window
        out_shape[axis] = size
    y = np.zeros(out_shape, dtype=x.dtype)
    y[tuple(dst)] = x[tuple(src)]
    return y


def _infer_col2im(ctx):
    t, image = _in(ctx), _ints(ctx.const(1))
    if t.shape is None:
        return [TensorType(t.dtype, None)]
    block = _ints(ctx.const(2))
    n, cb = t.shape[0], t.shape[1]
    c = cb // int(np.prod(block)) if block is not None and isinstance(cb, int) else None
    spatial = tuple(image) if image is not None else (None,) * (_in(ctx, 1).shape or (0,))[0]
    return [TensorType(t.dtype, (n, c) + spatial)]


@OPS.define("Col2Im", infer=_infer_col2im, attrs={"dilations": None, "pads": None, "strides": None},
            inputs=(3, 3))
def col2im(ctx, x, image_shape, block_shape):
    """Sums each column back into its image window: the adjoint of im2col."""
    image, block = _ints(image_shape), _ints(block_shape)
    nd = len(image)
    dil = list(ctx.attrs["dilations"] or [1] * nd)
    stride = list(ctx.attrs["strides"] or [1] * nd)
    pads = list(ctx.attrs["pads"] or [0] * (2 * nd))
    padded = [image[i] + pads[i] + pads[i + nd] for i in range(nd)]
    grid = [(padded[i] - dil[i] * (block[i] - 1) - 1) // stride[i] + 1 for i in range(nd)]
    n, c = x.shape[0], x.shape[1] // int(np.prod(block))
    cols = x.reshape([n, c] + block + grid)
    y = np.zeros([n, c] + padded, dtype=x.dtype)
    for offset in np.ndindex(*block):
        window = tuple(slice(o * d, o * d + (g - 1) * s + 1, s)
                       for o, d, g, s in zip(offset, dil, grid, stride))
        y[(slice(None), slice(None)) + window] += cols[(slice(None), slice(None)) + offset]
    crop = tuple(slice(pads[i], pads[i] + image[i]) for i in range(nd))
    return y[(slice(None), slice(None)) + crop]
