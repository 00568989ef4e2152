"""Shared models with MNN_BACKENDS=vulkan,cpu: Conv/Gemm/MatMul on Vulkan, cosine vs onnxruntime."""
import pytest

from mnn_core.testing.models import MODELS, check_against_onnxruntime, model_path

pytest.importorskip("mnn_frontend_onnx")
pytest.importorskip("onnxruntime")


@pytest.mark.parametrize("name", MODELS)
def test_model_matches_onnxruntime(name, vulkan_device):
    path = model_path(name)
    if path is None:
        pytest.skip(f"{name}.onnx is not in the shared model folder")
    check_against_onnxruntime(path, ["vulkan", "cpu"], 0.9999, heavy_on="vulkan")
