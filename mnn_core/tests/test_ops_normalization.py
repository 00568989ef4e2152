"""Normalisation ops and Attention against onnx.reference; decompositions against the fused kernels."""
import numpy as np
import pytest

from mnn_core.dtypes import DType
from mnn_core.ir import Graph, Node, TensorType
from mnn_core.ops import DecomposeContext, OpError
from mnn_core.reference import Interpreter
from mnn_core.testing.op_oracle import OPS, check, mnn_run, rand


def decomposed(op, inputs, attrs, num_outputs=1):
    """Run the op's decomposition through the interpreter, checking it uses no fused op."""
    names = [f"x{i}" if x is not None else "" for i, x in enumerate(inputs)]
    node = Node(op, names, [f"y{i}" for i in range(num_outputs)], dict(attrs), name="n")
    graph = Graph(inputs=[n for n in names if n], outputs=list(node.outputs),
                  types={n: TensorType.of(x) for n, x in zip(names, inputs) if n})
    graph.nodes = OPS.get(op).decompose(node, DecomposeContext(graph))
    assert op not in {n.op for n in graph.nodes}
    graph.validate()
    return Interpreter(graph, OPS).run({n: x for n, x in zip(names, inputs) if n})


def assert_decomposes(op, inputs, attrs, num_outputs=1, rtol=1e-5, atol=1e-6):
    fused = mnn_run(op, inputs, attrs, num_outputs)
    for a, b in zip(decomposed(op, inputs, attrs, num_outputs), fused):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


