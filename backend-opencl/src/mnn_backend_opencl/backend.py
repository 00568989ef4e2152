"""The OpenCL backend: claims what lowering.py can run, compiles each placed subgraph into one native
plan (all launches of the segment, intermediates in one device arena planned by liveness), and runs
it with a single call that enqueues everything."""
from __future__ import annotations

import os
import time
from math import prod
from typing import Any, Optional, Sequence

import numpy as np

from mnn_core.backend import (Allocator, Backend, BackendConfig, BackendFactory, Claim, DeviceInfo, Executable,
                              GraphView, Precision, ProbeResult)
from mnn_core.dtypes import DType
from mnn_core.ir import Graph, TensorType, node_reads
from mnn_core.memory import Lifetime, plan_memory
from mnn_core.shape_inference import infer_types

from . import runtime
from .lowering import Alias, Env, Launch, NeedsValue, Unsupported, gather_map, lower

HOST_COPY_LIMIT = 4096
"""Inputs up to this many bytes keep their host array too, so value-specialised plans read them free."""
TUNE_MIN_ITEMS = 4096
"""Launches smaller than this keep the driver's work-group size: tuning them costs more than it saves."""


class DeviceBuffer:
    """A tensor in OpenCL memory: a cl_mem handle (native Buffer) with its logical shape and dtype.
    f32 tensors are stored as f16 when `half` (low precision)."""

    __slots__ = ("buf", "shape", "dtype", "half", "host")

    def __init__(self, buf, shape, dtype, half: bool, host: Optional[np.ndarray] = None) -> None:
        self.buf, self.shape, self.dtype, self.half, self.host = buf, tuple(shape), np.dtype(dtype), half, host

    @property
    def storage_dtype(self) -> np.dtype:
        return np.dtype(np.float16) if (self.half and self.dtype == np.float32) else self.dtype

    def __repr__(self) -> str:
        return f"DeviceBuffer({self.shape}, {self.dtype}{', f16 storage' if self.half else ''})"


class OpenCLAllocator(Allocator):
    def __init__(self, device: runtime.Device, half: bool) -> None:
        super().__init__()
        self.device, self.half = device, half
        self.memory = f"opencl:{device.index}"

    def _alloc(self, nbytes: int):
        return self.device.alloc(nbytes)

    def to_device(self, array: np.ndarray) -> DeviceBuffer:
        array = np.asarray(array)
        store = array.astype(np.float16) if (self.half and array.dtype == np.float32) else array
        host = array.copy() if array.nbytes <= HOST_COPY_LIMIT else None
        return DeviceBuffer(self.device.upload(store), array.shape, array.dtype, self.half, host)

    def to_host(self, buf) -> np.ndarray:
        if not isinstance(buf, DeviceBuffer):
            return np.asarray(buf)
        out = np.empty(buf.shape, buf.storage_dtype)
        if out.nbytes:
            buf.buf.read(out.reshape(-1).view(np.uint8))
        return out.astype(buf.dtype, copy=False)


