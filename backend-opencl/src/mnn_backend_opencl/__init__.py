"""mnn-backend-opencl: the OpenCL backend of mnn. libOpenCL.so.1 is loaded at run time, OpenCL C
kernels (package data) are compiled on the device and cached on disk, and each compiled segment runs
with one native call that enqueues all its kernels. Importing this package is cheap."""
__version__ = "0.1.0"
