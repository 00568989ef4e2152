"""Op schemas: attributes with defaults, type inference, the numpy reference kernel, a decomposition.

An op module declares its ops on an `OpSet`:

    OPS = OpSet()

    @OPS.define("LeakyRelu", attrs={"alpha": 0.01}, infer=same_as_input(0))
    def leaky_relu(ctx, x):
        return np.where(x >= 0, x, x * ctx.attrs["alpha"]).astype(x.dtype)

The kernel receives a `KernelContext` and the input arrays (None for an omitted optional input) and
returns one array or a tuple of arrays. `infer` receives an `InferContext` and returns one `TensorType`
per output. The IR's op names and semantics follow the newest ONNX opset; frontends normalise older
forms (attributes that later became inputs, and so on) when they convert.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Optional, Sequence

import numpy as np

from ..ir import Graph, Node, TensorType

REQUIRED = object()
"""Attribute default meaning "the attribute must be given"."""


class OpError(ValueError):
    """An op is unknown, or a node's attributes, inputs or types are invalid for its op."""


@dataclass
class InferContext:
    """What type inference may look at: input types, attributes, and input values known at plan time."""

    node: Node
    inputs: list[Optional[TensorType]]
    attrs: dict[str, Any]
    values: list[Optional[np.ndarray]]
    """Constant value of each input when known (weights, folded shapes), else None."""

    @property
    def num_outputs(self) -> int:
        return len(self.node.outputs)

    def const(self, index: int) -> Optional[np.ndarray]:
        return self.values[index] if index < len(self.values) else None

    def input(self, index: int) -> Optional[TensorType]:
        return self.inputs[index] if index < len(self.inputs) else None

    def fail(self, message: str) -> OpError:
        return OpError(f"{self.node.op} node {self.node.name or self.node.outputs}: {message}")


@dataclass
class KernelContext:
    """What a reference kernel may look at besides its input arrays."""

    node: Node
    attrs: dict[str, Any]
    run_subgraph: Callable[[Graph, Sequence[np.ndarray]], list[np.ndarray]] = None
    """Runs a subgraph attribute (If/Loop/Scan bodies) with the given graph inputs."""
    scope: dict[str, np.ndarray] = field(default_factory=dict)
    """Values of the enclosing graph that subgraphs may capture."""

    @property
    def num_outputs(self) -> int:
        return len(self.node.outputs)


Kernel = Callable[..., Any]
Infer = Callable[[InferContext], list[TensorType]]
Decompose = Callable[[Node, "DecomposeContext"], list[Node]]


@dataclass
class DecomposeContext:
    """Lets a decomposition name new tensors and constants in the graph it rewrites."""

    graph: Graph

    def fresh(self, base: str) -> str:
        name = self.graph.fresh_name(base)
        self.graph.types.setdefault(name, TensorType(None, None))
        return name

    def constant(self, base: str, value) -> str:
        name = self.graph.fresh_name(base)
        self.graph.constants[name] = np.asarray(value)
        return name


@dataclass(frozen=True)
class OpSchema:
    """Everything the core knows about one op."""

    name: str
    kernel: Kernel
    infer: Infer
    attrs: dict[str, Any] = field(default_factory=dict)
    inputs: tuple[int, int] = (0, 1 << 30)
    """Minimum and maximum number of inputs."""
    decompose: Optional[Decompose] = None
    """Rewrites a node of this op into primitive ops, for backends that don't claim it."""
    doc: str = ""

    def resolve_attrs(self, node: Node) -> dict[str, Any]:
        """The node's attributes with defaults filled in; unknown or missing ones raise OpError."""
        unknown = set(node.attrs) - set(self.attrs)
        if unknown:
            raise OpError(f"{node.op} node {node.name!r}: unknown attribute(s) {sorted(unknown)}; "
                          f"known: {sorted(self.attrs)}")
        attrs = {}
        for key, default in self.attrs.items():
            if key in node.attrs:
                attrs[key] = node.attrs[key]
            elif default is REQUIRED:
                raise OpError(f"{node.op} node {node.name!r}: attribute {key!r} is required")
            else:
                attrs[key] = default
        return attrs

    def check_arity(self, node: Node) -> None:
        lo, hi = self.inputs
        n = len(node.inputs)
        if not lo <= n <= hi:
            want = f"{lo}" if lo == hi else f"{lo} to {hi}"
            raise OpError(f"{node.op} node {node.name!r} has {n} inputs; it takes {want}")


class OpSet:
    """The ops one module declares; `OpRegistry.add_set` merges sets."""

    def __init__(self) -> None:
        self.schemas: list[OpSchema] = []

    def define(self, name: str, *, infer: Infer, attrs: Optional[dict[str, Any]] = None,
               inputs: tuple[int, int] = (0, 1 << 30), decompose: Optional[Decompose] = None,
               aliases: Iterable[str] = ()) -> Callable[[Kernel], Kernel]:
        def register(kernel: Kernel) -> Kernel:
            for op_name in (name, *aliases):
                self.schemas.append(OpSchema(op_name, kernel, infer, dict(attrs or {}), inputs,
                                             decompose, (kernel.__doc__ or "").strip()))
            return kernel
        return register

    def __iter__(self) -> Iterator[OpSchema]:
        return iter(self.schemas)


class OpRegistry:
    """Op name -> schema. A `Context` owns one; plugins add custom ops through `mnn_register_ops`."""

    def __init__(self, schemas: Iterable[OpSchema] = ()) -> None:
        self._schemas: dict[str, OpSchema] = {}
        for schema in schemas:
            self.add(schema)

    def add(self, schema: OpSchema, *, replace: bool = False) -> None:
        if schema.name in self._schemas and not replace:
            raise OpError(f"op {schema.name!r} is defined twice")
        self._schemas[schema.name] = schema

    def add_set(self, op_set: OpSet) -> None:
        for schema in op_set:
            self.add(schema)

    def get(self, name: str) -> OpSchema:
        try:
            return self._schemas[name]
        except KeyError:
            raise OpError(f"unknown op {name!r}") from None

    def __contains__(self, name: str) -> bool:
        return name in self._schemas

    def __iter__(self) -> Iterator[OpSchema]:
        return iter(sorted(self._schemas.values(), key=lambda s: s.name))

    def __len__(self) -> int:
        return len(self._schemas)

    def names(self) -> list[str]:
        return sorted(self._schemas)

    def copy(self) -> "OpRegistry":
        return OpRegistry(self._schemas.values())
