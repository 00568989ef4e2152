"""mnn-backend-cuda: CUDA C++ kernels driven from a static plan per subgraph (backend ``cuda``), and
the same kernel sources compiled for the host through a small CUDA emulation (backend
``cuda-emulated``) so they can be tested without a GPU. Importing this package is cheap."""
__version__ = "0.1.0"
