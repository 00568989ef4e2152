"""Every model in the shared model folder converts and runs on the reference backend, matching
ONNX Runtime (cosine >= 0.99999) on the same random input. Skipped when the folder is absent."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import mnn_core

MODELS_DIR = Path(os.environ.get("MNN_MODELS_DIR", Path(__file__).resolve().parents[2] / "shared" / "models"))
MODELS = sorted(MODELS_DIR.glob("*.onnx")) if MODELS_DIR.is_dir() else []

pytest.importorskip("mnn_frontend_onnx")
ort = pytest.importorskip("onnxruntime")


def random_feeds(model: mnn_core.Model, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    feeds = {}
    for name, t in model.inputs.items():
        shape = [d if isinstance(d, int) else 1 for d in t.shape]
        if t.dtype.is_float:
            feeds[name] = rng.standard_normal(shape).astype(t.dtype.numpy)
        elif "mask" in name:
            feeds[name] = np.ones(shape, t.dtype.numpy)
        elif "type" in name:
            feeds[name] = np.zeros(shape, t.dtype.numpy)
        else:
            feeds[name] = rng.integers(0, 1000, shape).astype(t.dtype.numpy)
    return feeds


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    denom = np.linalg.norm(a) * np.linalg.norm(b)
    return 1.0 if denom == 0 else float(a @ b / denom)


@pytest.mark.skipif(not MODELS, reason=f"no shared models in {MODELS_DIR}")
@pytest.mark.parametrize("path", MODELS, ids=[p.stem for p in MODELS])
def test_model_matches_onnxruntime_on_reference(path: Path) -> None:
    model = mnn_core.load(path)
    feeds = random_feeds(model)
    session = model.session(backends=["reference"], strict=True)
    assert session.plan is not None and set(session.plan.backend_counts()) == {"reference"}
    ours = session.run(feeds)
    theirs = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, feeds)
    for (name, got), want in zip(ours.items(), theirs):
        assert got.shape == want.shape, name
        assert cosine(got, want) >= 0.99999, (name, cosine(got, want))
