"""Shared models end to end with MNN_BACKENDS=opencl,cpu: Conv/Gemm/MatMul on OpenCL, cosine vs onnxruntime."""
from pathlib import Path

import numpy as np
import pytest

MODELS = Path("/work/shared/models")
NAMES = ["squeezenet1_1", "mobilenet_v2", "shufflenet_v2_x1_0", "resnet18", "mobilenet_v3_large", "bert_small_s128"]


def feeds_for(session):
    rng = np.random.default_rng(0)
    feeds = {}
    for inp in session.get_inputs():
        shape = [d if isinstance(d, int) else 1 for d in inp.shape]
        if "int" in inp.type:
            high = 2 if ("type" in inp.name or "mask" in inp.name) else 100  # token types are 0/1
            feeds[inp.name] = rng.integers(0, high, shape).astype(np.int64)
            if "mask" in inp.name:
                feeds[inp.name] = np.ones(shape, np.int64)
        else:
            feeds[inp.name] = rng.standard_normal(shape).astype(np.float32)
    return feeds


@pytest.mark.parametrize("name", NAMES)
def test_model_matches_onnxruntime(opencl_device, name):
    path = MODELS / f"{name}.onnx"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    ort = pytest.importorskip("onnxruntime")
    import mnn_core

    ref = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = feeds_for(ref)
    want = ref.run(None, feeds)
    model = mnn_core.load(str(path)) if hasattr(mnn_core, "load") else None
    if model is None:
        pytest.skip("mnn_core.load is unavailable")
    with model.session(["opencl", "cpu"], strict=True) as session:
        heavy = [seg for seg in session.plan.segments for i in seg.nodes
                 if model.graph.nodes[i].op in ("Conv", "Gemm", "MatMul")]
        assert heavy and all(seg.backend.name == "opencl" for seg in heavy), session.plan.describe() \
            if hasattr(session.plan, "describe") else "Conv/Gemm/MatMul not on opencl"
        got = session.run(feeds)
    for out, ref_value in zip(model.graph.outputs, want):
        a, b = got[out].astype(np.float64).ravel(), ref_value.astype(np.float64).ravel()
        cosine = a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-30)
        assert cosine >= 0.9999, f"{name}/{out}: cosine {cosine}"
