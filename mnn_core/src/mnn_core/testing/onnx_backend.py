"""An `onnx.backend.base.Backend` over mnn, so the ONNX backend test suite can run against it.

`prepare` converts the model with the ONNX frontend plugin of a `Context` made once per process, runs
the pass pipeline, and opens a session on the backends named in ``MNN_BACKENDS`` (every installed one
when unset), honouring ``MNN_STRICT``.
"""
from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np
import onnx
from onnx.backend.base import Backend, BackendRep

from ..frontend import ConversionError
from ..plugins import Context

_context: Optional[Context] = None


def context() -> Context:
    global _context
    if _context is None:
        _context = Context()
    return _context


def _frontend(ctx: Context):
    try:
        return ctx.frontends.get("onnx")
    except KeyError:
        raise ConversionError("the ONNX frontend plugin (mnn-frontend-onnx) is not installed") from None


def convert(model: onnx.ModelProto, optimize: bool = True):
    """An mnn `Model` for an ONNX ModelProto."""
    from .. import check_ops
    from ..passes import run_pipeline
    from ..registry import PassContext
    from ..session import Model

    ctx = context()
    graph = _frontend(ctx).convert(model, ops=ctx.ops)
    check_ops(graph, ctx)
    records = run_pipeline(graph, ctx.passes, PassContext(ctx.ops)) if optimize else []
    return Model(graph, ctx, None, records)


class MnnBackendRep(BackendRep):
    def __init__(self, model) -> None:
        self.model = model
        self.session = model.session()

    def run(self, inputs: Any, **kwargs: Any) -> tuple[Any, ...]:
        names = self.model.graph.inputs
        if isinstance(inputs, dict):
            feeds = dict(inputs)
        else:
            if isinstance(inputs, np.ndarray) or np.isscalar(inputs):
                inputs = [inputs]
            feeds = dict(zip(names, inputs))
        feeds = {n: v if isinstance(v, (list, np.ndarray)) or v is None else np.asarray(v)
                 for n, v in feeds.items()}
        outputs = self.session.run(feeds)
        return tuple(outputs[n] for n in self.model.graph.outputs)


class MnnBackend(Backend):
    @classmethod
    def prepare(cls, model: onnx.ModelProto, device: str = "CPU", **kwargs: Any) -> MnnBackendRep:
        super().prepare(model, device, **kwargs)
        return MnnBackendRep(convert(model))

    @classmethod
    def run_model(cls, model: onnx.ModelProto, inputs: Any, device: str = "CPU", **kwargs: Any):
        return cls.prepare(model, device, **kwargs).run(inputs)

    @classmethod
    def run_node(cls, node: onnx.NodeProto, inputs: Any, device: str = "CPU",
                 outputs_info: Optional[Sequence[tuple[np.dtype, tuple]]] = None, **kwargs: Any):
        """Run one node by wrapping it in a model typed from the given inputs."""
        from onnx import helper

        values = [np.asarray(x) for x in inputs]
        names = [n for n in node.input if n]
        graph_inputs = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
                        for n, v in zip(names, values)]
        graph_outputs = [helper.make_empty_tensor_value_info(n) for n in node.output if n]
        opset = kwargs.get("opset_version", onnx.defs.onnx_opset_version())
        model = helper.make_model(helper.make_graph([node], "run_node", graph_inputs, graph_outputs),
                                  opset_imports=[helper.make_opsetid(node.domain or "", opset)])
        return MnnBackendRep(convert(model)).run(values)  # untyped outputs: skip onnx's checker

    @classmethod
    def supports_device(cls, device: str) -> bool:
        return device.upper().startswith("CPU")


prepare = MnnBackend.prepare
run_model = MnnBackend.run_model
run_node = MnnBackend.run_node
supports_device = MnnBackend.supports_device
