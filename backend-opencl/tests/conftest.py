import os
import tempfile

import pytest

# Program binaries and tuning choices made by the tests go to a throw-away cache, never ~/.cache/mnn.
os.environ.setdefault("MNN_OPENCL_CACHE_DIR", tempfile.mkdtemp(prefix="mnn-opencl-cache-"))
os.environ.setdefault("MNN_OPENCL_TUNING", "none")


@pytest.fixture(scope="session")
def opencl_device():
    """The OpenCL device, or a skip that says why there is none (no loader, no platform)."""
    from mnn_backend_opencl.backend import OpenCLFactory

    probe = OpenCLFactory().probe()
    if not probe.available:
        pytest.skip(f"OpenCL unavailable: {probe.unavailable_reason}")
    return probe.devices[0]