# ---- batch / instance / group ------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(2, 3), (1, 3, 7), (2, 3, 5, 4), (1, 3, 2, 3, 4)])
def test_batch_normalization(shape):
    c = shape[1]
    stats = [rand(c), rand(c), rand(c), rand(c, low=0.1, high=2)]
    x = rand(*shape)
    check("BatchNormalization", [x, *stats], rtol=1e-5)
    check("BatchNormalization", [x, *stats], {"epsilon": 0.1}, rtol=1e-5)
    check("BatchNormalization", [x, *stats], {"training_mode": 1, "momentum": 0.7}, num_outputs=3,
          rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("shape", [(2, 3, 7), (1, 3, 5, 4), (2, 1, 2, 3, 4)])
def test_instance_normalization(shape):
    x, scale, bias = rand(*shape), rand(shape[1]), rand(shape[1])
    check("InstanceNormalization", [x, scale, bias], {"epsilon": 1e-3}, rtol=1e-4, atol=1e-5)
    assert_decomposes("InstanceNormalization", [x, scale, bias], {"epsilon": 1e-3}, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("shape,groups", [((2, 6, 5), 3), ((1, 4, 3, 5), 2), ((2, 3, 4, 4), 1),
                                          ((1, 4, 2, 3, 2), 4)])
def test_group_normalization(shape, groups):
    x, scale, bias = rand(*shape), rand(shape[1]), rand(shape[1])
    attrs = {"num_groups": groups, "epsilon": 1e-4}
    check("GroupNormalization", [x, scale, bias], attrs, rtol=1e-4, atol=1e-5)
    assert_decomposes("GroupNormalization", [x, scale, bias], attrs, rtol=1e-4, atol=1e-5)
    half = [x.astype(np.float16), scale.astype(np.float16), bias.astype(np.float16)]
    assert_decomposes("GroupNormalization", half, attrs, rtol=1e-2, atol=1e-2)


# ---- layer / RMS -------------------------------------------------------------------------------
@pytest.mark.parametrize("shape,axis", [((13,), -1), ((3, 7), -1), ((2, 3, 5), 1), ((2, 3, 5), -2),
                                        ((1, 2, 3, 4, 5), 3), ((3, 4), 0)])
def test_layer_normalization(shape, axis):
    x = rand(*shape)
    scale, bias = rand(*shape[axis:]), rand(*shape[axis:])
    attrs = {"axis": axis, "epsilon": 1e-3}
    check("LayerNormalization", [x, scale, bias], attrs, num_outputs=3, rtol=1e-4, atol=1e-5)
    check("LayerNormalization", [x, scale], attrs, rtol=1e-4, atol=1e-5)
    assert_decomposes("LayerNormalization", [x, scale, bias], attrs, num_outputs=3, rtol=1e-4, atol=1e-5)
    assert_decomposes("LayerNormalization", [x, scale], attrs, rtol=1e-4, atol=1e-5)


def test_layer_normalization_half_precision_stashes_in_f32():
    x = rand(2, 3, 8).astype(np.float16)
    scale, bias = rand(8).astype(np.float16), rand(8).astype(np.float16)
    y, mean, inv = mnn_run("LayerNormalization", [x, scale, bias], {}, num_outputs=3)
    assert (y.dtype, mean.dtype, inv.dtype) == (np.float16, np.float32, np.float32)
    full = mnn_run("LayerNormalization", [x.astype(np.float32), scale.astype(np.float32),
                                          bias.astype(np.float32)], {})[0]
    np.testing.assert_allclose(y, full, atol=1e-2)
    assert_decomposes("LayerNormalization", [x, scale, bias], {}, num_outputs=3, rtol=1e-3, atol=1e-3)
    assert mnn_run("LayerNormalization", [x, scale], {"stash_type": "f16"}, num_outputs=2)[1].dtype == np.float16


@pytest.mark.parametrize("shape,axis", [((13,), -1), ((3, 7), -1), ((2, 3, 5), 1), ((1, 2, 3, 4, 5), -3)])
def test_rms_normalization(shape, axis):
    x, scale = rand(*shape), rand(*shape[axis:])
    check("RMSNormalization", [x, scale], {"axis": axis, "epsilon": 1e-3}, rtol=1e-5)
    assert_decomposes("RMSNormalization", [x, scale], {"axis": axis, "epsilon": 1e-3})
    assert_decomposes("RMSNormalization", [x.astype(np.float16), scale.astype(np.float16)], {"axis": axis},
                      rtol=1e-3, atol=1e-3)


def test_decomposition_needs_a_known_rank():
    node = Node("LayerNormalization", ["x", "s"], ["y"], {"axis": 1})
    with pytest.raises(OpError):
        OPS.get("LayerNormalization").decompose(node, DecomposeContext(Graph(inputs=["x", "s"])))


# ---- other normalisations ----------------------------------------------------------------------
@pytest.mark.parametrize("shape,axes", [((2, 3, 4, 5), None), ((3, 7), (0,)), ((2, 3, 5), (1, 2)),
                                        ((1, 2, 3, 4, 5), (0, 2, 3, 4))])
def test_mean_variance_normalization(shape, axes):
    check("MeanVarianceNormalization", [rand(*shape)], {} if axes is None else {"axes": axes},
          rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("shape,axis,p", [((13,), -1, 2), ((3, 7), 0, 1), ((2, 3, 5), 1, 2), ((2, 3, 5), -1, 1)])
def test_lp_normalization(shape, axis, p):
    x = rand(*shape)
    x[0] = 0  # zero-norm rows normalise to zero instead of NaN
    if p == 2:
        check("LpNormalization", [x], {"axis": axis, "p": p}, rtol=1e-5)
    else:  # onnx.reference forgets the absolute value of the L1 norm
        norm = np.abs(x).sum(axis=axis, keepdims=True)
        expected = np.where(norm == 0, 0, x / np.where(norm == 0, 1, norm)).astype(x.dtype)
        check("LpNormalization", [x], {"axis": axis, "p": p}, rtol=1e-5, expected=[expected])


# ---- Attention ---------------------------------------------------------------------------------
def qkv(b=2, hq=4, hkv=4, sq=3, skv=5, d=8, dv=6):
    return rand(b, hq, sq, d, low=-1, high=1), rand(b, hkv, skv, d, low=-1, high=1), rand(b, hkv, skv, dv)


ATTENTION_CASES = [
    {}, {"is_causal": 1}, {"scale": 0.3}, {"softcap": 2.0},
    {"qk_matmul_output_mode": 1}, {"qk_matmul_output_mode": 2}, {"qk_matmul_output_mode": 3},
    {"is_causal": 1, "qk_matmul_output_mode": 2},
]


@pytest.mark.parametrize("attrs", ATTENTION_CASES)
@pytest.mark.parametrize("mask", [None, "bool", "float", "short"])
def test_attention_4d(attrs, mask):
    q, k, v = qkv()
    m = {None: None, "bool": rand(3, 5, dtype=np.bool_), "float": rand(2, 1, 3, 5),
         "short": rand(1, 3, 4)}[mask]
    if mask == "bool":
        m[:, 0] = True  # keep every row attendable
    check("Attention", [q, k, v, m], attrs, num_outputs=4, rtol=1e-4, atol=1e-5)


def test_attention_3d_gqa_and_cache():
    q, k, v = rand(2, 3, 4 * 8), rand(2, 5, 2 * 8), rand(2, 5, 2 * 6)
    attrs = {"q_num_heads": 4, "kv_num_heads": 2}
    check("Attention", [q, k, v], attrs, num_outputs=4, rtol=1e-4, atol=1e-5)
    q4, k4, v4 = qkv(hq=6, hkv=2, sq=2, skv=3)
    past_k, past_v = rand(2, 2, 4, 8), rand(2, 2, 4, 6)
    for extra in ({}, {"is_causal": 1}):
        check("Attention", [q4, k4, v4, None, past_k, past_v], extra, num_outputs=4, rtol=1e-4, atol=1e-5)
        check("Attention", [q4, k4, v4, rand(2, 7), past_k, past_v], extra, num_outputs=3, rtol=1e-4, atol=1e-5)


def test_attention_fully_masked_rows_are_zero_and_windows():
    q, k, v = qkv(sq=2, skv=4)
    mask = np.array([[False] * 4, [True, False, True, False]])
    y = check("Attention", [q, k, v, mask], {}, rtol=1e-4, atol=1e-5)[0]
    assert np.all(y[:, :, 0] == 0)
    q, k, v = qkv(sq=5, skv=5)
    check("Attention", [q, k, v], {"left_window_size": 1, "right_window_size": 0}, rtol=1e-4, atol=1e-5)
    check("Attention", [q, k, v], {"is_causal": 1, "left_window_size": 2}, rtol=1e-4, atol=1e-5)
    lengths = np.array([3, 5], np.int64)
    check("Attention", [q, k, v, None, None, None, lengths], {"is_causal": 1}, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("attrs", [{}, {"is_causal": 1}, {"scale": 0.25}])
@pytest.mark.parametrize("mask", [None, "bool", "float"])
def test_attention_decomposition(attrs, mask):
    q, k, v = qkv(sq=4, skv=6)
    m = {None: None, "bool": rand(4, 6, dtype=np.bool_), "float": rand(2, 1, 4, 6)}[mask]
    if mask == "bool":
        m[:, 0] = True
    inputs = [q, k, v] + ([] if m is None else [m])
    assert_decomposes("Attention", inputs, attrs, rtol=1e-4, atol=1e-5)


def test_attention_decomposition_refuses_what_it_cannot_express():
    node = Node("Attention", ["q", "k", "v", "", "pk", "pv"], ["y"])
    graph = Graph(types={n: TensorType(DType.F32, (1, 2, 3, 4)) for n in ("q", "k", "v", "pk", "pv")})
    with pytest.raises(OpError):
        OPS.get("Attention").decompose(node, DecomposeContext(graph))
