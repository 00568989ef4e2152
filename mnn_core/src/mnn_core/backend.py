"""The objects a backend plugin provides: a factory, a backend, executables and an allocator.

Lifetimes follow "plan once, run many":

* `BackendFactory` is registered by a plugin. `probe()` is cheap and says which devices exist or why
  none does (missing driver, wrong OS). `create()` makes a `Backend` for one device and one session.
* `Backend.capability(view)` claims the nodes it can run, given their dtypes and shapes;
  the scheduler decides placement; `compile(subgraph)` turns one placed subgraph into an `Executable`.
* `Executable.resize(types)` plans for concrete input types (memory, packing); `run(inputs)` executes
  with one call and returns output buffers.
* `Allocator` owns the backend's memory. Buffers of a backend whose `memory` is not "host" are opaque
  to everyone else; the session inserts `to_device`/`to_host` copies where placement crosses memories.
"""
from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping, Optional, Sequence

import numpy as np

from .ir import Graph, Node, TensorType
from .ops.schema import OpRegistry

PLUGIN_API_VERSION = 1
"""Version of this contract. A plugin declares the version it targets; a mismatch skips the plugin."""

HOST = "host"
"""Memory domain of buffers that are numpy arrays in this process."""


class Precision(str, enum.Enum):
    NORMAL = "normal"
    HIGH = "high"
    LOW = "low"


class PowerMode(str, enum.Enum):
    NORMAL = "normal"
    HIGH = "high"
    LOW = "low"


class BackendUnavailable(RuntimeError):
    """A backend was asked for but has no usable device; the message says why."""


@dataclass(frozen=True)
class DeviceInfo:
    """One device a factory can drive."""

    backend: str
    name: str
    kind: str = "cpu"
    """"cpu", "gpu" or "npu"."""
    memory: str = HOST
    """Memory domain; buffers move between different domains through explicit copies."""
    details: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ProbeResult:
    devices: tuple[DeviceInfo, ...] = ()
    unavailable_reason: Optional[str] = None

    @property
    def available(self) -> bool:
        return bool(self.devices)

    @classmethod
    def unavailable(cls, reason: str) -> "ProbeResult":
        return cls((), reason)


@dataclass(frozen=True)
class BackendConfig:
    precision: Precision = Precision.NORMAL
    power: PowerMode = PowerMode.NORMAL
    threads: Optional[int] = None
    options: Mapping[str, str] = field(default_factory=dict)
    """Backend-specific settings, namespaced: {"cpu.isa": "avx2"}."""


@dataclass(frozen=True)
class GraphView:
    """What a backend sees when it claims: the graph, every tensor's inferred type, the op schemas."""

    graph: Graph
    types: Mapping[str, TensorType]
    ops: OpRegistry

    def type(self, name: str) -> TensorType:
        return self.types.get(name) or self.graph.type_of(name)

    def const(self, name: str) -> Optional[np.ndarray]:
        return self.graph.constants.get(name)

    def node_types(self, node: Node) -> tuple[list[Optional[TensorType]], list[TensorType]]:
        ins = [self.type(n) if n else None for n in node.inputs]
        return ins, [self.type(n) for n in node.outputs]


@dataclass(frozen=True)
class Claim:
    """Nodes (indices into `GraphView.graph.nodes`) that a backend offers to run, with a reason for
    the ones it refused so that plans and strict-mode errors can explain themselves."""

    nodes: frozenset[int]
    refused: Mapping[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CostReport:
    """A backend's estimate for running some nodes; units are in the field names."""

    backend: str
    latency_ms: float
    flops: int = 0
    bytes_moved: int = 0
    init_ms: float = 0.0
    source: str = "model"


class Allocator:
    """Memory of one backend. The host allocator hands out numpy arrays and counts bytes."""

    memory: str = HOST

    def __init__(self) -> None:
        self.bytes_in_use = 0
        self.peak_bytes = 0

    def alloc(self, nbytes: int) -> Any:
        buf = self._alloc(nbytes)
        self.bytes_in_use += nbytes
        self.peak_bytes = max(self.peak_bytes, self.bytes_in_use)
        return buf

    def free(self, buf: Any, nbytes: int) -> None:
        self._free(buf)
        self.bytes_in_use -= nbytes

    def to_device(self, array: np.ndarray) -> Any:
        """Copy a host array into this backend's memory (identity for host memory)."""
        return array

    def to_host(self, buf: Any) -> np.ndarray:
        """Copy a buffer of this backend into a host array (identity for host memory)."""
        return buf

    def _alloc(self, nbytes: int) -> Any:
        return np.empty(nbytes, np.uint8)

    def _free(self, buf: Any) -> None:
        pass


class Executable(ABC):
    """A compiled subgraph. Inputs and outputs follow the order of the subgraph's inputs/outputs."""

    @abstractmethod
    def resize(self, input_types: Sequence[TensorType]) -> None:
        """Plan for these concrete input types; called before the first run and on shape change."""

    @abstractmethod
    def run(self, inputs: Sequence[Any], profiler: Optional["ProfileSink"] = None) -> list[Any]:
        """Run once on buffers of this backend's memory; returns output buffers of the same memory."""

    def planned_bytes(self) -> Optional[int]:
        """Peak bytes of intermediate memory this executable planned in `resize`, if it plans."""
        return None


class ProfileSink(ABC):
    """Receives per-op timings from executables that can time their ops."""

    @abstractmethod
    def op(self, node: Node, backend: str, start_ns: int, end_ns: int) -> None: ...


class Backend(ABC):
    """One device's backend for one session."""

    def __init__(self, device: DeviceInfo, config: BackendConfig) -> None:
        self.device = device
        self.config = config
        self.allocator = self.make_allocator()

    @property
    def name(self) -> str:
        return self.device.backend

    def make_allocator(self) -> Allocator:
        return Allocator()

    @abstractmethod
    def capability(self, view: GraphView) -> Claim:
        """Claim the nodes this backend can run with the given types. Claiming is cheap."""

    @abstractmethod
    def compile(self, subgraph: Graph, view: GraphView) -> Executable:
        """Compile a subgraph made of claimed nodes. Its constants are the weights it needs."""

    def estimate(self, nodes: Sequence[Node], view: GraphView) -> CostReport:
        """Rough cost of running `nodes` here; backends with a cost model override this."""
        return CostReport(self.name, latency_ms=float(len(nodes)), source="default")

    def close(self) -> None:
        """Release device resources; idempotent."""


class BackendFactory(ABC):
    """What a backend plugin registers. Class attributes describe it; methods must not raise for a
    missing driver: `probe()` reports it instead."""

    name: ClassVar[str]
    api_version: ClassVar[int] = PLUGIN_API_VERSION
    priority: ClassVar[int] = 0
    """Default preference when a session names no backends: higher goes first."""
    auto_select: ClassVar[bool] = True
    """Whether a session that names no backends uses this one (False for test-only backends)."""
    description: ClassVar[str] = ""

    @abstractmethod
    def probe(self) -> ProbeResult:
        """Cheaply list available devices, or say why there are none."""

    @abstractmethod
    def create(self, device: DeviceInfo, config: BackendConfig) -> Backend:
        """Make a backend for `device` configured for one session."""
