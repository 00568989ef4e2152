"""`OnnxFrontend`: reads a model from a path, bytes or a ModelProto and hands it to the converter."""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from mnn_core.frontend import CheckReport, ConversionError, Frontend
from mnn_core.ir import Graph


class OnnxFrontend(Frontend):
    """ONNX models of opset 7 to the newest (6 best effort).

    :param ops: the op registry whose ops count as supported; the standard ops when None. Ops it lacks
        are inlined when ONNX defines them as functions, else reported as unsupported.
    """

    name = "onnx"
    suffixes = (".onnx",)

    def __init__(self, ops=None) -> None:
        self._ops = ops

    @property
    def ops(self):
        if self._ops is None:
            from mnn_core.ops import standard_ops

            self._ops = standard_ops()
        return self._ops

    def accepts(self, source: Any) -> bool:
        if type(source).__name__ == "ModelProto":
            return True
        if isinstance(source, (bytes, bytearray, memoryview)):
            try:
                model = _parse(bytes(source), "<bytes>")
            except ConversionError:
                return False
            return model.HasField("graph") and model.ir_version > 0
        return super().accepts(source)

    def convert(self, source: Any, ops=None) -> Graph:
        """`ops`: the registry of the context converting (ops plugins add count as supported)."""
        from .convert import Converter

        model, label = load_model(source)
        converter = Converter(model, ops or self.ops, label)
        graph = converter.convert()
        if converter.unsupported:
            raise ConversionError(f"cannot convert {label}", tuple(converter.unsupported))
        return graph

    def check(self, source: Any, ops=None) -> CheckReport:
        from .convert import Converter

        model, label = load_model(source)
        counts = Counter(n.op_type for n in _walk_nodes(model.graph))
        converter = Converter(model, ops or self.ops, label)
        converter.convert()
        opsets = ", ".join(f"{o.domain or 'ai.onnx'} {o.version}" for o in model.opset_import)
        return CheckReport("onnx", dict(counts), list(converter.unsupported),
                           [f"{label}: ir_version {model.ir_version}, opsets {opsets}"] + converter.notes)


def load_model(source: Any):
    """The ModelProto and a label naming it in messages. Corrupt input raises ConversionError."""
    import onnx

    if isinstance(source, onnx.ModelProto):
        return source, f"model {source.graph.name or '<in memory>'!r}"
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _parse(bytes(source), "<bytes>"), "<bytes>"
    path = Path(source)
    label = str(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ConversionError(f"cannot read ONNX file {label}: {error}") from error
    model = _parse(data, label)
    if _has_external_data(model):
        from onnx.external_data_helper import load_external_data_for_model

        try:
            load_external_data_for_model(model, str(path.parent))
        except Exception as error:
            raise ConversionError(f"ONNX file {label}: cannot load external data: "
                                  f"{type(error).__name__}: {error}") from error
    return model, label


def _parse(data: bytes, label: str):
    import onnx
    from google.protobuf.message import DecodeError

    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except (DecodeError, RuntimeWarning, ValueError) as error:
        raise ConversionError(f"{label} is not a valid ONNX model (corrupt or truncated protobuf: "
                              f"{error})") from error
    if not model.HasField("graph") or (not model.graph.node and not model.graph.output):
        raise ConversionError(f"{label} is not a valid ONNX model (no graph; corrupt or truncated?)")
    return model


def _has_external_data(model) -> bool:
    import onnx

    return any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer)


def _walk_nodes(graph) -> list:
    import onnx

    nodes = []
    for node in graph.node:
        nodes.append(node)
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                nodes.extend(_walk_nodes(attr.g))
            elif attr.type == onnx.AttributeProto.GRAPHS:
                for g in attr.graphs:
                    nodes.extend(_walk_nodes(g))
    return nodes
