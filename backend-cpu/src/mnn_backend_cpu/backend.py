"""The CPU backend: claims the nodes it has native kernels for and compiles each placed subgraph into
one native plan (ops created once with packed weights, intermediates in one arena), so a run is a
single call into C++."""
from __future__ import annotations

import itertools
import os
import time
from dataclasses import replace
from typing import Optional, Sequence

import numpy as np

from mnn_core.backend import (Backend, BackendConfig, BackendFactory, Claim, DeviceInfo, Executable,
                              GraphView, ProbeResult)
from mnn_core.ir import Graph, TensorType, node_reads
from mnn_core.memory import Lifetime, plan_memory
from mnn_core.shape_inference import infer_types

from .blocked import to_blocked_layout
from .lowering import Env, LOp, NeedsValue, Unsupported, lower
from .tuning import Tuner, time_runs

ARENA, CONST, INPUT, OUTPUT = 0, 1, 2, 3


def _native():
    from . import _native as module  # deferred: importing the plugin must stay cheap
    return module


def default_threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return os.cpu_count() or 1


def set_isa(cap: str) -> None:
    """Cap the ISA of plans built from now on ("avx512", "avx2", "neon", "baseline"; "" = best)."""
    _native().set_isa_cap(cap)


class NativePlan:
    """Builds a native plan from lowered ops: aliases resolved, arena offsets from liveness."""

    def __init__(self, lops: list[LOp], inputs: Sequence[str], outputs: Sequence[str], env: Env,
                 pool, isa: str, tokens: Optional[dict] = None, tuner: Optional[Tuner] = None) -> None:
        native = _native()
        self.inputs, self.outputs = list(inputs), list(outputs)
        self.out_types = [env.type(n) for n in outputs]
        root: dict[str, str] = {}
        consts: dict[str, np.ndarray] = {}
        ops: list[LOp] = []
        for lop in lops:
            if lop.kind == "const":
                for name in lop.outputs:
                    consts[name] = np.ascontiguousarray(env.values[name])
            elif lop.kind == "alias":
                src = root.get(lop.inputs[0], lop.inputs[0])
                root[lop.outputs[0]] = src
            else:
                if tuner is not None and lop.variants:
                    lop = tuner.choose(lop, _signature(lop, env), lambda c: _time_lop(c, env, pool, isa))
                ops.append(_with_token(lop, tokens, env))
        resolve = lambda name: root.get(name, name)
        # A graph output must be written by an op of its own: copy when it is an alias or a constant.
        for name in outputs:
            if name in root or name in consts:
                src = resolve(name)
                if src == name and name in consts:  # keep the value apart from the output slot
                    src = name + "::value"
                    consts[src] = consts.pop(name)
                nbytes = env.type(name).nbytes
                ops.append(LOp("copy", [src], [name], [1, 1, 1, nbytes, 1, 0, 1, 0]))
        views: dict[str, tuple[str, int]] = {}
        if os.environ.get("MNN_CPU_CONCAT_VIEWS", "1") != "0":
            ops, views = _concat_views(ops, resolve, {*self.inputs, *self.outputs, *consts}, env)

        def place(name: str) -> tuple[str, int]:
            """The arena tensor holding `name` and the byte offset in it."""
            name, offset = resolve(name), 0
            while name in views:
                name, extra = views[name]
                offset += extra
            return name, offset

        self.lops, self.views = ops, views
        plan = native.Plan(pool, isa)
        ids: dict[str, int] = {}
        for i, name in enumerate(self.inputs):
            ids[name] = plan.add_tensor(INPUT, i, env.type(name).nbytes)
        for i, name in enumerate(self.outputs):
            ids[name] = plan.add_tensor(OUTPUT, i, env.type(name).nbytes)
        for name, value in consts.items():
            if name not in ids:
                ids[name] = plan.add_const(value)
        first: dict[str, int] = {}
        last: dict[str, int] = {}
        for step, lop in enumerate(ops):
            for name in lop.inputs:
                last[place(name)[0]] = step
            for name in lop.outputs:
                first.setdefault(place(name)[0], step)
        lifetimes = [Lifetime(n, env.type(n).nbytes, s, max(last.get(n, s), s))
                     for n, s in first.items() if n not in ids]
        memory = plan_memory(lifetimes)
        for life in lifetimes:
            ids[life.name] = plan.add_tensor(ARENA, memory.offsets[life.name], life.nbytes)
        for name in views:  # producers writing straight into their concat's output
            base, offset = place(name)
            ids[name] = plan.add_tensor(ARENA, memory.offsets[base] + offset, env.type(name).nbytes)
        for lop in ops:
            ins = []
            for name in lop.inputs:
                name = resolve(name)
                if name not in ids:  # a weight read as a tensor (e.g. a constant Add operand)
                    ids[name] = plan.add_const(np.ascontiguousarray(env.values[name]))
                ins.append(ids[name])
            plan.add_op(lop.kind, ins, [ids[n] for n in lop.outputs], lop.ints, lop.floats, lop.weights)
        plan.finalize(memory.peak_bytes)
        self.plan = plan
        self.memory = memory
        self.last_run_allocations = 0

    def run(self, inputs: Sequence[np.ndarray], profile: bool = False) -> list[np.ndarray]:
        arrays = [np.ascontiguousarray(x) for x in inputs]
        outs = [np.empty(t.shape, t.dtype.numpy) for t in self.out_types]
        self.last_run_allocations = self.plan.run(arrays, outs, profile)
        return outs


