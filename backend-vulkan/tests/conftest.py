import os
import tempfile

import pytest

# Pipeline caches written by the tests go to a throw-away directory, never the user's ~/.cache/mnn.
os.environ.setdefault("MNN_VULKAN_CACHE_DIR", tempfile.mkdtemp(prefix="mnn-vulkan-cache-"))


@pytest.fixture(scope="session")
def vulkan_device():
    """The probed Vulkan device; skips (with the reason) where there is no loader or device."""
    from mnn_backend_vulkan.backend import VulkanFactory

    probe = VulkanFactory().probe()
    if not probe.available:
        pytest.skip(f"Vulkan backend unavailable: {probe.unavailable_reason}")
    return probe.devices[0]
