"""Sessions: re-planning for new input shapes, input validation messages, the static memory plan,
the profiler and the MNN_* environment defaults."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from mnn_core import BackendUnavailable, Context, DType, Graph, InputError, Node, TensorType
from mnn_core.memory import ALIGNMENT, Lifetime, plan_memory
from mnn_core.profiler import Profiler
from mnn_core.session import Model

BIAS = np.linspace(-1, 1, 4, dtype=np.float32)


@pytest.fixture(scope="module")
def ctx() -> Context:
    return Context(entry_points=False)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ("MNN_BACKENDS", "MNN_THREADS", "MNN_STRICT"):
        monkeypatch.delenv(name, raising=False)


def batch_model(ctx: Context) -> Model:
    """y = relu(x + bias) with x: f32[batch, 4]."""
    graph = Graph([Node("Add", ["x", "bias"], ["t"], name="add"), Node("Relu", ["t"], ["y"], name="relu")],
                  ["x"], ["y"], {"x": TensorType(DType.F32, ("batch", 4))}, {"bias": BIAS})
    return Model(graph, ctx)


def chain_model(ctx: Context, length: int = 6, shape=(64, 64)) -> Model:
    nodes = [Node("Relu" if i % 2 else "Neg", [f"t{i}"], [f"t{i + 1}"], name=f"n{i}") for i in range(length)]
    return Model(Graph(nodes, ["t0"], [f"t{length}"], {"t0": TensorType(DType.F32, shape)}), ctx)


# ---- dynamic shapes -----------------------------------------------------------------------------

def test_symbolic_batch_replans_for_each_new_shape(ctx) -> None:
    session = batch_model(ctx).session(backends=["reference"])
    assert session.plan is None, "a symbolic input shape cannot be planned before a run or resize"
    plans = []
    for n in (2, 5):
        x = np.random.default_rng(n).standard_normal((n, 4)).astype(np.float32)
        y = session.run({"x": x})["y"]
        np.testing.assert_allclose(y, np.maximum(x + BIAS, 0))
        plans.append(session.plan)
        assert session.plan.input_types["x"].shape == (n, 4)
        assert session.plan.types["t"].shape == (n, 4)
    assert plans[0] is not plans[1]
    session.run({"x": np.zeros((2, 4), np.float32)})
    assert session.plan is plans[0], "a shape seen before reuses its cached plan"
    assert session.resize({"x": (7, 4)}).input_types["x"].shape == (7, 4)
    assert session.plan.peak_bytes >= 0 and "segment 0: reference" in str(session.plan)


# ---- input validation ---------------------------------------------------------------------------

@pytest.mark.parametrize("feeds, pattern", [
    ({"z": np.zeros((2, 4), np.float32)}, r"unknown input\(s\) \['z'\].*x: f32\[batchx4\]"),
    ({}, r"missing input\(s\) \['x'\].*x: f32\[batchx4\]"),
    ({"x": np.zeros((2, 4, 1), np.float32)}, r"rank 3.*expected rank 2: f32\[batchx4\]"),
    ({"x": np.zeros((2, 4), np.float64)}, r"dtype float64; expected f32"),
    ({"x": np.zeros((2, 5), np.float32)}, r"shape \[2, 5\]; expected f32\[batchx4\] \(dim 1 must be 4\)"),
], ids=["name", "missing", "rank", "dtype", "dim"])
def test_wrong_inputs_name_what_was_expected(ctx, feeds, pattern) -> None:
    session = batch_model(ctx).session(backends=["reference"])
    with pytest.raises(InputError, match=pattern):
        session.run(feeds)


def test_checks_still_apply_after_a_good_run(ctx) -> None:
    """Repeated feeds of the last run's types skip the checks; anything else is checked again."""
    session = batch_model(ctx).session(backends=["reference"])
    good = {"x": np.ones((2, 4), np.float32)}
    first = session.run(good)["y"]
    np.testing.assert_array_equal(session.run(good)["y"], first)
    with pytest.raises(InputError, match="dtype"):
        session.run({"x": np.ones((2, 4), np.float64)})
    with pytest.raises(InputError, match="rank"):
        session.run({"x": np.ones((2, 4, 1), np.float32)})
    with pytest.raises(InputError, match="missing"):
        session.run({})
    with pytest.raises(InputError, match="unknown"):
        session.run({**good, "z": np.ones(1, np.float32)})
    np.testing.assert_array_equal(session.run(good)["y"], first)
    other = session.run({"x": np.ones((3, 4), np.float32)})["y"]  # a new batch size: planned anew
    assert other.shape[0] == 3


