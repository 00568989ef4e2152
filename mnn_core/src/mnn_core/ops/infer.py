"""Building blocks for op type inference, shared by the op modules."""
from __future__ import annotations

from typing import Optional, Sequence

from ..dtypes import DType
from ..ir import Dim, TensorType
from .schema import InferContext, OpError

UNKNOWN = TensorType(None, None)


def broadcast_dims(shapes: Sequence[Optional[Sequence[Dim]]]) -> Optional[tuple[Dim, ...]]:
    """Numpy-style broadcast of shapes that may hold symbolic or unknown dims."""
    if any(s is None for s in shapes):
        return None
    rank = max((len(s) for s in shapes), default=0)
    result: list[Dim] = []
    for axis in range(rank):
        dims = [s[axis - rank + len(s)] for s in shapes if axis - rank + len(s) >= 0]
        known = {d for d in dims if d != 1}
        if not known:
            result.append(1)
        elif len(known) == 1:
            result.append(known.pop())
        elif None in known or any(isinstance(d, str) for d in known):
            ints = {d for d in known if isinstance(d, int)}
            result.append(ints.pop() if len(ints) == 1 else None)
        else:
            raise OpError(f"shapes {[tuple(s) for s in shapes]} do not broadcast")
    return tuple(result)


def first_dtype(ctx: InferContext) -> Optional[DType]:
    for t in ctx.inputs:
        if t is not None and t.dtype is not None:
            return t.dtype
    return None


def same_as_input(index: int = 0):
    """Every output has the type of input `index` (unary elementwise ops, Identity, ...)."""
    def infer(ctx: InferContext) -> list[TensorType]:
        t = ctx.input(index) or UNKNOWN
        return [TensorType(t.dtype, t.shape)] * ctx.num_outputs
    return infer


def broadcast(dtype: Optional[DType] = None):
    """Output is the broadcast of all inputs; dtype is `dtype` or the first input's."""
    def infer(ctx: InferContext) -> list[TensorType]:
        shapes = [t.shape if t is not None else None for t in ctx.inputs if t is not None]
        return [TensorType(dtype or first_dtype(ctx), broadcast_dims(shapes))]
    return infer


def unknown_shape(dtype: Optional[DType] = None, from_input: Optional[int] = 0):
    """Shape known only at run time; dtype fixed or taken from an input."""
    def infer(ctx: InferContext) -> list[TensorType]:
        dt = dtype
        if dt is None and from_input is not None and ctx.input(from_input) is not None:
            dt = ctx.input(from_input).dtype
        return [TensorType(dt, None)] * ctx.num_outputs
    return infer


def normalize_axis(axis: int, rank: int, ctx: Optional[InferContext] = None) -> int:
    if not -rank <= axis < max(rank, 1):
        message = f"axis {axis} is out of range for rank {rank}"
        raise ctx.fail(message) if ctx else OpError(message)
    return axis % max(rank, 1)
