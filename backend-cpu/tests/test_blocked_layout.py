"""The channel-blocked layout (blocked.py, csrc/blocked.cpp, kernels/portable/blocked_impl.h) against
the numpy reference: inverted-residual chains (every pw_blocked register tile, depthwise kernels
3/5/7, strides, dilation, asymmetric pads, maps where every column is an edge, channel counts on
and off the block of 8, batch 1 and 2), squeeze-excite and per-channel / scalar operands, the
edges of a chain (graph inputs and outputs, tensors read by planar ops too), the MNN_CPU_LAYOUT
modes and 2 threads; every case on every ISA, and every case checks the pass really fired."""
import numpy as np
import pytest

from cpu_helpers import context, graph_of, isas
from mnn_core.ir import Node
from mnn_core.session import Model

ISAS = isas()
BLOCKED_KINDS = {"pw_blocked", "dw_blocked", "reorder", "chan_binary", "gap_blocked"}
_names = iter(range(10 ** 9))


def nd(op, inputs, outputs, **attrs) -> Node:
    return Node(op, list(inputs), list(outputs), attrs, name=f"{op.lower()}{next(_names)}")


def rng(seed):
    return np.random.default_rng(seed)


def rand(shape, seed, scale=1.0):
    return (rng(seed).standard_normal(shape) * scale).astype(np.float32)


