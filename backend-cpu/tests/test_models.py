"""The shared CNN/BERT models on the CPU backend against ONNX Runtime (skipped when absent)."""
import pytest

from mnn_core.testing.models import CNNS, MODELS, check_against_onnxruntime, model_path

pytest.importorskip("mnn_frontend_onnx")
pytest.importorskip("onnxruntime")


@pytest.mark.parametrize("name", MODELS)
def test_model_matches_onnxruntime(name):
    path = model_path(name)
    if path is None:
        pytest.skip(f"{name}.onnx is not in the shared model folder")
    plan = check_against_onnxruntime(path, ["cpu"], 0.99999, threads=2, strict=True)
    if name in CNNS:  # CNNs run in one native plan
        assert len(plan.segments) == 1, str(plan)
