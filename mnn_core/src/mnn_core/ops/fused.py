"""Activations that passes fuse into Conv, ConvTranspose, Gemm and MatMul-like ops.

A fused node carries ``activation`` (one of `FUSABLE`) and ``activation_params`` (floats) attributes;
its reference kernel calls `apply_activation` on its result. Backends that claim such a node must
honour both attributes (or refuse the node).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

FUSED_ATTRS = {"activation": "", "activation_params": ()}
"""Attribute defaults to merge into the schema of every op that accepts a fused activation."""

FUSABLE = {
    # name: (number of params, meaning)
    "Relu": (0, ""),
    "Clip": (2, "min, max"),
    "LeakyRelu": (1, "alpha"),
    "HardSigmoid": (2, "alpha, beta"),
    "HardSwish": (0, ""),
    "Sigmoid": (0, ""),
    "SiLU": (0, "x * sigmoid(x)"),
    "Tanh": (0, ""),
}


def apply_activation(x: np.ndarray, name: str, params: Sequence[float] = ()) -> np.ndarray:
    if not name:
        return x
    dtype = x.dtype
    if name == "Relu":
        y = np.maximum(x, 0)
    elif name == "Clip":
        lo, hi = params
        y = np.clip(x, lo, hi)
    elif name == "LeakyRelu":
        y = np.where(x >= 0, x, x * params[0])
    elif name == "HardSigmoid":
        alpha, beta = params
        y = np.clip(x * alpha + beta, 0, 1)
    elif name == "HardSwish":
        y = x * np.clip(x / 6 + 0.5, 0, 1)
    elif name == "Sigmoid":
        y = 1 / (1 + np.exp(-x))
    elif name == "SiLU":
        y = x / (1 + np.exp(-x))
    elif name == "Tanh":
        y = np.tanh(x)
    else:
        raise ValueError(f"unknown fused activation {name!r}; known: {sorted(FUSABLE)}")
    return y.astype(dtype, copy=False)
