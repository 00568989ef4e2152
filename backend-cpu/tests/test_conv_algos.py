"""Every convolution algorithm (forced through MNN_CPU_CONV_ALGO, checked to have run through the
plan's op notes) against the reference kernels, on every ISA this machine supports: odd channel
counts and map sizes so every tile edge, panel tail and padding path runs; every fused activation."""
import numpy as np
import pytest

from cpu_helpers import context, graph_of, isas, node, rand
from mnn_core.session import Model

ISAS = isas()
ACTIVATIONS = [("", ()), ("Relu", ()), ("Clip", (0.0, 6.0)), ("LeakyRelu", (0.1,)),
               ("HardSigmoid", (0.2, 0.5)), ("HardSwish", ()), ("Sigmoid", ()), ("SiLU", ()),
               ("Tanh", ())]
# F(6,3) interpolates at +-1/2 and +-2: its float32 error is a few 1e-6 of the output scale.
TOLERANCE = {"winograd6": 5e-5, "winograd4": 2e-5}


def run_conv(monkeypatch, algo, c, m, h, w, k=3, stride=1, dilation=1, group=1, pads=None, bias=True,
             act=("", ()), batch=1, isa="", threads=1, seed=0):
    monkeypatch.setenv("MNN_CPU_CONV_ALGO", algo)
    x = rand(batch, c, h, w, seed=seed)
    consts = {"w": rand(m, c // group, k, k, seed=seed + 1) * 0.5}
    inputs = ["x", "w"]
    if bias:
        consts["b"] = rand(m, seed=seed + 2)
        inputs.append("b")
    p = (k // 2) * dilation
    attrs = dict(strides=(stride, stride), dilations=(dilation, dilation), group=group,
                 pads=pads or (p, p, p, p))
    if act[0]:
        attrs.update(activation=act[0], activation_params=act[1])
    graph = graph_of(node("Conv", inputs, **attrs), {"x": x}, consts)
    model = Model(graph, context())
    options = {"cpu.isa": isa} if isa else {}
    session = model.session(backends=["cpu"], strict=True, threads=threads, options=options)
    got = session.run({"x": x})["y"]
    notes = session.plan.segments[0].executable.native.plan.op_notes
    want = model.session(backends=["reference"]).run({"x": x})["y"]
    scale = max(float(np.abs(want).max()), 1.0)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=TOLERANCE.get(algo, 1e-5) * scale)
    return notes[0]


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("algo", ["winograd2", "winograd4", "winograd6"])
@pytest.mark.parametrize("c,m,h,w", [(1, 1, 1, 1), (3, 7, 5, 7), (13, 20, 17, 5), (7, 13, 1, 17),
                                     (20, 37, 17, 17)])
def test_winograd(monkeypatch, isa, algo, c, m, h, w):
    assert run_conv(monkeypatch, algo, c, m, h, w, isa=isa) == algo


@pytest.mark.parametrize("algo", ["winograd2", "winograd4", "winograd6"])
def test_winograd_batch_threads_pads_no_bias(monkeypatch, algo):
    # two threads split output channels when there are few tile blocks; asymmetric and zero pads
    assert run_conv(monkeypatch, algo, 16, 70, 9, 11, batch=2, threads=2, bias=False) == algo
    assert run_conv(monkeypatch, algo, 5, 9, 12, 10, pads=(0, 2, 1, 0), threads=2) == algo
    assert run_conv(monkeypatch, algo, 5, 9, 30, 31, pads=(0, 0, 0, 0), batch=3, threads=2) == algo


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("act", ACTIVATIONS, ids=[a[0] or "none" for a in ACTIVATIONS])
def test_winograd_fused_activations(monkeypatch, isa, act):
    assert run_conv(monkeypatch, "winograd4", 7, 13, 9, 9, act=act, isa=isa) == "winograd4"


DEPTHWISE = ["depthwise", "dwblock", "dwrow"]


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("algo", DEPTHWISE)
@pytest.mark.parametrize("k,stride,dilation", [(3, 1, 1), (3, 2, 1), (5, 1, 1), (5, 2, 1), (3, 1, 2),
                                               (3, 2, 2), (7, 2, 1), (2, 1, 1), (1, 2, 1)])
@pytest.mark.parametrize("c,h,w", [(1, 1, 1), (3, 5, 5), (7, 17, 17), (13, 17, 6), (20, 9, 35)])
def test_depthwise(monkeypatch, isa, algo, k, stride, dilation, c, h, w):
    pads = (1, 0, 0, 1) if k == 2 else None
    got = run_conv(monkeypatch, algo, c, c, h, w, k, stride, dilation, group=c, pads=pads,
                   isa=isa, bias=c != 3)
    assert got == algo


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("algo", DEPTHWISE)
@pytest.mark.parametrize("act", ACTIVATIONS, ids=[a[0] or "none" for a in ACTIVATIONS])
def test_depthwise_fused_activations(monkeypatch, isa, algo, act):
    for stride in (1, 2):
        assert run_conv(monkeypatch, algo, 7, 7, 9, 13, 3, stride, group=7, act=act, isa=isa) == algo
    assert run_conv(monkeypatch, algo, 5, 5, 11, 11, 5, 2, group=5, act=act, isa=isa) == algo


@pytest.mark.parametrize("algo", DEPTHWISE)
def test_depthwise_batch_threads_asymmetric_pads(monkeypatch, algo):
    for stride in (1, 2):
        assert run_conv(monkeypatch, algo, 13, 13, 17, 16, 3, stride, group=13, batch=2, threads=2,
                        pads=(0, 2, 1, 0)) == algo
    # bands of output rows (a tall map, many tasks for two threads), stride 3, big pads
    assert run_conv(monkeypatch, "dwblock", 9, 9, 300, 40, 3, 1, group=9, threads=2) == "dwblock"
    assert run_conv(monkeypatch, "dwblock", 9, 9, 23, 29, 3, 3, group=9, pads=(3, 2, 0, 4)) == "dwblock"
    assert run_conv(monkeypatch, "dwblock", 9, 9, 19, 19, 9, 1, group=9) == "dwblock"  # 81 taps
    # planar rows: bands with two threads, big pads, 81 taps (weights read from memory)
    assert run_conv(monkeypatch, "dwrow", 9, 9, 300, 40, 3, 1, group=9, threads=2) == "dwrow"
    assert run_conv(monkeypatch, "dwrow", 9, 9, 23, 29, 3, 2, group=9, pads=(3, 2, 0, 4)) == "dwrow"
    assert run_conv(monkeypatch, "dwrow", 9, 9, 19, 19, 9, 1, group=9) == "dwrow"


# Planar depthwise rows: every row-tail path (partial vector alone, whole vectors left over after
# groups of 4, overlapped last vector), both column phases of stride 2 with odd and even left pads.
@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("c,h,w", [(1, 1, 1), (3, 5, 5), (7, 17, 17), (13, 61, 23), (20, 112, 112)])
@pytest.mark.parametrize("k,stride", [(3, 1), (3, 2), (5, 1), (5, 2)])
def test_dwrow_shapes(monkeypatch, isa, c, h, w, k, stride):
    assert run_conv(monkeypatch, "dwrow", c, c, h, w, k, stride, group=c, isa=isa) == "dwrow"
    assert run_conv(monkeypatch, "dwrow", c, c, h, w, k, stride, group=c, isa=isa, threads=2,
                    pads=(k - 1, 1, 0, k - 1), act=ACTIVATIONS[2]) == "dwrow"


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("act", ACTIVATIONS, ids=[a[0] or "none" for a in ACTIVATIONS])
def test_dwrow_activations_wide(monkeypatch, isa, act):
    for stride in (1, 2):  # 61 columns: groups of 4 vectors, leftovers and a partial vector
        assert run_conv(monkeypatch, "dwrow", 3, 3, 9, 61, 3, stride, group=3, act=act, isa=isa) == "dwrow"


@pytest.mark.parametrize("isa", ISAS)
def test_gemm_forced_on_winograd_and_depthwise_shapes(monkeypatch, isa):
    assert run_conv(monkeypatch, "gemm", 13, 20, 17, 5, isa=isa) == "gemm"
    assert run_conv(monkeypatch, "gemm", 7, 7, 17, 17, 3, 2, group=7, isa=isa) == "gemm"


def test_disallowed_choice_falls_back_and_auto_heuristic(monkeypatch):
    # Winograd needs stride 1: the op falls back to its own choice
    assert run_conv(monkeypatch, "winograd4", 8, 8, 9, 9, 3, 2) == "gemm"
    assert run_conv(monkeypatch, "depthwise", 8, 16, 9, 9, 1) == "gemm"
    # the cost model: Winograd on resnet-like layers, depthwise for depthwise, GEMM for the rest
    assert run_conv(monkeypatch, "auto", 64, 64, 28, 28).startswith("winograd")
    assert run_conv(monkeypatch, "auto", 32, 32, 14, 14, group=32) == "dwblock"
    assert run_conv(monkeypatch, "auto", 5, 5, 9, 100, group=5) == "dwblock"  # dwrow: tuner only
    assert run_conv(monkeypatch, "auto", 16, 32, 14, 14, 1) == "gemm"
    assert run_conv(monkeypatch, "auto", 3, 4, 6, 6) == "gemm"  # too few channels to pay transforms


def test_candidates_are_exposed_to_the_tuner(monkeypatch):
    from mnn_backend_cpu import _native
    from mnn_backend_cpu.lowering import CONV_ALGOS, conv_candidates

    #       N  C   H   W   M  OH  OW KH KW SH SW DH DW PT PL G act bias
    ints = [1, 16, 20, 20, 32, 20, 20, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 1]
    assert conv_candidates(ints) == ["gemm", "winograd2", "winograd4", "winograd6"]
    assert _native.conv_candidates(ints) == conv_candidates(ints)
    dw = [1, 16, 20, 20, 16, 10, 10, 5, 5, 2, 2, 1, 1, 2, 2, 16, 1, 1]
    assert conv_candidates(dw) == _native.conv_candidates(dw) == ["gemm", "depthwise", "dwblock", "dwrow"]
    assert set(CONV_ALGOS) >= {"auto", *conv_candidates(ints), *conv_candidates(dw)}
    # the lowering offers each candidate as a variant of the conv op (tuning.py measures them)
    from mnn_backend_cpu.lowering import Env, lower_conv
    from mnn_core.ir import TensorType

    monkeypatch.delenv("MNN_CPU_CONV_ALGO", raising=False)
    x, w = rand(1, 16, 20, 20), rand(32, 16, 3, 3)
    conv = node("Conv", ["x", "w"], pads=(1, 1, 1, 1))
    env = Env({"x": TensorType.of(x), "w": TensorType.of(w), "y": TensorType.of(np.zeros((1, 32, 20, 20), np.float32))},
              {"w": w})
    (lop,) = lower_conv(conv, env)
    assert sorted(lop.variants) == sorted(conv_candidates(ints)) and lop.cost > 0
    assert {v.ints[18] for v in lop.variants.values()} == {CONV_ALGOS[n] for n in lop.variants}
    monkeypatch.setenv("MNN_CPU_CONV_ALGO", "nonsense")
    with pytest.raises(Exception, match="MNN_CPU_CONV_ALGO"):
        lower_conv(conv, env)
