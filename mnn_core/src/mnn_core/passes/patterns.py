"""Fusion of exported op sequences back into the single ops they spell: LayerNorm, GELU, attention."""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

from ..ir import Graph, Node, TensorType
from .rewrite import Matcher, add_constant, close, const, each_graph, index_of, infer, prune, scalar


def _replace(graph: Graph, last: Node, node: Node) -> None:
    """Put `node` where `last` (the pattern's final node) was; the rest is pruned afterwards."""
    graph.nodes[index_of(graph, last)] = node


# ---- LayerNormalization ------------------------------------------------------------------------
def _reduce_axes(graph: Graph, node: Node) -> Optional[tuple[int, ...]]:
    if node.attrs.get("keepdims", 1) != 1 or len(node.inputs) < 2:
        return None
    axes = const(graph, node.inputs[1])
    return None if axes is None or axes.size == 0 else tuple(int(a) for a in axes.reshape(-1))


@each_graph
def fuse_layer_norm(graph: Graph, ctx) -> bool:
    """ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div [/Mul/Add] becomes LayerNormalization."""
    if "LayerNormalization" not in ctx.ops:
        return False
    types = infer(graph, ctx)
    m = Matcher(graph)
    changed = False
    for mean in [n for n in graph.nodes if n.op == "ReduceMean" and not n.domain]:
        found = _match_layer_norm(graph, m, mean, types)
        if found is not None:
            last, node = found
            _replace(graph, last, node)
            prune(graph)
            m = Matcher(graph)
            changed = True
    return changed


def _match_layer_norm(graph: Graph, m: Matcher, mean: Node, types) -> Optional[tuple[Node, Node]]:
    x, axes = mean.inputs[0], _reduce_axes(graph, mean)
    x_type = types.get(x)
    if axes is None or x_type is None or x_type.rank is None:
        return None
    rank = x_type.rank
    norm = sorted(a % rank for a in axes) if all(-rank <= a < rank for a in axes) else []
    if not norm or norm != list(range(rank - len(norm), rank)):
        return None
    sub = m.sole_reader(mean.outputs[0], "Sub")
    if sub is None or sub.inputs != [x, mean.outputs[0]]:
        return None
    d = sub.outputs[0]
    readers = m.readers.get(d, [])
    if m.counts.get(d) != 2 or d in graph.outputs or len(readers) != 2:
        return None
    square = next((n for n in readers if n.op == "Pow" and n.inputs[0] == d
                   and close(scalar(graph, n.inputs[1]), 2.0, 0)
                   or n.op == "Mul" and n.inputs == [d, d]), None)
    div = next((n for n in readers if n.op == "Div" and n.inputs[0] == d), None)
    if square is None or div is None or square.domain or div.domain:
        return None
    var = m.sole_reader(square.outputs[0], "ReduceMean")
    if var is None or _reduce_axes(graph, var) != axes:
        return None
    add_eps = m.sole_reader(var.outputs[0], "Add")
    eps = scalar(graph, m.other(add_eps, var.outputs[0])) if add_eps is not None else None
    sqrt = m.sole_reader(add_eps.outputs[0], "Sqrt") if eps is not None else None
    if sqrt is None or m.sole_reader(sqrt.outputs[0], "Div") is not div or div.inputs[1] != sqrt.outputs[0]:
        return None
    last, out = div, div.outputs[0]
    scale = bias = None
    mul = m.sole_reader(out, "Mul")
    if mul is not None and const(graph, m.other(mul, out)) is not None:
        scale, last, out = const(graph, m.other(mul, out)), mul, mul.outputs[0]
    add = m.sole_reader(out, "Add")
    if add is not None and const(graph, m.other(add, out)) is not None:
        bias, last, out = const(graph, m.other(add, out)), add, add.outputs[0]
    norm_shape = x_type.shape[rank - len(norm):]
    if not all(isinstance(d, int) for d in norm_shape):
        return None
    dtype = x_type.dtype.numpy if x_type.dtype is not None else np.float32
    params = []
    for value, default in ((scale, 1), (bias, 0)):
        value = np.full(norm_shape, default, dtype) if value is None else value
        lead = value.shape[:max(0, value.ndim - len(norm))]
        if value.dtype != dtype or any(d != 1 for d in lead):
            return None
        try:
            value = np.ascontiguousarray(np.broadcast_to(value.reshape(value.shape[len(lead):]), norm_shape))
        except ValueError:
            return None
        params.append(value)
    base = mean.name or mean.outputs[0]
    names = [add_constant(graph, f"{base}/{what}", value) for what, value in zip(("scale", "bias"), params)]
    node = Node("LayerNormalization", [x, *names], [out],
                {"axis": -len(norm), "epsilon": eps}, name=mean.name)
    return last, node


# ---- GELU --------------------------------------------------------------------------------------
@each_graph
def fuse_gelu(graph: Graph, ctx) -> bool:
    """x * 0.5 * (1 + Erf(x / sqrt(2))), in its usual orderings, becomes Gelu."""
    if "Gelu" not in ctx.ops:
        return False
    m = Matcher(graph)
    changed = False
    for erf in [n for n in graph.nodes if n.op == "Erf" and not n.domain]:
        found = _match_gelu(graph, m, erf)
        if found is not None:
            x, last = found
            _replace(graph, last, Node("Gelu", [x], [last.outputs[0]], name=last.name))
            prune(graph)
            m = Matcher(graph)
            changed = True
    return changed


