"""Runs a graph node by node with the numpy reference kernels: the oracle every backend is tested
against. Values are dropped after their last use so memory stays bounded."""
from __future__ import annotations

import time
from typing import Mapping, Optional, Sequence

import numpy as np

from ..ir import Graph, Node, node_reads
from ..ops.schema import KernelContext, OpError, OpRegistry


class KernelError(RuntimeError):
    """A reference kernel failed; the message names the node and its input shapes."""


class Interpreter:
    def __init__(self, graph: Graph, ops: OpRegistry) -> None:
        self.graph = graph
        self.ops = ops
        self._steps = []
        for node in graph.nodes:
            schema = ops.get(node.op)
            schema.check_arity(node)
            self._steps.append((node, schema.kernel, schema.resolve_attrs(node)))
        self._last_use = self._liveness()
        self._subs: dict[int, Interpreter] = {}

    def _liveness(self) -> list[list[str]]:
        keep = set(self.graph.outputs)
        last: dict[str, int] = {}
        for i, node in enumerate(self.graph.nodes):
            for name in node_reads(node):
                last[name] = i
        drops: list[list[str]] = [[] for _ in self.graph.nodes]
        for name, i in last.items():
            if name not in keep and name not in self.graph.constants:
                drops[i].append(name)
        return drops

    def run(self, feeds: Mapping[str, np.ndarray], scope: Optional[Mapping[str, np.ndarray]] = None,
            profiler=None, backend: str = "reference") -> list[np.ndarray]:
        env: dict[str, np.ndarray] = dict(scope or {})
        env.update(self.graph.constants)
        env.update(feeds)
        for (node, kernel, attrs), drops in zip(self._steps, self._last_use):
            inputs = [env[n] if n else None for n in node.inputs]
            ctx = KernelContext(node, attrs, lambda g, xs, _env=env: self._run_subgraph(g, xs, _env), env)
            start = time.perf_counter_ns() if profiler else 0
            try:
                result = kernel(ctx, *inputs)
            except (OpError, KernelError):
                raise
            except Exception as error:
                shapes = ", ".join("-" if x is None else f"{np.asarray(x).dtype}{list(np.shape(x))}"
                                   for x in inputs)
                raise KernelError(f"{node.op} node {node.name!r} failed on inputs ({shapes}): "
                                  f"{type(error).__name__}: {error}") from error
            if profiler:
                profiler.op(node, backend, start, time.perf_counter_ns())
            results = result if isinstance(result, (tuple, list)) else (result,)
            for name, value in zip(node.outputs, results):
                if name:
                    env[name] = value
            for name in drops:
                env.pop(name, None)
        missing = [n for n in self.graph.outputs if n not in env]
        if missing:
            raise KernelError(f"graph outputs {missing} were not produced")
        return [env[n] for n in self.graph.outputs]

    def _run_subgraph(self, graph: Graph, inputs: Sequence[np.ndarray],
                      scope: Optional[Mapping[str, np.ndarray]] = None) -> list[np.ndarray]:
        sub = self._subs.get(id(graph))
        if sub is None:
            sub = self._subs[id(graph)] = Interpreter(graph, self.ops)
        return sub.run(dict(zip(graph.inputs, inputs)), scope=scope)


def run_node(node: Node, inputs: Sequence[Optional[np.ndarray]], ops: OpRegistry) -> list[np.ndarray]:
    """Run one node with the reference kernel (used by tests and constant folding)."""
    graph = Graph(nodes=[node], inputs=[n for n in node.inputs if n], outputs=[o for o in node.outputs if o])
    feeds = {n: v for n, v in zip(node.inputs, inputs) if n}
    return Interpreter(graph, ops).run(feeds)
