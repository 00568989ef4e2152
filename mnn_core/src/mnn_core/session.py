"""Model and Session: placement of nodes on backends, planning, and running.

`Model.session()` creates one backend per requested name. For each distinct set of input shapes the
session makes a `Plan`: types are inferred, every backend claims nodes, each node goes to the first
backend (in priority order) that claims it, unclaimed nodes go to the reference backend unless
`strict`, consecutive nodes on one backend become a segment compiled into one executable, copies are
inserted where consecutive segments live in different memories, and intermediate tensors get a
static memory plan.
"""
from __future__ import annotations

import os
import time
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np

from .backend import (HOST, Backend, BackendConfig, BackendUnavailable, Executable, GraphView,
                      PowerMode, Precision)
from .dtypes import DType
from .ir import Graph, TensorType, node_reads
from .memory import Lifetime, MemoryPlan, plan_memory
from .shape_inference import infer_types

PLAN_CACHE_SIZE = 8


class InputError(ValueError):
    """Feeds do not match the model's inputs (name, dtype or shape)."""


class PlacementError(RuntimeError):
    """Strict mode: some nodes are claimed by none of the session's backends."""


@dataclass
class Segment:
    """Consecutive nodes placed on one backend, compiled into one executable."""

    backend: Backend
    nodes: list[int]
    subgraph: Graph
    executable: Executable

    @property
    def memory(self) -> str:
        return self.backend.device.memory


@dataclass(frozen=True)
class Copy:
    tensor: str
    src: str
    dst: str


@dataclass
class Plan:
    """How one set of input shapes runs: segments in order, copies between memories, memory plan."""

    input_types: dict[str, TensorType]
    types: dict[str, TensorType]
    segments: list[Segment]
    copies: list[list[Copy]]
    """copies[i]: copies made before segment i runs."""
    memory: MemoryPlan
    graph: Graph = field(repr=False)

    @property
    def peak_bytes(self) -> int:
        """Planned peak of intermediate tensors (weights and graph inputs/outputs excluded)."""
        return self.memory.peak_bytes

    def placement(self) -> dict[str, str]:
        """Node name -> backend name."""
        return {self.graph.nodes[i].name or self.graph.nodes[i].outputs[0]: seg.backend.name
                for seg in self.segments for i in seg.nodes}

    def backend_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for seg in self.segments:
            counts[seg.backend.name] = counts.get(seg.backend.name, 0) + len(seg.nodes)
        return counts

    def __str__(self) -> str:
        lines = []
        for i, seg in enumerate(self.segments):
            for c in self.copies[i]:
                lines.append(f"  copy {c.tensor}: {c.src} -> {c.dst}")
            ops: dict[str, int] = {}
            for n in seg.nodes:
                ops[self.graph.nodes[n].op] = ops.get(self.graph.nodes[n].op, 0) + 1
            op_text = ", ".join(f"{op} x{k}" if k > 1 else op for op, k in ops.items())
            lines.append(f"  segment {i}: {seg.backend.name} ({seg.memory}) {len(seg.nodes)} nodes: {op_text}")
        counts = ", ".join(f"{b}: {n}" for b, n in self.backend_counts().items())
        head = [f"plan: {len(self.segments)} segment(s), nodes per backend: {counts}",
                f"planned peak intermediate memory: {self.peak_bytes / 2**20:.2f} MiB "
                f"(without reuse {self.memory.naive_bytes / 2**20:.2f} MiB)"
                + (f"; {len(self.memory.unplanned)} tensor(s) sized at run time" if self.memory.unplanned else "")]
        return "\n".join(head + lines)


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no", "off")


