"""The Vulkan backend: claims the nodes it has shaders for, lowers each placed subgraph into
dispatches, plans intermediates into one arena by liveness and records every dispatch into one
command buffer at resize; a run copies the inputs into their slots, submits once and waits."""
from __future__ import annotations

import importlib.util
import os
import warnings
import threading
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from mnn_core.backend import (Allocator, Backend, BackendConfig, BackendFactory, Claim, DeviceInfo,
                              Executable, GraphView, Precision, ProbeResult)
from mnn_core.dtypes import DType
from mnn_core.ir import Graph, TensorType
from mnn_core.memory import Lifetime, align, plan_memory
from mnn_core.shape_inference import infer_types

from .lowering import LOWERINGS, PARAM_INPUTS, VALUE_OPS, WORDS, Builder, Step, Unsupported, copy_all, lower, u32

def _spirv_dir() -> Path:
    """The SPIR-V is installed beside the native module, which in an editable install is not
    beside these sources; finding the module's spec does not import it."""
    spec = importlib.util.find_spec(f"{__package__}._vk")
    base = Path(spec.origin).parent if spec is not None and spec.origin else Path(__file__).resolve().parent
    return base / "spirv"


SPIRV_DIR = _spirv_dir()
WG = 64
MAX_GROUPS = 65535
OPT_MAX_RANGE = "vulkan.max_storage_buffer_range"
OPT_SUBGROUPS = "vulkan.subgroups"


def _native():
    from . import _vk  # deferred: importing the plugin must not need the runtime or Vulkan
    return _vk


def cache_dir() -> Path:
    return Path(os.environ.get("MNN_VULKAN_CACHE_DIR") or Path.home() / ".cache" / "mnn" / "vulkan")


# ---- device memory ------------------------------------------------------------------------------
# Device layout per dtype: 32-bit words. Narrow types are widened so every shader sees words.
DEVICE_DTYPE = {np.dtype(np.float16): np.float32, np.dtype(np.bool_): np.uint32,
                np.dtype(np.uint8): np.uint32, np.dtype(np.int8): np.int32,
                np.dtype(np.uint16): np.uint32, np.dtype(np.int16): np.int32}


class VkTensor:
    """A tensor in device memory: a buffer (or a range of one), its dtype and shape."""

    __slots__ = ("buffer", "offset", "dtype", "shape", "nbytes")

    def __init__(self, buffer, offset: int, dtype: np.dtype, shape, nbytes: int) -> None:
        self.buffer, self.offset, self.dtype, self.shape, self.nbytes = buffer, offset, np.dtype(dtype), tuple(shape), nbytes

    def __repr__(self) -> str:
        return f"VkTensor({self.dtype}{list(self.shape)}, {self.nbytes} bytes)"


def device_bytes(dtype: np.dtype, numel: int) -> int:
    return numel * np.dtype(DEVICE_DTYPE.get(np.dtype(dtype), dtype)).itemsize


class VulkanAllocator(Allocator):
    def __init__(self, runtime: "Runtime") -> None:
        super().__init__()
        self.runtime = runtime
        self.memory = f"vulkan:{runtime.index}"

    def _alloc(self, nbytes: int) -> Any:
        return self.runtime.device.alloc(max(int(nbytes), 4))

    def to_device(self, array: np.ndarray) -> VkTensor:
        array = np.asarray(array)
        host = np.ascontiguousarray(array.astype(DEVICE_DTYPE.get(array.dtype, array.dtype), copy=False))
        buf = self.runtime.device.alloc(max(host.nbytes, 4))
        self.runtime.device.upload(buf, host.reshape(-1).view(np.uint8), 0)
        return VkTensor(buf, 0, array.dtype, array.shape, host.nbytes)

    def to_host(self, tensor: VkTensor) -> np.ndarray:
        if isinstance(tensor, np.ndarray):
            return tensor
        stored = np.dtype(DEVICE_DTYPE.get(tensor.dtype, tensor.dtype))
        host = np.empty(tensor.shape, stored)
        if host.nbytes:
            self.runtime.device.download(tensor.buffer, host.reshape(-1).view(np.uint8), tensor.offset)
        return host.astype(tensor.dtype, copy=False)


