"""Activations and the Softmax family against onnx.reference; decompositions against the kernels."""
import numpy as np
import pytest

from mnn_core.dtypes import DType
from mnn_core.ir import Graph, Node, TensorType
from mnn_core.ops import DecomposeContext, InferContext, OpError
from mnn_core.reference import Interpreter
from mnn_core.testing.op_oracle import OPS, check, mnn_run, rand

ACTIVATIONS = [
    ("Relu", {}), ("LeakyRelu", {}), ("LeakyRelu", {"alpha": 0.3}), ("Elu", {}), ("Elu", {"alpha": 0.5}),
    ("Selu", {}), ("Selu", {"alpha": 2.0, "gamma": 0.5}), ("Celu", {}), ("Celu", {"alpha": 2.0}),
    ("Sigmoid", {}), ("HardSigmoid", {}), ("HardSigmoid", {"alpha": 0.4, "beta": 0.3}),
    ("HardSwish", {}), ("Tanh", {}), ("Softplus", {}), ("Softsign", {}), ("Gelu", {}),
    ("Gelu", {"approximate": "tanh"}), ("Mish", {}), ("ThresholdedRelu", {}),
    ("ThresholdedRelu", {"alpha": 0.5}), ("Shrink", {}), ("Shrink", {"bias": 1.5, "lambd": 1.0}),
    ("Swish", {}), ("Swish", {"alpha": 0.5}),
]
SHAPES = [(13,), (3, 7), (1, 3, 1, 5), (2, 1, 3, 1, 2), ()]


@pytest.mark.parametrize("op,attrs", ACTIVATIONS, ids=lambda v: str(v) if isinstance(v, str) else "")
def test_activation(op, attrs):
    for shape in SHAPES[:-1] if op == "Softsign" else SHAPES:  # onnx.reference fails on 0-d Softsign
        check(op, [rand(*shape, low=-6, high=6)], attrs)
    # ONNX stores float attributes as f32, so f64 results agree only to f32 precision
    check(op, [rand(3, 7, dtype=np.float64, low=-6, high=6)], attrs, rtol=1e-6)
    half = mnn_run(op, [rand(7, low=-6, high=6).astype(np.float16)], attrs)[0]
    assert half.dtype == np.float16


@pytest.mark.parametrize("op", ["Sigmoid", "Softplus", "Mish", "Swish", "Elu", "Selu", "Celu", "Gelu"])
def test_large_inputs_stay_finite(op):
    x = np.array([-1e4, -100, -30, 0, 30, 100, 1e4], np.float32)
    with np.errstate(all="raise"):  # the kernels must not depend on overflow being ignored
        y = mnn_run(op, [x], {})[0]
    assert np.isfinite(y).all()
    check(op, [np.array([-30, -5, 0, 5, 30], np.float32)])


@pytest.mark.parametrize("xs,slope", [((3, 7), (7,)), ((2, 3, 5, 5), (3, 1, 1)), ((13,), (1,)),
                                      ((1, 4, 3), (4, 3))])
def test_prelu(xs, slope):
    check("PRelu", [rand(*xs), rand(*slope, low=0, high=1)])


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax", "Hardmax"])
@pytest.mark.parametrize("shape,axis", [((13,), -1), ((3, 7), 0), ((3, 7), 1), ((2, 3, 5), -2),
                                        ((2, 1, 3, 4, 5), 2), ((1, 3, 7), -1), ((2, 4), None)])
def test_softmax_family(op, shape, axis):
    attrs = {} if axis is None else {"axis": axis}
    check(op, [rand(*shape, low=-20, high=20)], attrs)


def test_softmax_extremes_and_ties():
    x = np.array([[1000, 1000, -1000], [0, 0, 0], [-np.inf, 0, 1]], np.float32)
    check("Softmax", [x])
    # onnx.reference takes log(softmax), which underflows to -inf; the exact value is finite
    exact = x - 1000 - np.log(2)
    np.testing.assert_allclose(mnn_run("LogSoftmax", [x], {})[0][0], exact[0], rtol=1e-6)
    check("LogSoftmax", [x[1:]])
    assert mnn_run("Hardmax", [x], {})[0].tolist() == [[1, 0, 0], [1, 0, 0], [0, 0, 1]]


def _run_decomposed(node: Node, x: np.ndarray) -> tuple[np.ndarray, dict]:
    graph = Graph(inputs=["x"], outputs=["y"], types={"x": TensorType.of(x)})
    nodes = OPS.get(node.op).decompose(node, DecomposeContext(graph))
    graph.nodes = nodes
    graph.validate()
    return Interpreter(graph, OPS).run({"x": x})[0], graph.op_counts()


@pytest.mark.parametrize("op,attrs", [("Gelu", {}), ("Gelu", {"approximate": "tanh"}), ("HardSwish", {}),
                                      ("Swish", {}), ("Swish", {"alpha": 1.7}), ("Mish", {}),
                                      ("Softsign", {})])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_decompose_matches_kernel(op, attrs, dtype):
    node = Node(op, ["x"], ["y"], dict(attrs), name="act")
    x = rand(3, 7, dtype=dtype, low=-5, high=5)
    y, counts = _run_decomposed(node, x)
    assert op not in counts
    assert y.dtype == x.dtype
    np.testing.assert_allclose(y, mnn_run(op, [x], attrs)[0], rtol=1e-5, atol=1e-6)


def test_gelu_decomposes_into_primitives():
    _, counts = _run_decomposed(Node("Gelu", ["x"], ["y"]), rand(5))
    assert set(counts) == {"Div", "Erf", "Add", "Mul"}
    assert OPS.get("Gelu").decompose is not None and OPS.get("Relu").decompose is None


def test_infer_keeps_symbolic_shapes():
    t = TensorType(DType.F16, ("N", None, 3))
    for op in ["Relu", "Gelu", "Softmax", "Hardmax"]:
        node = Node(op, ["x"], ["y"])
        ctx = InferContext(node, [t], OPS.get(op).resolve_attrs(node), [None])
        assert OPS.get(op).infer(ctx) == [t]
    node = Node("Softmax", ["x"], ["y"], {"axis": 3})
    with pytest.raises(OpError):
        OPS.get("Softmax").infer(InferContext(node, [t], {"axis": 3}, [None]))
    node = Node("PRelu", ["x", "s"], ["y"])
    ctx = InferContext(node, [t, TensorType(DType.F16, (1, 3))], {}, [None, None])
    assert OPS.get("PRelu").infer(ctx) == [t]
