"""Median latency of mnn's CPU backend against ONNX Runtime on the shared models, interleaved.

    python benchmarks/bench_models.py [--threads 1 2] [--runs 30] [model ...]
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

MODELS = Path("/work/shared/models")


def feeds_for(name: str, inputs) -> dict:
    rng = np.random.default_rng(0)
    if name.startswith("bert"):
        return {"input_ids": rng.integers(0, 30522, (1, 128)).astype(np.int64),
                "attention_mask": np.ones((1, 128), np.int64),
                "token_type_ids": np.zeros((1, 128), np.int64)}
    return {inputs[0]: rng.standard_normal((1, 3, 224, 224)).astype(np.float32)}


def main() -> None:
    import mnn_core
    import onnxruntime as ort

    parser = argparse.ArgumentParser()
    parser.add_argument("models", nargs="*", default=["resnet18"])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    for name in args.models:
        path = str(MODELS / f"{name}.onnx")
        model = mnn_core.load(path)
        feeds = feeds_for(name, model.graph.inputs)
        for threads in args.threads:
            session = model.session(backends=["cpu"], threads=threads)
            so = ort.SessionOptions()
            so.intra_op_num_threads = threads
            so.inter_op_num_threads = 1
            ref = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
            ours, theirs = [], []
            for _ in range(3):
                session.run(feeds), ref.run(None, feeds)
            for _ in range(args.runs):  # interleaved so drift hits both engines alike
                t = time.perf_counter(); session.run(feeds); ours.append(time.perf_counter() - t)
                t = time.perf_counter(); ref.run(None, feeds); theirs.append(time.perf_counter() - t)
            a, b = statistics.median(ours) * 1e3, statistics.median(theirs) * 1e3
            print(f"{name:22s} {threads}T  mnn-cpu {a:7.2f} ms  ort {b:7.2f} ms  ratio {a / b:5.2f}  "
                  f"isa {session.backends[0].isa}", flush=True)


if __name__ == "__main__":
    main()
