"""Pooling, elementwise, data-movement and normalisation ops against the reference kernels."""
import numpy as np
import pytest

from cpu_helpers import check, graph_of, isas, node, rand

ISAS = isas()


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("op,attrs", [
    ("MaxPool", dict(kernel_shape=(3, 3), strides=(2, 2), pads=(1, 1, 1, 1))),
    ("MaxPool", dict(kernel_shape=(2, 2), strides=(2, 2), ceil_mode=1)),
    ("MaxPool", dict(kernel_shape=(3, 3), dilations=(2, 2), pads=(2, 2, 2, 2))),
    ("MaxPool", dict(kernel_shape=(3, 3), strides=(2, 2), ceil_mode=1)),  # squeezenet
    ("MaxPool", dict(kernel_shape=(5, 4), strides=(2, 2), pads=(2, 0, 1, 3))),
    ("MaxPool", dict(kernel_shape=(3, 3), strides=(3, 1), pads=(1, 2, 0, 1))),
    ("AveragePool", dict(kernel_shape=(3, 3), strides=(2, 2), pads=(1, 1, 1, 1))),
    ("AveragePool", dict(kernel_shape=(3, 3), strides=(2, 2), pads=(1, 1, 1, 1), count_include_pad=1)),
    ("AveragePool", dict(kernel_shape=(3, 2), strides=(2, 2), ceil_mode=1, count_include_pad=1)),
    ("AveragePool", dict(kernel_shape=(5, 5), auto_pad="SAME_UPPER")),
])
def test_pool(isa, op, attrs):
    for shape in [(1, 3, 17, 17), (2, 7, 5, 6), (1, 1, 3, 3), (1, 2, 23, 45)]:
        x = rand(*shape)
        check(graph_of(node(op, ["x"], **attrs), {"x": x}), {"x": x}, isa)


@pytest.mark.parametrize("op", ["GlobalAveragePool", "GlobalMaxPool"])
def test_global_pool(op):
    for shape in [(2, 13, 7, 5), (1, 300, 3, 3), (1, 5, 1, 1)]:  # 8-lane rows + tails, many rows per task
        x = rand(*shape)
        check(graph_of(node(op, ["x"]), {"x": x}), {"x": x}, threads=2)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("op,attrs", [
    ("Relu", {}), ("Sigmoid", {}), ("Tanh", {}), ("HardSwish", {}), ("Erf", {}), ("Exp", {}),
    ("Neg", {}), ("Abs", {}), ("LeakyRelu", {"alpha": 0.2}), ("HardSigmoid", {"alpha": 0.3, "beta": 0.4}),
    ("Gelu", {}),
])
def test_unary(isa, op, attrs):
    x = rand(3, 1031) * 4  # covers both branches of tanh/erf and exp's clamping
    x[0, :4] = [0.0, 1e-4, -1e-4, 90.0]
    check(graph_of(node(op, ["x"], **attrs), {"x": x}), {"x": x}, isa, rtol=2e-5, atol=2e-6)


def test_unary_positive_domain():
    x = np.abs(rand(2, 333)) + 0.1
    for op in ("Sqrt", "Reciprocal", "Log"):
        check(graph_of(node(op, ["x"]), {"x": x}), {"x": x}, rtol=1e-5)


@pytest.mark.parametrize("isa", ISAS)
def test_clip(isa):
    x = rand(4, 77) * 5
    check(graph_of(node("Clip", ["x", "lo", "hi"]), {"x": x},
                   {"lo": np.float32(0), "hi": np.float32(6)}), {"x": x}, isa)
    check(graph_of(node("Clip", ["x", "", "hi"]), {"x": x}, {"hi": np.float32(1)}), {"x": x}, isa)
    check(graph_of(node("Clip", ["x"]), {"x": x}), {"x": x}, isa)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("op", ["Add", "Sub", "Mul", "Div", "Max", "Min"])
@pytest.mark.parametrize("a_shape,b_shape", [
    ((2, 13, 5, 7), (2, 13, 5, 7)), ((1, 13, 5, 7), (1, 13, 1, 1)), ((1, 1, 1), (3, 5, 1)),
    ((7,), (3, 1, 7)), ((1, 3, 1), (2, 1, 4)), ((1, 70000), (1,)),
])
def test_binary(isa, op, a_shape, b_shape):
    a, b = rand(*a_shape), rand(*b_shape, seed=1)
    if op == "Div":
        b = np.where(np.abs(b) < 0.1, 1.0, b).astype(np.float32)
    check(graph_of(node(op, ["a", "b"]), {"a": a, "b": b}), {"a": a, "b": b}, isa, threads=2)


