"""Lifecycle, allocator and claiming contracts every backend keeps, whatever ops it supports."""
from __future__ import annotations

import numpy as np
import pytest

from mnn_core.dtypes import DType
from mnn_core.ir import Graph, Node, TensorType
from mnn_core.session import Model
from mnn_core.testing.harness import check_claim, create_backend, unclaimed, view_for

SCALE = np.linspace(0.5, 1.5, 7, dtype=np.float32)
BIAS = np.linspace(-0.5, 0.5, 7, dtype=np.float32)


def chain(batch="N") -> Graph:
    """relu((x + bias) * scale) with a symbolic batch dim: the ops every backend is expected to run."""
    return Graph([Node("Add", ["x", "bias"], ["t"], name="add"), Node("Mul", ["t", "scale"], ["u"], name="mul"),
                  Node("Relu", ["u"], ["y"], name="relu")],
                 ["x"], ["y"], {"x": TensorType(DType.F32, (batch, 7))}, {"bias": BIAS, "scale": SCALE})


def expected(x: np.ndarray) -> np.ndarray:
    return np.maximum((x + BIAS) * SCALE, 0)


def feed(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (n, 7)).astype(np.float32)


@pytest.fixture
def chain_session(available, mnn_context):
    backend = create_backend(mnn_context, available)
    try:
        claim = backend.capability(view_for(chain(3), {"x": feed(3)}, mnn_context))
    finally:
        backend.close()
    left = unclaimed(claim, chain(3))
    if left:
        pytest.skip(f"not claimed by {available}: {'; '.join(left)}")
    session = Model(chain(), mnn_context).session(backends=[available], strict=True)
    yield session
    session.close()


def test_resize_then_run_two_shapes(chain_session) -> None:
    plans = []
    for n in (3, 5):
        plan = chain_session.resize({"x": (n, 7)})
        assert chain_session.plan is plan and plan.input_types["x"].shape == (n, 7)
        out = chain_session.run({"x": feed(n)})["y"]
        np.testing.assert_allclose(out, expected(feed(n)), rtol=1e-5, atol=1e-6)
        assert chain_session.plan is plan, "running with the resized shape must reuse its plan"
        plans.append(plan)
    assert plans[0] is not plans[1]
    out = chain_session.run({"x": feed(3, seed=1)})["y"]  # back to the first shape
    np.testing.assert_allclose(out, expected(feed(3, seed=1)), rtol=1e-5, atol=1e-6)


def test_run_twice_gives_same_result(chain_session) -> None:
    x = feed(4)
    first = chain_session.run({"x": x})["y"].copy()
    second = chain_session.run({"x": x})["y"]
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(x, feed(4), err_msg="run must not modify its inputs")


def test_close_is_idempotent(chain_session, available, mnn_context) -> None:
    chain_session.run({"x": feed(2)})
    chain_session.close()
    chain_session.close()
    backend = create_backend(mnn_context, available)
    backend.close()
    backend.close()


@pytest.mark.parametrize("dtype", ["float32", "float16", "int32", "int64", "uint8", "bool"])
@pytest.mark.parametrize("shape", [(), (1,), (3, 7), (2, 3, 5, 1), (1, 2, 3, 5, 7)], ids=str)
def test_allocator_round_trip(available, mnn_context, dtype, shape) -> None:
    backend = create_backend(mnn_context, available)
    try:
        host = np.random.default_rng(0).uniform(-100, 100, shape).astype(dtype)
        back = np.asarray(backend.allocator.to_host(backend.allocator.to_device(host)))
        assert back.dtype == host.dtype and back.shape == host.shape
        np.testing.assert_array_equal(back, host)
        if host.ndim == 2:  # a strided view must round-trip too
            view = host[:, ::2]
            np.testing.assert_array_equal(backend.allocator.to_host(backend.allocator.to_device(view)), view)
    finally:
        backend.close()


def test_allocator_counts_bytes(available, mnn_context) -> None:
    backend = create_backend(mnn_context, available)
    try:
        allocator = backend.allocator
        base = allocator.bytes_in_use
        buffers = [(allocator.alloc(n), n) for n in (1, 64, 4096)]
        assert allocator.bytes_in_use == base + 4161 and allocator.peak_bytes >= base + 4161
        for buf, n in buffers:
            allocator.free(buf, n)
        assert allocator.bytes_in_use == base
    finally:
        backend.close()


def test_capability_names_only_existing_nodes(available, mnn_context) -> None:
    ops = [op for op in ("Relu", "Sigmoid", "Softmax", "Transpose", "Tanh", "Abs") if op in mnn_context.ops]
    nodes = [Node("Add", ["x", "bias"], ["h0"], name="add")]
    for i, op in enumerate(ops):
        nodes.append(Node(op, [f"h{i}"], [f"h{i + 1}"], name=f"n{i}"))
    graph = Graph(nodes, ["x"], [f"h{len(ops)}"], {"x": TensorType(DType.F32, (3, 7))}, {"bias": BIAS})
    backend = create_backend(mnn_context, available)
    try:
        view = view_for(graph, {"x": feed(3)}, mnn_context)
        claim = backend.capability(view)
        check_claim(claim, graph)
        assert backend.capability(view).nodes == claim.nodes, "claiming must be deterministic"
        one = Graph(nodes[:1], ["x"], ["h0"], dict(graph.types), dict(graph.constants))
        check_claim(backend.capability(view_for(one, {"x": feed(3)}, mnn_context)), one)
    finally:
        backend.close()
