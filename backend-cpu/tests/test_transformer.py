"""Transformer pieces on the CPU backend against the reference: fused attention (masks, causal,
GQA, odd sizes, every ISA and row-block variant), typed mask ops, MatMul with shared A panels,
packed weights kept across re-planning, and the tuning cache."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from cpu_helpers import check, context, graph_of, isas, node, rand
from mnn_core.dtypes import DType
from mnn_core.ir import Node, TensorType
from mnn_core.session import Model

ISAS = isas()


def attention_case(b, hq, hkv, lq, lkv, d, dv, mask=None, isa="", threads=1, **attrs):
    feeds = {"q": rand(b, hq, lq, d), "k": rand(b, hkv, lkv, d, seed=1), "v": rand(b, hkv, lkv, dv, seed=2)}
    inputs = ["q", "k", "v"]
    if mask is not None:
        feeds["m"] = mask
        inputs.append("m")
    check(graph_of(node("Attention", inputs, **attrs), feeds), feeds, isa, threads)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("b,hq,hkv,lq,lkv,d,dv", [
    (1, 4, 4, 128, 128, 64, 64), (2, 3, 3, 7, 13, 5, 9), (1, 6, 2, 31, 17, 16, 3), (1, 1, 1, 1, 1, 1, 1),
])
def test_attention_shapes(isa, b, hq, hkv, lq, lkv, d, dv):
    attention_case(b, hq, hkv, lq, lkv, d, dv, isa=isa)
    attention_case(b, hq, hkv, lq, lkv, d, dv, isa=isa, threads=2, is_causal=1, scale=0.3)


@pytest.mark.parametrize("isa", ISAS)
def test_attention_masks(isa):
    rng = np.random.default_rng(3)
    additive = np.where(rng.random((1, 1, 37, 29)) < 0.3, -1e4, 0.0).astype(np.float32)
    attention_case(2, 3, 3, 37, 29, 8, 8, additive, isa=isa, threads=2)
    boolean = rng.random((2, 3, 37, 29)) < 0.7
    boolean[0, 0, 5] = False  # a fully masked row gives zeros, as in the reference
    attention_case(2, 3, 3, 37, 29, 8, 8, boolean, isa=isa)
    attention_case(2, 3, 3, 37, 29, 8, 8, rand(37, 29, seed=5), isa=isa, is_causal=1)


def test_attention_unsupported_forms_are_refused():
    feeds = {"q": rand(1, 2, 4, 8), "k": rand(1, 2, 4, 8), "v": rand(1, 2, 4, 8)}
    graph = graph_of(node("Attention", ["q", "k", "v"], softcap=2.0), feeds)
    session = Model(graph, context()).session(backends=["cpu"])  # falls back to the reference
    assert session.plan.backend_counts() == {"reference": 1}


def test_typed_mask_ops():
    ids = np.array([[1, 0, 3, 0, 5]], np.int64)
    nodes = [node("Cast", ["ids"], ["b"], to="bool"), node("Not", ["b"], ["nb"]),
             node("Equal", ["ids", "zero"], ["eq"]), node("Or", ["nb", "eq"], ["o"]),
             node("Xor", ["o", "b"], ["x"]), node("And", ["x", "col"], ["a"]),
             node("Where", ["a", "big", "small"], ["w"]), node("Cast", ["w"], ["wi"], to="i32"),
             node("Less", ["wi", "three"], ["lt"]), node("GreaterOrEqual", ["w", "half"], ["ge"]),
             node("Cast", ["ids"], ["f"], to="f32")]
    consts = {"zero": np.array(0, np.int64), "col": np.array([[True], [False], [True]]),
              "big": np.float32(2.5), "small": rand(3, 1, seed=2), "three": np.array([3], np.int32),
              "half": np.float32(0.5)}
    graph = graph_of(nodes, {"ids": ids}, consts, outputs=["a", "w", "wi", "lt", "ge", "f", "nb"])
    check(graph, {"ids": ids}, threads=2)


@pytest.mark.parametrize("isa", ISAS)
def test_matmul_with_shared_a_panels(isa):
    # N wide enough for several column tiles, so A is packed once into shared panels.
    a = rand(2, 37, 70)
    graph = graph_of(node("MatMul", ["a", "b"]), {"a": a}, {"b": rand(70, 1100, seed=1)})
    check(graph, {"a": a}, isa, threads=2)
    x, z = rand(3, 13, 40), rand(3, 40, 1500, seed=2)
    check(graph_of(node("MatMul", ["x", "z"]), {"x": x, "z": z}), {"x": x, "z": z}, isa)


def test_packed_weights_survive_replanning():
    from mnn_backend_cpu import _native

    graph = graph_of(node("Gemm", ["a", "w", "c"], transB=1), {"a": rand(5, 64)},
                     {"w": rand(300, 64, seed=1), "c": rand(300, seed=2)})
    graph.types["a"] = TensorType(DType.F32, ("n", 64))
    session = Model(graph, context()).session(backends=["cpu"], strict=True)
    reference = Model(graph, context()).session(backends=["reference"])
    before = None
    for rows in (5, 17, 5, 40):
        a = rand(rows, 64, seed=rows)
        got = session.run({"a": a})["y"]
        np.testing.assert_allclose(got, reference.run({"a": a})["y"], rtol=1e-4, atol=1e-4)
        if before is None:
            before = _native.packed_count()
    assert _native.packed_count() == before, "re-planning re-packed the constant weight"


def test_tuning_cache_second_load_does_not_measure(tmp_path):
    code = """
