"""The shared CNN/BERT models with Vulkan first and the CPU backend behind it, against ONNX Runtime
(skipped when the models or a Vulkan device are absent)."""
from pathlib import Path

import numpy as np
import pytest

MODELS = Path("/work/shared/models")
CNNS = ["squeezenet1_1", "shufflenet_v2_x1_0", "mobilenet_v2", "mobilenet_v3_large", "resnet18"]
HEAVY = {"Conv", "Gemm", "MatMul"}


def feeds_for(name, inputs):
    rng = np.random.default_rng(0)
    if name.startswith("bert"):
        return {"input_ids": rng.integers(0, 30522, (1, 128)).astype(np.int64),
                "attention_mask": np.ones((1, 128), np.int64), "token_type_ids": np.zeros((1, 128), np.int64)}
    return {inputs[0]: rng.standard_normal((1, 3, 224, 224)).astype(np.float32)}


@pytest.mark.parametrize("name", CNNS + ["bert_small_s128"])
def test_model_matches_onnxruntime(name, vulkan_device):
    path = MODELS / f"{name}.onnx"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    ort = pytest.importorskip("onnxruntime")
    import mnn_core

    if not mnn_core.default_context().frontends.for_source(str(path)):
        pytest.skip("no ONNX frontend installed")
    model = mnn_core.load(str(path))
    feeds = feeds_for(name, model.graph.inputs)
    with model.session(backends=["vulkan", "cpu"]) as session:
        plan = session.plan
        placement = plan.placement()
        for node in model.graph.nodes:
            if node.op in HEAVY:
                assert placement[node.name or node.outputs[0]] == "vulkan", (node.op, str(plan))
        ours = session.run(feeds)
    theirs = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, feeds)
    for (key, got), want in zip(ours.items(), theirs):
        a, b = got.reshape(-1).astype(np.float64), want.reshape(-1).astype(np.float64)
        cosine = a @ b / (np.linalg.norm(a) * np.linalg.norm(b))
        assert cosine >= 0.9999, (key, cosine)
