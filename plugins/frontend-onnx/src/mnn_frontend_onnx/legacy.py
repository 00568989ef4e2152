"""Rewrites of older-opset op forms into the newest-opset form that the mnn IR uses.

A rule applies to a node of one of its ops whose opset version is below the version where the op
took its current form. Rules edit the `OpNode` in place and may add nodes before or after it and new
constants through the `Rewrite`; nothing reaches the graph until the converter commits, so a node
that turns out unsupported leaves no debris. A rule returns a reason string when it cannot rewrite.
"""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from mnn_core.ir import TensorType

RuleFn = Callable[["object", "Rewrite"], Optional[str]]
RULES: list[tuple[frozenset[str], int, RuleFn]] = []


def rule(*ops: str, below: int = 1 << 30):
    def register(fn: RuleFn) -> RuleFn:
        RULES.append((frozenset(ops), below, fn))
        return fn
    return register


def apply(node, rw: "Rewrite") -> Optional[str]:
    """Run every rule that matches `node` (in definition order, so a renamed op meets its own rules)."""
    node.attrs = {k: v for k, v in node.attrs.items() if v is not None and k != "consumed_inputs"}
    for ops, below, fn in RULES:
        if node.op in ops and node.version < below:
            reason = fn(node, rw)
            if reason:
                return reason
    return None


class Rewrite:
    """Stages the extra nodes and constants of one node's rewrite until the converter commits."""

    def __init__(self, converter, graph, node) -> None:
        self.converter, self.graph, self.node = converter, graph, node
        self.before: list = []
        self.after: list = []
        self._constants: dict[str, np.ndarray] = {}

    def const(self, base: str, value, dtype=None) -> str:
        name = self.converter.fresh(f"{self.node.name}/{base}")
        self._constants[name] = np.asarray(value, dtype=dtype)
        return name

    def fresh(self, base: str) -> str:
        return self.converter.fresh(f"{self.node.name}/{base}")

    def add(self, where: str, op: str, inputs: list[str], outputs: list[str], **attrs) -> None:
        from .convert import OpNode

        extra = OpNode(op, inputs, outputs, attrs, self.converter.node_name(f"{self.node.name}/{op}", op),
                       "", self.node.version)
        (self.before if where == "before" else self.after).append(extra)

    def value(self, name: str) -> Optional[np.ndarray]:
        if name in self._constants:
            return self._constants[name]
        return self.graph.constants.get(name)

    def type(self, name: str) -> TensorType:
        from .convert import tensor_type

        if self.value(name) is not None:
            return TensorType.of(self.value(name))
        known = self.graph.types.get(name)
        inferred = self.converter.onnx_types.get(name)
        inferred = tensor_type(inferred) if inferred is not None else None
        for t in (known, inferred):
            if t is not None and t.shape is not None:
                return t
        return known or inferred or TensorType(None, None)

    def numpy_dtype(self, name: str, default=np.float32) -> np.dtype:
        t = self.type(name)
        return t.dtype.numpy if t.dtype is not None else np.dtype(default)

    def commit(self) -> None:
        from mnn_core.ir import Node

        self.graph.constants.update(self._constants)
        for extra in self.before:
            self.graph.nodes.append(Node(extra.op, extra.inputs, extra.outputs, extra.attrs, extra.name))


def _set_input(node, index: int, name: str) -> None:
    while len(node.inputs) <= index:
        node.inputs.append("")
    node.inputs[index] = name


def attrs_to_inputs(node, rw: Rewrite, spec: list[tuple[str, int, object]]) -> None:
    """Move attributes into inputs: (attribute, input index, numpy dtype or 'data' for X's dtype)."""
    for attr, index, dtype in spec:
        if attr not in node.attrs:
            continue
        value = node.attrs.pop(attr)
        if dtype == "data":
            dtype = rw.numpy_dtype(node.inputs[0])
        _set_input(node, index, rw.const(attr, value, dtype))


