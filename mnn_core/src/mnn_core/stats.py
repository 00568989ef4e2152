"""Model statistics: parameter count and FLOPs per node, from inferred types.

FLOPs follow the usual convention of counting a multiply-add as two: contractions (Conv,
ConvTranspose, Gemm, MatMul, Einsum, Attention) cost 2 x MACs; pooling costs one op per window
element; reductions one per input element; data movement (Reshape, Transpose, Gather, ...) nothing;
every other op about one per output element. A node whose shapes are not static has unknown cost
(None) and is left out of the totals, which `unknown` counts.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence

import numpy as np

from .ir import Graph, Node, TensorType

MOVEMENT_OPS = frozenset({
    "Cast", "CastLike", "Concat", "Constant", "ConstantOfShape", "DepthToSpace", "Dropout", "Expand",
    "EyeLike", "Flatten", "Gather", "GatherElements", "GatherND", "Identity", "NonZero", "OneHot",
    "Pad", "Range", "Reshape", "ScatterElements", "ScatterND", "Shape", "Size", "Slice",
    "SpaceToDepth", "Split", "Squeeze", "Tile", "Transpose", "Trilu", "Unsqueeze"})
POOL_OPS = frozenset({"AveragePool", "MaxPool", "LpPool"})
REDUCE_OPS = frozenset({"ArgMax", "ArgMin", "GlobalAveragePool", "GlobalLpPool", "GlobalMaxPool",
                        "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceMax",
                        "ReduceMean", "ReduceMin", "ReduceProd", "ReduceSum", "ReduceSumSquare"})
CONTRACTION_OPS = frozenset({"Attention", "Conv", "ConvTranspose", "Einsum", "Gemm", "MatMul"})


@dataclass(frozen=True)
class NodeCost:
    node: str
    op: str
    macs: Optional[int]
    """Multiply-adds of a contraction (0 for other ops); None when shapes are not static."""
    flops: Optional[int]


@dataclass
class ModelStats:
    params: int
    param_bytes: int
    nodes: list[NodeCost] = field(default_factory=list)

    @property
    def flops(self) -> int:
        return sum(n.flops for n in self.nodes if n.flops is not None)

    @property
    def macs(self) -> int:
        return sum(n.macs for n in self.nodes if n.macs is not None)

    @property
    def unknown(self) -> int:
        """Nodes whose cost is unknown (dynamic shapes, control flow)."""
        return sum(n.flops is None for n in self.nodes)

    def by_op(self) -> dict[str, tuple[int, int]]:
        """Op -> (node count, FLOPs), most expensive first."""
        table: dict[str, list[int]] = {}
        for n in self.nodes:
            row = table.setdefault(n.op, [0, 0])
            row[0] += 1
            row[1] += n.flops or 0
        return {op: (c, f) for op, (c, f) in sorted(table.items(), key=lambda kv: (-kv[1][1], kv[0]))}

    def summary(self) -> str:
        unknown = f" ({self.unknown} node(s) of unknown cost)" if self.unknown else ""
        return (f"params: {self.params:,} ({self.param_bytes / 2**20:.2f} MiB); "
                f"FLOPs: {human(self.flops)} ({human(self.macs)} MACs){unknown}")

    def table(self) -> str:
        total = self.flops or 1
        lines = [f"{'op':<24} {'nodes':>6} {'FLOPs':>10} {'share':>7}"]
        for op, (count, flops) in self.by_op().items():
            lines.append(f"{op:<24} {count:>6} {human(flops):>10} {flops / total:>7.1%}")
        return "\n".join(lines)


def human(n: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.3f}{unit}"
    return str(int(n))


def model_stats(graph: Graph, types: Optional[Mapping[str, TensorType]] = None) -> ModelStats:
    """Params of `graph` (its subgraphs included) and the cost of each top-level node. `types` are
    inferred types (`shape_inference.infer_types`); without them the graph's declared types serve."""
    arrays = [a for g in _graphs(graph) for a in g.constants.values()]
    params = int(sum(np.size(a) for a in arrays))
    param_bytes = int(sum(np.asarray(a).nbytes for a in arrays if np.asarray(a).dtype.kind != "O"))
    types = types or {}

    def shape(name: str) -> Optional[tuple[int, ...]]:
        if not name:
            return None
        t = types.get(name) or graph.type_of(name)
        return tuple(t.shape) if t.is_static else None

    stats = ModelStats(params, param_bytes)
    for i, node in enumerate(graph.nodes):
        macs, flops = node_cost(node, [shape(n) for n in node.inputs], [shape(n) for n in node.outputs])
        stats.nodes.append(NodeCost(node.name or (node.outputs[0] if node.outputs else str(i)),
                                    node.op, macs, flops))
    return stats


