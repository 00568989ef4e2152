"""Driver-level behaviour: probing, buffers, the program and tuning caches, fp16 storage."""
import os
import subprocess
import sys

import numpy as np
import pytest

from mnn_core.backend import BackendConfig, Precision


def test_plugin_import_is_cheap():
    code = "import sys, mnn_backend_opencl.plugin; print('mnn_backend_opencl._native' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_missing_loader_is_reported():
    code = ("from mnn_backend_opencl.backend import OpenCLFactory; "
            "print(OpenCLFactory().probe().unavailable_reason)")
    env = {**os.environ, "MNN_OPENCL_LIBRARY": "libOpenCL-missing.so.9"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    if out.returncode and "ImportError" in out.stderr:
        pytest.skip("native module not built")
    assert out.stdout.startswith("no OpenCL ICD loader (libOpenCL.so.1)"), out.stdout + out.stderr


@pytest.mark.parametrize("half", [False, True])
def test_allocator_round_trip(opencl_device, half):
    from mnn_backend_opencl.backend import OpenCLBackend

    backend = OpenCLBackend(opencl_device, BackendConfig(Precision.LOW if half else Precision.NORMAL))
    x = np.linspace(-2, 2, 35, dtype=np.float32).reshape(5, 7)
    buf = backend.allocator.to_device(x)
    assert backend.allocator.memory == "opencl:0"
    back = backend.allocator.to_host(buf)
    assert back.dtype == np.float32 and back.shape == (5, 7)
    np.testing.assert_allclose(back, x, rtol=1e-3 if half else 0, atol=0)
    ints = np.arange(6, dtype=np.int64)
    np.testing.assert_array_equal(backend.allocator.to_host(backend.allocator.to_device(ints)), ints)


def test_program_binary_is_cached_on_disk(opencl_device, tmp_path, monkeypatch):
    from mnn_backend_opencl import runtime

    monkeypatch.setenv("MNN_OPENCL_CACHE_DIR", str(tmp_path))
    device = runtime.Device(int(opencl_device.details["index"]))  # fresh: no in-memory programs
    device.program(half=False)
    files = list(tmp_path.glob("program-*.bin"))
    assert len(files) == 1 and files[0].stat().st_size > 0
    again = runtime.Device(int(opencl_device.details["index"]))
    again.program(half=False)  # loads the binary; the cache keeps one file per key
    assert list(tmp_path.glob("program-*.bin")) == files


def test_tuning_choices_are_cached(opencl_device, tmp_path, monkeypatch):
    from mnn_core.ir import Graph, Node, TensorType
    from mnn_core.dtypes import DType
    from mnn_core.plugins import Context
    from mnn_core.session import Model

    monkeypatch.setenv("MNN_OPENCL_CACHE_DIR", str(tmp_path))
    from mnn_backend_opencl import runtime
    runtime.Device._instances.clear()
    graph = Graph([Node("Relu", ["x"], ["y"])], ["x"], ["y"], {"x": TensorType(DType.F32, (64, 1024))})
    x = np.random.default_rng(0).standard_normal((64, 1024)).astype(np.float32)
    with Model(graph, Context()).session(["opencl"], strict=True, options={"opencl.tuning": "fast"}) as s:
        np.testing.assert_array_equal(s.run({"x": x})["y"], np.maximum(x, 0))
    tuning = list(tmp_path.glob("tuning-*.json"))
    assert tuning and "unary_relu" in tuning[0].read_text()
    runtime.Device._instances.clear()


def test_unknown_tuning_mode_is_refused(opencl_device):
    from mnn_backend_opencl.backend import OpenCLBackend

    with pytest.raises(ValueError, match="opencl.tuning"):
        OpenCLBackend(opencl_device, BackendConfig(options={"opencl.tuning": "extreme"}))
