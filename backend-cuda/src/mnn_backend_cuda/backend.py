"""The CUDA backend and its host-emulated twin.

Both drive the same kernels through the same Python code; only the native module differs:
`_cuda` (kernels compiled by nvcc, CUDA runtime linked statically) or `_emulated` (the same kernel
sources compiled as C++ against csrc/emulation/cuda_host.h; "device" memory is host memory). A
compiled subgraph uploads its weights once, plans its intermediates into one device arena with
`plan_memory`, and a run is one kernel launch per op with no allocation but the outputs.
"""
from __future__ import annotations

import importlib
import time
from typing import Any, Optional, Sequence

import numpy as np

from mnn_core.backend import (Allocator, Backend, BackendConfig, BackendFactory, Claim, DeviceInfo, Executable,
                              GraphView, ProbeResult)
from mnn_core.dtypes import DType
from mnn_core.ir import Graph, TensorType
from mnn_core.memory import Lifetime, plan_memory
from mnn_core.shape_inference import infer_types

from .lowering import NULL, Env, KOp, Unsupported, lower

ALIGN = 256  # arena offsets keep the alignment cudaMalloc gives


def native_module(emulated: bool):
    """The native module (imported on first use: importing the plugin must stay cheap)."""
    return importlib.import_module(f"{__package__}.{'_emulated' if emulated else '_cuda'}")


class DeviceTensor:
    """A device buffer with the dtype and shape of the tensor it holds. Frees itself when it owns its
    memory and is garbage collected (outputs handed to the session are never freed explicitly)."""

    def __init__(self, allocator: "CudaAllocator", ptr: int, nbytes: int, dtype: np.dtype, shape,
                 owned: bool = True) -> None:
        self.allocator, self.ptr, self.nbytes = allocator, ptr, nbytes
        self.dtype, self.shape, self.owned = np.dtype(dtype), tuple(shape), owned

    def release(self) -> None:
        if self.owned and self.ptr:
            self.allocator.native.free(self.ptr)
            self.allocator.bytes_in_use -= self.nbytes
        self.ptr = 0

    def __del__(self) -> None:
        try:
            self.release()
        except Exception:  # interpreter shutdown: the module may already be gone
            pass

    def __repr__(self) -> str:
        return f"DeviceTensor({self.allocator.memory}, {self.dtype}{list(self.shape)}, 0x{self.ptr:x})"


class CudaAllocator(Allocator):
    def __init__(self, native, memory: str) -> None:
        super().__init__()
        self.native, self.memory = native, memory

    def _alloc(self, nbytes: int) -> DeviceTensor:
        return DeviceTensor(self, self.native.malloc(nbytes), nbytes, np.uint8, (nbytes,))

    def _free(self, buf: DeviceTensor) -> None:
        if buf.ptr:
            self.native.free(buf.ptr)
        buf.ptr = 0

    def empty(self, dtype: np.dtype, shape) -> DeviceTensor:
        nbytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
        buf = self.alloc(nbytes)
        buf.dtype, buf.shape = np.dtype(dtype), tuple(shape)
        return buf

    def to_device(self, array: np.ndarray) -> DeviceTensor:
        shape = np.shape(array)
        array = np.ascontiguousarray(array)  # makes 0-d arrays 1-d: keep the shape given
        buf = self.empty(array.dtype, shape)
        if array.nbytes:
            self.native.upload(buf.ptr, array.reshape(-1).view(np.uint8))
        return buf

    def to_host(self, buf: DeviceTensor) -> np.ndarray:
        out = np.empty(buf.shape, buf.dtype)
        if out.nbytes:
            self.native.download(out.reshape(-1).view(np.uint8), buf.ptr)
        return out


