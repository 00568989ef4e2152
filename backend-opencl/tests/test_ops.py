"""Targeted op checks against the numpy reference (the full matrix is `mnn-conformance --backend opencl`)."""
import numpy as np
import pytest

from mnn_core.dtypes import DType
from mnn_core.ir import Graph, Node, TensorType
from mnn_core.plugins import Context
from mnn_core.reference import run_node
from mnn_core.session import Model

RNG = np.random.default_rng(7)
# fp16 storage keeps 11 bits of mantissa: one rounding per stored tensor, accumulations in f32.
TOL = {"normal": dict(rtol=1e-4, atol=1e-5), "low": dict(rtol=2e-2, atol=2e-2)}


def run_one(node, feeds, consts=None, precision="normal"):
    consts = consts or {}
    types = {n: TensorType(DType.from_numpy(v.dtype), v.shape) for n, v in feeds.items()}
    graph = Graph([node], list(feeds), [o for o in node.outputs if o], types, dict(consts))
    ctx = Context()
    with Model(graph, ctx).session(["opencl"], strict=True, precision=precision) as s:
        got = s.run(feeds)
    values = {**consts, **feeds}
    want = run_node(node, [values[n] if n else None for n in node.inputs], ctx.ops)
    return [got[o] for o in node.outputs if o], want


@pytest.mark.parametrize("precision", ["normal", "low"])
def test_depthwise_conv_with_bias_and_relu6(opencl_device, precision):
    x = RNG.standard_normal((1, 8, 9, 9)).astype(np.float32)
    w = RNG.standard_normal((8, 1, 3, 3)).astype(np.float32)
    b = RNG.standard_normal(8).astype(np.float32)
    node = Node("Conv", ["x", "w", "b"], ["y"], {"group": 8, "pads": [1, 1, 1, 1], "strides": [2, 2],
                                                 "activation": "Clip", "activation_params": [0.0, 6.0]})
    (got,), (want,) = run_one(node, {"x": x}, {"w": w, "b": b}, precision)
    np.testing.assert_allclose(got, want, **TOL[precision])


def test_batched_broadcast_matmul(opencl_device):
    a = RNG.standard_normal((2, 3, 5, 7)).astype(np.float32)
    b = RNG.standard_normal((3, 7, 6)).astype(np.float32)
    (got,), (want,) = run_one(Node("MatMul", ["a", "b"], ["y"]), {"a": a, "b": b})
    np.testing.assert_allclose(got, want, **TOL["normal"])


def test_concat_of_transposed_and_sliced(opencl_device):
    x = RNG.standard_normal((2, 3, 4)).astype(np.float32)
    graph = Graph([Node("Transpose", ["x"], ["t"], {"perm": [0, 2, 1]}),
                   Node("Slice", ["x", "s", "e", "a"], ["u"]),
                   Node("Concat", ["t", "u"], ["y"], {"axis": 1})],
                  ["x"], ["y"], {"x": TensorType(DType.F32, x.shape)},
                  {"s": np.array([1]), "e": np.array([4]), "a": np.array([2])})
    with Model(graph, Context()).session(["opencl"], strict=True) as s:
        got = s.run({"x": x})["y"]
    want = np.concatenate([x.transpose(0, 2, 1), x[:, :, 1:4]], axis=1)
    np.testing.assert_array_equal(got, want)


def test_runtime_axes_specialise_the_plan(opencl_device):
    x = RNG.standard_normal((3, 4, 5)).astype(np.float32)
    node = Node("ReduceSum", ["x", "axes"], ["y"], {"keepdims": 1})
    for axes in ([1], [2]):
        want = x.sum(axis=axes[0], keepdims=True)
        # as in converted models, the output type is declared: only the axes value is run-time
        graph = Graph([node], ["x", "axes"], ["y"], {"x": TensorType(DType.F32, x.shape),
                                                      "axes": TensorType(DType.I64, (1,)),
                                                      "y": TensorType(DType.F32, want.shape)})
        with Model(graph, Context()).session(["opencl"], strict=True) as s:
            got = s.run({"x": x, "axes": np.array(axes)})["y"]
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_unsupported_dtype_is_refused_with_reason(opencl_device):
    from mnn_backend_opencl.backend import OpenCLFactory
    from mnn_core.backend import BackendConfig, GraphView

    graph = Graph([Node("Relu", ["x"], ["y"])], ["x"], ["y"], {"x": TensorType(DType.F16, (4,))})
    ctx = Context()
    backend = OpenCLFactory().create(opencl_device, BackendConfig())
    claim = backend.capability(GraphView(graph, {"x": graph.types["x"], "y": TensorType(DType.F16, (4,))}, ctx.ops))
    assert not claim.nodes and "f16" in claim.refused[0]
