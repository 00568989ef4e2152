"""Thread scaling of the CPU backend: latency at 1 and N threads, speed-up and busy cores, beside ORT.

    python backend-cpu/benchmarks/thread_scaling.py [--models resnet18 ...] [--threads 1 2]
                                                    [--iters 200] [--rounds 2] [--engines mnn,ort]

Every (engine, model, threads) runs in its own fresh process, one at a time, so no other engine's
spinning workers compete for the cores (in-process interleaving lets ORT's pool steal a core from
ours). Busy cores = process CPU time / wall time over the timed iterations: with `threads=N` it must
stay at or below N (spin-waits count as busy, as they are). With --rounds > 1 the rounds rotate the
engine order and the reported latency is the median of the per-round medians; the machine's load
average before each round is printed, since the figures mean little on a loaded machine.
On a machine shared with other work, give the run its own scheduler autogroup at high priority
(Linux autogroups make plain `nice` useless across sessions), as root:

    setsid bash -c 'echo -15 > /proc/self/autogroup; exec nice -n -15 python thread_scaling.py'
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

from bench_models import MODELS, feeds_for  # same folder: one place for the models and feeds

DEFAULT_MODELS = ["resnet18", "mobilenet_v2", "mobilenet_v3_large", "squeezenet1_1",
                  "shufflenet_v2_x1_0", "bert_small_s128"]


def worker(engine: str, model: str, threads: int, iters: int) -> None:
    path = str(MODELS / f"{model}.onnx")
    if engine == "mnn":
        import mnn_core

        loaded = mnn_core.load(path)
        session = loaded.session(backends=["cpu"], threads=threads)
        feeds = feeds_for(model, [v.name if hasattr(v, "name") else v for v in loaded.graph.inputs])
        run = lambda: session.run(feeds)  # noqa: E731
    else:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        feeds = feeds_for(model, [i.name for i in session.get_inputs()])
        run = lambda: session.run(None, feeds)  # noqa: E731
    for _ in range(max(5, iters // 20)):
        run()
    times = []
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for _ in range(iters):
        t = time.perf_counter()
        run()
        times.append(time.perf_counter() - t)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    print(json.dumps({"median_ms": statistics.median(times) * 1e3, "min_ms": min(times) * 1e3,
                      "busy": cpu / wall}))


def measure(engine: str, model: str, threads: int, iters: int) -> dict:
    env = dict(os.environ)
    # Cap numpy's BLAS/OpenMP pools as well, so a thread count means what it says.
    env["OMP_NUM_THREADS"] = env["OPENBLAS_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
    out = subprocess.run([sys.executable, __file__, "--worker", engine, model, str(threads), str(iters)],
                         env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker", nargs=4, metavar=("ENGINE", "MODEL", "THREADS", "ITERS"))
    parser.add_argument("--models", nargs="+", default=DEFAULT_MODELS)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--iters", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--engines", default="mnn,ort")
    args = parser.parse_args()
    if args.worker:
        engine, model, threads, iters = args.worker
        worker(engine, model, int(threads), int(iters))
        return
    engines = args.engines.split(",")
    top = max(args.threads)
    print(f"{'model':20s} " + "  ".join(
        [f"mnn {t}T" for t in args.threads] + [f"x{top}/1", f"busy{top}T"] +
        [f"ort {t}T" for t in args.threads if "ort" in engines] + ["mnn/ort"]), flush=True)
    for model in args.models:
        results: dict = {}
        for r in range(args.rounds):
            load = os.getloadavg()[0]
            order = engines if r % 2 == 0 else engines[::-1]
            for threads in args.threads:
                for engine in order:
                    results.setdefault((engine, threads), []).append(measure(engine, model, threads, args.iters))
            print(f"  [{model} round {r + 1}: load average before {load:.2f}]", file=sys.stderr, flush=True)

        def ms(engine, threads):
            return statistics.median(m["median_ms"] for m in results[(engine, threads)])

        cols = [f"{ms('mnn', t):7.2f}" for t in args.threads]
        cols.append(f"{ms('mnn', args.threads[0]) / ms('mnn', top):5.2f}x")
        cols.append(f"{max(m['busy'] for m in results[('mnn', top)]):5.2f}")
        if "ort" in engines:
            cols += [f"{ms('ort', t):7.2f}" for t in args.threads]
            cols.append(f"{ms('mnn', top) / ms('ort', top):5.2f}")
        print(f"{model:20s} " + "  ".join(cols), flush=True)


if __name__ == "__main__":
    main()
