"""Convolution, pooling, matrix, resampling and detection ops against onnx.reference."""
import time

import numpy as np
import pytest

from mnn_core.dtypes import DType
from mnn_core.ir import Node, TensorType
from mnn_core.ops import InferContext
from mnn_core.reference import run_node
from mnn_core.testing.op_oracle import OPS, check, mnn_run, onnx_run, rand

# ---- convolution -------------------------------------------------------------------------------
CONV_CASES = [  # x shape, w shape, attrs
    ((1, 3, 7), (4, 3, 3), {}),
    ((2, 3, 7, 5), (4, 3, 3, 3), {"pads": [1, 1, 1, 1]}),
    ((1, 4, 9, 8), (6, 2, 3, 2), {"group": 2, "strides": [2, 1], "dilations": [1, 2]}),
    ((1, 3, 13, 7), (3, 1, 3, 3), {"group": 3, "auto_pad": "SAME_UPPER", "strides": [2, 2]}),
    ((1, 2, 6, 7), (2, 2, 2, 3), {"auto_pad": "SAME_LOWER", "strides": [3, 2]}),
    ((1, 2, 7, 7), (3, 2, 3, 3), {"auto_pad": "VALID", "strides": [2, 2]}),
    ((1, 2, 5, 4, 6), (2, 2, 2, 3, 2), {"pads": [0, 1, 1, 1, 0, 0], "strides": [1, 2, 2]}),
    ((2, 1, 5, 5), (1, 1, 1, 1), {"kernel_shape": [1, 1]}),
]


@pytest.mark.parametrize("xs,ws,attrs", CONV_CASES)
def test_conv(xs, ws, attrs):
    x, w, b = rand(*xs), rand(*ws), rand(ws[0])
    check("Conv", [x, w, b], attrs, rtol=1e-4, atol=1e-5)
    check("Conv", [x, w], attrs, rtol=1e-4, atol=1e-5)


def test_conv_fused_activation_and_dtypes():
    x, w = rand(1, 2, 5, 5), rand(3, 2, 3, 3)
    plain = mnn_run("Conv", [x, w], {})[0]
    fused = mnn_run("Conv", [x, w], {"activation": "Relu"})[0]
    np.testing.assert_array_equal(fused, np.maximum(plain, 0))
    clip = mnn_run("Conv", [x, w], {"activation": "Clip", "activation_params": (0.0, 6.0)})[0]
    np.testing.assert_array_equal(clip, np.clip(plain, 0, 6))
    assert mnn_run("Conv", [x.astype(np.float16), w.astype(np.float16)], {})[0].dtype == np.float16
    check("Conv", [x.astype(np.float64), w.astype(np.float64)], {}, rtol=1e-10)


def test_conv_is_fast_enough_for_resnet_sized_inputs():
    x, w = rand(1, 64, 56, 56), rand(64, 64, 3, 3)
    start = time.perf_counter()
    mnn_run("Conv", [x, w], {"pads": [1, 1, 1, 1]})
    assert time.perf_counter() - start < 1.0


CONV_T_CASES = [
    ((1, 2, 5), (2, 3, 3), {}),
    ((1, 1, 3, 3), (1, 2, 3, 3), {"strides": [3, 2], "output_padding": [1, 1]}),
    ((2, 4, 4, 3), (4, 1, 3, 2), {"group": 2, "pads": [1, 0, 1, 1], "strides": [2, 2]}),
    ((1, 2, 3, 4), (2, 3, 2, 3), {"dilations": [2, 2], "strides": [2, 1]}),
    ((1, 1, 3, 3), (1, 2, 3, 3), {"strides": [3, 2], "output_shape": [10, 8]}),
    ((1, 1, 3, 3), (1, 2, 3, 3), {"strides": [2, 2], "auto_pad": "SAME_UPPER"}),
    ((1, 1, 3, 4), (1, 2, 3, 3), {"strides": [2, 2], "auto_pad": "SAME_LOWER"}),
    ((1, 2, 2, 3, 2), (2, 2, 2, 2, 2), {"strides": [2, 1, 2]}),
]


