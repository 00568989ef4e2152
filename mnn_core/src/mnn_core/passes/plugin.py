"""Built-in plugin registering the standard optimisation pipeline."""
from ..hookspecs import hookimpl
from ..registry import GraphPass

STANDARD_PIPELINE: tuple[GraphPass, ...] = ()


@hookimpl
def mnn_register_passes(registry) -> None:
    for graph_pass in STANDARD_PIPELINE:
        registry.add(graph_pass)
