"""Entry point of the CPU backend plugin (group ``mnn.plugins``, name ``cpu``). Import-cheap: the
native module is loaded by `CpuFactory.probe()` / `create()`, never here."""
from mnn_core.hookspecs import hookimpl

from .backend import CpuFactory

MNN_PLUGIN_API = 1


@hookimpl
def mnn_register_backends(registry) -> None:
    registry.add(CpuFactory())