def _concat_views(ops: list[LOp], resolve, fixed: set, env: Env):
    """Let producers write straight into a Concat's output where their piece is one contiguous
    block of it (e.g. channels of a batch-1 NCHW concat): the piece's copy goes away and the
    producer's output becomes a view at the piece's offset. Only for a tensor that the concat alone
    reads, that an op of this plan writes and that is no segment input/output/constant; the concat
    output must live in the arena too. Returns the ops left and {tensor: (concat output, offset)}."""
    reads: dict[str, int] = {}
    written: set = set()
    for lop in ops:
        for name in lop.inputs:
            reads[resolve(name)] = reads.get(resolve(name), 0) + 1
        written.update(lop.outputs)
    views: dict[str, tuple[str, int]] = {}
    kept = []
    for lop in ops:
        out = lop.outputs[0] if lop.views is not None else None
        if out is None or out in fixed:
            kept.append(lop)
            continue
        inputs, pieces, views_left = [], [], []
        for name, piece, view in zip(lop.inputs, _copy_pieces(lop.ints), lop.views):
            src = resolve(name)
            if (view is not None and src not in fixed and src in written and reads.get(src) == 1
                    and src not in views and src != out
                    and env.type(src).nbytes == env.type(name).nbytes):
                views[src] = (out, view[1])
                continue
            inputs.append(name)
            pieces.append(piece)
            views_left.append(view)
        if inputs:  # the pieces that still need copying
            ints = [lop.ints[0], len(pieces)] + [v for p in pieces for v in p]
            kept.append(replace(lop, inputs=inputs, ints=ints, views=views_left))
    return kept, views


def _copy_pieces(ints: list[int]) -> list[list[int]]:
    """Split the ints of a copy op ([elsize, n, piece...]) into its pieces (lowering.copy_piece)."""
    pieces, at = [], 2
    for _ in range(ints[1]):
        rank = ints[at]
        pieces.append(ints[at:at + 3 * rank + 3])
        at += 3 * rank + 3
    return pieces


_TOKENS = itertools.count(1)  # pack tokens are never reused within a process


def _with_token(lop: LOp, tokens: Optional[dict], env: Env) -> LOp:
    """Give an op that packs a weight the token of that weight (same key, same token). Tensor
    names in the key stand for their constant arrays (by identity, kept alive by `tokens`), so
    plans for other input shapes of the same model, even in other executables, share."""
    if lop.pack_key is None or tokens is None:
        return lop
    arrays = [env.values[k] for k in lop.pack_key if isinstance(k, str) and k in env.values]
    key = tuple(id(env.values[k]) if isinstance(k, str) and k in env.values else k for k in lop.pack_key)
    token = tokens.setdefault(key, (next(_TOKENS), arrays))[0]
    ints = list(lop.ints)
    ints[lop.pack_slot] = token
    return replace(lop, ints=ints)


