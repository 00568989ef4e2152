"""Passes that simplify without changing what ops compute: folding, dead code, duplicates, no-ops."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..ir import Graph, Node, TensorType
from ..ops.schema import InferContext, KernelContext
from ..shape_inference import NO_EVAL, infer_types
from .rewrite import Matcher, each_graph, infer, prune, replace_uses, subgraph_scopes, use_counts

FOLD_LIMIT = 4 * 1024 * 1024
"""Largest folded result (elements) unless it is no bigger than the constants it replaces."""


# ---- constant folding --------------------------------------------------------------------------
def fold_constants(graph: Graph, ctx) -> bool:
    """Evaluate nodes whose inputs are all constants with the reference kernels."""
    changed = False
    for g, outer in list(subgraph_scopes(graph)):
        changed |= _fold(g, outer, ctx.ops)
    return changed


def _fold(graph: Graph, outer: dict, ops) -> bool:
    changed = False
    kept = []
    for node in graph.nodes:
        values = _foldable_inputs(graph, outer, node)
        results = _evaluate(graph, node, values, ops) if values is not None else None
        if results is None:
            kept.append(node)
            continue
        for name, value in zip(node.outputs, results):
            if name:
                graph.constants[name] = value
                graph.types.pop(name, None)
        changed = True
    graph.nodes = kept
    return changed


def _foldable_inputs(graph: Graph, outer: dict, node: Node):
    if node.op in NO_EVAL or node.domain or any(True for _ in node.subgraphs()):
        return None
    if any(o in graph.inputs for o in node.outputs):
        return None
    values = []
    for name in node.inputs:
        value = graph.constants.get(name, outer.get(name)) if name else None
        if name and value is None:
            return None
        values.append(value)
    return values


def _evaluate(graph: Graph, node: Node, values: list, ops):
    try:
        schema = ops.get(node.op)
        attrs = schema.resolve_attrs(node)
    except Exception:
        return None
    in_size = sum(int(np.size(v)) for v in values if v is not None)
    try:
        types = schema.infer(InferContext(node, [None if v is None else TensorType.of(v) for v in values],
                                          attrs, values))
    except Exception:
        types = []
    if sum(t.numel or 0 for t in types) > max(FOLD_LIMIT, in_size):
        return None  # would bloat the model: leave it to run time
    try:
        result = schema.kernel(KernelContext(node, attrs), *values)
    except Exception:
        return None  # the error surfaces at run time, with context
    results = [np.asarray(r) for r in (result if isinstance(result, (tuple, list)) else (result,))]
    if len(results) < len([o for o in node.outputs if o]):
        return None
    if sum(r.size for r in results) > max(FOLD_LIMIT, in_size):
        return None
    return results


# ---- shape folding -----------------------------------------------------------------------------
def fold_shapes(graph: Graph, ctx) -> bool:
    """Replace values computable from static shapes (Shape, Size, Gather, Concat...) by constants."""
    changed = False
    for g, outer in list(subgraph_scopes(graph)):
        try:
            shapes = ctx.input_shapes if g is graph else None
            _, values = infer_types(g, ctx.ops, shapes, outer_values=outer)
        except Exception:
            continue
        kept = []
        for node in g.nodes:
            outs = [o for o in node.outputs if o]
            if (node.op in NO_EVAL or not outs or any(o not in values for o in outs)
                    or any(o in g.inputs for o in outs) or any(True for _ in node.subgraphs())):
                kept.append(node)
                continue
            for name in outs:
                g.constants[name] = np.asarray(values[name])
                g.types.pop(name, None)
            changed = True
        g.nodes = kept
    return changed


# ---- dead code ---------------------------------------------------------------------------------
def eliminate_dead_code(graph: Graph, ctx=None) -> bool:
    """Drop nodes and constants nothing reads, and types of names that no longer exist."""
    changed = False
    for sub in [s for node in graph.nodes for s in node.subgraphs()]:
        changed |= eliminate_dead_code(sub, ctx)
    before = (len(graph.nodes), len(graph.constants), len(graph.types))
    prune(graph)
    counts = use_counts(graph)
    for name in [n for n in graph.constants if not counts.get(n) and n not in graph.inputs]:
        del graph.constants[name]
    alive = set(graph.inputs) | set(graph.outputs) | {o for n in graph.nodes for o in n.outputs}
    for name in [n for n in graph.types if n not in alive]:
        del graph.types[name]
    return changed or before != (len(graph.nodes), len(graph.constants), len(graph.types))


# ---- common subexpressions ---------------------------------------------------------------------
def _freeze(value: Any):
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(_freeze(v) for v in value))
    if isinstance(value, float) and value != value:
        return ("nan",)
    return (type(value).__name__, value)


@each_graph
def eliminate_common_subexpressions(graph: Graph, ctx) -> bool:
    """Merge nodes with the same op, attributes and inputs, and identical constants."""
    changed = _merge_constants(graph)
    seen: dict[tuple, Node] = {}
    dead: set[int] = set()
    for node in list(graph.nodes):
        if node.op in NO_EVAL or any(True for _ in node.subgraphs()):
            continue
        key = (node.domain, node.op, tuple(node.inputs), len(node.outputs),
               tuple(sorted((k, _freeze(v)) for k, v in node.attrs.items())))
        first = seen.get(key)
        if first is None:
            seen[key] = node
            continue
        if all(replace_uses(graph, dup, keep) for dup, keep in zip(node.outputs, first.outputs)
               if dup and keep):
            dead.add(id(node))
            changed = True
    graph.nodes = [n for n in graph.nodes if id(n) not in dead]
    return changed


def _merge_constants(graph: Graph, limit: int = 1 << 16) -> bool:
    """Identical small constants become one, so nodes reading them can merge too."""
    seen: dict[tuple, str] = {}
    changed = False
    for name in list(graph.constants):
        value = graph.constants[name]
        if value.size > limit or name in graph.inputs or name in graph.outputs:
            continue
        key = _freeze(value)
        if key in seen:
            replace_uses(graph, name, seen[key])
            del graph.constants[name]
            changed = True
        else:
            seen[key] = name
    return changed


# ---- identities and no-ops ---------------------------------------------------------------------
@each_graph
def remove_identities(graph: Graph, ctx) -> bool:
    """Drop Identity, inference Dropout, and Reshape/Transpose/Cast nodes that change nothing."""
    types = infer(graph, ctx)
    changed = _compose_chains(graph)
    dead: set[int] = set()
    for node in list(graph.nodes):
        if not _is_noop(graph, node, types):
            continue
        if node.op == "Dropout" and len(node.outputs) > 1 and node.outputs[1]:
            continue  # the mask is read: keep it
        if replace_uses(graph, node.outputs[0], node.inputs[0]):
            dead.add(id(node))
            changed = True
    graph.nodes = [n for n in graph.nodes if id(n) not in dead]
    return changed


def _is_noop(graph: Graph, node: Node, types: dict[str, TensorType]) -> bool:
    if node.domain or not node.inputs or not node.inputs[0] or not node.outputs:
        return False
    if node.op == "Identity":
        return True
    if node.op == "Dropout":  # inference: no training_mode input, or a constant false one
        mode = graph.constants.get(node.inputs[2]) if len(node.inputs) > 2 and node.inputs[2] else None
        return (len(node.inputs) < 3 or not node.inputs[2]) or (mode is not None and not mode.any())
    if node.op == "Transpose":
        perm = node.attrs.get("perm")
        return perm is not None and list(perm) == list(range(len(perm)))
    if node.op in ("Reshape", "Squeeze", "Unsqueeze", "Flatten", "Cast", "Expand"):
        src, dst = types.get(node.inputs[0]), types.get(node.outputs[0])
        if src is None or dst is None or not src.is_static or not dst.is_static:
            return False
        return src.shape == dst.shape and src.dtype == dst.dtype and src.dtype is not None
    return False


def _compose_chains(graph: Graph) -> bool:
    """Transpose(Transpose(x)) becomes one Transpose of x (often the identity, removed next), and
    Reshape(Reshape(x)) one Reshape of x when the outer shape is explicit (no 0 entries)."""
    m = Matcher(graph)
    changed = False
    for node in graph.nodes:
        if node.domain or not node.inputs or node.op not in ("Transpose", "Reshape"):
            continue
        inner = m.make(node.inputs[0], node.op)
        if inner is None:
            continue
        if node.op == "Transpose":
            outer_perm, inner_perm = node.attrs.get("perm"), inner.attrs.get("perm")
            if outer_perm is None or inner_perm is None or len(outer_perm) != len(inner_perm):
                continue
            node.attrs = {"perm": [int(inner_perm[p]) for p in outer_perm]}
        else:
            shape = graph.constants.get(node.inputs[1]) if len(node.inputs) > 1 else None
            if shape is None or (shape == 0).any() or inner.attrs.get("allowzero"):
                continue
        node.inputs = [inner.inputs[0], *node.inputs[1:]]
        changed = True
    if changed:
        prune(graph)
    return changed
