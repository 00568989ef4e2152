"""ReferenceBackend: claims every registered op and runs it with the numpy oracle."""
from __future__ import annotations

from typing import Optional, Sequence

from ..backend import (Backend, BackendConfig, BackendFactory, Claim, DeviceInfo, Executable,
                       GraphView, ProbeResult)
from ..ir import Graph, TensorType
from .interpreter import Interpreter


class ReferenceExecutable(Executable):
    def __init__(self, graph: Graph, view: GraphView) -> None:
        self.interpreter = Interpreter(graph, view.ops)

    def resize(self, input_types: Sequence[TensorType]) -> None:
        pass  # numpy allocates per op; nothing to plan

    def run(self, inputs, profiler=None) -> list:
        graph = self.interpreter.graph
        return self.interpreter.run(dict(zip(graph.inputs, inputs)), profiler=profiler)


class ReferenceBackend(Backend):
    def capability(self, view: GraphView) -> Claim:
        claimed, refused = set(), {}
        for i, node in enumerate(view.graph.nodes):
            if node.op in view.ops:
                claimed.add(i)
            else:
                refused[i] = f"unknown op {node.op}"
        return Claim(frozenset(claimed), refused)

    def compile(self, subgraph: Graph, view: GraphView) -> Executable:
        return ReferenceExecutable(subgraph, view)


class ReferenceFactory(BackendFactory):
    name = "reference"
    priority = -100  # the fallback: every other backend is preferred
    description = "numpy reference kernels (the oracle); runs every op, slowly"

    def probe(self) -> ProbeResult:
        return ProbeResult((DeviceInfo("reference", "numpy", "cpu"),))

    def create(self, device: DeviceInfo, config: BackendConfig) -> Backend:
        return ReferenceBackend(device, config)
