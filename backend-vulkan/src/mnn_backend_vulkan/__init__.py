"""mnn Vulkan backend: compute shaders over storage buffers, one pre-recorded command buffer per
compiled segment. See `backend.VulkanFactory`."""
__version__ = "0.1.0"
