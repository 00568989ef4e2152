"""Built-in plugin registering the reference backend through the same hook as any backend."""
from ..hookspecs import hookimpl
from .backend import ReferenceFactory


@hookimpl
def mnn_register_backends(registry) -> None:
    registry.add(ReferenceFactory())