# ---- memory planning ----------------------------------------------------------------------------

def test_chain_reuses_memory(ctx) -> None:
    plan = chain_model(ctx).session(backends=["reference"]).plan
    tensor = 64 * 64 * 4
    assert plan.memory.naive_bytes == 5 * tensor  # five intermediates; the output is the caller's
    assert plan.peak_bytes == 2 * tensor < plan.memory.naive_bytes  # only producer + consumer live


def overlaps(a: Lifetime, b: Lifetime) -> bool:
    return not (a.last < b.first or b.last < a.first)


@pytest.mark.parametrize("seed", range(5))
def test_plan_memory_never_overlaps_live_tensors(seed) -> None:
    rng = np.random.default_rng(seed)
    lifetimes = []
    for i in range(40):
        first = int(rng.integers(0, 30))
        lifetimes.append(Lifetime(f"t{i}", int(rng.integers(1, 5000)), first, first + int(rng.integers(0, 6))))
    plan = plan_memory(lifetimes)
    spans = {l.name: (plan.offsets[l.name], plan.offsets[l.name] + l.nbytes) for l in lifetimes}
    for i, a in enumerate(lifetimes):
        assert spans[a.name][0] % ALIGNMENT == 0
        for b in lifetimes[i + 1:]:
            if overlaps(a, b):
                (s1, e1), (s2, e2) = spans[a.name], spans[b.name]
                assert e1 <= s2 or e2 <= s1, f"{a} and {b} are live together but share bytes"
    assert plan.peak_bytes >= max(e for _, e in spans.values())
    live_peak = max(sum(l.nbytes for l in lifetimes if l.first <= step <= l.last) for step in range(36))
    assert live_peak <= plan.peak_bytes <= plan.naive_bytes


def test_plan_memory_reuses_disjoint_lifetimes() -> None:
    plan = plan_memory([Lifetime("a", 100, 0, 1), Lifetime("b", 100, 2, 3), Lifetime("c", 10, 1, 2)])
    assert plan.offsets["a"] == plan.offsets["b"] and plan.offsets["c"] != plan.offsets["a"]
    assert plan.peak_bytes == 128 + 64 and plan.naive_bytes == 128 + 128 + 64  # sizes align to 64


# ---- profiler -----------------------------------------------------------------------------------

def test_profiler_table_and_chrome_trace(ctx, tmp_path) -> None:
    session = chain_model(ctx, 4, (8, 8)).session(backends=["reference"])
    profiler = Profiler()
    x = np.ones((8, 8), np.float32)
    for _ in range(3):
        session.run({"t0": x}, profiler=profiler)
    assert profiler.runs == 3
    table = profiler.by_op_type()
    assert table[("reference", "Relu")][0] == 6 and table[("reference", "Neg")][0] == 6
    assert "Relu" in profiler.table() and "reference" in profiler.by_backend()
    trace = json.loads(profiler.save_chrome_trace(tmp_path / "trace.json").read_text())
    ops = [e for e in trace["traceEvents"] if e["cat"] == "op"]
    assert len(ops) == 12 and all(e["ph"] == "X" and e["dur"] >= 0 for e in ops)
    assert {e["cat"] for e in trace["traceEvents"]} == {"op", "segment"}


# ---- environment defaults -----------------------------------------------------------------------

def test_env_defaults(ctx, monkeypatch) -> None:
    monkeypatch.setenv("MNN_BACKENDS", "reference")
    monkeypatch.setenv("MNN_THREADS", "3")
    session = batch_model(ctx).session()
    assert [b.name for b in session.backends] == ["reference"] and session.config.threads == 3
    assert session.strict is False
    monkeypatch.setenv("MNN_STRICT", "1")
    monkeypatch.setenv("MNN_BACKENDS", "nosuch")
    with pytest.raises(BackendUnavailable, match="nosuch"):
        batch_model(ctx).session()
    assert batch_model(ctx).session(backends=["reference"], strict=False).strict is False
    monkeypatch.setenv("MNN_STRICT", "off")
    with pytest.warns(RuntimeWarning, match="nosuch"):
        assert [b.name for b in batch_model(ctx).session().backends] == ["reference"]
    assert os.environ["MNN_THREADS"] == "3"
