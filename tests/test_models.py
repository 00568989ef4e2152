"""Every shared model converts and runs on the reference backend, matching ONNX Runtime (cosine
>= 0.99999) on the same random input. Skipped when the shared model folder is absent."""
from __future__ import annotations

import pytest

from mnn_core.testing.models import MODELS, check_against_onnxruntime, model_path

pytest.importorskip("mnn_frontend_onnx")
pytest.importorskip("onnxruntime")


@pytest.mark.parametrize("name", MODELS)
def test_model_matches_onnxruntime_on_reference(name: str) -> None:
    path = model_path(name)
    if path is None:
        pytest.skip(f"{name}.onnx is not in the shared model folder")
    plan = check_against_onnxruntime(path, ["reference"], 0.99999, strict=True)
    assert set(plan.backend_counts()) == {"reference"}
