"""Per-convolution timing inside the native plan: ms, GFLOP/s and the algorithm each conv runs.

    python backend-cpu/benchmarks/conv_profile.py resnet18 [--threads 1] [--runs 20] [--top 25]

FLOPs count 2 per multiply-add of the direct convolution (so Winograd can exceed the FMA peak).
"""
from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import numpy as np

MODELS = Path("/work/shared/models")


def conv_flops(ints) -> float:
    N, C, H, W, M, OH, OW, KH, KW = ints[:9]
    G = ints[15]
    return 2.0 * N * M * OH * OW * (C // G) * KH * KW


def main() -> None:
    import mnn_core
    from mnn_core.cli import random_inputs
    from mnn_core.profiler import Profiler

    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    path = Path(args.model)
    if not path.exists():
        path = MODELS / f"{args.model}.onnx"
    model = mnn_core.load(path)
    feeds = random_inputs(model, seed=0)
    session = model.session(backends=["cpu"], threads=args.threads)
    session.run(feeds)
    plans = [seg.executable.native for seg in session.plan.segments if hasattr(seg.executable, "native")]
    totals: dict[int, list[float]] = defaultdict(list)
    for _ in range(args.runs):
        session.run(feeds, profiler=Profiler())  # any profiler makes the plan time each op
        for pi, native in enumerate(plans):
            for i, ns in enumerate(native.plan.op_times_ns):
                totals[(pi, i)].append(ns / 1e6)
    rows, by_kind = [], defaultdict(lambda: [0.0, 0.0])
    algos = {}
    for pi, native in enumerate(plans):
        try:
            algos.update({(pi, i): a for i, a in enumerate(native.plan.op_notes)})
        except AttributeError:
            pass
        for i, lop in enumerate(native.lops):
            ms = float(np.min(totals[(pi, i)]))  # the minimum resists a busy machine best
            kind = lop.node.op if lop.node is not None else lop.kind
            by_kind[kind][0] += ms
            if lop.kind == "conv":
                fl = conv_flops(lop.ints)
                by_kind[kind][1] += fl
                N, C, H, W, M, OH, OW, KH, KW, SH = lop.ints[:10]
                G = lop.ints[15]
                shape = f"{C}->{M} {H}x{W} k{KH}x{KW} s{SH}" + (f" g{G}" if G > 1 else "")
                rows.append((ms, shape, fl / ms / 1e6, algos.get((pi, i), "")))
    total = sum(v[0] for v in by_kind.values())
    print(f"{path.stem}: {total:.2f} ms per run (sum of per-op minima), {args.threads} thread(s)")
    for kind, (ms, fl) in sorted(by_kind.items(), key=lambda kv: -kv[1][0]):
        extra = f"  {fl / ms / 1e6:6.1f} GFLOP/s" if fl else ""
        print(f"  {kind:<20} {ms:8.3f} ms {ms / total:6.1%}{extra}")
    per_algo = defaultdict(lambda: [0.0, 0.0])
    for ms, shape, gf, algo in rows:
        per_algo[algo][0] += ms
        per_algo[algo][1] += gf * ms * 1e6
    for algo, (ms, fl) in sorted(per_algo.items(), key=lambda kv: -kv[1][0]):
        print(f"  conv {algo or '?':<15} {ms:8.3f} ms {ms / total:6.1%}  {fl / ms / 1e6:6.1f} GFLOP/s")
    print(f"\n{'ms':>8} {'GFLOP/s':>8}  {'algo':<10} conv")
    for ms, shape, gf, algo in sorted(rows, reverse=True)[: args.top]:
        print(f"{ms:8.3f} {gf:8.1f}  {algo:<10} {shape}")


if __name__ == "__main__":
    main()