def _match_gelu(graph: Graph, m: Matcher, erf: Node) -> Optional[tuple[str, Node]]:
    scaled = m.make(erf.inputs[0], "Div", "Mul")
    if scaled is None or not m.private(erf.inputs[0]):
        return None
    x, c = scaled.inputs
    target = math.sqrt(2) if scaled.op == "Div" else 1 / math.sqrt(2)
    if not close(scalar(graph, c), target):
        return None
    one = m.sole_reader(erf.outputs[0], "Add")
    if one is None or not close(scalar(graph, m.other(one, erf.outputs[0])), 1.0, 0):
        return None
    t = one.outputs[0]
    first = m.sole_reader(t, "Mul")
    if first is None:
        return None
    rest = _factors(graph, m, m.other(first, t))
    if rest is None:
        return None
    if sorted(rest, key=str) == sorted([x, 0.5], key=str):
        return x, first
    second = m.sole_reader(first.outputs[0], "Mul")
    if second is None or len(rest) != 1:
        return None
    missing = [f for f in (x, 0.5) if f not in rest]
    last = _factors(graph, m, m.other(second, first.outputs[0]), expand=False)
    return (x, second) if len(missing) == 1 and last == missing else None


def _factors(graph: Graph, m: Matcher, name: Optional[str], expand: bool = True) -> Optional[list]:
    """A Mul operand as a list of factors: tensor names, or floats for scalar constants."""
    if name is None:
        return None
    value = scalar(graph, name)
    if value is not None:
        return [value]
    mul = m.make(name, "Mul") if expand else None
    if mul is not None and m.private(name):
        inner = [_factors(graph, m, n, expand=False) for n in mul.inputs]
        return None if None in inner else inner[0] + inner[1]
    return [name]


# ---- attention ---------------------------------------------------------------------------------
@each_graph
def fuse_attention(graph: Graph, ctx) -> bool:
    """MatMul(Q, Kt) [*|/ scale] [+ mask] -> Softmax -> MatMul(., V) becomes Attention (4-D Q/K/V)."""
    if "Attention" not in ctx.ops:
        return False
    types = infer(graph, ctx)
    m = Matcher(graph)
    changed = False
    for softmax in [n for n in graph.nodes if n.op == "Softmax" and not n.domain]:
        found = _match_attention(graph, m, softmax, types)
        if found is not None:
            last, node, extra = found
            at = index_of(graph, last)
            graph.nodes[at:at + 1] = [*extra, node]
            prune(graph)
            m = Matcher(graph)
            changed = True
    return changed


def _rank4(types, name: str) -> Optional[TensorType]:
    t = types.get(name)
    return t if t is not None and t.rank == 4 else None


def _match_attention(graph: Graph, m: Matcher, softmax: Node, types):
    scores = softmax.inputs[0]
    if softmax.attrs.get("axis", -1) not in (-1, 3) or not m.private(scores):
        return None
    out = m.sole_reader(softmax.outputs[0], "MatMul")
    if out is None or out.inputs[0] != softmax.outputs[0]:
        return None
    mask, name = "", scores
    add = m.make(name, "Add")
    if add is not None:
        mask, name = next(((b, a) for a, b in (add.inputs, add.inputs[::-1])
                           if m.make(a, "Mul", "Div", "MatMul") and m.private(a)), ("", name))
        if not mask:
            return None
    scale, scaling = 1.0, m.make(name, "Mul", "Div")
    if scaling is not None:
        pairs = [scaling.inputs, scaling.inputs[::-1]] if scaling.op == "Mul" else [scaling.inputs]
        for a, b in pairs:
            value = scalar(graph, b)
            if value is not None and value > 0 and m.make(a, "MatMul") and m.private(a):
                scale, name = (value if scaling.op == "Mul" else 1 / value), a
                break
        else:
            return None
    qk = m.make(name, "MatMul")
    if qk is None or not m.private(name):
        return None
    q, kt, v = qk.inputs[0], qk.inputs[1], out.inputs[1]
    if not all(_rank4(types, n) for n in (q, kt, v)):
        return None
    lead = {types[n].shape[:2] for n in (q, kt, v)}
    if len(lead) != 1 or None in next(iter(lead)):
        return None  # MatMul would broadcast batch or heads, which Attention does not
    if mask and (types.get(mask) is None or types[mask].dtype != types[q].dtype
                 or (types[mask].rank or 0) < 2  # Attention's mask spans at least (q, kv)
                 or types.get(scores) is None or types.get(qk.outputs[0]) is None
                 or types[scores].shape != types[qk.outputs[0]].shape):
        return None  # a mask that widens the scores is not an attention mask
    base = out.name or out.outputs[0]
    transpose = m.make(kt, "Transpose")
    k_name = graph.fresh_name(f"{base}/key")
    if transpose is not None and transpose.attrs.get("perm") is not None:
        perm = [int(transpose.attrs["perm"][i]) for i in (0, 1, 3, 2)]
        k_node = Node("Transpose", [transpose.inputs[0]], [k_name], {"perm": perm})
    else:
        k_node = Node("Transpose", [kt], [k_name], {"perm": [0, 1, 3, 2]})
    kt_type = types[kt]
    if kt_type.shape is not None:
        s = kt_type.shape
        graph.types[k_name] = TensorType(kt_type.dtype, (s[0], s[1], s[3], s[2]))
    inputs = [q, k_name, v] + ([mask] if mask else [])
    node = Node("Attention", inputs, [out.outputs[0]], {"scale": float(scale)}, name=out.name)
    return out, node, [k_node]
