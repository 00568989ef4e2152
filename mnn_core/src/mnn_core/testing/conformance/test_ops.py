"""Each op case on each backend under test: skipped when the backend does not claim it, otherwise its
outputs must match the reference kernels within the case's tolerance for the session precision."""
from __future__ import annotations

import pytest

from mnn_core.session import Model
from mnn_core.testing.case import unique_ids
from mnn_core.testing.cases import all_cases
from mnn_core.testing.harness import (assert_matches, check_claim, create_backend, reference_outputs,
                                      unclaimed, view_for)

CASES = all_cases()


@pytest.mark.parametrize("case", CASES, ids=unique_ids(CASES))
def test_op(case, available, precision, mnn_context) -> None:
    missing = [op for op in case.ops() if op not in mnn_context.ops]
    if missing:
        pytest.skip(f"op(s) {', '.join(missing)} not defined in this mnn-core")
    graph, feeds = case.build()
    expected = reference_outputs(graph, feeds, mnn_context)

    backend = create_backend(mnn_context, available, precision)
    try:
        claim = backend.capability(view_for(graph, feeds, mnn_context))
    finally:
        backend.close()
    check_claim(claim, graph)
    left = unclaimed(claim, graph)
    if left:
        pytest.skip(f"not claimed by {available}: {'; '.join(left)}")

    model = Model(graph, mnn_context)
    with model.session(backends=[available], strict=True, precision=precision) as session:
        outputs = session.run(feeds)
    assert set(outputs) == set(graph.outputs)
    for name, want in zip(graph.outputs, expected):
        assert_matches(outputs[name], want, case.tolerance(precision),
                       f"{case.id}: output {name} on {available} ({precision} precision)")
