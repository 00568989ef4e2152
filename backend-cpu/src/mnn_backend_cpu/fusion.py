"""Fusions over lowered ops (after `lowering.lower`, before the native plan is built).

Inverted residual (csrc/fused_ir.cpp): an expansion 1x1 conv whose output is read only by a
depthwise conv becomes one `conv_ir` op that computes the expansion in L2-sized bands of rows and
runs the depthwise conv on each band at once, so the expanded tensor never goes to memory.
`MNN_CPU_FUSE_IR`: `off` (default), `auto` (when the expanded tensor is larger than the L2 share it
would have to stay in), `on` (every match). Off by default: on this machine (EPYC, 512 KiB L2 per
core, 32 MiB L3) it measured no faster than the two ops (mobilenet_v2 1 thread: 16->96 at 112x112
+ dw stride 2, 1.08-1.45 ms fused vs 1.14 ms apart; 24->144 at 56x56 + dw, 0.66-0.89 vs 0.65):
the expanded tensor stays in L3 between the unfused ops, and the band-sized GEMMs lose more than
the traffic saves.
"""
from __future__ import annotations

import os
from collections import Counter
from typing import Sequence

import numpy as np

from .lowering import LOp, Unsupported

# Below this many bytes the expanded tensor stays in L2 between the two ops anyway (7x7 and 14x14
# maps), and the unfused ops keep their small-map algorithms.
AUTO_MIN_BYTES = 1 << 20


def _mode() -> str:
    mode = os.environ.get("MNN_CPU_FUSE_IR", "off")
    if mode not in ("auto", "on", "off"):
        raise Unsupported(f"MNN_CPU_FUSE_IR={mode!r} is not one of auto, on, off")
    return mode


def _is_expansion(lop: LOp) -> bool:
    if lop.kind != "conv" or len(lop.ints) < 18:
        return False
    N, C, H, W, M, OH, OW, KH, KW, SH, SW, DH, DW, PT, PL, G = lop.ints[:16]
    return (KH, KW, SH, SW, PT, PL, G) == (1, 1, 1, 1, 0, 0, 1) and (OH, OW) == (H, W)


def _is_depthwise_of(lop: LOp, exp: LOp) -> bool:
    if lop.kind != "conv" or len(lop.ints) < 18 or lop.inputs != exp.outputs:
        return False
    N, C, H, W, M = lop.ints[:5]
    return C == M == lop.ints[15] and (N, C, H, W) == (exp.ints[0], exp.ints[4], *exp.ints[2:4])


def _params(lop: LOp) -> list[float]:
    return (list(lop.floats) + [0.0, 0.0])[:2]


def _weights(lop: LOp) -> list[np.ndarray]:
    M = lop.ints[4]
    bias = lop.weights[1] if lop.ints[17] else np.zeros(M, np.float32)
    return [lop.weights[0], bias]


def fuse_inverted_residuals(lops: list[LOp], outputs: Sequence[str]) -> list[LOp]:
    mode = _mode()
    if mode == "off":
        return lops
    reads = Counter(name for lop in lops for name in lop.inputs)
    keep = set(outputs)
    out: list[LOp] = []
    i = 0
    while i < len(lops):
        exp = lops[i]
        dw = lops[i + 1] if i + 1 < len(lops) else None
        if (dw is not None and _is_expansion(exp) and _is_depthwise_of(dw, exp)
                and reads[exp.outputs[0]] == 1 and exp.outputs[0] not in keep
                and (mode == "on" or 4 * exp.ints[0] * exp.ints[4] * exp.ints[2] * exp.ints[3] >= AUTO_MIN_BYTES)):
            out.append(LOp("conv_ir", [exp.inputs[0]], list(dw.outputs), exp.ints[:18] + dw.ints[:18],
                           _params(exp) + _params(dw), _weights(exp) + _weights(dw), dw.node,
                           cost=exp.cost + dw.cost))
            i += 2
            continue
        out.append(exp)
        i += 1
    return out
