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


def run_one(node, feeds, consts=None, precision="normal", declared=None):
    """Run one node on OpenCL alone; `declared` gives output types the model would declare."""
    consts = consts or {}
    types = {n: TensorType(DType.from_numpy(v.dtype), v.shape) for n, v in feeds.items()}
    types.update(declared or {})
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


# ---- resampling, ordering, scattering, detection ---------------------------------------------------
def _check(node, feeds, consts=None, precision="normal", exact=False, declared=None):
    got, want = run_one(node, feeds, consts, precision, declared)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape
        if exact:
            np.testing.assert_array_equal(g, w)
        else:
            np.testing.assert_allclose(g, w, **TOL[precision])


@pytest.mark.parametrize("precision", ["normal", "low"])
@pytest.mark.parametrize("attrs, scales", [
    ({"mode": "linear", "coordinate_transformation_mode": "half_pixel"}, [1, 1, 1.7, 0.6]),
    ({"mode": "linear", "antialias": 1}, [1, 1, 0.45, 0.7]),
    ({"mode": "cubic", "coordinate_transformation_mode": "align_corners"}, [1, 1, 2.0, 1.5]),
    ({"mode": "cubic", "exclude_outside": 1, "cubic_coeff_a": -0.5}, [1, 1, 0.6, 1.3]),
])
def test_resize_linear_and_cubic(opencl_device, precision, attrs, scales):
    x = RNG.standard_normal((2, 3, 7, 9)).astype(np.float32)
    node = Node("Resize", ["x", "", "scales"], ["y"], attrs)
    _check(node, {"x": x}, {"scales": np.array(scales, np.float32)}, precision)


def test_resize_crop_and_resize_extrapolates(opencl_device):
    x = RNG.standard_normal((1, 1, 5, 6)).astype(np.float32)
    node = Node("Resize", ["x", "roi", "", "sizes"], ["y"],
                {"mode": "linear", "coordinate_transformation_mode": "tf_crop_and_resize",
                 "extrapolation_value": 7.5, "axes": [2, 3]})
    _check(node, {"x": x}, {"roi": np.array([-0.2, 0.3, 1.1, 0.9], np.float32), "sizes": np.array([4, 5])})


@pytest.mark.parametrize("mode", ["nearest", "bilinear", "bicubic"])
@pytest.mark.parametrize("padding", ["zeros", "border", "reflection"])
def test_grid_sample_2d(opencl_device, mode, padding):
    x = RNG.standard_normal((2, 3, 5, 6)).astype(np.float32)
    grid = RNG.uniform(-1.4, 1.4, (2, 4, 7, 2)).astype(np.float32)
    node = Node("GridSample", ["x", "grid"], ["y"], {"mode": mode, "padding_mode": padding, "align_corners": 0})
    _check(node, {"x": x, "grid": grid})


def test_grid_sample_volumetric_aligned(opencl_device):
    x = RNG.standard_normal((1, 2, 3, 4, 5)).astype(np.float32)
    grid = RNG.uniform(-1.2, 1.2, (1, 2, 3, 4, 3)).astype(np.float32)
    _check(Node("GridSample", ["x", "grid"], ["y"], {"mode": "linear", "align_corners": 1}), {"x": x, "grid": grid})


def test_topk_orders_ties_by_index(opencl_device):
    x = np.array([[3, 1, 3, 2, 3, 1], [0, 5, 5, 4, 0, 5]], np.float32)
    for largest in (1, 0):
        _check(Node("TopK", ["x", "k"], ["v", "i"], {"axis": 1, "largest": largest}), {"x": x},
               {"k": np.array([4])}, exact=True)


def test_scatter_nd_applies_repeated_indices_in_order(opencl_device):
    data = RNG.standard_normal((4, 3, 2)).astype(np.float32)
    idx = np.array([[1], [3], [1], [-4]], np.int64)
    upd = RNG.standard_normal((4, 3, 2)).astype(np.float32)
    for reduction in ("add", "mul", "max", "none"):
        node = Node("ScatterND", ["data", "idx", "upd"], ["y"], {"reduction": reduction} if reduction != "none" else {})
        if reduction == "none":
            feeds_idx = np.array([[0], [2]], np.int64)
            _check(node, {"data": data, "idx": feeds_idx, "upd": upd[:2]})
        else:
            _check(node, {"data": data, "idx": idx, "upd": upd})


def test_maxpool_indices_output(opencl_device):
    x = RNG.standard_normal((2, 3, 6, 7)).astype(np.float32)
    for order in (0, 1):
        node = Node("MaxPool", ["x"], ["y", "i"], {"kernel_shape": [3, 2], "strides": [2, 2], "pads": [1, 0, 1, 1],
                                                 "storage_order": order})
        _check(node, {"x": x}, exact=True)


