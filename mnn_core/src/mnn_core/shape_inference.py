"""Type and shape inference over a whole graph, with partial evaluation of small constant values.

Shape computations (Shape -> Gather -> Concat -> Reshape) are evaluated on the fly when their
inputs are known, so concrete input shapes give concrete shapes everywhere they are determined.
"""
from __future__ import annotations

from typing import Mapping, Optional

import numpy as np

from .ir import Graph, TensorType, node_reads
from .ops.schema import InferContext, KernelContext, OpError, OpRegistry

EVAL_LIMIT = 4096
"""Largest value (in elements) evaluated at plan time; bigger ones are left to run time."""
NO_EVAL = {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial",
           "Bernoulli", "Dropout",
           # sequence and optional values are Python lists / None, not tensors (ops/control.py)
           "SequenceEmpty", "SequenceConstruct", "SequenceInsert", "SequenceErase", "SplitToSequence",
           "Optional"}


def merge(inferred: TensorType, declared: Optional[TensorType]) -> TensorType:
    """Combine an inferred type with a declared one, keeping what each knows."""
    if declared is None:
        return inferred
    dtype = inferred.dtype or declared.dtype
    if inferred.shape is None:
        shape = declared.shape
    elif declared.shape is None or len(declared.shape) != len(inferred.shape):
        shape = inferred.shape
    else:
        shape = tuple(i if i is not None and not (isinstance(i, str) and isinstance(d, int)) else d
                      for i, d in zip(inferred.shape, declared.shape))
    return TensorType(dtype, shape, inferred.quant or declared.quant)


def infer_types(graph: Graph, ops: OpRegistry, input_types: Optional[Mapping[str, TensorType]] = None,
                outer: Optional[Mapping[str, TensorType]] = None,
                outer_values: Optional[Mapping[str, np.ndarray]] = None,
                ) -> tuple[dict[str, TensorType], dict[str, np.ndarray]]:
    """Infer every tensor's type. Returns (types, values known at plan time).

    `input_types` overrides the declared types of graph inputs (concrete shapes for one run).
    """
    types: dict[str, TensorType] = dict(outer or {})
    values: dict[str, np.ndarray] = dict(outer_values or {})
    for name, array in graph.constants.items():
        types[name] = TensorType.of(array)
        values[name] = array
    for name in graph.inputs:
        given = (input_types or {}).get(name)
        types[name] = given if given is not None else graph.types.get(name, TensorType(None, None))
        values.pop(name, None)
    for node in graph.nodes:
        schema = ops.get(node.op)
        attrs = schema.resolve_attrs(node)
        in_types = [types.get(n) if n else None for n in node.inputs]
        in_values = [values.get(n) if n else None for n in node.inputs]
        ctx = InferContext(node, in_types, attrs, in_values)
        try:
            out_types = schema.infer(ctx)
        except OpError:
            raise
        except Exception as error:
            raise OpError(f"type inference failed for {node.op} node {node.name!r}: "
                          f"{type(error).__name__}: {error}") from error
        if len(out_types) < len(node.outputs):
            out_types = list(out_types) + [TensorType(None, None)] * (len(node.outputs) - len(out_types))
        for name, t in zip(node.outputs, out_types):
            if name:
                types[name] = merge(t, graph.types.get(name))
        _evaluate(node, schema, attrs, in_types, in_values, types, values)
    return types, values


def _evaluate(node, schema, attrs, in_types, in_values, types, values) -> None:
    if node.op == "Shape" and in_types and in_types[0] is not None and in_types[0].is_static:
        start, end = attrs.get("start", 0), attrs.get("end", None)
        values[node.outputs[0]] = np.array(in_types[0].shape[start:end], np.int64)
        types[node.outputs[0]] = TensorType.of(values[node.outputs[0]])
        return
    if node.op in NO_EVAL or any(True for _ in node.subgraphs()):
        return
    present = [v for n, v in zip(node.inputs, in_values) if n]
    if any(v is None for v in present) or sum(np.size(v) for v in present) > EVAL_LIMIT:
        return
    if any(t is not None and t.is_static and t.numel > EVAL_LIMIT
           for t in (types.get(o) for o in node.outputs if o)):
        return
    try:
        result = schema.kernel(KernelContext(node, attrs), *in_values)
    except Exception:
        return  # leave it to run time, where the error surfaces with context
    results = result if isinstance(result, (tuple, list)) else (result,)
    for name, value in zip(node.outputs, results):
        if name and value is not None:
            value = np.asarray(value)
            types[name] = TensorType.of(value)
            if value.size <= EVAL_LIMIT:
                values[name] = value


def reads_outside(graph: Graph) -> set[str]:
    """Names read by nodes of `graph` (including captured ones) that are not produced inside it."""
    produced = set(graph.inputs) | set(graph.constants)
    outside: set[str] = set()
    for node in graph.nodes:
        outside.update(n for n in node_reads(node) if n not in produced)
        produced.update(node.outputs)
    return outside
