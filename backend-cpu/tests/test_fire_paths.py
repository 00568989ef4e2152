"""Multi-thread splits tuned on squeezenet's fire modules: 1x1 projections (K >= M) split by
columns only, Winograd tile blocks balanced over the threads. Odd sizes, both ISAs, 1-3 threads."""
import pytest

from cpu_helpers import isas
from test_conv_algos import run_conv

RELU = ("Relu", ())


@pytest.mark.parametrize("isa", isas())
@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("c, m, h, w", [
    (128, 16, 55, 55),   # squeeze: many columns, M one panel short of MR multiples
    (37, 13, 21, 19),    # odd everything, just enough panels for 2 threads
    (70, 9, 5, 7),       # too few panels for a column split (35 positions): the old split
    (48, 48, 13, 13),    # K == M
])
def test_projection_column_split(monkeypatch, isa, threads, c, m, h, w):
    assert run_conv(monkeypatch, "gemm", c, m, h, w, k=1, act=RELU, isa=isa, threads=threads) == "gemm"


@pytest.mark.parametrize("isa", isas())
@pytest.mark.parametrize("threads", [2, 3])
@pytest.mark.parametrize("algo", ["winograd2", "winograd4", "winograd6"])
@pytest.mark.parametrize("c, m, h, w, batch", [
    (16, 64, 55, 55, 1),  # 13 panels of F(4): blocks of 1 balance 7/6 instead of 8/5
    (5, 11, 27, 23, 2),
    (3, 7, 9, 9, 1),
])
def test_winograd_balanced_blocks(monkeypatch, isa, threads, algo, c, m, h, w, batch):
    assert run_conv(monkeypatch, algo, c, m, h, w, batch=batch, act=RELU, isa=isa,
                    threads=threads) == algo
