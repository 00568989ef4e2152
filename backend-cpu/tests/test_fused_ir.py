"""The inverted-residual fusion (expansion 1x1 conv + depthwise conv -> one `conv_ir` op, csrc/
fused_ir.cpp) against the reference: odd channel counts and maps so every panel tail, vector-block
tail, band edge and padding row runs; strides 1 and 2; every fused activation on both convs; every
ISA; 1 and 2 threads. Each case checks the plan really holds the fused op (or, when the pattern does
not hold, that it does not)."""
import numpy as np
import pytest

from cpu_helpers import context, graph_of, isas, node, rand
from mnn_core.session import Model

ISAS = isas()
ACTIVATIONS = [("", ()), ("Relu", ()), ("Clip", (0.0, 6.0)), ("LeakyRelu", (0.1,)),
               ("HardSigmoid", (0.2, 0.5)), ("HardSwish", ()), ("Sigmoid", ()), ("SiLU", ()),
               ("Tanh", ())]


def block(c, m, h, w, stride=1, k=3, act_e=("", ()), act_d=("", ()), bias=True, batch=1, seed=0,
          dw_output_also=False):
    """x -> 1x1 conv (c -> m) -> depthwise k x k conv (m), as the passes leave a MobileNet block."""
    x = rand(batch, c, h, w, seed=seed)
    consts = {"we": rand(m, c, 1, 1, seed=seed + 1) * 0.5, "wd": rand(m, 1, k, k, seed=seed + 2) * 0.5}
    if bias:
        consts.update(be=rand(m, seed=seed + 3), bd=rand(m, seed=seed + 4))

    def attrs(act, **more):
        return dict(more, activation=act[0], activation_params=act[1]) if act[0] else more

    p = k // 2
    expand = node("Conv", ["x", "we"] + (["be"] if bias else []), ("e",), **attrs(act_e))
    depthwise = node("Conv", ["e", "wd"] + (["bd"] if bias else []), ("y",),
                     **attrs(act_d, strides=(stride, stride), pads=(p, p, p, p), group=m))
    depthwise.name = "dw0"
    outputs = ["y", "e"] if dw_output_also else ["y"]
    return graph_of([expand, depthwise], {"x": x}, consts, outputs), x


def run_block(monkeypatch, graph, x, isa="", threads=1, mode="on"):
    monkeypatch.setenv("MNN_CPU_FUSE_IR", mode)
    monkeypatch.setenv("MNN_CPU_TUNING", "off")
    model = Model(graph, context())
    options = {"cpu.isa": isa} if isa else {}
    session = model.session(backends=["cpu"], strict=True, threads=threads, options=options)
    got = session.run({"x": x})
    kinds = [lop.kind for lop in session.plan.segments[0].executable.native.lops]
    want = model.session(backends=["reference"]).run({"x": x})
    for name, ref in want.items():
        scale = max(float(np.abs(ref).max()), 1.0)
        np.testing.assert_allclose(got[name], ref, rtol=1e-4, atol=1e-5 * scale, err_msg=name)
    return kinds


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("c,m,hw", [(1, 3, 5), (3, 7, 17), (7, 13, 1), (13, 20, 17), (20, 1, 5), (3, 20, 5)])
def test_shapes(monkeypatch, isa, threads, stride, c, m, hw):
    graph, x = block(c, m, hw, hw + 2, stride=stride, act_e=("Relu", ()), act_d=("Clip", (0.0, 6.0)))
    assert run_block(monkeypatch, graph, x, isa, threads) == ["conv_ir"]


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("act", ACTIVATIONS, ids=lambda a: a[0] or "none")
def test_activations(monkeypatch, isa, act):
    for stride, act_e, act_d in [(1, act, ("", ())), (2, ("", ()), act), (1, act, act)]:
        graph, x = block(13, 20, 17, 17, stride=stride, act_e=act_e, act_d=act_d, seed=stride)
        assert run_block(monkeypatch, graph, x, isa, 2) == ["conv_ir"]


@pytest.mark.parametrize("threads", [1, 2])
def test_tall_map_many_bands(monkeypatch, threads):
    """A map taller than one band (bands slide their overlap rows), batch 2, 5x5 kernels, no bias."""
    for stride, k in [(1, 3), (2, 3), (1, 5), (2, 5)]:
        graph, x = block(5, 96, 61, 23, stride=stride, k=k, act_e=("HardSwish", ()), act_d=("Relu", ()),
                         bias=k == 3, batch=2)
        assert run_block(monkeypatch, graph, x, threads=threads) == ["conv_ir"]


def test_not_fused(monkeypatch):
    """The expansion's output is also a graph output: the ops stay apart; `off` turns it off; `auto`
    leaves small maps to the unfused ops."""
    graph, x = block(3, 7, 9, 9, dw_output_also=True)
    assert run_block(monkeypatch, graph, x) == ["conv", "conv"]
    graph, x = block(3, 7, 9, 9)
    assert run_block(monkeypatch, graph, x, mode="off") == ["conv", "conv"]
    assert run_block(monkeypatch, graph, x, mode="auto") == ["conv", "conv"]
    graph, x = block(3, 48, 80, 80)
    assert run_block(monkeypatch, graph, x, mode="auto") == ["conv_ir"]