class Session:
    """Runs a model on a list of backends. Create with `Model.session()`."""

    def __init__(self, model: "Model", backends: Optional[Sequence[str]] = None,
                 threads: Optional[int] = None, precision: Union[str, Precision] = "normal",
                 power: Union[str, PowerMode] = "normal", strict: Optional[bool] = None,
                 options: Optional[Mapping[str, str]] = None) -> None:
        self.model = model
        ctx = model.context
        if backends is None and os.environ.get("MNN_BACKENDS"):
            backends = [b.strip() for b in os.environ["MNN_BACKENDS"].split(",") if b.strip()]
        if threads is None and os.environ.get("MNN_THREADS"):
            threads = int(os.environ["MNN_THREADS"])
        self.strict = _env_flag("MNN_STRICT") if strict is None else strict
        self.config = BackendConfig(Precision(precision), PowerMode(power), threads, dict(options or {}))
        self.unavailable: dict[str, str] = {}
        explicit = backends is not None
        names = list(backends) if explicit else [f.name for f in ctx.backends if f.auto_select]
        self.backends: list[Backend] = []
        for name in names:
            backend = self._create(name, explicit)
            if backend is not None:
                self.backends.append(backend)
        if not self.strict and all(b.name != "reference" for b in self.backends):
            self.backends.append(self._create("reference", True))
        if not self.backends:
            raise BackendUnavailable("no backend is available: " + "; ".join(
                f"{n}: {r}" for n, r in self.unavailable.items()))
        self._plans: "OrderedDict[tuple, Plan]" = OrderedDict()
        self.plan: Optional[Plan] = None
        self._last_key: Optional[tuple] = None  # (name, dtype, shape) of the feeds that chose self.plan
        declared = {n: model.graph.types.get(n) for n in model.graph.inputs}
        if all(t is not None and t.is_static for t in declared.values()):
            self.plan = self._plan_for(declared)

    def _create(self, name: str, explicit: bool) -> Optional[Backend]:
        registry = self.model.context.backends
        if name not in registry:
            reason = f"no backend named {name!r} is installed (installed: {', '.join(registry.names())})"
        else:
            factory = registry.get(name)
            probe = factory.probe()
            if probe.available:
                return factory.create(probe.devices[0], self.config)
            reason = probe.unavailable_reason or "no device found"
        self.unavailable[name] = reason
        if explicit and self.strict:
            raise BackendUnavailable(f"backend {name!r} is unavailable: {reason}")
        if explicit:
            warnings.warn(f"backend {name!r} is unavailable, skipped: {reason}", RuntimeWarning, stacklevel=3)
        return None

    # ---- planning ------------------------------------------------------------------------------
    def resize(self, shapes: Mapping[str, Sequence[int]]) -> Plan:
        """Plan for the given input shapes now (dtypes are the declared ones)."""
        types = {}
        for name in self.model.graph.inputs:
            declared = self.model.graph.types.get(name, TensorType(None, None))
            shape = shapes.get(name, declared.shape)
            types[name] = TensorType(declared.dtype, tuple(int(d) for d in shape))
        return self._plan_for(types)

    def _plan_for(self, input_types: Mapping[str, TensorType]) -> Plan:
        key = tuple((n, t.dtype, t.shape) for n, t in sorted(input_types.items()))
        plan = self._plans.get(key)
        if plan is None:
            plan = self._make_plan(dict(input_types))
            self._plans[key] = plan
            if len(self._plans) > PLAN_CACHE_SIZE:
                self._plans.popitem(last=False)
            self.model.context.notify_plan(plan)
        else:
            self._plans.move_to_end(key)
        self.plan = plan
        self._last_key = None  # run() sets it again for the feeds it checked
        return plan

    def _make_plan(self, input_types: dict[str, TensorType]) -> Plan:
        graph, ops = self.model.graph, self.model.context.ops
        types, _ = infer_types(graph, ops, input_types)
        view = GraphView(graph, types, ops)
        owner: list[Optional[Backend]] = [None] * len(graph.nodes)
        refusals: dict[int, list[str]] = {}
        for backend in self.backends:
            claim = backend.capability(view)
            for i in claim.nodes:
                if owner[i] is None:
                    owner[i] = backend
            for i, why in claim.refused.items():
                refusals.setdefault(i, []).append(f"{backend.name}: {why}")
        missing = [i for i, b in enumerate(owner) if b is None]
        if missing:
            lines = [f"{graph.nodes[i].op} ({graph.nodes[i].name or graph.nodes[i].outputs[0]})"
                     + (f" [{'; '.join(refusals[i])}]" if i in refusals else "") for i in missing]
            names = ", ".join(b.name for b in self.backends)
            raise PlacementError(f"{len(missing)} node(s) are claimed by none of the backends ({names}):\n  "
                                 + "\n  ".join(lines))
        segments = self._segments(graph, owner, types, view)
        copies = self._copies(graph, segments)
        return Plan(input_types, types, segments, copies, self._memory(graph, types), graph)

    def _segments(self, graph: Graph, owner, types, view) -> list[Segment]:
        runs: list[tuple[Backend, list[int]]] = []
        for i, backend in enumerate(owner):
            if runs and runs[-1][0] is backend:
                runs[-1][1].append(i)
            else:
                runs.append((backend, [i]))
        later_reads: list[set[str]] = []
        needed = set(graph.outputs)
        for _, idx in reversed(runs):
            later_reads.append(set(needed))
            for i in idx:
                needed.update(node_reads(graph.nodes[i]))
        later_reads.reverse()
        segments = []
        for (backend, idx), after in zip(runs, later_reads):
            nodes = [graph.nodes[i] for i in idx]
            produced, inputs, consts = set(), [], {}
            for node in nodes:
                for name in node_reads(node):
                    if name in produced or name in inputs or name in consts:
                        continue
                    if name in graph.constants:
                        consts[name] = graph.constants[name]
                    else:
                        inputs.append(name)
                produced.update(o for o in node.outputs if o)
            outputs = [o for node in nodes for o in node.outputs if o and o in after]
            sub_types = {n: types[n] for n in (*inputs, *produced) if n in types}
            sub = Graph(nodes, inputs, outputs, sub_types, consts, name=f"{graph.name}/{backend.name}")
            executable = backend.compile(sub, view)
            executable.resize([types.get(n, TensorType(None, None)) for n in inputs])
            segments.append(Segment(backend, idx, sub, executable))
        return segments

    def _copies(self, graph: Graph, segments: list[Segment]) -> list[list[Copy]]:
        where: dict[str, str] = {n: HOST for n in graph.inputs}
        result = []
        for seg in segments:
            copies = []
            for name in seg.subgraph.inputs:
                src = where.get(name, HOST)
                if src != seg.memory:
                    copies.append(Copy(name, src, seg.memory))
            result.append(copies)
            for name in seg.subgraph.outputs:
                where[name] = seg.memory
        return result

    def _memory(self, graph: Graph, types: Mapping[str, TensorType]) -> MemoryPlan:
        first: dict[str, int] = {}
        last: dict[str, int] = {}
        for i, node in enumerate(graph.nodes):
            for name in node.outputs:
                if name:
                    first[name] = i
            for name in node_reads(node):
                last[name] = i
        lifetimes, unplanned = [], []
        for name, start in first.items():
            if name in graph.outputs:
                continue  # outputs are handed to the caller, not part of the arena
            t = types.get(name)
            if t is None or t.nbytes is None:
                unplanned.append(name)
                continue
            lifetimes.append(Lifetime(name, t.nbytes, start, last.get(name, start)))
        plan = plan_memory(lifetimes)
        plan.unplanned = unplanned
        return plan

    # ---- running -------------------------------------------------------------------------------
    def check_feeds(self, feeds: Mapping[str, Any]) -> dict[str, np.ndarray]:
        graph = self.model.graph
        if len(feeds) != len(graph.inputs) or any(n not in feeds for n in graph.inputs):
            expected = ", ".join(f"{n}: {graph.types.get(n, TensorType(None))}" for n in graph.inputs)
            unknown = [n for n in feeds if n not in graph.inputs]
            if unknown:
                raise InputError(f"unknown input(s) {unknown}; the model's inputs are {expected}")
            missing = [n for n in graph.inputs if n not in feeds]
            raise InputError(f"missing input(s) {missing}; the model's inputs are {expected}")
        arrays = {}
        for name in graph.inputs:
            value = feeds[name]
            if value is None or isinstance(value, list):  # an optional or a sequence (control.py)
                arrays[name] = value
                continue
            array = value if isinstance(value, np.ndarray) else np.asarray(value)
            want = graph.types.get(name)
            if want is not None and want.dtype is not None:
                try:
                    got = DType.from_numpy(array.dtype)
                except TypeError:
                    got = None
                if got is not want.dtype:
                    raise InputError(f"input {name!r} has dtype {array.dtype}; expected {want.dtype} "
                                     f"(shape {want})")
            if want is not None and want.shape is not None:
                if array.ndim != len(want.shape):
                    raise InputError(f"input {name!r} has rank {array.ndim} (shape {list(array.shape)}); "
                                     f"expected rank {len(want.shape)}: {want}")
                for axis, (d, w) in enumerate(zip(array.shape, want.shape)):
                    if isinstance(w, int) and d != w:
                        raise InputError(f"input {name!r} has shape {list(array.shape)}; expected {want} "
                                         f"(dim {axis} must be {w})")
            arrays[name] = array
        return arrays

    def run(self, feeds: Mapping[str, Any], profiler=None) -> dict[str, np.ndarray]:
        """Run once. `feeds` maps every input name to an array; returns every output by name."""
        # Fast path: the same input names, dtypes and shapes as the last run need no checks or plan
        # lookup. It matters because a run evicts the interpreter from the caches: the full checks
        # then took ~80 us, 2-3% of a 3 ms model at 2 threads.
        key = tuple((n, a.dtype, a.shape) for n, a in feeds.items()) \
            if all(isinstance(a, np.ndarray) for a in feeds.values()) else None
        if key is not None and key == self._last_key and self.plan is not None:
            arrays, plan = dict(feeds), self.plan
        else:
            arrays = self.check_feeds(feeds)
            plan = self._plan_for({n: TensorType.of(a) if isinstance(a, np.ndarray)
                                   else self.model.graph.types.get(n, TensorType(None)) for n, a in arrays.items()})
            self._last_key = key
        env: dict[tuple[str, str], Any] = {(n, HOST): a for n, a in arrays.items()}
        home: dict[str, Backend] = {}
        for seg, copies in zip(plan.segments, plan.copies):
            for c in copies:
                start = time.perf_counter_ns()
                value = env[(c.tensor, c.src)]
                if c.src != HOST:
                    value = home[c.tensor].allocator.to_host(value)
                    env[(c.tensor, HOST)] = value
                if c.dst != HOST:
                    value = seg.backend.allocator.to_device(value)
                env[(c.tensor, c.dst)] = value
                if profiler:
                    profiler.span(c.tensor, "copy", f"{c.src}->{c.dst}", start)
            inputs = [env[(n, seg.memory)] for n in seg.subgraph.inputs]
            start = time.perf_counter_ns()
            outputs = seg.executable.run(inputs, profiler)
            if profiler:
                profiler.span(seg.subgraph.name, "segment", seg.backend.name, start)
            for name, value in zip(seg.subgraph.outputs, outputs):
                env[(name, seg.memory)] = value
                home[name] = seg.backend
        if profiler:
            profiler.runs += 1
        result = {}
        for name in self.model.graph.outputs:
            if (name, HOST) in env:
                result[name] = env[(name, HOST)]
            elif name in self.model.graph.constants:
                result[name] = self.model.graph.constants[name]
            else:
                backend = home[name]
                result[name] = backend.allocator.to_host(env[(name, backend.device.memory)])
        return {n: v if isinstance(v, (np.ndarray, list)) or v is None else np.asarray(v)
                for n, v in result.items()}

    def close(self) -> None:
        for backend in self.backends:
            backend.close()

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Model:
    """A loaded, optimised graph bound to a plugin context."""

    def __init__(self, graph: Graph, context, source: Optional[str] = None, pass_records=()) -> None:
        self.graph = graph
        self.context = context
        self.source = source
        self.pass_records = list(pass_records)

    @property
    def inputs(self) -> dict[str, TensorType]:
        return {n: self.graph.types.get(n, TensorType(None, None)) for n in self.graph.inputs}

    @property
    def outputs(self) -> dict[str, TensorType]:
        return {n: self.graph.type_of(n) for n in self.graph.outputs}

    def session(self, backends: Optional[Sequence[str]] = None, threads: Optional[int] = None,
                precision: str = "normal", power: str = "normal", strict: Optional[bool] = None,
                options: Optional[Mapping[str, str]] = None) -> Session:
        return Session(self, backends, threads, precision, power, strict, options)

    def save(self, path: Union[str, Path]) -> Path:
        from .format import save

        return save(self.graph, path)