# ---- opset < 7: legacy broadcasting ------------------------------------------------------------
@rule("Add", "Sub", "Mul", "Div", "Pow", "And", "Or", "Xor", "Equal", "Greater", "Less", below=7)
def legacy_broadcast(node, rw):
    broadcast, axis = node.attrs.pop("broadcast", 0), node.attrs.pop("axis", None)
    if not broadcast or axis is None:
        return None  # no axis: numpy-style suffix broadcasting, as today
    rank_a, b = rw.type(node.inputs[0]).rank, node.inputs[1]
    rank_b = rw.type(b).rank
    if rank_a is None or rank_b is None:
        return "legacy broadcast with axis needs known ranks"
    trailing = rank_a - (axis % rank_a) - rank_b
    if trailing <= 0:
        return None
    value = rw.value(b)
    if value is not None:
        node.inputs[1] = rw.const("B", value.reshape(value.shape + (1,) * trailing))
    else:
        out = rw.fresh("B_aligned")
        axes = rw.const("axes", list(range(rank_b, rank_b + trailing)), np.int64)
        rw.add("before", "Unsqueeze", [b, axes], [out])
        node.inputs[1] = out
    return None


@rule("PRelu", below=7)
def prelu_channel_slope(node, rw):
    """Before opset 7 a 1-D slope of size C applied along the channel axis (axis 1)."""
    x, slope = rw.type(node.inputs[0]), rw.value(node.inputs[1])
    if slope is None or slope.ndim != 1 or slope.size == 1 or x.rank is None or x.rank < 3:
        return None
    node.inputs[1] = rw.const("slope", slope.reshape((-1,) + (1,) * (x.rank - 2)))
    return None


@rule("Gemm", below=7)
def gemm_broadcast(node, rw):
    node.attrs.pop("broadcast", None)


# ---- attributes that became inputs ------------------------------------------------------------
@rule("ReduceSum", below=13)
@rule("ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSum",
      "ReduceLogSumExp", "ReduceSumSquare", below=18)
def reduce_axes(node, rw):
    attrs_to_inputs(node, rw, [("axes", 1, np.int64)])


@rule("Squeeze", "Unsqueeze", below=13)
def squeeze_axes(node, rw):
    attrs_to_inputs(node, rw, [("axes", 1, np.int64)])


@rule("Slice", below=10)
def slice_inputs(node, rw):
    attrs_to_inputs(node, rw, [("starts", 1, np.int64), ("ends", 2, np.int64), ("axes", 3, np.int64)])


@rule("Pad", below=11)
def pad_inputs(node, rw):
    node.attrs.setdefault("pads", node.attrs.pop("paddings", ()))
    value = node.attrs.pop("value", 0.0)
    attrs_to_inputs(node, rw, [("pads", 1, np.int64)])
    if value != 0.0:
        _set_input(node, 2, rw.const("value", value, rw.numpy_dtype(node.inputs[0])))


@rule("Clip", below=11)
def clip_inputs(node, rw):
    attrs_to_inputs(node, rw, [("min", 1, "data"), ("max", 2, "data")])


@rule("Split", below=13)
def split_input(node, rw):
    attrs_to_inputs(node, rw, [("split", 1, np.int64)])


@rule("Split", below=18)
def split_count(node, rw):
    if len(node.inputs) < 2 or not node.inputs[1]:
        node.attrs["num_outputs"] = len(node.outputs)


@rule("TopK", below=10)
def topk_input(node, rw):
    _set_input(node, 1, rw.const("k", [node.attrs.pop("k")], np.int64))


@rule("DFT", below=20)
def dft_axis_input(node, rw):
    """DFT-17 keeps the axis in an attribute (default 1); DFT-20 takes it as input 2."""
    _set_input(node, 2, rw.const("axis", node.attrs.pop("axis", 1), np.int64))


@rule("Dropout", below=12)
def dropout_ratio(node, rw):
    node.attrs.pop("is_test", None)
    ratio = node.attrs.pop("ratio", None)
    if ratio is not None:
        _set_input(node, 1, rw.const("ratio", ratio, np.float32))


