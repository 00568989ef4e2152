"""Build one-node (or small) graphs by hand and run them on the CPU backend and the reference."""
from __future__ import annotations

import numpy as np

import mnn_core
from mnn_core.ir import Graph, Node, TensorType
from mnn_core.session import Model

_CONTEXT = None


def context():
    global _CONTEXT
    if _CONTEXT is None:
        _CONTEXT = mnn_core.default_context()
    return _CONTEXT


def isas() -> list[str]:
    from mnn_backend_cpu import _native

    return list(_native.supported_isas())


def graph_of(nodes, feeds: dict, consts: dict | None = None, outputs=None) -> Graph:
    nodes = nodes if isinstance(nodes, list) else [nodes]
    types = {n: TensorType.of(v) for n, v in feeds.items()}
    outputs = outputs or [o for o in nodes[-1].outputs if o]
    return Graph(nodes, list(feeds), outputs, types, dict(consts or {}))


def run(graph: Graph, feeds: dict, backend: str, isa: str = "", threads: int = 1) -> dict:
    model = Model(graph, context())
    options = {"cpu.isa": isa} if backend == "cpu" and isa else {}
    session = model.session(backends=[backend], strict=True, threads=threads, options=options)
    return session.run(feeds)


def check(graph: Graph, feeds: dict, isa: str = "", threads: int = 1, rtol=1e-4, atol=1e-5) -> dict:
    """Run on the CPU backend (strict: every node must be claimed) and compare to the reference."""
    ours = run(graph, feeds, "cpu", isa, threads)
    ref = run(graph, feeds, "reference")
    for name, want in ref.items():
        got = ours[name]
        assert got.dtype == want.dtype, (name, got.dtype, want.dtype)
        assert got.shape == want.shape, (name, got.shape, want.shape)
        finite = np.abs(want[np.isfinite(want)]) if want.dtype.kind == "f" else np.abs(want)
        scale = float(finite.max()) if finite.size else 1.0
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol * max(scale, 1.0), err_msg=name)
    return ours


def rand(*shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def node(op, inputs, outputs=("y",), **attrs) -> Node:
    return Node(op, list(inputs), list(outputs), attrs, name=f"{op.lower()}0")
