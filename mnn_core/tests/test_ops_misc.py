"""Quantisation ops against onnx.reference; random ops for shape, dtype, seeding and statistics;
signal windows against onnx.reference."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from mnn_core.dtypes import DType
from mnn_core.ir import Node, TensorType
from mnn_core.ops import InferContext
from mnn_core.reference import run_node
from mnn_core.testing.op_oracle import OPS, check, rand


def enum(dtype: str) -> int:
    return helper.np_dtype_to_tensor_dtype(DType(dtype).numpy)


# (x shape, scale shape, axis, block_size)
GRANULARITY = [((7,), (), 1, 0), ((2, 3, 5), (3,), 1, 0), ((3, 13), (13,), -1, 0),
               ((4, 7), (4, 3), 1, 3), ((6, 5, 2), (2, 5, 2), 0, 4)]


@pytest.mark.parametrize("qtype", ["u8", "i8", "i16"])
@pytest.mark.parametrize("x_shape,s_shape,axis,block", GRANULARITY)
def test_quantize_dequantize(qtype, x_shape, s_shape, axis, block):
    q = DType(qtype).numpy
    x = rand(*x_shape, low=-400, high=400)  # well past the int8/uint8 range: saturates
    scale = rand(*s_shape, low=0.5, high=2.0)
    zero_point = rand(*s_shape, dtype=q, low=-3 if q.kind == "i" else 0, high=9)
    attrs = {"axis": axis, "block_size": block}
    (y,) = check("QuantizeLinear", [x, scale, zero_point], attrs)
    assert y.min() == np.iinfo(q).min or qtype == "i16"
    check("DequantizeLinear", [y, scale, zero_point], attrs)


def test_quantize_defaults_and_output_dtype():
    x = rand(3, 5, low=-300, high=300)
    x[0, :2] = (300, -300)  # make saturation certain
    (y,) = check("QuantizeLinear", [x, np.float32(2.0)])
    assert y.dtype == np.uint8
    (y,) = check("QuantizeLinear", [x, np.float32(2.0)], {"output_dtype": "i8"},
                 onnx_attrs={"output_dtype": enum("i8")})
    assert y.dtype == np.int8 and y.max() == 127
    half = np.array([0.5, 1.5, 2.5, -0.5, -1.5], np.float32)  # ties round to even
    (y,) = check("QuantizeLinear", [half, np.float32(1.0), np.int8(0)])
    assert y.tolist() == [0, 2, 2, 0, -2]
    (z,) = check("DequantizeLinear", [np.array([-128, 0, 127], np.int8), np.float16(0.5)])
    assert z.dtype == np.float16
    check("DequantizeLinear", [np.array([-7, 1 << 20], np.int32), np.float32(0.25)])


@pytest.mark.parametrize("x", [rand(3, 7), rand(13, low=0.5, high=4.0), rand(2, 3, low=-5, high=-1),
                               np.zeros((4,), np.float32)])
def test_dynamic_quantize_linear(x):
    y, scale, zp = check("DynamicQuantizeLinear", [x], num_outputs=3)
    assert y.dtype == np.uint8 and scale.dtype == x.dtype and zp.shape == ()


def random_node(op, inputs, attrs):
    node = Node(op, [f"x{i}" for i in range(len(inputs))], ["y"], attrs)
    schema = OPS.get(op)
    (y,) = run_node(node, inputs, OPS)
    (t,) = schema.infer(InferContext(node, [TensorType.of(x) for x in inputs],
                                     schema.resolve_attrs(node), [None] * len(inputs)))
    assert t == TensorType.of(y), (op, t, TensorType.of(y))
    return y


@pytest.mark.parametrize("op,attrs,mean,std", [
    ("RandomNormal", {"mean": 2.0, "scale": 3.0}, 2.0, 3.0),
    ("RandomUniform", {"low": -1.0, "high": 5.0}, 2.0, 6 / 12 ** 0.5)])
@pytest.mark.parametrize("dtype", [None, "f64", "f16"])
def test_random(op, attrs, mean, std, dtype):
    attrs = {**attrs, **({} if dtype is None else {"dtype": dtype})}
    y = random_node(op, [], {**attrs, "shape": (200, 50), "seed": 3.0})
    assert y.dtype == (DType(dtype).numpy if dtype else np.float32)
    assert abs(y.astype(np.float64).mean() - mean) < 0.1 and abs(y.astype(np.float64).std() - std) < 0.1
    assert np.array_equal(y, random_node(op, [], {**attrs, "shape": (200, 50), "seed": 3.0}))
    assert not np.array_equal(y, random_node(op, [], {**attrs, "shape": (200, 50), "seed": 4.0}))
    like = random_node(op + "Like", [rand(3, 1, 7, dtype=np.float16)], attrs)
    assert like.shape == (3, 1, 7) and like.dtype == (DType(dtype).numpy if dtype else np.float16)


def test_bernoulli_and_multinomial():
    p = np.tile(np.array([0.0, 0.25, 1.0], np.float32), (4000, 1))
    y = random_node("Bernoulli", [p], {"seed": 1.0})
    assert y.dtype == np.float32 and np.allclose(y.mean(axis=0), [0, 0.25, 1], atol=0.03)
    assert random_node("Bernoulli", [p.astype(np.float64)], {"dtype": "i32"}).dtype == np.int32
    logits = np.log(np.array([[0.1, 0.0001, 0.9], [0.5, 0.5, 1e-9]], np.float32))
    s = random_node("Multinomial", [logits], {"sample_size": 5000, "seed": 2.0})
    assert s.dtype == np.int32 and s.shape == (2, 5000)
    assert abs((s[0] == 2).mean() - 0.9) < 0.03 and (s[1] < 2).all()
    s = random_node("Multinomial", [logits], {"sample_size": 3, "dtype": "i64"})
    assert s.dtype == np.int64


@pytest.mark.parametrize("op", ["HannWindow", "HammingWindow", "BlackmanWindow"])
@pytest.mark.parametrize("size,periodic,dtype", [(10, 1, None), (7, 0, None), (1, 1, "f64"), (13, 0, "f16")])
def test_windows(op, size, periodic, dtype):
    attrs = {"periodic": periodic, **({} if dtype is None else {"output_datatype": dtype})}
    onnx_attrs = {"periodic": periodic, **({} if dtype is None else {"output_datatype": enum(dtype)})}
    check(op, [np.array(size, np.int64)], attrs, onnx_attrs=onnx_attrs, known=[0], atol=1e-3)


@pytest.mark.parametrize("shape,axis,length,inverse,onesided", [
    ((2, 8, 1), None, None, 0, 0), ((3, 7, 2), 1, None, 1, 0), ((2, 5, 6, 1), 2, 10, 0, 1),
    ((4, 5, 2), -2, None, 1, 1), ((5, 3, 2), 0, 4, 0, 0)])
def test_dft(shape, axis, length, inverse, onesided):
    ins = [rand(*shape), None if length is None else np.array(length, np.int64),
           None if axis is None else np.array(axis, np.int64)]
    while ins[-1] is None:
        ins.pop()
    check("DFT", ins, {"inverse": inverse, "onesided": onesided}, known=[1, 2], atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("shape,step,window,length,onesided", [
    ((2, 32, 1), 8, 16, None, 1), ((1, 29, 2), 5, None, 7, 0), ((3, 20, 1), 3, 6, 6, 0)])
def test_stft(shape, step, window, length, onesided):
    win = None if window is None else np.hanning(window).astype(np.float32)
    ins = [rand(*shape), np.array(step, np.int64), win,
           None if length is None else np.array(length, np.int64)]
    while ins[-1] is None:
        ins.pop()
    check("STFT", ins, {"onesided": onesided}, known=[1, 3], atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("bins,length,rate,low,high", [(8, 16, 8192, 0.0, 4096.0),
                                                       (13, 64, 16000, 20.0, 7000.0)])
def test_mel_weight_matrix(bins, length, rate, low, high):
    ins = [np.array(bins, np.int64), np.array(length, np.int64), np.array(rate, np.int64),
           np.array(low, np.float32), np.array(high, np.float32)]
    check("MelWeightMatrix", ins, known=[0, 1])
