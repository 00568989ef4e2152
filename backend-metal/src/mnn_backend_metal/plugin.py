"""Entry point of the Metal backend plugin (group ``mnn.plugins``, name ``metal``). Import-cheap:
pyobjc's Metal bindings are imported by `MetalFactory.probe()` / `create()`, and only on macOS."""
from mnn_core.hookspecs import hookimpl

from .backend import MetalFactory

MNN_PLUGIN_API = 1


@hookimpl
def mnn_register_backends(registry) -> None:
    registry.add(MetalFactory())