class CudaExecutable(Executable):
    def __init__(self, backend: "CudaBackend", subgraph: Graph, view: GraphView) -> None:
        self.backend, self.subgraph, self.view = backend, subgraph, view
        self.kops: list[KOp] = []
        self.weights: dict[str, DeviceTensor] = {}  # uploaded once, kept across resizes
        self.arena: Optional[DeviceTensor] = None
        self.arena_bytes = 0
        self.offsets: Optional[dict[str, int]] = None  # set by resize

    def resize(self, input_types: Sequence[TensorType]) -> None:
        graph, alloc = self.subgraph, self.backend.allocator
        env = self.backend.env_for(self.view, dict(zip(graph.inputs, input_types)))
        kops = [k for node in graph.nodes for k in lower(node, env)]
        self.out_types = [env.type(n) for n in graph.outputs]
        # Views: an alias reads its root's memory; anything known at plan time is a weight.
        root: dict[str, str] = {}
        for k in kops:
            if k.kind == "alias":
                root[k.outs[0]] = root.get(k.ins[0], k.ins[0])
        resolve = lambda name: root.get(name, name)
        self.kops = [k for k in kops if k.kind == "kernel"]
        for name, value in env.extra.items():  # derived tables depend on the shapes: replace them
            self._upload(name, value, replace=True)
        for k in self.kops:
            for name in map(resolve, k.ins):
                if name and name not in graph.inputs and name in env.values:
                    self._upload(name, env.values[name])
        # An output must have memory of its own: copy it from its root when it is a view or a weight.
        for i, name in enumerate(graph.outputs):
            src = resolve(name)
            if src != name or name in env.values:
                if src == name:
                    src = self._upload(name + "::value", env.values[name])
                self.kops.append(KOp("copy", [src], [name], node=None))
        self.resolve = resolve
        first: dict[str, int] = {}
        last: dict[str, int] = {}
        for step, k in enumerate(self.kops):
            for name in k.ins:
                last[resolve(name)] = step
            for name in k.outs:
                first.setdefault(name, step)
        fixed = set(graph.inputs) | set(graph.outputs) | set(self.weights)
        lifetimes = [Lifetime(n, -(-env.type(n).nbytes // ALIGN) * ALIGN, s, max(last.get(n, s), s))
                     for n, s in first.items() if n not in fixed]
        memory = plan_memory(lifetimes)
        if self.arena is None or self.arena.nbytes < memory.peak_bytes:
            if self.arena is not None:
                alloc.free(self.arena, self.arena.nbytes)
            self.arena = alloc.alloc(max(memory.peak_bytes, 1))
        self.offsets = memory.offsets
        self.arena_bytes = memory.peak_bytes

    def _upload(self, name: str, value, replace: bool = False) -> str:
        if replace and name in self.weights:
            old = self.weights.pop(name)
            self.backend.allocator.free(old, old.nbytes)
        if name not in self.weights:
            self.weights[name] = self.backend.allocator.to_device(np.asarray(value))
        return name

    def run(self, inputs: Sequence[Any], profiler=None) -> list[Any]:
        if self.offsets is None:
            self.resize([TensorType(DType.from_numpy(x.dtype), x.shape) for x in inputs])
        native, alloc = self.backend.native, self.backend.allocator
        outputs = [alloc.empty(t.dtype.numpy, t.shape) for t in self.out_types]
        ptrs = {NULL: 0}
        ptrs.update((n, b.ptr) for n, b in zip(self.subgraph.inputs, inputs))
        ptrs.update((n, b.ptr) for n, b in zip(self.subgraph.outputs, outputs))
        ptrs.update((n, b.ptr) for n, b in self.weights.items())
        base = self.arena.ptr
        ptrs.update((n, base + off) for n, off in self.offsets.items())
        for k in self.kops:
            args = [ptrs[self.resolve(n)] for n in k.ins] + [ptrs[n] for n in k.outs]
            start = time.perf_counter_ns() if profiler is not None else 0
            if k.kind == "copy":
                out = outputs[self.subgraph.outputs.index(k.outs[0])]
                native.memcpy_dtod(args[1], args[0], out.nbytes)
            else:
                k.launch(native, *args)
            if profiler is not None and k.node is not None:
                native.synchronize()  # per-op times need the op to have finished
                profiler.op(k.node, self.backend.name, start, time.perf_counter_ns())
        native.synchronize()
        return outputs

    def planned_bytes(self) -> Optional[int]:
        return self.arena_bytes

    def close(self) -> None:
        alloc = self.backend.allocator
        for buf in [*self.weights.values(), *([self.arena] if self.arena is not None else [])]:
            alloc.free(buf, buf.nbytes)
        self.weights, self.arena = {}, None


class CudaBackend(Backend):
    def __init__(self, device: DeviceInfo, config: BackendConfig, native) -> None:
        self.native = native
        super().__init__(device, config)
        self.ordinal = int(device.details.get("ordinal", 0))
        native.set_device(self.ordinal)
        self.executables: list[CudaExecutable] = []
        self._env_cache: tuple = (None, None)

    def make_allocator(self) -> Allocator:
        return CudaAllocator(self.native, self.device.memory)

    def env_for(self, view: GraphView, given: Optional[dict] = None) -> Env:
        """Types of every tensor plus every value known at plan time, for these input types."""
        given = {n: t for n, t in (given or {}).items() if view.types.get(n) != t}
        key = (view, frozenset(given.items()))  # holds the view, so identity stays meaningful
        if self._env_cache[0] is None or self._env_cache[0][0] is not view or self._env_cache[0][1] != key[1]:
            inputs = {n: view.types[n] for n in view.graph.inputs if n in view.types}
            all_types, values = infer_types(view.graph, view.ops, {**inputs, **given})
            self._env_cache = (key, ({**all_types, **(given or view.types)}, values))
        types, values = self._env_cache[1]
        return Env(types, values)

    def capability(self, view: GraphView) -> Claim:
        env = self.env_for(view)
        claimed, refused = set(), {}
        for i, node in enumerate(view.graph.nodes):
            try:
                lower(node, env)
                claimed.add(i)
            except Unsupported as why:
                refused[i] = str(why)
            except Exception as error:  # a lowering bug must not break planning: leave the node to others
                refused[i] = f"lowering failed: {type(error).__name__}: {error}"
        return Claim(frozenset(claimed), refused)

    def compile(self, subgraph: Graph, view: GraphView) -> Executable:
        exe = CudaExecutable(self, subgraph, view)
        self.executables.append(exe)
        return exe

    def close(self) -> None:
        for exe in self.executables:
            exe.close()
        self.executables = []


class CudaFactory(BackendFactory):
    name = "cuda"
    priority = 200
    description = "CUDA kernels (nvcc; sm_75/80/90 SASS + compute_90 PTX), device-resident tensors"
    emulated = False

    def probe(self) -> ProbeResult:
        try:
            native = native_module(self.emulated)
        except ImportError as error:
            return ProbeResult.unavailable(
                "not built with CUDA (no nvcc when mnn-backend-cuda was built, or MNN_CUDA=OFF)"
                if "_cuda" in str(error) else f"native module failed to load: {error}")
        count, error = native.device_count()
        if error:
            return ProbeResult.unavailable(f"cudaGetDeviceCount failed: {error}")
        if count == 0:
            return ProbeResult.unavailable("no CUDA device")
        devices = []
        for i in range(count):
            props = native.device_properties(i)
            details = {"ordinal": str(i), **{k: str(v) for k, v in props.items()}}
            devices.append(DeviceInfo(self.name, f"{self.name}:{i} ({props['name']})", "gpu",
                                      memory=f"{self.name}:{i}", details=details))
        return ProbeResult(tuple(devices))

    def create(self, device: DeviceInfo, config: BackendConfig) -> Backend:
        return CudaBackend(device, config, native_module(self.emulated))


class EmulatedCudaFactory(CudaFactory):
    """The CUDA kernels run on the CPU through the host emulation: for testing the kernels and this
    backend on machines without a GPU. Never chosen by a session that names no backends."""

    name = "cuda-emulated"
    priority = -100
    auto_select = False
    description = "the CUDA kernels compiled for the host (fibers emulate threads); slow, for tests"
    emulated = True
