"""Conv, Gemm and MatMul on the CPU backend against the reference kernels, on every ISA this
machine supports (odd channel counts and sizes so every panel edge and padding path runs)."""
import itertools

import numpy as np
import pytest

from cpu_helpers import check, graph_of, isas, node, rand

ISAS = isas()
ACTIVATIONS = [("", ()), ("Relu", ()), ("Clip", (0.0, 6.0)), ("LeakyRelu", (0.1,)),
               ("HardSigmoid", (0.2, 0.5)), ("HardSwish", ()), ("Sigmoid", ()), ("SiLU", ()),
               ("Tanh", ())]


def conv_case(c, m, size, k, stride=1, dilation=1, group=1, pad=None, bias=True, act=("", ()),
              auto_pad=None, batch=1, isa="", threads=1, seed=0):
    x = rand(batch, c, size, size + 2, seed=seed)
    w = rand(m, c // group, k, k, seed=seed + 1) * 0.5
    consts = {"w": w}
    inputs = ["x", "w"]
    if bias:
        consts["b"] = rand(m, seed=seed + 2)
        inputs.append("b")
    attrs = dict(strides=(stride, stride), dilations=(dilation, dilation), group=group)
    if auto_pad:
        attrs["auto_pad"] = auto_pad
    else:
        p = (k // 2) * dilation if pad is None else pad
        attrs["pads"] = (p, p, p, p)
    if act[0]:
        attrs.update(activation=act[0], activation_params=act[1])
    graph = graph_of(node("Conv", inputs, **attrs), {"x": x}, consts)
    check(graph, {"x": x}, isa, threads)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("c,m,size,k,stride,dilation", [
    (1, 1, 1, 1, 1, 1), (3, 7, 5, 3, 1, 1), (7, 13, 17, 3, 2, 1), (13, 7, 17, 3, 1, 2),
    (3, 13, 17, 7, 2, 1), (13, 13, 5, 1, 1, 1), (7, 3, 17, 1, 2, 1), (13, 20, 5, 5, 1, 1),
    (20, 37, 17, 3, 1, 1),
])
def test_conv_shapes(isa, c, m, size, k, stride, dilation):
    conv_case(c, m, size, k, stride, dilation, isa=isa)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("c,m,group,k,stride", [(7, 7, 7, 3, 1), (13, 13, 13, 3, 2), (12, 12, 12, 5, 2),
                                                (6, 9, 3, 3, 1), (4, 8, 2, 1, 1), (13, 26, 13, 3, 1)])
def test_conv_groups_and_depthwise(isa, c, m, group, k, stride):
    conv_case(c, m, 17, k, stride, group=group, isa=isa)
    conv_case(c, m, 5, k, stride, dilation=2, group=group, isa=isa, bias=False)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("act", ACTIVATIONS, ids=[a[0] or "none" for a in ACTIVATIONS])
def test_conv_fused_activations(isa, act):
    conv_case(7, 13, 5, 3, act=act, isa=isa)  # im2col path
    conv_case(7, 7, 5, 3, group=7, act=act, isa=isa)  # depthwise path


@pytest.mark.parametrize("auto_pad", ["SAME_UPPER", "SAME_LOWER", "VALID"])
def test_conv_auto_pad_batch_threads(auto_pad):
    conv_case(3, 7, 17, 4, stride=2, auto_pad=auto_pad, batch=2, threads=2)
    conv_case(5, 5, 17, 3, group=5, stride=2, auto_pad=auto_pad, batch=2, threads=2)


def test_conv_asymmetric_pads_and_1d():
    x = rand(1, 3, 9, 11)
    w = rand(5, 3, 3, 2)
    graph = graph_of(node("Conv", ["x", "w"], pads=(0, 1, 2, 0), strides=(2, 1)), {"x": x}, {"w": w})
    check(graph, {"x": x})
    x1 = rand(2, 3, 19)
    graph = graph_of(node("Conv", ["x", "w"], pads=(1, 2), strides=(2,), dilations=(2,)),
                     {"x": x1}, {"w": rand(4, 3, 3)})
    check(graph, {"x": x1})


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("trans_a,trans_b", list(itertools.product([0, 1], [0, 1])))
def test_gemm(isa, trans_a, trans_b):
    m, k, n = 5, 37, 29
    a = rand(*((k, m) if trans_a else (m, k)))
    b = rand(*((n, k) if trans_b else (k, n)), seed=1)
    for c, alpha, beta in [(rand(n, seed=2), 1.0, 1.0), (rand(1, n, seed=3), 0.5, 2.0),
                           (rand(m, 1, seed=4), 1.0, 0.5), (rand(m, n, seed=5), 2.0, 1.0), (None, 1.0, 1.0)]:
        consts = {"b": b} if c is None else {"b": b, "c": c}
        inputs = ["a", "b"] + ([] if c is None else ["c"])
        graph = graph_of(node("Gemm", inputs, transA=trans_a, transB=trans_b, alpha=alpha, beta=beta),
                         {"a": a}, consts)
        check(graph, {"a": a}, isa)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("act", ACTIVATIONS[:4], ids=[a[0] or "none" for a in ACTIVATIONS[:4]])
def test_gemm_fused_and_variable_b(isa, act):
    a, b = rand(13, 40), rand(40, 70, seed=1)
    attrs = {"activation": act[0], "activation_params": act[1]} if act[0] else {}
    graph = graph_of(node("Gemm", ["a", "b"], **attrs), {"a": a, "b": b})  # B is an input here
    check(graph, {"a": a, "b": b}, isa)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("a_shape,b_shape,b_const", [
    ((3, 17, 33), (33, 20), True), ((2, 3, 7, 9), (9, 5), True), ((1, 4, 33, 16), (1, 4, 16, 33), False),
    ((2, 1, 6, 8), (3, 8, 7), False), ((5, 9), (2, 9, 4), False), ((130, 70), (70, 300), False),
])
def test_matmul(isa, a_shape, b_shape, b_const):
    a, b = rand(*a_shape), rand(*b_shape, seed=1)
    if b_const:
        graph = graph_of(node("MatMul", ["a", "b"]), {"a": a}, {"b": b})
        check(graph, {"a": a}, isa)
    else:
        graph = graph_of(node("MatMul", ["a", "b"]), {"a": a, "b": b})
        check(graph, {"a": a, "b": b}, isa, threads=2)


def test_gemm_large_threads():
    a, b = rand(67, 300), rand(300, 530, seed=1)
    graph = graph_of(node("Gemm", ["a", "b", "c"], transB=0), {"a": a}, {"b": b, "c": rand(530, seed=2)})
    check(graph, {"a": a}, threads=2)
    x = rand(1, 64, 56, 56)
    graph = graph_of(node("Conv", ["x", "w"], pads=(1, 1, 1, 1)), {"x": x}, {"w": rand(64, 64, 3, 3) * 0.1})
    check(graph, {"x": x}, threads=2)