@pytest.mark.parametrize("xs,ws,attrs", CONV_T_CASES)
def test_conv_transpose(xs, ws, attrs):
    groups = attrs.get("group", 1)
    x, w, b = rand(*xs), rand(*ws), rand(ws[1] * groups)
    expected = None
    if groups > 1:  # onnx.reference fails on grouped ConvTranspose: run it group by group
        one = {**attrs, "group": 1}
        expected = [np.concatenate([onnx_run("ConvTranspose", [xg, wg, bg], one)[0] for xg, wg, bg in
                                    zip(np.split(x, groups, 1), np.split(w, groups), np.split(b, groups))], 1)]
    check("ConvTranspose", [x, w, b], attrs, rtol=1e-4, atol=1e-5, expected=expected)


def test_conv_integer_and_matmul_integer():
    x, w = rand(1, 2, 5, 5, dtype=np.uint8, low=0, high=255), rand(3, 2, 3, 3, dtype=np.uint8, low=0, high=255)
    check("ConvInteger", [x, w, np.array(12, np.uint8), np.array(3, np.uint8)], {"pads": [1, 1, 1, 1]})
    check("ConvInteger", [x, w], {"strides": [2, 2]})
    a, b = rand(4, 3, dtype=np.uint8, low=0, high=255), rand(3, 2, dtype=np.int8, low=-128, high=127)
    check("MatMulInteger", [a, b, np.array(7, np.uint8), np.array(-2, np.int8)])
    za, zb = rand(4, dtype=np.uint8, low=0, high=9), rand(2, dtype=np.int8, low=-5, high=5)
    per_row = (a.astype(np.int32) - za[:, None]) @ (b.astype(np.int32) - zb)  # onnx.reference lacks this
    check("MatMulInteger", [a, b, za, zb], expected=[per_row])
    check("MatMulInteger", [rand(2, 4, 3, dtype=np.int8, low=-9, high=9), b])


def test_deform_conv():
    x, w = rand(1, 2, 5, 6), rand(4, 1, 2, 2)
    offset = rand(1, 2 * 4 * 2, 4, 5, low=-1.5, high=1.5)
    mask = rand(1, 2 * 4, 4, 5, low=0, high=1)
    check("DeformConv", [x, w, offset, rand(4), mask], {"group": 2, "offset_group": 2}, rtol=1e-4, atol=1e-5)
    check("DeformConv", [x, rand(3, 2, 2, 2), rand(1, 8, 3, 3, low=-1, high=1)],
          {"strides": [2, 2], "pads": [1, 0, 0, 1], "dilations": [1, 2]}, rtol=1e-4, atol=1e-5)


# ---- pooling -----------------------------------------------------------------------------------
POOL_CASES = [
    ((1, 2, 7), {"kernel_shape": [3]}),
    ((2, 3, 7, 6), {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}),
    ((1, 1, 7, 7), {"kernel_shape": [3, 2], "strides": [2, 2], "ceil_mode": 1}),
    ((1, 2, 6, 5), {"kernel_shape": [2, 3], "dilations": [2, 1], "pads": [1, 0, 1, 2]}),
    ((1, 1, 13, 5), {"kernel_shape": [3, 3], "auto_pad": "SAME_UPPER", "strides": [2, 2]}),
    ((1, 1, 6, 5), {"kernel_shape": [2, 2], "auto_pad": "SAME_LOWER"}),
    ((1, 1, 7, 7), {"kernel_shape": [3, 3], "auto_pad": "VALID", "strides": [2, 2]}),
    ((1, 2, 5, 4, 6), {"kernel_shape": [2, 2, 3], "strides": [1, 2, 2], "pads": [1, 0, 1, 0, 1, 1]}),
]


