"""Channel-blocked layout (csrc/blocked.cpp) for chains of 1x1 and depthwise convs.

A tensor [N, C, H, W] in the blocked layout is [N, ceil(C/8), H, W, 8]. Depthwise convs are the
reason: there every tap is one vector multiply-add of 8 channels at any map size or stride. The
1x1 convs next to them read and write the same layout without packing, and the activations,
elementwise ops and global pools between them run on it unchanged. A stem conv of few input
channels reads the planar image and writes blocks (`stem_blocked`), so a MobileNet runs from its
input to its pooling in one layout; reorders sit only where a chain meets planar ops.

Runs after lowering, before the native plan: candidate ops are grouped into connected chains; a
chain goes blocked when it holds a depthwise conv and few reorders at its edges (`MNN_CPU_LAYOUT`:
`auto` (default), `blocked` (every chain with a conv), `planar`). Pad lanes of a partial last
block are kept finite (reorders write 0, convs have zero weights and biases there), which is why
only ops that map every finite value to a finite value join a chain. Planar 1x1 convs left outside
the chains may still use the blocked tile through `pw_planar` (_planar_pointwise).
"""
from __future__ import annotations

import os
from dataclasses import replace
from math import prod
from typing import Optional, Sequence

import numpy as np

from mnn_core.dtypes import DType
from mnn_core.ir import TensorType

from .lowering import Env, LOp, Unsupported, collapse

BLOCK = 8
SUFFIX = "::nc8"
# Unary codes (lowering.UNARY_CODES, ACT_CODES) finite for every finite input: pad lanes, which a
# scalar Add may have moved off 0, stay finite (not Sqrt, Log, Reciprocal, Exp).
SAFE_UNARY = {1, 2, 3, 4, 5, 6, 7, 8, 20, 23, 24, 26}
SAFE_BINARY = {"Add", "Sub", "Mul", "Max", "Min"}
BINARY_CODES = {"Add": 0, "Sub": 1, "Mul": 2, "Max": 4, "Min": 5}
GLOBAL_POOLS = {"GlobalAveragePool": 1, "GlobalMaxPool": 2}


def _mode() -> str:
    mode = os.environ.get("MNN_CPU_LAYOUT", "auto")
    if mode not in ("auto", "blocked", "planar"):
        raise Unsupported(f"MNN_CPU_LAYOUT={mode!r} is not one of auto, blocked, planar")
    return mode


