"""Entry point of the CUDA backend plugin (group ``mnn.plugins``, name ``cuda``). Registers two
factories: ``cuda`` (a GPU through the CUDA runtime) and ``cuda-emulated`` (the same kernels run on
the CPU). Import-cheap: native modules load in `probe()` / `create()`, never here."""
from mnn_core.hookspecs import hookimpl

from .backend import CudaFactory, EmulatedCudaFactory

MNN_PLUGIN_API = 1


@hookimpl
def mnn_register_backends(registry) -> None:
    registry.add(CudaFactory())
    registry.add(EmulatedCudaFactory())
