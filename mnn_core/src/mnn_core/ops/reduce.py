"""Reductions (axes as an optional input, as in the newest ONNX), ArgMax/ArgMin, CumSum and CumProd.

Sums accumulate in at least f32 (ints in i64) and are cast back, so f16 inputs don't lose precision
to running rounding and integer results wrap like the input type would.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..dtypes import DType
from ..ir import TensorType
from .elementwise import quiet
from .infer import UNKNOWN, normalize_axis
from .schema import InferContext, OpSet

OPS = OpSet()

REDUCE_ATTRS = {"keepdims": 1, "noop_with_empty_axes": 0}


def _accumulator(dtype: np.dtype) -> np.dtype:
    if dtype.kind in "iub":
        return np.dtype(np.uint64 if dtype.kind == "u" else np.int64)
    return np.result_type(dtype, np.float32)  # f16, bf16 -> f32; f32, f64 unchanged


def _mean(x, axes, keep):
    """sum / count, so an empty reduction is a quiet NaN rather than numpy's warning."""
    count = x.size if axes is None else int(np.prod([x.shape[a] for a in axes]))
    return _sum(x, axes, keep) / np.asarray(count, np.float64 if x.dtype.kind in "iu" else x.dtype)


def _lowest(dtype: np.dtype):
    return np.iinfo(dtype).min if dtype.kind in "iu" else False if dtype.kind == "b" else -np.inf


def _highest(dtype: np.dtype):
    return np.iinfo(dtype).max if dtype.kind in "iu" else True if dtype.kind == "b" else np.inf


def _axes(axes: Optional[np.ndarray], rank: int, noop: int) -> Optional[tuple[int, ...]]:
    """Normalised axes; () means "reduce nothing" (noop_with_empty_axes), None "reduce all"."""
    if axes is None or np.size(axes) == 0:
        return () if noop else None
    result = tuple(normalize_axis(int(a), rank) for a in np.asarray(axes).reshape(-1))
    if len(set(result)) != len(result):
        raise ValueError(f"axes {list(result)} repeat an axis")
    return result


def _infer_reduce(ctx: InferContext) -> list[TensorType]:
    """Unknown axes still give the rank when keepdims=1 (or when the axes count is known)."""
    data = ctx.input(0) or UNKNOWN
    keep, noop = ctx.attrs["keepdims"], ctx.attrs["noop_with_empty_axes"]
    has_axes = len(ctx.node.inputs) > 1 and bool(ctx.node.inputs[1])
    axes_value = ctx.const(1) if has_axes else None
    if has_axes and axes_value is None:  # axes known only at run time
        axes_shape = (ctx.input(1) or UNKNOWN).shape
        count = axes_shape[0] if axes_shape is not None and len(axes_shape) == 1 else None
        if data.shape is None or not (keep or isinstance(count, int)):
            return [TensorType(data.dtype, None)]
        if keep:
            return [TensorType(data.dtype, (None,) * len(data.shape))]
        if count == 0:
            return [TensorType(data.dtype, data.shape if noop else ())]
        return [TensorType(data.dtype, (None,) * (len(data.shape) - count))]
    if data.shape is None:  # only "reduce everything and drop the dims" still gives a shape
        reduce_all = (axes_value is None or np.size(axes_value) == 0) and not noop
        return [TensorType(data.dtype, () if reduce_all and not keep else None)]
    rank = len(data.shape)
    try:
        axes = _axes(axes_value, rank, noop)
    except ValueError as error:
        raise ctx.fail(str(error)) from None
    reduced = range(rank) if axes is None else axes
    dims = [1 if i in reduced else d for i, d in enumerate(data.shape)]
    if not keep:
        dims = [d for i, d in enumerate(data.shape) if i not in reduced]
    return [TensorType(data.dtype, tuple(dims))]


def _reduce(name: str, fn, empty=None):
    """`fn(x, axes, keepdims)` on a non-empty tensor; `empty(dtype)` is the value of an empty reduction.

    Empty axes with noop_with_empty_axes reduce nothing but still apply the elementwise parts
    (abs for L1, square for SumSquare, log for LogSum), as the ONNX spec was clarified to say."""
    @OPS.define(name, infer=_infer_reduce, attrs=dict(REDUCE_ATTRS), inputs=(1, 2))
    @quiet
    def kernel(ctx, x, axes=None):
        axes = _axes(axes, x.ndim, ctx.attrs["noop_with_empty_axes"])
        keep = bool(ctx.attrs["keepdims"])
        if x.size == 0 and empty is not None:
            shape = np.sum(np.zeros(x.shape, np.int8), axis=axes, keepdims=keep).shape
            return np.full(shape, empty(x.dtype), x.dtype)
        return np.asarray(fn(x, axes, keep)).astype(x.dtype)
    kernel.__name__ = kernel.__qualname__ = name
    return kernel


