"""The checks behind the conformance tests, free of pytest so other harnesses can reuse them."""
from __future__ import annotations

from typing import Mapping, Optional, Sequence

import numpy as np

from ..backend import Backend, BackendConfig, Claim, GraphView, Precision
from ..ir import Graph, TensorType
from ..plugins import Context
from ..reference import Interpreter, run_node
from ..shape_inference import infer_types
from .case import Tolerance


def backend_availability(context: Context) -> dict[str, Optional[str]]:
    """Installed backend name -> None when its probe finds a device, else the reason it does not."""
    result = {}
    for factory in context.backends:
        try:
            probe = factory.probe()
        except Exception as error:  # a probe must not raise; report it as unavailable
            result[factory.name] = f"probe raised {type(error).__name__}: {error}"
            continue
        result[factory.name] = None if probe.available else (probe.unavailable_reason or "no device")
    return result


def create_backend(context: Context, name: str, precision: str = "normal") -> Backend:
    """Create backend `name` on its first device; raises LookupError saying why it cannot."""
    if name not in context.backends:
        raise LookupError(f"backend {name!r} is not installed (installed: {', '.join(context.backends.names())})")
    factory = context.backends.get(name)
    probe = factory.probe()
    if not probe.available:
        raise LookupError(f"backend {name!r} is unavailable: {probe.unavailable_reason or 'no device'}")
    return factory.create(probe.devices[0], BackendConfig(Precision(precision)))


def view_for(graph: Graph, feeds: Mapping[str, np.ndarray], context: Context) -> GraphView:
    types, _ = infer_types(graph, context.ops, {n: TensorType.of(v) for n, v in feeds.items()})
    return GraphView(graph, types, context.ops)


def check_claim(claim: Claim, graph: Graph) -> None:
    """A claim names only nodes of the graph it was given, and never claims and refuses one node."""
    valid = set(range(len(graph.nodes)))
    assert isinstance(claim, Claim), f"capability returned {type(claim).__name__}, not a Claim"
    assert set(claim.nodes) <= valid, f"claim names nodes {sorted(set(claim.nodes) - valid)} of a {len(valid)}-node graph"
    assert set(claim.refused) <= valid, f"refusals name nodes {sorted(set(claim.refused) - valid)}"
    both = set(claim.nodes) & set(claim.refused)
    assert not both, f"nodes {sorted(both)} are both claimed and refused"


def unclaimed(claim: Claim, graph: Graph) -> list[str]:
    """Descriptions of the nodes a claim leaves out, with the backend's reasons."""
    return [f"{node.op}" + (f" ({claim.refused[i]})" if i in claim.refused else "")
            for i, node in enumerate(graph.nodes) if i not in claim.nodes]


def reference_outputs(graph: Graph, feeds: Mapping[str, np.ndarray], context: Context) -> list[np.ndarray]:
    """The oracle: the reference kernel of a one-node graph, or the interpreter for small graphs."""
    if len(graph.nodes) == 1:
        node = graph.nodes[0]
        values = {**graph.constants, **feeds}
        outputs = run_node(node, [values[n] if n else None for n in node.inputs], context.ops)
    else:
        outputs = Interpreter(graph, context.ops).run(feeds)
    return [np.asarray(o) for o in outputs]


def assert_matches(actual: np.ndarray, expected: np.ndarray, tol: Tolerance, what: str) -> None:
    """Same dtype and shape; floats within tolerance, everything else exactly."""
    actual = np.asarray(actual)
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype}, reference gives {expected.dtype}"
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape}, reference gives {expected.shape}"
    if np.issubdtype(expected.dtype, np.inexact):
        np.testing.assert_allclose(actual, expected, rtol=tol.rtol, atol=tol.atol, equal_nan=True,
                                   err_msg=f"{what} (rtol={tol.rtol}, atol={tol.atol})")
    else:
        np.testing.assert_array_equal(actual, expected, err_msg=what)


def parse_backends(values: Sequence[str]) -> list[str]:
    """Backend names from repeated and comma-separated options."""
    return [name.strip() for value in values for name in value.split(",") if name.strip()]
