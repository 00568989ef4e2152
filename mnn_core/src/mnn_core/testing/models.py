"""The shared test models (`../shared/models` beside the checkout, or `MNN_MODELS_DIR`) run through
mnn and ONNX Runtime on the same random input, for end-to-end tests of any backend list."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

CNNS = ("squeezenet1_1", "shufflenet_v2_x1_0", "mobilenet_v2", "mobilenet_v3_large", "resnet18")
MODELS = (*CNNS, "bert_small_s128")
HEAVY_OPS = frozenset({"Conv", "Gemm", "MatMul"})


def models_dir() -> Path:
    """`MNN_MODELS_DIR`, else `shared/models` beside the repository tests run from."""
    if os.environ.get("MNN_MODELS_DIR"):
        return Path(os.environ["MNN_MODELS_DIR"])
    return Path.cwd().resolve().parent / "shared" / "models"


def model_path(name: str) -> Optional[Path]:
    path = models_dir() / f"{name}.onnx"
    return path if path.exists() else None


def random_feeds(model, seed: int = 0) -> dict[str, np.ndarray]:
    """Random inputs for a `mnn_core.Model`: floats ~ N(0, 1); BERT-style ids below the vocabulary,
    masks of ones, token types of zeros; symbolic dims set to 1."""
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
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    denom = np.linalg.norm(a) * np.linalg.norm(b)
    return 1.0 if denom == 0 else float(a @ b / denom)


def check_against_onnxruntime(path: Path, backends: Sequence[str], min_cosine: float, *,
                              heavy_on: Optional[str] = None, threads: Optional[int] = None,
                              strict: bool = False):
    """Run `path` on `backends` and on ONNX Runtime; assert every output's cosine >= `min_cosine`
    and, with `heavy_on`, that every Conv/Gemm/MatMul is placed on that backend. Returns the plan."""
    import onnxruntime as ort

    import mnn_core

    model = mnn_core.load(path)
    feeds = random_feeds(model)
    with model.session(backends=list(backends), threads=threads, strict=strict) as session:
        plan = session.plan
        if heavy_on is not None:
            placement = plan.placement()
            wrong = [(n.op, n.name) for n in model.graph.nodes
                     if n.op in HEAVY_OPS and placement[n.name or n.outputs[0]] != heavy_on]
            assert not wrong, f"not on {heavy_on}: {wrong[:5]}\n{plan}"
        ours = session.run(feeds)
    theirs = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, feeds)
    for (name, got), want in zip(ours.items(), theirs):
        assert got.shape == want.shape, (name, got.shape, want.shape)
        score = cosine(got, want)
        assert score >= min_cosine, f"{path.stem}/{name}: cosine {score}"
    return plan