def _signature(lop: LOp, env: Env) -> str:
    return ";".join(str(env.type(n)) for n in (*lop.inputs, *lop.outputs))


def _time_lop(lop: LOp, env: Env, pool, isa: str) -> float:
    """Seconds per run of `lop` alone in a plan of its own, on random inputs."""
    rng = np.random.default_rng(0)
    inputs = [n for n in dict.fromkeys(lop.inputs) if n not in env.values]
    feeds = []
    for name in inputs:
        t = env.type(name)
        if t.dtype.numpy.kind == "f":
            feeds.append(rng.standard_normal(t.shape).astype(t.dtype.numpy))
        else:
            feeds.append(np.zeros(t.shape, t.dtype.numpy))
    plan = NativePlan([lop], inputs, lop.outputs, env, pool, isa)
    repeats = 5 if lop.cost < 1e8 else 2
    return time_runs(lambda: plan.run(feeds), repeats)


class CpuExecutable(Executable):
    def __init__(self, backend: "CpuBackend", subgraph: Graph, view: GraphView) -> None:
        self.backend = backend
        self.subgraph = subgraph
        self.view = view
        self.native: Optional[NativePlan] = None
        self.env: Optional[Env] = None
        # Segment inputs whose values shape the plan (axes, pads, scales fed at run time): plans
        # are then made per value, when a run brings them, and kept by value.
        self.needs: list[str] = []
        self.specialised: dict[tuple, NativePlan] = {}

    def resize(self, input_types: Sequence[TensorType]) -> None:
        graph = self.subgraph
        types = dict(self.view.types)
        if any(types.get(n) != t for n, t in zip(graph.inputs, input_types)):
            types, _ = infer_types(self.view.graph, self.view.ops,
                                   {**{n: self.view.types[n] for n in self.view.graph.inputs},
                                    **dict(zip(graph.inputs, input_types))})
        self.env = env = self.backend.env_for(self.view, types)
        self.needs, self.specialised, self.native = [], {}, None
        try:
            self.native = self._build(env)
        except NeedsValue as need:
            if need.name not in graph.inputs:
                raise
            self.needs.append(need.name)

    def _build(self, env: Env) -> NativePlan:
        lops = []
        for node in self.subgraph.nodes:
            lops.extend(lower(node, env))
        lops, env = to_blocked_layout(lops, env, self.subgraph.outputs)
        return NativePlan(lops, self.subgraph.inputs, self.subgraph.outputs, env, self.backend.pool,
                          self.backend.isa, self.backend.pack_tokens, self.backend.tuner)

    def _specialise(self, inputs) -> NativePlan:
        """The plan for the values of the structural inputs this run brings."""
        by_name = dict(zip(self.subgraph.inputs, inputs))
        while True:
            values = {n: np.ascontiguousarray(by_name[n]) for n in self.needs}
            key = tuple((n, v.dtype.str, v.shape, v.tobytes()) for n, v in values.items())
            plan = self.specialised.get(key)
            if plan is not None:
                return plan
            try:
                plan = self._build(Env(self.env.types, {**self.env.values, **values}))
            except NeedsValue as need:  # one more structural input to read
                if need.name not in self.subgraph.inputs or need.name in self.needs:
                    raise
                self.needs.append(need.name)
                continue
            if len(self.specialised) >= 16:
                self.specialised.pop(next(iter(self.specialised)))
            self.specialised[key] = plan
            return plan

    def run(self, inputs, profiler=None) -> list:
        if self.env is None:
            self.resize([TensorType.of(x) for x in inputs])
        if self.needs:
            self.native = self._specialise(inputs)
        start = time.perf_counter_ns()
        outs = self.native.run(inputs, profile=profiler is not None)
        if profiler is not None:
            t = start
            for lop, ns in zip(self.native.lops, self.native.plan.op_times_ns):
                if lop.node is not None:
                    profiler.op(lop.node, "cpu", t, t + ns)
                t += ns
        return outs

    def planned_bytes(self) -> Optional[int]:
        return None if self.native is None else self.native.plan.arena_bytes

    @property
    def isa(self) -> str:
        return self.native.plan.isa if self.native else self.backend.isa


