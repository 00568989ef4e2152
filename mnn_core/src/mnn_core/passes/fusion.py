"""Passes that fold arithmetic into weights or replace op patterns by one fused op.

Every rewrite checks that the tensors it swallows are private (one reader, not a graph output) and
that the fused op exists in the context's op registry, so a pattern is left alone rather than
rewritten approximately.
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

from ..ir import Graph, Node, TensorType
from ..ops.fused import FUSABLE
from .rewrite import Matcher, add_constant, const, each_graph, index_of, infer, prune, scalar


def _finish(graph: Graph, changed: bool) -> bool:
    """Rewrites mark the node they swallow by clearing its outputs; drop those and what fed only them."""
    if changed:
        graph.nodes = [n for n in graph.nodes if n.outputs]
        prune(graph)
    return changed


# ---- Conv + BatchNormalization / per-channel Mul and Add -----------------------------------------
def _conv_weights(graph: Graph, conv: Node):
    """(W, b) of a Conv with constant weights and no fused activation, b zeros when omitted."""
    if conv.attrs.get("activation"):
        return None
    w = const(graph, conv.inputs[1]) if len(conv.inputs) > 1 else None
    if w is None or w.dtype.kind != "f" or w.ndim < 3:
        return None
    if len(conv.inputs) > 2 and conv.inputs[2]:
        b = const(graph, conv.inputs[2])
        if b is None:
            return None
    else:
        b = np.zeros(w.shape[0], w.dtype)
    return w, b


def _set_conv_weights(graph: Graph, conv: Node, w: np.ndarray, b: np.ndarray, output: str) -> None:
    base = conv.name or conv.outputs[0]
    conv.inputs = [conv.inputs[0], add_constant(graph, f"{base}.weight", w),
                   add_constant(graph, f"{base}.bias", b)]
    conv.outputs = [output]


@each_graph
def fold_conv_batchnorm(graph: Graph, ctx) -> bool:
    """Fold inference BatchNormalization into the weights and bias of the Conv before it."""
    m = Matcher(graph)
    changed = False
    for bn in [n for n in graph.nodes if n.op == "BatchNormalization" and not n.domain]:
        conv = m.make(bn.inputs[0], "Conv")
        if (conv is None or not m.private(bn.inputs[0]) or bn.attrs.get("training_mode")
                or any(o for o in bn.outputs[1:])):
            continue
        weights = _conv_weights(graph, conv)
        params = [const(graph, n) for n in bn.inputs[1:5]]
        if weights is None or any(p is None for p in params):
            continue
        w, b = weights
        scale, shift, mean, var = (p.astype(np.float64).reshape(-1) for p in params)
        if not all(p.size in (1, w.shape[0]) for p in (scale, shift, mean, var)):
            continue
        s = scale / np.sqrt(var + float(bn.attrs.get("epsilon", 1e-5)))
        s = np.broadcast_to(s, (w.shape[0],))
        new_w = (w * s.reshape(-1, *[1] * (w.ndim - 1))).astype(w.dtype)
        new_b = ((b - mean) * s + shift).astype(w.dtype)
        _set_conv_weights(graph, conv, new_w, new_b, bn.outputs[0])
        bn.outputs = []
        changed = True
    return _finish(graph, changed)


def _per_channel(value: np.ndarray, rank: int, channels: int) -> Optional[np.ndarray]:
    """`value` as a (channels,) vector when it broadcasts against an NC... tensor on axis 1 only."""
    if value.ndim > rank:
        return None
    shape = (1,) * (rank - value.ndim) + value.shape
    if any(d != 1 for i, d in enumerate(shape) if i != 1) or shape[1] not in (1, channels):
        return None
    return np.broadcast_to(value.reshape(-1).astype(np.float64), (channels,))


@each_graph
def fold_conv_affine(graph: Graph, ctx) -> bool:
    """Fold a per-channel constant Mul or Add after a Conv into its weights and bias."""
    m = Matcher(graph)
    changed = False
    for node in [n for n in graph.nodes if n.op in ("Mul", "Add") and not n.domain]:
        for src, other in ((node.inputs[0], node.inputs[1]), (node.inputs[1], node.inputs[0])):
            conv = m.make(src, "Conv")
            value = const(graph, other)
            if conv is None or value is None or not m.private(src):
                continue
            weights = _conv_weights(graph, conv)
            if weights is None or value.dtype != weights[0].dtype:
                continue
            w, b = weights
            c = _per_channel(value, w.ndim, w.shape[0])
            if c is None:
                continue
            if node.op == "Mul":
                w, b = (w * c.reshape(-1, *[1] * (w.ndim - 1))).astype(w.dtype), (b * c).astype(b.dtype)
            else:
                b = (b + c).astype(b.dtype)
            _set_conv_weights(graph, conv, w, b, node.outputs[0])
            node.outputs = []
            m = Matcher(graph)
            changed = True
            break
    return _finish(graph, changed)


# ---- MatMul + Add -> Gemm ----------------------------------------------------------------------
@each_graph
def fuse_matmul_add(graph: Graph, ctx) -> bool:
    """MatMul by a constant 2-D weight plus a bias on the last axis becomes Gemm.

    A left operand of rank 2 feeds Gemm directly. A higher-rank one with a static shape is flattened
    to 2-D by a Reshape before the Gemm and restored after it: reshapes are free and the bias add
    rides in the GEMM. Otherwise MatMul and Add stay as they are.
    """
    if "Gemm" not in ctx.ops or "Reshape" not in ctx.ops:
        return False
    types = infer(graph, ctx)
    m = Matcher(graph)
    changed = False
    for add in [n for n in graph.nodes if n.op == "Add" and not n.domain]:
        for src, other in ((add.inputs[0], add.inputs[1]), (add.inputs[1], add.inputs[0])):
            mm = m.make(src, "MatMul")
            if mm is None or not m.private(src) or mm.attrs.get("activation"):
                continue
            a, w, bias = mm.inputs[0], const(graph, mm.inputs[1]), const(graph, other)
            a_type = types.get(a)
            if (w is None or bias is None or w.ndim != 2 or w.dtype.kind != "f" or bias.dtype != w.dtype
                    or a_type is None or a_type.rank is None or a_type.rank < 2
                    or bias.ndim > a_type.rank or any(d != 1 for d in bias.shape[:-1])
                    or bias.size not in (1, w.shape[1])):
                continue
            if a_type.rank > 2 and not a_type.is_static:
                continue
            _to_gemm(graph, mm, add, a_type, bias.reshape(-1))
            changed = True
            break
    return _finish(graph, changed)


def _to_gemm(graph: Graph, mm: Node, add: Node, a_type: TensorType, bias: np.ndarray) -> None:
    out, base = add.outputs[0], mm.name or mm.outputs[0]
    bias_name = add_constant(graph, f"{base}.bias", bias)
    add.outputs = []
    if a_type.rank == 2:
        mm.op, mm.inputs, mm.outputs, mm.attrs = "Gemm", [mm.inputs[0], mm.inputs[1], bias_name], [out], {}
        return
    k, n = graph.constants[mm.inputs[1]].shape
    at = index_of(graph, mm)
    flatten = [mm.inputs[0], add_constant(graph, f"{base}/flat_shape", np.array([-1, k], np.int64))]
    # Q, K and V projections share their input: flatten it once
    first = next((r for r in graph.nodes[:at] if r.op == "Reshape" and r.inputs == flatten), None)
    new: list[Node] = []
    if first is None:
        first = Node("Reshape", flatten, [graph.fresh_name(f"{base}/flat")])
        graph.types[first.outputs[0]] = TensorType(a_type.dtype, (a_type.numel // k, k))
        new.append(first)
    flat_out = graph.fresh_name(f"{base}/gemm")
    graph.types[flat_out] = TensorType(a_type.dtype, (a_type.numel // k, n))
    new.append(Node("Gemm", [first.outputs[0], mm.inputs[1], bias_name], [flat_out], name=mm.name))
    new.append(Node("Reshape", [flat_out, add_constant(graph, f"{base}/out_shape",
                                                       np.array([*a_type.shape[:-1], n], np.int64))], [out]))
    graph.nodes[at:at + 1] = new


# ---- activation fusion -------------------------------------------------------------------------
FUSE_INTO = ("Conv", "ConvTranspose", "Gemm", "MatMul")


def _activation_params(graph: Graph, act: Node, ops) -> Optional[tuple[float, ...]]:
    """The `activation_params` of a fusable activation node, None when they are not constants."""
    attrs = ops.get(act.op).resolve_attrs(act)
    if act.op == "Clip":
        bounds = []
        for i, default in ((1, -math.inf), (2, math.inf)):
            name = act.inputs[i] if len(act.inputs) > i else ""
            value = scalar(graph, name) if name else default
            if value is None:
                return None
            bounds.append(value)
        return tuple(bounds)
    if act.op == "LeakyRelu":
        return (float(attrs["alpha"]),)
    if act.op == "HardSigmoid":
        return (float(attrs["alpha"]), float(attrs["beta"]))
    return ()


@each_graph
def fuse_activations(graph: Graph, ctx) -> bool:
    """Fold an activation into the Conv/ConvTranspose/Gemm/MatMul before it (x*Sigmoid(x) as SiLU).

    A Reshape between a Gemm and its activation is allowed: the activation is elementwise.
    """
    m = Matcher(graph)
    changed = False
    for act in list(graph.nodes):
        if act.domain or not act.outputs:
            continue
        found = _silu(m, act) if act.op == "Mul" else (
            (act.inputs[0], act.op) if act.op in FUSABLE and act.op in ctx.ops else None)
        if found is None:
            continue
        src, kind = found
        producer, reshape = m.make(src, *FUSE_INTO), None
        if producer is None and (reshape := m.make(src, "Reshape")) is not None:
            producer = m.make(reshape.inputs[0], "Gemm", "MatMul")
            if producer is not None and not m.private(reshape.inputs[0]):
                producer = None
        if (producer is None or producer.attrs.get("activation") or producer.op not in ctx.ops
                or "activation" not in ctx.ops.get(producer.op).attrs
                or not (m.private(src) or kind == "SiLU")):
            continue
        params = () if kind == "SiLU" else _activation_params(graph, act, ctx.ops)
        if params is None:
            continue
        producer.attrs = {**producer.attrs, "activation": kind, "activation_params": params}
        (reshape or producer).outputs = [act.outputs[0]]
        act.outputs = []
        m = Matcher(graph)
        changed = True
    return _finish(graph, changed)


def _silu(m: Matcher, mul: Node) -> Optional[tuple[str, str]]:
    """(x, "SiLU") for Mul(x, Sigmoid(x)) where x is read only by these two nodes."""
    for x, s in (mul.inputs[:2], mul.inputs[1::-1]):
        sig = m.make(s, "Sigmoid")
        if (sig is not None and sig.inputs[0] == x and m.private(s) and m.counts.get(x) == 2
                and x not in m.graph.outputs):
            return x, "SiLU"
    return None
