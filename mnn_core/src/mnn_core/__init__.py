"""mnn-core: the IR, op schemas with numpy reference kernels, the plugin host, the scheduler and
the Session API of the mnn inference framework.

    import mnn_core
    model = mnn_core.load("model.onnx")          # or a .mnn file
    session = model.session(backends=["cpu"])
    outputs = session.run({"input": array})
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

from .backend import (PLUGIN_API_VERSION, Allocator, Backend, BackendConfig, BackendFactory,
                      BackendUnavailable, Claim, CostReport, DeviceInfo, Executable, GraphView,
                      ProbeResult)
from .dtypes import DType
from .frontend import CheckReport, ConversionError, Frontend, UnsupportedOp
from .hookspecs import hookimpl
from .ir import Graph, Node, QuantParams, TensorType
from .plugins import Context, default_context
from .session import InputError, Model, Plan, PlacementError, Session

__version__ = "0.1.0"


def convert(source: Union[str, Path, bytes], context: Optional[Context] = None,
            optimize: bool = True, on_pass=None) -> Model:
    """Convert a model with the frontend plugin that accepts it, then run the pass pipeline."""
    from .passes import run_pipeline
    from .registry import PassContext

    context = context or default_context()
    frontend = context.frontends.for_source(source)
    if frontend is None:
        names = ", ".join(f"{f.name} ({'/'.join(f.suffixes)})" for f in context.frontends) or "none"
        raise ConversionError(f"no installed frontend reads {source!r}; installed frontends: {names}")
    graph = frontend.convert(source, ops=context.ops)
    check_ops(graph, context)
    records = run_pipeline(graph, context.passes, PassContext(context.ops), on_pass) if optimize else []
    return Model(graph, context, str(source) if not isinstance(source, bytes) else None, records)


def check_ops(graph: Graph, context: Context) -> None:
    """Refuse a graph that uses ops the context does not know, naming all of them at once."""
    unknown = [UnsupportedOp(n.op, n.name or n.outputs[0], reason="unknown op")
               for n in graph.walk() if n.op not in context.ops]
    if unknown:
        raise ConversionError("the model uses ops mnn does not know", tuple(unknown))


def load(source: Union[str, Path, bytes], context: Optional[Context] = None,
         optimize: bool = True) -> Model:
    """Load a `.mnn` file, or convert any format an installed frontend reads."""
    context = context or default_context()
    if isinstance(source, (str, Path)) and Path(source).suffix == ".mnn":
        from .format import load_graph

        graph = load_graph(source)
        check_ops(graph, context)
        return Model(graph, context, str(source))
    return convert(source, context, optimize)


__all__ = ["PLUGIN_API_VERSION", "Allocator", "Backend", "BackendConfig", "BackendFactory",
           "BackendUnavailable", "CheckReport", "Claim", "Context", "ConversionError", "CostReport",
           "DType", "DeviceInfo", "Executable", "Frontend", "Graph", "GraphView", "InputError",
           "Model", "Node", "PlacementError", "Plan", "ProbeResult", "QuantParams", "Session",
           "TensorType", "UnsupportedOp", "check_ops", "convert", "default_context", "hookimpl",
           "load", "__version__"]
