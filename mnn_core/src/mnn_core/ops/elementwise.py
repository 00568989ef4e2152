"""Elementwise arithmetic, comparison and logic ops with numpy broadcasting."""
from __future__ import annotations

import numpy as np

from ..dtypes import DType
from .infer import broadcast, same_as_input
from .schema import OpSet

OPS = OpSet()


def _binary(name: str, fn, dtype=None):
    @OPS.define(name, infer=broadcast(dtype), inputs=(2, 2))
    def kernel(ctx, a, b):
        out = fn(a, b)
        return np.asarray(out, dtype=np.bool_ if dtype is DType.BOOL else a.dtype)
    kernel.__name__ = name
    return kernel


_binary("Add", np.add)
_binary("Sub", np.subtract)
_binary("Mul", np.multiply)


@OPS.define("Div", infer=broadcast(), inputs=(2, 2))
def div(ctx, a, b):
    if np.issubdtype(a.dtype, np.integer):  # integer division truncates toward zero
        return np.trunc(a / b).astype(a.dtype)
    return np.divide(a, b).astype(a.dtype)


@OPS.define("Relu", infer=same_as_input(0), inputs=(1, 1))
def relu(ctx, x):
    return np.maximum(x, 0).astype(x.dtype)
