"""Rewrite ops a backend does not claim into the primitives their schemas decompose into."""
from __future__ import annotations

from typing import Callable

from ..ir import Graph, Node
from ..ops.schema import DecomposeContext, OpError, OpRegistry

MAX_DEPTH = 16
"""Decompositions nested deeper than this are taken to be cyclic."""


def decompose_nodes(graph: Graph, ops: OpRegistry, keep: Callable[[Node], bool]) -> int:
    """Replace every node that `keep` rejects and whose op has a `decompose`, recursively (the
    replacement nodes are checked in turn), in subgraphs too. Returns how many nodes were replaced.

    Nodes without a decomposition, or whose decomposition does not cover their attributes (it
    raises OpError), are left as they are, for the caller to place elsewhere.
    """
    count = 0
    result: list[Node] = []
    pending = [(node, 0) for node in reversed(graph.nodes)]
    while pending:
        node, depth = pending.pop()
        for sub in node.subgraphs():
            count += decompose_nodes(sub, ops, keep)
        schema = ops.get(node.op) if node.op in ops else None
        if keep(node) or schema is None or schema.decompose is None:
            result.append(node)
            continue
        if depth >= MAX_DEPTH:
            raise RecursionError(f"decomposing {node} nests deeper than {MAX_DEPTH} levels")
        try:
            replacement = schema.decompose(node, DecomposeContext(graph))
        except OpError:
            result.append(node)
            continue
        count += 1
        pending.extend((n, depth + 1) for n in reversed(replacement))
    graph.nodes = result
    return count
