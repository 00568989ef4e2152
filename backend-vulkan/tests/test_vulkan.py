"""Vulkan-specific behaviour: probing, device memory, one command buffer per segment, binding-range
splitting, the pipeline cache, fp16 and subgroup variants, value-dependent segments."""
from pathlib import Path

import numpy as np
import pytest

from mnn_core.dtypes import DType
from mnn_core.ir import Graph, Node, TensorType
from mnn_core.plugins import Context
from mnn_core.session import Model


@pytest.fixture(scope="module")
def ctx():
    return Context()


def run(graph, feeds, ctx, **kw):
    with Model(graph, ctx).session(backends=["vulkan"], strict=True, **kw) as session:
        out = session.run(feeds)
        return out, session.plan


def chain_graph(n: int) -> Graph:
    """tanh(x * 2 + x) - elementwise only, so it can be split into chunks."""
    nodes = [Node("Mul", ["x", "two"], ["a"], name="mul"), Node("Add", ["a", "x"], ["b"], name="add"),
             Node("Tanh", ["b"], ["y"], name="tanh")]
    return Graph(nodes, ["x"], ["y"], {"x": TensorType(DType.F32, (n,))}, {"two": np.array([2.0], np.float32)})


def test_plugin_import_is_cheap():
    import subprocess
    import sys

    code = ("import sys, mnn_backend_vulkan.plugin as p; assert p.MNN_PLUGIN_API == 1; "
            "assert 'mnn_backend_vulkan._vk' not in sys.modules, 'runtime loaded at import'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_probe_reports_device_or_reason():
    from mnn_backend_vulkan.backend import VulkanFactory

    probe = VulkanFactory().probe()
    assert probe.available or probe.unavailable_reason


def test_allocator_memory_domain_and_dtypes(vulkan_device, ctx):
    from mnn_backend_vulkan.backend import VulkanFactory
    from mnn_core.backend import BackendConfig

    backend = VulkanFactory().create(vulkan_device, BackendConfig())
    assert backend.allocator.memory == vulkan_device.memory == "vulkan:0"
    for dtype in ("float32", "int64", "int32", "bool", "float16", "uint8"):
        host = (np.arange(-7, 17) * 3).reshape(4, 6).astype(dtype)
        back = backend.allocator.to_host(backend.allocator.to_device(host))
        assert back.dtype == host.dtype
        np.testing.assert_array_equal(back, host)


def test_segment_is_one_command_buffer_with_barriers(vulkan_device, ctx):
    x = np.random.default_rng(0).standard_normal(1000).astype(np.float32)
    out, plan = run(chain_graph(1000), {"x": x}, ctx)
    np.testing.assert_allclose(out["y"], np.tanh(3 * x), rtol=1e-5, atol=1e-6)
    assert len(plan.segments) == 1
    exe = plan.segments[0].executable
    assert exe.program.dispatches == 3
    assert exe.program.barriers == 2  # each op reads what the previous one wrote


def test_split_over_small_binding_limit(vulkan_device, ctx):
    n = 10_000  # 40 000 bytes per tensor against a forced 4 KiB binding limit
    x = np.random.default_rng(1).standard_normal(n).astype(np.float32)
    out, plan = run(chain_graph(n), {"x": x}, ctx, options={"vulkan.max_storage_buffer_range": "4096"})
    np.testing.assert_allclose(out["y"], np.tanh(3 * x), rtol=1e-5, atol=1e-6)
    exe = plan.segments[0].executable
    assert exe.program.dispatches == 3 * -(-n // 1024)


def test_too_large_for_binding_is_refused(vulkan_device, ctx):
    g = Graph([Node("Softmax", ["x"], ["y"], {"axis": -1}, name="sm")], ["x"], ["y"],
              {"x": TensorType(DType.F32, (4, 2000))})
    with pytest.raises(Exception, match="maxStorageBufferRange"):
        run(g, {"x": np.zeros((4, 2000), np.float32)}, ctx, options={"vulkan.max_storage_buffer_range": "4096"})


def test_pipeline_cache_written(vulkan_device, ctx):
    import os

    run(chain_graph(10), {"x": np.ones(10, np.float32)}, ctx)
    cache = Path(os.environ["MNN_VULKAN_CACHE_DIR"]) / "pipelines-0.bin"
    assert cache.exists() and cache.stat().st_size > 0


@pytest.mark.parametrize("subgroups", ["1", "0"])
@pytest.mark.parametrize("precision", ["normal", "low"])
def test_softmax_layernorm_variants(vulkan_device, ctx, subgroups, precision):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 5, 300)).astype(np.float32)
    scale = rng.standard_normal(300).astype(np.float32)
    nodes = [Node("LayerNormalization", ["x", "s"], ["n"], {"axis": -1, "epsilon": 1e-5}, name="ln"),
             Node("Softmax", ["n"], ["y"], {"axis": -1}, name="sm")]
    g = Graph(nodes, ["x"], ["y"], {"x": TensorType(DType.F32, x.shape)}, {"s": scale})
    out, plan = run(g, {"x": x}, ctx, precision=precision, options={"vulkan.subgroups": subgroups})
    backend = plan.segments[0].backend
    assert backend.subgroups == (subgroups == "1" and backend.runtime.info["subgroup_arithmetic"])
    assert backend.fp16 == (precision == "low" and backend.runtime.info["shader_float16"])
    n = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5) * scale
    e = np.exp(n - n.max(-1, keepdims=True))
    tol = 1e-5 if precision == "normal" else 1e-2
    np.testing.assert_allclose(out["y"], e / e.sum(-1, keepdims=True), rtol=tol, atol=tol)


def test_fp16_arithmetic_is_used(vulkan_device, ctx):
    """Low precision runs the fp16 shader variants: results differ from fp32 by fp16 rounding."""
    x = np.linspace(1.0, 2.0, 4096, dtype=np.float32)
    g = Graph([Node("Mul", ["x", "k"], ["y"], name="mul")], ["x"], ["y"], {"x": TensorType(DType.F32, x.shape)},
              {"k": np.array([1.0001], np.float32)})
    normal, _ = run(g, {"x": x}, ctx)
    low, plan = run(g, {"x": x}, ctx, precision="low")
    np.testing.assert_allclose(normal["y"], x * np.float32(1.0001), rtol=1e-6)
    if plan.segments[0].backend.fp16:
        assert not np.array_equal(low["y"], normal["y"])
        np.testing.assert_allclose(low["y"], normal["y"], rtol=2e-3)


def test_value_dependent_resize(vulkan_device, ctx):
    """Resize scales fed at run time: lowered once the values are known, on the device."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 2, 4, 5)).astype(np.float32)
    g = Graph([Node("Resize", ["x", "", "scales"], ["y"], {"mode": "linear"}, name="rs")], ["x", "scales"], ["y"],
              {"x": TensorType(DType.F32, x.shape), "scales": TensorType(DType.F32, (4,))})
    scales = np.array([1, 1, 2, 1.5], np.float32)
    out, plan = run(g, {"x": x, "scales": scales}, ctx)
    from mnn_core.reference import Interpreter
    want = Interpreter(g, ctx.ops).run({"x": x, "scales": scales})[0]
    np.testing.assert_allclose(out["y"], want, rtol=1e-5, atol=1e-6)
    assert plan.segments[0].backend.fallbacks == []
