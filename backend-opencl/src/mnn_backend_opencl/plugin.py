"""Entry point of the OpenCL backend plugin (group ``mnn.plugins``, name ``opencl``). Import-cheap: the
native module and the OpenCL library load in `OpenCLFactory.probe()` / `create()`, never here."""
from mnn_core.hookspecs import hookimpl

from .backend import OpenCLFactory

MNN_PLUGIN_API = 1


@hookimpl
def mnn_register_backends(registry) -> None:
    registry.add(OpenCLFactory())
