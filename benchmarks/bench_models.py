"""Benchmark mnn against ONNX Runtime on a folder of ONNX models; prints a markdown table.

Both engines run in this one process, interleaved run by run (alternating which goes first) so that
machine drift affects both alike, at each thread count. ORT gets the same intra-op thread count and
one inter-op thread. Inputs are random (see `mnn_core.cli.random_inputs`); the first outputs are
compared too (cosine similarity of the first output).

    python benchmarks/bench_models.py --backends cpu --threads 1,2 --runs 30
    python benchmarks/bench_models.py --models resnet18,mobilenet_v2 --json results.json
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from pathlib import Path

import numpy as np

import mnn_core
from mnn_core.cli import ort_session, random_inputs, run_ort, similarity

DEFAULT_MODELS = Path(__file__).resolve().parents[1].parent / "shared" / "models"


def time_interleaved(fns, runs: int, warmup: int, budget_s: float) -> list[list[float]]:
    """Milliseconds per run for each function; stops early once `budget_s` is spent (min 3 runs)."""
    for _ in range(warmup):
        for fn in fns:
            fn()
    times: list[list[float]] = [[] for _ in fns]
    deadline = time.perf_counter() + budget_s
    for i in range(runs):
        order = list(enumerate(fns))
        for k, fn in (order if i % 2 == 0 else order[::-1]):
            start = time.perf_counter()
            fn()
            times[k].append((time.perf_counter() - start) * 1e3)
        if i >= 2 and time.perf_counter() > deadline:
            break
    return times


def bench_model(path: Path, args) -> list[dict]:
    start = time.perf_counter()
    model = mnn_core.load(path)
    convert_s = time.perf_counter() - start
    feeds = random_inputs(model, seed=0)
    backends = [b for b in args.backends.split(",") if b] if args.backends else None
    rows = []
    for threads in args.threads:
        session = model.session(backends=backends, threads=threads)
        ort = ort_session(path, threads)
        ours, theirs = session.run(feeds), run_ort(ort, feeds)
        first = next(iter(ours))
        cosine, _ = similarity(ours[first], theirs.get(first, next(iter(theirs.values()))))
        mnn_ms, ort_ms = time_interleaved([lambda: session.run(feeds), lambda: run_ort(ort, feeds)],
                                          args.runs, args.warmup, args.budget)
        counts = session.plan.backend_counts()
        rows.append({"model": path.stem, "threads": threads, "runs": len(mnn_ms),
                     "mnn_ms": float(np.median(mnn_ms)), "ort_ms": float(np.median(ort_ms)),
                     "mnn_p10": float(np.percentile(mnn_ms, 10)), "mnn_p90": float(np.percentile(mnn_ms, 90)),
                     "cosine": cosine, "convert_s": convert_s,
                     "placement": ", ".join(f"{b} {n}" for b, n in counts.items())})
        session.close()
    return rows


def markdown(rows: list[dict]) -> str:
    lines = ["| model | threads | mnn median ms | mnn p10-p90 | ORT median ms | mnn/ORT | cosine "
             "| nodes per backend |",
             "|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['model']} | {r.get('threads', '')} | error: {r['error']} | | | | | |")
            continue
        lines.append(f"| {r['model']} | {r['threads']} | {r['mnn_ms']:.2f} "
                     f"| {r['mnn_p10']:.2f}-{r['mnn_p90']:.2f} "
                     f"| {r['ort_ms']:.2f} | {r['mnn_ms'] / r['ort_ms']:.2f} | {r['cosine']:.5f} "
                     f"| {r['placement']} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=DEFAULT_MODELS, help=f"models folder ({DEFAULT_MODELS})")
    parser.add_argument("--models", help="comma-separated model names (file stems); default: all")
    parser.add_argument("--backends", help="mnn backends in priority order, comma-separated")
    parser.add_argument("--threads", default="1,2", type=lambda s: [int(t) for t in s.split(",")])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--budget", type=float, default=60.0,
                        help="seconds of timed runs per model and thread count before stopping early")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON")
    parser.add_argument("--debug", action="store_true", help="print tracebacks of failing models")
    args = parser.parse_args(argv)

    paths = sorted(args.dir.glob("*.onnx"))
    if args.models:
        wanted = set(args.models.split(","))
        paths = [p for p in paths if p.stem in wanted]
        missing = wanted - {p.stem for p in paths}
        if missing:
            print(f"no such model(s) in {args.dir}: {', '.join(sorted(missing))}", file=sys.stderr)
            return 2
    if not paths:
        print(f"no .onnx models in {args.dir}", file=sys.stderr)
        return 2
    rows: list[dict] = []
    for path in paths:
        print(f"benchmarking {path.name} ...", file=sys.stderr, flush=True)
        try:
            rows.extend(bench_model(path, args))
        except Exception as error:  # one failing model must not end the table
            if args.debug:
                traceback.print_exc()
            rows.append({"model": path.stem, "error": f"{type(error).__name__}: {error}".splitlines()[0]})
    print(markdown(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