def _sum(x, axes, keep):
    return np.sum(x, axis=axes, keepdims=keep, dtype=_accumulator(x.dtype))


def _log_sum_exp(x, axes, keep):
    x = x.astype(_accumulator(x.dtype))
    peak = np.max(x, axis=axes, keepdims=True)
    peak = np.where(np.isfinite(peak), peak, 0)
    total = np.sum(np.exp(x - peak), axis=axes, keepdims=True)
    result = np.log(total) + peak
    return result if keep else np.squeeze(result, axis=axes if axes is not None else None)


_reduce("ReduceSum", _sum)
_reduce("ReduceMean", _mean)
_reduce("ReduceMax", lambda x, a, k: np.max(x, axis=a, keepdims=k), _lowest)
_reduce("ReduceMin", lambda x, a, k: np.min(x, axis=a, keepdims=k), _highest)
_reduce("ReduceProd", lambda x, a, k: np.prod(x, axis=a, keepdims=k, dtype=_accumulator(x.dtype)))
_reduce("ReduceL1", lambda x, a, k: _sum(np.abs(x), a, k))
_reduce("ReduceL2", lambda x, a, k: np.sqrt(_sum(np.square(x.astype(_accumulator(x.dtype))), a, k)))
_reduce("ReduceSumSquare", lambda x, a, k: _sum(np.square(x.astype(_accumulator(x.dtype))), a, k))
_reduce("ReduceLogSum", lambda x, a, k: np.log(_sum(x, a, k)), lambda dtype: -np.inf)
_reduce("ReduceLogSumExp", _log_sum_exp, lambda dtype: -np.inf)


# ---- ArgMax / ArgMin ----------------------------------------------------------------------------
def _infer_arg(ctx: InferContext) -> list[TensorType]:
    data = ctx.input(0) or UNKNOWN
    if data.shape is None:
        return [TensorType(DType.I64, None)]
    axis = normalize_axis(ctx.attrs["axis"], len(data.shape), ctx)
    dims = list(data.shape)
    if ctx.attrs["keepdims"]:
        dims[axis] = 1
    else:
        del dims[axis]
    return [TensorType(DType.I64, tuple(dims))]


def _arg(name: str, fn):
    @OPS.define(name, infer=_infer_arg, attrs={"axis": 0, "keepdims": 1, "select_last_index": 0},
                inputs=(1, 1))
    def kernel(ctx, x):
        """select_last_index picks the last of tied extremes: search the flipped tensor."""
        axis = normalize_axis(ctx.attrs["axis"], x.ndim)
        if ctx.attrs["select_last_index"]:
            index = x.shape[axis] - 1 - fn(np.flip(x, axis), axis=axis)
        else:
            index = fn(x, axis=axis)
        if ctx.attrs["keepdims"]:
            index = np.expand_dims(index, axis)
        return np.asarray(index, np.int64)
    kernel.__name__ = kernel.__qualname__ = name
    return kernel


_arg("ArgMax", np.argmax)
_arg("ArgMin", np.argmin)


# ---- CumSum / CumProd ---------------------------------------------------------------------------
def _infer_cumulative(ctx: InferContext) -> list[TensorType]:
    data = ctx.input(0) or UNKNOWN
    return [TensorType(data.dtype, data.shape)]


def _cumulative(name: str, fn, identity: int):
    @OPS.define(name, infer=_infer_cumulative, attrs={"exclusive": 0, "reverse": 0}, inputs=(2, 2))
    def kernel(ctx, x, axis):
        """`axis` is a 0-d (or one-element) tensor; exclusive results start at the identity."""
        axis = normalize_axis(int(np.asarray(axis).reshape(-1)[0]), x.ndim)
        y = np.flip(x, axis) if ctx.attrs["reverse"] else x
        y = fn(y, axis=axis, dtype=_accumulator(x.dtype))
        if ctx.attrs["exclusive"] and y.shape[axis]:
            y = np.concatenate([np.full_like(np.take(y, [0], axis=axis), identity),
                                np.take(y, range(y.shape[axis] - 1), axis=axis)], axis=axis)
        if ctx.attrs["reverse"]:
            y = np.flip(y, axis)
        return y.astype(x.dtype)
    kernel.__name__ = kernel.__qualname__ = name.lower()
    return kernel


cumsum = _cumulative("CumSum", np.cumsum, 0)
cumprod = _cumulative("CumProd", np.cumprod, 1)
