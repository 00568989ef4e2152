"""Special paths for shapes that waste most of a GEMM tile, against the reference on every ISA:
matrix-vector products (a 1x1 conv on a 1x1 map, a Gemm/MatMul of one row against constant
weights) and the direct convolution of few input channels (network stems)."""
import numpy as np
import pytest

from cpu_helpers import check, graph_of, isas, node, rand
from test_conv_algos import ACTIVATIONS, run_conv

ISAS = isas()


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("c,m", [(1, 1), (19, 37), (240, 960), (960, 17)])
def test_conv_on_one_pixel(monkeypatch, isa, c, m):
    assert run_conv(monkeypatch, "gemm", c, m, 1, 1, k=1, isa=isa, act=("HardSigmoid", (0.2, 0.5))) == "gemm"


@pytest.mark.parametrize("act", ACTIVATIONS, ids=[a[0] or "none" for a in ACTIVATIONS])
def test_conv_on_one_pixel_batch_threads(monkeypatch, act):
    run_conv(monkeypatch, "gemm", 33, 70, 1, 1, k=1, batch=3, threads=2, act=act, bias=act[0] != "Relu")


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("k,n", [(1, 1), (7, 33), (1280, 1000), (300, 16)])
@pytest.mark.parametrize("trans_b", [0, 1])
def test_gemm_one_row(isa, k, n, trans_b):
    x = rand(1, k)
    w = rand(*((n, k) if trans_b else (k, n)), seed=1)
    g = graph_of(node("Gemm", ["x", "w", "b"], transB=trans_b), {"x": x}, {"w": w, "b": rand(n, seed=2)})
    check(g, {"x": x}, isa=isa)


@pytest.mark.parametrize("threads", [1, 2])
def test_matmul_one_row_batched_activation(threads):
    # [2, 1, K] x [K, N]: two rows, each a product of its own; the fused Relu runs after the bias
    x = rand(2, 1, 45)
    g = graph_of(node("MatMul", ["x", "w"], activation="Relu"), {"x": x}, {"w": rand(45, 50, seed=1)})
    check(g, {"x": x}, threads=threads)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("c,m,h,w,k,stride", [(3, 32, 224, 224, 3, 2), (3, 64, 31, 29, 3, 2), (1, 9, 7, 50, 3, 1),
                                               (2, 5, 9, 5, 5, 1), (1, 17, 20, 61, 7, 2), (1, 1, 2, 1, 3, 2),
                                               (3, 13, 37, 45, 7, 2), (4, 9, 19, 23, 5, 1)])  # 147, 100 taps
def test_direct(monkeypatch, isa, c, m, h, w, k, stride):
    assert run_conv(monkeypatch, "direct", c, m, h, w, k=k, stride=stride, isa=isa,
                    act=("Clip", (0.0, 6.0))) == "direct"


@pytest.mark.parametrize("act", ACTIVATIONS, ids=[a[0] or "none" for a in ACTIVATIONS])
def test_direct_pads_dilation_batch_threads(monkeypatch, act):
    # asymmetric pads wider than the kernel's reach, row dilation, two images over two threads
    assert run_conv(monkeypatch, "direct", 3, 10, 23, 37, k=3, stride=2, dilation=1, pads=(0, 4, 3, 1),
                    batch=2, threads=2, act=act) == "direct"
    assert run_conv(monkeypatch, "direct", 2, 6, 15, 40, k=3, stride=1, pads=(2, 0, 2, 0), act=act) == "direct"


def test_direct_is_the_default_for_stems(monkeypatch):
    assert run_conv(monkeypatch, "auto", 3, 16, 40, 40, k=3, stride=2) == "direct"
    assert run_conv(monkeypatch, "auto", 16, 16, 40, 40, k=3, stride=2) == "gemm"  # 144 deep: GEMM


def _swapped(p, m, mr=6, nr=16):
    """Mirror of the swap rule in conv.cpp init_gemm (avx2/avx512 tile 6 x NR)."""
    used = lambda n, r: n / (-(-n // r) * r)  # noqa: E731
    return used(p, mr) * used(m, nr) > 1.08 * used(m, mr) * used(p, nr)


# 7x7 / 3x3 maps: positions become the GEMM's rows (K > 256 runs in chunks; 60 = a partial panel)
@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("c,m,h", [(600, 60, 7), (17, 16, 3), (5, 96, 7), (300, 48, 7)])
def test_pointwise_small_map(monkeypatch, isa, c, m, h):
    assert _swapped(h * h, m)
    run_conv(monkeypatch, "gemm", c, m, h, h, k=1, isa=isa, act=("HardSwish", ()))


@pytest.mark.parametrize("act", ACTIVATIONS, ids=[a[0] or "none" for a in ACTIVATIONS])
def test_pointwise_small_map_batch_threads(monkeypatch, act):
    run_conv(monkeypatch, "gemm", 70, 96, 7, 7, k=1, batch=3, threads=2, act=act, bias=act[0] != "Relu")


# 1x1 convs where K >= M go panel by panel with the fused micro-kernel: M tails, K chunks, maps
# wider than one tile, and every fused activation
@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("c,m,h,w", [(144, 24, 56, 56), (300, 7, 9, 41), (40, 40, 13, 13), (520, 13, 20, 21)])
def test_pointwise_projection(monkeypatch, isa, c, m, h, w):
    run_conv(monkeypatch, "gemm", c, m, h, w, k=1, isa=isa, act=("Clip", (0.0, 6.0)))


@pytest.mark.parametrize("act", ACTIVATIONS, ids=[a[0] or "none" for a in ACTIVATIONS])
def test_pointwise_projection_activations(monkeypatch, act):
    run_conv(monkeypatch, "gemm", 33, 20, 17, 23, k=1, batch=2, threads=2, act=act, bias=act[0] != "Relu")


# Max pooling with unit dilations and column stride <= 2 (conv_impl.h maxpool): maps narrower and
# wider than a vector, ceil_mode windows past the edge, asymmetric pads, row strides 1-3, -inf
# padding against all-negative inputs
@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("attrs", [
    dict(kernel_shape=(3, 3), strides=(2, 2), ceil_mode=1),
    dict(kernel_shape=(3, 3), strides=(2, 2), pads=(1, 1, 1, 1)),
    dict(kernel_shape=(2, 5), strides=(3, 2), pads=(1, 2, 0, 4), ceil_mode=1),
    dict(kernel_shape=(4, 2), strides=(1, 1), pads=(0, 1, 3, 0)),
    dict(kernel_shape=(1, 1), strides=(1, 2)),
])
def test_maxpool(isa, attrs):
    for shape in [(1, 3, 111, 111), (2, 5, 9, 6), (1, 2, 4, 3), (1, 1, 30, 70), (1, 2, 17, 8), (1, 1, 9, 33)]:
        x = -np.abs(rand(*shape)) - 1.0
        check(graph_of(node("MaxPool", ["x"], **attrs), {"x": x}), {"x": x}, isa)


def test_maxpool_threads():
    x = rand(2, 33, 55, 55)
    attrs = dict(kernel_shape=(3, 3), strides=(2, 2), ceil_mode=1)
    check(graph_of(node("MaxPool", ["x"], **attrs), {"x": x}), {"x": x}, threads=2)