@pytest.mark.parametrize("xs,attrs", POOL_CASES)
def test_max_pool(xs, attrs):
    x = rand(*xs)
    check("MaxPool", [x], attrs)
    y, index = mnn_run("MaxPool", [x], attrs, num_outputs=2)
    np.testing.assert_array_equal(x.reshape(-1)[index], y)
    # onnx.reference gets indices wrong in 1-D and with SAME_LOWER padding
    if len(xs) == 4 and attrs.get("auto_pad") != "SAME_LOWER":
        check("MaxPool", [x], attrs, num_outputs=2)
        check("MaxPool", [x], {**attrs, "storage_order": 1}, num_outputs=2)


@pytest.mark.parametrize("dtype", [np.int8, np.uint8])
def test_max_pool_integers(dtype):
    x = rand(1, 2, 5, 5, dtype=dtype, low=np.iinfo(dtype).min, high=np.iinfo(dtype).max)
    attrs = {"kernel_shape": [2, 2], "pads": [1, 1, 1, 1]}
    expected = onnx_run("MaxPool", [x.astype(np.float32)], attrs)[0].astype(dtype)  # the reference pads with NaN
    check("MaxPool", [x], attrs, expected=[expected])


@pytest.mark.parametrize("xs,attrs", POOL_CASES)
def test_average_and_lp_pool(xs, attrs):
    x = rand(*xs)
    dilated = "dilations" in attrs
    check("AveragePool", [x], attrs)
    if not attrs.get("ceil_mode"):  # onnx.reference mis-shifts windows that need ceil padding
        check("AveragePool", [x], {**attrs, "count_include_pad": 1})
    if not dilated and not attrs.get("ceil_mode") and attrs.get("auto_pad", "NOTSET") == "NOTSET":
        check("LpPool", [x], {**attrs, "p": 3}, rtol=1e-4)
        check("LpPool", [x], attrs, rtol=1e-4)


def test_average_pool_ceil_mode_counts():
    x = np.arange(9, dtype=np.float32).reshape(1, 1, 3, 3)
    y = mnn_run("AveragePool", [x], {"kernel_shape": [2, 2], "strides": [2, 2], "ceil_mode": 1})[0]
    np.testing.assert_allclose(y[0, 0], [[2, 3.5], [6.5, 8]])


@pytest.mark.parametrize("shape", [(1, 3, 7), (2, 3, 5, 4), (1, 2, 3, 1, 5)])
def test_global_pools(shape):
    x = rand(*shape)
    axes = tuple(range(2, len(shape)))
    check("GlobalAveragePool", [x], rtol=1e-5)
    # onnx.reference has no GlobalLpPool and mis-shapes 1-D GlobalMaxPool
    check("GlobalMaxPool", [x], expected=[x.max(axis=axes, keepdims=True)])
    for p in (2, 3):
        lp = (np.abs(x.astype(np.float64)) ** p).sum(axis=axes, keepdims=True) ** (1 / p)
        check("GlobalLpPool", [x], {"p": p}, rtol=1e-5, expected=[lp.astype(np.float32)])


def test_max_unpool():
    x = rand(1, 2, 4, 4)
    y, idx = mnn_run("MaxPool", [x], {"kernel_shape": [2, 2], "strides": [2, 2]}, num_outputs=2)
    check("MaxUnpool", [y, idx], {"kernel_shape": [2, 2], "strides": [2, 2]})
    check("MaxUnpool", [y, idx, np.array([1, 2, 5, 5], np.int64)], {"kernel_shape": [2, 2], "strides": [2, 2]},
          known=[2])


def test_max_roi_pool():
    x = np.arange(2 * 3 * 6 * 7, dtype=np.float32).reshape(2, 3, 6, 7) % 11
    rois = np.array([[0, 0, 0, 3, 3], [1, 1, 2, 6, 5], [0, 2, 1, 2, 1]], np.float32)
    y = mnn_run("MaxRoiPool", [x, rois], {"pooled_shape": [2, 2]})[0]
    assert y.shape == (3, 3, 2, 2)
    np.testing.assert_array_equal(y[0, 0], [[x[0, 0, 0:2, 0:2].max(), x[0, 0, 0:2, 2:4].max()],
                                            [x[0, 0, 2:4, 0:2].max(), x[0, 0, 2:4, 2:4].max()]])
    np.testing.assert_array_equal(y[2, 1], np.full((2, 2), x[0, 1, 1, 2]))