def _cpad(c: int) -> int:
    return -(-c // BLOCK) * BLOCK


def conv_kind(lop: LOp) -> Optional[str]:
    """'pw' (1x1, stride 1, no pads, one group), 'dw' (depthwise), 'stem' (few input channels) or
    None."""
    if lop.kind != "conv" or len(lop.ints) < 18:
        return None
    N, C, H, W, M, OH, OW, KH, KW, SH, SW, DH, DW, PT, PL, G, act, _ = lop.ints[:18]
    if act > 5:
        return None
    if (KH, KW, SH, SW, PT, PL, G) == (1, 1, 1, 1, 0, 0, 1) and (OH, OW) == (H, W):
        return "pw"
    if G == C == M:
        return "dw"
    taps = C * KH * KW
    if G == 1 and DW == 1 and SW <= 2 and KH * KW > 1 and (taps <= 64 or (C <= 4 and taps <= 160)):
        return "stem"  # few input channels (conv.cpp direct_ok): planar in, blocked out
    return None


class _Layout:
    def __init__(self, lops: list[LOp], env: Env, outputs: Sequence[str]) -> None:
        self.lops, self.env, self.outputs = lops, env, set(outputs)
        self.producer = {name: i for i, lop in enumerate(lops) for name in lop.outputs}
        self.consumers: dict[str, list[int]] = {}
        for i, lop in enumerate(lops):
            for name in dict.fromkeys(lop.inputs):
                self.consumers.setdefault(name, []).append(i)

    def shape4(self, name: str) -> Optional[tuple]:
        t = self.env.types.get(name)
        if t is None or not t.is_static or t.dtype is not DType.F32 or len(t.shape) != 4:
            return None
        return tuple(t.shape)

    def operands(self, i: int) -> Optional[list[tuple[str, str]]]:
        """(name, role) of op i's inputs if it can run blocked: role 'full' (a blocked tensor of
        the output's shape), 'chan' (per channel, [N or 1, C, 1, 1]), 'scalar' or 'weight'."""
        lop = self.lops[i]
        y = lop.outputs[0] if len(lop.outputs) == 1 else None
        ys = self.shape4(y) if y else None
        if ys is None:
            return None
        if lop.kind == "conv":
            kind = conv_kind(lop)
            if kind is None or self.shape4(lop.inputs[0]) is None:
                return None
            return [(lop.inputs[0], "planar" if kind == "stem" else "full")]
        op = lop.node.op if lop.node is not None else ""
        if lop.kind == "unary" and lop.ints[1] in SAFE_UNARY and self.shape4(lop.inputs[0]) == ys:
            return [(lop.inputs[0], "full")]
        if lop.kind == "reduce" and op in GLOBAL_POOLS and self.shape4(lop.inputs[0]):
            return [(lop.inputs[0], "full")]
        if lop.kind == "binary" and op in SAFE_BINARY and len(lop.inputs) == 2:
            roles = []
            for name in lop.inputs:
                t = self.env.types.get(name)
                if t is None or not t.is_static or t.dtype is not DType.F32 or len(t.shape) > 4:
                    return None
                s = (1,) * (4 - len(t.shape)) + tuple(t.shape)
                if s == ys:
                    role = "full"
                elif s[1] == ys[1] and s[2:] == (1, 1) and s[0] in (1, ys[0]) and ys[1] > 1:
                    role = "chan"
                elif prod(s) == 1:
                    role = "scalar"
                else:
                    return None
                roles.append((name, role))
            return roles if any(r == "full" for _, r in roles) else None
        return None

    def chains(self, candidates: dict[int, list]) -> list[list[int]]:
        parent = {i: i for i in candidates}

        def find(i):
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        for i, roles in candidates.items():
            for name, role in roles:
                j = self.producer.get(name)
                if role in ("full", "chan") and j in candidates:
                    parent[find(i)] = find(j)
        groups: dict[int, list[int]] = {}
        for i in candidates:
            groups.setdefault(find(i), []).append(i)
        return [sorted(g) for g in groups.values()]

    def edges(self, chain: list[int], candidates) -> int:
        """Reorders a chain needs: activations entering it and results leaving it."""
        members = set(chain)
        count = 0
        seen = set()
        for i in chain:
            for name, role in candidates[i]:
                if role in ("full", "chan") and self.producer.get(name) not in members \
                        and name not in self.env.values and name not in seen:
                    seen.add(name)
                    count += 1
            for name in self.lops[i].outputs:
                if name in self.outputs or any(j not in members for j in self.consumers.get(name, [])):
                    count += 1
        return count


def to_blocked_layout(lops: list[LOp], env: Env, outputs: Sequence[str]) -> tuple[list[LOp], Env]:
    """Rewrite chosen chains to blocked ops; returns the ops and an Env knowing the new tensors."""
    mode = _mode()
    if mode == "planar":
        return [_planar_pointwise(lop) for lop in lops], env
    layout = _Layout(lops, env, outputs)
    candidates = {i: roles for i in range(len(lops)) if (roles := layout.operands(i)) is not None}
    chosen: set[int] = set()
    for chain in layout.chains(candidates):
        kinds = [conv_kind(lops[i]) for i in chain]
        convs = sum(k is not None for k in kinds)
        if convs == 0:
            continue
        if mode == "auto" and ("dw" not in kinds or convs < 2 or layout.edges(chain, candidates) * 2 > convs):
            continue
        chosen.update(chain)
    if chosen:
        lops, env = _rewrite(lops, env, outputs, candidates, chosen)
    return [_planar_pointwise(lop) for lop in lops], env


def _planar_pointwise(lop: LOp) -> LOp:
    """A planar 1x1 conv that reduces channels (K >= M: projections, squeezes) or reads many
    (K >= 128) on a map of >= 24 positions runs through the blocked tile (`pw_planar`, input and
    output transposed per chunk of pixels): squeezes 15-20%, projections ~10%, squeezenet's
    512 -> 1000 head 4% faster than the GEMM (AVX2, 1 thread); expansions from few channels are
    not. The GEMM stays a variant the tuner measures."""
    alt = lop.variants.get("pwplanar") if lop.kind == "conv" else None
    if alt is None:
        return lop
    N, K, M, P = alt.ints[:4]
    return replace(alt, variants=lop.variants) if K >= min(M, 128) and P >= 24 else lop


def _residual_add(i, lops, candidates, chosen, consumers, outputs, blocked) -> Optional[tuple[int, str]]:
    """(index of the Add, its other operand) when conv i's output is read only by a chosen Add of
    two same-shape tensors whose other operand is already in blocked form."""
    y = lops[i].outputs[0]
    readers = consumers.get(y, [])
    if len(readers) != 1 or y in outputs:
        return None
    j = readers[0]
    add = lops[j]
    if j not in chosen or add.kind != "binary" or add.node is None or add.node.op != "Add":
        return None
    roles = candidates[j]
    if [r for _, r in roles] != ["full", "full"] or len({n for n, _ in roles}) != 2:
        return None
    other = roles[1][0] if roles[0][0] == y else roles[0][0]
    return (j, other) if other in blocked else None


def _rewrite(lops, env: Env, outputs, candidates, chosen) -> tuple[list[LOp], Env]:
    types = dict(env.types)
    values = dict(env.values)
    blocked: dict[str, str] = {}  # planar name -> its blocked tensor
    planar = set()  # names a chosen op produced that have been reordered back
    made_blocked = set()  # names chosen ops produced (planar form absent until reordered)
    out: list[LOp] = []

    def shape4(name: str) -> tuple:
        shape = tuple(types[name].shape)
        return (1,) * (4 - len(shape)) + shape

    def to_blocked(name: str, node) -> str:
        if name in blocked:
            return blocked[name]
        bname = name + SUFFIX
        N, C, H, W = shape4(name)
        types[bname] = TensorType(DType.F32, (N, _cpad(C), H, W))
        if name in values:  # a constant operand: reordered once here
            padded = np.zeros((N, _cpad(C), H * W), np.float32)
            padded[:, :C] = np.asarray(values[name], np.float32).reshape(N, C, H * W)
            blocks = padded.reshape(N, _cpad(C) // BLOCK, BLOCK, H * W).transpose(0, 1, 3, 2)
            values[bname] = np.ascontiguousarray(blocks).reshape(N, _cpad(C), H, W)
        else:
            out.append(LOp("reorder", [name], [bname], [N, C, H * W, 0], node=node))
        blocked[name] = bname
        return bname

    def to_planar(name: str, node) -> None:
        if name in made_blocked and name not in planar:
            N, C, H, W = types[name].shape
            out.append(LOp("reorder", [blocked[name]], [name], [N, C, H * W, 1], node=node))
            planar.add(name)

    consumers: dict[str, list[int]] = {}
    for i, lop in enumerate(lops):
        for name in dict.fromkeys(lop.inputs):
            consumers.setdefault(name, []).append(i)
    absorbed: set[int] = set()
    for i, lop in enumerate(lops):
        if i in absorbed:
            continue
        if i not in chosen:
            for name in lop.inputs:
                to_planar(name, lop.node)
            out.append(lop)
            continue
        y = lop.outputs[0]
        N, C, H, W = types[y].shape
        by = y + SUFFIX
        types[by] = TensorType(DType.F32, (N, _cpad(C), H, W))
        roles = candidates[i]
        if lop.kind == "conv" and conv_kind(lop) == "stem":  # reads its input planar
            to_planar(lop.inputs[0], lop.node)
            new = LOp("stem_blocked", [lop.inputs[0]], [by], list(lop.ints[:18]), list(lop.floats),
                      list(lop.weights), lop.node, cost=lop.cost)
        elif lop.kind == "conv":
            x = to_blocked(lop.inputs[0], lop.node)
            n, c, h, w, m, oh, ow, kh, kw, sh, sw, dh, dw, pt, pl, g, act, has_bias = lop.ints[:18]
            if conv_kind(lop) == "pw":
                new = LOp("pw_blocked", [x], [by], [n, c, m, h * w, act, has_bias], list(lop.floats),
                          list(lop.weights), lop.node, cost=lop.cost)
                skip = _residual_add(i, lops, candidates, chosen, consumers, outputs, blocked)
                if skip is not None:  # the residual Add joins the conv: y = act(conv) + skip
                    j, other = skip
                    absorbed.add(j)
                    y = lops[j].outputs[0]
                    by = y + SUFFIX
                    types[by] = TensorType(DType.F32, (N, _cpad(C), H, W))
                    new.inputs.append(blocked[other])
                    new.outputs = [by]
                    new.ints.append(1)
            else:
                new = LOp("dw_blocked", [x], [by], [n, c, h, w, oh, ow, kh, kw, sh, sw, dh, dw, pt, pl, act,
                                                   has_bias], list(lop.floats), list(lop.weights), lop.node,
                          cost=lop.cost)
        elif lop.kind == "unary":
            x = to_blocked(lop.inputs[0], lop.node)
            new = LOp("unary", [x], [by], [N * _cpad(C) * H * W, lop.ints[1]], list(lop.floats), node=lop.node)
        elif lop.kind == "reduce":
            x = to_blocked(lop.inputs[0], lop.node)
            xn, xc, xh, xw = types[lop.inputs[0]].shape
            new = LOp("gap_blocked", [x], [by], [xn, _cpad(xc) // BLOCK, xh * xw, GLOBAL_POOLS[lop.node.op]],
                      node=lop.node)
        elif sorted(r for _, r in roles) == ["chan", "full"]:  # e.g. squeeze-excite scaling
            (a, ra), (b, rb) = roles
            names = [to_blocked(a, lop.node), to_blocked(b, lop.node)]
            chan = a if ra == "chan" else b
            new = LOp("chan_binary", names, [by], [BINARY_CODES[lop.node.op], N, _cpad(C) // BLOCK, H * W,
                                                   int(shape4(chan)[0] == N and N > 1), int(ra == "chan")],
                      node=lop.node)
        else:  # binary
            cb, p = _cpad(C) // BLOCK, H * W
            names, strides = [], []
            for name, role in roles:
                if role == "full":
                    names.append(to_blocked(name, lop.node))
                    strides.append([cb * p * BLOCK, p * BLOCK, BLOCK, 1])
                elif role == "chan":
                    names.append(to_blocked(name, lop.node))
                    n_op = shape4(name)[0]
                    strides.append([cb * BLOCK if n_op == N and N > 1 else 0, BLOCK, 0, 1])
                else:  # a scalar: element 0 of its planar or blocked form
                    names.append(blocked.get(name, name))
                    strides.append([0, 0, 0, 0])
            shape, (sa, sb) = collapse([N, cb, p, BLOCK], *strides)
            new = LOp("binary", names, [by], [BINARY_CODES[lop.node.op], len(shape), *shape, *sa, *sb],
                      node=lop.node)
        out.append(new)
        blocked[y] = by
        made_blocked.add(y)
    for name in outputs:
        to_planar(name, None)
    return out, Env(types, values)
