"""The Metal backend: MSL kernels (shaders/*.metal) dispatched through the Metal framework via pyobjc.

Only macOS has Metal: elsewhere `probe()` reports the backend unavailable and nothing imports pyobjc.
Buffers use shared storage (Apple GPUs have unified memory), so uploads and downloads are memcpys into
`contents()`. A compiled subgraph uploads its weights once and places its intermediates in one arena
buffer at offsets from `plan_memory`; a run encodes every dispatch into one command buffer.
"""
from __future__ import annotations

import re
import sys
import time
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from mnn_core.backend import (Allocator, Backend, BackendConfig, BackendFactory, Claim, DeviceInfo, Executable,
                              GraphView, ProbeResult)
from mnn_core.ir import Graph, TensorType
from mnn_core.memory import Lifetime, plan_memory
from mnn_core.shape_inference import infer_types

from .lowering import NONE, Dispatch, Env, Unsupported, lower

SHADERS = Path(__file__).parent / "shaders"
ALIGN = 256


def library_source() -> str:
    """Every kernel file in one MSL source, with the shared header inlined once (no include paths)."""
    common = (SHADERS / "mnn_common.h").read_text().replace("#pragma once\n", "")
    parts = [common]
    for path in sorted(SHADERS.glob("*.metal")):
        parts.append(re.sub(r'#include "mnn_common.h"\n', "", path.read_text()))
    return "\n".join(parts)


def _metal():
    import Metal  # pyobjc-framework-Metal: macOS only, imported on first use

    return Metal


class MetalTensor:
    """A range of an MTLBuffer holding one tensor."""

    def __init__(self, buffer, offset: int, nbytes: int, dtype, shape) -> None:
        self.buffer, self.offset, self.nbytes = buffer, offset, nbytes
        self.dtype, self.shape = np.dtype(dtype), tuple(shape)

    def view(self) -> np.ndarray:
        raw = self.buffer.contents().as_buffer(self.offset + self.nbytes)
        return np.frombuffer(raw, np.uint8, self.nbytes, self.offset)


class MetalAllocator(Allocator):
    def __init__(self, device, memory: str) -> None:
        super().__init__()
        self.device, self.memory = device, memory

    def _alloc(self, nbytes: int) -> MetalTensor:
        buffer = self.device.newBufferWithLength_options_(max(nbytes, 4), _metal().MTLResourceStorageModeShared)
        if buffer is None:
            raise MemoryError(f"Metal could not allocate {nbytes} bytes")
        return MetalTensor(buffer, 0, nbytes, np.uint8, (nbytes,))

    def empty(self, dtype, shape) -> MetalTensor:
        buf = self.alloc(int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize)
        buf.dtype, buf.shape = np.dtype(dtype), tuple(shape)
        return buf

    def to_device(self, array: np.ndarray) -> MetalTensor:
        shape = np.shape(array)
        array = np.ascontiguousarray(array)
        buf = self.empty(array.dtype, shape)
        buf.view()[:] = array.reshape(-1).view(np.uint8)
        return buf

    def to_host(self, buf: MetalTensor) -> np.ndarray:
        return buf.view().copy().view(buf.dtype).reshape(buf.shape)