def test_binary_constant_operand():
    a = rand(1, 8, 4, 4)
    check(graph_of(node("Mul", ["a", "s"]), {"a": a}, {"s": rand(1, 8, 1, 1, seed=3)}), {"a": a})
    check(graph_of(node("Pow", ["a", "p"]), {"a": np.abs(a) + 0.5}, {"p": np.float32(2.0)}),
          {"a": np.abs(a) + 0.5})


def test_concat_transpose_split_slice():
    a, b = rand(1, 3, 5, 7), rand(1, 4, 5, 7, seed=1)
    check(graph_of(node("Concat", ["a", "b"], axis=1), {"a": a, "b": b}), {"a": a, "b": b}, threads=2)
    check(graph_of(node("Concat", ["a", "a"], axis=-1), {"a": a}), {"a": a})
    for perm in [(0, 2, 3, 1), (3, 2, 1, 0), (0, 1, 3, 2), (1, 0, 2, 3)]:
        check(graph_of(node("Transpose", ["a"], perm=perm), {"a": a}), {"a": a}, threads=2)
    x = rand(2, 10, 3, 4)
    check(graph_of(node("Split", ["x", "s"], ["y0", "y1", "y2"], axis=1), {"x": x},
                   {"s": np.array([2, 5, 3], np.int64)}), {"x": x})
    check(graph_of(node("Split", ["x"], ["y0", "y1"], axis=-1, num_outputs=2), {"x": x}), {"x": x})
    for starts, ends, axes, steps in [([1], [8], [1], [2]), ([-1, 0], [-11, 3], [1, 3], [-3, 1]),
                                      ([0, 2], [2**62, 100], [0, 2], [1, 1]), ([5], [1], [1], [-1])]:
        consts = {"st": np.array(starts, np.int64), "en": np.array(ends, np.int64),
                  "ax": np.array(axes, np.int64), "sp": np.array(steps, np.int64)}
        check(graph_of(node("Slice", ["x", "st", "en", "ax", "sp"]), {"x": x}, consts), {"x": x})


def test_reshape_family_and_aliases_as_outputs():
    x = rand(2, 3, 4, 5)
    nodes = [node("Relu", ["x"], ["r"]), node("Reshape", ["r", "shape"], ["y1"]),
             node("Flatten", ["r"], ["y2"], axis=2), node("Unsqueeze", ["y1", "ax"], ["y3"]),
             node("Squeeze", ["y3", "ax"], ["y4"]), node("Identity", ["y4"], ["y5"]),
             node("Add", ["y5", "y1"], ["y6"])]
    consts = {"shape": np.array([6, -1], np.int64), "ax": np.array([0], np.int64)}
    graph = graph_of(nodes, {"x": x}, consts, outputs=["y1", "y2", "y3", "y5", "y6"])
    check(graph, {"x": x})


def test_gather_softmax_layernorm_reduce_expand():
    table = rand(50, 16)
    ids = np.array([[3, 0, 49, -1, 7]], np.int64)
    check(graph_of(node("Gather", ["t", "i"], axis=0), {"i": ids}, {"t": table}), {"i": ids})
    x = rand(2, 5, 6, 7)
    idx = np.array([4, 0, 2], np.int32)
    check(graph_of(node("Gather", ["x", "i"], axis=2), {"x": x, "i": idx}), {"x": x, "i": idx})
    for axis in (-1, 1, 0):
        check(graph_of(node("Softmax", ["x"], axis=axis), {"x": x * 10}), {"x": x * 10}, rtol=1e-5)
    ln = node("LayerNormalization", ["x", "g", "b"], axis=-1, epsilon=1e-5)
    check(graph_of(ln, {"x": x}, {"g": rand(7, seed=1), "b": rand(7, seed=2)}), {"x": x})
    ln2 = node("LayerNormalization", ["x", "g"], axis=2)
    check(graph_of(ln2, {"x": x}, {"g": rand(6, 7, seed=1)}), {"x": x})
    for op in ("ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin"):
        for axes in ([2, 3], [1], [-1]):
            for keep in (0, 1):
                g = graph_of(node(op, ["x", "ax"], keepdims=keep), {"x": x}, {"ax": np.array(axes, np.int64)})
                check(g, {"x": x})
    check(graph_of(node("Expand", ["x", "s"]), {"x": rand(3, 1)}, {"s": np.array([2, 3, 4], np.int64)}),
          {"x": rand(3, 1)})
