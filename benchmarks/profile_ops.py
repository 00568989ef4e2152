"""Per-op profile of an mnn session: ms per op type and GFLOP/s of the contractions against FMA peak.

Runs the model with `mnn_core.profiler.Profiler` (what `mnn profile` uses) and joins each op event to
the FLOPs `mnn_core.stats` counts for that node on the optimised graph (a multiply-add is 2 FLOPs).
The peak is stated, not measured: by default 108 GFLOP/s per core, the best fp32 GEMM measured on
this machine kind (AMD Zen 4: two 256-bit FMA pipes = 32 fp32 FLOPs per cycle, at about 3.4 GHz),
times the thread count. Winograd or FFT convolutions can exceed it in these "direct" FLOPs.

    python benchmarks/profile_ops.py /work/shared/models/resnet18.onnx --threads 1
    python benchmarks/profile_ops.py resnet18 --threads 2 --runs 20 --top 15 --peak 108 --stat min
"""
from __future__ import annotations

import argparse
import math
import sys
from collections import defaultdict
from pathlib import Path

import mnn_core
from mnn_core.cli import random_inputs
from mnn_core.profiler import Profiler
from mnn_core.shape_inference import infer_types
from mnn_core.stats import CONTRACTION_OPS, model_stats

DEFAULT_MODELS = Path(__file__).resolve().parents[1].parent / "shared" / "models"
DEFAULT_PEAK_PER_CORE = 108.0


def _resolve(model: str) -> Path:
    """A path, or the stem of a shared model."""
    path = Path(model)
    if path.exists():
        return path
    shared = DEFAULT_MODELS / f"{model}.onnx"
    if shared.exists():
        return shared
    raise SystemExit(f"no such model: {model} (nor {shared})")


def _describe(node, types) -> str:
    """Short shape summary of a node: output shape, weight shape, group/kernel when they matter."""
    def shape(name):
        t = types.get(name)
        return "x".join(map(str, t.shape)) if t is not None and t.shape is not None else "?"

    parts = [f"out {shape(node.outputs[0])}"]
    if node.op in ("Conv", "ConvTranspose", "Gemm", "MatMul") and len(node.inputs) > 1:
        parts.append(f"{'w' if node.op != 'MatMul' else 'b'} {shape(node.inputs[1])}")
    if node.attrs.get("group", 1) != 1:
        parts.append(f"group {node.attrs['group']}")
    if any(s != 1 for s in node.attrs.get("strides", ())):
        parts.append("stride " + "x".join(map(str, node.attrs["strides"])))
    if node.attrs.get("activation"):
        parts.append(f"+{node.attrs['activation']}")
    return ", ".join(parts)


def profile(path: Path, backends, threads: int, runs: int, seed: int = 0):
    """(profiler, {node name: (node, flops)}, types) after `runs` profiled runs (one warm-up first)."""
    model = mnn_core.load(path)
    feeds = random_inputs(model, seed)
    given = {n: mnn_core.TensorType.of(v) for n, v in feeds.items()}
    types, _ = infer_types(model.graph, model.context.ops, given)
    stats = model_stats(model.graph, types)
    nodes = {(n.name or (n.outputs[0] if n.outputs else str(i))): n for i, n in enumerate(model.graph.nodes)}
    costs = {c.node: (nodes.get(c.node), c.flops) for c in stats.nodes}
    session = model.session(backends=backends, threads=threads)
    session.run(feeds)
    profiler = Profiler()
    for _ in range(runs):
        session.run(feeds, profiler=profiler)
    session.close()
    return profiler, costs, types