@rule("BatchNormalization", below=14)
def batchnorm_inference(node, rw):
    if node.attrs.pop("spatial", 1) == 0:
        return "spatial=0 (per-activation statistics) is not supported"
    node.attrs.pop("is_test", None)
    if any(node.outputs[1:]):
        rw.converter.notes.append(f"{node.name}: training outputs of BatchNormalization-{node.version} "
                                  "dropped (inference only)")
    del node.outputs[1:]


# ---- Softmax family: pre-13 versions coerce the input to 2-D at `axis` -------------------------
@rule("Softmax", "LogSoftmax", "Hardmax", below=13)
def softmax_2d(node, rw):
    axis = node.attrs.get("axis", 1)
    rank = rw.type(node.inputs[0]).rank
    if rank is not None and (axis % max(rank, 1)) == rank - 1:
        node.attrs["axis"] = -1  # one trailing axis: same meaning in both forms
        return None
    x, y = node.inputs[0], node.outputs[0]
    flat, flat_out, shape = rw.fresh("flat"), rw.fresh("flat_out"), rw.fresh("shape")
    rw.add("before", "Flatten", [x], [flat], axis=axis)
    rw.add("before", "Shape", [x], [shape])
    node.inputs[0], node.outputs[0] = flat, flat_out
    node.attrs["axis"] = -1
    rw.add("after", "Reshape", [flat_out, shape], [y])
    return None


# ---- renamed or replaced ops ------------------------------------------------------------------
@rule("Scatter")
def scatter(node, rw):
    node.op = "ScatterElements"


@rule("Upsample")
def upsample(node, rw):
    """Upsample is Resize-10 with the same inputs; opset 7 keeps its scales in an attribute."""
    node.op = "Resize"
    if "scales" in node.attrs:
        _set_input(node, 1, rw.const("scales", node.attrs.pop("scales"), np.float32))
    elif "height_scale" in node.attrs:  # Upsample-1
        scales = [1.0, 1.0, node.attrs.pop("height_scale"), node.attrs.pop("width_scale")]
        _set_input(node, 1, rw.const("scales", scales, np.float32))
    if node.attrs.get("mode") == "bilinear":
        node.attrs["mode"] = "linear"


@rule("Resize", below=11)
def resize_10(node, rw):
    """Resize-10 has inputs (X, scales) and asymmetric coordinates with floor rounding."""
    node.inputs = [node.inputs[0], "", node.inputs[1]]
    node.attrs["coordinate_transformation_mode"] = "asymmetric"
    if node.attrs.get("mode", "nearest") == "nearest":
        node.attrs["nearest_mode"] = "floor"


@rule("Resize")
def resize_optional_inputs(node, rw):
    """Empty roi/scales tensors (required placeholders before opset 13) mean "not given"."""
    for index in (1, 2):
        if index < len(node.inputs) and node.inputs[index]:
            value = rw.value(node.inputs[index])
            if value is not None and value.size == 0:
                node.inputs[index] = ""
    if node.attrs.get("coordinate_transformation_mode") != "tf_crop_and_resize" and len(node.inputs) > 1:
        node.inputs[1] = ""


@rule("GroupNormalization", below=21)
def group_norm_per_channel(node, rw):
    """GroupNormalization-18 scales per group; 21 scales per channel."""
    groups = node.attrs.get("num_groups")
    channels = (rw.type(node.inputs[0]).shape or (None, None))[1]
    values = [rw.value(n) for n in node.inputs[1:3]]
    if not isinstance(channels, int) or groups is None or any(v is None for v in values):
        return "GroupNormalization-18 needs constant scale/bias and a known channel count"
    for index, value in zip((1, 2), values):
        node.inputs[index] = rw.const("per_channel", np.repeat(value, channels // groups))
    return None


@rule("Scan", below=9)
def scan_8(node, rw):
    return "Scan-8 (batched, with sequence_lens) is not supported; re-export with opset 9 or newer"