# ---- runtime: one Vulkan device per process and index, shared by sessions -------------------------
class Runtime:
    _lock = threading.Lock()
    _instances: dict[int, "Runtime"] = {}

    def __init__(self, index: int) -> None:
        native = _native()
        directory = cache_dir()
        try:
            directory.mkdir(parents=True, exist_ok=True)
            cache_file = str(directory / f"pipelines-{index}.bin")
        except OSError:
            cache_file = ""  # no writable cache: pipelines are simply rebuilt
        self.index = index
        self.device = native.Device(index, cache_file)
        self.info = dict(self.device.info())
        self._spirv: dict[str, bytes] = {}
        self._saved_count = 0

    @classmethod
    def get(cls, index: int = 0) -> "Runtime":
        with cls._lock:
            if index not in cls._instances:
                cls._instances[index] = Runtime(index)
            return cls._instances[index]

    def pipeline(self, shader: str, bindings: int, push_size: int, fp16: bool, subgroup: bool) -> int:
        names = []
        if subgroup:
            names += [f"{shader}.sg.fp16" if fp16 else None, f"{shader}.sg"]
        names += [f"{shader}.fp16" if fp16 else None, shader]
        for name in names:
            if name and (SPIRV_DIR / f"{name}.spv").exists():
                break
        else:
            raise Unsupported(f"shader {shader} is not built")
        if name not in self._spirv:
            self._spirv[name] = (SPIRV_DIR / f"{name}.spv").read_bytes()
        return self.device.pipeline(name, self._spirv[name], bindings, push_size)

    def save_cache(self) -> None:
        if self.device.pipeline_count != self._saved_count:
            self._saved_count = self.device.pipeline_count
            self.device.save_cache()