class Builder:
    """Nodes and constants of a small graph; conv weights scaled by 1/sqrt(fan-in)."""

    def __init__(self, seed=0):
        self.nodes, self.consts, self.seed = [], {}, seed

    def const(self, value) -> str:
        name = f"c{len(self.consts)}"
        self.consts[name] = np.asarray(value, np.float32)
        return name

    def _rand(self, shape, scale=1.0):
        self.seed += 1
        return rand(shape, self.seed, scale)

    def conv(self, x, y, c, m, k=1, stride=1, dilation=1, group=1, pads=None, act=None, bias=True):
        fan = (c // group) * k * k
        inputs = [x, self.const(self._rand((m, c // group, k, k), 1.0 / np.sqrt(fan)))]
        if bias:
            inputs.append(self.const(self._rand((m,), 0.5)))
        p = (k // 2) * dilation
        attrs = dict(strides=(stride, stride), dilations=(dilation, dilation), group=group,
                     pads=tuple(pads) if pads is not None else (p, p, p, p))
        if act:
            attrs.update(activation=act[0], activation_params=tuple(act[1]))
        self.nodes.append(nd("Conv", inputs, [y], **attrs))
        return y

    def op(self, op, inputs, y, **attrs):
        self.nodes.append(nd(op, inputs, [y], **attrs))
        return y

    def act(self, x, y, act):
        """A separate activation node (act = (name, params) as for the fused form)."""
        name, params = act
        if name == "Clip":
            return self.op("Clip", [x, self.const(params[0]), self.const(params[1])], y)
        if name == "LeakyRelu":
            return self.op("LeakyRelu", [x], y, alpha=params[0])
        if name == "HardSigmoid":
            return self.op("HardSigmoid", [x], y, alpha=params[0], beta=params[1])
        return self.op(name, [x], y)

    def graph(self, feeds, outputs):
        return graph_of(self.nodes, feeds, self.consts, outputs)


def segments_kinds(session) -> list[str]:
    return [lop.kind for seg in session.plan.segments for lop in seg.executable.native.lops]


def run_case(monkeypatch, graph, feeds, isa="", threads=1, layout="blocked", rtol=1e-4, atol=1e-5):
    """Run on the CPU backend with MNN_CPU_LAYOUT=layout, compare every output to the reference;
    returns the kinds of the native plan's ops."""
    monkeypatch.setenv("MNN_CPU_LAYOUT", layout)
    monkeypatch.setenv("MNN_CPU_TUNING", "off")
    model = Model(graph, context())
    options = {"cpu.isa": isa} if isa else {}
    session = model.session(backends=["cpu"], strict=True, threads=threads, options=options)
    got = session.run(feeds)
    kinds = segments_kinds(session)
    want = model.session(backends=["reference"]).run(feeds)
    for name, ref in want.items():
        assert got[name].shape == ref.shape, (name, got[name].shape, ref.shape)
        assert np.isfinite(got[name]).all(), (name, kinds)
        scale = max(float(np.abs(ref).max()), 1.0)
        np.testing.assert_allclose(got[name], ref, rtol=rtol, atol=atol * scale, err_msg=f"{name} {kinds}")
    return kinds


ACTS = {"": None, "Relu": ("Relu", ()), "Clip": ("Clip", (0.0, 6.0)), "HardSwish": ("HardSwish", ()),
        "LeakyRelu": ("LeakyRelu", (0.1,)), "HardSigmoid": ("HardSigmoid", (0.2, 0.5))}


def inverted_residual(b, x, c, m, cout, h, w, k=3, stride=1, dilation=1, pads=None, act="Relu",
                      separate=False, tag=""):
    """x -> 1x1 (c -> m) + act -> depthwise k x k + act -> 1x1 (m -> cout) (+ x when shapes allow).
    Returns (output name, its H, W)."""
    a = ACTS[act]
    e, d, p = f"e{tag}", f"d{tag}", f"p{tag}"
    if separate and a:
        b.act(b.conv(x, e + "_", c, m), e, a)
        b.act(b.conv(e, d + "_", m, m, k, stride, dilation, group=m, pads=pads), d, a)
    else:
        b.conv(x, e, c, m, act=a)
        b.conv(e, d, m, m, k, stride, dilation, group=m, pads=pads, act=a)
    pt, pl, pb, pr = pads if pads is not None else ((k // 2) * dilation,) * 4
    reach = (k - 1) * dilation + 1
    oh, ow = (h + pt + pb - reach) // stride + 1, (w + pl + pr - reach) // stride + 1
    b.conv(d, p, m, cout)
    if (oh, ow, cout) == (h, w, c):
        return b.op("Add", [p, x], f"r{tag}"), oh, ow
    return p, oh, ow


# (N, C, M, Cout, H, W, K, stride, dilation, pads, act, separate). Output blocks of the 1x1 convs:
# 1, 2, 3, 5 (tile groups 1, 2, 3, 2+3); pixel counts 63, 25, 6, 1, 20, 35, 1089 (chunked).
IR_CASES = [
    (1, 3, 8, 3, 7, 9, 3, 1, 1, None, "Relu", False),
    (2, 5, 13, 5, 7, 9, 3, 2, 1, None, "Clip", True),
    (1, 13, 20, 13, 5, 5, 5, 1, 1, None, "HardSwish", False),
    (2, 16, 40, 16, 2, 3, 3, 1, 1, None, "Relu", True),
    (1, 8, 24, 20, 1, 1, 3, 1, 1, None, "Clip", False),
    (1, 20, 16, 24, 9, 7, 7, 2, 1, None, "HardSwish", True),
    (1, 24, 24, 8, 7, 9, 3, 1, 2, None, "LeakyRelu", False),
    (1, 5, 13, 5, 7, 9, 3, 1, 1, (0, 1, 2, 1), "HardSigmoid", False),
    (2, 5, 13, 3, 8, 6, 3, 2, 1, (1, 0, 0, 1), "Relu", True),
    (2, 3, 20, 3, 5, 7, 5, 2, 2, None, "", False),
    (1, 13, 5, 13, 2, 3, 7, 1, 1, None, "Relu", False),
    (1, 40, 16, 13, 4, 5, 5, 1, 1, (2, 0, 2, 4), "Clip", True),
    (1, 64, 40, 64, 33, 33, 3, 1, 1, None, "Relu", False),
]


def ir_graph(case, seed=0):
    n, c, m, cout, h, w, k, s, dil, pads, act, sep = case
    b = Builder(seed)
    y, _, _ = inverted_residual(b, "x", c, m, cout, h, w, k, s, dil, pads, act, sep)
    x = rand((n, c, h, w), seed + 100)
    return b.graph({"x": x}, [y]), {"x": x}


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("case", IR_CASES, ids=lambda c: "n{}c{}m{}o{}_{}x{}_k{}s{}d{}".format(*c[:9]))
def test_inverted_residual(monkeypatch, isa, case):
    graph, feeds = ir_graph(case)
    kinds = run_case(monkeypatch, graph, feeds, isa)
    assert kinds.count("pw_blocked") == 2 and kinds.count("dw_blocked") == 1, kinds
    assert kinds.count("reorder") == 2, kinds  # in at x, out at the result
    assert "conv" not in kinds, kinds


@pytest.mark.parametrize("isa", ISAS)
def test_two_blocks_mobilenet_like(monkeypatch, isa):
    """Two blocks back to back (the second reads the first's residual sum), stride 2 between."""
    b = Builder(3)
    x = rand((2, 13, 9, 7), 4)
    y, h, w = inverted_residual(b, "x", 13, 40, 13, 9, 7, act="HardSwish", tag="a")
    y, h, w = inverted_residual(b, y, 13, 20, 24, h, w, k=5, stride=2, act="Relu", separate=True, tag="b")
    y, h, w = inverted_residual(b, y, 24, 24, 24, h, w, act="Clip", tag="c")
    kinds = run_case(monkeypatch, b.graph({"x": x}, [y]), {"x": x}, isa)
    assert kinds.count("dw_blocked") == 3 and kinds.count("reorder") == 2, kinds


# Large maps: several pixel chunks per 1x1 conv, several row bands per depthwise conv.
LARGE_CASES = [
    (1, 5, 40, 5, 81, 81, 3, 1, 1, None, "Relu", False),
    (2, 13, 24, 16, 75, 75, 5, 2, 2, (3, 4, 4, 3), "HardSwish", False),
    (1, 8, 16, 8, 128, 130, 7, 2, 1, None, "Clip", False),
]


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("case", LARGE_CASES, ids=lambda c: "n{}c{}m{}o{}_{}x{}_k{}s{}d{}".format(*c[:9]))
def test_inverted_residual_large_maps(monkeypatch, isa, threads, case):
    graph, feeds = ir_graph(case)
    kinds = run_case(monkeypatch, graph, feeds, isa, threads)
    assert kinds.count("dw_blocked") == 1 and kinds.count("pw_blocked") == 2, kinds


def se_graph(n, c, m, h, w, pool="GlobalAveragePool", seed=0):
    """expand -> dw -> squeeze-excite (pool, 1x1, Relu, 1x1, HardSigmoid, Mul) -> dw -> project."""
    b = Builder(seed)
    b.conv("x", "e", c, m, act=ACTS["Relu"])
    b.conv("e", "d", m, m, 3, group=m, act=ACTS["HardSwish"])
    b.op(pool, ["d"], "g")
    b.conv("g", "s1", m, 4)
    b.op("Relu", ["s1"], "s2")
    b.conv("s2", "s3", 4, m)
    b.op("HardSigmoid", ["s3"], "s4", alpha=1 / 6, beta=0.5)
    b.op("Mul", ["d", "s4"], "se")
    b.conv("se", "d2", m, m, 3, stride=2, group=m, act=ACTS["Relu"])
    b.conv("d2", "y", m, c)
    x = rand((n, c, h, w), seed + 100)
    return b.graph({"x": x}, ["y"]), {"x": x}


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("n,c,m,h,w,pool", [(1, 5, 13, 7, 9, "GlobalAveragePool"),
                                            (2, 8, 20, 5, 6, "GlobalAveragePool"),
                                            (2, 13, 16, 3, 3, "GlobalMaxPool"),
                                            (1, 3, 24, 1, 1, "GlobalAveragePool")])
def test_squeeze_excite(monkeypatch, isa, n, c, m, h, w, pool):
    graph, feeds = se_graph(n, c, m, h, w, pool)
    kinds = run_case(monkeypatch, graph, feeds, isa)
    assert {"gap_blocked", "dw_blocked", "pw_blocked"} <= set(kinds), kinds
    assert ("chan_binary" in kinds) == (h * w > 1), kinds  # a 1x1 map: the Mul is full x full
    assert kinds.count("reorder") == 2, kinds


def operand_graph(n, c, h, w, seed=0):
    """dw -> per-channel and scalar constant operands of every safe binary, both operand orders
    (Sub/Min with the constant first), separate activations between -> 1x1."""
    b = Builder(seed)
    b.conv("x", "d", c, c, 3, group=c)
    b.op("Abs", ["d"], "t0")  # keeps the constants below from being next to a conv
    b.op("Mul", ["t0", b.const(rand((1, c, 1, 1), 1))], "t1")
    b.op("Add", [b.const(rand((c, 1, 1), 2)), "t1"], "t2")
    b.op("Sub", [b.const(rand((1, c, 1, 1), 3)), "t2"], "t3")
    b.op("Max", ["t3", b.const(rand((c, 1, 1), 4))], "t4")
    b.op("Min", [b.const(rand((n, c, 1, 1), 5) + 1), "t4"], "t5")
    b.op("Mul", ["t5", b.const(np.float32(1.5))], "t6")
    b.op("Sub", [b.const(np.array([0.25], np.float32)), "t6"], "t7")
    b.op("Add", ["t7", b.const(np.full((1, 1, 1, 1), -0.5, np.float32))], "t8")
    b.op("Tanh", ["t8"], "t9")
    b.op("Sigmoid", ["t9"], "t10")
    b.op("Neg", ["t10"], "t11")
    b.conv("t11", "y", c, 7)
    x = rand((n, c, h, w), seed + 100)
    return b.graph({"x": x}, ["y"]), {"x": x}


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("n,c,h,w", [(1, 5, 7, 9), (2, 13, 4, 3), (2, 16, 1, 1)])
def test_channel_and_scalar_operands(monkeypatch, isa, n, c, h, w):
    graph, feeds = operand_graph(n, c, h, w)
    kinds = run_case(monkeypatch, graph, feeds, isa)
    # on a 1x1 map the [N, C, 1, 1] Min operand has the output's full shape
    assert kinds.count("chan_binary") == (5 if h * w > 1 else 4) and kinds.count("reorder") == 2, kinds
    assert "unary" in kinds and "binary" in kinds, kinds


@pytest.mark.parametrize("isa", ISAS)
def test_full_shape_elementwise_between_branches(monkeypatch, isa):
    """Two dw branches off one expansion joined by Sub/Max/Min of full tensors."""
    b = Builder(7)
    b.conv("x", "e", 5, 13)
    b.conv("e", "d1", 13, 13, 3, group=13, act=ACTS["Relu"])
    b.conv("e", "d2", 13, 13, 5, group=13)
    b.op("Sub", ["d1", "d2"], "s")
    b.op("Max", ["s", "d1"], "mx")
    b.op("Min", ["mx", "d2"], "mn")
    b.op("Mul", ["mn", "mn"], "sq")
    b.conv("sq", "y", 13, 5)
    x = rand((2, 5, 6, 7), 8)
    kinds = run_case(monkeypatch, b.graph({"x": x}, ["y"]), {"x": x}, isa)
    assert kinds.count("dw_blocked") == 2 and kinds.count("reorder") == 2, kinds


# ---- chain edges -------------------------------------------------------------------------------
@pytest.mark.parametrize("isa", ISAS)
def test_blocked_tensor_is_also_graph_output(monkeypatch, isa):
    b = Builder(11)
    b.conv("x", "e", 5, 13, act=ACTS["Relu"])
    b.conv("e", "d", 13, 13, 3, group=13, act=ACTS["Relu"])
    b.conv("d", "y", 13, 5)
    b.op("Add", ["y", "x"], "r")
    x = rand((2, 5, 7, 9), 12)
    kinds = run_case(monkeypatch, b.graph({"x": x}, ["r", "d", "e"]), {"x": x}, isa)
    assert "dw_blocked" in kinds and kinds.count("reorder") == 4, kinds


@pytest.mark.parametrize("isa", ISAS)
def test_blocked_tensor_read_by_planar_ops(monkeypatch, isa):
    """d feeds the chain's 1x1 conv and a MaxPool and a Flatten (planar); e feeds a dense 3x3 conv."""
    b = Builder(13)
    b.conv("x", "e", 5, 13, act=ACTS["HardSwish"])
    b.conv("e", "d", 13, 13, 3, stride=2, group=13)
    b.conv("d", "y", 13, 8)
    b.op("MaxPool", ["d"], "mp", kernel_shape=(2, 2), strides=(2, 2))
    b.op("Flatten", ["d"], "fl", axis=1)
    b.conv("e", "dense", 13, 3, 3)
    x = rand((1, 5, 9, 11), 14)
    kinds = run_case(monkeypatch, b.graph({"x": x}, ["y", "mp", "fl", "dense"]), {"x": x}, isa)
    assert "dw_blocked" in kinds and "pw_blocked" in kinds, kinds


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("c", [3, 8, 20])
def test_graph_input_straight_into_depthwise(monkeypatch, isa, c):
    b = Builder(15)
    b.conv("x", "d", c, c, 3, group=c, act=ACTS["Clip"])
    b.conv("d", "p", c, c)
    b.op("Add", ["p", "x"], "r")  # x is read blocked twice: one reorder in
    b.op("Relu", ["r"], "y")
    x = rand((2, c, 5, 4), 16)
    kinds = run_case(monkeypatch, b.graph({"x": x}, ["y"]), {"x": x}, isa)
    assert kinds.count("reorder") == 2 and "dw_blocked" in kinds, kinds


@pytest.mark.parametrize("isa", ISAS)
def test_graph_inputs_as_channel_and_scalar_operands(monkeypatch, isa):
    """Per-channel [N, C, 1, 1] / [1, C, 1, 1] and scalar operands fed at run time."""
    b = Builder(25)
    b.conv("x", "e", 5, 13, act=ACTS["Relu"])
    b.conv("e", "d", 13, 13, 3, group=13)
    b.op("Mul", ["d", "s"], "m")
    b.op("Sub", ["t", "m"], "a")
    b.op("Add", ["a", "k"], "q")
    b.conv("q", "y", 13, 5)
    feeds = {"x": rand((2, 5, 6, 7), 26), "s": rand((2, 13, 1, 1), 27), "t": rand((1, 13, 1, 1), 28),
             "k": rand((1,), 29)}
    kinds = run_case(monkeypatch, b.graph(feeds, ["y"]), feeds, isa)
    assert kinds.count("chan_binary") == 2 and kinds.count("reorder") == 4, kinds


# ---- scalar gates and constant full-shape operands ----------------------------------------------
@pytest.mark.parametrize("isa", ISAS)
def test_scalar_gate_computed_in_chain(monkeypatch, isa):
    """A gate of shape [1, 1, 1, 1] made inside the chain (pool -> 1x1 conv to one channel ->
    Sigmoid) scales the dw output: the Mul reads it as a 'scalar' operand."""
    b = Builder(17)
    b.conv("x", "d", 13, 13, 3, group=13)
    b.op("GlobalAveragePool", ["d"], "g")
    b.conv("g", "g1", 13, 1)
    b.op("Sigmoid", ["g1"], "g2")
    b.op("Mul", ["d", "g2"], "m")
    b.conv("m", "y", 13, 5)
    x = rand((1, 13, 5, 6), 18)
    run_case(monkeypatch, b.graph({"x": x}, ["y"]), {"x": x}, isa)


@pytest.mark.parametrize("isa", ISAS)
def test_constant_full_shape_operand(monkeypatch, isa):
    """dw output + a constant of its full shape [1, C, H, W] (a learned positional bias)."""
    b = Builder(19)
    b.conv("x", "d", 13, 13, 3, group=13)
    b.op("Add", ["d", b.const(rand((1, 13, 4, 5), 20))], "a")
    b.conv("a", "y", 13, 5)
    x = rand((1, 13, 4, 5), 21)
    run_case(monkeypatch, b.graph({"x": x}, ["y"]), {"x": x}, isa)


@pytest.mark.parametrize("isa", ISAS)
def test_pad_lanes_stay_harmless(monkeypatch, isa):
    """Ops that move the pad lanes of a partial block away from 0 (a scalar Add, HardSigmoid) and
    then Sqrt: real channels stay >= 0, pad lanes must not leak NaN into the next 1x1 conv."""
    b = Builder(23)
    b.conv("x", "d", 5, 5, 3, group=5)
    b.op("Relu", ["d"], "r")
    b.op("Add", ["r", b.const(np.full((1, 5, 1, 1), 3.0))], "a")  # per channel: pads stay 0
    b.op("Sub", ["a", b.const(np.float32(1.0))], "s")  # scalar: pads become -1
    b.op("Sqrt", ["s"], "q")
    b.conv("q", "y", 5, 4)
    x = rand((1, 5, 6, 5), 24)
    run_case(monkeypatch, b.graph({"x": x}, ["y"]), {"x": x}, isa)


# ---- modes ---------------------------------------------------------------------------------------
def fire_graph(seed=0):
    """SqueezeNet fire module: squeeze 1x1 -> (expand 1x1, expand 3x3) -> Concat."""
    b = Builder(seed)
    b.conv("x", "sq", 16, 5, act=ACTS["Relu"])
    b.conv("sq", "e1", 5, 13, act=ACTS["Relu"])
    b.conv("sq", "e3", 5, 13, 3, act=ACTS["Relu"])
    b.op("Concat", ["e1", "e3"], "y", axis=1)
    x = rand((1, 16, 7, 9), seed + 100)
    return b.graph({"x": x}, ["y"]), {"x": x}


def mobilenet_graph(seed=0):
    b = Builder(seed)
    x = rand((1, 8, 10, 10), seed + 100)
    b.conv("x", "stem", 8, 16, 3, stride=2, act=ACTS["Relu"])
    y, h, w = inverted_residual(b, "stem", 16, 40, 16, 5, 5, act="Relu", tag="a")
    y, h, w = inverted_residual(b, y, 16, 40, 24, h, w, stride=2, act="HardSwish", tag="b")
    y, h, w = inverted_residual(b, y, 24, 48, 24, h, w, k=5, act="HardSwish", tag="c")
    b.op("GlobalAveragePool", [y], "pool")
    b.op("Flatten", ["pool"], "flat", axis=1)
    return b.graph({"x": x}, ["flat"]), {"x": x}


def test_modes_mobilenet(monkeypatch):
    graph, feeds = mobilenet_graph()
    auto = run_case(monkeypatch, graph, feeds, layout="auto")
    assert auto.count("dw_blocked") == 3 and auto.count("pw_blocked") == 6, auto
    assert auto.count("reorder") == 2 and "gap_blocked" in auto, auto
    assert run_case(monkeypatch, graph, feeds, layout="blocked") == auto
    planar = run_case(monkeypatch, graph, feeds, layout="planar")
    assert not BLOCKED_KINDS & set(planar), planar


def test_modes_fire_module(monkeypatch):
    graph, feeds = fire_graph()
    auto = run_case(monkeypatch, graph, feeds, layout="auto")
    assert not BLOCKED_KINDS & set(auto), auto
    assert not BLOCKED_KINDS & set(run_case(monkeypatch, graph, feeds, layout="planar"))
    for isa in ISAS:  # forced: squeeze + 1x1 expand blocked; the 3x3 expand (few channels) reads
        kinds = run_case(monkeypatch, graph, feeds, isa, layout="blocked")  # squeeze planar
        assert kinds.count("pw_blocked") == 2, kinds


def test_mode_auto_one_block_stays_planar(monkeypatch):
    """One inverted residual: 3 convs, 2 reorders (x in, sum out): too many for `auto`."""
    graph, feeds = ir_graph(IR_CASES[2])
    assert not BLOCKED_KINDS & set(run_case(monkeypatch, graph, feeds, layout="planar"))
    assert not BLOCKED_KINDS & set(run_case(monkeypatch, graph, feeds, layout="auto"))


def test_bogus_mode_names_the_variable(monkeypatch):
    graph, feeds = ir_graph(IR_CASES[0])
    with pytest.raises(Exception, match="MNN_CPU_LAYOUT"):
        run_case(monkeypatch, graph, feeds, layout="bogus")


def test_to_blocked_layout_directly(monkeypatch):
    """The pass on lowered ops: blocked ops and reorders; `planar` returns the ops untouched."""
    from mnn_backend_cpu.blocked import to_blocked_layout
    from mnn_backend_cpu.lowering import Env, lower
    from mnn_core.shape_inference import infer_types

    monkeypatch.setenv("MNN_CPU_CONV_ALGO", "auto")
    graph, feeds = ir_graph(IR_CASES[1])
    types, values = infer_types(graph, context().ops, dict(graph.types))
    env = Env(types, values)
    lops = [lop for node in graph.nodes for lop in lower(node, env)]
    monkeypatch.setenv("MNN_CPU_LAYOUT", "planar")
    same, _ = to_blocked_layout(lops, env, graph.outputs)
    assert [l.kind for l in same] == [l.kind for l in lops]
    monkeypatch.setenv("MNN_CPU_LAYOUT", "blocked")
    out, env2 = to_blocked_layout(lops, env, graph.outputs)
    kinds = [l.kind for l in out]
    assert kinds[0] == "reorder" and kinds[-1] == "reorder", kinds
    assert {"pw_blocked", "dw_blocked"} <= set(kinds), kinds
    for lop in out:  # every blocked tensor has a channel count padded to the block
        for name in lop.outputs:
            if name.endswith("::nc8"):
                assert env2.types[name].shape[1] % 8 == 0, (name, env2.types[name])


# ---- threads ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("isa", ISAS)
def test_threads(monkeypatch, isa):
    for case in (IR_CASES[1], IR_CASES[3], IR_CASES[11], IR_CASES[12],
                 (2, 13, 40, 13, 17, 15, 3, 1, 1, None, "Relu", False)):
        graph, feeds = ir_graph(case, seed=5)
        kinds = run_case(monkeypatch, graph, feeds, isa, threads=2)
        assert "dw_blocked" in kinds, kinds
    for n in (1, 2):
        graph, feeds = se_graph(n, 13, 40, 9, 7)
        assert "chan_binary" in run_case(monkeypatch, graph, feeds, isa, threads=2)
    graph, feeds = operand_graph(2, 13, 6, 5)
    run_case(monkeypatch, graph, feeds, isa, threads=2)


# Planar 1x1 convs through the blocked tile (pw_planar): the input transposed into channel blocks
# per chunk of pixels, the result transposed back. Channel counts off the block size, pixel counts
# off the 8-wide transposes and the 6-pixel tiles, batches, threads, every activation it fuses.
@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("n,c,m,h,w,act,threads", [
    (1, 128, 16, 55, 55, "Relu", 1), (1, 13, 5, 7, 9, "", 1), (2, 20, 11, 5, 5, "Clip", 2),
    (1, 64, 24, 1, 1, "HardSwish", 1), (1, 9, 40, 3, 17, "LeakyRelu", 2), (2, 33, 8, 6, 4, "HardSigmoid", 1),
    (1, 200, 96, 14, 14, "", 2)])
def test_planar_pointwise_through_blocks(monkeypatch, isa, n, c, m, h, w, act, threads):
    monkeypatch.setenv("MNN_CPU_CONV_ALGO", "pwplanar")
    b = Builder(7)
    b.conv("x", "y", c, m, act=ACTS[act])
    x = rand((n, c, h, w), 11)
    kinds = run_case(monkeypatch, b.graph({"x": x}, ["y"]), {"x": x}, isa, threads, layout="planar")
    assert kinds == ["pw_planar"], kinds


def test_planar_pointwise_is_the_default_for_projections(monkeypatch):
    b = Builder(3)
    b.conv("x", "s", 64, 16, act=ACTS["Relu"])  # squeeze: K >= M, 15 x 15 positions
    b.conv("s", "y", 16, 64, act=ACTS["Relu"])  # expansion: stays a GEMM
    x = rand((1, 64, 15, 15), 5)
    kinds = run_case(monkeypatch, b.graph({"x": x}, ["y"]), {"x": x}, layout="auto")
    assert kinds == ["pw_planar", "conv"], kinds


# Stems (few input channels) read the planar image and write channel blocks: the chain starts at
# the input with no reorder. Odd output widths (remainder tiles), partial blocks, both strides,
# 3x3 to 7x7, asymmetric pads, batches and threads.
@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("c,m,h,w,k,stride,pads,n,threads,act", [
    (3, 16, 33, 37, 3, 2, None, 1, 1, "Relu"), (3, 13, 20, 23, 7, 2, (3, 2, 3, 1), 2, 2, "HardSwish"),
    (2, 24, 9, 17, 5, 1, None, 1, 2, "Clip"), (1, 8, 5, 5, 3, 1, (0, 1, 2, 0), 1, 1, ""),
    (4, 40, 16, 64, 3, 2, None, 1, 1, "LeakyRelu")])
def test_stem_into_blocks(monkeypatch, isa, c, m, h, w, k, stride, pads, n, threads, act):
    b = Builder(21)
    b.conv("x", "s", c, m, k, stride, pads=pads, act=ACTS[act])
    b.conv("s", "d", m, m, 3, group=m, act=ACTS["Relu"])
    b.conv("d", "y", m, 8)
    x = rand((n, c, h, w), 22)
    kinds = run_case(monkeypatch, b.graph({"x": x}, ["y"]), {"x": x}, isa, threads)
    assert kinds[0] == "stem_blocked" and kinds.count("reorder") == 1, kinds


def test_stem_starts_the_chain_in_auto_mode(monkeypatch):
    b = Builder(5)
    b.conv("x", "s", 3, 16, 3, 2, act=ACTS["Relu"])
    y, h, w = inverted_residual(b, "s", 16, 32, 16, 16, 16)
    y, h, w = inverted_residual(b, y, 16, 32, 16, h, w, tag="b")
    x = rand((1, 3, 32, 32), 6)
    kinds = run_case(monkeypatch, b.graph({"x": x}, [y]), {"x": x}, layout="auto")
    assert kinds[0] == "stem_blocked" and kinds.count("reorder") == 1, kinds
