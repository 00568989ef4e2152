"""The "v_*" breadth ops (csrc/ops_vision.cpp) against the reference kernels, on odd shapes."""
import numpy as np
import pytest

from cpu_helpers import check, context, graph_of, node, rand, run
from mnn_core.ir import Graph, Node, TensorType
from mnn_core.session import Model


def _ints(*values):
    return np.asarray(values, np.int64)


@pytest.mark.parametrize("op,attrs,wshape", [
    ("Conv", dict(pads=(1, 0, 2, 1), strides=(2, 1)), (4, 3, 3, 2)),
    ("Conv", dict(group=3, dilations=(2,)), (6, 1, 3)),
    ("Conv", dict(strides=(1, 2, 1)), (2, 3, 2, 2, 3)),
    ("ConvTranspose", dict(strides=(2, 3), pads=(1, 0, 0, 1), output_padding=(1, 0)), (3, 2, 3, 2)),
    ("ConvTranspose", dict(group=3, dilations=(2,), strides=(2,)), (3, 2, 4)),
    ("ConvTranspose", dict(auto_pad="SAME_UPPER", strides=(2, 2, 1)), (3, 2, 2, 3, 2)),
])
def test_conv_with_runtime_weights(op, attrs, wshape):
    nd = len(wshape) - 2
    x = rand(2, 3, *[7, 6, 5][:nd])
    w, b = rand(*wshape, seed=1), rand(wshape[1] * attrs.get("group", 1) if op == "ConvTranspose" else wshape[0], seed=2)
    feeds = {"x": x, "w": w, "b": b}
    check(graph_of(node(op, ["x", "w", "b"], **attrs), feeds), feeds, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("op,attrs,shape", [
    ("MaxPool", dict(kernel_shape=(3,), strides=(2,), ceil_mode=1), (2, 3, 10)),
    ("AveragePool", dict(kernel_shape=(2, 3, 2), pads=(1, 0, 1, 0, 1, 1), count_include_pad=1), (1, 2, 5, 6, 4)),
    ("AveragePool", dict(kernel_shape=(3, 3), dilations=(2, 2), ceil_mode=1, strides=(2, 2)), (1, 2, 9, 8)),
    ("LpPool", dict(kernel_shape=(2, 2), p=3), (1, 2, 5, 5)),
])
def test_pool_forms(op, attrs, shape):
    x = rand(*shape)
    check(graph_of(node(op, ["x"], **attrs), {"x": x}), {"x": x})


def test_maxpool_indices():
    x = rand(2, 3, 7, 6)
    n = node("MaxPool", ["x"], ["y", "i"], kernel_shape=(3, 2), strides=(2, 2), pads=(1, 1, 1, 0))
    check(graph_of(n, {"x": x}, outputs=["y", "i"]), {"x": x})


@pytest.mark.parametrize("op", ["ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd",
                                "ReduceL1", "ReduceL2", "ReduceLogSumExp", "ReduceSumSquare"])
def test_reduce_any_axes(op):
    x = rand(3, 5, 4, 7) * 0.5
    axes = {"axes": _ints(0, 2)}
    check(graph_of(node(op, ["x", "axes"], keepdims=0), {"x": x}, axes), {"x": x})


@pytest.mark.parametrize("op,attrs", [
    ("Elu", {"alpha": 0.7}), ("Selu", {}), ("Softplus", {}), ("Mish", {}), ("Gelu", {"approximate": "tanh"}),
    ("Ceil", {}), ("Floor", {}), ("Round", {}), ("Sign", {}), ("Softsign", {}), ("Celu", {"alpha": 2.0}),
])
def test_unary(op, attrs):
    x = rand(3, 37) * 3
    x[0, :4] = [0.5, 1.5, -2.5, 0.0]  # Round halves to even
    check(graph_of(node(op, ["x"], **attrs), {"x": x}), {"x": x}, rtol=1e-5, atol=1e-6)


def test_typed_broadcast_binary():
    a = np.random.default_rng(0).integers(-20, 20, (3, 1, 5)).astype(np.int32)
    b = np.random.default_rng(1).integers(1, 7, (4, 1)).astype(np.int32)
    for op, attrs in (("Mod", {}), ("Mod", {"fmod": 1}), ("Div", {}), ("Max", {}), ("Pow", {})):
        bb = np.abs(b) % 3 if op == "Pow" else b
        check(graph_of(node(op, ["a", "b"], **attrs), {"a": a, "b": bb}), {"a": a, "b": bb})
    x, s = rand(2, 3, 4, 5), rand(3, 1, 1, seed=1)
    check(graph_of(node("PRelu", ["x", "s"]), {"x": x, "s": s}), {"x": x, "s": s})
    xs = {"a": rand(2, 3), "b": rand(3, seed=1), "c": rand(2, 3, seed=2)}
    check(graph_of(node("Sum", ["a", "b", "c"]), xs), xs)


def test_clip_runtime_bounds_and_gemm_runtime_c():
    x, lo, hi = rand(4, 9), np.float32(-0.3), np.float32(0.5)
    feeds = {"x": x, "lo": np.asarray(lo), "hi": np.asarray(hi)}
    check(graph_of(node("Clip", ["x", "lo", "hi"]), feeds), feeds)
    feeds = {"a": rand(5, 3), "b": rand(4, 3, seed=1), "c": rand(1, 4, seed=2)}
    check(graph_of(node("Gemm", ["a", "b", "c"], transB=1, alpha=0.5, beta=2.0), feeds), feeds)


@pytest.mark.parametrize("op,attrs,inputs", [
    ("LayerNormalization", {"axis": 1}, lambda: [rand(3, 4, 5), rand(4, 5, seed=1), rand(4, 5, seed=2)]),
    ("InstanceNormalization", {}, lambda: [rand(2, 3, 5, 4), rand(3, seed=1), rand(3, seed=2)]),
    ("GroupNormalization", {"num_groups": 2}, lambda: [rand(2, 4, 3, 5), rand(4, seed=1), rand(4, seed=2)]),
    ("BatchNormalization", {}, lambda: [rand(2, 3, 5), rand(3, seed=1), rand(3, seed=2), rand(3, seed=3),
                                        np.abs(rand(3, seed=4)) + 0.5]),
    ("LogSoftmax", {"axis": 1}, lambda: [rand(3, 7, 2)]),
    ("Hardmax", {"axis": 0}, lambda: [rand(4, 3)]),
    ("LRN", {"size": 3}, lambda: [rand(2, 5, 3, 3)]),
])
def test_normalisations(op, attrs, inputs):
    feeds = {f"i{k}": v for k, v in enumerate(inputs())}
    check(graph_of(node(op, list(feeds), **attrs), feeds), feeds, rtol=1e-4, atol=1e-5)


def test_layernorm_statistics_outputs():
    feeds = {"x": rand(3, 4, 6), "s": rand(6, seed=1), "b": rand(6, seed=2)}
    n = node("LayerNormalization", ["x", "s", "b"], ["y", "mean", "inv"], axis=-1)
    check(graph_of(n, feeds, outputs=["y", "mean", "inv"]), feeds)


@pytest.mark.parametrize("attrs,scales", [
    (dict(mode="linear"), (1, 1, 1.7, 0.6)),
    (dict(mode="cubic", coordinate_transformation_mode="align_corners"), (1, 1, 2.0, 1.5)),
    (dict(mode="cubic", antialias=1), (1, 1, 0.5, 0.7)),
    (dict(mode="nearest", nearest_mode="ceil", coordinate_transformation_mode="asymmetric"), (1, 1, 2.5, 3.0)),
    (dict(mode="linear", coordinate_transformation_mode="tf_crop_and_resize", extrapolation_value=5.0), (1, 1, 1.5, 2.0)),
])
def test_resize(attrs, scales):
    x = rand(2, 3, 7, 5)
    consts = {"roi": np.asarray([0, 0, -0.2, 0.1, 1, 1, 1.1, 0.9], np.float32),
              "scales": np.asarray(scales, np.float32)}
    check(graph_of(node("Resize", ["x", "roi", "scales"], **attrs), {"x": x}, consts), {"x": x})


@pytest.mark.parametrize("mode", ["bilinear", "nearest", "bicubic"])
@pytest.mark.parametrize("padding", ["zeros", "border", "reflection"])
def test_gridsample(mode, padding):
    x, grid = rand(2, 3, 5, 6), np.random.default_rng(1).uniform(-1.3, 1.3, (2, 4, 7, 2)).astype(np.float32)
    for align in (0, 1):
        feeds = {"x": x, "g": grid}
        check(graph_of(node("GridSample", ["x", "g"], mode=mode, padding_mode=padding, align_corners=align),
                       feeds), feeds)


@pytest.mark.parametrize("op,attrs,consts", [
    ("Pad", {"mode": "reflect"}, {"p": _ints(0, 1, 2, 0, 2, 1)}),
    ("Pad", {"mode": "edge"}, {"p": _ints(1, 0, 0, 0, 3, 2)}),
    ("Pad", {"mode": "wrap"}, {"p": _ints(0, 2, 1, 0, 1, 3)}),
    ("Pad", {}, {"p": _ints(0, 1, 1, 0, 0, 2), "v": np.asarray(2.5, np.float32)}),
    ("Tile", {}, {"r": _ints(2, 1, 3)}),
    ("DepthToSpace", {"blocksize": 2, "mode": "CRD"}, {}),
    ("SpaceToDepth", {"blocksize": 2}, {}),
])
def test_index_map_ops(op, attrs, consts):
    x = rand(1, 8, 4, 6) if op in ("DepthToSpace", "SpaceToDepth") else rand(2, 3, 5)
    check(graph_of(node(op, ["x", *consts], **attrs), {"x": x}, consts), {"x": x})


def test_gather_scatter_topk():
    data = rand(4, 5, 3)
    idx = np.random.default_rng(2).integers(-5, 5, (4, 2, 3)).astype(np.int64)
    feeds = {"d": data, "i": idx}
    check(graph_of(node("GatherElements", ["d", "i"], axis=1), feeds), feeds)
    feeds = {"d": data, "i": np.asarray([[1, 2], [3, 0]], np.int64), "u": rand(2, 3, seed=3)}
    for reduction in ("none", "add", "max"):
        check(graph_of(node("ScatterND", ["d", "i", "u"], reduction=reduction), feeds), feeds)
    x = np.round(rand(3, 11) * 2)  # ties: the lower index wins
    n = node("TopK", ["x", "k"], ["v", "j"], axis=1, largest=0)
    check(graph_of(n, {"x": x}, {"k": _ints(4)}, outputs=["v", "j"]), {"x": x})
    n = node("ArgMax", ["x"], axis=1, select_last_index=1)
    check(graph_of(n, {"x": x}), {"x": x})


def test_structural_inputs_specialise_the_plan():
    """Slice bounds fed at run time: claimed, and each new value gets a plan of its own."""
    x = rand(6, 7)
    graph = Graph([node("Slice", ["x", "s", "e"])], ["x", "s", "e"], ["y"],
                  {"x": TensorType.of(x), "s": TensorType.of(_ints(1, 2)), "e": TensorType.of(_ints(4, 6)),
                   "y": TensorType.of(np.zeros((3, 4), np.float32))})
    session = Model(graph, context()).session(backends=["cpu"], strict=True)
    for s0, s1 in ((1, 2), (3, 0), (1, 2)):
        out = session.run({"x": x, "s": _ints(s0, s1), "e": _ints(s0 + 3, s1 + 4)})["y"]
        np.testing.assert_array_equal(out, x[s0:s0 + 3, s1:s1 + 4])


def test_refusals_name_the_form():
    from mnn_backend_cpu.lowering import Env, Unsupported, lower
    from mnn_core.dtypes import DType

    x = TensorType(DType.F32, (1, 2, 4, 4))
    env = Env({"x": x, "g": TensorType(DType.F32, (1, 2, 2, 2)), "y": TensorType(DType.F32, (1, 2, 2, 2))}, {})
    n = Node("GridSample", ["x", "g"], ["y"], {"mode": "bogus"}, name="gs")
    with pytest.raises(Unsupported, match="GridSample mode"):
        lower(n, env)


def test_empty_outputs_and_nonzero():
    x = rand(3, 4)
    feeds = {"x": x}
    n = node("Split", ["x", "s"], ["a", "b", "c"], axis=1)
    check(graph_of(n, feeds, {"s": _ints(2, 0, 2)}, outputs=["a", "b", "c"]), feeds)
    x = np.asarray([[0, 1.5, 0], [2, 0, 3]], np.float32)
    graph = Graph([node("NonZero", ["x"])], ["x"], ["y"],
                  {"x": TensorType.of(x), "y": TensorType.of(np.zeros((2, 3), np.int64))})
    np.testing.assert_array_equal(run(graph, {"x": x}, "cpu")["y"], np.stack(np.nonzero(x)))