@pytest.mark.parametrize("attrs", [{}, {"mode": "max", "sampling_ratio": 2},
                                   {"coordinate_transformation_mode": "output_half_pixel",
                                    "output_height": 3, "output_width": 2, "spatial_scale": 0.5}])
def test_roi_align(attrs):
    x = rand(2, 3, 7, 6)
    rois = np.array([[0, 0, 5, 6], [1.5, 0.2, 4.1, 3.3], [-1, 2, 8, 9], [2, 2, 2, 2]], np.float32)
    check("RoiAlign", [x, rois, np.array([0, 1, 1, 0], np.int64)],
          {"output_height": 2, "output_width": 3, **attrs}, rtol=1e-4, atol=1e-5)


# ---- matrix products ---------------------------------------------------------------------------
@pytest.mark.parametrize("a,b", [((3, 4), (4, 5)), ((4,), (4, 5)), ((3, 4), (4,)), ((7,), (7,)),
                                 ((2, 1, 3, 4), (5, 4, 2)), ((1, 3, 4), (2, 4, 5))])
def test_matmul(a, b):
    check("MatMul", [rand(*a), rand(*b)], rtol=1e-5)


@pytest.mark.parametrize("attrs,c", [({}, None), ({"alpha": 0.5, "beta": 2.0}, (5,)),
                                     ({"transA": 1}, (3, 5)), ({"transB": 1, "beta": 0.3}, (1, 5)),
                                     ({"transA": 1, "transB": 1}, (1,)), ({}, ())])
def test_gemm(attrs, c):
    a = rand(4, 3) if attrs.get("transA") else rand(3, 4)
    b = rand(5, 4) if attrs.get("transB") else rand(4, 5)
    check("Gemm", [a, b] + ([] if c is None else [rand(*c)]), attrs, rtol=1e-5)


@pytest.mark.parametrize("equation,shapes", [
    ("ij,jk->ik", [(3, 4), (4, 5)]), ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]), ("ii->i", [(4, 4)]),
    ("ij->ji", [(3, 5)]), ("i,i", [(7,), (7,)]), ("...ij,...jk", [(2, 3, 4), (1, 4, 2)]),
    ("bhqd, bhkd -> bhqk", [(1, 2, 3, 4), (1, 2, 5, 4)]), ("ij", [(2, 3)]), ("ijk->", [(2, 3, 4)]),
])
def test_einsum(equation, shapes):
    check("Einsum", [rand(*s) for s in shapes], {"equation": equation}, rtol=1e-5)


# ---- resampling --------------------------------------------------------------------------------
RESIZE_MODES = [
    {"mode": "nearest"}, {"mode": "nearest", "nearest_mode": "floor"},
    {"mode": "nearest", "nearest_mode": "ceil", "coordinate_transformation_mode": "asymmetric"},
    {"mode": "nearest", "nearest_mode": "round_prefer_ceil", "coordinate_transformation_mode": "align_corners"},
    {"mode": "linear"}, {"mode": "linear", "coordinate_transformation_mode": "align_corners"},
    {"mode": "linear", "coordinate_transformation_mode": "pytorch_half_pixel"},
    {"mode": "linear", "coordinate_transformation_mode": "half_pixel_symmetric"},
    {"mode": "cubic"}, {"mode": "cubic", "exclude_outside": 1, "cubic_coeff_a": -0.5},
    {"mode": "cubic", "coordinate_transformation_mode": "asymmetric"},
    {"mode": "linear", "antialias": 1}, {"mode": "cubic", "antialias": 1},
]


