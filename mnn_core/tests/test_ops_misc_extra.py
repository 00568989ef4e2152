"""CumProd, Det, QLinearMatMul, QLinearConv, BitCast and TensorScatter against onnx.reference (and
hand-computed values where it is wrong), plus the frontend rule for DFT-17..19's axis attribute."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper

from mnn_core.dtypes import DType
from mnn_core.ir import Node, TensorType
from mnn_core.ops import InferContext
from mnn_core.testing.op_oracle import OPS, check, mnn_run, rand


def enum(dtype: str) -> int:
    return helper.np_dtype_to_tensor_dtype(DType(dtype).numpy)


# ---- CumProd ------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape,axis", [((7,), 0), ((3, 5), -1), ((3, 5), 0), ((2, 3, 1, 4), 1)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64])
def test_cumprod(shape, axis, dtype):
    x = rand(*shape, dtype=dtype, low=-3, high=3)
    for exclusive in (0, 1):
        for reverse in (0, 1):
            check("CumProd", [x, np.array(axis, np.int64)], {"exclusive": exclusive, "reverse": reverse})


def test_cumprod_known_values_and_empty_axis():
    x = np.array([1, 2, 3], np.float32)
    expect = {(0, 0): [1, 2, 6], (1, 0): [1, 1, 2], (0, 1): [6, 6, 3], (1, 1): [6, 3, 1]}
    for (exclusive, reverse), want in expect.items():
        (y,) = mnn_run("CumProd", [x, np.array(0)], {"exclusive": exclusive, "reverse": reverse})
        assert y.tolist() == want
    (y,) = mnn_run("CumProd", [np.zeros((2, 0), np.float32), np.array(1)], {"exclusive": 1})
    assert y.shape == (2, 0)


# ---- Det ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(1, 1), (3, 3), (2, 5, 4, 4), (0, 2, 2)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_det(shape, dtype):
    (y,) = check("Det", [rand(*shape, dtype=dtype)], rtol=1e-4, atol=1e-5)
    assert y.shape == shape[:-2] and y.dtype == dtype


def test_det_half_and_singular():
    (y,) = mnn_run("Det", [np.array([[2, 1], [4, 2]], np.float16)], {})
    assert y.dtype == np.float16 and y == 0
    with pytest.raises(Exception):
        mnn_run("Det", [rand(4)], {})


# ---- QLinearMatMul ------------------------------------------------------------------------------
@pytest.mark.parametrize("qtype", [np.uint8, np.int8])
@pytest.mark.parametrize("ftype", [np.float32, np.float16])
@pytest.mark.parametrize("a_shape,b_shape,a_param,b_param", [
    ((3, 5), (5, 7), (), ()),
    ((2, 3, 5), (2, 5, 7), (2, 3, 1), (2, 1, 7)),   # per row of A, per column of B
    ((4, 3, 5), (5, 2), (), (2,)),
])
def test_qlinear_matmul(qtype, ftype, a_shape, b_shape, a_param, b_param):
    lo, hi = (0, 255) if qtype == np.uint8 else (-128, 127)
    a, b = rand(*a_shape, dtype=qtype, low=lo, high=hi), rand(*b_shape, dtype=qtype, low=lo, high=hi)
    a_scale, b_scale = rand(*a_param, dtype=ftype, low=0.01, high=0.05), rand(*b_param, dtype=ftype,
                                                                                 low=0.01, high=0.05)
    a_zp, b_zp = rand(*a_param, dtype=qtype, low=0, high=20), rand(*b_param, dtype=qtype, low=0, high=20)
    y_scale, y_zp = np.array(0.01, ftype), np.array(7, qtype)
    (y,) = check("QLinearMatMul", [a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp])
    assert y.dtype == qtype and np.isin(y, [lo, hi]).any()  # saturates


def test_qlinear_matmul_per_row_2d():
    """A 1-D scale of a 2-D A is per row (onnx.reference broadcasts it along K instead)."""
    a = rand(3, 4, dtype=np.uint8, low=0, high=255)
    b = rand(4, 3, dtype=np.uint8, low=0, high=255)
    a_scale, a_zp = np.array([0.01, 0.02, 0.03], np.float32), np.array([1, 2, 3], np.uint8)
    b_scale, b_zp = np.float32(0.02), np.uint8(5)
    acc = (a.astype(np.int64) - a_zp[:, None]) @ (b.astype(np.int64) - 5)
    want = np.clip(np.rint(acc * (a_scale[:, None] * b_scale / np.float32(0.5)).astype(np.float64))
                   + 9, 0, 255).astype(np.uint8)
    check("QLinearMatMul", [a, a_scale, a_zp, b, np.array(b_scale), np.array(b_zp), np.array(0.5, np.float32),
                            np.array(9, np.uint8)], expected=[want])


# ---- QLinearConv --------------------------------------------------------------------------------
@pytest.mark.parametrize("qtype", [np.uint8, np.int8])
@pytest.mark.parametrize("attrs,per_channel,bias", [
    ({}, False, False),
    ({"pads": (1, 0, 2, 1), "strides": (2, 1)}, True, True),
    ({"group": 2, "dilations": (1, 2), "auto_pad": "SAME_UPPER"}, True, False),
])
def test_qlinear_conv(qtype, attrs, per_channel, bias):
    lo, hi = (0, 255) if qtype == np.uint8 else (-128, 127)
    groups, m = attrs.get("group", 1), 4
    x = rand(2, 4, 7, 6, dtype=qtype, low=lo, high=hi)
    w = rand(m, 4 // groups, 3, 2, dtype=qtype, low=lo, high=hi)
    w_scale = rand(m, low=0.001, high=0.01) if per_channel else np.array(0.004, np.float32)
    w_zp = np.zeros(m if per_channel else (), qtype)  # spec: weight zero points are 0 per channel
    inputs = [x, np.array(0.05, np.float32), np.array(3, qtype), w, w_scale, w_zp,
              np.array(0.3, np.float32), np.array(5, qtype)]
    if bias:
        inputs.append(rand(m, dtype=np.int32, low=-3000, high=3000))
    (y,) = check("QLinearConv", inputs, attrs, known=[3])
    assert y.dtype == qtype and len(np.unique(y)) > 10


def test_qlinear_conv_1d_per_tensor_zero_point():
    x = rand(1, 3, 11, dtype=np.uint8, low=0, high=255)
    w = rand(2, 3, 4, dtype=np.uint8, low=0, high=255)
    check("QLinearConv", [x, np.float32(0.02), np.uint8(128), w, np.float32(0.01), np.uint8(120),
                          np.float32(0.1), np.uint8(100)], {"pads": (1, 2)})


# ---- BitCast ------------------------------------------------------------------------------------
@pytest.mark.parametrize("x,to", [
    (rand(3, 5), "i32"), (rand(4, dtype=np.float64), "i64"), (np.array(1.5, np.float32), "u32"),
    (rand(2, 3, dtype=np.int16, low=-300, high=300), "f16"), (rand(6, dtype=np.bool_), "u8"),
    (rand(7, dtype=np.int8, low=-128, high=127), "u8"), (rand(3, 2).T, "i32")])
def test_bitcast(x, to):
    (y,) = check("BitCast", [x], {"to": to}, onnx_attrs={"to": enum(to)})
    assert y.shape == x.shape and y.tobytes() == np.ascontiguousarray(x).tobytes()


def test_bitcast_refuses_other_widths():
    with pytest.raises(Exception, match="equally wide"):
        mnn_run("BitCast", [rand(3)], {"to": "f16"})


# ---- TensorScatter ------------------------------------------------------------------------------
@pytest.mark.parametrize("cache,update,axis", [((2, 3, 8, 4), (2, 3, 3, 4), -2),
                                               ((3, 6, 5), (3, 2, 5), 1), ((2, 3, 7), (2, 3, 4), -1)])
@pytest.mark.parametrize("mode", ["linear", "circular"])
def test_tensor_scatter(cache, update, axis, mode):
    past, new = rand(*cache), rand(*update)
    capacity, length = cache[axis], update[axis]
    starts = np.array([0, capacity - length, 1][:cache[0]], np.int64)
    if mode == "circular":
        starts = np.array([capacity - 1, 2, capacity + 1][:cache[0]], np.int64)
    attrs = {"mode": mode, "axis": axis}
    (y,) = check("TensorScatter", [past, new, starts], attrs)
    assert not np.array_equal(y, past)
    check("TensorScatter", [past, new], attrs)


def test_tensor_scatter_overflow_in_linear_mode():
    with pytest.raises(Exception, match="cache of length"):
        mnn_run("TensorScatter", [rand(1, 4, 2), rand(1, 3, 2), np.array([2])], {"axis": 1})


# ---- inference for the new ops ------------------------------------------------------------------
def _infer(op, types, attrs=None, values=None):
    node = Node(op, [f"x{i}" for i in range(len(types))], ["y"], attrs or {})
    schema = OPS.get(op)
    return schema.infer(InferContext(node, types, schema.resolve_attrs(node),
                                     values or [None] * len(types)))


def test_infer_symbolic():
    f32, u8 = DType.F32, DType.U8
    assert _infer("Det", [TensorType(f32, ("N", 3, 3))]) == [TensorType(f32, ("N",))]
    assert _infer("BitCast", [TensorType(f32, ("N", 2))], {"to": "i32"}) == [TensorType(DType.I32, ("N", 2))]
    scalar = TensorType(f32, ())
    q = [TensorType(u8, ("B", "M", 5)), scalar, TensorType(u8, ()), TensorType(u8, (5, 7)), scalar,
         TensorType(u8, ()), scalar, TensorType(DType.I8, ())]
    assert _infer("QLinearMatMul", q) == [TensorType(DType.I8, ("B", "M", 7))]
    conv = [TensorType(u8, ("N", 3, 9, 9)), scalar, TensorType(u8, ()), TensorType(u8, (8, 3, 3, 3)),
            scalar, TensorType(u8, ()), scalar, TensorType(u8, ())]
    assert _infer("QLinearConv", conv, {"strides": (2, 2)}) == [TensorType(u8, ("N", 8, 4, 4))]


# ---- DFT-17..19 through the ONNX frontend -------------------------------------------------------
@pytest.mark.parametrize("attrs,axis", [({}, 1), ({"axis": 2}, 2), ({"axis": 1, "inverse": 1}, 1),
                                        ({"axis": 1, "onesided": 1}, 1)])
def test_dft_axis_attribute_becomes_input(attrs, axis):
    pytest.importorskip("mnn_frontend_onnx")
    from mnn_core.testing.onnx_backend import MnnBackend

    x = rand(2, 6, 5, 2)
    out_shape = list(x.shape)
    out_shape[axis] = x.shape[axis] // 2 + 1 if attrs.get("onesided") else x.shape[axis]
    graph = helper.make_graph([helper.make_node("DFT", ["x"], ["y"], **attrs)], "dft",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, x.shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    (y,) = MnnBackend.run_model(model, [x])
    z = x[..., 0] + 1j * x[..., 1]
    want = (np.fft.ifft if attrs.get("inverse") else np.fft.fft)(z, axis=axis)
    if attrs.get("onesided"):
        want = want.take(np.arange(x.shape[axis] // 2 + 1), axis=axis)
    np.testing.assert_allclose(y, np.stack([want.real, want.imag], -1), rtol=1e-4, atol=1e-5)
