"""Multi-threaded execution: the work splits (balanced GEMM tiles, B packed once into the shared
buffer, Winograd inputs transformed once, guided task claims) give the reference's results at odd
thread counts, and `threads=N` keeps at most N cores busy."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cpu_helpers import check, graph_of, node, rand
from test_conv_algos import run_conv


@pytest.mark.parametrize("threads", [2, 3, 5])
@pytest.mark.parametrize("c,m,h,w,k,stride,group", [
    (40, 150, 7, 7, 3, 1, 1),    # few columns, many rows: row chunks share one packed B (im2col)
    (64, 97, 14, 14, 1, 1, 1),   # pointwise, 196 columns: uneven column tiles
    (33, 70, 13, 9, 1, 2, 1),    # strided 1x1 goes through im2col
    (24, 60, 9, 9, 3, 2, 2),     # groups: B shared per (image, group)
])
def test_gemm_conv_splits(monkeypatch, threads, c, m, h, w, k, stride, group):
    assert run_conv(monkeypatch, "gemm", c, m, h, w, k=k, stride=stride, group=group, threads=threads,
                    batch=2 if group > 1 else 1) == "gemm"


@pytest.mark.parametrize("threads", [2, 3])
@pytest.mark.parametrize("algo", ["winograd2", "winograd4", "winograd6"])
def test_winograd_shared_input_transform(monkeypatch, threads, algo):
    # one tile block, many output channels: row chunks read one transformed input (channel
    # ranges of 4 and a ragged last one), per image of the batch
    assert run_conv(monkeypatch, algo, 37, 50, 5, 9, batch=2, threads=threads) == algo
    assert run_conv(monkeypatch, algo, 130, 20, 6, 6, pads=(1, 0, 0, 1), threads=threads) == algo


@pytest.mark.parametrize("threads", [2, 3])
def test_matmul_splits(threads):
    for m, kk, n in [(49, 300, 40), (7, 64, 200), (130, 33, 49)]:
        a, b = rand(m, kk, seed=1), rand(kk, n, seed=2)
        check(graph_of(node("MatMul", ["a", "b"]), {"a": a}, {"b": b}), {"a": a}, threads=threads)
        check(graph_of(node("MatMul", ["a", "b"]), {"a": a, "b": b}), {"a": a, "b": b}, threads=threads)


@pytest.mark.parametrize("threads", [2, 3])
def test_many_small_tasks(threads):
    # a copy of 300 rows is 300 tasks: claimed a share at a time, every one exactly once
    x = rand(300, 7, 5)
    check(graph_of(node("Transpose", ["x"], perm=(0, 2, 1)), {"x": x}), {"x": x}, threads=threads)


BUSY_SCRIPT = """
import sys, time
sys.path.insert(0, sys.argv[2])
from cpu_helpers import context, graph_of, node, rand
from mnn_core.session import Model
x = rand(1, 32, 28, 28)
graph = graph_of([node("Conv", ["x", "w"], ["c"], pads=(1, 1, 1, 1)), node("Relu", ["c"])],
                 {"x": x}, {"w": rand(32, 32, 3, 3, seed=1)})
session = Model(graph, context()).session(backends=["cpu"], strict=True, threads=int(sys.argv[1]))
session.run({"x": x})
cpu0, wall0 = time.process_time(), time.perf_counter()
while time.perf_counter() - wall0 < 0.3:
    session.run({"x": x})
print((time.process_time() - cpu0) / (time.perf_counter() - wall0))
"""


@pytest.mark.parametrize("threads", [1, 2])
def test_busy_cores_within_threads(threads):
    # process CPU time over wall time while running, in a fresh process (no other pools, BLAS
    # threads capped): spinning workers count as busy, and must stay within the thread count
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", BUSY_SCRIPT, str(threads), str(Path(__file__).parent)],
                         env=env, check=True, capture_output=True, text=True).stdout
    busy = float(out.split()[-1])
    assert busy <= threads + 0.15, f"{busy:.2f} cores busy with threads={threads}"
