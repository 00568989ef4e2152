"""Graph passes: each keeps outputs equal (reference interpreter before/after), keeps the graph valid
and its input/output names, and is idempotent."""
from __future__ import annotations

import functools
import math
import os

import numpy as np
import pytest

from mnn_core import Context
from mnn_core.dtypes import DType
from mnn_core.ir import Graph, Node, TensorType
from mnn_core.passes import cleanup, fusion, patterns
from mnn_core.passes.decompose import decompose_nodes
from mnn_core.passes.plugin import STANDARD_PIPELINE
from mnn_core.testing.models import models_dir
from mnn_core.reference import Interpreter
from mnn_core.registry import PassContext

CTX = Context(entry_points=False)
OPS = CTX.ops
RNG = np.random.default_rng(0)


def need(*ops):
    missing = [op for op in ops if op not in OPS]
    if missing:
        pytest.skip(f"ops not registered yet: {missing}")


def f32(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


class Builder:
    """Terse graph construction for tests: `b.op("Relu", "x")` returns the new tensor's name."""

    def __init__(self, prefix="", **inputs):
        self.prefix = prefix
        self.g = Graph(inputs=list(inputs))
        self.feeds = {}
        for name, shape in inputs.items():
            self.g.types[name] = TensorType(DType.F32, shape)
            self.feeds[name] = f32(*shape)

    def const(self, value, dtype=np.float32):
        name = f"{self.prefix}c{len(self.g.constants)}"
        self.g.constants[name] = np.asarray(value, dtype)
        return name

    def op(self, op, *inputs, n=1, **attrs):
        outs = [f"{self.prefix}t{len(self.g.nodes)}_{i}" for i in range(n)]
        self.g.nodes.append(Node(op, list(inputs), outs, attrs, name=f"n{len(self.g.nodes)}"))
        return outs[0] if n == 1 else outs

    def done(self, *outputs):
        self.g.outputs = list(outputs)
        return self.g, self.feeds


def run(graph, feeds):
    return Interpreter(graph, OPS).run(feeds)


def signature(graph):
    return ([(n.op, tuple(n.inputs), tuple(n.outputs), repr(sorted(n.attrs.items()))) for n in graph.nodes],
            sorted(graph.constants), graph.inputs, graph.outputs)


def check(graph, feeds, fn, *, changed=True, rtol=1e-5, atol=1e-5):
    """Apply pass `fn`; outputs must match, graph stay valid, and a second run change nothing."""
    before = run(graph, feeds)
    optimized = graph.clone()
    ctx = PassContext(OPS)
    assert fn(optimized, ctx) is changed
    optimized.validate()
    assert optimized.inputs == graph.inputs and optimized.outputs == graph.outputs
    for a, b in zip(before, run(optimized, feeds)):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_allclose(b, a, rtol=rtol, atol=atol)
    snapshot = signature(optimized)
    assert fn(optimized, ctx) is False, "pass is not idempotent"
    assert signature(optimized) == snapshot
    return optimized


def ops_of(graph):
    return [n.op for n in graph.nodes]


# ---- cleanup passes ----------------------------------------------------------------------------
def test_fold_constants_evaluates_constant_subgraphs():
    b = Builder(x=(2, 3))
    k = b.op("Add", b.const([1, 2, 3]), b.const(1.5))
    y = b.op("Mul", "x", b.op("Relu", k))
    g = check(*b.done(y), cleanup.fold_constants)
    assert ops_of(g) == ["Mul"]


def test_fold_constants_skips_bloating_results(monkeypatch):
    need("ConstantOfShape")
    monkeypatch.setattr(cleanup, "FOLD_LIMIT", 10)
    b = Builder(x=(4, 8))
    big = b.op("ConstantOfShape", b.const([4, 8], np.int64), value=np.array([2.0], np.float32))
    g = check(*b.done(b.op("Add", "x", big)), cleanup.fold_constants, changed=False)
    assert ops_of(g) == ["ConstantOfShape", "Add"]


def test_fold_shapes_folds_shape_arithmetic():
    need("Shape", "Gather", "Concat", "Reshape", "Unsqueeze")
    b = Builder(x=(2, 3, 4))
    dim = b.op("Gather", b.op("Shape", "x"), b.const(0, np.int64), axis=0)
    shape = b.op("Concat", b.op("Unsqueeze", dim, b.const([0], np.int64)), b.const([-1], np.int64), axis=0)
    g = check(*b.done(b.op("Reshape", "x", shape)), cleanup.fold_shapes)
    assert ops_of(g) == ["Reshape"]


def test_dead_code_removes_nodes_constants_and_types():
    b = Builder(x=(3,))
    unused = b.op("Add", "x", b.const([1, 2, 3]))
    b.g.types[unused] = TensorType(DType.F32, (3,))
    g = check(*b.done(b.op("Relu", "x")), cleanup.eliminate_dead_code)
    assert ops_of(g) == ["Relu"] and not g.constants and unused not in g.types


def test_cse_merges_duplicates_and_equal_constants():
    b = Builder(x=(3,))
    y1 = b.op("Add", b.op("Relu", "x"), b.const([1, 2, 3]))
    y2 = b.op("Add", b.op("Relu", "x"), b.const([1, 2, 3]))
    g = check(*b.done(b.op("Mul", y1, y2), y2), cleanup.eliminate_common_subexpressions)
    assert ops_of(g) == ["Relu", "Add", "Mul"] and len(g.constants) == 1
    assert g.nodes[1].outputs == [y2]  # the graph output name survives the merge


def test_identity_removal_keeps_output_names():
    b = Builder(x=(2, 3))
    r = b.op("Relu", "x")
    y = b.op("Identity", b.op("Dropout", r))
    z = b.op("Identity", "x")  # graph input straight to a graph output: must stay
    g = check(*b.done(y, z), cleanup.remove_identities)
    assert ops_of(g) == ["Relu", "Identity"] and g.nodes[0].outputs == [y]


def test_noop_reshape_and_transpose_chains_go():
    need("Transpose", "Reshape")
    b = Builder(x=(2, 3, 4))
    t = b.op("Transpose", b.op("Transpose", "x", perm=[1, 2, 0]), perm=[2, 0, 1])
    r = b.op("Reshape", b.op("Reshape", t, b.const([6, 4], np.int64)), b.const([2, 3, 4], np.int64))
    kept = b.op("Reshape", b.op("Relu", r), b.const([3, 8], np.int64))
    g = check(*b.done(b.op("Relu", kept)), cleanup.remove_identities)
    assert ops_of(g) == ["Relu", "Reshape", "Relu"]


# ---- conv folding and activation fusion --------------------------------------------------------
def conv_graph():
    b = Builder(x=(1, 3, 6, 6))
    y = b.op("Conv", "x", b.const(f32(4, 3, 3, 3)), b.const(f32(4)), pads=[1, 1, 1, 1])
    return b, y


def test_conv_batchnorm_folds_into_weights():
    need("BatchNormalization")
    b, y = conv_graph()
    stats = [f32(4), f32(4), f32(4), np.abs(f32(4)) + 0.5]
    z = b.op("BatchNormalization", y, *(b.const(s) for s in stats), epsilon=1e-3)
    g = check(*b.done(b.op("Relu", z)), fusion.fold_conv_batchnorm, rtol=1e-4, atol=1e-4)
    assert ops_of(g) == ["Conv", "Relu"]


def test_conv_per_channel_mul_add_fold():
    b, y = conv_graph()
    y = b.op("Mul", b.const(f32(4, 1, 1)), y)
    y = b.op("Add", y, b.const(f32(1, 4, 1, 1)))
    y = b.op("Add", y, b.const(f32(6)))  # broadcasts on the width axis: must stay
    g = check(*b.done(y), lambda g, c: fusion.fold_conv_affine(g, c) | fusion.fold_conv_affine(g, c),
              rtol=1e-4, atol=1e-4)
    assert ops_of(g) == ["Conv", "Add"]


@pytest.mark.parametrize("act, inputs, attrs, expect", [
    ("Relu", (), {}, ("Relu", ())),
    ("Clip", (0.0, 6.0), {}, ("Clip", (0.0, 6.0))),
    ("LeakyRelu", (), {"alpha": 0.2}, ("LeakyRelu", (0.2,))),
    ("HardSigmoid", (), {}, ("HardSigmoid", (0.2, 0.5))),
    ("HardSwish", (), {}, ("HardSwish", ())),
    ("Tanh", (), {}, ("Tanh", ())),
])
def test_activation_fuses_into_conv(act, inputs, attrs, expect):
    need(act)
    b, y = conv_graph()
    out = b.op(act, y, *(b.const(v) for v in inputs), **attrs)
    g = check(*b.done(out), fusion.fuse_activations)
    (conv,) = g.nodes
    assert (conv.attrs["activation"], tuple(conv.attrs["activation_params"])) == expect
    assert conv.outputs == [out]


def test_silu_fuses_and_shared_outputs_do_not():
    need("Sigmoid")
    b, y = conv_graph()
    silu = b.op("Mul", y, b.op("Sigmoid", y))
    g = check(*b.done(silu), fusion.fuse_activations)
    assert ops_of(g) == ["Conv"] and g.nodes[0].attrs["activation"] == "SiLU"
    b, y = conv_graph()
    g = check(*b.done(b.op("Relu", y), y), fusion.fuse_activations, changed=False)


@pytest.mark.parametrize("rank", [2, 3])
def test_matmul_add_becomes_gemm_then_takes_activation(rank):
    b = Builder(x=(2, 5, 8)[-rank:])
    y = b.op("Add", b.const(f32(6)), b.op("MatMul", "x", b.const(f32(8, 6))))
    out = b.op("Relu", y)
    g = check(*b.done(out), fusion.fuse_matmul_add)
    assert "Gemm" in ops_of(g) and "MatMul" not in ops_of(g)
    g = check(g, b.feeds, fusion.fuse_activations)
    assert "Relu" not in ops_of(g)
    assert next(n for n in g.nodes if n.op == "Gemm").attrs["activation"] == "Relu"


def test_matmul_with_non_constant_bias_stays():
    b = Builder(x=(4, 8), r=(4, 6))
    y = b.op("Add", b.op("MatMul", "x", b.const(f32(8, 6))), "r")
    check(*b.done(y), fusion.fuse_matmul_add, changed=False)


# ---- pattern fusion ----------------------------------------------------------------------------
@pytest.mark.parametrize("shared", [False, True])
def test_layer_norm_pattern(shared):
    need("LayerNormalization", "ReduceMean", "Pow", "Sqrt")
    b = Builder(x=(2, 5, 8))
    axes = b.const([-1], np.int64)
    mean = b.op("ReduceMean", "x", axes)
    d = b.op("Sub", "x", mean)
    var = b.op("ReduceMean", b.op("Pow", d, b.const(2.0)), axes)
    n = b.op("Div", d, b.op("Sqrt", b.op("Add", var, b.const(1e-5))))
    y = b.op("Add", b.const(f32(8)), b.op("Mul", n, b.const(f32(8))))
    outputs = (y, d) if shared else (y,)  # an intermediate read elsewhere blocks the fusion
    g = check(*b.done(*outputs), patterns.fuse_layer_norm, changed=not shared, rtol=1e-4, atol=1e-4)
    assert ops_of(g) == (["ReduceMean", "Sub", "Pow", "ReduceMean", "Add", "Sqrt", "Div", "Mul", "Add"]
                         if shared else ["LayerNormalization"])


def gelu_orderings():
    """The erf GELU as exporters write it: x*0.5*(1+erf(x/√2)) in several association orders."""
    def build(order):
        b = Builder(x=(3, 7))
        scaled = (b.op("Div", "x", b.const(math.sqrt(2))) if order % 2 == 0
                  else b.op("Mul", "x", b.const(1 / math.sqrt(2))))
        t = b.op("Add", b.const(1.0), b.op("Erf", scaled))
        if order == 0:
            y = b.op("Mul", b.op("Mul", "x", t), b.const(0.5))
        elif order == 1:
            y = b.op("Mul", b.op("Mul", "x", b.const(0.5)), t)
        elif order == 2:
            y = b.op("Mul", "x", b.op("Mul", t, b.const(0.5)))
        else:
            y = b.op("Mul", t, b.op("Mul", b.const(0.5), "x"))
        return b.done(y)
    return [build(i) for i in range(4)]


@pytest.mark.parametrize("index", range(4))
def test_gelu_pattern(index):
    need("Gelu", "Erf")
    graph, feeds = gelu_orderings()[index]
    g = check(graph, feeds, patterns.fuse_gelu)
    assert ops_of(g) == ["Gelu"]


def test_gelu_needs_the_right_constants():
    need("Gelu", "Erf")
    b = Builder(x=(3, 7))
    t = b.op("Add", b.const(1.0), b.op("Erf", b.op("Div", "x", b.const(1.5))))
    check(*b.done(b.op("Mul", b.op("Mul", "x", t), b.const(0.5))), patterns.fuse_gelu, changed=False)


def attention_graph(mask=True, k_pre_transposed=True, mask_batch=1):
    b = Builder(q=(1, 2, 5, 4), k=(1, 2, 5, 4), v=(1, 2, 5, 3), m=(mask_batch, 1, 1, 5))
    if k_pre_transposed:  # BERT exports: K reshaped to (B,S,H,D), then Transpose(0,2,3,1)
        kt = b.op("Transpose", b.op("Transpose", "k", perm=[0, 2, 1, 3]), perm=[0, 2, 3, 1])
    else:
        kt = b.op("Transpose", "k", perm=[0, 1, 3, 2])
    s = b.op("Div", b.op("MatMul", "q", kt), b.const(2.0))
    if mask:
        s = b.op("Add", "m", s)
    return b.done(b.op("MatMul", b.op("Softmax", s, axis=-1), "v"))


@pytest.mark.parametrize("mask, pre", [(True, True), (False, False)])
def test_attention_pattern(mask, pre):
    need("Attention", "Softmax", "Transpose")
    g = check(*attention_graph(mask, pre), patterns.fuse_attention)
    assert "Attention" in ops_of(g) and "Softmax" not in ops_of(g)
    assert next(n for n in g.nodes if n.op == "Attention").attrs["scale"] == 0.5


def test_attention_mask_that_widens_scores_is_not_fused():
    need("Attention", "Softmax", "Transpose")
    check(*attention_graph(mask_batch=2), patterns.fuse_attention, changed=False)


# ---- decomposition -----------------------------------------------------------------------------
def test_decompose_rejected_ops_recursively():
    need("Gelu", "HardSwish", "HardSigmoid", "Erf")
    b = Builder(x=(3, 7))
    graph, feeds = b.done(b.op("HardSwish", b.op("Gelu", "x")))
    before = run(graph, feeds)
    count = decompose_nodes(graph, OPS, keep=lambda n: n.op not in {"Gelu", "HardSwish"})
    graph.validate()
    assert count == 2 and sorted(set(ops_of(graph))) == ["Add", "Div", "Erf", "HardSigmoid", "Mul"]
    np.testing.assert_allclose(run(graph, feeds)[0], before[0], rtol=1e-5, atol=1e-6)
    # an op without a decomposition stays, for the caller to place elsewhere
    assert decompose_nodes(graph, OPS, keep=lambda n: False) == 0
    # and the GELU fusion recognises what the decomposition wrote
    assert "Gelu" in ops_of(check(graph.clone(), feeds, patterns.fuse_gelu))


# ---- the whole pipeline ------------------------------------------------------------------------
def pipeline(graph, ctx):
    changed = False
    for graph_pass in STANDARD_PIPELINE:
        while graph_pass.run(graph, ctx):
            changed = True
            if not graph_pass.repeat:
                break
    return changed


def test_pipeline_names_are_short_and_unique():
    names = [p.name for p in STANDARD_PIPELINE]
    assert len(set(names)) == len(names) and all(len(n) <= 12 and p.doc for n, p in
                                                 zip(names, STANDARD_PIPELINE))


def test_pipeline_on_small_conv_net():
    b, y = conv_graph()
    y = b.op("Relu", b.op("Identity", b.op("Mul", y, b.const(np.full((4, 1, 1), 2.0)))))
    check(*b.done(y), pipeline, rtol=1e-4, atol=1e-4)


def test_pipeline_recurses_into_subgraphs_and_keeps_captures():
    b = Builder(x=(2, 3))
    b.g.inputs.append("flag")
    b.g.types["flag"] = TensorType(DType.BOOL, ())
    k = b.op("Add", b.const([1, 2, 3]), b.const(1.0))  # folded in the outer graph
    then = Builder("then/")
    then.g.constants = {"a": np.float32(2.0), "b": np.float32(3.0)}
    r1, r2 = then.op("Relu", "x"), then.op("Relu", "x")  # merged by CSE
    scaled = then.op("Mul", then.op("Identity", r1), then.op("Add", "a", "b"))  # folded inside
    then_graph, _ = then.done(then.op("Add", then.op("Add", scaled, r2), k))
    other = Builder("else/")
    else_graph, _ = other.done(other.op("Identity", "x"))  # reads an outer name: must stay
    y = b.op("If", "flag", then_branch=then_graph, else_branch=else_graph)
    graph, feeds = b.done(b.op("Relu", y))
    for flag in (True, False):
        feeds["flag"] = np.array(flag)
        g = check(graph, feeds, pipeline)
    (if_node,) = [n for n in g.nodes if n.op == "If"]
    assert ops_of(if_node.attrs["then_branch"]) == ["Relu", "Mul", "Add", "Add"]
    assert ops_of(if_node.attrs["else_branch"]) == ["Identity"]


@functools.lru_cache(maxsize=1)
def full_context():
    return Context()  # with the installed plugins, for the ONNX frontend


MODELS = sorted(str(p) for p in models_dir().glob("*.onnx"))
QUICK = ("squeezenet1_1", "shufflenet_v2_x1_0", "bert_small_s128")
"""Models whose outputs are compared by default; MNN_SLOW_TESTS=1 compares all (conv nets in numpy
take seconds each)."""


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.rsplit("/", 1)[-1])
def test_pipeline_on_real_models(path):
    import mnn_core
    from mnn_core.passes import run_pipeline

    context = full_context()
    if not any(path.endswith(s) for f in context.frontends for s in f.suffixes):
        pytest.skip("no ONNX frontend installed")
    raw = mnn_core.load(path, context, optimize=False).graph
    opt = raw.clone()
    run_pipeline(opt, context.passes, PassContext(context.ops))
    opt.validate()
    assert opt.inputs == raw.inputs and opt.outputs == raw.outputs
    name = path.rsplit("/", 1)[-1][:-5]
    print(f"{name}: {len(raw.nodes)} -> {len(opt.nodes)} nodes; {opt.op_counts()}")
    assert len(opt.nodes) < len(raw.nodes)
    snapshot = signature(opt)
    assert not any(r.changed for r in run_pipeline(opt, context.passes, PassContext(context.ops)))
    assert signature(opt) == snapshot
    if name not in QUICK and not os.environ.get("MNN_SLOW_TESTS"):
        return
    feeds = {}
    for name in raw.inputs:
        t = raw.types[name]
        shape = [d if isinstance(d, int) else 1 for d in t.shape]
        if t.dtype is DType.I64:  # BERT: token ids, a mask of ones, token types of zeros
            feeds[name] = (np.ones(shape, np.int64) if "mask" in name else np.zeros(shape, np.int64)
                           if "type" in name else RNG.integers(0, 1000, shape))
        else:
            feeds[name] = RNG.standard_normal(shape).astype(t.dtype.numpy)
    for a, b in zip(Interpreter(raw, context.ops).run(feeds), Interpreter(opt, context.ops).run(feeds)):
        np.testing.assert_allclose(b, a, rtol=1e-3, atol=1e-3)
