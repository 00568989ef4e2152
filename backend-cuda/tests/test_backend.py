"""The `cuda` and `cuda-emulated` backends through mnn sessions."""
from pathlib import Path

import numpy as np
import pytest

import mnn_core
from mnn_core.dtypes import DType
from mnn_core.ir import Graph, Node, TensorType
from mnn_core.session import Model
from mnn_backend_cuda.backend import CudaFactory, EmulatedCudaFactory
from mnn_core.testing.models import models_dir

MODEL = models_dir() / "squeezenet1_1.onnx"
rng = np.random.default_rng(0)


def small_cnn() -> Graph:
    """Conv+ReLU (direct), 1x1 Conv (GEMM path), MaxPool, Resize, Concat, Softmax."""
    rng = np.random.default_rng(1)  # the same weights on every call
    consts = {"w1": rng.standard_normal((8, 3, 3, 3)).astype(np.float32) * 0.3,
              "b1": rng.standard_normal(8).astype(np.float32),
              "w2": rng.standard_normal((4, 8, 1, 1)).astype(np.float32) * 0.3,
              "scales": np.array([1, 1, 2, 2], np.float32)}
    nodes = [Node("Conv", ["x", "w1", "b1"], ["c1"], {"pads": [1, 1, 1, 1], "activation": "Relu"}, name="c1"),
             Node("Conv", ["c1", "w2"], ["c2"], name="c2"),
             Node("MaxPool", ["c2"], ["p"], {"kernel_shape": [2, 2], "strides": [2, 2]}, name="p"),
             Node("Resize", ["p", "", "scales"], ["r"], {"mode": "linear"}, name="r"),
             Node("Concat", ["r", "c2"], ["cat"], {"axis": 1}, name="cat"),
             Node("Softmax", ["cat"], ["y"], {"axis": 1}, name="sm")]
    return Graph(nodes, ["x"], ["y"], {"x": TensorType(DType.F32, (2, 3, 8, 8))}, consts)


def test_cuda_probe_reports_why_without_a_gpu():
    probe = CudaFactory().probe()
    if probe.available:
        pytest.skip("a CUDA device is present")
    reason = probe.unavailable_reason
    assert reason.startswith("not built with CUDA") or reason.startswith("cudaGetDeviceCount failed:"), reason


def test_emulated_probe_is_always_available():
    probe = EmulatedCudaFactory().probe()
    assert probe.available and probe.devices[0].memory == "cuda-emulated:0"


@pytest.mark.parametrize("backend", ["cuda-emulated", "cuda"])
def test_small_cnn_matches_reference(backend):
    probe = {"cuda": CudaFactory, "cuda-emulated": EmulatedCudaFactory}[backend]().probe()
    if not probe.available:
        pytest.skip(f"{backend}: {probe.unavailable_reason}")
    ctx = mnn_core.default_context()
    x = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    with Model(small_cnn(), ctx).session(backends=[backend], strict=True) as session:
        assert session.plan.backend_counts() == {backend: 6}, str(session.plan)
        got = session.run({"x": x})["y"]
        again = session.run({"x": x})["y"]
    with Model(small_cnn(), ctx).session(backends=["reference"]) as ref:
        want = ref.run({"x": x})["y"]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(got, again)


def test_device_memory_is_counted_and_freed():
    factory = EmulatedCudaFactory()
    backend = factory.create(factory.probe().devices[0], mnn_core.backend.BackendConfig())
    alloc = backend.allocator
    buf = alloc.to_device(np.arange(10, dtype=np.float32))
    assert alloc.bytes_in_use == 40
    np.testing.assert_array_equal(alloc.to_host(buf), np.arange(10, dtype=np.float32))
    del buf  # run outputs are handed out without an owner: they free themselves
    assert alloc.bytes_in_use == 0
    backend.close()


def test_squeezenet_matches_onnxruntime_under_emulation():
    if not MODEL.exists():
        pytest.skip(f"{MODEL} is absent")
    ort = pytest.importorskip("onnxruntime")
    if not mnn_core.default_context().frontends.for_source(str(MODEL)):
        pytest.skip("no ONNX frontend installed")
    model = mnn_core.load(str(MODEL))
    x = rng.standard_normal((1, 3, 224, 224)).astype(np.float32)
    with model.session(backends=["cuda-emulated"], strict=True) as session:
        got = session.run({model.graph.inputs[0]: x})
    want = ort.InferenceSession(str(MODEL), providers=["CPUExecutionProvider"]).run(None, {model.graph.inputs[0]: x})
    a, b = next(iter(got.values())).reshape(-1).astype(np.float64), want[0].reshape(-1).astype(np.float64)
    assert a @ b / (np.linalg.norm(a) * np.linalg.norm(b)) >= 0.99999