class MetalExecutable(Executable):
    def __init__(self, backend: "MetalBackend", subgraph: Graph, view: GraphView) -> None:
        self.backend, self.subgraph, self.view = backend, subgraph, view
        self.weights: dict[str, MetalTensor] = {}
        self.arena: Optional[MetalTensor] = None
        self.offsets: Optional[dict[str, int]] = None

    def resize(self, input_types: Sequence[TensorType]) -> None:
        graph, alloc = self.subgraph, self.backend.allocator
        env = self.backend.env_for(self.view, dict(zip(graph.inputs, input_types)))
        dispatches = [d for node in graph.nodes for d in lower(node, env)]
        root: dict[str, str] = {}
        for d in dispatches:
            if d.kernel == "alias":
                root[d.outputs[0]] = root.get(d.buffers[0], d.buffers[0])
        self.resolve = lambda name: root.get(name, name)
        self.dispatches = [d for d in dispatches if d.kernel != "alias"]
        self.out_types = [env.types[n] for n in graph.outputs]
        self.copies = []  # outputs that are views or constants: copied into their own buffer
        for name in graph.outputs:
            src = self.resolve(name)
            if src != name or name in env.values:
                self.copies.append((src, name))
        for name, value in env.extra.items():
            self.weights[name] = alloc.to_device(value)
        for d in self.dispatches:
            for name in map(self.resolve, d.buffers):
                if name and name not in graph.inputs and name in env.values and name not in self.weights:
                    self.weights[name] = alloc.to_device(np.asarray(env.values[name], np.float32))
        for src, _ in self.copies:
            if src in env.values and src not in self.weights:
                self.weights[src] = alloc.to_device(np.asarray(env.values[src]))
        self.dummy = self.weights.setdefault("::none", alloc.to_device(np.zeros(1, np.float32)))
        first, last = {}, {}
        for step, d in enumerate(self.dispatches):
            for name in d.buffers:
                last[self.resolve(name)] = step
            for name in d.outputs:
                first.setdefault(name, step)
        fixed = set(graph.inputs) | set(graph.outputs) | set(self.weights)
        lifetimes = [Lifetime(n, -(-env.types[n].nbytes // ALIGN) * ALIGN, s, max(last.get(n, s), s))
                     for n, s in first.items() if n not in fixed]
        memory = plan_memory(lifetimes)
        if self.arena is None or self.arena.nbytes < memory.peak_bytes:
            self.arena = alloc.alloc(max(memory.peak_bytes, 4))
        self.offsets = memory.offsets

    def run(self, inputs: Sequence[Any], profiler=None) -> list[Any]:
        if self.offsets is None:
            self.resize([TensorType.of(self.backend.allocator.to_host(x)) for x in inputs])
        alloc, metal = self.backend.allocator, _metal()
        outputs = [alloc.empty(t.dtype.numpy, t.shape) for t in self.out_types]
        where = {NONE: (self.dummy.buffer, 0)}
        where.update((n, (b.buffer, b.offset)) for n, b in zip(self.subgraph.inputs, inputs))
        where.update((n, (b.buffer, 0)) for n, b in zip(self.subgraph.outputs, outputs))
        where.update((n, (b.buffer, 0)) for n, b in self.weights.items())
        where.update((n, (self.arena.buffer, off)) for n, off in self.offsets.items())
        start = time.perf_counter_ns()
        commands = self.backend.queue.commandBuffer()
        encoder = commands.computeCommandEncoder()
        for d in self.dispatches:
            encoder.setComputePipelineState_(self.backend.pipeline(d.kernel))
            for slot, name in enumerate(d.buffers):
                buffer, offset = where[self.resolve(name)]
                encoder.setBuffer_offset_atIndex_(buffer, offset, slot)
            encoder.setBytes_length_atIndex_(d.params, len(d.params), len(d.buffers))
            size = metal.MTLSizeMake(*d.grid)
            group = metal.MTLSizeMake(*d.group)
            if d.per_group:
                encoder.dispatchThreadgroups_threadsPerThreadgroup_(size, group)
            else:
                encoder.dispatchThreads_threadsPerThreadgroup_(size, group)
        encoder.endEncoding()
        blit = None
        for src, dst in self.copies:
            blit = blit or commands.blitCommandEncoder()
            buffer, offset = where[src]
            out = outputs[self.subgraph.outputs.index(dst)]
            blit.copyFromBuffer_sourceOffset_toBuffer_destinationOffset_size_(buffer, offset, out.buffer, 0,
                                                                              out.nbytes)
        if blit is not None:
            blit.endEncoding()
        commands.commit()
        commands.waitUntilCompleted()
        if commands.error() is not None:
            raise RuntimeError(f"Metal command buffer failed: {commands.error()}")
        if profiler is not None:  # one command buffer: the whole segment is one span
            for d in self.dispatches[:1]:
                profiler.op(d.node, self.backend.name, start, time.perf_counter_ns())
        return outputs


class MetalBackend(Backend):
    def __init__(self, device: DeviceInfo, config: BackendConfig, mtl_device) -> None:
        self.mtl_device = mtl_device
        super().__init__(device, config)
        self.queue = mtl_device.newCommandQueue()
        library, error = mtl_device.newLibraryWithSource_options_error_(library_source(), None, None)
        if library is None:
            raise RuntimeError(f"Metal library failed to compile: {error}")
        self.library = library
        self.pipelines: dict[str, Any] = {}
        self._env_cache: tuple = (None, None)

    def make_allocator(self) -> Allocator:
        return MetalAllocator(self.mtl_device, self.device.memory)

    def pipeline(self, kernel: str):
        if kernel not in self.pipelines:
            function = self.library.newFunctionWithName_(kernel)
            state, error = self.mtl_device.newComputePipelineStateWithFunction_error_(function, None)
            if state is None:
                raise RuntimeError(f"Metal pipeline {kernel} failed: {error}")
            self.pipelines[kernel] = state
        return self.pipelines[kernel]

    def env_for(self, view: GraphView, given: Optional[dict] = None) -> Env:
        given = {n: t for n, t in (given or {}).items() if view.types.get(n) != t}
        key = frozenset(given.items())
        if self._env_cache[0] is not view or self._env_cache[1][0] != key:
            inputs = {n: view.types[n] for n in view.graph.inputs if n in view.types}
            types, values = infer_types(view.graph, view.ops, {**inputs, **given})
            self._env_cache = (view, (key, {**types, **(given or view.types)}, values))
        _, types, values = self._env_cache[1]
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
            except Exception as error:
                refused[i] = f"lowering failed: {type(error).__name__}: {error}"
        return Claim(frozenset(claimed), refused)

    def compile(self, subgraph: Graph, view: GraphView) -> Executable:
        return MetalExecutable(self, subgraph, view)


class MetalFactory(BackendFactory):
    name = "metal"
    priority = 200
    description = "Metal Shading Language kernels through the Metal framework (macOS, pyobjc)"

    def probe(self) -> ProbeResult:
        if sys.platform != "darwin":
            return ProbeResult.unavailable("Metal requires macOS")
        try:
            metal = _metal()
        except ImportError as error:
            return ProbeResult.unavailable(f"pyobjc-framework-Metal is not installed ({error})")
        device = metal.MTLCreateSystemDefaultDevice()
        if device is None:
            return ProbeResult.unavailable("no Metal device")
        return ProbeResult((DeviceInfo(self.name, f"metal:0 ({device.name()})", "gpu", memory="metal:0",
                                       details={"name": str(device.name())}),))

    def create(self, device: DeviceInfo, config: BackendConfig) -> Backend:
        return MetalBackend(device, config, _metal().MTLCreateSystemDefaultDevice())
