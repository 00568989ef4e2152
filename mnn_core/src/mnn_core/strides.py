"""Index arithmetic every backend's lowering needs: contiguous strides, numpy broadcasting as
strides, and merging of dimensions so kernels do fewer index divisions. Strides count elements."""
from __future__ import annotations

from typing import Sequence


def contiguous_strides(shape: Sequence[int]) -> list[int]:
    """Row-major strides of a dense tensor of `shape`."""
    out, acc = [], 1
    for d in reversed(shape):
        out.append(acc)
        acc *= d
    return out[::-1]


def broadcast_strides(shape: Sequence[int], target: Sequence[int]) -> list[int]:
    """Strides that read a dense tensor of `shape` as `target` (0 along broadcast dims)."""
    shape = (1,) * (len(target) - len(shape)) + tuple(shape)
    return [0 if d == 1 and t != 1 else s for d, t, s in zip(shape, target, contiguous_strides(shape))]


def collapse(shape: Sequence[int], *stride_sets: Sequence[int]) -> tuple[list[int], list[list[int]]]:
    """Drop size-1 dims and merge neighbours contiguous in every stride set.

    Returns the new shape and one stride list per given set; a scalar becomes shape [1]."""
    merged: list[tuple[int, list[int]]] = []
    for i, d in enumerate(shape):
        if d == 1:
            continue
        ss = [s[i] for s in stride_sets]
        if merged and all(p == s * d for p, s in zip(merged[-1][1], ss)):
            merged[-1] = (merged[-1][0] * d, ss)
        else:
            merged.append((d, ss))
    if not merged:
        return [1], [[0] for _ in stride_sets]
    return [d for d, _ in merged], [[ss[k] for _, ss in merged] for k in range(len(stride_sets))]
