"""mnn-backend-metal: Metal Shading Language kernels driven through the Metal framework (macOS only;
elsewhere the backend reports itself unavailable). Importing this package is cheap."""
__version__ = "0.1.0"