import json, sys
sys.path.insert(0, {tests!r})
from cpu_helpers import context, graph_of, node, rand
from mnn_core.session import Model
a = rand(128, 256)
graph = graph_of(node("Gemm", ["a", "w"]), {{"a": a}}, {{"w": rand(256, 512, seed=1)}})
session = Model(graph, context()).session(backends=["cpu"], strict=True)
session.run({{"a": a}})
print(json.dumps(session.backends[0].tuner.measurements))
"""
    code = code.format(tests=os.path.dirname(__file__))
    env = dict(os.environ, MNN_CPU_CACHE_DIR=str(tmp_path), MNN_CPU_TUNING="fast")
    runs = [subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
            for _ in range(2)]
    first, second = (int(r.stdout.split()[-1]) for r in runs)
    assert first >= 2 and second == 0
    cache = json.loads((tmp_path / "cpu-tuning.json").read_text())
    assert any("|matmul|" in key for key in cache)
    env["MNN_CPU_TUNING"] = "off"
    (tmp_path / "cpu-tuning.json").unlink()
    off = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert int(off.stdout.split()[-1]) == 0 and not (tmp_path / "cpu-tuning.json").exists()


def test_tuner_picks_and_remembers_variants(tmp_path):
    from mnn_backend_cpu.lowering import LOp
    from mnn_backend_cpu.tuning import Tuner

    lop = LOp("matmul", [], [], [1], cost=1e9)
    lop.variants = {"fast": LOp("matmul", [], [], [2]), "slow": LOp("matmul", [], [], [3])}
    timer = lambda cand: {1: 2.0, 2: 1.0, 3: 3.0}[cand.ints[0]]
    tuner = Tuner("avx2", 1, mode="full", path=tmp_path / "t.json")
    assert tuner.choose(lop, "sig", timer).ints == [2] and tuner.measurements == 3
    again = Tuner("avx2", 1, mode="full", path=tmp_path / "t.json")
    assert again.choose(lop, "sig", lambda c: 1 / 0).ints == [2] and again.measurements == 0
    small = LOp("matmul", [], [], [1], variants=lop.variants, cost=10.0)
    assert Tuner("avx2", 1, mode="fast", path=tmp_path / "u.json").choose(small, "s", timer) is small


def test_low_precision_reports_gemm_precision():
    from mnn_backend_cpu import _native

    details = context().backends.get("cpu").probe().devices[0].details
    assert details["low_precision_gemm"].startswith("fp32 (")
    assert ("no AVX512_BF16" in details["low_precision_gemm"]) != _native.has_avx512_bf16()
    a = rand(9, 33)
    graph = graph_of(node("MatMul", ["a", "b"]), {"a": a}, {"b": rand(33, 17, seed=1)})
    session = Model(graph, context()).session(backends=["cpu"], strict=True, precision="low")
    assert session.backends[0].gemm_precision == "fp32"
    ref = Model(graph, context()).session(backends=["reference"]).run({"a": a})["y"]
    np.testing.assert_allclose(session.run({"a": a})["y"], ref, rtol=1e-4, atol=1e-4)