def test_int_div_mod_and_mixed_pow(opencl_device):
    a = np.array([7, -7, 9, -9, 5, 0], np.int32)
    b = np.array([2, 2, -4, -4, 0, 3], np.int32)
    for op, attrs in (("Div", {}), ("Mod", {}), ("Mod", {"fmod": 1})):
        _check(Node(op, ["a", "b"], ["y"], attrs), {"a": a, "b": b}, exact=True)
    base = np.array([1.5, 2.0, -3.0], np.float32)
    _check(Node("Pow", ["a", "b"], ["y"]), {"a": base, "b": np.array([2, 3, 3], np.int64)})
    _check(Node("Pow", ["a", "b"], ["y"]), {"a": np.array([2, 3, -4], np.int64), "b": np.array([3.0, 2.0, 2.0], np.float32)},
           exact=True)


def test_roi_align_avg_and_max(opencl_device):
    x = RNG.standard_normal((2, 3, 8, 9)).astype(np.float32)
    rois = np.array([[0, 0, 7, 6], [1.5, 2.2, 8.7, 5.1], [-1, -0.5, 3, 9]], np.float32)
    for mode, ctm in (("avg", "half_pixel"), ("max", "output_half_pixel")):
        node = Node("RoiAlign", ["x", "rois", "b"], ["y"], {"mode": mode, "output_height": 3, "output_width": 4,
                                                           "sampling_ratio": 2, "spatial_scale": 0.9,
                                                           "coordinate_transformation_mode": ctm})
        _check(node, {"x": x, "rois": rois, "b": np.array([0, 1, 1], np.int64)})


def test_non_max_suppression_with_declared_output(opencl_device):
    boxes = np.array([[[0, 0, 1, 1], [0, 0.1, 1, 1.1], [0, -0.1, 1, 0.9], [0, 10, 1, 11], [0, 10.1, 1, 11.1],
                       [0, 100, 1, 101]]], np.float32)
    scores = np.array([[[0.9, 0.75, 0.6, 0.95, 0.5, 0.3], [0.1, 0.8, 0.8, 0.2, 0.9, 0.05]]], np.float32)
    node = Node("NonMaxSuppression", ["boxes", "scores", "limit", "iou", "floor"], ["y"])
    consts = {"limit": np.array([3], np.int64), "iou": np.array([0.5], np.float32), "floor": np.array([0.0], np.float32)}
    want = run_node(node, [boxes, scores, *consts.values()], Context().ops)[0]
    _check(node, {"boxes": boxes, "scores": scores}, consts, exact=True,
           declared={"y": TensorType(DType.I64, want.shape)})


def test_empty_outputs_and_empty_reductions(opencl_device):
    x = RNG.standard_normal((3, 0, 4)).astype(np.float32)
    _check(Node("ReduceSum", ["x", "axes"], ["y"], {"keepdims": 0}), {"x": x}, {"axes": np.array([1])})
    _check(Node("ReduceMax", ["x", "axes"], ["y"], {"keepdims": 1}), {"x": x}, {"axes": np.array([1])})
    _check(Node("Relu", ["x"], ["y"]), {"x": x})


@pytest.mark.parametrize("op", ["Conv", "ConvTranspose"])
def test_3d_convolutions(opencl_device, op):
    x = RNG.standard_normal((1, 4, 4, 5, 6)).astype(np.float32)
    w = RNG.standard_normal((4, 2, 2, 3, 2)).astype(np.float32)
    b = RNG.standard_normal(4 if op == "Conv" else 4).astype(np.float32)
    node = Node(op, ["x", "w", "b"], ["y"], {"group": 2, "strides": [1, 2, 2], "pads": [1, 0, 1, 0, 1, 0],
                                             "dilations": [2, 1, 1]})
    _check(node, {"x": x}, {"w": w, "b": b})


@pytest.mark.parametrize("precision", ["normal", "low"])
def test_attention_gqa_with_masks_and_causal(opencl_device, precision):
    q = RNG.standard_normal((2, 4, 5, 8)).astype(np.float32)
    k = RNG.standard_normal((2, 2, 7, 8)).astype(np.float32)
    v = RNG.standard_normal((2, 2, 7, 6)).astype(np.float32)
    bool_mask = RNG.random((5, 6)) > 0.3  # shorter than the keys: the last key is masked out
    float_mask = RNG.standard_normal((2, 1, 5, 7)).astype(np.float32)
    for mask, attrs in ((bool_mask, {"is_causal": 1}), (float_mask, {"softcap": 2.0, "scale": 0.3}), (None, {})):
        feeds = {"q": q, "k": k, "v": v, **({"m": mask} if mask is not None else {})}
        _check(Node("Attention", ["q", "k", "v", "m" if mask is not None else ""], ["y"], attrs), feeds,
               precision=precision)


def test_attention_3d_heads(opencl_device):
    q = RNG.standard_normal((1, 3, 4 * 8)).astype(np.float32)
    k = RNG.standard_normal((1, 5, 2 * 8)).astype(np.float32)
    v = RNG.standard_normal((1, 5, 2 * 4)).astype(np.float32)
    _check(Node("Attention", ["q", "k", "v"], ["y"], {"q_num_heads": 4, "kv_num_heads": 2, "is_causal": 1}),
           {"q": q, "k": k, "v": v})