class NativePlan:
    """Launches of one segment for one set of input types (and structural input values)."""

    def __init__(self, exe: "OpenCLExecutable", env: Env) -> None:
        backend = exe.backend
        device, graph = backend.device_rt, exe.subgraph
        self.exe = exe
        self.inputs, self.outputs = list(graph.inputs), list(graph.outputs)
        self.out_types = [env.type(n) for n in self.outputs]
        root: dict[str, str] = {}
        launches: list[Launch] = []
        temps: dict[str, tuple] = {}
        for node in graph.nodes:
            for lop in lower(node, env):
                if isinstance(lop, Alias):
                    root[lop.dst] = root.get(lop.src, lop.src)
                elif prod(lop.grid):  # launches over empty tensors have nothing to do
                    launches.append(lop)
                    temps.update(lop.temps)
        resolve = lambda name: root.get(name, name)
        written = {resolve(a[1]) for l in launches for a in l.args[2:] if a[0] == "t"}
        # Every graph output gets a launch writing its own buffer (aliases, constants, pass-throughs).
        for name in self.outputs:
            if prod(env.shape(name)) == 0:
                root.pop(name, None)
                continue
            src = resolve(name)
            if src != name or not any(_writes(l, name, resolve) for l in launches):
                n = prod(env.shape(name))
                launches.append(gather_map(src if src != name else name + "::value", name, np.arange(n), env, None))
                if src == name:
                    root[name + "::value"] = name + "::value"
                    temps[name + "::value"] = None
            root.pop(name, None)
        self.launches = launches
        plan = runtime.native().Plan(device.ctx)
        slots: dict[str, int] = {}
        self.keep = []  # constant buffers live as long as the plan

        def slot_of(name: str) -> int:
            if name not in slots:
                slots[name] = len(slots)
            return slots[name]

        for name in self.inputs:
            slot_of(name)
        for name in self.outputs:
            slot_of(name)
        first: dict[str, int] = {}
        last: dict[str, int] = {}
        consts: dict[str, np.ndarray] = {}
        arg_lists = []
        for step, lop in enumerate(launches):
            args = []
            for arg in lop.args:
                kind, value = arg
                if kind in ("c", "m"):
                    key = f"::const{len(consts)}"
                    consts[key] = (value, kind)
                    args.append((0, slot_of(key), 0.0))
                elif kind == "t":
                    name = resolve(value)
                    if name.endswith("::value"):
                        name_value = env.values[name[:-len("::value")]]
                        consts[name] = (np.asarray(name_value), "c")
                    elif name in consts:
                        pass
                    elif name in env.values and name not in self.inputs and name not in self.outputs:
                        consts[name] = (np.asarray(env.values[name]), "c")
                    elif name not in self.inputs and name not in self.outputs:
                        first.setdefault(name, step)
                        last[name] = step
                    args.append((0, slot_of(name), 0.0))
                elif kind == "f":
                    args.append((2, 0, float(value)))
                elif kind == "l":
                    args.append((3, int(value), 0.0))
                else:
                    args.append((1, int(value), 0.0))
            arg_lists.append(args)
        half = backend.half
        for name, (value, kind) in consts.items():
            if kind == "c":
                value = np.asarray(value)
                if value.dtype == np.float64 or value.dtype == np.float32:
                    value = value.astype(np.float16 if half else np.float32)
                if value.dtype == np.bool_:
                    value = value.astype(np.uint8)
            buf = device.upload(value)
            self.keep.append(buf)
            plan.bind(slots[name], buf, 0)
        sizes = {}
        for name in first:
            if name in temps and temps[name] is not None:
                shape, dtype = temps[name]
                item = 2 if (half and dtype is DType.F32) else dtype.itemsize
                sizes[name] = (prod(shape) * item, item)
            else:
                sizes[name] = (prod(env.shape(name)) * env.itemsize(name), env.itemsize(name))
        memory = plan_memory([Lifetime(n, sizes[n][0], s, last[n]) for n, s in first.items()])
        self.arena_bytes = memory.peak_bytes
        self.arena = device.alloc(memory.peak_bytes)
        for name, offset in memory.offsets.items():
            plan.bind(slots[name], self.arena, offset // sizes[name][1])
        program = device.program(half)
        for lop, args in zip(launches, arg_lists):
            plan.add(program, lop.kernel, args, list(lop.grid), [])
        self.plan, self.slots, self.tuned = plan, slots, False

    def tune(self, mode: str) -> None:
        """Pick each large launch's work-group size by timing candidates (cached per kernel and shape)."""
        self.tuned = True
        if mode == "none":
            return
        device = self.exe.backend.device_rt
        candidates = {"fast": [16, 64], "normal": [8, 16, 32, 64, 128], "heavy": [4, 8, 16, 32, 64, 128, 256]}[mode]
        reps = {"fast": 1, "normal": 2, "heavy": 3}[mode]
        for i, lop in enumerate(self.launches):
            if not lop.tunable or prod(lop.grid) < TUNE_MIN_ITEMS:
                continue
            key = f"{lop.kernel}|{'x'.join(map(str, lop.grid))}|{int(self.exe.backend.half)}|{mode}"
            best = device.tuned(key)
            if best is None:
                limit = self.plan.max_local(i)
                options = [[]] + [[c] + [1] * (len(lop.grid) - 1) for c in candidates
                                  if c <= limit and c <= lop.grid[0]]
                times = [(self.plan.time_launch(i, local, reps), local) for local in options]
                best = min(times)[1]
                device.remember(key, best)
            self.plan.set_local(i, list(best))

    def run(self, inputs: Sequence[DeviceBuffer], profile: bool) -> tuple[list, list]:
        for name, buf in zip(self.inputs, inputs):
            if not isinstance(buf, DeviceBuffer):  # host arrays handed straight to run()
                buf = self.exe.backend.allocator.to_device(np.asarray(buf))
            self.plan.bind(self.slots[name], buf.buf, 0)
        device, half = self.exe.backend.device_rt, self.exe.backend.half
        outs = []
        for name, t in zip(self.outputs, self.out_types):
            item = 2 if (half and t.dtype is DType.F32) else t.dtype.itemsize
            buf = device.alloc(prod(t.shape) * item)
            self.plan.bind(self.slots[name], buf, 0)
            outs.append(DeviceBuffer(buf, t.shape, t.dtype.numpy, half))
        if not self.tuned:
            self.tune(self.exe.backend.tuning)
        times = self.plan.run(profile)
        return outs, times


def _writes(lop: Launch, name: str, resolve) -> bool:
    """Whether `lop` writes `name` (outputs come after inputs in every kernel signature)."""
    tensors = [a[1] for a in lop.args if a[0] == "t"]
    return bool(tensors) and resolve(name) in tensors[1:] and name in tensors


class OpenCLExecutable(Executable):
    def __init__(self, backend: "OpenCLBackend", subgraph: Graph, view: GraphView) -> None:
        self.backend, self.subgraph, self.view = backend, subgraph, view
        self.env: Optional[Env] = None
        self.plans: dict[tuple, NativePlan] = {}
        self.needs: list[str] = []  # segment inputs whose values specialise the plan
        self.last: Optional[NativePlan] = None

    def resize(self, input_types: Sequence[TensorType]) -> None:
        types = dict(self.view.types)
        if any(types.get(n) != t for n, t in zip(self.subgraph.inputs, input_types)):
            types, _ = infer_types(self.view.graph, self.view.ops,
                                   {**{n: self.view.types[n] for n in self.view.graph.inputs},
                                    **dict(zip(self.subgraph.inputs, input_types))})
        self.env = self.backend.env_for(self.view, types)
        self.plans.clear()
        self.needs = []
        self._plan_for(())

    def _plan_for(self, values: tuple) -> Optional["NativePlan"]:
        """The plan for these structural input values, or None when lowering found one more to read."""
        plan = self.plans.get(values)
        if plan is not None:
            return plan
        env = self.env
        if values:
            env = Env(env.types, {**env.values, **{n: v for n, v in zip(self.needs, (np.frombuffer(b, d).reshape(s)
                                                                               for b, d, s in values))}},
                      env.ops, env.half)
        while True:
            try:
                plan = NativePlan(self, env)
                break
            except NeedsValue as need:
                if need.name not in self.subgraph.inputs or need.name in self.needs:
                    raise
                self.needs.append(need.name)  # decided at run time, when the value is at hand
                return None
        self.plans[values] = plan
        if len(self.plans) > 16:
            self.plans.pop(next(iter(self.plans)))
        return plan

    def run(self, inputs, profiler=None) -> list:
        if self.env is None:
            self.resize([TensorType(DType.from_numpy(x.dtype), x.shape) for x in inputs])
        plan = None
        while plan is None:  # each pass may discover one more structural input to read
            plan = self._plan_for(self._key(inputs))
        return self._run(plan, inputs, profiler)

    def _key(self, inputs) -> tuple:
        key = ()
        if self.needs:
            by_name = dict(zip(self.subgraph.inputs, inputs))
            parts = []
            for name in self.needs:
                buf = by_name[name]
                host = buf.host if isinstance(buf, DeviceBuffer) and buf.host is not None else \
                    self.backend.allocator.to_host(buf)
                host = np.ascontiguousarray(host)
                parts.append((host.tobytes(), host.dtype, host.shape))
            key = tuple(parts)
        return key

    def _run(self, plan: "NativePlan", inputs, profiler) -> list:
        self.last = plan
        start = time.perf_counter_ns()
        outs, times = plan.run(inputs, profiler is not None)
        if profiler is not None:
            t = start
            for lop, ns in zip(plan.launches, times):
                if lop.node is not None:
                    profiler.op(lop.node, "opencl", t, t + int(ns))
                t += int(ns)
        return outs

    def planned_bytes(self) -> Optional[int]:
        return None if self.last is None and not self.plans else (self.last or next(iter(self.plans.values()))).arena_bytes


class OpenCLBackend(Backend):
    def __init__(self, device: DeviceInfo, config: BackendConfig) -> None:
        self.device_rt = runtime.Device.get(int(device.details.get("index", 0)))
        self.half = config.precision is Precision.LOW
        super().__init__(device, config)
        mode = config.options.get("opencl.tuning") or os.environ.get("MNN_OPENCL_TUNING") or "fast"
        if mode not in runtime.TUNING_MODES:
            raise ValueError(f"opencl.tuning must be one of {runtime.TUNING_MODES}, not {mode!r}")
        self.tuning = mode
        self._env_cache: tuple = (None, None, None)

    def make_allocator(self) -> Allocator:
        return OpenCLAllocator(self.device_rt, self.half)

    def env_for(self, view: GraphView, types=None) -> Env:
        types = types if types is not None else view.types
        key = (id(view.graph), tuple(sorted((n, types.get(n)) for n in view.graph.inputs)))
        if self._env_cache[0] == key and self._env_cache[1] is view.graph:
            return self._env_cache[2]
        given = {n: types[n] for n in view.graph.inputs if n in types}
        all_types, values = infer_types(view.graph, view.ops, given)
        env = Env({**all_types, **types}, values, view.ops, self.half)
        self._env_cache = (key, view.graph, env)
        return env

    def capability(self, view: GraphView) -> Claim:
        env = self.env_for(view)
        graph_inputs = set(view.graph.inputs)
        claimed, refused = set(), {}
        for i, node in enumerate(view.graph.nodes):
            try:
                lower(node, env)
                claimed.add(i)
            except NeedsValue as need:
                # a structural input fed at run time: the plan is specialised on its value then
                if need.name in graph_inputs and (env.type(need.name).numel or 0) <= 64:
                    claimed.add(i)
                else:
                    refused[i] = str(need)
            except Unsupported as why:
                refused[i] = str(why)
            except Exception as error:  # a lowering bug must not break planning: leave it to others
                refused[i] = f"lowering failed: {type(error).__name__}: {error}"
        return Claim(frozenset(claimed), refused)

    def compile(self, subgraph: Graph, view: GraphView) -> Executable:
        return OpenCLExecutable(self, subgraph, view)


class OpenCLFactory(BackendFactory):
    name = "opencl"
    priority = 50
    description = "OpenCL C kernels compiled at run time (libOpenCL loaded dynamically), one enqueue call per segment"

    def probe(self) -> ProbeResult:
        try:
            reason = runtime.unavailable_reason()
        except Exception as error:
            return ProbeResult.unavailable(f"OpenCL probe failed: {type(error).__name__}: {error}")
        if reason:
            return ProbeResult.unavailable(reason)
        result = []
        for index, info in enumerate(runtime.devices()):
            details = {"index": str(index), "platform": info["platform"], "version": info["version"],
                       "driver": info["driver"], "fp16": str("cl_khr_fp16" in info["extensions"]).lower()}
            result.append(DeviceInfo("opencl", info["name"], info["kind"] if info["kind"] != "other" else "gpu",
                                     f"opencl:{index}", details))
        return ProbeResult(tuple(result))

    def create(self, device: DeviceInfo, config: BackendConfig) -> Backend:
        return OpenCLBackend(device, config)