def _graphs(graph: Graph):
    yield graph
    for node in graph.nodes:
        for sub in node.subgraphs():
            yield from _graphs(sub)


def _numel(shape: Optional[Sequence[int]]) -> Optional[int]:
    return None if shape is None else math.prod(shape)


def node_cost(node: Node, ins: list, outs: list) -> tuple[Optional[int], Optional[int]]:
    """(MACs, FLOPs) of one node given its static input and output shapes (None where unknown)."""
    if any(True for _ in node.subgraphs()):
        return None, None
    y = outs[0] if outs else None
    if node.op in MOVEMENT_OPS:
        return 0, 0
    if node.op in CONTRACTION_OPS:
        macs = _contraction_macs(node, ins, y)
        if macs is None:
            return None, None
        extra = _numel(y) if node.attrs.get("activation") else 0  # a fused activation
        return macs, 2 * macs + (extra or 0)
    if node.op in POOL_OPS:
        window = math.prod(node.attrs.get("kernel_shape", ()))
        n = _numel(y)
        return (None, None) if n is None else (0, n * window)
    if node.op in REDUCE_OPS:
        n = _numel(ins[0] if ins else None)
        return (None, None) if n is None else (0, n)
    sizes = [_numel(s) for s in outs]
    if not sizes or any(s is None for s in sizes):
        return None, None
    return 0, max(sizes)


def _get(shapes: list, i: int):
    return shapes[i] if i < len(shapes) else None


def _contraction_macs(node: Node, ins: list, y) -> Optional[int]:
    a, b = _get(ins, 0), _get(ins, 1)
    if node.op == "Einsum":
        return _einsum_macs(node.attrs.get("equation", ""), ins, y)
    if y is None:
        return None
    if node.op == "Conv":  # W: [M, C/group, k...]; each output element reads C/group x k... inputs
        return None if b is None else _numel(y) * math.prod(b[1:])
    if node.op == "ConvTranspose":  # W: [C, M/group, k...]; each input element feeds M/group x k...
        return None if a is None or b is None else _numel(a) * math.prod(b[1:])
    if node.op == "Gemm":
        return None if a is None else _numel(y) * a[0 if node.attrs.get("transA", 0) else 1]
    if node.op == "MatMul":
        return None if a is None else _numel(y) * a[-1]
    if node.op == "Attention":  # Q.K^T and P.V both contract over the key sequence length
        k = _get(ins, 1)
        return None if a is None or k is None else k[-2] * (_numel(a) + _numel(y))
    return None


def _einsum_macs(equation: str, ins: list, y) -> Optional[int]:
    """Product of every index's size: one multiply-add per point of the full iteration space."""
    if any(s is None for s in ins) or "->" not in equation:
        return None
    lhs = equation.replace(" ", "").split("->")[0].split(",")
    sizes: dict[str, int] = {}
    batch = 1
    for term, shape in zip(lhs, ins):
        letters = re.sub(r"\.\.\.", "", term)
        if "..." in term:
            n_ellipsis = len(shape) - len(letters)
            start = term.index("...")
            batch = max(batch, math.prod(shape[start:start + n_ellipsis]))
            shape = shape[:start] + shape[start + n_ellipsis:]
        for letter, dim in zip(letters, shape):
            sizes[letter] = max(sizes.get(letter, 1), dim)
    return batch * math.prod(sizes.values())
