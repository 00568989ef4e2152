"""Entry point of the Vulkan backend plugin (group ``mnn.plugins``, name ``vulkan``). Import-cheap:
the native runtime and the Vulkan loader are opened by `VulkanFactory.probe()` / `create()`."""
from mnn_core.hookspecs import hookimpl

from .backend import VulkanFactory

MNN_PLUGIN_API = 1


@hookimpl
def mnn_register_backends(registry) -> None:
    registry.add(VulkanFactory())