class CpuBackend(Backend):
    def __init__(self, device: DeviceInfo, config: BackendConfig) -> None:
        super().__init__(device, config)
        native = _native()
        self.threads = int(config.threads or default_threads())
        self.isa = native.select_isa(config.options.get("cpu.isa", ""))
        self.pool = native.ThreadPool(self.threads)
        self._env_cache: tuple = (None, None, None)
        self.tuner = Tuner(self.isa, self.threads)
        self.pack_tokens: dict = {}  # weight + layout -> token: packed weights outlive re-planning
        # precision="low" GEMMs: fp32 on every CPU for now (see low_precision_gemm in the probe).
        self.gemm_precision = "fp32"

    def env_for(self, view: GraphView, types=None) -> Env:
        """Types plus every value known at plan time (weights and folded shape computations)."""
        types = types if types is not None else view.types
        key = (id(view.graph), tuple(sorted((n, types.get(n)) for n in view.graph.inputs)))
        if self._env_cache[0] == key and self._env_cache[1] is view.graph:
            return self._env_cache[2]
        given = {n: types[n] for n in view.graph.inputs if n in types}
        all_types, values = infer_types(view.graph, view.ops, given)
        env = Env({**all_types, **types}, values)
        self._env_cache = (key, view.graph, env)
        return env

    def capability(self, view: GraphView) -> Claim:
        env = self.env_for(view)
        claimed, refused = set(), {}
        for i, node in enumerate(view.graph.nodes):
            try:
                lower(node, env)
                claimed.add(i)
            except NeedsValue as need:
                # a small structural input fed at run time: the plan is specialised on its value
                if need.name in view.graph.inputs and (env.type(need.name).numel or 0) <= 64:
                    claimed.add(i)
                else:
                    refused[i] = str(need)
            except Unsupported as why:
                refused[i] = str(why)
            except Exception as error:  # a lowering bug must not break planning: leave it to others
                refused[i] = f"lowering failed: {type(error).__name__}: {error}"
        return Claim(frozenset(claimed), refused)

    def compile(self, subgraph: Graph, view: GraphView) -> Executable:
        return CpuExecutable(self, subgraph, view)

    def close(self) -> None:
        self.pool = None


def low_precision_gemm(native) -> str:
    """What precision="low" GEMMs run in here. A bf16 path needs AVX512_BF16 and is not built yet,
    so every CPU runs fp32 (exact); the reason is spelled out for the device details."""
    if native.has_avx512_bf16():
        return "fp32 (AVX512_BF16 present; bf16 kernels not built)"
    return "fp32 (no AVX512_BF16)"


class CpuFactory(BackendFactory):
    name = "cpu"
    priority = 100
    description = "native C++ kernels (AVX-512 / AVX2 / portable), one static plan per subgraph"

    def probe(self) -> ProbeResult:
        try:
            native = _native()
            isa = native.select_isa("")
        except Exception as error:  # missing or broken build, unknown MNN_CPU_ISA, ...
            return ProbeResult.unavailable(f"native module unusable: {type(error).__name__}: {error}")
        details = {"isa": isa, "supported_isas": ",".join(native.supported_isas()),
                   "threads": str(default_threads()),
                   # what precision="low" runs GEMMs in: bf16 needs AVX512_BF16
                   "low_precision_gemm": low_precision_gemm(native),
                   "tuning": os.environ.get("MNN_CPU_TUNING", "fast")}
        return ProbeResult((DeviceInfo("cpu", f"cpu ({isa})", "cpu", details=details),))

    def create(self, device: DeviceInfo, config: BackendConfig) -> Backend:
        return CpuBackend(device, config)
