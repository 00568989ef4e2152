"""The intermediate representation: a graph of ops over typed tensors.

A `Graph` holds `Node`s in topological order. Tensors are named; a name's `TensorType` (dtype and a
shape whose dims are ints, symbolic names or None for unknown) lives in `Graph.types`, and constant
tensors (weights) live in `Graph.constants`. An empty input name stands for an omitted optional input.
Subgraphs of control-flow ops (If, Loop, Scan) are `Graph` values in a node's attributes; they may read
names of the enclosing graph.
"""
from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass, field
from typing import Any, Iterator, Optional, Union

import numpy as np

from .dtypes import DType

Dim = Union[int, str, None]
"""A dimension: a size, a symbolic name shared between tensors (e.g. "batch"), or None when unknown."""


class GraphError(ValueError):
    """A graph is malformed: a name used before it is produced, a duplicate producer, and so on."""


@dataclass(frozen=True)
class QuantParams:
    """Affine quantisation: real = (q - zero_point) * scale, per tensor or per `axis`."""

    scale: np.ndarray
    zero_point: np.ndarray
    axis: Optional[int] = None

    def __eq__(self, other) -> bool:
        return (isinstance(other, QuantParams) and self.axis == other.axis
                and np.array_equal(self.scale, other.scale)
                and np.array_equal(self.zero_point, other.zero_point))

    def __hash__(self) -> int:
        return hash((self.axis, self.scale.tobytes(), self.zero_point.tobytes()))


@dataclass(frozen=True)
class TensorType:
    """Element type and shape of a tensor. `shape` is None when even the rank is unknown."""

    dtype: Optional[DType]
    shape: Optional[tuple[Dim, ...]] = None
    quant: Optional[QuantParams] = None

    @property
    def rank(self) -> Optional[int]:
        return None if self.shape is None else len(self.shape)

    @property
    def is_static(self) -> bool:
        return self.shape is not None and all(isinstance(d, int) for d in self.shape)

    @property
    def numel(self) -> Optional[int]:
        if not self.is_static:
            return None
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def nbytes(self) -> Optional[int]:
        n = self.numel
        return None if n is None or self.dtype is None else n * self.dtype.itemsize

    @classmethod
    def of(cls, array: np.ndarray) -> "TensorType":
        array = np.asarray(array)
        return cls(DType.from_numpy(array.dtype), tuple(int(d) for d in array.shape))

    def __str__(self) -> str:
        dims = "?" if self.shape is None else "x".join("?" if d is None else str(d) for d in self.shape)
        return f"{self.dtype or '?'}[{dims}]"


@dataclass
class Node:
    """One op application. `attrs` holds plain Python values, numpy arrays or `Graph`s."""

    op: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict[str, Any] = field(default_factory=dict)
    name: str = ""
    domain: str = ""

    def __str__(self) -> str:
        return f"{self.op}({self.name or ','.join(self.outputs)})"

    def subgraphs(self) -> Iterator["Graph"]:
        for value in self.attrs.values():
            if isinstance(value, Graph):
                yield value
            elif isinstance(value, (list, tuple)):
                yield from (v for v in value if isinstance(v, Graph))


@dataclass
class Graph:
    """A computation: named inputs and outputs, nodes in topological order, types and constants."""

    nodes: list[Node] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    types: dict[str, TensorType] = field(default_factory=dict)
    constants: dict[str, np.ndarray] = field(default_factory=dict)
    name: str = "main"
    metadata: dict[str, str] = field(default_factory=dict)

    # ---- queries -------------------------------------------------------------------------------
    def producers(self) -> dict[str, Node]:
        return {out: node for node in self.nodes for out in node.outputs if out}

    def consumers(self) -> dict[str, list[Node]]:
        result: dict[str, list[Node]] = {}
        for node in self.nodes:
            for name in set(node_reads(node)):
                result.setdefault(name, []).append(node)
        return result

    def type_of(self, name: str) -> TensorType:
        if name in self.constants:
            return TensorType.of(self.constants[name])
        return self.types.get(name, TensorType(None, None))

    def op_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for node in self.walk():
            counts[node.op] = counts.get(node.op, 0) + 1
        return counts

    def walk(self) -> Iterator[Node]:
        """Every node, including those of subgraphs."""
        for node in self.nodes:
            yield node
            for sub in node.subgraphs():
                yield from sub.walk()

    def param_count(self) -> int:
        return int(sum(np.asarray(c).size for c in self.constants.values()))

    # ---- edits ---------------------------------------------------------------------------------
    def fresh_name(self, base: str) -> str:
        taken = self._names()
        if base not in taken:
            return base
        for i in itertools.count(1):
            candidate = f"{base}_{i}"
            if candidate not in taken:
                return candidate
        raise AssertionError("unreachable")

    def _names(self) -> set[str]:
        names = set(self.inputs) | set(self.outputs) | set(self.types) | set(self.constants)
        for node in self.nodes:
            names.update(node.outputs)
        return names

    def clone(self) -> "Graph":
        """A deep copy of the structure that shares the (read-only) constant arrays."""
        memo = {id(v): v for v in self.constants.values()}
        return copy.deepcopy(self, memo)

    def validate(self, outer: frozenset[str] = frozenset()) -> None:
        """Check that every name is produced once and before it is read."""
        known = set(outer) | set(self.inputs) | set(self.constants)
        for node in self.nodes:
            for name in node.inputs:
                if name and name not in known:
                    raise GraphError(f"node {node} reads {name!r}, which nothing produces before it")
            for sub in node.subgraphs():
                sub.validate(frozenset(known))
            for name in node.outputs:
                if name and name in known and name not in outer:
                    raise GraphError(f"tensor {name!r} is produced twice (again by {node})")
                if name:
                    known.add(name)
        for name in self.outputs:
            if name not in known:
                raise GraphError(f"graph output {name!r} is never produced")


def node_reads(node: Node) -> list[str]:
    """Names a node reads: its inputs plus the outer names its subgraphs capture."""
    names = [n for n in node.inputs if n]
    for sub in node.subgraphs():
        names.extend(sorted(captured_names(sub)))
    return names


def captured_names(graph: Graph) -> set[str]:
    """Names a (sub)graph reads from its enclosing scope."""
    local = set(graph.inputs) | set(graph.constants)
    captured: set[str] = set()
    for node in graph.nodes:
        for name in node_reads(node):
            if name not in local:
                captured.add(name)
        local.update(o for o in node.outputs if o)
    captured.update(o for o in graph.outputs if o not in local)
    return captured
