"""Graph optimisation passes and the pipeline that runs them in registry order."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Optional

from ..ir import Graph
from ..registry import PassContext, PassRegistry
from .decompose import decompose_nodes  # noqa: F401  (for backends that claim only primitives)

MAX_FIXPOINT_ROUNDS = 8


@dataclass(frozen=True)
class PassRecord:
    name: str
    changed: bool
    nodes_before: int
    nodes_after: int
    ms: float


def run_pipeline(graph: Graph, passes: PassRegistry, ctx: PassContext,
                 on_pass: Optional[Callable[[PassRecord], None]] = None) -> list[PassRecord]:
    """Run every registered pass in order (fixpoint passes until they stop changing the graph)."""
    records = []
    for graph_pass in passes:
        rounds = MAX_FIXPOINT_ROUNDS if graph_pass.repeat else 1
        for _ in range(rounds):
            before = len(graph.nodes)
            start = time.perf_counter()
            changed = bool(graph_pass.run(graph, ctx))
            record = PassRecord(graph_pass.name, changed, before, len(graph.nodes),
                                (time.perf_counter() - start) * 1e3)
            records.append(record)
            if on_pass:
                on_pass(record)
            if not changed:
                break
    return records