# ---- executable ---------------------------------------------------------------------------------
class VulkanExecutable(Executable):
    def __init__(self, backend: "VulkanBackend", subgraph: Graph, view: GraphView) -> None:
        self.backend = backend
        self.subgraph = subgraph
        self.view = view
        self.program = None
        self.dynamic = False
        self.variants: dict = {}
        self.arena_bytes = 0
        self.steps: list[Step] = []

    def resize(self, input_types: Sequence[TensorType]) -> None:
        graph = self.subgraph
        types = dict(self.view.types)
        if any(types.get(n) != t for n, t in zip(graph.inputs, input_types)):
            types, _ = infer_types(self.view.graph, self.view.ops,
                                   {**{n: self.view.types[n] for n in self.view.graph.inputs},
                                    **dict(zip(graph.inputs, input_types))})
        b = self.backend.builder(self.view, types)
        self.variants: dict = {}
        try:
            for node in graph.nodes:
                lower(node, b)
        except Unsupported:
            # Shapes or parameters depend on input values (e.g. Resize scales fed at run time):
            # lower at run time, once per distinct set of those values.
            self.dynamic = True
            return
        self.dynamic = False
        self._finalize(b)

    def _variant(self, inputs) -> "Executable":
        """The executable for these run-time values of the segment's small integer inputs."""
        graph, alloc = self.subgraph, self.backend.allocator
        params = {n.inputs[k] for n in graph.nodes for k in PARAM_INPUTS.get(n.op, ()) if k < len(n.inputs)}
        known, given = {}, {}
        for name, x in zip(graph.inputs, inputs):
            given[name] = TensorType(DType.from_numpy(x.dtype), tuple(x.shape))
            if name in params and int(np.prod(x.shape)) <= 4096:
                known[name] = np.asarray(alloc.to_host(x))
        key = (tuple(given.items()), tuple((n, v.tobytes()) for n, v in known.items()))
        variant = self.variants.get(key)
        if variant is None:
            sub = Graph(graph.nodes, [n for n in graph.inputs if n not in known], graph.outputs, {},
                        {**graph.constants, **known}, name=graph.name)
            types, values = infer_types(sub, self.view.ops, {n: t for n, t in given.items() if n not in known})
            b = Builder({**types, **given}, values, max_range=self.backend.max_range)
            variant = VulkanExecutable(self.backend, graph, self.view)
            try:
                for node in graph.nodes:
                    lower(node, b)
                variant._finalize(b)
            except Unsupported as why:
                # Silent fallback hides slow runs; it is opt-in, and loud when used.
                if not os.environ.get("MNN_VULKAN_HOST_FALLBACK"):
                    raise Unsupported(f"{why} (the values fed at run time need a form the Vulkan "
                                      f"backend lacks; MNN_VULKAN_HOST_FALLBACK=1 runs such segments "
                                      f"on the host instead)") from None
                warnings.warn(f"vulkan segment {graph.name} runs on the host: {why}", RuntimeWarning)
                variant = HostFallback(self.backend, graph, self.view, str(why))
            if len(self.variants) >= 16:
                self.variants.pop(next(iter(self.variants)))
            self.variants[key] = variant
        return variant

    def _finalize(self, b: Builder) -> None:
        backend, rt = self.backend, self.backend.runtime
        device = rt.device
        graph = self.subgraph
        resolve = lambda n: b.aliases.get(n, n)
        # Graph outputs need storage of their own: copy aliases, constants and inputs into them.
        for name in graph.outputs:
            src = resolve(name)
            if src != name or name in b.values or name in graph.inputs:
                if src in b.values and src not in b.consts:
                    src_const = b.const(name + "/value", _device_array(np.asarray(b.values[src])))
                    src = src_const
                b.aliases.pop(name, None)
                copy_all(b, None, src, name, b.dtype(name))
        self.steps = steps = b.steps
        self.out_types = [b.type(n) for n in graph.outputs]
        self.input_slots, self.outputs = [], []
        buffers: dict[str, tuple[Any, int, int]] = {}  # name -> (buffer, offset, bytes)
        for name in graph.inputs:
            nbytes = max(b.nbytes(name), 4)
            buf = device.alloc(nbytes)
            buffers[name] = (buf, 0, nbytes)
            self.input_slots.append((buf, b.nbytes(name)))
        for name, t in zip(graph.outputs, self.out_types):
            nbytes = max(b.nbytes(name), 4)
            buf = device.alloc(nbytes)
            buffers[name] = (buf, 0, nbytes)
            self.outputs.append(VkTensor(buf, 0, t.dtype.numpy, t.shape, b.nbytes(name)))
        # Constants: weights of the graph and arrays made by lowering, uploaded once per executable.
        def const_buffer(name: str):
            array = b.consts[name] if name in b.consts else _device_array(np.asarray(b.values[name]))
            host = np.ascontiguousarray(array).reshape(-1).view(np.uint8)
            buf = device.alloc(max(host.nbytes, 4))
            device.upload(buf, host, 0)
            return (buf, 0, max(host.nbytes, 4))
        # Intermediates: one arena, offsets from liveness over the step sequence.
        first: dict[str, int] = {}
        last: dict[str, int] = {}
        for i, step in enumerate(steps):
            for name in step.ins:
                if name is not None:
                    last[resolve(name)] = i
            for name in step.outs:
                if name is not None:
                    first.setdefault(resolve(name), i)
                    last[resolve(name)] = max(last.get(resolve(name), i), i)
        lifetimes = [Lifetime(n, b.nbytes(n), s, last.get(n, s)) for n, s in first.items()
                     if n not in buffers]
        memory = plan_memory(lifetimes)
        self.arena_bytes = memory.peak_bytes
        arena = device.alloc(max(memory.peak_bytes, 4))
        for life in lifetimes:
            buffers[life.name] = (arena, memory.offsets[life.name], max(align(life.nbytes), 4))
        dummy = device.alloc(16)
        fp16 = backend.fp16
        subgroup = backend.subgroups
        dispatches = []
        written: list[tuple] = []
        read: list[tuple] = []
        for step in steps:
            def bind(name):
                if name is None:
                    return (dummy, 0, 16)
                name = resolve(name)
                if name not in buffers:
                    buffers[name] = const_buffer(name)
                buf, off, nbytes = buffers[name]
                return (buf, off, b.nbytes(name) if b.nbytes(name) else 4)
            binds = [bind(n) for n in (*step.ins, *step.outs)]
            nin = len(step.ins)
            pid = rt.pipeline(step.shader, len(binds), len(step.push), fp16, subgroup)
            for piece, pbinds, push, count in _split(step, binds, nin, backend.max_range):
                ins, outs = pbinds[:nin], pbinds[nin:]
                ranges_in = [(id(x[0]), x[1], x[1] + x[2]) for x in ins]
                ranges_out = [(id(x[0]), x[1], x[1] + x[2]) for x in outs]
                barrier = any(_overlaps(r, written) for r in ranges_in) or \
                    any(_overlaps(r, written + read) for r in ranges_out)
                if barrier:
                    written, read = [], []
                written += ranges_out
                read += ranges_in
                groups = count if step.rows else -(-count // WG)
                gx, gy = min(groups, MAX_GROUPS), -(-groups // MAX_GROUPS)
                dispatches.append((pid, [tuple(x) for x in pbinds], push, (max(gx, 1), max(gy, 1), 1), barrier))
        self.program = _native().Program(rt.device, dispatches)
        self.dispatch_count = len(dispatches)
        rt.save_cache()

    def run(self, inputs, profiler=None) -> list:
        if self.program is None and not getattr(self, "dynamic", False):
            self.resize([TensorType.of(np.asarray(x)) if isinstance(x, np.ndarray) else
                         TensorType(DType.from_numpy(x.dtype), x.shape) for x in inputs])
        if self.dynamic:
            inputs = [self.backend.allocator.to_device(x) if isinstance(x, np.ndarray) else x for x in inputs]
            return self._variant(inputs).run(inputs, profiler)
        device = self.backend.runtime.device
        copies = []
        for x, (slot, nbytes) in zip(inputs, self.input_slots):
            if isinstance(x, np.ndarray):  # a host array handed straight to the executable
                host = np.ascontiguousarray(x.astype(DEVICE_DTYPE.get(x.dtype, x.dtype), copy=False))
                device.upload(slot, host.reshape(-1).view(np.uint8), 0)
            elif nbytes:
                copies.append((x.buffer, x.offset, slot, 0, nbytes))
        self.program.run(copies)
        return list(self.outputs)

    def planned_bytes(self) -> Optional[int]:
        return self.arena_bytes if self.program is not None else None


class HostFallback(Executable):
    """Opt-in (MNN_VULKAN_HOST_FALLBACK=1) safety net for a value-dependent segment whose run-time
    values turn out to be unsupported: the reference kernels run it on the host (counted in
    `VulkanBackend.fallbacks`)."""

    def __init__(self, backend, subgraph: Graph, view: GraphView, reason: str) -> None:
        self.backend, self.subgraph, self.view, self.reason = backend, subgraph, view, reason
        backend.fallbacks.append(reason)

    def resize(self, input_types) -> None:
        pass

    def run(self, inputs, profiler=None) -> list:
        from mnn_core.reference import Interpreter

        alloc = self.backend.allocator
        feeds = {n: np.asarray(alloc.to_host(x)) for n, x in zip(self.subgraph.inputs, inputs)}
        outs = Interpreter(self.subgraph, self.view.ops).run(feeds)
        return [alloc.to_device(np.asarray(o)) for o in outs]


def _device_array(array: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(array.astype(DEVICE_DTYPE.get(array.dtype, array.dtype), copy=False))


def _overlaps(r, ranges) -> bool:
    return any(r[0] == o[0] and r[1] < o[2] and o[1] < r[2] for o in ranges)


def _split(step: Step, binds, nin: int, max_range: int):
    """The dispatch as pieces whose bindings fit the device's maxStorageBufferRange: a flat
    elementwise step is cut into chunks of elements, each binding a window of its operands."""
    count = step.invocations
    if step.split != "flat" or all(x[2] <= max_range for x in binds):
        yield 0, binds, step.push, count
        return
    chunk = max(64, (max_range // 4) // 64 * 64)
    modes = list(step.modes) + [1] * (len(binds) - len(step.modes))
    for start in range(0, count, chunk):
        n = min(chunk, count - start)
        pbinds = []
        for (buf, off, nbytes), mode in zip(binds, modes):
            pbinds.append((buf, off + start * 4, n * 4) if mode == 1 else (buf, off, nbytes))
        push = u32(n) + step.push[4:]
        yield start, pbinds, push, n


# ---- backend and factory ------------------------------------------------------------------------
class VulkanBackend(Backend):
    def __init__(self, device: DeviceInfo, config: BackendConfig, runtime: Runtime) -> None:
        self.runtime = runtime
        super().__init__(device, config)
        info = runtime.info
        self.max_range = int(config.options.get(OPT_MAX_RANGE, info["max_storage_buffer_range"]))
        self.fp16 = config.precision is Precision.LOW and bool(info["shader_float16"])
        want_sg = str(config.options.get(OPT_SUBGROUPS, "1")).lower() not in ("0", "false", "off", "no")
        self.subgroups = want_sg and bool(info["subgroup_arithmetic"])
        self._env_cache: tuple = (None, None, None)
        self.fallbacks: list[str] = []

    def make_allocator(self) -> Allocator:
        return VulkanAllocator(self.runtime)

    def env_for(self, view: GraphView, types=None):
        types = types if types is not None else view.types
        key = (id(view.graph), tuple(sorted((n, types.get(n)) for n in view.graph.inputs)))
        if self._env_cache[0] == key and self._env_cache[1] is view.graph:
            return self._env_cache[2]
        given = {n: types[n] for n in view.graph.inputs if n in types}
        all_types, values = infer_types(view.graph, view.ops, given)
        env = ({**all_types, **types}, values)
        self._env_cache = (key, view.graph, env)
        return env

    def builder(self, view: GraphView, types=None) -> Builder:
        all_types, values = self.env_for(view, types)
        return Builder(all_types, values, max_range=self.max_range, low_precision=self.fp16)

    def capability(self, view: GraphView) -> Claim:
        claimed, refused = set(), {}
        b = self.builder(view)
        for i, node in enumerate(view.graph.nodes):
            try:
                lower(node, b)
                claimed.add(i)
            except Unsupported as why:
                if self._value_dependent(node, b):
                    claimed.add(i)  # lowered at run time, once the values are known
                else:
                    refused[i] = str(why)
            except Exception as error:  # a lowering bug must not break planning: leave it to others
                refused[i] = f"lowering failed: {type(error).__name__}: {error}"
        return Claim(frozenset(claimed), refused)

    def _value_dependent(self, node, b: Builder) -> bool:
        """A node we can lower once values known only at run time are there: parameters fed as
        inputs (Resize scales, Slice starts, ...), or shapes that follow from them."""
        if (node.op not in LOWERINGS and node.op not in VALUE_OPS) or node.domain not in ("", "ai.onnx") \
                or any(True for _ in node.subgraphs()):
            return False
        params = PARAM_INPUTS.get(node.op, ())
        waits = False
        for k, name in enumerate(node.inputs):
            if not name:
                continue
            t = b.types.get(name)
            if t is None or t.dtype is None or t.dtype not in WORDS:
                return False
            waits = waits or (k in params and name not in b.values) or not t.is_static
        for name in node.outputs:
            t = b.types.get(name)
            if name and (t is None or t.dtype is None or t.dtype not in WORDS):
                return False
        return waits

    def compile(self, subgraph: Graph, view: GraphView) -> Executable:
        return VulkanExecutable(self, subgraph, view)

    def close(self) -> None:
        self._env_cache = (None, None, None)


class VulkanFactory(BackendFactory):
    name = "vulkan"
    priority = 50
    description = "GLSL compute shaders (SPIR-V) on a Vulkan device; loader opened at run time"

    def __init__(self) -> None:
        self._probe: Optional[ProbeResult] = None

    def probe(self) -> ProbeResult:
        if self._probe is None:
            self._probe = self._probe_now()
        return self._probe

    def _probe_now(self) -> ProbeResult:
        try:
            native = _native()
        except ImportError as error:
            return ProbeResult.unavailable(f"native runtime not built: {error}")
        if not (SPIRV_DIR / "conv2d.spv").exists():
            return ProbeResult.unavailable("SPIR-V shaders were not built (no glslangValidator/glslc at build time)")
        try:
            found = native.probe()
        except Exception as error:  # missing loader, no ICD, instance creation failed
            return ProbeResult.unavailable(f"Vulkan unavailable: {error}")
        devices = []
        for index, info in enumerate(found):
            if not info["compute_queue"]:
                continue
            details = {k: str(v) for k, v in info.items()}
            devices.append(DeviceInfo("vulkan", f"{info['name']} (Vulkan {info['api_version']})", "gpu",
                                      memory=f"vulkan:{index}", details={**details, "index": str(index)}))
        if not devices:
            return ProbeResult.unavailable("no Vulkan device with a compute queue")
        return ProbeResult(tuple(devices))

    def create(self, device: DeviceInfo, config: BackendConfig) -> Backend:
        return VulkanBackend(device, config, Runtime.get(int(device.details.get("index", 0))))
