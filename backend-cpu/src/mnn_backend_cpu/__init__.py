"""mnn-backend-cpu: the native CPU backend of mnn (C++17 kernels for AVX-512, AVX2 and a portable
baseline, chosen at run time). Importing this package is cheap; the native module loads on first use."""
__version__ = "0.1.0"