@pytest.mark.parametrize("attrs", RESIZE_MODES)
@pytest.mark.parametrize("scales", [(1, 1, 2.0, 1.5), (1, 1, 0.6, 0.43), (1, 1, 1.7, 0.34)])
def test_resize_scales(attrs, scales):
    x = rand(1, 2, 5, 7)
    check("Resize", [x, None, np.array(scales, np.float32)], attrs, known=[2], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("attrs", [{"mode": "nearest"}, {"mode": "linear"}, {"mode": "cubic"},
                                   {"mode": "linear", "keep_aspect_ratio_policy": "not_larger"},
                                   {"mode": "nearest", "keep_aspect_ratio_policy": "not_smaller"},
                                   {"mode": "linear", "axes": [2, 3]},
                                   {"mode": "cubic", "axes": [3], "antialias": 1}])
def test_resize_sizes(attrs):
    x = rand(2, 3, 6, 9)
    k = len(attrs.get("axes", [0, 1, 2, 3]))
    sizes = np.array([2, 3, 9, 4][-k:] if k < 4 else [2, 3, 9, 4], np.int64)
    if "axes" in attrs or "keep_aspect_ratio_policy" in attrs:
        sizes = np.array([9, 4][-k:], np.int64) if k < 4 else sizes
        attrs = {**attrs, "axes": attrs.get("axes", [2, 3])}
    y = check("Resize", [x, None, None, sizes], attrs, known=[3], rtol=1e-5, atol=1e-5)[0]
    if "axes" in attrs:  # negative axes (onnx.reference rejects them)
        negative = {**attrs, "axes": [a - 4 for a in attrs["axes"]]}
        np.testing.assert_array_equal(mnn_run("Resize", [x, None, None, sizes], negative, known=[3])[0], y)


def test_resize_crop_and_integers():
    x = rand(1, 1, 6, 5)
    roi = np.array([0, 0, 0.2, 0.1, 1, 1, 0.9, 1.3], np.float32)
    for mode in ("linear", "nearest", "cubic"):
        check("Resize", [x, roi, np.array([1, 1, 1.5, 2], np.float32)],
              {"mode": mode, "coordinate_transformation_mode": "tf_crop_and_resize",
               "extrapolation_value": -7.0}, known=[2], rtol=1e-5, atol=1e-5)
    check("Resize", [rand(1, 3, 4, 4, dtype=np.uint8, low=0, high=255), None,
                     np.array([1, 1, 1.5, 1.5], np.float32)], {"mode": "linear"}, known=[2])
    check("Resize", [rand(7, 5), None, np.array([2.0, 0.5], np.float32)], {"mode": "linear"}, known=[2])


@pytest.mark.parametrize("mode", ["linear", "nearest", "cubic"])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align_corners", [0, 1])
def test_grid_sample(mode, padding_mode, align_corners):
    attrs = {"mode": mode, "padding_mode": padding_mode, "align_corners": align_corners}
    check("GridSample", [rand(2, 3, 5, 4), rand(2, 3, 6, 2, low=-1.4, high=1.4)], attrs, rtol=1e-4, atol=1e-5)
    if mode != "cubic":
        check("GridSample", [rand(1, 2, 3, 4, 5), rand(1, 2, 3, 2, 3, low=-1.3, high=1.3)], attrs,
              rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("align_corners", [0, 1])
def test_affine_grid(align_corners):
    check("AffineGrid", [rand(2, 2, 3), np.array([2, 3, 5, 4], np.int64)],
          {"align_corners": align_corners}, known=[1])
    check("AffineGrid", [rand(1, 3, 4), np.array([1, 1, 2, 3, 4], np.int64)],
          {"align_corners": align_corners}, known=[1])


# ---- detection and the rest --------------------------------------------------------------------
@pytest.mark.parametrize("center", [0, 1])
def test_non_max_suppression(center):
    rng = np.random.default_rng(3)
    corner = rng.uniform(0, 10, size=(2, 13, 2))
    boxes = np.concatenate([corner, corner + rng.uniform(1, 4, size=(2, 13, 2))], -1).astype(np.float32)
    if center:
        boxes = np.concatenate([(boxes[..., :2] + boxes[..., 2:]) / 2, boxes[..., 2:] - boxes[..., :2]], -1)
    scores = rng.uniform(size=(2, 3, 13)).astype(np.float32)
    for extra in ([np.array([3], np.int64), np.array([0.5], np.float32)],
                  [np.array([5], np.int64), np.array([0.2], np.float32), np.array([0.3], np.float32)],
                  [np.array([20], np.int64), np.array([0.0], np.float32)]):
        inputs = [boxes, scores, *extra]
        ours = run_node(Node("NonMaxSuppression", [f"x{i}" for i in range(len(inputs))], ["y"],
                             {"center_point_box": center}), inputs, OPS)[0]
        np.testing.assert_array_equal(ours, onnx_run("NonMaxSuppression", inputs, {"center_point_box": center})[0])
    none = run_node(Node("NonMaxSuppression", ["b", "s"], ["y"]), [boxes, scores], OPS)[0]
    assert none.shape == (0, 3) and none.dtype == np.int64  # max_output_boxes_per_class defaults to 0
    t = OPS.get("NonMaxSuppression").infer(InferContext(Node("NonMaxSuppression", ["b", "s"], ["y"]), [], {}, []))
    assert t == [TensorType(DType.I64, (None, 3))]


@pytest.mark.parametrize("size", [1, 2, 3, 5])
def test_lrn(size):
    # onnx.reference loops over the batch axis for channels, so it is right only when N == C
    check("LRN", [rand(7, 7, 3, 4)], {"size": size, "alpha": 0.01, "beta": 0.6, "bias": 2.0}, rtol=1e-5)


def test_dropout():
    x = rand(3, 7)
    check("Dropout", [x], num_outputs=2)
    check("Dropout", [x, np.array(0.3, np.float32), np.array(False)], num_outputs=2)
    y, mask = mnn_run("Dropout", [x, np.array(0.5, np.float32), np.array(True)], {"seed": 1}, num_outputs=2)
    np.testing.assert_allclose(y, np.where(mask, x * 2, 0), rtol=1e-6)


def test_inference_with_symbolic_and_unknown_dims():
    def infer(op, types, attrs=None, values=(), outputs=1):
        node = Node(op, [f"x{i}" for i in range(len(types))], [f"y{i}" for i in range(outputs)], attrs or {})
        ctx = InferContext(node, types, OPS.get(op).resolve_attrs(node), list(values) + [None] * 4)
        return OPS.get(op).infer(ctx)
    f32 = lambda *shape: TensorType(DType.F32, shape)
    assert infer("Conv", [f32("N", 3, "H", 32), f32(8, 3, 3, 3)], {"pads": [1, 1, 1, 1]}) == \
        [f32("N", 8, None, 32)]
    assert infer("MaxPool", [f32("N", 3, 9, 9)], {"kernel_shape": [2, 2], "ceil_mode": 1,
                                                  "strides": [2, 2]}, outputs=2)[1] == \
        TensorType(DType.I64, ("N", 3, 5, 5))
    assert infer("MatMul", [f32("B", 1, "S", 4), f32(3, 4, 5)]) == [f32("B", 3, "S", 5)]
    assert infer("Gemm", [f32(4, "K"), f32(7, "K")], {"transB": 1}) == [f32(4, 7)]
    assert infer("Resize", [f32("N", 3, 8, 8), None, TensorType(DType.F32, (4,))]) == [f32(None, None, None, None)]
    assert infer("Resize", [f32("N", 3, 8, 8), None, None, TensorType(DType.I64, (2,))], {"axes": [2, 3]},
                 [None, None, None, np.array([16, 4])]) == [f32("N", 3, 16, 4)]
    assert infer("Einsum", [f32("B", 3, 4), f32("B", 4, 5)], {"equation": "bij,bjk->bik"}) == [f32("B", 3, 5)]
    assert infer("ConvTranspose", [TensorType(DType.F32, None), f32(3, 2, 3, 3)]) == [TensorType(DType.F32, None)]
