"""Test helper for op modules: run one op through the mnn reference kernel and onnx.reference,
compare values, and check that the op's type inference agrees with what the kernel produced.
Needs the `onnx` test dependency."""
from __future__ import annotations

import warnings
from typing import Optional, Sequence

import numpy as np
import onnx
from onnx import helper
from onnx.reference import ReferenceEvaluator

from mnn_core.ir import Node, TensorType
from mnn_core.ops import InferContext, standard_ops
from mnn_core.reference import run_node

OPS = standard_ops()
RNG = np.random.default_rng(0)


def rand(*shape, dtype=np.float32, low=-3.0, high=3.0) -> np.ndarray:
    if np.issubdtype(dtype, np.integer):
        return RNG.integers(int(low), int(high), size=shape, endpoint=True).astype(dtype)
    if dtype == np.bool_:
        return RNG.random(shape) < 0.5
    return RNG.uniform(low, high, size=shape).astype(dtype)


def onnx_run(op: str, inputs: Sequence[Optional[np.ndarray]], attrs: dict, num_outputs: int = 1):
    names = [f"x{i}" if x is not None else "" for i, x in enumerate(inputs)]
    outs = [f"y{i}" for i in range(num_outputs)]
    graph = helper.make_graph(
        [helper.make_node(op, names, outs, **attrs)], "one",
        [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(x.dtype), x.shape)
         for n, x in zip(names, inputs) if n],
        [helper.make_tensor_value_info(o, onnx.TensorProto.UNDEFINED, None) for o in outs])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", onnx.defs.onnx_opset_version())])
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return ReferenceEvaluator(model).run(None, {n: x for n, x in zip(names, inputs) if n})


def mnn_run(op: str, inputs: Sequence[Optional[np.ndarray]], attrs: dict, num_outputs: int = 1,
            known: Sequence[int] = ()) -> list[np.ndarray]:
    """Run the kernel, then check `infer` (with inputs `known` given as plan-time values)."""
    names = [f"x{i}" if x is not None else "" for i, x in enumerate(inputs)]
    node = Node(op, names, [f"y{i}" for i in range(num_outputs)], dict(attrs))
    results = run_node(node, list(inputs), OPS)
    schema = OPS.get(op)
    ctx = InferContext(node, [TensorType.of(x) if x is not None else None for x in inputs],
                       schema.resolve_attrs(node), [x if i in known else None for i, x in enumerate(inputs)])
    for t, y in zip(schema.infer(ctx), results):
        assert t == TensorType.of(y), f"{op}: inferred {t}, kernel gave {TensorType.of(y)}"
    return results


def check(op: str, inputs: Sequence[Optional[np.ndarray]], attrs: Optional[dict] = None, *,
          onnx_attrs: Optional[dict] = None, num_outputs: int = 1, known: Sequence[int] = (),
          rtol: float = 1e-5, atol: float = 1e-6, expected: Optional[Sequence[np.ndarray]] = None,
          ) -> list[np.ndarray]:
    """Compare mnn and onnx.reference on one node; `onnx_attrs` replaces attrs for ONNX (enums),
    `expected` replaces onnx.reference where it is wrong."""
    attrs = attrs or {}
    ours = mnn_run(op, inputs, attrs, num_outputs, known)
    theirs = expected if expected is not None else \
        onnx_run(op, inputs, attrs if onnx_attrs is None else onnx_attrs, num_outputs)
    for a, b in zip(ours, theirs):
        b = np.asarray(b)
        assert a.shape == b.shape, f"{op}: shape {a.shape} != onnx {b.shape}"
        assert a.dtype == b.dtype or (a.dtype == object and b.dtype.kind in "OU"), \
            f"{op}: dtype {a.dtype} != onnx {b.dtype}"
        if a.dtype.kind in "fc":
            np.testing.assert_allclose(a.astype(np.float64), b.astype(np.float64), rtol=rtol,
                                       atol=atol, equal_nan=True, err_msg=op)
        else:
            np.testing.assert_array_equal(a, b, err_msg=op)
    return ours