STATS = {"mean": lambda t: sum(t) / len(t), "median": lambda t: sorted(t)[len(t) // 2], "min": min}


def report(profiler: Profiler, costs: dict, types: dict, peak: float, top: int, stat: str = "mean") -> str:
    """Tables of ms per run by op type and for the heaviest contraction nodes. Each node's ms per run is
    the `stat` of its times over the runs: "min" approaches quiet-machine figures on a loaded one."""
    runs = max(profiler.runs, 1)
    times: dict[str, list[float]] = defaultdict(list)  # node -> ms of each call
    where: dict[str, tuple[str, str]] = {}  # node -> (backend, op)
    for event in profiler.events:
        if event.category == "op":
            times[event.name].append(event.ms)
            where[event.name] = (event.backend, event.op)
    # A node runs once per run; spread its calls evenly should a backend report it several times.
    node_ms = {name: STATS[stat](t) * len(t) / runs for name, t in times.items()}

    # (backend, op) -> [calls, ms, flops, some flops unknown]
    by_type: dict[tuple[str, str], list] = defaultdict(lambda: [0, 0.0, 0, False])
    for name, ms in node_ms.items():
        row = by_type[where[name]]
        row[0] += len(times[name]) // runs
        row[1] += ms
        flops = costs.get(name, (None, None))[1]
        if flops is None:
            row[3] = True
        else:
            row[2] += flops
    total_ms = sum(r[1] for r in by_type.values()) or 1.0

    def rate(flops: float, ms: float) -> tuple[str, str]:
        if not flops or not ms:
            return "", ""
        gflops = flops / ms / 1e6
        return f"{gflops:.1f}", f"{gflops / peak:.0%}"

    lines = [f"{'backend':<10} {'op':<22} {'calls':>6} {'ms/run':>9} {'share':>6} {'GFLOP':>8} "
             f"{'GFLOP/s':>8} {'of peak':>7}"]
    for (backend, op), (calls, ms, flops, unknown) in sorted(by_type.items(), key=lambda kv: -kv[1][1]):
        heavy = op in CONTRACTION_OPS
        gflops, share = rate(flops, ms) if heavy else ("", "")
        gflop = (f"{flops / 1e9:.3f}" + ("+?" if unknown else "")) if heavy else ""
        lines.append(f"{backend:<10} {op:<22} {calls:>6} {ms:>9.3f} {ms / total_ms:>6.1%} {gflop:>8} "
                     f"{gflops:>8} {share:>7}")
    lines.append(f"{'total':<10} {'ops (' + stat + ')':<22} {'':>6} {total_ms:>9.3f}")
    for backend, ms in sorted(profiler.by_backend().items()):  # wall time, always the mean
        label = backend + (" copies" if backend == "copy" else " segments") + " (mean)"
        lines.append(f"{'total':<10} {label:<22} "
                     f"{'':>6} {ms / runs:>9.3f}")

    heavy_nodes = sorted((n for n in node_ms if where[n][1] in CONTRACTION_OPS),
                         key=lambda n: -node_ms[n])[:top]
    if heavy_nodes:
        lines += ["", f"heaviest {len(heavy_nodes)} contraction nodes:",
                  f"{'node':<36} {'op':<9} {'ms/run':>8} {'GFLOP/s':>8} {'of peak':>7}  shape"]
        for name in heavy_nodes:
            node, flops = costs.get(name, (None, None))
            gflops, share = rate(flops or 0, node_ms[name])
            shape = _describe(node, types) if node is not None else ""
            lines.append(f"{name[-36:]:<36} {where[name][1]:<9} {node_ms[name]:>8.3f} {gflops:>8} "
                         f"{share:>7}  {shape}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="an .onnx/.mnn path, or the stem of a model in " + str(DEFAULT_MODELS))
    parser.add_argument("--backends", default="cpu", help="mnn backends in priority order (default cpu)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=10, help="profiled runs, after one warm-up")
    parser.add_argument("--top", type=int, default=10, help="heaviest contraction nodes to list")
    parser.add_argument("--stat", choices=sorted(STATS), default="mean",
                        help="per-node statistic over the runs (default mean; min on a loaded machine)")
    parser.add_argument("--peak", type=float, default=DEFAULT_PEAK_PER_CORE,
                        help=f"stated fp32 FMA peak per core in GFLOP/s (default {DEFAULT_PEAK_PER_CORE:g})")
    args = parser.parse_args(argv)

    path = _resolve(args.model)
    profiler, costs, types = profile(path, args.backends.split(","), args.threads, args.runs)
    peak = args.peak * args.threads
    total_flops = sum(f for _, f in costs.values() if f)
    print(f"{path.name}: {args.runs} runs ({args.stat} per node), {args.threads} thread(s), "
          f"backends {args.backends}; "
          f"model {total_flops / 1e9:.3f} GFLOP per run; peak {args.peak:g} GFLOP/s per core x "
          f"{args.threads} = {peak:g} GFLOP/s (stated, see --peak)")
    print(report(profiler, costs, types, peak, args.top, args.stat))
    return 0


if __name__ == "__main__":
    sys.exit(main())
