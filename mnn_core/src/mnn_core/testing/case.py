"""Declarative op cases: what a conformance test feeds one op (or a small graph) and how closely a
backend must match the numpy reference kernels.

A case names the op, its attributes and one `Input` spec per input; `OpCase.build` turns it into a
graph plus random feeds seeded from the case id, so every run of every backend sees the same data.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from ..dtypes import DType
from ..ir import Graph, Node, TensorType


@dataclass(frozen=True)
class Tolerance:
    rtol: float
    atol: float


TOL = {"normal": Tolerance(1e-5, 1e-5), "high": Tolerance(1e-5, 1e-5), "low": Tolerance(1e-2, 1e-2)}
"""Elementwise ops: one rounding per element; "low" allows fp16 arithmetic (11-bit mantissa)."""
ACCUMULATING = {"normal": Tolerance(1e-4, 1e-4), "high": Tolerance(1e-5, 1e-5),
                "low": Tolerance(3e-2, 5e-2)}
"""Ops that sum many products (Conv, Gemm, reductions, normalisation): summation order differs."""


@dataclass(frozen=True)
class Input:
    """One op input. Random data of `shape`/`dtype` in [low, high], or a fixed `value`.

    `const` inputs are graph constants (weights, axes, shape tensors), known at plan time as in
    converted models; the others are fed at run time. `omitted` stands for an absent optional input.
    """

    shape: tuple[int, ...] = ()
    dtype: str = "float32"
    low: float = -1.0
    high: float = 1.0
    value: Optional[np.ndarray] = field(default=None, compare=False)
    const: bool = False
    omitted: bool = False

    def make(self, rng: np.random.Generator) -> np.ndarray:
        if self.value is not None:
            return np.asarray(self.value)
        dt = np.dtype(self.dtype)
        if dt == np.bool_:
            return rng.random(self.shape) < 0.5
        if np.issubdtype(dt, np.integer):
            return rng.integers(int(self.low), int(self.high) + 1, self.shape).astype(dt)
        return rng.uniform(self.low, self.high, self.shape).astype(dt)


def x(*shape: int, dtype: str = "float32", low: float = -1.0, high: float = 1.0) -> Input:
    """A run-time input with random data."""
    return Input(tuple(shape), dtype, low, high)


def w(*shape: int, dtype: str = "float32", low: float = -1.0, high: float = 1.0) -> Input:
    """A constant input with random data (weights)."""
    return Input(tuple(shape), dtype, low, high, const=True)


def c(value: Any, dtype: str = "int64") -> Input:
    """A constant input with a fixed value (axes, pads, shapes, scales, indices)."""
    array = np.asarray(value, dtype=dtype)
    return Input(array.shape, str(array.dtype), value=array, const=True)


def fixed(value: Any, dtype: str) -> Input:
    """A run-time input with a fixed value (masks, indices a backend must not see at plan time)."""
    array = np.asarray(value, dtype=dtype)
    return Input(array.shape, str(array.dtype), value=array)


OMIT = Input(omitted=True)


@dataclass(frozen=True)
class OpCase:
    """One conformance case: `op` applied to `inputs` with `attrs`.

    `then` appends more nodes (op, attrs) that each take the previous node's first output as first
    input, for small patterns such as Sigmoid -> Mul. `tol` overrides tolerances per precision.
    """

    op: str
    inputs: tuple[Input, ...]
    attrs: Mapping[str, Any] = field(default_factory=dict)
    label: str = ""
    num_outputs: int = 1
    tol: Mapping[str, Tolerance] = field(default_factory=lambda: TOL)
    then: tuple[tuple[str, Mapping[str, Any], tuple[Input, ...]], ...] = ()

    @property
    def id(self) -> str:
        if self.label:
            return f"{self.op}-{self.label}"
        shapes = ",".join("x".join(map(str, i.shape)) or "s" for i in self.inputs if not i.omitted)
        return f"{self.op}-{shapes}"

    def tolerance(self, precision: str) -> Tolerance:
        return self.tol.get(str(precision), TOL.get(str(precision), TOL["normal"]))

    def ops(self) -> list[str]:
        return [self.op, *(op for op, _, _ in self.then)]

    def build(self) -> tuple[Graph, dict[str, np.ndarray]]:
        """The case as a graph with run-time inputs x0, x1, ... and constants k0, k1, ...; feeds are
        random with a seed derived from the case id."""
        rng = np.random.default_rng(zlib.crc32(self.id.encode()))
        graph = Graph(name=self.id)
        feeds: dict[str, np.ndarray] = {}
        prev: Optional[str] = None
        steps = [(self.op, self.attrs, self.inputs, self.num_outputs)]
        steps += [(op, attrs, ins, 1) for op, attrs, ins in self.then]
        for step, (op, attrs, inputs, num_outputs) in enumerate(steps):
            names = [prev] if prev is not None else []
            for spec in inputs:
                names.append(_add_input(graph, feeds, spec, rng))
            outputs = [f"y{step}_{k}" for k in range(num_outputs)]
            graph.nodes.append(Node(op, names, outputs, dict(attrs), name=f"{op.lower()}{step}"))
            prev = outputs[0]
        graph.outputs = list(graph.nodes[-1].outputs)
        return graph, feeds


def _add_input(graph: Graph, feeds: dict[str, np.ndarray], spec: Input,
               rng: np.random.Generator) -> str:
    if spec.omitted:
        return ""
    value = spec.make(rng)
    if spec.const:
        name = f"k{len(graph.constants)}"
        graph.constants[name] = value
    else:
        name = f"x{len(graph.inputs)}"
        graph.inputs.append(name)
        graph.types[name] = TensorType(DType.from_numpy(value.dtype), tuple(value.shape))
        feeds[name] = value
    return name


def unique_ids(cases: Sequence[OpCase]) -> list[str]:
    """Case ids, with a counter appended where two cases would share one."""
    seen: dict[str, int] = {}
    ids = []
    for case in cases:
        n = seen.get(case.id, 0)
        seen[case.id] = n + 1
        ids.append(case.id if n == 0 else f"{case.id}#{n}")
    return ids

