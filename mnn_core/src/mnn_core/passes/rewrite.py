"""Small graph-editing helpers shared by the passes: use counts, renaming, aliases, pattern checks."""
from __future__ import annotations

from typing import Callable, Iterator, Optional

import numpy as np

from ..ir import Graph, Node, TensorType, captured_names, node_reads
from ..shape_inference import infer_types


def subgraph_scopes(graph: Graph, outer: Optional[dict] = None) -> Iterator[tuple[Graph, dict]]:
    """`graph` and every nested subgraph, each with the constants visible from its enclosing scopes."""
    outer = dict(outer or {})
    yield graph, outer
    inner = {**outer, **graph.constants}
    for node in graph.nodes:
        for sub in node.subgraphs():
            yield from subgraph_scopes(sub, inner)


def each_graph(run: Callable[[Graph], bool]) -> Callable[[Graph, object], bool]:
    """Turn a per-graph rewrite into a pass that also visits subgraphs (rewrites stay local)."""
    def graph_pass(graph: Graph, ctx) -> bool:
        changed = False
        for g, _ in list(subgraph_scopes(graph)):
            changed |= bool(run(g, ctx))
        return changed
    graph_pass.__name__ = run.__name__
    graph_pass.__doc__ = run.__doc__
    return graph_pass


def use_counts(graph: Graph) -> dict[str, int]:
    """How many times each name is read (node inputs, subgraph captures, graph outputs)."""
    counts: dict[str, int] = {}
    for node in graph.nodes:
        for name in node_reads(node):
            counts[name] = counts.get(name, 0) + 1
    for name in graph.outputs:
        counts[name] = counts.get(name, 0) + 1
    return counts


def rename_reads(graph: Graph, old: str, new: str) -> None:
    """Make every reader of `old` (including captures in subgraphs) read `new` instead."""
    for node in graph.nodes:
        node.inputs = [new if n == old else n for n in node.inputs]
        for sub in node.subgraphs():
            if old in captured_names(sub):
                rename_reads(sub, old, new)
    graph.outputs = [new if n == old else n for n in graph.outputs]


def index_of(graph: Graph, node: Node) -> int:
    """Position of `node` by identity (Node equality compares fields, arrays included)."""
    return next(i for i, n in enumerate(graph.nodes) if n is node)


def is_local(graph: Graph, name: str) -> bool:
    return any(name in node.outputs for node in graph.nodes)


def replace_uses(graph: Graph, old: str, new: str) -> bool:
    """Make `old` an alias of `new` and drop it. Returns False when it cannot be done.

    Graph output names are kept: when `old` is an output, `new`'s producer is renamed instead, which
    needs `new` to be made by a node of this graph and not to be an output itself.
    """
    if old == new:
        return True
    if old not in graph.outputs:
        rename_reads(graph, old, new)
        return True
    if new in graph.outputs or new in graph.inputs or not is_local(graph, new):
        return False
    for node in graph.nodes:
        node.outputs = [old if n == new else n for n in node.outputs]
        if old in node.outputs:
            break
    rename_reads(graph, new, old)
    if new in graph.types:
        graph.types[old] = merge_type(graph.types.pop(new), graph.types.get(old))
    return True


def merge_type(a: TensorType, b: Optional[TensorType]) -> TensorType:
    if b is None or (b.shape is None and a.shape is not None):
        return a
    return b


def prune(graph: Graph) -> None:
    """Drop nodes none of whose outputs are read (fusions call it to remove the nodes they replaced)."""
    counts = use_counts(graph)
    kept: list[Node] = []
    for node in reversed(graph.nodes):
        if node.outputs and not any(counts.get(o) for o in node.outputs if o):
            for name in node_reads(node):
                counts[name] -= 1
            continue
        kept.append(node)
    graph.nodes = kept[::-1]


def add_constant(graph: Graph, base: str, value: np.ndarray) -> str:
    """Name a new constant, reusing an equal existing one so repeated rewrites leave nothing to merge."""
    value = np.asarray(value)
    for name, existing in graph.constants.items():
        if (existing.shape == value.shape and existing.dtype == value.dtype
                and name not in graph.inputs and np.array_equal(existing, value)):
            return name
    name = graph.fresh_name(base)
    graph.constants[name] = value
    return name


def const(graph: Graph, name: str) -> Optional[np.ndarray]:
    return graph.constants.get(name) if name else None


def scalar(graph: Graph, name: str) -> Optional[float]:
    """The value of a constant holding a single element, else None."""
    value = const(graph, name)
    if value is None or value.size != 1:
        return None
    return float(value.reshape(()))


def close(value: Optional[float], target: float, tol: float = 1e-4) -> bool:
    return value is not None and abs(value - target) <= tol * max(1.0, abs(target))


def infer(graph: Graph, ctx) -> dict[str, TensorType]:
    """Inferred types, falling back to the declared ones where inference fails."""
    try:
        types, _ = infer_types(graph, ctx.ops, getattr(ctx, "input_shapes", None))
    except Exception:
        types = {}
    return {**graph.types, **{k: v for k, v in types.items() if v is not None}}


class Matcher:
    """Answers the questions pattern rewrites ask: who makes a tensor, who reads it, is it private."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.producer = graph.producers()
        self.counts = use_counts(graph)
        self.readers = graph.consumers()

    def make(self, name: str, *ops: str) -> Optional[Node]:
        node = self.producer.get(name)
        return node if node is not None and node.op in ops and not node.domain else None

    def private(self, name: str) -> bool:
        """Read by exactly one node and not a graph output: its producer can be folded away."""
        return self.counts.get(name, 0) == 1 and name not in self.graph.outputs

    def sole_reader(self, name: str, *ops: str) -> Optional[Node]:
        if not self.private(name):
            return None
        node = self.readers.get(name, [None])[0]
        return node if node is not None and node.op in ops and not node.domain else None

    def other(self, node: Node, name: str) -> Optional[str]:
        """The other input of a binary node, one of whose inputs is `name`."""
        a, b = node.inputs[:2]
        return b if a == name else a if b == name else None
